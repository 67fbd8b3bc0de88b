"""The bot's persistence in its own database: round trips, skipped no-op writes, retries."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.persistence import DatabasePersistence
from db.models.bot_state import BotState
from db.session import Database


async def rows(database: Database) -> dict[tuple[str, str], dict]:
    async with database.session() as s:
        return {(r.namespace, r.key): r.data for r in (await s.exec(select(BotState))).all()}


async def test_everything_round_trips(database: Database) -> None:
    first = DatabasePersistence(database)
    await first.update_user_data(42, {"draft": {"text": "Привет <b>", "due": "2026-11-27"}})
    await first.update_chat_data(42, {"seen": [1, 2]})
    await first.update_bot_data({"version": 3})
    await first.update_conversation("crm_flows", (42, 42), "log.text")
    await first.update_conversation("crm_flows", (7, 7), "cp.text")
    # A new process reads back exactly what the old one wrote.
    second = DatabasePersistence(database)
    assert await second.get_user_data() == {
        42: {"draft": {"text": "Привет <b>", "due": "2026-11-27"}}
    }
    assert await second.get_chat_data() == {42: {"seen": [1, 2]}}
    assert await second.get_bot_data() == {"version": 3}
    assert await second.get_conversations("crm_flows") == {(42, 42): "log.text", (7, 7): "cp.text"}
    assert await second.get_conversations("other") == {}
    assert await second.get_callback_data() is None


async def test_unchanged_data_is_not_written_again(database: Database) -> None:
    persistence = DatabasePersistence(database)
    await persistence.update_user_data(1, {"a": 1, "b": 2})
    assert persistence.transactions == 1
    await persistence.update_user_data(1, {"b": 2, "a": 1})  # same data, other key order
    await persistence.update_bot_data({})
    assert persistence.transactions == 2  # bot_data was new; user_data was not
    await persistence.update_bot_data({})
    assert persistence.transactions == 2
    # After a restart the loaded rows count as written.
    again = DatabasePersistence(database)
    await again.get_user_data()
    await again.update_user_data(1, {"a": 1, "b": 2})
    assert again.transactions == 0


async def test_an_ended_conversation_and_dropped_data_are_deleted(database: Database) -> None:
    persistence = DatabasePersistence(database)
    await persistence.update_conversation("crm_flows", (1, 1), "log.kind")
    await persistence.update_user_data(1, {"x": 1})
    await persistence.update_conversation("crm_flows", (1, 1), None)
    await persistence.drop_user_data(1)
    assert await rows(database) == {}
    await persistence.drop_chat_data(99)  # never stored: nothing to do
    assert persistence.transactions == 4


async def test_a_failed_write_is_kept_and_retried(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    persistence = DatabasePersistence(database)
    async with database.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE bot_state RENAME TO bot_state_away"))
    with caplog.at_level(logging.WARNING, logger="bot.persistence"):
        await persistence.update_conversation("crm_flows", (5, 5), "log.text")
        await persistence.update_user_data(5, {"draft": {"text": "не потерять"}})
    assert "will retry" in caplog.text
    async with database.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE bot_state_away RENAME TO bot_state"))
    await persistence.update_bot_data({})  # any later round takes the pending rows along
    stored = await rows(database)
    assert stored[("conversation:crm_flows", "[5,5]")] == {"state": "log.text"}
    assert stored[("user_data", "5")] == {"draft": {"text": "не потерять"}}


async def test_what_json_cannot_hold_is_refused_loudly(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    persistence = DatabasePersistence(database)
    with caplog.at_level(logging.ERROR, logger="bot.persistence"):
        await persistence.update_user_data(3, {"row": object()})
    assert "not JSON-serialisable" in caplog.text
    assert await rows(database) == {}


async def test_flush_writes_what_is_pending(database: Database) -> None:
    persistence = DatabasePersistence(database)
    persistence._stage("user_data", "8", {"k": "v"})
    await persistence.flush()
    assert (await rows(database))[("user_data", "8")] == {"k": "v"}
