"""Helpers for the morning-digest tests: clients with stored risk, a movable clock, a fast run."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot

from bot.config import Settings
from bot.domain import RiskLevel
from bot.services import delivery
from db.models import Client
from db.models.alerts import AlertDelivery, AlertMemory
from db.session import Database

MOSCOW = ZoneInfo("Europe/Moscow")
# Retries without real waiting (RetryAfter is still honoured as Telegram says).
FAST = delivery.Policy(backoff=0.01, max_backoff=0.05, concurrency=8)
_names = itertools.count(1)


def moscow(text: str) -> datetime:
    """A Moscow wall-clock time as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW).astimezone(UTC)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime | str) -> datetime:
        self.now = moscow(when) if isinstance(when, str) else when
        return self.now


async def at_risk_client(
    session: AsyncSession,
    owner_id: int | None,
    level: RiskLevel | None = RiskLevel.HIGH,
    score: int | None = 80,
    value: int | str | None = 100_000,
    reasons: list[str] | None = None,
    **fields: Any,
) -> Client:
    """A client with risk columns set as the strategy engine would store them."""
    n = next(_names)
    client = Client(
        name=fields.pop("name", f"Клиент {n:03d}"),
        owner_id=owner_id,
        risk_level=level,
        risk_score=score,
        risk_reasons=[{"key": key, "params": {}} for key in (reasons or ["no_purchases"])],
        value_at_risk=Decimal(value) if value is not None else None,
        risk_computed_at=datetime(2026, 11, 19, 23, tzinfo=UTC),
        **fields,
    )
    session.add(client)
    await session.flush()
    return client


async def set_risk(
    db: Database,
    client_id: int,
    level: RiskLevel | None,
    score: int | None,
    reasons: list[str] | None = None,
) -> None:
    """What a nightly recomputation does to one client."""
    async with db.session() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.risk_level = level
        client.risk_score = score
        if reasons is not None:
            client.risk_reasons = [{"key": k, "params": {}} for k in reasons]
        session.add(client)


async def run(
    bot: Bot,
    db: Database,
    settings: Settings,
    when: datetime,
    policy: delivery.Policy = FAST,
    **options: Any,
) -> delivery.RunReport:
    """One delivery run as the scheduler would start it at `when`."""
    return await delivery.run(bot, db, settings, clock=lambda: when, policy=policy, **options)


async def ledger(db: Database, staff_id: int | None = None) -> list[AlertDelivery]:
    async with db.session() as session:
        stmt = select(AlertDelivery).order_by(col(AlertDelivery.day), col(AlertDelivery.id))
        if staff_id is not None:
            stmt = stmt.where(AlertDelivery.staff_id == staff_id)
        return list((await session.exec(stmt)).all())


async def memory(db: Database, staff_id: int, client_id: int) -> AlertMemory | None:
    async with db.session() as session:
        return await session.get(AlertMemory, (staff_id, client_id))


def day(text: str) -> date:
    return date.fromisoformat(text)
