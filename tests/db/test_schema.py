"""The migrated schema: types round-trip exactly and constraints hold, on every engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import SQLModel, select

import db.models
from db.migrate import pending_revisions
from db.models import Client, Sale
from db.session import Database
from tests.factories import make_client, make_complaint, make_sale, make_staff


async def test_migrations_create_every_table(database: Database) -> None:
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(SQLModel.metadata.tables) <= tables
    assert db.models.Client.__tablename__ in tables
    assert await pending_revisions(database.engine) == []


async def test_money_is_exact_decimal(database: Database) -> None:
    async with database.session() as session:
        client = await make_client(session)
        for amount in ("0.10", "0.20", "1234567.89", "-8400.00"):
            await make_sale(session, client, amount=Decimal(amount), margin=Decimal("0.01"))
    async with database.session() as session:
        sales = (await session.exec(select(Sale).order_by(Sale.id))).all()
        assert [s.amount for s in sales] == [
            Decimal("0.10"),
            Decimal("0.20"),
            Decimal("1234567.89"),
            Decimal("-8400.00"),
        ]
        total = (await session.exec(select(func.sum(Sale.amount)))).one()
        assert total == Decimal("1226168.19")
        assert isinstance(total, Decimal)


async def test_timestamps_are_aware_utc(database: Database) -> None:
    moscow = timezone(timedelta(hours=3))
    async with database.session() as session:
        client = await make_client(session)
        complaint = await make_complaint(
            session, client, due_at=datetime(2026, 3, 1, 12, 0, tzinfo=moscow)
        )
        complaint_id = complaint.id
    async with database.session() as session:
        loaded = await session.get(db.models.Complaint, complaint_id)
        assert loaded is not None
        assert loaded.due_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        assert loaded.due_at.tzinfo is not None
        assert loaded.created_at.tzinfo is not None


async def test_naive_timestamp_is_refused(database: Database) -> None:
    with pytest.raises(StatementError):
        async with database.session() as session:
            client = await make_client(session)
            await make_complaint(session, client, due_at=datetime(2026, 3, 1, 12, 0))


async def test_constraints_hold(database: Database) -> None:
    async with database.session() as session:
        await make_staff(session, telegram_id=42)
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            await make_staff(session, telegram_id=42)
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            client = await make_client(session)
            await make_complaint(session, client, satisfaction=6)
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            await (await session.connection()).execute(
                text(
                    "INSERT INTO client (name, tags, status, created_at, updated_at) "
                    "VALUES ('x', '[]', 'bogus', :t, :t)"
                ),
                {"t": datetime.now(UTC)},
            )


async def test_failed_session_leaves_nothing_behind(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            await make_client(session, name="half-saved")
            raise RuntimeError("boom")
    async with database.session() as session:
        assert (await session.exec(select(Client))).all() == []


async def test_sqlite_runs_in_wal_with_busy_timeout(sqlite_db: Database) -> None:
    async with sqlite_db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_card_value_sums_are_roubles(database: Database) -> None:
    from datetime import date

    from bot.domain import Role
    from db.repositories.clients import card_data
    from db.repositories.scope import Scope

    async with database.session() as session:
        admin = await make_staff(session, role=Role.ADMIN)
        client = await make_client(session)
        await make_sale(session, client, date=date(2026, 10, 1), amount=Decimal("120000.50"),
                        margin=Decimal("30000"))  # fmt: skip
        await make_sale(session, client, date=date(2026, 3, 1), amount=Decimal("1000"))
        await make_sale(session, client, date=date(2024, 1, 1), amount=Decimal("5"))
        card = await card_data(
            session, client_id=client.id, scope=Scope.of(admin), today=date(2026, 11, 20)
        )
        assert card is not None
        v = card.value
    assert v.revenue_12m == Decimal("121000.50")
    assert v.margin_12m == Decimal("30000.00")
    assert v.revenue_last_6m == Decimal("120000.50")
    assert v.revenue_prev_6m == Decimal("1000.00")


async def test_card_data_in_one_statement(database: Database) -> None:
    from datetime import date

    from bot.domain import ComplaintStatus, Role
    from db.repositories.clients import card_data
    from db.repositories.scope import Scope
    from tests.factories import make_interaction

    async with database.session() as session:
        owner = await make_staff(session, name="Анна")
        other = await make_staff(session, name="Борис")
        admin = await make_staff(session, role=Role.ADMIN)
        client = await make_client(session, owner_id=owner.id)
        await make_interaction(
            session, client, text="old", occurred_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        await make_interaction(
            session,
            client,
            text="new",
            occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
            next_step="call back",
            next_step_due=date(2026, 11, 25),
        )
        await make_complaint(session, client, status=ComplaintStatus.OPEN)
        await make_complaint(session, client, status=ComplaintStatus.RESOLVED)
        await make_sale(session, client, date=date(2026, 10, 1), amount=Decimal("500"))
        scopes = Scope.of(owner), Scope.of(other), Scope.of(admin)
    async with database.session() as session:
        mine, foreign, everything = [
            await card_data(session, client_id=client.id, scope=s, today=date(2026, 11, 20))
            for s in scopes
        ]
    assert foreign is None
    assert mine is not None and everything is not None
    assert mine.owner == "Анна"
    assert mine.last is not None and mine.last.text == "new"
    assert mine.next_step is not None and mine.next_step.next_step == "call back"
    assert mine.open_complaints == 1
    assert mine.value.revenue_12m == Decimal("500.00")
    assert mine.value.margin_12m is None
