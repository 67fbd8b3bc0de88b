"""Set-based database work shared by the importers: lookups in a few queries, bulk writes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.imports.report import ImportReport
from bot.normalize import try_phone
from db.models import Client, Staff
from db.repositories import audit

T = TypeVar("T")

# Keys per IN (...): well under SQLite's 32,766 and PostgreSQL's 32,767 bind parameters.
IN_CHUNK = 5000
# Rows per executemany call; SQLAlchemy splits INSERTs further to respect the same limits.
WRITE_CHUNK = 5000
PROGRESS_EVERY = 5000

Progress = Callable[[int, int], None]

CLIENT = Client.__table__
STAFF = Staff.__table__


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Ticker:
    """Reports (rows normalised, total) every few thousand rows; (total, total) once committed."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total

    def start(self) -> None:
        if self.progress is not None:
            self.progress(0, self.total)

    async def tick(self, done: int) -> None:
        if done % PROGRESS_EVERY == 0 and done:
            if self.progress is not None:
                self.progress(done, self.total)
            # Normalising 100k rows is seconds of CPU; keep a bot's other updates flowing.
            await asyncio.sleep(0)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def row_key(*parts: object) -> str:
    """A stable 64-char key for a source row (sha256 of its normalised values)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


async def staff_ids(conn: AsyncConnection, telegram_ids: Iterable[int]) -> dict[int, int]:
    """Telegram id -> staff id for the given ids, in as few queries as IN-chunks."""
    wanted = sorted(set(telegram_ids))
    found: dict[int, int] = {}
    for part in chunks(wanted, IN_CHUNK):
        rows = await conn.execute(
            select(STAFF.c.telegram_id, STAFF.c.id).where(STAFF.c.telegram_id.in_(part))
        )
        found.update((telegram_id, staff_id) for telegram_id, staff_id in rows)
    return found


async def existing_keys(conn: AsyncConnection, table: Table, keys: Sequence[str]) -> set[str]:
    """The import keys among `keys` already present in `table`."""
    present: set[str] = set()
    column = table.c.import_key
    for part in chunks(keys, IN_CHUNK):
        present.update(await conn.scalars(select(column).where(column.in_(part))))
    return present


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Plain executemany INSERT in chunks (SQLAlchemy batches it into multi-row VALUES)."""
    for part in chunks(rows, WRITE_CHUNK):
        await conn.execute(insert(table), list(part))


async def execute_many(
    conn: AsyncConnection, statement: Any, rows: Sequence[dict[str, Any]]
) -> None:
    for part in chunks(rows, WRITE_CHUNK):
        await conn.execute(statement, list(part))


async def insert_returning_ids(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], check: str
) -> list[int]:
    """INSERT the rows and return their new ids in row order.

    PostgreSQL orders RETURNING by parameter order cheaply. SQLite can only do that one row at a
    time (about 10x slower), so there the ids come back unordered and are sorted: SQLite hands
    out rowids as max+1 in VALUES order, and our open write transaction keeps other writers out.
    The `check` column is compared row by row so a broken assumption fails loudly, not silently.
    """
    id_col, check_col = table.c.id, table.c[check]
    ordered = conn.dialect.name == "postgresql"
    returned: list[tuple[int, Any]] = []
    for part in chunks(rows, WRITE_CHUNK):
        stmt = insert(table).returning(id_col, check_col, sort_by_parameter_order=ordered)
        result = await conn.execute(stmt, list(part))
        returned.extend((new_id, checked) for new_id, checked in result)
    if not ordered:
        returned.sort()
    if len(returned) != len(rows) or any(
        got != row[check] for (_, got), row in zip(returned, rows, strict=True)
    ):
        raise RuntimeError(f"could not match inserted {table.name} rows to their new ids")
    return [new_id for new_id, _ in returned]


class ClientLookup:
    """Finds a client for a sale or interaction: external id, then phone, then e-mail."""

    def __init__(
        self, by_external: dict[str, int], by_phone: dict[str, int], by_email: dict[str, int]
    ) -> None:
        self.by_external = by_external
        self.by_phone = by_phone
        self.by_email = by_email
        self._memo: dict[str, int | None] = {}

    @classmethod
    async def load(cls, conn: AsyncConnection) -> ClientLookup:
        """All client keys in one query; the lowest id wins where phones or e-mails repeat."""
        result = await conn.execute(
            select(CLIENT.c.id, CLIENT.c.external_id, CLIENT.c.phone, CLIENT.c.email).order_by(
                CLIENT.c.id
            )
        )
        by_external: dict[str, int] = {}
        by_phone: dict[str, int] = {}
        by_email: dict[str, int] = {}
        for client_id, external_id, phone, email in result:
            if external_id is not None:
                by_external[external_id] = client_id
            if phone is not None:
                by_phone.setdefault(phone, client_id)
            if email is not None:
                by_email.setdefault(email.lower(), client_id)
        return cls(by_external, by_phone, by_email)

    def find(self, ref: str) -> int | None:
        """The client id a reference cell means, or None."""
        try:
            return self._memo[ref]
        except KeyError:
            pass
        found = self.by_external.get(ref)
        if found is None:
            if "@" in ref:
                found = self.by_email.get(ref.lower())
            else:
                phone = try_phone(ref)
                found = self.by_phone.get(phone) if phone else None
        self._memo[ref] = found
        return found


def write_audit(
    session: AsyncSession, report: ImportReport, *, actor: str, actor_staff_id: int | None
) -> None:
    """One summarising audit row per import; per-row audit is not written for imports."""
    audit.record(
        session,
        actor=actor,
        action="import",
        entity=report.entity,
        entity_id=None,
        staff_id=actor_staff_id,
        after=report.as_audit(),
    )
