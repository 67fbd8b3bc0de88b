"""Nothing typed is lost: flows survive a restart of the bot, a failed save shows the text back."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from bot import flows
from bot.app import build_application
from bot.config import load_settings
from bot.domain import Role, Severity
from bot.persistence import DatabasePersistence
from bot.sandbox import FakeBotApi, running_application, wait_until_idle
from bot.services import interactions as interactions_service
from db.models import AuditLog, Complaint, Interaction
from db.models.bot_state import BotState
from db.session import Database
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_client, make_staff

ANNA = 2


@asynccontextmanager
async def running_bot(
    server: FakeBotApi, url: str, clock: Callable[[], datetime]
) -> AsyncIterator[BotUnderTest]:
    """One life of the bot process: the same pieces as conftest's `bot` fixture."""
    settings = load_settings(
        bot_token=server.token,
        api_base_url=server.base_url,
        database_url=url,
        timezone="Europe/Moscow",
        language="ru",
        _env_file=None,
    )
    database = Database(url)
    app = build_application(settings, database, clock=clock, rate_limit=False)
    async with running_application(app, server):
        yield BotUnderTest(app=app, server=server, db=database)


@pytest.fixture
async def client_id(sqlite_url: str) -> int:
    database = Database(sqlite_url)
    async with database.session() as s:
        anna = await make_staff(s, telegram_id=ANNA, name="Анна Петрова", team="Москва")
        await make_staff(s, telegram_id=4, name="Света", role=Role.SUPERVISOR, team="Москва")
        client = await make_client(s, name="Иванов Пётр", owner_id=anna.id)
        assert client.id is not None
        found = client.id
    await database.dispose()
    return found


async def stored_state(url: str) -> dict[tuple[str, str], dict]:
    database = Database(url)
    async with database.session() as s:
        rows = (await s.exec(select(BotState))).all()
    await database.dispose()
    return {(r.namespace, r.key): r.data for r in rows}


async def test_a_flow_survives_restarts(
    server: FakeBotApi, sqlite_url: str, clock: Callable[[], datetime], client_id: int
) -> None:
    anna = server.user(ANNA, "Анна", language_code="ru")
    async with running_bot(server, sqlite_url, clock) as bot:
        await anna.send(f"/log {client_id}")
        await anna.click("Звонок")
        persistence = bot.app.persistence
        assert isinstance(persistence, DatabasePersistence)
        # Written through at once, before the bot is stopped: a crash now would lose nothing.
        state = await stored_state(sqlite_url)
        assert state[("conversation:crm_flows", f"[{ANNA},{ANNA}]")] == {"state": "log.outcome"}
        draft = state[("user_data", str(ANNA))]["draft"]
        assert draft["kind"] == "call" and draft["client_id"] == client_id
        writes = persistence.transactions
    # Stopping had nothing left to write.
    assert persistence.transactions == writes
    outcome_step = anna.last

    async with running_bot(server, sqlite_url, clock) as bot:
        # A button from before the restart still works.
        await anna.click("позитивно", message=outcome_step)
        assert "О чём говорили?" in anna.last.text
        await anna.send("Обсудили продление <договора> & скидку")

    async with running_bot(server, sqlite_url, clock) as bot:
        reply = await anna.send("отправить КП до пятницы")
        assert reply.text.startswith("✅ Сохранено: звонок, Иванов Пётр")
        async with bot.db.session() as s:
            [row] = (await s.exec(select(Interaction))).all()
        assert row.text == "Обсудили продление <договора> & скидку"
        assert row.next_step == "отправить КП" and row.next_step_due == date(2026, 11, 27)
    state = await stored_state(sqlite_url)
    assert ("conversation:crm_flows", f"[{ANNA},{ANNA}]") not in state  # the flow ended
    assert "draft" not in state.get(("user_data", str(ANNA)), {})


async def test_database_failure_during_save_shows_the_text_back(
    bot: BotUnderTest, client_id: int
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {client_id}")
    await anna.click("Звонок")
    await anna.click("негативно")
    await anna.send("Клиент <недоволен> ценой & сроками")
    # The database goes away under the save (deterministic: the table is renamed).
    async with bot.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE interaction RENAME TO interaction_away"))
    failed = await anna.send("перезвонить завтра")
    assert failed.text.startswith("⚠️ Не сохранено: база данных сейчас недоступна.")
    assert "Клиент <недоволен> ценой & сроками" in failed.text
    assert "перезвонить" in failed.text
    assert "<pre>Клиент &lt;недоволен&gt; ценой &amp; сроками</pre>" in anna.last.html
    assert "Сохранено" not in failed.text
    assert anna.last.button_texts() == ["🔁 Повторить", "✖️ Отмена"]
    # Typing more does not reach the search while the flow waits.
    reminder = await anna.send("Иванов")
    assert "Сейчас идёт: запись контакта" in reminder.text
    async with bot.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE interaction_away RENAME TO interaction"))
    saved = await anna.click("🔁 Повторить")
    assert saved.last.text.startswith("✅ Сохранено: звонок, Иванов Пётр")
    async with bot.db.session() as s:
        [row] = (await s.exec(select(Interaction))).all()
        audit = (await s.exec(select(AuditLog).where(AuditLog.entity == "interaction"))).all()
    assert row.text == "Клиент <недоволен> ценой & сроками" and row.next_step == "перезвонить"
    assert len(audit) == 1


async def test_a_half_written_save_is_rolled_back_whole(bot: BotUnderTest, client_id: int) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/complaint {client_id} Брак в партии")
    await anna.click("Качество")
    # The complaint row can be written, its audit row cannot: neither may stay.
    async with bot.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    failed = await anna.click("🔴 Критичная · 4 ч")
    assert failed.last.text.startswith("⚠️ Не сохранено")
    assert "Брак в партии" in failed.last.text
    async with bot.db.engine.begin() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM complaint"))).scalar() == 0
        await conn.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    sveta = bot.chat(4)
    assert sveta.messages == []  # nothing escalated for a complaint that does not exist
    await anna.click("🔁 Повторить")
    assert "Рекламация №" in anna.last.text
    async with bot.db.session() as s:
        [row] = (await s.exec(select(Complaint))).all()
    assert row.severity == Severity.CRITICAL and row.escalated_at == NOW
    assert sveta.last.text.startswith("🚨")


async def test_a_hanging_database_times_out_into_not_saved(
    bot: BotUnderTest, client_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hang(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(5)

    monkeypatch.setattr(flows, "SAVE_TIMEOUT", 0.2)
    monkeypatch.setattr(interactions_service, "log_interaction", hang)
    anna = bot.chat(ANNA)
    failed = await anna.send(f"/log {client_id} звонок Долгий разговор")
    assert failed.text.startswith("⚠️ Не сохранено: база данных сейчас недоступна.")
    assert "Долгий разговор" in failed.text
    monkeypatch.undo()
    await anna.click("🔁 Повторить")
    assert anna.last.text.startswith("✅ Сохранено")


async def test_cancel_after_a_failed_save_still_shows_the_text(
    bot: BotUnderTest, client_id: int
) -> None:
    anna = bot.chat(ANNA)
    async with bot.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE interaction RENAME TO interaction_away"))
    await anna.send(f"/log {client_id} заметка Важная мысль")
    cancelled = await anna.click("✖️ Отмена")
    assert "Отменено, ничего не сохранено." in cancelled.last.text
    assert "Важная мысль" in cancelled.last.text
    async with bot.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE interaction_away RENAME TO interaction"))
    async with bot.db.session() as s:
        assert (await s.exec(select(col(Interaction.id)))).all() == []


async def test_a_locked_database_is_not_saved_then_retried(
    bot: BotUnderTest, client_id: int, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.session

    # Another process holds the write lock longer than our (shortened) busy timeout.
    monkeypatch.setattr(db.session, "SQLITE_BUSY_TIMEOUT_MS", 200)
    await bot.db.engine.dispose()  # new connections take the short timeout
    anna = bot.chat(ANNA)
    locker = sqlite3.connect(sqlite_url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        failed = await anna.send(f"/log {client_id} звонок Договорились о встрече")
        assert failed.text.startswith("⚠️ Не сохранено: база данных сейчас недоступна.")
        assert "Договорились о встрече" in failed.text
    finally:
        locker.rollback()
        locker.close()
    saved = await anna.click("🔁 Повторить")
    assert saved.last.text.startswith("✅ Сохранено: звонок")
    async with bot.db.session() as s:
        [row] = (await s.exec(select(Interaction))).all()
    assert row.text == "Договорились о встрече"


async def test_database_down_before_the_flow_starts_shows_the_line_back(
    bot: BotUnderTest, client_id: int
) -> None:
    anna = bot.chat(ANNA, lang="en")
    async with bot.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE client RENAME TO client_away"))
    try:
        failed = await anna.send(f"/log {client_id} call Long <important> story & more")
    finally:
        async with bot.db.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE client_away RENAME TO client"))
    assert failed.text.startswith("⚠️ Not saved: the database is unavailable right now.")
    assert "Please send it again in a minute" in failed.text
    assert f"{client_id} call Long <important> story & more" in failed.text
    assert not anna.last.buttons


async def test_a_state_without_its_draft_ends_cleanly(bot: BotUnderTest, client_id: int) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {client_id}")
    await anna.click("Звонок")
    bot.app.user_data[ANNA].clear()  # e.g. user data wiped by an operator
    reply = await anna.send("текст")
    assert reply.text == "Этот шаг уже пройден — начните заново из карточки или командой."
    assert "Ничего не нашлось" in (await anna.send("Иванов")).text  # plain text searches again


async def test_a_double_tap_saves_once(bot: BotUnderTest, client_id: int) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {client_id} звонок Договорились -> счёт")
    due_step = anna.last
    await anna.click("Завтра", message=due_step, wait=False)
    await anna.click("Завтра", message=due_step, expect_reply=False)
    await wait_until_idle(bot.server)
    async with bot.db.session() as s:
        assert len((await s.exec(select(Interaction))).all()) == 1
