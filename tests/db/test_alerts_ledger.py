"""The delivery ledger and alert memory on SQLite and PostgreSQL: claims are exclusive, always."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.app import build_application
from bot.config import load_settings
from bot.domain import ComplaintStatus, RiskLevel, Role, Severity
from bot.sandbox import FakeBotApi
from bot.services.delivery import Outcome
from bot.strategies.alerting import RiskState
from db.models.alerts import AlertDelivery, DeliveryStatus
from db.repositories import alerts as repo
from db.repositories.scope import Scope
from db.session import Database
from tests.alerts_support import at_risk_client, day, ledger, memory, run
from tests.factories import make_complaint, make_staff

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 09:00 in Moscow, a Friday
FRIDAY = day("2026-11-20")


async def test_a_claim_is_exclusive(database: Database) -> None:
    async with database.session() as s:
        person = await make_staff(s)
    assert person.id is not None
    async with database.session() as s:
        first = await repo.claim(s, staff_id=person.id, day=FRIDAY, now=NOW, by="a")
    async with database.session() as s:
        second = await repo.claim(s, staff_id=person.id, day=FRIDAY, now=NOW, by="b")
        other_day = await repo.claim(
            s, staff_id=person.id, day=FRIDAY + timedelta(days=1), now=NOW, by="b"
        )
    assert first is not None and second is None and other_day not in (None, first)
    [row, _] = await ledger(database, person.id)
    assert row.status == DeliveryStatus.PENDING and row.claimed_by == "a" and row.claims == 1


async def test_two_engines_racing_for_the_same_claims(database: Database) -> None:
    async with database.session() as s:
        people = [await make_staff(s) for _ in range(20)]
    engines = [Database(database.url), Database(database.url)]

    async def claim_all(db: Database, by: str) -> list[int | None]:
        out = []
        for person in people:
            async with db.session() as s:
                assert person.id is not None
                out.append(await repo.claim(s, staff_id=person.id, day=FRIDAY, now=NOW, by=by))
        return out

    try:
        a, b = await asyncio.gather(claim_all(engines[0], "a"), claim_all(engines[1], "b"))
    finally:
        for engine in engines:
            await engine.dispose()
    for mine, theirs in zip(a, b, strict=True):
        assert (mine is None) != (theirs is None)
    assert len(await ledger(database)) == 20


async def test_a_stale_claim_is_taken_over_once(database: Database) -> None:
    async with database.session() as s:
        person = await make_staff(s)
        assert person.id is not None
        await repo.claim(s, staff_id=person.id, day=FRIDAY, now=NOW, by="dead")
    [row] = await ledger(database, person.id)
    engines = [Database(database.url) for _ in range(3)]

    async def take(db: Database, by: str) -> bool:
        async with db.session() as s:
            return await repo.reclaim(s, row=row, now=NOW + timedelta(minutes=15), by=by)

    try:
        won = await asyncio.gather(*(take(db, f"p{i}") for i, db in enumerate(engines)))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(won) == [False, False, True]
    [row] = await ledger(database, person.id)
    assert row.claims == 2 and row.status == DeliveryStatus.PENDING


async def test_finishing_records_the_outcome(database: Database) -> None:
    async with database.session() as s:
        person = await make_staff(s)
        assert person.id is not None
        delivery_id = await repo.claim(s, staff_id=person.id, day=FRIDAY, now=NOW, by="a")
    assert delivery_id is not None
    async with database.session() as s:
        await repo.finish(
            s,
            delivery_id=delivery_id,
            status=DeliveryStatus.SENT,
            now=NOW,
            attempts=3,
            message_id=2**40,
            items=[{"id": 7, "why": "new"}],
        )
    async with database.session() as s:
        row = await s.get(AlertDelivery, delivery_id)
        assert row is not None
        assert (row.status, row.attempts, row.message_id) == ("sent", 3, 2**40)
        assert row.items == [{"id": 7, "why": "new"}] and row.finished_at == NOW
        assert await repo.status_counts(s, day=FRIDAY) == {"sent": 1}


async def test_memory_and_snoozes(database: Database) -> None:
    async with database.session() as s:
        person = await make_staff(s)
        client = await at_risk_client(s, person.id)
    assert person.id is not None and client.id is not None
    seen = RiskState(RiskLevel.MEDIUM, 40, frozenset({"b", "a"}))
    async with database.session() as s:
        await repo.remember(s, staff_id=person.id, day=FRIDAY, now=NOW, states={client.id: seen})
    row = await memory(database, person.id, client.id)
    assert row is not None and row.level == "medium" and row.reason_keys == ["a", "b"]
    until = FRIDAY + timedelta(days=7)
    worse = RiskState(RiskLevel.HIGH, 70, frozenset({"a"}))
    async with database.session() as s:
        await repo.snooze(
            s, staff_id=person.id, client_id=client.id, until=until, state=worse, now=NOW
        )
        # Alerted again while snoozed (it got worse): the snooze stays.
        await repo.remember(s, staff_id=person.id, day=FRIDAY, now=NOW, states={client.id: worse})
    row = await memory(database, person.id, client.id)
    assert row is not None and row.snooze_until == until and row.level == "high"
    async with database.session() as s:
        assert await repo.snoozes(s, staff_id=person.id, client_ids=[client.id], today=FRIDAY)
        assert not await repo.snoozes(s, staff_id=person.id, client_ids=[client.id], today=until)
        await repo.remember(s, staff_id=person.id, day=until, now=NOW, states={client.id: worse})
    row = await memory(database, person.id, client.id)
    assert row is not None and row.snooze_until is None  # alerted when it ended: consumed
    async with database.session() as s:
        await repo.forget(s, staff_id=person.id, client_ids=[client.id])
    assert await memory(database, person.id, client.id) is None


async def test_team_figures_and_overdue_critical_complaints(database: Database) -> None:
    async with database.session() as s:
        boss = await make_staff(s, role=Role.SUPERVISOR, team="north")
        anna = await make_staff(s, team="north", name="Anna")
        other = await make_staff(s, team="south")
        for value in ("1234.56", "0.44"):
            await at_risk_client(s, anna.id, RiskLevel.HIGH, 90, value)
        await at_risk_client(s, anna.id, RiskLevel.MEDIUM, 50, None)
        late = await at_risk_client(s, anna.id, RiskLevel.LOW, 10)
        await at_risk_client(s, other.id, RiskLevel.HIGH, 90, "999")
        await make_complaint(s, late, severity=Severity.CRITICAL, due_at=NOW - timedelta(hours=1))
        await make_complaint(
            s,
            late,
            severity=Severity.CRITICAL,
            status=ComplaintStatus.IN_PROGRESS,
            due_at=NOW - timedelta(hours=2),
        )
        await make_complaint(s, late, severity=Severity.CRITICAL, due_at=NOW + timedelta(hours=1))
    async with database.session() as s:
        [figures] = await repo.owner_figures(s, scope=Scope.of(boss))
        overdue, total = await repo.overdue_critical(s, scope=Scope.of(boss), now=NOW, limit=1)
    assert (figures.name, figures.clients, figures.high) == ("Anna", 3, 2)
    assert figures.value == Decimal("1235.00")
    assert total == 2 and len(overdue) == 1 and overdue[0].owner == "Anna"
    assert overdue[0].due_at == NOW - timedelta(hours=2)


async def test_two_bots_on_one_database_deliver_each_digest_once(database: Database) -> None:
    async with database.session() as s:
        people = [await make_staff(s, telegram_id=500 + i) for i in range(25)]
        for person in people:
            await at_risk_client(s, person.id)
    async with FakeBotApi() as server:
        for person in people:
            server.user(person.telegram_id, person.name)
        settings = load_settings(
            bot_token=server.token,
            api_base_url=server.base_url,
            database_url=database.url,
            _env_file=None,
        )
        engines = [Database(database.url), Database(database.url)]
        apps = [build_application(settings, engine) for engine in engines]
        try:
            for app in apps:
                await app.bot.initialize()
            reports = await asyncio.gather(
                *(
                    run(app.bot, engine, settings, NOW)
                    for app, engine in zip(apps, engines, strict=True)
                )
            )
            again = await run(apps[0].bot, engines[0], settings, NOW + timedelta(minutes=1))
        finally:
            for app in apps:
                await app.bot.shutdown()
            for engine in engines:
                await engine.dispose()
        for person in people:
            assert len(server.messages(person.telegram_id)) == 1
    assert sum(r[Outcome.SENT] for r in reports) == 25
    assert sum(r[Outcome.TAKEN] for r in reports) == 25
    assert again[Outcome.TAKEN] == 25 and again[Outcome.SENT] == 0
    assert {row.status for row in await ledger(database)} == {DeliveryStatus.SENT}
