"""Writing the strategy engine's results in bulk, its history and runs, and recommendation answers.

Results go back with one executemany UPDATE per few thousand clients, the values encoded once by
each column's own bind processor (as the ORM would), without per-row ORM work. A client's
`updated_at` is left alone: a recomputed score is not an edit of the client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    column,
    func,
    insert,
    select,
    table,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import RiskLevel
from bot.strategies.playbooks import FeedbackAnswer
from db.models import Client, Staff
from db.models.strategy import (
    ClassificationChange,
    RecommendationFeedback,
    RiskSnapshot,
    StrategyRun,
)
from db.repositories.scope import Scope
from db.types import Money

CLIENT: Table = Client.__table__  # type: ignore[attr-defined]
HISTORY: Table = ClassificationChange.__table__  # type: ignore[attr-defined]
RISK_HISTORY: Table = RiskSnapshot.__table__  # type: ignore[attr-defined]
RUN: Table = StrategyRun.__table__  # type: ignore[attr-defined]
FEEDBACK: Table = RecommendationFeedback.__table__  # type: ignore[attr-defined]
CHUNK = 5000
_JSON_COLUMNS = {"classification_reasons", "risk_reasons", "reasons", "calibration", "counts"}


def _dumps() -> Callable[[Any], str | None]:
    """json.dumps, remembering lists shared between many rows (e.g. "no risk signals")."""
    memo: dict[int, tuple[Any, str]] = {}

    def dump(value: Any) -> str | None:
        if value is None:
            return None
        hit = memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), check_circular=False)
        if len(memo) < 10_000:
            memo[id(value)] = (value, text)
        return text

    return dump


def _kopecks(value: Any) -> int | None:
    """Money as the column stores it: whole kopecks (values arrive rounded to kopecks)."""
    return None if value is None else round(value * 100)


def _processor(conn: AsyncConnection, target: Table, name: str) -> Callable[[Any], Any] | None:
    """How a column's values become driver values; None when they pass as they are."""
    if name in _JSON_COLUMNS:
        return _dumps()
    if isinstance(target.c[name].type, Money):
        return _kopecks
    dialect = conn.dialect
    impl = target.c[name].type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if process is None:
        return None
    memo: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        # Few distinct values per column (one timestamp, seven types): encode each once.
        try:
            return memo[value]
        except KeyError:
            encoded = memo[value] = process(value)
            if len(memo) > 4096:
                memo.clear()
            return encoded
        except TypeError:  # unhashable
            return process(value)

    return cached


async def _execute_many(
    conn: AsyncConnection,
    statement: Any,
    keys: list[str],
    columns: dict[str, Sequence[Any]],
    encoders: dict[str, Callable[[Any], Any] | None],
) -> None:
    """Run a statement over rows given column-wise, each value through its column's encoder."""
    compiled = statement.compile(dialect=conn.dialect, column_keys=keys)
    order = list(compiled.positiontup) if compiled.positional else keys
    total = len(next(iter(columns.values())))
    encoded = {}
    for k in order:
        encode = encoders.get(k)
        encoded[k] = [encode(v) for v in columns[k]] if encode else list(columns[k])
    for start in range(0, total, CHUNK):
        part = slice(start, start + CHUNK)
        if compiled.positional:
            rows: Any = list(zip(*(encoded[k][part] for k in order), strict=True))
        else:
            rows = [
                dict(zip(order, r, strict=True))
                for r in zip(*(encoded[k][part] for k in order), strict=True)
            ]
        await conn.exec_driver_sql(compiled.string, rows)


async def update_clients(
    conn: AsyncConnection, ids: Sequence[int], values: dict[str, Sequence[Any]]
) -> None:
    """Set the given columns of the given clients; `updated_at` keeps its value."""
    if not ids:
        return
    names = list(values)
    bare = table(CLIENT.name, column("id"), *(column(n) for n in names))
    statement = (
        update(bare)
        .where(bare.c.id == bindparam("b_id"))
        .values({n: bindparam(f"b_{n}") for n in names})
    )
    encoders = {f"b_{n}": _processor(conn, CLIENT, n) for n in names}
    columns = {"b_id": list(ids), **{f"b_{n}": values[n] for n in names}}
    await _execute_many(conn, statement, ["b_id", *(f"b_{n}" for n in names)], columns, encoders)


async def insert_rows(conn: AsyncConnection, target: Table, rows: dict[str, Sequence[Any]]) -> None:
    """Insert rows given column-wise, encoded by each column's bind processor."""
    if not rows or not len(next(iter(rows.values()))):
        return
    names = list(rows)
    bare = table(target.name, *(column(n) for n in names))
    encoders = {n: _processor(conn, target, n) for n in names}
    await _execute_many(conn, insert(bare), names, rows, encoders)


async def latest_calibration(conn: AsyncConnection) -> dict[str, Any] | None:
    """The calibration of the last run over the whole base, if any."""
    stmt = select(RUN.c.calibration).where(RUN.c.full == True).order_by(RUN.c.id.desc()).limit(1)  # noqa: E712
    value = (await conn.execute(stmt)).scalar()
    if isinstance(value, str):  # raw JSON text on some drivers
        value = json.loads(value)
    return value  # type: ignore[no-any-return]


async def record_run(
    conn: AsyncConnection,
    *,
    at: datetime,
    day: date,
    source: str,
    full: bool,
    clients: int,
    seconds: float,
    calibration: dict[str, Any],
    counts: dict[str, Any],
) -> None:
    await conn.execute(
        insert(RUN).values(
            at=at,
            day=day,
            source=source,
            full=full,
            clients=clients,
            seconds=seconds,
            calibration=calibration,
            counts=counts,
        )
    )


async def history(
    session: AsyncSession, *, client_id: int, limit: int = 20
) -> list[ClassificationChange]:
    """The client's type and strategy changes, newest first."""
    stmt = (
        sm_select(ClassificationChange)
        .where(ClassificationChange.client_id == client_id)
        .order_by(col(ClassificationChange.at).desc(), col(ClassificationChange.id).desc())
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


# --- recommendation feedback --------------------------------------------------------------------


def add_feedback(
    session: AsyncSession,
    *,
    client_id: int,
    staff_id: int | None,
    at: datetime,
    action: str,
    playbook: str,
    strategy: str | None,
    answer: FeedbackAnswer,
    reason: str | None = None,
    interaction_id: int | None = None,
) -> RecommendationFeedback:
    row = RecommendationFeedback(
        client_id=client_id,
        staff_id=staff_id,
        at=at,
        action=action,
        playbook=playbook,
        strategy=strategy,  # type: ignore[arg-type]
        answer=answer,
        reason=reason,
        interaction_id=interaction_id,
    )
    session.add(row)
    return row


# Built once: every card asks, and building costs more than the indexed lookup.
_ANSWERED = (
    select(FEEDBACK.c.action, FEEDBACK.c.answer, func.max(FEEDBACK.c.at))
    .where(FEEDBACK.c.client_id == bindparam("client_id"), FEEDBACK.c.at > bindparam("since"))
    .group_by(FEEDBACK.c.action, FEEDBACK.c.answer)
)


async def hidden_actions(
    session: AsyncSession, *, client_id: int, now: datetime, hide_days: dict[FeedbackAnswer, int]
) -> set[str]:
    """Actions answered recently enough to stay hidden for this client."""
    longest = max(hide_days.values(), default=0)
    if longest <= 0:
        return set()
    params = {"client_id": client_id, "since": now - timedelta(days=longest)}
    hidden = set()
    for action, answer, last in (await session.exec(_ANSWERED, params=params)).all():  # type: ignore[call-overload]
        days = hide_days.get(FeedbackAnswer(answer), 0)
        if days > 0 and last > now - timedelta(days=days):
            hidden.add(action)
    return hidden


@dataclass(frozen=True)
class ActionStats:
    action: str
    playbook: str
    done: int
    not_now: int
    not_applicable: int

    @property
    def total(self) -> int:
        return self.done + self.not_now + self.not_applicable


async def feedback_stats(
    session: AsyncSession, *, scope: Scope, since: datetime
) -> list[ActionStats]:
    """Answers per action since `since`, for the clients in scope, most answered first."""
    f = FEEDBACK.c
    stmt = (
        select(f.action, f.playbook, f.answer, func.count())
        .join(CLIENT, CLIENT.c.id == f.client_id)
        .where(f.at >= since, scope.clients())
        .group_by(f.action, f.playbook, f.answer)
    )
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for action, playbook, answer, n in (await session.exec(stmt)).all():
        counts.setdefault((action, playbook), {})[answer] = int(n)
    stats = [
        ActionStats(
            action=action,
            playbook=playbook,
            done=c.get(FeedbackAnswer.DONE.value, 0),
            not_now=c.get(FeedbackAnswer.NOT_NOW.value, 0),
            not_applicable=c.get(FeedbackAnswer.NOT_APPLICABLE.value, 0),
        )
        for (action, playbook), c in counts.items()
    ]
    stats.sort(key=lambda s: (-s.total, s.playbook, s.action))
    return stats


# --- risk over time (for summaries) -------------------------------------------------------------


async def risk_levels_on(
    session: AsyncSession,
    *,
    days: Iterable[date],
    scope: Scope,
    where: ColumnElement[bool] | None = None,
) -> dict[date, dict[RiskLevel, int]]:
    """Clients per risk level as they stood at the end of each day (latest snapshot ≤ day).

    risk_history gets a row whenever a client's level changes, so this is exact for levels.
    """
    h = RISK_HISTORY.c
    out: dict[date, dict[RiskLevel, int]] = {}
    for day in sorted(set(days)):
        latest = (
            select(h.client_id, func.max(h.id).label("id"))
            .where(h.day <= day)
            .group_by(h.client_id)
            .subquery()
        )
        stmt = (
            select(h.level, func.count())
            .join(latest, latest.c.id == h.id)
            .join(CLIENT, CLIENT.c.id == h.client_id)
            .where(scope.clients() if where is None else and_(scope.clients(), where))
            .group_by(h.level)
        )
        counts = {level: 0 for level in RiskLevel}
        for level, n in (await session.exec(stmt)).all():
            counts[RiskLevel(level)] = int(n)
        out[day] = counts
    return out


async def staff_name(session: AsyncSession, *, staff_id: int | None) -> str | None:
    if staff_id is None:
        return None
    return (await session.exec(sm_select(Staff.name).where(Staff.id == staff_id))).first()
