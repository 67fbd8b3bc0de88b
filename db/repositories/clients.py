"""Clients: scoped lookups and the figures a card shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, case, func, true
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ComplaintStatus
from db.models import Client, Complaint, Interaction, Sale, Staff
from db.repositories.scope import Scope, clients_bound


async def get_in_scope(session: AsyncSession, *, client_id: int, scope: Scope) -> Client | None:
    """The client if it exists and this scope may see it; None otherwise (the two look alike)."""
    stmt = select(Client).where(Client.id == client_id, scope.clients())
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


def _value_columns() -> Select[Any]:
    """Sales sums of one client: 12-month revenue and margin, and the two half-years."""
    since_12 = bindparam("since_12m")
    since_6 = bindparam("since_6m")

    def window(expr: Any, since: Any, until: Any = None) -> Any:
        cond = Sale.date >= since if until is None else (Sale.date >= since) & (Sale.date < until)
        return func.sum(case((cond, expr), else_=None))

    return select(
        window(Sale.amount, since_12).label("revenue_12m"),
        window(Sale.margin, since_12).label("margin_12m"),
        func.count(case((Sale.date >= since_12, Sale.margin), else_=None)).label("margins"),
        window(Sale.amount, since_6).label("revenue_last_6m"),
        window(Sale.amount, since_12, since_6).label("revenue_prev_6m"),
    ).where(Sale.client_id == bindparam("client_id"), Sale.date <= bindparam("today"))


@dataclass(frozen=True)
class CardData:
    """What the card shows, read in one statement (plus complaints when there are open ones)."""

    client: Client
    owner: str | None
    last: Interaction | None
    next_step: Interaction | None
    open_complaints: int
    value: Value


@cache
def _card_statement(shape: str) -> Select[Any]:
    """The card's one statement, built once per scope shape: building it costs more than
    running it, and the card is the bot's most frequent answer."""
    last = aliased(Interaction, name="last_contact")
    step = aliased(Interaction, name="next_step")
    last_id = (
        select(Interaction.id)
        .where(Interaction.client_id == Client.id)
        .order_by(col(Interaction.occurred_at).desc(), col(Interaction.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    step_id = (
        select(Interaction.id)
        .where(
            Interaction.client_id == Client.id,
            col(Interaction.next_step_due).is_not(None),
            col(Interaction.next_step_done_at).is_(None),
        )
        .order_by(col(Interaction.next_step_due), col(Interaction.id))
        .limit(1)
        .scalar_subquery()
    )
    open_count = (
        select(func.count())
        .where(
            Complaint.client_id == Client.id,
            col(Complaint.status).in_([ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS]),
        )
        .scalar_subquery()
    )
    figures = _value_columns().subquery()
    return (
        select(Client, Staff.name, last, step, open_count, figures)
        .outerjoin(Staff, col(Staff.id) == col(Client.owner_id))
        .outerjoin(last, col(last.id) == last_id)
        .outerjoin(step, col(step.id) == step_id)
        .join(figures, true())
        .where(Client.id == bindparam("client_id"), clients_bound(shape))
    )


async def card_data(
    session: AsyncSession, *, client_id: int, scope: Scope, today: date
) -> CardData | None:
    """The client (if in scope) with its owner, last contact, next step and sales figures."""
    params = {
        "client_id": client_id,
        "today": today,
        "since_12m": _months_back(today, 12),
        "since_6m": _months_back(today, 6),
        **scope.params(),
    }
    result = await session.exec(_card_statement(scope.shape), params=params)  # type: ignore[call-overload]
    row = result.first()
    if row is None:
        return None
    client, owner, last_row, step_row, complaints, revenue, margin, known, last6, prev6 = row
    return CardData(
        client=client,
        owner=owner,
        last=last_row,
        next_step=step_row,
        open_complaints=int(complaints or 0),
        value=Value(
            revenue_12m=revenue or Decimal(0),
            margin_12m=(margin or Decimal(0)) if known else None,
            revenue_last_6m=last6 or Decimal(0),
            revenue_prev_6m=prev6 or Decimal(0),
        ),
    )
