"""End-to-end harness: the real Application, a migrated SQLite file, the loopback Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.app import build_application
from bot.config import load_settings
from bot.runtime import CRMApplication
from bot.sandbox import ChatClient, FakeBotApi, running_application
from db.repositories import search
from db.session import Database

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # a Friday, 12:30 in Moscow


@dataclass
class BotUnderTest:
    """The running bot, its database and a way to open chats as staff or strangers."""

    app: CRMApplication
    server: FakeBotApi
    db: Database

    def chat(self, telegram_id: int, name: str = "User", lang: str | None = "ru") -> ChatClient:
        return self.server.user(telegram_id, name, language_code=lang)

    async def reindex(self) -> None:
        async with self.db.session() as session:
            await search.reindex(session)
        search.vocabulary.clear()


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


@pytest.fixture
def clock() -> Callable[[], datetime]:
    return lambda: NOW


@pytest.fixture
async def bot(
    server: FakeBotApi, sqlite_url: str, clock: Callable[[], datetime]
) -> AsyncIterator[BotUnderTest]:
    settings = load_settings(
        bot_token=server.token,
        api_base_url=server.base_url,
        database_url=sqlite_url,
        timezone="Europe/Moscow",
        language="ru",
        _env_file=None,
    )
    database = Database(sqlite_url)
    app = build_application(settings, database, clock=clock, rate_limit=False)
    async with running_application(app, server):
        yield BotUnderTest(app=app, server=server, db=database)
