"""Set-based figures for supervisor summaries: a few grouped queries over the client base."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import AT_RISK_LEVELS, ClientStatus, ComplaintStatus
from db.models import Client, Complaint, Sale, Staff
from db.models.strategy import ClassificationChange, RiskSnapshot
from db.repositories.scope import Scope

OPEN = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


@dataclass(frozen=True)
class Narrow:
    """One segment or one person to narrow a summary to."""

    kind: str  # "type", "strategy", "team" or "manager"
    key: str

    def clause(self) -> ColumnElement[bool]:
        if self.kind == "type":
            return col(Client.client_type) == self.key
        if self.kind == "strategy":
            return effective_strategy() == self.key
        if self.kind == "team":
            return col(Client.owner_id).in_(select(Staff.id).where(Staff.team == self.key))
        if self.kind == "manager":
            return col(Client.owner_id) == int(self.key)
        raise ValueError(f"cannot narrow by {self.kind!r}")


def effective_strategy() -> ColumnElement[Any]:
    """A manual override wins over the computed strategy."""
    return func.coalesce(col(Client.strategy_override), col(Client.strategy))


@dataclass(frozen=True)
class Group:
    """Active clients sharing a type, a strategy and an owner, with their figures."""

    client_type: str | None
    strategy: str | None
    owner_id: int | None
    clients: int
    revenue: Decimal
    margin: Decimal
    at_risk: int
    value_at_risk: Decimal


def _where(scope: Scope, narrow: Narrow | None) -> ColumnElement[bool]:
    clause = and_(scope.clients(), col(Client.status) == ClientStatus.ACTIVE)
    return and_(clause, narrow.clause()) if narrow else clause


async def groups(
    session: AsyncSession, *, scope: Scope, narrow: Narrow | None, since: date, today: date
) -> list[Group]:
    """Clients and 12-month sales grouped by type × strategy × owner, in one statement."""
    sales = (
        select(
            Sale.client_id,
            func.sum(Sale.amount).label("revenue"),
            func.sum(Sale.margin).label("margin"),
        )
        .where(Sale.date > since, Sale.date <= today)
        .group_by(col(Sale.client_id))
        .subquery()
    )
    strategy = effective_strategy()
    at_risk = col(Client.risk_level).in_(list(AT_RISK_LEVELS))
    stmt = (
        select(
            Client.client_type,
            strategy,
            Client.owner_id,
            func.count(),
            func.sum(sales.c.revenue),
            func.sum(sales.c.margin),
            func.sum(case((at_risk, 1), else_=0)),
            func.sum(case((at_risk, Client.value_at_risk), else_=None)),
        )
        .select_from(Client)
        .outerjoin(sales, sales.c.client_id == col(Client.id))
        .where(_where(scope, narrow))
        .group_by(col(Client.client_type), strategy, col(Client.owner_id))
    )
    rows = await (await session.connection()).execute(stmt)
    return [
        Group(
            client_type=ctype,
            strategy=strat,
            owner_id=owner,
            clients=int(count),
            revenue=revenue or Decimal(0),
            margin=margin or Decimal(0),
            at_risk=int(risky or 0),
            value_at_risk=var or Decimal(0),
        )
        for ctype, strat, owner, count, revenue, margin, risky, var in rows
    ]


@dataclass(frozen=True)
class ComplaintFigures:
    open: int
    overdue: int
    overdue_critical: int
    satisfaction_avg: float | None
    satisfaction_n: int


async def complaints(
    session: AsyncSession, *, scope: Scope, narrow: Narrow | None, now: datetime, since: datetime
) -> ComplaintFigures:
    """Open and overdue complaints now; average satisfaction of those resolved since `since`."""
    is_open = col(Complaint.status).in_(OPEN)
    overdue = and_(is_open, col(Complaint.due_at) < now)
    rated = and_(col(Complaint.satisfaction).is_not(None), col(Complaint.resolved_at) >= since)
    stmt = (
        select(
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
            func.sum(case((and_(overdue, col(Complaint.severity) == "critical"), 1), else_=0)),
            func.avg(case((rated, Complaint.satisfaction), else_=None)),
            func.count(case((rated, 1), else_=None)),
        )
        .join(Client, col(Client.id) == col(Complaint.client_id))
        .where(_where(scope, narrow))
    )
    row = (await (await session.connection()).execute(stmt)).one()
    return ComplaintFigures(
        open=int(row[0] or 0),
        overdue=int(row[1] or 0),
        overdue_critical=int(row[2] or 0),
        satisfaction_avg=float(row[3]) if row[3] is not None else None,
        satisfaction_n=int(row[4] or 0),
    )


async def staff_names(session: AsyncSession, *, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.exec(sm_select(Staff.id, Staff.name).where(col(Staff.id).in_(list(ids))))
    return {sid: name for sid, name in rows.all() if sid is not None}


async def teams(session: AsyncSession, *, scope: Scope) -> list[str]:
    """Teams a scope can narrow to (admins and team-less supervisors see them all)."""
    if not scope.sees_everything:
        return []
    stmt = sm_select(Staff.team).where(col(Staff.team).is_not(None)).distinct()
    return sorted(t for t in (await session.exec(stmt)).all() if t)


@dataclass(frozen=True)
class Movement:
    """What changed in a scope since a day: reclassified, newly at risk, released clients."""

    changed: int
    new_at_risk: int
    released: int


async def movement(
    session: AsyncSession, *, scope: Scope, narrow: Narrow | None, since: date
) -> Movement:
    """Clients whose type or strategy changed after `since`, who became at risk, were released."""
    ch = ClassificationChange.__table__.c  # type: ignore[attr-defined]
    rh = RiskSnapshot.__table__.c  # type: ignore[attr-defined]
    where = _where(scope, narrow)
    released = and_(ch.strategy == "release", func.coalesce(ch.previous_strategy, "") != "release")
    changes = (
        select(
            func.count(func.distinct(ch.client_id)),
            func.count(func.distinct(case((released, ch.client_id), else_=None))),
        )
        .join(Client, col(Client.id) == ch.client_id)
        .where(ch.day > since, where)
    )
    prior = aliased(RiskSnapshot.__table__)  # type: ignore[attr-defined]
    level_before = (
        select(prior.c.level)
        .where(prior.c.client_id == rh.client_id, prior.c.day <= since)
        .order_by(prior.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    levels = [level.value for level in AT_RISK_LEVELS]
    entered = (
        select(func.count(func.distinct(rh.client_id)))
        .join(Client, col(Client.id) == rh.client_id)
        .where(
            rh.day > since,
            rh.level.in_(levels),
            col(Client.risk_level).in_(levels),
            func.coalesce(level_before, "none").not_in(levels),
            where,
        )
    )
    conn = await session.connection()
    changed, gone = (await conn.execute(changes)).one()
    new_risk = (await conn.execute(entered)).scalar()
    return Movement(
        changed=int(changed or 0), new_at_risk=int(new_risk or 0), released=int(gone or 0)
    )


async def at_risk_trend(
    session: AsyncSession, *, scope: Scope, narrow: Narrow | None, days: Sequence[date]
) -> list[tuple[date, int]]:
    """At-risk clients as they stood at the end of each day, oldest first."""
    from db.repositories.strategy import risk_levels_on

    extra = narrow.clause() if narrow else None
    counts = await risk_levels_on(session, days=days, scope=scope, where=extra)
    return [(day, sum(counts[day][level] for level in AT_RISK_LEVELS)) for day in sorted(counts)]
