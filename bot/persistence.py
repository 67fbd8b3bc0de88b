"""PTB persistence in the bot's own database: conversations and user/chat/bot data as JSON rows.

A half-finished flow must survive a restart, so what a flow keeps (its state and the user's
draft in `user_data`) lives in the `bot_state` table of the same database as everything else.

Writing: PTB hands changes over in rounds (`Application.update_persistence`: every
`update_interval` seconds, at shutdown, and - for flows - after every step, see
`bot.flows.PersistentFlow`). A round's changes are written in one transaction; rows whose JSON
did not change are not written at all, so a round with nothing new costs no database work. When
the database cannot be written (down, locked), the changes stay pending and go with the next
round: the user's reply never waits on it and nothing is dropped while the process lives.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from telegram.ext import BasePersistence, PersistenceInput

from db.models.bot_state import BotState
from db.session import Database
from db.types import utcnow

log = logging.getLogger(__name__)

USER_DATA = "user_data"
CHAT_DATA = "chat_data"
BOT_DATA = "bot_data"
CONVERSATION = "conversation:"
WRITE_TIMEOUT = 10.0

Data = dict[Any, Any]
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]
RowKey = tuple[str, str]
_table = BotState.__table__  # type: ignore[attr-defined]


def encode(data: object) -> str | None:
    """Canonical JSON of `data` (equal data, equal text); None when it is not JSON-serialisable."""
    try:
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except TypeError:
        try:  # mixed key types cannot be sorted; still JSON, just not canonical
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return None
    except ValueError:  # circular references
        return None


def _conversation_key(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    """Stores user_data, chat_data, bot_data and conversation states; no callback data."""

    def __init__(
        self, db: Database, *, update_interval: float = 5.0, write_timeout: float = WRITE_TIMEOUT
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(callback_data=False), update_interval=update_interval
        )
        self.db = db
        self.write_timeout = write_timeout
        self.transactions = 0  # committed writes, for tests and measurements
        self._written: dict[RowKey, str] = {}
        self._pending: dict[RowKey, tuple[str, Any] | None] = {}
        self._lock = asyncio.Lock()

    # ---- reading (once, at start-up) -------------------------------------------------------

    async def _load(self, namespace: str) -> list[tuple[str, Any]]:
        stmt = select(_table.c.key, _table.c.data).where(_table.c.namespace == namespace)
        async with self.db.engine.connect() as conn:
            rows = [(key, data) for key, data in await conn.execute(stmt)]
        for key, data in rows:
            text = encode(data)
            if text is not None:
                self._written[(namespace, key)] = text
        return rows

    async def get_user_data(self) -> dict[int, Data]:
        return {int(key): data for key, data in await self._load(USER_DATA)}

    async def get_chat_data(self) -> dict[int, Data]:
        return {int(key): data for key, data in await self._load(CHAT_DATA)}

    async def get_bot_data(self) -> Data:
        rows = await self._load(BOT_DATA)
        return dict(rows[0][1]) if rows else {}

    async def get_callback_data(self) -> CDCData | None:
        return None  # callback data are plain strings (bot.callbacks), nothing to keep

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await self._load(CONVERSATION + name)
        return {tuple(json.loads(key)): data["state"] for key, data in rows}

    # ---- writing ---------------------------------------------------------------------------

    def _stage(self, namespace: str, key: str, data: object | None) -> None:
        row = (namespace, key)
        if data is None:
            if row in self._written or row in self._pending:
                self._pending[row] = None
            return
        text = encode(data)
        if text is None:
            log.error("bot state %s/%s is not JSON-serialisable; not stored", namespace, key)
            return
        if row not in self._pending and self._written.get(row) == text:
            return
        self._pending[row] = (text, json.loads(text))

    async def write_pending(self) -> None:
        """Write everything staged, in one transaction; on failure keep it for the next round."""
        # PTB gathers a round's update_* calls; one pass of the loop lets all of them stage first.
        await asyncio.sleep(0)
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            try:
                async with asyncio.timeout(self.write_timeout):
                    await self._store(batch)
            except Exception:
                log.warning("could not store the bot state; will retry", exc_info=True)
                for row, value in batch.items():
                    self._pending.setdefault(row, value)
                return
            for row, value in batch.items():
                if value is None:
                    self._written.pop(row, None)
                else:
                    self._written[row] = value[0]
            self.transactions += 1

    async def _store(self, batch: dict[RowKey, tuple[str, Any] | None]) -> None:
        gone: dict[str, list[str]] = defaultdict(list)
        rows = []
        now = utcnow()
        for (namespace, key), value in batch.items():
            if value is None:
                gone[namespace].append(key)
            else:
                rows.append(
                    {"namespace": namespace, "key": key, "data": value[1], "updated_at": now}
                )
        async with self.db.engine.begin() as conn:
            for namespace, keys in gone.items():
                await conn.execute(
                    delete(_table).where(_table.c.namespace == namespace, _table.c.key.in_(keys))
                )
            if rows:
                insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
                stmt = insert(_table).values(rows)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["namespace", "key"],
                    set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at},
                )
                await conn.execute(stmt)

    async def update_user_data(self, user_id: int, data: Data) -> None:
        self._stage(USER_DATA, str(user_id), data)
        await self.write_pending()

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        self._stage(CHAT_DATA, str(chat_id), data)
        await self.write_pending()

    async def update_bot_data(self, data: Data) -> None:
        # Called on every round, so it is also what retries a write that failed before.
        self._stage(BOT_DATA, "", data)
        await self.write_pending()

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        state = None if new_state is None else {"state": new_state}
        self._stage(CONVERSATION + name, _conversation_key(key), state)
        await self.write_pending()

    async def drop_user_data(self, user_id: int) -> None:
        self._stage(USER_DATA, str(user_id), None)
        await self.write_pending()

    async def drop_chat_data(self, chat_id: int) -> None:
        self._stage(CHAT_DATA, str(chat_id), None)
        await self.write_pending()

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        return None  # one bot process owns the data; nothing changes it behind our back

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Data) -> None:
        return None

    async def flush(self) -> None:
        """At shutdown: write whatever is still pending."""
        await self.write_pending()
        if self._pending:
            log.error(
                "bot state of %d rows could not be stored before shutdown", len(self._pending)
            )
