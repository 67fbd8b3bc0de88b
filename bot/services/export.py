"""Exports of the clients in a scope: one set-based query, written as CSV or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ComplaintStatus
from bot.i18n import Translator
from db.models import Client, Complaint, Sale, Staff
from db.repositories.scope import Scope
from db.repositories.summary import Narrow, effective_strategy

FORMATS = ("xlsx", "csv")
COLUMNS = (
    "id", "external_id", "name", "company", "phone", "email", "tax_id", "owner", "client_type",
    "strategy", "strategy_override", "risk_level", "risk_score", "value_at_risk", "p_alive",
    "revenue_12m", "margin_12m", "last_purchase", "open_complaints", "tags", "status",
)  # fmt: skip


@dataclass(frozen=True)
class Export:
    filename: str
    data: bytes
    rows: int


async def rows(
    session: AsyncSession, *, scope: Scope, narrow: Narrow | None, since: date, today: date
) -> list[tuple[Any, ...]]:
    """One row per client in scope (archived ones too, marked), in COLUMNS order."""
    sales = (
        select(
            Sale.client_id,
            func.sum(Sale.amount).label("revenue"),
            func.sum(Sale.margin).label("margin"),
            func.max(Sale.date).label("last"),
        )
        .where(Sale.date > since, Sale.date <= today)
        .group_by(col(Sale.client_id))
        .subquery()
    )
    complaints = (
        select(Complaint.client_id, func.count().label("open"))
        .where(col(Complaint.status).in_([ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS]))
        .group_by(col(Complaint.client_id))
        .subquery()
    )
    owner = aliased(Staff)
    where = scope.clients() if narrow is None else and_(scope.clients(), narrow.clause())
    stmt = (
        select(
            Client.id,
            Client.external_id,
            Client.name,
            Client.company,
            Client.phone,
            Client.email,
            Client.tax_id,
            owner.name,
            Client.client_type,
            effective_strategy(),
            Client.strategy_override,
            Client.risk_level,
            Client.risk_score,
            Client.value_at_risk,
            Client.p_alive,
            sales.c.revenue,
            sales.c.margin,
            sales.c.last,
            func.coalesce(complaints.c.open, 0),
            Client.tags,
            Client.status,
        )
        .outerjoin(owner, col(owner.id) == col(Client.owner_id))
        .outerjoin(sales, sales.c.client_id == col(Client.id))
        .outerjoin(complaints, complaints.c.client_id == col(Client.id))
        .where(where)
        .order_by(col(Client.id))
    )
    return [tuple(r) for r in await (await session.connection()).execute(stmt)]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if hasattr(value, "value"):  # enums: the stable key, as in imports and the domain doc
        return value.value
    return value


def _header(t: Translator) -> list[str]:
    return [t.text(f"export.col.{name}") for name in COLUMNS]


def to_csv(data: Sequence[tuple[Any, ...]], t: Translator) -> bytes:
    """UTF-8 with BOM and ';' so that Excel (and 1C) open it right in Russian locales."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if t.lang == "ru" else ",")
    writer.writerow(_header(t))
    for row in data:
        writer.writerow([_money_text(v) if isinstance(v, Decimal) else _cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _money_text(value: Decimal) -> str:
    return format(value, "f")


def to_xlsx(data: Sequence[tuple[Any, ...]], t: Translator) -> bytes:
    """A write-only workbook: constant memory, numbers stay numbers."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(t.text("export.sheet"))
    sheet.append(_header(t))
    for row in data:
        sheet.append([float(v) if isinstance(v, Decimal) else _cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def export(
    session: AsyncSession,
    *,
    scope: Scope,
    narrow: Narrow | None,
    today: date,
    since: date,
    fmt: str,
    t: Translator,
) -> Export:
    data = await rows(session, scope=scope, narrow=narrow, since=since, today=today)
    writer = to_xlsx if fmt == "xlsx" else to_csv
    suffix = f"-{narrow.kind}-{narrow.key}" if narrow else ""
    name = f"clients{suffix}-{today.isoformat()}.{fmt}"
    return Export(filename=name, data=writer(data, t), rows=len(data))
