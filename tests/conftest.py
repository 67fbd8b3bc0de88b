"""Shared fixtures: a migrated database per test, on SQLite and (when available) PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from db.migrate import upgrade
from db.session import Database

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
NO_POSTGRES = (
    "TEST_POSTGRES_URL is not set: PostgreSQL variant skipped "
    "(.ci/run sets it when a server answers on 127.0.0.1:5432)"
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test run; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL database with a freshly migrated schema, once per test run."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    url = POSTGRES_URL

    async def _reset() -> None:
        database = Database(url)
        async with database.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await database.dispose()

    def _prepare() -> None:
        asyncio.run(_reset())
        upgrade(url)

    # Requested from inside a running test loop: do the synchronous Alembic work on a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_prepare).result()
    return url


async def _truncate_postgres(database: Database) -> None:
    async with database.engine.begin() as conn:
        rows = await conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        )
        tables = ", ".join(f'"{name}"' for (name,) in rows)
        if tables:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A URL of a fresh, migrated SQLite file for this test."""
    path = tmp_path / "crm.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    """A migrated SQLite database (for tests that are not about the engine)."""
    database = Database(sqlite_url)
    yield database
    await database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[Database]:
    """A migrated database, once on SQLite and once on PostgreSQL when a server is configured."""
    if request.param == "sqlite":
        database = Database(sqlite_url)
    else:
        url = request.getfixturevalue("postgres_url")
        database = Database(url)
        await _truncate_postgres(database)
    yield database
    await database.dispose()
