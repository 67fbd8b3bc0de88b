"""The ledger's kinds on SQLite and PostgreSQL: a claim per person, day and kind; migration 0006."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from db.migrate import alembic_config
from db.models.alerts import DeliveryKind, DeliveryStatus
from db.repositories import alerts as repo
from db.session import Database
from tests.alerts_support import ledger
from tests.factories import make_staff

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 09:00 in Moscow, a Monday
MONDAY = date(2026, 11, 23)
DIGEST, WEEKLY = DeliveryKind.DIGEST, DeliveryKind.WEEKLY


async def test_each_kind_is_claimed_once_per_person_and_day(database: Database) -> None:
    async with database.session() as s:
        person = await make_staff(s)
    assert person.id is not None
    claims = []
    for kind in (DIGEST, WEEKLY, WEEKLY, DIGEST):
        async with database.session() as s:
            claims.append(
                await repo.claim(s, staff_id=person.id, day=MONDAY, kind=kind, now=NOW, by="a")
            )
    digest, weekly, weekly_again, digest_again = claims
    assert digest is not None and weekly not in (None, digest)
    assert weekly_again is None and digest_again is None
    async with database.session() as s:
        rows = await repo.deliveries(s, staff_ids=[person.id], days=[MONDAY])
        only_weekly = await repo.deliveries(s, staff_ids=[person.id], days=[MONDAY], kinds=[WEEKLY])
        await repo.finish(s, delivery_id=weekly, status=DeliveryStatus.SENT, now=NOW)
    assert {key: row.id for key, row in rows.items()} == {
        (person.id, MONDAY, DIGEST): digest,
        (person.id, MONDAY, WEEKLY): weekly,
    }
    assert list(only_weekly) == [(person.id, MONDAY, WEEKLY)]
    async with database.session() as s:
        assert await repo.status_counts(s, day=MONDAY) == {"pending": 1}
        assert await repo.status_counts(s, day=MONDAY, kind=WEEKLY) == {"sent": 1}
        [(problem, _)] = await repo.problems(s, day=MONDAY)
    assert problem.id == digest  # the pending one


async def _migrate(database: Database, action: str, revision: str) -> None:
    """Run an Alembic command on the test's database from inside the running loop."""

    def _run(connection: Connection) -> None:
        config = alembic_config(database.engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(_run)


async def _rows(database: Database) -> list[dict[str, Any]]:
    async with database.engine.connect() as conn:
        result = await conn.execute(text("SELECT * FROM alert_delivery ORDER BY id"))
        return [dict(row._mapping) for row in result]


async def _insert_digest_row(database: Database, staff_id: int) -> None:
    # Raw SQL: at 0005 the table has no kind column, which the model would write.
    async with database.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO alert_delivery (staff_id, day, status, claims, attempts, claimed_at,"
                " items, created_at, updated_at) VALUES (:staff, :day, 'sent', 1, 1, :now, '[]',"
                " :now, :now)"
            ),
            {"staff": staff_id, "day": MONDAY, "now": NOW},
        )


async def test_migration_0006_keeps_existing_rows_as_digests_both_ways(
    database: Database,
) -> None:
    async with database.session() as s:
        person = await make_staff(s)
    assert person.id is not None
    try:
        await _migrate(database, "downgrade", "0005")
        await _insert_digest_row(database, person.id)
        await _migrate(database, "upgrade", "0006")
        [row] = await _rows(database)
        assert row["kind"] == "digest" and row["status"] == "sent"
        async with database.session() as s:
            weekly = await repo.claim(
                s, staff_id=person.id, day=MONDAY, kind=WEEKLY, now=NOW, by="a"
            )
        assert weekly is not None
        assert [r.kind for r in await ledger(database)] == ["digest", "weekly"]

        await _migrate(database, "downgrade", "0005")
        [row] = await _rows(database)  # the weekly row went; the digest stayed
        assert (
            "kind" not in row and row["status"] == "sent" and row["day"] in (MONDAY, "2026-11-23")
        )
        with pytest.raises(IntegrityError):  # the old (person, day) key is back
            await _insert_digest_row(database, person.id)

        await _migrate(database, "upgrade", "head")
        [row] = await _rows(database)
        assert row["kind"] == "digest"
    finally:
        await _migrate(database, "upgrade", "head")
