"""User-side driver for the fake Bot API, plus a runner for a PTB Application against it."""

# Typical use:
#
#     async with FakeBotApi() as server:
#         app = build_application(server.application_builder())
#         async with running_application(app, server):
#             ivan = server.user(42, "Ivan", language_code="ru")
#             reply = await ivan.send("/start")
#             assert "Welcome" in reply.text
#             await ivan.click("Clients")
#
# running_application reports when each update has been handled, so a conversation step
# returns as soon as the bot is done instead of after a fixed sleep.

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from .bot_api import (
    BotEvent,
    CallbackAnswer,
    ChatMessage,
    ChatState,
    FakeBotApi,
    StoredFile,
    utf16_len,
)

if TYPE_CHECKING:
    from telegram.ext import Application

__all__ = [
    "ChatClient",
    "Reply",
    "TrackingUpdateProcessor",
    "detect_entities",
    "running_application",
    "wait_until_idle",
]

JSONDict = dict[str, Any]

DEFAULT_TIMEOUT = 5.0
# Without processing reports, a reply counts as complete after this much silence.
DEFAULT_QUIET = 0.08
# With processing reports, only work the bot left running in the background can still arrive.
DEFAULT_SETTLE = 0.01
# How long a handled update may stay unanswered before it counts as "no reply".
_UNANSWERED_GRACE = 0.25

_ENTITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")),
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#\w+")),
)


def detect_entities(text: str) -> list[JSONDict]:
    """Entities Telegram adds to a user's text: commands, URLs, e-mails, mentions, hashtags."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < other_end and other_start < end for other_start, other_end, _ in found):
                continue
            found.append((start, end, kind))
    found.sort()
    return [
        {
            "type": kind,
            "offset": utf16_len(text[:start]),
            "length": utf16_len(text[start:end]),
        }
        for start, end, kind in found
    ]


@dataclass(slots=True)
class Reply:
    """Everything the bot did in a chat in response to one user action."""

    action: str
    update_id: int | None
    events: list[BotEvent]

    @property
    def messages(self) -> list[ChatMessage]:
        """New messages the bot sent, in order."""
        return [e.message for e in self.events if e.kind == "message" and e.message is not None]

    @property
    def edits(self) -> list[ChatMessage]:
        """Messages the bot edited (each once, in their current state)."""
        seen: dict[int, ChatMessage] = {}
        for event in self.events:
            if event.kind == "edit" and event.message is not None:
                seen.setdefault(event.message.message_id, event.message)
        return list(seen.values())

    @property
    def deleted(self) -> list[ChatMessage]:
        """Messages the bot deleted."""
        return [e.message for e in self.events if e.kind == "delete" and e.message is not None]

    @property
    def callback_answer(self) -> CallbackAnswer | None:
        """The answerCallbackQuery call for a click, if the bot made one."""
        answers = [e.answer for e in self.events if e.answer is not None]
        return answers[-1] if answers else None

    @property
    def callback_answered(self) -> bool:
        """Whether the bot answered the callback query of a click."""
        return self.callback_answer is not None

    @property
    def chat_actions(self) -> list[str]:
        """Chat actions ("typing", ...) the bot sent."""
        return [e.action for e in self.events if e.action is not None]

    @property
    def errors(self) -> list[BotEvent]:
        """Bot API calls for this chat that failed."""
        return [e for e in self.events if e.kind == "error"]

    @property
    def last(self) -> ChatMessage:
        """The last message sent, or else the last one edited."""
        touched = [e.message for e in self.events if e.kind in ("message", "edit") and e.message]
        if not touched:
            raise AssertionError(f"the bot neither sent nor edited a message\n{self.describe()}")
        sent = self.messages
        return sent[-1] if sent else touched[-1]

    @property
    def text(self) -> str:
        """Plain text (or caption) of :attr:`last`."""
        return self.last.content

    @property
    def texts(self) -> list[str]:
        """Plain texts (or captions) of all new messages."""
        return [m.content for m in self.messages]

    def describe(self) -> str:
        """Readable summary, used in assertion messages."""
        lines = [f"reply to {self.action}:"]
        lines.extend("  " + e.describe().replace("\n", "\n  ") for e in self.events)
        if not self.events:
            lines.append("  (nothing)")
        return "\n".join(lines)

    def __iter__(self) -> Iterator[ChatMessage]:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    def __bool__(self) -> bool:
        # Truthy when the bot did anything, even if it only edited or answered a callback.
        return bool(self.events)

    def __getitem__(self, index: int) -> ChatMessage:
        return self.messages[index]


class ChatClient:
    """A Telegram user in a private chat with the bot, driven from tests or a terminal."""

    def __init__(
        self,
        server: FakeBotApi,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        quiet: float = DEFAULT_QUIET,
        settle: float = DEFAULT_SETTLE,
    ) -> None:
        self.server = server
        self.timeout = timeout
        self.quiet = quiet
        self.settle = settle
        self._state: ChatState = server.register_user(
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
        )

    def __repr__(self) -> str:
        return f"ChatClient(user_id={self.user_id}, name={self.user['first_name']!r})"

    # ---- identity -------------------------------------------------------------------------

    @property
    def user_id(self) -> int:
        """The user's id."""
        return int(self._state.chat["id"])

    @property
    def chat_id(self) -> int:
        """Id of the private chat (equal to the user id)."""
        return self.user_id

    @property
    def user(self) -> JSONDict:
        """The User JSON object the bot sees."""
        assert self._state.user is not None
        return self._state.user

    # ---- recorder -------------------------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """Bot messages currently visible in the chat (deleted ones excluded)."""
        return [m for m in self._state.messages if m.outgoing and not m.deleted]

    @property
    def transcript(self) -> list[ChatMessage]:
        """Every message of the chat from both sides, deleted ones included."""
        return list(self._state.messages)

    @property
    def last(self) -> ChatMessage:
        """The bot's latest visible message."""
        visible = self.messages
        if not visible:
            raise AssertionError(f"the bot has sent nothing to {self!r}")
        return visible[-1]

    @property
    def events(self) -> list[BotEvent]:
        """Everything the bot did in this chat so far."""
        return [e for e in self.server.events if e.chat_id == self.chat_id]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """answerCallbackQuery calls for this user's clicks."""
        return [a for a in self.server.callback_answers if a.chat_id == self.chat_id]

    @property
    def errors(self) -> list[BotEvent]:
        """Failed bot calls aimed at this chat."""
        return [e for e in self.events if e.kind == "error"]

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Texts of the reply keyboard the user currently sees, if any."""
        markup = self._state.reply_keyboard
        if not markup:
            return None
        return [
            [b["text"] if isinstance(b, dict) else str(b) for b in row]
            for row in markup["keyboard"]
        ]

    def render(self) -> str:
        """The whole conversation as text."""
        return "\n".join(m.render() for m in self._state.messages)

    # ---- actions --------------------------------------------------------------------------

    async def send(
        self,
        text: str,
        *,
        entities: list[JSONDict] | None = None,
        reply_to: ChatMessage | int | None = None,
        wait: bool = True,
        max_wait: float | None = None,
        expect_reply: bool = True,
    ) -> Reply:
        """Send text (commands get a ``bot_command`` entity) and return what the bot did."""
        # expect_reply=False allows silence; wait=False returns an empty Reply at once.
        if not text.strip():
            raise ValueError("Telegram clients can't send an empty message")
        cursor = len(self.server.events)
        _, update_id = self.server.post_user_message(
            self.chat_id,
            text=text,
            entities=detect_entities(text) if entities is None else entities,
            reply_to_message_id=_message_id(reply_to),
        )
        return await self._finish(
            f"message {text!r}", cursor, update_id, wait, max_wait, expect_reply
        )

    async def send_document(
        self,
        filename: str,
        data: bytes,
        caption: str | None = None,
        *,
        mime_type: str | None = None,
        wait: bool = True,
        max_wait: float | None = None,
        expect_reply: bool = True,
    ) -> Reply:
        """Upload a document the bot can fetch with getFile, and await the reply."""
        stored = self.server.store_file(
            data, kind="document", filename=filename, mime_type=mime_type
        )
        return await self._send_file(
            f"document {filename!r}", caption, wait, max_wait, expect_reply, document=stored
        )

    async def send_photo(
        self,
        data: bytes,
        caption: str | None = None,
        *,
        wait: bool = True,
        max_wait: float | None = None,
        expect_reply: bool = True,
    ) -> Reply:
        """Send a photo and await the reply."""
        stored = self.server.store_file(data, kind="photo")
        return await self._send_file("photo", caption, wait, max_wait, expect_reply, photo=stored)

    async def send_contact(
        self,
        phone_number: str,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        own: bool = True,
        wait: bool = True,
        max_wait: float | None = None,
        expect_reply: bool = True,
    ) -> Reply:
        """Share a contact, by default the user's own (as a request_contact button does)."""
        contact: JSONDict = {
            "phone_number": phone_number,
            "first_name": first_name or self.user["first_name"],
        }
        if last_name:
            contact["last_name"] = last_name
        if own:
            contact["user_id"] = self.user_id
        cursor = len(self.server.events)
        _, update_id = self.server.post_user_message(self.chat_id, contact=contact)
        return await self._finish(
            f"contact {phone_number}", cursor, update_id, wait, max_wait, expect_reply
        )

    async def click(
        self,
        button: str | int,
        column: int | None = None,
        *,
        message: ChatMessage | None = None,
        wait: bool = True,
        max_wait: float | None = None,
        expect_reply: bool = True,
    ) -> Reply:
        """Press an inline button by text (exact, else unique substring) or (row, column)."""
        # Like a user, press on the newest keyboard unless an older message is named.
        target = message or self._latest_with_keyboard()
        if isinstance(button, int):
            if column is None:
                raise TypeError("click(row, column) needs both indices")
            keyboard = target.inline_keyboard
            if not (0 <= button < len(keyboard) and 0 <= column < len(keyboard[button])):
                raise AssertionError(f"no button at ({button}, {column}) on {target!r}")
            pressed = keyboard[button][column]
        else:
            row, col = target.find_button(button)
            pressed = target.inline_keyboard[row][col]
        data = pressed.get("callback_data")
        if data is None:
            kinds = [key for key in pressed if key != "text"]
            raise AssertionError(
                f"button {pressed['text']!r} is not a callback button ({', '.join(kinds)})"
            )
        cursor = len(self.server.events)
        _, update_id = self.server.press_button(self.chat_id, target, data)
        return await self._finish(
            f"click {pressed['text']!r} ({data!r})", cursor, update_id, wait, max_wait, expect_reply
        )

    async def block(self, *, wait: bool = True, max_wait: float | None = None) -> Reply:
        """Block the bot: sends start failing with 403 and the bot gets a my_chat_member update."""
        cursor = len(self.server.events)
        update_id = self.server.push_block_status(self.chat_id, blocked=True)
        return await self._finish("block", cursor, update_id, wait, max_wait, expect_reply=False)

    async def unblock(self, *, wait: bool = True, max_wait: float | None = None) -> Reply:
        """Unblock the bot again, announcing it with a my_chat_member update."""
        cursor = len(self.server.events)
        update_id = self.server.push_block_status(self.chat_id, blocked=False)
        return await self._finish("unblock", cursor, update_id, wait, max_wait, expect_reply=False)

    async def wait_for_message(
        self,
        predicate: Callable[[ChatMessage], bool] | None = None,
        *,
        max_wait: float | None = None,
    ) -> ChatMessage:
        """Wait for the next new bot message in this chat (e.g. from a scheduled job)."""
        limit = self.timeout if max_wait is None else max_wait
        deadline = time.monotonic() + limit
        cursor = len(self.server.events)
        while True:
            events = self.server.events
            for event in events[cursor:]:
                if (
                    event.kind == "message"
                    and event.chat_id == self.chat_id
                    and event.message is not None
                    and (predicate is None or predicate(event.message))
                ):
                    return event.message
            cursor = len(events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no new bot message for {self!r} within {limit:.2f}s")
            await self.server.wait_for_activity(remaining, self.chat_id)

    async def listen(self) -> AsyncIterator[BotEvent]:
        """Yield this chat's bot events as they happen (for live transcripts)."""
        cursor = len(self.server.events)
        while True:
            events = self.server.events
            while cursor < len(events):
                event = events[cursor]
                cursor += 1
                if event.chat_id == self.chat_id:
                    yield event
            await self.server.wait_for_activity(None, self.chat_id)

    # ---- internals ------------------------------------------------------------------------

    async def _send_file(
        self,
        label: str,
        caption: str | None,
        wait: bool,
        max_wait: float | None,
        expect_reply: bool,
        *,
        document: StoredFile | None = None,
        photo: StoredFile | None = None,
    ) -> Reply:
        cursor = len(self.server.events)
        _, update_id = self.server.post_user_message(
            self.chat_id,
            text=caption,
            entities=detect_entities(caption) if caption else None,
            document=document,
            photo=photo,
        )
        return await self._finish(label, cursor, update_id, wait, max_wait, expect_reply)

    def _latest_with_keyboard(self) -> ChatMessage:
        for candidate in reversed(self.messages):
            if candidate.inline_keyboard:
                return candidate
        raise AssertionError(f"no bot message with an inline keyboard in chat {self.chat_id}")

    async def _finish(
        self,
        action: str,
        cursor: int,
        update_id: int,
        wait: bool,
        max_wait: float | None,
        expect_reply: bool,
    ) -> Reply:
        if not wait:
            return Reply(action, update_id, [])
        return await self._await_reply(
            action,
            cursor,
            update_id,
            self.timeout if max_wait is None else max_wait,
            expect_reply,
        )

    async def _await_reply(
        self, action: str, cursor: int, update_id: int, limit: float, expect_reply: bool
    ) -> Reply:
        server = self.server
        chat_id = self.chat_id
        start = time.monotonic()
        deadline = start + limit
        collected: list[BotEvent] = []
        last_activity = start
        responded = False
        processed_at: float | None = None
        while True:
            events = server.events
            while cursor < len(events):
                event = events[cursor]
                cursor += 1
                if event.chat_id == chat_id:
                    collected.append(event)
                    last_activity = max(last_activity, event.time)
                    responded = responded or event.kind != "chat_action"
            now = time.monotonic()
            if processed_at is None and server.is_update_processed(update_id):
                processed_at = now
            if server.tracks_processing:
                if processed_at is None:
                    # Silence means nothing while the bot is still handling the update.
                    ready_at = deadline
                elif last_activity > processed_at:
                    # The handler left work running in the background: wait for silence.
                    ready_at = last_activity + self.quiet
                elif responded or not expect_reply:
                    ready_at = processed_at + self.settle
                else:
                    ready_at = processed_at + _UNANSWERED_GRACE
            elif responded or not expect_reply:
                ready_at = last_activity + self.quiet
            else:
                ready_at = deadline
            if now >= ready_at or now >= deadline:
                reply = Reply(action, update_id, collected)
                if expect_reply and not responded:
                    raise AssertionError(self._no_reply_message(reply, limit, processed_at))
                return reply
            await server.wait_for_activity(min(ready_at, deadline) - now, chat_id)

    def _no_reply_message(self, reply: Reply, limit: float, processed_at: float | None) -> str:
        update_id = reply.update_id
        if update_id in self.server.filtered_updates:
            reason = f"update {update_id} was dropped: its type is not in allowed_updates"
        elif processed_at is not None:
            reason = "the bot handled the update but did not answer"
        elif any(u["update_id"] == update_id for u in self.server.pending_updates):
            reason = (
                f"the bot never fetched update {update_id}: is an Application polling this "
                "server (see running_application)?"
            )
        else:
            reason = f"no reply within {limit:.2f}s"
        recent = "\n".join("  " + m.render() for m in self._state.messages[-5:]) or "  (empty)"
        return f"{reason}\n{reply.describe()}\nlast messages in chat {self.chat_id}:\n{recent}"


def _message_id(message: ChatMessage | int | None) -> int | None:
    if message is None or isinstance(message, int):
        return message
    return message.message_id


# --------------------------------------------------------------------------------------------
# Running a PTB Application against the fake server
# --------------------------------------------------------------------------------------------


class TrackingUpdateProcessor(BaseUpdateProcessor):
    """Delegates to an application's update processor and reports each finished update."""

    def __init__(self, inner: BaseUpdateProcessor, server: FakeBotApi) -> None:
        super().__init__(inner.max_concurrent_updates)
        self.inner = inner
        self.server = server

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Process through the wrapped processor, then tell the server."""
        try:
            await self.inner.process_update(update, coroutine)
        finally:
            if isinstance(update, Update):
                self.server.note_update_processed(update.update_id)

    async def initialize(self) -> None:
        """Initialize the wrapped processor."""
        await self.inner.initialize()

    async def shutdown(self) -> None:
        """Shut the wrapped processor down."""
        await self.inner.shutdown()


@contextlib.asynccontextmanager
async def running_application(
    app: Application[Any, Any, Any, Any, Any, Any],
    server: FakeBotApi,
    *,
    poll_timeout: int = 10,
    allowed_updates: Sequence[str] | None = None,
    drop_pending_updates: bool = False,
    run_hooks: bool = True,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run ``app`` in polling mode against ``server`` for the duration of the block."""
    # Mirrors Application.run_polling (initialize, post_init, start polling, start; then stop
    # both, post_stop, shutdown, post_shutdown) without owning the loop or signal handlers.
    if app.updater is None:
        raise ValueError("the application has no Updater; build it without .updater(None)")
    if not app.bot.base_url.startswith(server.base_url):
        raise ValueError(
            f"the application talks to {app.bot.base_url!r}, not to the sandbox at "
            f"{server.base_url!r}; build it with server.application_builder()"
        )
    # PTB offers no public hook around each handled update; the processor is the narrowest one.
    original = app._update_processor
    app._update_processor = TrackingUpdateProcessor(original, server)
    server.attach_processing_tracker()
    try:
        await app.initialize()
        try:
            if run_hooks and app.post_init is not None:
                await app.post_init(app)
            await app.updater.start_polling(
                poll_interval=0.0,
                timeout=poll_timeout,
                allowed_updates=allowed_updates,
                drop_pending_updates=drop_pending_updates,
            )
            await app.start()
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            if run_hooks and app.post_stop is not None:
                await app.post_stop(app)
            await app.shutdown()
            if run_hooks and app.post_shutdown is not None:
                await app.post_shutdown(app)
    finally:
        server.detach_processing_tracker()
        app._update_processor = original


async def wait_until_idle(
    server: FakeBotApi, *, quiet: float = DEFAULT_QUIET, limit: float = DEFAULT_TIMEOUT
) -> None:
    """Wait until every queued update is handled and the bot has been silent for ``quiet``."""
    deadline = time.monotonic() + limit
    while True:
        now = time.monotonic()
        busy = bool(server.pending_updates) or (
            server.tracks_processing and server.unprocessed_update_count > 0
        )
        last = server.events[-1].time if server.events else 0.0
        ready_at = deadline if busy else last + quiet
        if now >= ready_at:
            return
        if now >= deadline:
            raise AssertionError(f"the bot was still busy after {limit:.2f}s")
        await server.wait_for_activity(min(ready_at, deadline) - now)
