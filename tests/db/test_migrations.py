"""The migrations build exactly the schema the models describe, on every engine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import db.models  # noqa: F401
from db.session import Database


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return [d for d in compare_metadata(context, SQLModel.metadata) if not _ignorable(d)]


def _ignorable(diff: object) -> bool:
    # SQLite cannot reflect expression indexes; nothing else is waved through.
    return (
        isinstance(diff, tuple)
        and diff[0] in ("remove_index", "add_index")
        and (getattr(diff[1], "expressions", None) and not diff[1].columns)
    )


async def test_models_and_migrations_agree(database: Database) -> None:
    async with database.engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    assert differences == []


def test_every_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    # Each downgrade must undo its upgrade exactly, or the next upgrade would fail here.
    from alembic import command

    from db.migrate import alembic_config, upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'round-trip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)
    with sqlite3.connect(tmp_path / "round-trip.db") as conn:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "ix_sale_client_date_amounts" in indexes and "ix_sale_client_date" not in indexes
