"""Small factories for tests: rows with sensible defaults, any field overridable."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ComplaintCategory, InteractionKind, Role, Severity
from db.models import Client, Complaint, Interaction, Sale, Staff

_ids = itertools.count(1000)


async def make_staff(session: AsyncSession, **fields: Any) -> Staff:
    n = next(_ids)
    values: dict[str, Any] = {"telegram_id": n, "name": f"Staff {n}", "role": Role.MANAGER}
    values.update(fields)
    staff = Staff(**values)
    session.add(staff)
    await session.flush()
    return staff


async def make_client(session: AsyncSession, **fields: Any) -> Client:
    n = next(_ids)
    values: dict[str, Any] = {"name": f"Client {n}"}
    values.update(fields)
    client = Client(**values)
    session.add(client)
    await session.flush()
    return client


async def make_sale(session: AsyncSession, client: Client, **fields: Any) -> Sale:
    values: dict[str, Any] = {
        "client_id": client.id,
        "date": date(2026, 1, 15),
        "amount": Decimal("1000.00"),
    }
    values.update(fields)
    sale = Sale(**values)
    session.add(sale)
    await session.flush()
    return sale


async def make_interaction(session: AsyncSession, client: Client, **fields: Any) -> Interaction:
    values: dict[str, Any] = {
        "client_id": client.id,
        "kind": InteractionKind.CALL,
        "text": "called",
        "occurred_at": datetime(2026, 1, 15, 10, tzinfo=UTC),
    }
    values.update(fields)
    row = Interaction(**values)
    session.add(row)
    await session.flush()
    return row


async def make_complaint(session: AsyncSession, client: Client, **fields: Any) -> Complaint:
    values: dict[str, Any] = {
        "client_id": client.id,
        "category": ComplaintCategory.QUALITY,
        "severity": Severity.MEDIUM,
        "text": "broken on arrival",
        "due_at": datetime(2026, 1, 17, 10, tzinfo=UTC),
    }
    values.update(fields)
    row = Complaint(**values)
    session.add(row)
    await session.flush()
    return row
