"""Importing interactions: kinds in Russian, company time zone, staff, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from bot.domain import InteractionKind
from bot.imports import import_interactions
from db.models import Interaction
from db.session import Database
from tests.factories import make_client, make_staff


async def interactions(database: Database) -> list[Interaction]:
    async with database.session() as session:
        return list((await session.exec(select(Interaction).order_by(Interaction.id))).all())


async def test_times_kinds_and_staff(database: Database, tmp_path: Path) -> None:
    async with database.session() as session:
        client = await make_client(session, name="A", external_id="K1", phone="+79123456789")
        staff = await make_staff(session, telegram_id=4440001)
        client_id, staff_id = client.id, staff.id
    text = (
        "Клиент;Дата;Вид;Комментарий;Сотрудник\n"
        "K1;15.01.2026 12:30;Звонок;Договорились о встрече;4440001\n"
        "+7 912 345 67 89;2026-01-16T10:00:00+05:00;meeting;;\n"
        "K1;17.01.2026;заметка;Без времени;\n"
        "K1;18.01.2026;факс;;\n"
        "K1;19.01.2026;визит;;999\n"
    )
    path = tmp_path / "interactions.csv"
    path.write_text(text, encoding="utf-8-sig")
    report = await import_interactions(database, path)
    assert (report.created, report.skipped) == (3, 2)
    assert [(e.line, e.code) for e in report.errors] == [(5, "kind"), (6, "staff")]
    assert report.client_ids == {client_id}
    call, meeting, note = await interactions(database)
    # Naive times are Moscow time (UTC+3); an explicit offset is respected.
    assert call.occurred_at == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert (call.kind, call.text, call.staff_id) == (
        InteractionKind.CALL,
        "Договорились о встрече",
        staff_id,
    )
    assert meeting.occurred_at == datetime(2026, 1, 16, 5, 0, tzinfo=UTC)
    assert meeting.kind is InteractionKind.MEETING and meeting.staff_id is None
    assert note.occurred_at == datetime(2026, 1, 16, 21, 0, tzinfo=UTC)


async def test_other_time_zone_and_reimport(database: Database, tmp_path: Path) -> None:
    async with database.session() as session:
        await make_client(session, name="A", email="a@b.ru")
    path = tmp_path / "i.csv"
    path.write_text("client,date,kind,text\na@b.ru,15.01.2026 12:00,call,hi\n", encoding="utf-8")
    first = await import_interactions(database, path, tz="Asia/Yekaterinburg")
    assert first.created == 1
    (row,) = await interactions(database)
    assert row.occurred_at == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
    again = await import_interactions(database, path, tz="Asia/Yekaterinburg")
    assert (again.created, again.unchanged) == (0, 1)
    assert len(await interactions(database)) == 1
