"""A client's timeline (interactions, complaints, sales) and audit trail, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import AuditLog, Complaint, Interaction, Sale, Staff


@dataclass(frozen=True)
class Item:
    """One timeline entry; `row` is the Interaction, Complaint or Sale itself."""

    kind: str  # "interaction" | "complaint" | "sale"
    at: datetime
    row: Interaction | Complaint | Sale
    author: str | None = None

    @property
    def id(self) -> int:
        return self.row.id  # type: ignore[return-value]


@dataclass(frozen=True)
class Counts:
    interactions: int
    complaints: int
    sales: int


async def counts(session: AsyncSession, *, client_id: int) -> Counts:
    """How many of each the client has, in one statement."""

    def total(model: type) -> object:
        return (
            select(func.count())
            .select_from(model)
            .where(model.client_id == client_id)  # type: ignore[attr-defined]
            .scalar_subquery()
        )

    stmt = select(total(Interaction), total(Complaint), total(Sale))
    interactions, complaints, sales = (await session.exec(stmt)).one()  # type: ignore[call-overload]
    return Counts(int(interactions), int(complaints), int(sales))


_ORDER = {"interaction": 0, "complaint": 1, "sale": 2}


async def timeline(
    session: AsyncSession, *, client_id: int, limit: int, offset: int = 0
) -> tuple[list[Item], bool]:
    """One page of the timeline and whether older entries follow.

    Three statements per page whatever its size: each source gives its newest offset+limit+1
    rows and the merge picks the page, so no single query has to order a union of three tables
    whose time columns differ in type.
    """
    n = offset + limit + 1
    interactions = (
        select(Interaction, Staff.name)
        .outerjoin(Staff, col(Staff.id) == col(Interaction.staff_id))
        .where(Interaction.client_id == client_id)
        .order_by(col(Interaction.occurred_at).desc(), col(Interaction.id).desc())
        .limit(n)
    )
    complaints = (
        select(Complaint, Staff.name)
        .outerjoin(Staff, col(Staff.id) == col(Complaint.staff_id))
        .where(Complaint.client_id == client_id)
        .order_by(col(Complaint.created_at).desc(), col(Complaint.id).desc())
        .limit(n)
    )
    sales = (
        select(Sale)
        .where(Sale.client_id == client_id)
        .order_by(col(Sale.date).desc(), col(Sale.id).desc())
        .limit(n)
    )
    items = [
        Item("interaction", row.occurred_at, row, name)
        for row, name in (await session.exec(interactions)).all()
    ]
    items += [
        Item("complaint", row.created_at, row, name)
        for row, name in (await session.exec(complaints)).all()
    ]
    items += [
        Item("sale", datetime.combine(row.date, time(12), tzinfo=UTC), row)
        for row in (await session.exec(sales)).all()
    ]
    items.sort(key=lambda i: (i.at, -_ORDER[i.kind], i.id), reverse=True)
    return items[offset : offset + limit], len(items) > offset + limit


@dataclass(frozen=True)
class AuditEntry:
    row: AuditLog
    author: str | None


async def audit_trail(
    session: AsyncSession, *, client_id: int, limit: int, offset: int = 0
) -> tuple[list[AuditEntry], bool]:
    """One page of the client's audit trail, newest first, with who did it."""
    stmt = (
        select(AuditLog, Staff.name)
        .outerjoin(Staff, col(Staff.id) == col(AuditLog.staff_id))
        .where(AuditLog.client_id == client_id)
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .offset(offset)
        .limit(limit + 1)
    )
    rows = (await session.exec(stmt)).all()
    return [AuditEntry(row, name) for row, name in rows[:limit]], len(rows) > limit


async def staff_names(session: AsyncSession, *, ids: set[int]) -> dict[int, str]:
    """Names of the staff members an audit page refers to, in one statement."""
    if not ids:
        return {}
    stmt = select(Staff.id, Staff.name).where(col(Staff.id).in_(sorted(ids)))
    return {staff_id: name for staff_id, name in (await session.exec(stmt)).all()}
