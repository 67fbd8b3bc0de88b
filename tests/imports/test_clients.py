"""Importing clients: awkward files, upserts, duplicates, referrals, idempotency."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select

from bot.imports import ImportReport, MissingColumnsError, import_clients, import_clients_data
from db.models import AuditLog, Client
from db.session import Database
from tests.factories import make_client, make_staff

HEADER = "external_id,name,company,phone,email,tax_id,owner_telegram_id,tags,referred_by\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


async def clients_by_external_id(database: Database) -> dict[str | None, Client]:
    async with database.session() as session:
        rows = (await session.exec(select(Client).order_by(Client.id))).all()
    return {c.external_id: c for c in rows}


async def count(database: Database, model: type) -> int:
    async with database.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_utf8_bom_csv_with_mixed_case_headers(database: Database, tmp_path: Path) -> None:
    async with database.session() as session:
        owner = await make_staff(session, telegram_id=5550001)
        owner_id = owner.id
    text = (
        "External_ID,NAME,Company,Phone,E-mail,INN,Owner,Tags\n"
        "C1,Иванов Иван,ООО «Ромашка»,8 (912) 345-67-89,Ivan@Example.RU,77 01 234567,5550001,"
        "vip; опт|VIP\n"
        '"C2","  Петров\n Пётр ",,,,,,\n'
    )
    path = write(tmp_path, "clients.csv", "\ufeff" + text)
    report = await import_clients(database, path, actor="cli")
    assert (report.created, report.updated, report.unchanged, report.skipped) == (2, 0, 0, 0)
    stored = await clients_by_external_id(database)
    ivan = stored["C1"]
    assert ivan.name == "Иванов Иван"
    assert ivan.company == "ООО «Ромашка»"
    assert ivan.phone == "+79123456789"
    assert ivan.email == "ivan@example.ru"
    assert ivan.tax_id == "7701234567"
    assert ivan.owner_id == owner_id
    assert ivan.tags == ["vip", "опт"]
    assert stored["C2"].name == "Петров Пётр"  # a multi-line, padded cell reads as one line
    assert stored["C2"].phone is None and stored["C2"].tags == []
    assert report.client_ids == {ivan.id, stored["C2"].id}


async def test_cp1251_semicolon_with_russian_headers(database: Database, tmp_path: Path) -> None:
    text = (
        "Код;Наименование;Организация;Телефон;Почта;Метки\r\n"
        "000123;Сидорова Анна;АО «Вектор»;+7 912 000-00-01;anna@vector.ru;опт\r\n"
    )
    path = write(tmp_path, "export_1c.csv", text, encoding="cp1251")
    report = await import_clients(database, path)
    assert report.created == 1
    anna = (await clients_by_external_id(database))["000123"]
    assert (anna.name, anna.company, anna.tags) == ("Сидорова Анна", "АО «Вектор»", ["опт"])


async def test_xlsx_with_numeric_cells(database: Database) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Внешний ID", "Клиент", "Телефон", "ИНН"])
    sheet.append([101, "Кузнецов Олег", 79123450000, 7701234567])
    sheet.append([102, "Смирнова Ольга", "8 912 345-00-01", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    # The bot hands over an uploaded document as a stream.
    report = await import_clients_data(database, buffer, "clients.xlsx")
    assert report.created == 2 and report.skipped == 0
    stored = await clients_by_external_id(database)
    assert stored["101"].phone == "+79123450000"
    assert stored["101"].tax_id == "7701234567"
    assert stored["102"].phone == "+79123450001"


async def test_bad_rows_are_skipped_with_line_numbers(database: Database, tmp_path: Path) -> None:
    text = (
        HEADER
        + "C1,Good One,,+79120000001,,,,,\n"
        + "C2,,,+79120000002,,,,,\n"  # line 3: no name
        + "C3,Bad Phone,,12,,,,,\n"  # line 4
        + "C4,Bad Mail,,,not-an-email,,,,\n"  # line 5
        + "C5,No Owner,,,,,999999,,\n"  # line 6: unknown owner
        + "C6,Good Two,,,,,,,\n"
    )
    report = await import_clients(database, write(tmp_path, "c.csv", text))
    assert report.created == 2
    assert report.skipped == 4
    assert [(e.line, e.code) for e in report.errors] == [
        (3, "missing_name"),
        (4, "phone"),
        (5, "email"),
        (6, "owner"),
    ]
    assert report.errors[1].reason == "invalid phone '12'"
    assert set(await clients_by_external_id(database)) == {"C1", "C6"}


async def test_duplicates_in_one_file_merge_into_one_client(
    database: Database, tmp_path: Path
) -> None:
    text = (
        HEADER
        + "C1,Old Name,,+79120000001,,,,vip,\n"
        + ",Nameless Dup,,,a@b.ru,,,,\n"
        + "C1,New Name,Acme,,a@b.ru,,,опт,\n"
        + ",By Mail,,,A@B.RU,,,,\n"
    )
    report = await import_clients(database, write(tmp_path, "c.csv", text))
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    stored = await clients_by_external_id(database)
    merged = stored["C1"]
    assert (merged.name, merged.company, merged.tags) == ("New Name", "Acme", ["vip", "опт"])
    assert merged.email == "a@b.ru"
    # Row 3 came before C1 had an e-mail, so it is a client of its own; row 5 joins it by e-mail.
    assert stored[None].name == "By Mail"


async def test_reimport_changes_nothing(database: Database, tmp_path: Path) -> None:
    async with database.session() as session:
        await make_staff(session, telegram_id=5550002)
    text = (
        HEADER
        + "C1,Иванов,ООО,8 912 000 00 01,i@x.ru,7701,5550002,vip|опт,C2\n"
        + "C2,Петров,,,,,,,\n"
        + ",Только имя,,,,,,,\n"
    )
    path = write(tmp_path, "c.csv", text)
    first = await import_clients(database, path)
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    before = {
        k: (c.updated_at, c.referred_by_id)
        for k, c in (await clients_by_external_id(database)).items()
    }
    again = await import_clients(database, path)
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 3, 0)
    assert again.client_ids == set()
    assert await count(database, Client) == 3
    after = {
        k: (c.updated_at, c.referred_by_id)
        for k, c in (await clients_by_external_id(database)).items()
    }
    assert after == before
    async with database.session() as session:
        audits = (await session.exec(select(AuditLog).order_by(AuditLog.id))).all()
    assert [(a.action, a.entity, a.entity_id) for a in audits] == [("import", "client", None)] * 2
    assert audits[1].after == {
        "file": "c.csv",
        "rows": 3,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "skipped": 0,
    }


async def test_upsert_by_phone_in_another_format(database: Database, tmp_path: Path) -> None:
    async with database.session() as session:
        existing = await make_client(session, name="Иван", phone="+79123456789", tags=["manual"])
        existing_id = existing.id
    text = "name;phone;external_id;tags;email\nИван Иванов;8 (912) 345-67-89;1C-7;опт;\n"
    report = await import_clients(database, write(tmp_path, "c.csv", text))
    assert (report.created, report.updated) == (0, 1)
    assert report.client_ids == {existing_id}
    async with database.session() as session:
        client = await session.get(Client, existing_id)
    assert client is not None
    assert (client.name, client.external_id) == ("Иван Иванов", "1C-7")
    # Imports add tags but keep the ones staff set; empty cells never erase data.
    assert client.tags == ["manual", "опт"]
    assert client.phone == "+79123456789"


async def test_same_phone_under_another_external_id_is_another_client(
    database: Database, tmp_path: Path
) -> None:
    async with database.session() as session:
        await make_client(session, name="A", phone="+79123456789", external_id="X1")
    text = "external_id,name,phone\nX2,B,+7 912 345 67 89\n"
    report = await import_clients(database, write(tmp_path, "c.csv", text))
    assert (report.created, report.updated, report.unchanged) == (1, 0, 0)
    assert await count(database, Client) == 2


async def test_referred_by_forward_and_existing(database: Database, tmp_path: Path) -> None:
    async with database.session() as session:
        old = await make_client(session, name="Old", external_id="OLD")
        old_id = old.id
    text = (
        HEADER
        + "A,Alice,,,,,,,B\n"  # B comes later in the file
        + "B,Bob,,,,,,,OLD\n"
        + "C,Carol,,,,,,,NOPE\n"
        + "D,Dave,,,,,,,D\n"
    )
    report = await import_clients(database, write(tmp_path, "c.csv", text))
    stored = await clients_by_external_id(database)
    assert stored["A"].referred_by_id == stored["B"].id
    assert stored["B"].referred_by_id == old_id
    assert stored["C"].referred_by_id is None
    assert stored["D"].referred_by_id is None
    assert [(w.line, w.code) for w in report.warnings] == [
        (4, "referrer_unknown"),
        (5, "referrer_self"),
    ]
    assert report.skipped == 0


async def test_missing_required_column_writes_nothing(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "external_id,phone\nC1,+79120000001\n")
    with pytest.raises(MissingColumnsError) as caught:
        await import_clients(database, path)
    assert "name" in str(caught.value)
    assert await count(database, Client) == 0
    assert await count(database, AuditLog) == 0


async def test_progress_is_reported(database: Database, tmp_path: Path) -> None:
    rows = "".join(f"C{n},Client {n},,,,,,,\n" for n in range(12_000))
    calls: list[tuple[int, int]] = []
    report: ImportReport = await import_clients(
        database,
        write(tmp_path, "c.csv", HEADER + rows),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert report.created == 12_000
    assert calls == [(0, 12_000), (5000, 12_000), (10_000, 12_000), (12_000, 12_000)]


async def test_edited_file_updates_only_changed_clients(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", HEADER + "C1,Anna,,,,,,,\nC2,Boris,Acme,,,,,,\n")
    await import_clients(database, path)
    path = write(tmp_path, "c.csv", HEADER + "C1,Anna,,,,,,,\nC2,Boris B.,,,,,,,\n")
    report = await import_clients(database, path)
    stored = await clients_by_external_id(database)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert report.client_ids == {stored["C2"].id}
    # The emptied company cell does not erase what is stored.
    assert (stored["C2"].name, stored["C2"].company) == ("Boris B.", "Acme")


async def test_imported_clients_are_searchable(database: Database, tmp_path: Path) -> None:
    from bot.search_terms import parse_query
    from db.repositories import search
    from db.repositories.scope import Scope

    path = tmp_path / "c.csv"
    path.write_text("name,phone\nИванов Пётр,8 (912) 345-67-89\n", encoding="utf-8")
    await import_clients(database, path)
    async with database.session() as session:
        admin = await make_staff(session, role="admin")
        search.vocabulary.clear()
        hits = await search.find(session, query=parse_query("Ivanof"), scope=Scope.of(admin))
        by_phone = await search.find(
            session, query=parse_query("+7 912 345 67 89"), scope=Scope.of(admin)
        )
    assert [h.name for h in hits] == ["Иванов Пётр"]
    assert [h.name for h in by_phone] == ["Иванов Пётр"]
