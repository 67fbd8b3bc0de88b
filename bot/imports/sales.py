"""Importing sales; re-imports add nothing thanks to a per-row `import_key`.

Every import writes one summarising audit row; per-row audit is deliberately not written (at
100k rows it would double the work and flood the log).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.imports.columns import SALES
from bot.imports.pipeline import Source, from_path, run_import
from bot.imports.report import ImportReport
from bot.imports.store import ClientLookup, Progress, existing_keys, insert_rows, row_key
from bot.imports.values import (
    Memo,
    checked,
    parse_date,
    parse_flag,
    parse_money,
    required,
)
from bot.imports.values import text as cell_text
from db.models import Sale
from db.session import Database
from db.types import utcnow

SALE = Sale.__table__
KEY_VERSION = "sale1"


@dataclass(slots=True)
class SaleRow:
    line: int
    client: str
    date: date
    amount: Decimal
    margin: Decimal | None
    discount: bool
    invoice_due: date | None
    paid_date: date | None


class _Parser:
    """Cells to a SaleRow; dates and amounts repeat, so each parser is memoised per import."""

    def __init__(self) -> None:
        self.date = Memo(parse_date)
        self.money = Memo(parse_money)
        self.flag = Memo(parse_flag)

    def row(self, line: int, cells: tuple[Any, ...]) -> SaleRow:
        client_raw, date_raw, amount_raw, margin_raw, discount_raw, due_raw, paid_raw = cells
        client = required(cell_text, client_raw, "client")
        sale_date = required(self.date, date_raw, "date")
        amount = required(self.money, amount_raw, "amount")
        return SaleRow(
            line=line,
            client=client,
            date=sale_date,
            amount=amount,
            margin=checked(self.money, margin_raw, "margin"),
            discount=bool(checked(self.flag, discount_raw, "discount")),
            invoice_due=checked(self.date, due_raw, "due_date"),
            paid_date=checked(self.date, paid_raw, "paid_date"),
        )


async def _write(conn: AsyncConnection, rows: list[SaleRow], report: ImportReport) -> None:
    lookup = await ClientLookup.load(conn)
    seen: Counter[tuple[Any, ...]] = Counter()
    keyed: list[tuple[str, int, SaleRow]] = []
    for row in rows:
        client_id = lookup.find(row.client)
        if client_id is None:
            report.skip(row.line, "client", row.client)
            continue
        values = (
            client_id,
            row.date,
            row.amount,
            row.margin,
            int(row.discount),
            row.invoice_due,
            row.paid_date,
        )
        # Counting repeats keeps two identical sales in one file apart, and stable on re-import.
        seen[values] += 1
        keyed.append((row_key(KEY_VERSION, *values, seen[values]), client_id, row))

    present = await existing_keys(conn, SALE, [key for key, _, _ in keyed])
    now = utcnow()
    new = [
        {
            "client_id": client_id,
            "date": row.date,
            "amount": row.amount,
            "margin": row.margin,
            "discount": row.discount,
            "invoice_due": row.invoice_due,
            "paid_date": row.paid_date,
            "import_key": key,
            "created_at": now,
        }
        for key, client_id, row in keyed
        if key not in present
    ]
    await insert_rows(conn, SALE, new)
    report.created = len(new)
    report.unchanged = len(keyed) - len(new)
    report.client_ids = {row["client_id"] for row in new}


async def import_sales_data(
    database: Database,
    data: Source,
    filename: str,
    *,
    actor: str = "cli",
    actor_staff_id: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import sales from an uploaded file: bytes or a binary stream, plus its name."""
    return await run_import(
        database,
        data,
        filename,
        spec=SALES,
        entity="sale",
        parse_row=_Parser().row,
        write=_write,
        actor=actor,
        actor_staff_id=actor_staff_id,
        progress=progress,
    )


import_sales = from_path(import_sales_data)
