"""The steps every import shares: read, normalise row by row, write in one transaction, audit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.imports.columns import ColumnSpec
from bot.imports.readers import Table, read_table
from bot.imports.report import ImportReport
from bot.imports.store import Progress, Ticker, write_audit
from bot.imports.values import RowProblem
from bot.services import events
from db.session import Database

R = TypeVar("R")

RowParser = Callable[[int, tuple[Any, ...]], R]
Writer = Callable[[AsyncConnection, list[R], ImportReport], Awaitable[None]]
Source = bytes | BinaryIO


def _read(data: Source, filename: str, spec: ColumnSpec) -> Table:
    raw = data if isinstance(data, bytes) else data.read()
    return read_table(raw, filename, spec)


# Work that must commit with the imported rows (the search index, derived figures).
AfterWrite = Callable[[AsyncSession, ImportReport], Awaitable[None]]


async def read_file(path: Path) -> tuple[bytes, str]:
    """The file's bytes (read off the event loop) and its name for the report."""
    path = Path(path)
    return await asyncio.to_thread(path.read_bytes), path.name


P = ParamSpec("P")


def from_path(
    import_data: Callable[Concatenate[Database, Source, str, P], Awaitable[ImportReport]],
) -> Callable[Concatenate[Database, Path, P], Awaitable[ImportReport]]:
    """The on-disk variant of an import: read the file, then import its bytes under its name."""

    async def import_file(
        database: Database, path: Path, *args: P.args, **kwargs: P.kwargs
    ) -> ImportReport:
        data, name = await read_file(path)
        return await import_data(database, data, name, *args, **kwargs)

    import_file.__name__ = import_file.__qualname__ = import_data.__name__.removesuffix("_data")
    import_file.__doc__ = f"Import from a CSV or XLSX file on disk (see {import_data.__name__})."
    return import_file


async def run_import(
    database: Database,
    data: Source,
    filename: str,
    *,
    spec: ColumnSpec,
    entity: str,
    parse_row: RowParser[R],
    write: Writer[R],
    actor: str,
    actor_staff_id: int | None,
    progress: Progress | None,
    after_write: AfterWrite | None = None,
) -> ImportReport:
    """Read the file (a bad header raises before anything is written), then import its rows."""
    # openpyxl can take seconds on a big sheet: keep the bot's event loop free meanwhile.
    table = await asyncio.to_thread(_read, data, filename, spec)
    report = ImportReport(
        entity=entity, file=filename, rows=len(table.rows), ignored_columns=table.ignored
    )
    ticker = Ticker(progress, len(table.rows))
    ticker.start()
    rows: list[R] = []
    for done, (line, cells) in enumerate(table.rows, start=1):
        try:
            rows.append(parse_row(line, cells))
        except RowProblem as problem:
            report.skip(line, problem.code, problem.value)
        await ticker.tick(done)
    # Normalising happens before the transaction opens, so write locks are held briefly.
    async with database.session() as session:
        await write(await session.connection(), rows, report)
        if after_write is not None:
            await after_write(session, report)
        # Whatever derives from the clients' data (types, strategies, risk) is recomputed for
        # the clients this import touched, in the same transaction.
        await events.client_inputs_changed(session, report.client_ids)
        write_audit(session, report, actor=actor, actor_staff_id=actor_staff_id)
    report.errors.sort(key=lambda error: error.line)
    report.warnings.sort(key=lambda warning: warning.line)
    ticker.finish()
    return report
