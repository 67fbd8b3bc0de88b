"""Scheduled deliveries' data: the ledger (digest and weekly), alert memory, at-risk clients."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ClientStatus, ComplaintStatus, RiskLevel, Role, Severity
from bot.strategies.alerting import ALERT_LEVELS, RiskState
from db.models import Client, Complaint, Staff
from db.models.alerts import AlertDelivery, AlertMemory, DeliveryKind, DeliveryStatus
from db.repositories.scope import Scope

CHUNK = 900

# ---- the ledger ----------------------------------------------------------------------------


async def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    name = (await session.connection()).dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


async def claim(
    session: AsyncSession,
    *,
    staff_id: int,
    day: date,
    now: datetime,
    by: str,
    kind: DeliveryKind = DeliveryKind.DIGEST,
) -> int | None:
    """Insert the (person, day, kind) row; its id, or None when a row is already there.

    The caller commits at once: the committed row is the claim, and the unique constraint makes
    every other process's claim for the same person, day and kind a no-op.
    """
    insert = await _insert(session)
    table = AlertDelivery.__table__  # type: ignore[attr-defined]
    stmt = (
        insert(table)
        .values(
            staff_id=staff_id,
            day=day,
            kind=kind,
            status=DeliveryStatus.PENDING,
            claims=1,
            attempts=0,
            claimed_at=now,
            claimed_by=by,
            items=[],
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["staff_id", "day", "kind"])
        .returning(table.c.id)
    )
    return (await session.exec(stmt)).scalar()


async def reclaim(session: AsyncSession, *, row: AlertDelivery, now: datetime, by: str) -> bool:
    """Take over a stale or failed claim, if nobody else changed it since `row` was read."""
    stmt = (
        update(AlertDelivery)
        .where(
            col(AlertDelivery.id) == row.id,
            col(AlertDelivery.status) == row.status,
            col(AlertDelivery.claims) == row.claims,
        )
        .values(
            status=DeliveryStatus.PENDING,
            claims=row.claims + 1,
            claimed_at=now,
            claimed_by=by,
            updated_at=now,
        )
    )
    result = await session.exec(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


DeliveryKey = tuple[int, date, DeliveryKind]


async def deliveries(
    session: AsyncSession,
    *,
    staff_ids: Collection[int],
    days: Collection[date],
    kinds: Collection[DeliveryKind] | None = None,
) -> dict[DeliveryKey, AlertDelivery]:
    """Ledger rows of these people on these days (of these kinds), by (staff_id, day, kind)."""
    out: dict[DeliveryKey, AlertDelivery] = {}
    ids = sorted(set(staff_ids))
    for start in range(0, len(ids), CHUNK):
        stmt = select(AlertDelivery).where(
            col(AlertDelivery.staff_id).in_(ids[start : start + CHUNK]),
            col(AlertDelivery.day).in_(sorted(set(days))),
        )
        if kinds is not None:
            stmt = stmt.where(col(AlertDelivery.kind).in_(sorted(set(kinds))))
        for row in (await session.exec(stmt)).all():
            out[(row.staff_id, row.day, DeliveryKind(row.kind))] = row
    return out


async def get_delivery(session: AsyncSession, *, delivery_id: int) -> AlertDelivery | None:
    return await session.get(AlertDelivery, delivery_id)


async def finish(
    session: AsyncSession,
    *,
    delivery_id: int,
    status: DeliveryStatus,
    now: datetime,
    attempts: int = 0,
    error: str | None = None,
    message_id: int | None = None,
    items: list[dict[str, Any]] | None = None,
) -> None:
    """Record how a claim ended (the caller commits)."""
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "updated_at": now,
        "attempts": col(AlertDelivery.attempts) + attempts,
        "error": error[:2000] if error else None,
    }
    if message_id is not None:
        values["message_id"] = message_id
    if items is not None:
        values["items"] = items
    await session.exec(
        update(AlertDelivery).where(col(AlertDelivery.id) == delivery_id).values(**values)
    )


# ---- alert memory --------------------------------------------------------------------------


async def memories(session: AsyncSession, *, staff_id: int) -> dict[int, AlertMemory]:
    """Everything this person was alerted about (or snoozed), by client id."""
    stmt = select(AlertMemory).where(col(AlertMemory.staff_id) == staff_id)
    return {row.client_id: row for row in (await session.exec(stmt)).all()}


async def remember(
    session: AsyncSession,
    *,
    staff_id: int,
    day: date,
    now: datetime,
    states: Mapping[int, RiskState],
) -> None:
    """Record what the person has just been alerted about; a snooze that ran out is cleared."""
    if not states:
        return
    insert = await _insert(session)
    table = AlertMemory.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "staff_id": staff_id,
            "client_id": client_id,
            "level": state.level,
            "score": state.score,
            "reason_keys": sorted(state.reasons),
            "alerted_on": day,
            "snooze_until": None,
            "updated_at": now,
        }
        for client_id, state in states.items()
    ]
    stmt = insert(table)
    excluded = stmt.excluded
    # A snooze set while the digest was on its way outlives it; an expired one is consumed.
    keep_snooze = case(
        (table.c.snooze_until > day, table.c.snooze_until),
        else_=None,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["staff_id", "client_id"],
        set_={
            "level": excluded.level,
            "score": excluded.score,
            "reason_keys": excluded.reason_keys,
            "alerted_on": excluded.alerted_on,
            "snooze_until": keep_snooze,
            "updated_at": excluded.updated_at,
        },
    )
    for start in range(0, len(rows), 200):
        await session.exec(stmt, params=rows[start : start + 200])


async def forget(session: AsyncSession, *, staff_id: int, client_ids: Collection[int]) -> None:
    """Drop the memory of clients no longer at risk for this person: a return is news again."""
    ids = sorted(set(client_ids))
    for start in range(0, len(ids), CHUNK):
        await session.exec(
            delete(AlertMemory).where(
                col(AlertMemory.staff_id) == staff_id,
                col(AlertMemory.client_id).in_(ids[start : start + CHUNK]),
            )
        )


async def snooze(
    session: AsyncSession,
    *,
    staff_id: int,
    client_id: int,
    until: date | None,
    state: RiskState | None,
    now: datetime,
) -> None:
    """Silence a client for this person until `until`; None lifts the snooze.

    Snoozing acknowledges the client's current risk (`state`): only something worse than what
    the person saw when snoozing breaks through before the snooze ends.
    """
    insert = await _insert(session)
    table = AlertMemory.__table__  # type: ignore[attr-defined]
    seen: dict[str, Any] = {}
    if state is not None and until is not None:
        seen = {
            "level": state.level,
            "score": state.score,
            "reason_keys": sorted(state.reasons),
        }
    stmt = insert(table).values(
        staff_id=staff_id,
        client_id=client_id,
        level=seen.get("level"),
        score=seen.get("score"),
        reason_keys=seen.get("reason_keys", []),
        snooze_until=until,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["staff_id", "client_id"],
        set_={"snooze_until": until, "updated_at": now, **seen},
    )
    await session.exec(stmt)


async def snoozes(
    session: AsyncSession, *, staff_id: int, client_ids: Collection[int], today: date
) -> dict[int, date]:
    """Snoozes of this person still running today, by client id."""
    if not client_ids:
        return {}
    stmt = sa_select(AlertMemory.client_id, AlertMemory.snooze_until).where(
        col(AlertMemory.staff_id) == staff_id,
        col(AlertMemory.client_id).in_(sorted(set(client_ids))),
        col(AlertMemory.snooze_until) > today,
    )
    return {cid: until for cid, until in (await session.exec(stmt)).all()}


# ---- at-risk clients -----------------------------------------------------------------------


@dataclass(frozen=True)
class AtRisk:
    """A client at risk as the digest shows it."""

    id: int
    name: str
    company: str | None
    owner_id: int | None
    owner: str | None
    level: RiskLevel | None
    score: int | None
    reasons: list[dict[str, Any]]
    value_at_risk: Decimal | None

    @property
    def state(self) -> RiskState:
        from bot.strategies.alerting import reason_keys

        return RiskState(self.level, self.score, reason_keys(self.reasons))


def at_risk_clause() -> ColumnElement[bool]:
    return and_(
        col(Client.status) == ClientStatus.ACTIVE,
        col(Client.risk_level).in_([level.value for level in ALERT_LEVELS]),
    )


def _order() -> list[Any]:
    # Largest value at risk first; unknown values last; then the higher level, score, id.
    level_rank = case(
        (col(Client.risk_level) == RiskLevel.HIGH, 0),
        (col(Client.risk_level) == RiskLevel.MEDIUM, 1),
        else_=2,
    )
    return [
        col(Client.value_at_risk).is_(None),
        col(Client.value_at_risk).desc(),
        level_rank,
        col(Client.risk_score).desc(),
        col(Client.id),
    ]


def _columns() -> Any:
    owner = aliased(Staff, name="owner")
    stmt = sa_select(
        Client.id,
        Client.name,
        Client.company,
        Client.owner_id,
        owner.name,
        Client.risk_level,
        Client.risk_score,
        Client.risk_reasons,
        Client.value_at_risk,
    ).outerjoin(owner, col(owner.id) == col(Client.owner_id))
    return stmt


def _at_risk(row: Sequence[Any]) -> AtRisk:
    cid, name, company, owner_id, owner, level, score, reasons, value = row
    return AtRisk(
        id=cid,
        name=name,
        company=company,
        owner_id=owner_id,
        owner=owner,
        level=RiskLevel(level) if level else None,
        score=score,
        reasons=list(reasons or []),
        value_at_risk=value,
    )


async def owned_at_risk(session: AsyncSession, *, owner_id: int) -> list[AtRisk]:
    """Every client of this owner that is at risk now, best first."""
    stmt = _columns().where(col(Client.owner_id) == owner_id, at_risk_clause()).order_by(*_order())
    return [_at_risk(r) for r in (await session.exec(stmt)).all()]


async def at_risk_page(
    session: AsyncSession, *, scope: Scope, offset: int, limit: int
) -> tuple[list[AtRisk], int]:
    """One page of the clients at risk in a scope, best first, and how many there are."""
    where = and_(scope.clients(), at_risk_clause())
    total = (await session.exec(sa_select(func.count()).select_from(Client).where(where))).scalar()
    stmt = _columns().where(where).order_by(*_order()).offset(offset).limit(limit)
    return [_at_risk(r) for r in (await session.exec(stmt)).all()], int(total or 0)


async def clients_by_id(
    session: AsyncSession, *, ids: Sequence[int], scope: Scope
) -> dict[int, AtRisk]:
    """These clients (those in scope) with their current risk, whatever its level."""
    if not ids:
        return {}
    stmt = _columns().where(col(Client.id).in_(list(ids)), scope.clients())
    return {row[0]: _at_risk(row) for row in (await session.exec(stmt)).all()}


# ---- supervisors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerFigures:
    owner_id: int | None
    name: str | None
    clients: int
    high: int
    value: Decimal


async def owner_figures(session: AsyncSession, *, scope: Scope) -> list[OwnerFigures]:
    """At-risk clients per owner in a scope: how many, how many high, value at risk."""
    high = case((col(Client.risk_level) == RiskLevel.HIGH, 1), else_=0)
    stmt = (
        sa_select(
            Client.owner_id,
            Staff.name,
            func.count(),
            func.sum(high),
            func.sum(Client.value_at_risk),
        )
        .select_from(Client)
        .outerjoin(Staff, col(Staff.id) == col(Client.owner_id))
        .where(scope.clients(), at_risk_clause())
        .group_by(col(Client.owner_id), col(Staff.name))
    )
    rows = (await session.exec(stmt)).all()
    figures = [
        OwnerFigures(owner, name, int(n), int(h or 0), value or Decimal(0))
        for owner, name, n, h, value in rows
    ]
    figures.sort(key=lambda f: (-f.value, -f.clients, f.name or ""))
    return figures


@dataclass(frozen=True)
class Overdue:
    complaint_id: int
    client_id: int
    client: str
    owner: str | None
    due_at: datetime


async def overdue_critical(
    session: AsyncSession, *, scope: Scope, now: datetime, limit: int
) -> tuple[list[Overdue], int]:
    """Critical complaints still open past their due time in a scope: the oldest, and the count."""
    where = and_(
        scope.clients(),
        col(Complaint.severity) == Severity.CRITICAL,
        col(Complaint.status).in_([ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS]),
        col(Complaint.due_at) < now,
    )
    base = sa_select(Complaint.id).join(Client, col(Client.id) == col(Complaint.client_id))
    total = (
        await session.exec(sa_select(func.count()).select_from(base.where(where).subquery()))
    ).scalar()
    if not total:
        return [], 0
    stmt = (
        sa_select(Complaint.id, Client.id, Client.name, Staff.name, Complaint.due_at)
        .join(Client, col(Client.id) == col(Complaint.client_id))
        .outerjoin(Staff, col(Staff.id) == col(Client.owner_id))
        .where(where)
        .order_by(col(Complaint.due_at), col(Complaint.id))
        .limit(limit)
    )
    rows = (await session.exec(stmt)).all()
    return [Overdue(*row) for row in rows], int(total)


# ---- who gets a digest ---------------------------------------------------------------------


async def recipients(
    session: AsyncSession,
    *,
    staff_ids: Collection[int] | None = None,
    roles: Collection[Role] | None = None,
) -> list[Staff]:
    """Active staff (of these roles) with alerts on who have not blocked the bot."""
    stmt = select(Staff).where(
        col(Staff.active).is_(True),
        col(Staff.alerts_enabled).is_(True),
        col(Staff.blocked_at).is_(None),
    )
    if staff_ids is not None:
        stmt = stmt.where(col(Staff.id).in_(sorted(set(staff_ids))))
    if roles is not None:
        stmt = stmt.where(col(Staff.role).in_(sorted(set(roles))))
    return list((await session.exec(stmt.order_by(col(Staff.id)))).all())


async def mark_blocked(session: AsyncSession, *, staff_id: int, now: datetime) -> None:
    await session.exec(
        update(Staff)
        .where(col(Staff.id) == staff_id, col(Staff.blocked_at).is_(None))
        .values(blocked_at=now)
    )


async def clear_blocked(session: AsyncSession, *, staff_id: int) -> bool:
    """Forget that this person blocked the bot; True when they had."""
    result = await session.exec(
        update(Staff)
        .where(col(Staff.id) == staff_id, col(Staff.blocked_at).is_not(None))
        .values(blocked_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def blocked_ids(session: AsyncSession) -> set[int]:
    stmt = sa_select(Staff.id).where(col(Staff.blocked_at).is_not(None))
    return {sid for (sid,) in (await session.exec(stmt)).all()}


# ---- status --------------------------------------------------------------------------------


async def status_counts(
    session: AsyncSession, *, day: date, kind: DeliveryKind = DeliveryKind.DIGEST
) -> dict[str, int]:
    """How the deliveries of one kind on a day ended, by status."""
    stmt = (
        sa_select(AlertDelivery.status, func.count())
        .where(col(AlertDelivery.day) == day, col(AlertDelivery.kind) == kind)
        .group_by(col(AlertDelivery.status))
    )
    return {str(status): int(n) for status, n in (await session.exec(stmt)).all()}


async def problems(
    session: AsyncSession, *, day: date, kind: DeliveryKind | None = None
) -> list[tuple[AlertDelivery, Staff]]:
    """Ledger rows of a day (of a kind, or all) that did not end well or have not ended."""
    stmt = (
        select(AlertDelivery, Staff)
        .join(Staff, col(Staff.id) == col(AlertDelivery.staff_id))
        .where(
            col(AlertDelivery.day) == day,
            or_(
                col(AlertDelivery.status).in_(
                    [DeliveryStatus.FAILED, DeliveryStatus.BLOCKED, DeliveryStatus.PENDING]
                ),
                col(AlertDelivery.claims) > 1,
                # Sent with a note: the weekly chart that could not follow, an unrecorded send.
                col(AlertDelivery.error).is_not(None),
            ),
        )
        .order_by(col(AlertDelivery.kind), col(AlertDelivery.status), col(Staff.name))
    )
    if kind is not None:
        stmt = stmt.where(col(AlertDelivery.kind) == kind)
    return [(d, s) for d, s in (await session.exec(stmt)).all()]  # type: ignore[call-overload]


async def blocked_staff(session: AsyncSession) -> list[Staff]:
    stmt = (
        select(Staff)
        .where(col(Staff.blocked_at).is_not(None), col(Staff.active).is_(True))
        .order_by(col(Staff.name))
    )
    return list((await session.exec(stmt)).all())


async def at_risk_ids(session: AsyncSession, *, ids: Collection[int]) -> set[int]:
    """Which of these clients are at risk now."""
    out: set[int] = set()
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        stmt = sa_select(Client.id).where(
            col(Client.id).in_(wanted[start : start + CHUNK]), at_risk_clause()
        )
        out.update(cid for (cid,) in (await session.exec(stmt)).all())
    return out
