"""Clients: scoped lookups and the figures a card shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ComplaintStatus
from db.models import Client, Complaint, Interaction, Sale, Staff
from db.repositories.scope import Scope


async def get_in_scope(session: AsyncSession, *, client_id: int, scope: Scope) -> Client | None:
    """The client if it exists and this scope may see it; None otherwise (the two look alike)."""
    stmt = select(Client).where(Client.id == client_id, scope.clients())
    return (await session.exec(stmt)).first()


async def owner_name(session: AsyncSession, *, client: Client) -> str | None:
    if client.owner_id is None:
        return None
    return (await session.exec(select(Staff.name).where(Staff.id == client.owner_id))).first()


async def last_interaction(session: AsyncSession, *, client_id: int) -> Interaction | None:
    stmt = (
        select(Interaction)
        .where(Interaction.client_id == client_id)
        .order_by(col(Interaction.occurred_at).desc(), col(Interaction.id).desc())
        .limit(1)
    )
    return (await session.exec(stmt)).first()


async def next_step(session: AsyncSession, *, client_id: int) -> Interaction | None:
    """The earliest open next step (planned, not yet done) for the client."""
    stmt = (
        select(Interaction)
        .where(
            Interaction.client_id == client_id,
            col(Interaction.next_step_due).is_not(None),
            col(Interaction.next_step_done_at).is_(None),
        )
        .order_by(col(Interaction.next_step_due), col(Interaction.id))
        .limit(1)
    )
    return (await session.exec(stmt)).first()


async def open_complaints(session: AsyncSession, *, client_id: int) -> list[Complaint]:
    stmt = (
        select(Complaint)
        .where(
            Complaint.client_id == client_id,
            col(Complaint.status).in_([ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS]),
        )
        .order_by(col(Complaint.due_at))
    )
    return list((await session.exec(stmt)).all())


@dataclass(frozen=True)
class Value:
    """Sales figures of one client: the last 12 months and the trend of its two halves."""

    revenue_12m: Decimal
    margin_12m: Decimal | None
    revenue_last_6m: Decimal
    revenue_prev_6m: Decimal

    @property
    def trend(self) -> float | None:
        """Relative change of the last 6 months against the 6 before; None without a base."""
        if self.revenue_prev_6m <= 0:
            return None
        return float((self.revenue_last_6m - self.revenue_prev_6m) / self.revenue_prev_6m)


def _months_back(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, min(day.day, 28))


async def value(session: AsyncSession, *, client_id: int, today: date) -> Value:
    start_12 = _months_back(today, 12)
    start_6 = _months_back(today, 6)

    def window(expr: object, since: date, until: date | None = None) -> object:
        cond = Sale.date >= since if until is None else (Sale.date >= since) & (Sale.date < until)
        return func.coalesce(func.sum(case((cond, expr), else_=None)), 0)

    margin_known = func.count(case((Sale.date >= start_12, Sale.margin), else_=None))
    stmt = select(
        window(Sale.amount, start_12),
        window(Sale.margin, start_12),
        margin_known,
        window(Sale.amount, start_6),
        window(Sale.amount, start_12, start_6),
    ).where(Sale.client_id == client_id, Sale.date <= today)
    conn = await session.connection()
    # The sums keep the Money column type, so they arrive as Decimal roubles already.
    row = (await conn.execute(stmt)).one()

    def dec(raw: Decimal | None) -> Decimal:
        return raw if raw is not None else Decimal(0)

    return Value(
        revenue_12m=dec(row[0]),
        margin_12m=dec(row[1]) if row[2] else None,
        revenue_last_6m=dec(row[3]),
        revenue_prev_6m=dec(row[4]),
    )
