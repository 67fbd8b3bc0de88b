"""Importing interactions (calls, meetings, …); idempotent through a per-row `import_key`.

Naive times are read in the company's time zone and stored as aware UTC. Every import writes
one summarising audit row; per-row audit is deliberately not written (too costly at 100k rows).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import InteractionKind
from bot.imports.columns import INTERACTIONS
from bot.imports.pipeline import Source, from_path, run_import
from bot.imports.report import ImportReport
from bot.imports.store import (
    ClientLookup,
    Progress,
    existing_keys,
    insert_rows,
    row_key,
    staff_ids,
)
from bot.imports.values import (
    Memo,
    aware_utc,
    checked,
    parse_datetime,
    parse_kind,
    parse_telegram_id,
    required,
)
from bot.imports.values import text as cell_text
from bot.normalize import clean_text
from db.models import Interaction
from db.models.activity import TEXT_MAX
from db.session import Database
from db.types import utcnow

INTERACTION = Interaction.__table__
KEY_VERSION = "interaction1"
DEFAULT_TZ = "Europe/Moscow"


@dataclass(slots=True)
class InteractionRow:
    line: int
    client: str
    occurred_at: datetime
    kind: InteractionKind
    text: str
    staff_telegram_id: int | None


class _Parser:
    """Cells to an InteractionRow, with times converted from `zone` to UTC."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.moment = Memo(self._moment)
        self.kind = Memo(parse_kind)
        self.telegram_id = Memo(parse_telegram_id)

    def _moment(self, raw: Any) -> datetime:
        return aware_utc(parse_datetime(raw), self.zone)

    def row(self, line: int, cells: tuple[Any, ...]) -> InteractionRow:
        client_raw, date_raw, kind_raw, text_raw, staff_raw = cells
        client = required(cell_text, client_raw, "client")
        occurred_at = required(self.moment, date_raw, "date")
        kind = required(self.kind, kind_raw, "kind")
        return InteractionRow(
            line=line,
            client=client,
            occurred_at=occurred_at,
            kind=kind,
            text=clean_text(cell_text(text_raw), TEXT_MAX),
            staff_telegram_id=checked(self.telegram_id, staff_raw, "staff"),
        )


async def _write(conn: AsyncConnection, rows: list[InteractionRow], report: ImportReport) -> None:
    lookup = await ClientLookup.load(conn)
    staff = await staff_ids(conn, {r.staff_telegram_id for r in rows if r.staff_telegram_id})
    seen: Counter[tuple[Any, ...]] = Counter()
    keyed: list[tuple[str, int, int | None, InteractionRow]] = []
    for row in rows:
        staff_id = None
        if row.staff_telegram_id is not None:
            staff_id = staff.get(row.staff_telegram_id)
            if staff_id is None:
                report.skip(row.line, "staff", row.staff_telegram_id)
                continue
        client_id = lookup.find(row.client)
        if client_id is None:
            report.skip(row.line, "client", row.client)
            continue
        values = (client_id, row.occurred_at.isoformat(), row.kind.value, row.text, staff_id)
        # Counting repeats keeps identical rows in one file apart, and stable on re-import.
        seen[values] += 1
        keyed.append((row_key(KEY_VERSION, *values, seen[values]), client_id, staff_id, row))

    present = await existing_keys(conn, INTERACTION, [key for key, *_ in keyed])
    now = utcnow()
    new = [
        {
            "client_id": client_id,
            "staff_id": staff_id,
            "kind": row.kind,
            "text": row.text,
            "occurred_at": row.occurred_at,
            "import_key": key,
            "created_at": now,
            "updated_at": now,
        }
        for key, client_id, staff_id, row in keyed
        if key not in present
    ]
    await insert_rows(conn, INTERACTION, new)
    report.created = len(new)
    report.unchanged = len(keyed) - len(new)
    report.client_ids = {row["client_id"] for row in new}


async def import_interactions_data(
    database: Database,
    data: Source,
    filename: str,
    *,
    tz: str = DEFAULT_TZ,
    actor: str = "cli",
    actor_staff_id: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import interactions from an uploaded file: bytes or a binary stream, plus its name."""
    return await run_import(
        database,
        data,
        filename,
        spec=INTERACTIONS,
        entity="interaction",
        parse_row=_Parser(ZoneInfo(tz)).row,
        write=_write,
        actor=actor,
        actor_staff_id=actor_staff_id,
        progress=progress,
    )


import_interactions = from_path(import_interactions_data)
