"""Importing sales: client matching, Russian amounts and dates, idempotent re-imports."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select

from bot.imports import import_sales, import_sales_data
from db.models import AuditLog, Sale
from db.session import Database
from tests.factories import make_client


async def sales(database: Database) -> list[Sale]:
    async with database.session() as session:
        return list((await session.exec(select(Sale).order_by(Sale.id))).all())


async def three_clients(database: Database) -> tuple[int, int, int]:
    async with database.session() as session:
        by_code = await make_client(session, name="A", external_id="1C-001")
        by_phone = await make_client(session, name="B", phone="+79123456789")
        by_mail = await make_client(session, name="C", email="c@example.ru")
        return by_code.id, by_phone.id, by_mail.id  # type: ignore[return-value]


async def test_matching_russian_amounts_and_dates(database: Database, tmp_path: Path) -> None:
    code_id, phone_id, mail_id = await three_clients(database)
    text = (
        "Клиент;Дата;Сумма;Маржа;Скидка;Срок оплаты;Дата оплаты\n"
        "1C-001;15.01.2026;1 234,56;234,5;да;25.01.2026;\n"
        "8 (912) 345-67-89;2026-01-16;1\u00a0000 руб.;;нет;;2026-01-20\n"
        "C@Example.ru;17/01/2026;-8400;-100;;;\n"
    )
    path = tmp_path / "sales.csv"
    path.write_bytes(text.encode("cp1251"))  # as 1C saves it, no-break space included
    report = await import_sales(database, path)
    assert (report.created, report.updated, report.unchanged, report.skipped) == (3, 0, 0, 0)
    assert report.client_ids == {code_id, phone_id, mail_id}
    first, second, third = await sales(database)
    assert (first.client_id, first.date, first.amount, first.margin) == (
        code_id,
        date(2026, 1, 15),
        Decimal("1234.56"),
        Decimal("234.50"),
    )
    assert first.discount is True and first.invoice_due == date(2026, 1, 25)
    assert (second.client_id, second.amount, second.discount) == (
        phone_id,
        Decimal("1000.00"),
        False,
    )
    assert second.paid_date == date(2026, 1, 20)
    assert (third.client_id, third.amount, third.margin) == (
        mail_id,
        Decimal("-8400.00"),
        Decimal("-100.00"),
    )
    assert all(s.import_key and len(s.import_key) <= 64 for s in (first, second, third))


async def test_identical_sales_are_kept_and_reimport_adds_nothing(
    database: Database, tmp_path: Path
) -> None:
    await three_clients(database)
    text = (
        "client,date,amount\n"
        "1C-001,15.01.2026,100\n"
        "1C-001,15.01.2026,100\n"  # a genuine second identical sale
        "1C-001,15.01.2026,100.00\n"
    )
    path = tmp_path / "sales.csv"
    path.write_text(text, encoding="utf-8")
    first = await import_sales(database, path)
    assert first.created == 3
    again = await import_sales(database, path)
    assert (again.created, again.unchanged, again.client_ids) == (0, 3, set())
    assert len(await sales(database)) == 3
    # The file grew by one identical row: only that one is new.
    path.write_text(text + "1C-001,15.01.2026,100\n", encoding="utf-8")
    grown = await import_sales(database, path)
    assert (grown.created, grown.unchanged) == (1, 3)
    async with database.session() as session:
        audits = (await session.exec(select(func.count()).select_from(AuditLog))).one()
    assert audits == 3


async def test_bad_rows_are_reported_and_good_ones_kept(database: Database, tmp_path: Path) -> None:
    await three_clients(database)
    text = (
        "client,date,amount,discount\n"
        "1C-001,31.02.2026,100,\n"  # line 2
        "NOBODY,15.01.2026,100,\n"  # line 3
        "1C-001,15.01.2026,сто,\n"  # line 4
        "1C-001,15.01.2026,100,может быть\n"  # line 5
        ",15.01.2026,100,\n"  # line 6
        "1C-001,15.01.2026,100,1\n"
    )
    path = tmp_path / "sales.csv"
    path.write_text(text, encoding="utf-8")
    report = await import_sales(database, path)
    assert report.created == 1
    assert [(e.line, e.code) for e in report.errors] == [
        (2, "date"),
        (3, "client"),
        (4, "amount"),
        (5, "discount"),
        (6, "missing_client"),
    ]
    assert report.summary_lines("en")[1] == "line 2: unparseable date '31.02.2026'"
    assert report.summary_lines("ru")[2] == "строка 3: клиент 'NOBODY' не найден"


async def test_xlsx_date_cells_and_float_amounts(database: Database) -> None:
    code_id, _, _ = await three_clients(database)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["CLIENT", "Date", "Amount", "Margin", "Discount"])
    sheet.append(["1C-001", datetime(2026, 2, 1), 1234.56, 0.1, True])
    sheet.append(["1C-001", date(2026, 2, 2), 99, None, 0])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = await import_sales_data(database, buffer.getvalue(), "sales.xlsx")
    assert report.created == 2
    first, second = await sales(database)
    assert (first.client_id, first.date, first.amount, first.margin, first.discount) == (
        code_id,
        date(2026, 2, 1),
        Decimal("1234.56"),
        Decimal("0.10"),
        True,
    )
    assert (second.date, second.amount, second.discount) == (
        date(2026, 2, 2),
        Decimal("99.00"),
        False,
    )
