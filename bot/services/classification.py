"""The strategy engine at work: read features, classify, score risk, write results and history.

One function, `recompute`, serves every caller: the nightly job and `crmbot classify` (the whole
base: the BG/NBD model and the RFM quintiles are refitted and stored), and the change events,
imports and overrides (a set of clients, scored against the stored calibration so that one sale
never moves the base-wide parameters). `rescore_risk` recomputes only the risk part.

Handlers and jobs configure the engine once (`configure`): its thresholds, the clock and the
company time zone, so change events — which carry only a session and client ids — use the same.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import SEGMENT_FOR_STRATEGY, ClientType, RiskLevel, SegmentStrategy, Strategy
from bot.services import events
from bot.strategies.classify import Decisions, classify, profitability
from bot.strategies.config import DEFAULT, StrategyConfig, load_config
from bot.strategies.features import FeatureTable
from bot.strategies.model import Activity, Calibration, activity, calibrate
from bot.strategies.risk import RiskResult, score_risk
from db.models import Client
from db.repositories import features as features_repo
from db.repositories import strategy as repo
from db.session import Database
from db.types import to_money

log = logging.getLogger(__name__)
# Clients per committed chunk when a run has its own session: ~0.3 s of writing on SQLite.
COMMIT_EVERY = 10_000


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Engine:
    """What every recomputation uses unless told otherwise."""

    config: StrategyConfig = DEFAULT
    clock: Callable[[], datetime] = system_clock
    timezone: str = "Europe/Moscow"


engine = Engine()


_KEEP: Any = object()


def configure(
    *,
    config: StrategyConfig | None = None,
    config_path: Path | str | None = _KEEP,
    clock: Callable[[], datetime] | None = None,
    timezone: str | None = None,
) -> Engine:
    """Set what is given: the configuration (or the file to read it from; None: the defaults),
    the clock, the company time zone. Raises StrategyConfigError for a bad file."""
    if config is not None:
        engine.config = config
    elif config_path is not _KEEP:
        engine.config = load_config(config_path)
    if clock is not None:
        engine.clock = clock
    if timezone is not None:
        engine.timezone = timezone
    return engine


@dataclass
class RunReport:
    """What a run did: how many clients, how long, and the resulting counts."""

    clients: int = 0
    full: bool = False
    seconds: float = 0.0
    changes: int = 0  # type or strategy changes recorded in the history
    risk_changes: int = 0  # risk level changes recorded
    types: Counter[str] = field(default_factory=Counter)
    strategies: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "types": dict(self.types),
            "strategies": dict(self.strategies),
            "levels": dict(self.levels),
        }


_STRATEGIES: dict[Any, Strategy | None] = {None: None, **{s.value: s for s in Strategy}}
_TYPES: dict[Any, ClientType | None] = {None: None, **{t.value: t for t in ClientType}}


def _effective(override: np.ndarray, computed: np.ndarray) -> np.ndarray:
    """A manual override wins over the computed strategy."""
    out = np.empty(len(computed), dtype=object)
    out[:] = [
        _STRATEGIES[o or c] for o, c in zip(override.tolist(), computed.tolist(), strict=True)
    ]
    return out


def noon(day: date, timezone: str | None = None) -> datetime:
    """Midday of a company-local date, in UTC: "now" for a run pretending that day is today."""
    zone = ZoneInfo(timezone or engine.timezone)
    return datetime.combine(day, datetime.min.time().replace(hour=12), tzinfo=zone).astimezone(UTC)


def local_day(now: datetime, timezone: str | None = None) -> date:
    """The company's date at `now` (the engine's time zone unless told otherwise)."""
    return now.astimezone(ZoneInfo(timezone or engine.timezone)).date()


def _nan_none(values: np.ndarray) -> list[float | None]:
    return [None if v != v else round(v, 4) for v in values.tolist()]


def _money(values: np.ndarray) -> list[float]:
    return [round(v, 2) for v in values.tolist()]


_paused = 0


@contextmanager
def _bulk_objects() -> Iterator[None]:
    """Pause the cyclic garbage collector while a run builds hundreds of thousands of small,
    acyclic objects (rows, reasons): its passes over them cost more than the work itself.
    Reference counting still frees everything; the collector resumes when the last run ends."""
    global _paused
    if _paused == 0 and not gc.isenabled():
        yield  # someone else turned it off: leave it alone
        return
    _paused += 1
    gc.disable()
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.enable()


@dataclass
class Outcome:
    """Everything a run computed, before it is written."""

    features: FeatureTable
    calibration: Calibration
    full: bool
    decisions: Decisions | None
    activity: Activity
    client_type: np.ndarray
    strategy: np.ndarray  # effective
    risk: RiskResult


async def compute(
    session: AsyncSession,
    *,
    now: datetime,
    today: date,
    client_ids: Collection[int] | None,
    config: StrategyConfig,
    classification: bool = True,
    timings: dict[str, float] | None = None,
) -> Outcome | None:
    """Read and compute, without writing; None when there is nobody to compute."""
    with _bulk_objects():
        return await _compute(
            session,
            now=now,
            today=today,
            client_ids=client_ids,
            config=config,
            classification=classification,
            timings={} if timings is None else timings,
        )


async def _compute(
    session: AsyncSession,
    *,
    now: datetime,
    today: date,
    client_ids: Collection[int] | None,
    config: StrategyConfig,
    classification: bool,
    timings: dict[str, float],
) -> Outcome | None:
    conn = await session.connection()
    stored = await repo.latest_calibration(conn)
    calibration = Calibration.from_json(stored) if stored else None
    full = client_ids is None or calibration is None
    if calibration is None and not classification:
        classification = True  # the first run must calibrate, which needs every feature
    started = time.perf_counter()
    features = await features_repo.load_features(
        conn,
        today=today,
        now=now,
        client_ids=None if full else sorted(set(client_ids or ())),
        classification=classification,
        write_off_days=config.classification.worst.unpaid_write_off_days,
    )
    timings["read"] = time.perf_counter() - started
    if not len(features):
        return None
    started = time.perf_counter()
    if full and classification:
        profit = profitability(features, config)
        calibration = calibrate(features, config, calibration, net_margin_12m=profit.net_margin)
    assert calibration is not None
    decisions: Decisions | None = None
    if classification:
        decisions = classify(features, calibration, config)
        act = decisions.activity
        client_type = decisions.client_type
        strategy = _effective(features.override, decisions.strategy)
    else:
        act = activity(features, calibration, config)
        client_type = np.empty(len(features), dtype=object)
        client_type[:] = [_TYPES[t] for t in features.stored_type.tolist()]
        strategy = _effective(features.override, features.stored_strategy)
    risk = score_risk(features, act, config, client_type, strategy)
    timings["compute"] = time.perf_counter() - started
    return Outcome(
        features=features,
        calibration=calibration,
        full=full,
        decisions=decisions,
        activity=act,
        client_type=client_type,
        strategy=strategy,
        risk=risk,
    )


async def write(
    session: AsyncSession,
    outcome: Outcome,
    *,
    now: datetime,
    today: date,
    source: str,
    commit_every: int | None = None,
) -> RunReport:
    """Store the results on the clients, the changes in the histories.

    With `commit_every`, a session of the caller's own (the nightly job, the CLI) commits after
    every so many clients: on SQLite other writers then wait for one chunk, never for the run.
    A chunk's history rows and client rows commit together.
    """
    with _bulk_objects():
        return await _write(
            session, outcome, now=now, today=today, source=source, commit_every=commit_every
        )


async def _write(
    session: AsyncSession,
    outcome: Outcome,
    *,
    now: datetime,
    today: date,
    source: str,
    commit_every: int | None,
) -> RunReport:
    f = outcome.features
    ids = f.client_id.tolist()
    n = len(ids)
    risk = outcome.risk
    values: dict[str, list[Any]] = {
        "p_alive": _nan_none(outcome.activity.p_alive),
        "risk_score": risk.score.tolist(),
        "risk_level": [level.value for level in risk.level.tolist()],
        "risk_reasons": risk.reasons,
        "value_at_risk": _money(risk.value_at_risk),
        "risk_computed_at": [now] * n,
    }
    report = RunReport(clients=n, full=outcome.full)
    decisions = outcome.decisions
    strategies = outcome.strategy.tolist()
    types = outcome.client_type.tolist()
    if decisions is not None:
        values.update(
            {
                "client_type": [t.value for t in types],
                "strategy": [s.value for s in decisions.strategy.tolist()],
                "segment_strategy": [
                    SEGMENT_FOR_STRATEGY[s].value if s else None for s in strategies
                ],
                "classified_at": [now] * n,
                "classification_reasons": decisions.reasons,
            }
        )
    changed = _changed_classification(outcome) if decisions is not None else []
    moved = _changed_risk(outcome)
    step = commit_every or max(n, 1)
    for start in range(0, n, step):
        stop = min(n, start + step)
        conn = await session.connection()
        await _record_changes(
            conn, outcome, [i for i in changed if start <= i < stop], now, today, source
        )
        await _record_risk(conn, outcome, [i for i in moved if start <= i < stop], now, today)
        await repo.update_clients(
            conn, ids[start:stop], {k: v[start:stop] for k, v in values.items()}
        )
        if commit_every:
            await session.commit()
    report.changes = len(changed)
    report.risk_changes = len(moved)
    report.types = Counter(t.value for t in types if t is not None)
    report.strategies = Counter(s.value for s in strategies if s is not None)
    report.levels = Counter(level.value for level in risk.level.tolist())
    _refresh_loaded(session, ids, values)
    return report


def _changed_classification(outcome: Outcome) -> list[int]:
    """Rows whose type or effective strategy differs from what the client row holds."""
    f = outcome.features
    before_type = f.stored_type.tolist()
    before_strategy = _effective(f.override, f.stored_strategy).tolist()
    types = outcome.client_type.tolist()
    strategies = outcome.strategy.tolist()
    return [
        i
        for i in range(len(f))
        if before_type[i] != types[i].value or before_strategy[i] is not strategies[i]
    ]


def _changed_risk(outcome: Outcome) -> list[int]:
    """Rows whose risk level changed (or was never computed)."""
    before = outcome.features.stored_level.tolist()
    levels = outcome.risk.level.tolist()
    return [i for i in range(len(before)) if before[i] != levels[i].value]


async def _record_changes(
    conn: Any, outcome: Outcome, changed: list[int], now: datetime, today: date, source: str
) -> None:
    """A classification_history row for each of these rows."""
    if not changed:
        return
    f = outcome.features
    decisions = outcome.decisions
    assert decisions is not None
    before_type = f.stored_type.tolist()
    before_strategy = _effective(f.override, f.stored_strategy).tolist()
    types = outcome.client_type.tolist()
    strategies = outcome.strategy.tolist()
    overrides = f.override.tolist()
    ids = f.client_id.tolist()
    k = len(changed)
    rows = {
        "client_id": [ids[i] for i in changed],
        "at": [now] * k,
        "day": [today] * k,
        "client_type": [types[i].value for i in changed],
        "strategy": [strategies[i].value for i in changed],
        "segment_strategy": [SEGMENT_FOR_STRATEGY[strategies[i]].value for i in changed],
        "overridden": [bool(overrides[i]) for i in changed],
        "previous_type": [before_type[i] for i in changed],
        "previous_strategy": [
            before_strategy[i].value if before_strategy[i] else None for i in changed
        ],
        "source": [source] * k,
        "staff_id": [None] * k,
        "reasons": [decisions.reasons[i][:2] for i in changed],
    }
    await repo.insert_rows(conn, repo.HISTORY, rows)


async def _record_risk(
    conn: Any, outcome: Outcome, moved: list[int], now: datetime, today: date
) -> None:
    """A risk_history row for each of these rows."""
    if not moved:
        return
    f = outcome.features
    risk = outcome.risk
    ids = f.client_id.tolist()
    p = _nan_none(outcome.activity.p_alive)
    score = risk.score.tolist()
    levels = risk.level.tolist()
    var = _money(risk.value_at_risk)
    k = len(moved)
    rows = {
        "client_id": [ids[i] for i in moved],
        "day": [today] * k,
        "at": [now] * k,
        "score": [score[i] for i in moved],
        "level": [levels[i].value for i in moved],
        "p_alive": [p[i] for i in moved],
        "value_at_risk": [var[i] for i in moved],
        "reasons": [risk.reasons[i] for i in moved],
    }
    await repo.insert_rows(conn, repo.RISK_HISTORY, rows)


_ENUM_COLUMNS: dict[str, type[Any]] = {
    "client_type": ClientType,
    "strategy": Strategy,
    "segment_strategy": SegmentStrategy,
    "risk_level": RiskLevel,
}


def _refresh_loaded(session: AsyncSession, ids: list[int], values: dict[str, list[Any]]) -> None:
    """Give Client objects already loaded in this session the values just written in SQL."""
    loaded = [obj for obj in session.sync_session.identity_map.values() if isinstance(obj, Client)]
    if not loaded:
        return
    index = {cid: i for i, cid in enumerate(ids)}
    for obj in loaded:
        i = index.get(obj.id) if obj.id is not None else None
        if i is None:
            continue
        for name, column in values.items():
            value = column[i]
            kind = _ENUM_COLUMNS.get(name)
            if kind is not None and value is not None:
                value = kind(value)
            elif name == "value_at_risk" and value is not None:
                value = to_money(value)
            set_committed_value(obj, name, value)


async def recompute(
    session: AsyncSession,
    *,
    client_ids: Collection[int] | None = None,
    source: str,
    now: datetime | None = None,
    config: StrategyConfig | None = None,
    commit_every: int | None = None,
) -> RunReport:
    """Classify and score the whole base (None) or these clients, in the session's transaction.

    `commit_every` is for sessions of the caller's own only (see `write`).
    """
    config = config or engine.config
    now = now or engine.clock()
    today = local_day(now)
    started = time.perf_counter()
    await session.flush()  # rows the caller added must be visible to the set-based reads
    timings: dict[str, float] = {}
    outcome = await compute(
        session, now=now, today=today, client_ids=client_ids, config=config, timings=timings
    )
    if outcome is None:
        return RunReport(full=client_ids is None)
    begun = time.perf_counter()
    report = await write(
        session, outcome, now=now, today=today, source=source, commit_every=commit_every
    )
    timings["write"] = time.perf_counter() - begun
    report.seconds = time.perf_counter() - started
    report.timings = timings
    if outcome.full:
        conn = await session.connection()
        await repo.record_run(
            conn,
            at=now,
            day=today,
            source=source,
            full=True,
            clients=report.clients,
            seconds=report.seconds,
            calibration=outcome.calibration.as_json(),
            counts=report.counts(),
        )
    return report


async def rescore_risk(
    session: AsyncSession,
    *,
    client_ids: Collection[int] | None = None,
    now: datetime | None = None,
    config: StrategyConfig | None = None,
) -> RunReport:
    """Recompute only P(alive) and the risk score, keeping the stored types and strategies."""
    config = config or engine.config
    now = now or engine.clock()
    today = local_day(now)
    started = time.perf_counter()
    await session.flush()
    timings: dict[str, float] = {}
    outcome = await compute(
        session,
        now=now,
        today=today,
        client_ids=client_ids,
        config=config,
        classification=False,
        timings=timings,
    )
    if outcome is None:
        return RunReport()
    begun = time.perf_counter()
    report = await write(session, outcome, now=now, today=today, source="risk")
    timings["write"] = time.perf_counter() - begun
    report.seconds = time.perf_counter() - started
    report.timings = timings
    return report


async def explain(
    session: AsyncSession, *, client_id: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The figures behind one client's classification as they are now (for /why)."""
    now = now or engine.clock()
    stored = await repo.latest_calibration(await session.connection())
    if stored is None:
        return []
    await session.flush()
    features = await features_repo.load_features(
        await session.connection(),
        today=local_day(now),
        now=now,
        client_ids=[client_id],
        write_off_days=engine.config.classification.worst.unpaid_write_off_days,
    )
    if not len(features):
        return []
    decisions = classify(features, Calibration.from_json(stored), engine.config, facts=True)
    return decisions.reasons[0][2:]


async def classify_database(
    database: Database, *, source: str, now: datetime | None = None
) -> RunReport:
    """The whole base in a session of its own, committed chunk by chunk."""
    async with database.session() as session:
        return await recompute(session, source=source, now=now, commit_every=COMMIT_EVERY)


@events.subscribe
async def on_inputs_changed(session: AsyncSession, client_ids: Collection[int]) -> None:
    """A sale, complaint or interaction changed: recompute those clients in the same transaction.

    A database error fails the writer's transaction as it should. Any other error is logged and
    the change itself still saves: a call must never go unlogged because of the analytics, and
    the nightly run recomputes the clients anyway.
    """
    try:
        await recompute(session, client_ids=client_ids, source="event")
    except DBAPIError:
        raise
    except Exception:
        log.exception("could not recompute clients %s after a change", sorted(client_ids)[:20])
