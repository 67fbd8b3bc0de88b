"""Loopback stand-in for the Telegram Bot API that enforces Telegram's validation rules."""

# The server speaks the HTTP protocol of https://core.telegram.org/bots/api closely enough for
# python-telegram-bot to run unmodified against it. It is strict where Telegram is strict
# (markup parsing, length limits, keyboard shape, "message is not modified") so that a bot's
# mistakes fail in tests instead of in production.

# FakeBotApi below holds the chats, updates, files and the test-facing API. It mixes in the
# HTTP plumbing (server.py) and the Bot API method implementations (methods.py); markup
# parsing, limits, the data model and fault injection live in their own modules.

from __future__ import annotations

import asyncio
import hashlib
import itertools
import mimetypes
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import BotApiError, bad_request
from .faults import Fault, FloodControl
from .formatting import (
    EntityParseError,
    entities_to_html,
    parse_formatted_text,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    utf16_len,
)
from .images import image_size
from .methods import BotApiMethods, MethodHandler, RegisteredMethod
from .params import INT_RE, ApiParams, UploadedFile
from .server import BotApiServer
from .state import (
    BotEvent,
    Button,
    CallbackAnswer,
    CallbackQuery,
    ChatMessage,
    ChatState,
    FileKind,
    MessageKind,
    RecordedRequest,
    Revision,
    StoredFile,
    update_chat_id,
)

if TYPE_CHECKING:
    from .client import ChatClient

__all__ = [
    "ApiParams",
    "BotApiError",
    "BotEvent",
    "Button",
    "CallbackAnswer",
    "ChatMessage",
    "ChatState",
    "EntityParseError",
    "FakeBotApi",
    "Fault",
    "RecordedRequest",
    "Revision",
    "StoredFile",
    "UploadedFile",
    "entities_to_html",
    "parse_formatted_text",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

JSONDict = dict[str, Any]


class FakeBotApi(BotApiServer, BotApiMethods):
    """A loopback Telegram Bot API server holding chats, updates, files and a request log."""

    def __init__(
        self,
        token: str = "123456789:SANDBOX-TOKEN",
        *,
        bot_username: str = "sandbox_bot",
        bot_name: str = "Sandbox Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        accept_unknown_chats: bool = False,
        record_requests: bool = True,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("token must look like '<bot id>:<secret>'")
        self.token = token
        self.host = host
        self.port = port
        self.accept_unknown_chats = accept_unknown_chats
        self.record_requests = record_requests
        self.bot_user: JSONDict = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._sender: JSONDict = {
            key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")
        }
        self.latency = 0.0
        self.requests: list[RecordedRequest] = []
        self.events: list[BotEvent] = []
        self.faults: list[Fault] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.webhook: JSONDict | None = None
        self.bot_settings: JSONDict = {}
        self.closed = False
        self._chats: dict[int, ChatState] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._callback_queries: dict[str, CallbackQuery] = {}
        self._updates: deque[tuple[int, JSONDict]] = deque()
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._processed_updates: set[int] = set()
        self.filtered_updates: set[int] = set()
        self._tracking_processing = 0
        self._flood: FloodControl | None = None
        self._ids = itertools.count(1)
        self._poll_generation = 0
        self._poll_wakeup = asyncio.Event()
        self._activity = asyncio.Event()
        self._chat_activity: dict[int, asyncio.Event] = {}
        self._update_chats: dict[int, int] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._methods: dict[str, RegisteredMethod] = {}
        for name, handler in self._builtin_methods():
            self.register_method(name, handler)

    # ---- chats and users ------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = True,
        **client_options: float,
    ) -> ChatClient:
        """Register a user with a private chat and return a client acting as them."""
        from .client import ChatClient

        return ChatClient(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
            **client_options,
        )

    def register_user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = True,
    ) -> ChatState:
        """Create (or update) a user and their private chat with the bot."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            user["last_name"] = chat["last_name"] = last_name
        if username:
            user["username"] = chat["username"] = username
        if language_code:
            user["language_code"] = language_code
        state = self._chats.get(user_id)
        if state is None:
            state = ChatState(chat=chat, user=user, started=started)
            self._chats[user_id] = state
        else:
            state.chat.clear()
            state.chat.update(chat)
            state.user = user
            state.started = state.started or started
        return state

    def add_group(self, chat_id: int, title: str = "Group") -> ChatState:
        """Register a group the bot is a member of, so it can post there."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        state = ChatState(chat={"id": chat_id, "type": kind, "title": title})
        self._chats[chat_id] = state
        return state

    def chat(self, chat_id: int) -> ChatState:
        """State of a known chat (KeyError if unknown)."""
        return self._chats[chat_id]

    def messages(self, chat_id: int, *, outgoing: bool | None = True) -> list[ChatMessage]:
        """Visible messages of a chat; ``outgoing=None`` includes the user's messages."""
        state = self._chats.get(chat_id)
        if state is None:
            return []
        return [
            m
            for m in state.messages
            if not m.deleted and (outgoing is None or m.outgoing == outgoing)
        ]

    def block_chat(self, chat_id: int) -> None:
        """Make sends to this chat fail with 403 "bot was blocked by the user"."""
        self._require_chat(chat_id).blocked = True

    def unblock_chat(self, chat_id: int) -> None:
        """Undo :meth:`block_chat`."""
        self._require_chat(chat_id).blocked = False

    def _require_chat(self, chat_id: int) -> ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            if not self.accept_unknown_chats:
                raise KeyError(f"unknown chat {chat_id}; register the user or group first")
            state = self._auto_chat(chat_id)
        return state

    def _auto_chat(self, chat_id: int) -> ChatState:
        if chat_id > 0:
            return self.register_user(chat_id, f"User {chat_id}")
        return self.add_group(chat_id, f"Group {chat_id}")

    def _chat_by_username(self, username: str) -> ChatState | None:
        name = username.removeprefix("@").lower()
        for state in self._chats.values():
            if str(state.chat.get("username", "")).lower() == name:
                return state
        return None

    # ---- updates --------------------------------------------------------------------------

    def push_update(self, update: JSONDict) -> int:
        """Queue an update for getUpdates; returns the assigned update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        payload = {"update_id": update_id, **{k: v for k, v in update.items() if k != "update_id"}}
        chat_id = update_chat_id(payload)
        if chat_id is not None:
            self._update_chats[update_id] = chat_id
        self._updates.append((update_id, payload))
        self._wake_pollers()
        return update_id

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot."""
        return [update for _, update in self._updates]

    def post_user_message(
        self,
        chat_id: int,
        *,
        text: str | None = None,
        entities: list[JSONDict] | None = None,
        document: StoredFile | None = None,
        photo: StoredFile | None = None,
        contact: JSONDict | None = None,
        reply_to_message_id: int | None = None,
    ) -> tuple[ChatMessage, int]:
        """Record a message from the chat's user and queue it as an update."""
        state = self._require_chat(chat_id)
        if state.user is None:
            raise ValueError("only private chats have a user to write from")
        kind: MessageKind = "text"
        if document is not None:
            kind = "document"
        elif photo is not None:
            kind = "photo"
        elif contact is not None:
            kind = "contact"
        reply_to = state.by_id.get(reply_to_message_id) if reply_to_message_id else None
        message = ChatMessage(
            chat=state.chat,
            message_id=state.allocate_message_id(),
            date=int(time.time()),
            sender=state.user,
            outgoing=False,
            kind=kind,
            body=text or "",
            raw=text or "",
            entities=list(entities or []),
            photo=photo,
            document=document,
            contact=contact,
            reply_to=reply_to,
        )
        state.add(message)
        # Writing to the bot opens the conversation. A block stays until lifted explicitly, so
        # tests can watch the bot handle 403s while the user keeps "writing".
        state.started = True
        return message, self.push_update({"message": message.to_api()})

    def press_button(self, chat_id: int, message: ChatMessage, data: str) -> tuple[str, int]:
        """Queue a callback_query for ``data`` on ``message``; returns (query id, update id)."""
        state = self._require_chat(chat_id)
        if state.user is None:
            raise ValueError("only private chats have a user to press buttons")
        if message.deleted:
            raise AssertionError(f"message #{message.message_id} was deleted")
        query_id = str(4_000_000_000_000 + next(self._ids))
        self._callback_queries[query_id] = CallbackQuery(
            query_id, chat_id, message.message_id, data
        )
        chat_instance = str(int(hashlib.sha1(str(chat_id).encode()).hexdigest()[:12], 16))
        update = {
            "callback_query": {
                "id": query_id,
                "from": state.user,
                "message": message.to_api(),
                "chat_instance": chat_instance,
                "data": data,
            }
        }
        return query_id, self.push_update(update)

    def push_block_status(self, chat_id: int, *, blocked: bool) -> int:
        """Block/unblock the bot as the user would, queueing the my_chat_member update."""
        state = self._require_chat(chat_id)
        if state.user is None:
            raise ValueError("only private chats can be blocked")
        state.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        new_member: JSONDict = {"status": new, "user": self.bot_user}
        old_member: JSONDict = {"status": old, "user": self.bot_user}
        if blocked:
            new_member["until_date"] = 0
        else:
            old_member["until_date"] = 0
        return self.push_update(
            {
                "my_chat_member": {
                    "chat": state.chat,
                    "from": state.user,
                    "date": int(time.time()),
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                }
            }
        )

    # ---- processing tracking (used by the application runner) ----------------------------

    @property
    def tracks_processing(self) -> bool:
        """Whether an attached application reports when it finished handling an update."""
        return self._tracking_processing > 0

    def attach_processing_tracker(self) -> None:
        """Announce that :meth:`note_update_processed` will be called for every update."""
        self._tracking_processing += 1

    def detach_processing_tracker(self) -> None:
        """Undo :meth:`attach_processing_tracker`."""
        self._tracking_processing = max(0, self._tracking_processing - 1)

    def note_update_processed(self, update_id: int) -> None:
        """Record that the bot finished handling ``update_id``."""
        self._processed_updates.add(update_id)
        self._notify_activity(self._update_chats.pop(update_id, None))

    @property
    def unprocessed_update_count(self) -> int:
        """Updates queued so far that the bot has not reported as handled."""
        return (self._next_update_id - 1) - len(self._processed_updates)

    def is_update_processed(self, update_id: int) -> bool:
        """Whether the bot reported finishing ``update_id``."""
        return update_id in self._processed_updates

    async def wait_for_activity(self, max_wait: float | None, chat_id: int | None = None) -> bool:
        """Wait for the next event or processing note (of one chat if given); False on timeout."""
        # Grab the event before awaiting so a notification can't slip in between.
        if chat_id is None:
            event = self._activity
        else:
            event = self._chat_activity.setdefault(chat_id, asyncio.Event())
        if max_wait is not None and max_wait <= 0:
            return False
        try:
            async with asyncio.timeout(max_wait):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def _notify_global(self) -> None:
        # Swap in a fresh Event so each waiter sees exactly the notifications after it began.
        event, self._activity = self._activity, asyncio.Event()
        event.set()

    def _notify_activity(self, chat_id: int | None = None) -> None:
        self._notify_global()
        # Per-chat events spare many concurrent clients from waking on each other's traffic.
        if chat_id is None:
            chat_events = list(self._chat_activity.values())
            self._chat_activity.clear()
        else:
            chat_event = self._chat_activity.pop(chat_id, None)
            chat_events = [chat_event] if chat_event is not None else []
        for chat_event in chat_events:
            chat_event.set()

    def _wake_pollers(self) -> None:
        event, self._poll_wakeup = self._poll_wakeup, asyncio.Event()
        event.set()

    def _add_event(self, event: BotEvent) -> None:
        self.events.append(event)
        self._notify_activity(event.chat_id)

    # ---- commands -------------------------------------------------------------------------

    def commands(
        self, scope: JSONDict | str | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        """Commands stored by setMyCommands for exactly this scope and language."""
        stored = self._commands.get((self._scope_key(scope), language_code or ""), [])
        return [(c["command"], c["description"]) for c in stored]

    def effective_commands(
        self, chat_id: int, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        """Commands a user would see in a chat, following Telegram's scope fallback order."""
        state = self._chats.get(chat_id)
        private = state is None or state.chat.get("type") == "private"
        scopes: list[JSONDict] = [{"type": "chat", "chat_id": chat_id}]
        if private:
            scopes.append({"type": "all_private_chats"})
        else:
            scopes += [{"type": "chat_administrators", "chat_id": chat_id}]
            scopes.append({"type": "all_group_chats"})
        scopes.append({"type": "default"})
        for scope in scopes:
            key = self._scope_key(scope)
            for language in ([language_code] if language_code else []) + [""]:
                if (key, language) in self._commands:
                    return self.commands(scope, language)
        return []

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if scope is None:
            return "default"
        if isinstance(scope, str):
            return scope
        if hasattr(scope, "to_dict"):
            scope = scope.to_dict()
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        key = str(scope["type"])
        for part in ("chat_id", "user_id"):
            if part in scope:
                value = scope[part]
                if isinstance(value, str) and INT_RE.fullmatch(value):
                    value = int(value)
                key += f":{value}"
        return key

    # ---- faults ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = None,
        *,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | None = None,
        delay: float = 0.0,
        json_body: bool | None = None,
        deliver: bool = False,
    ) -> Fault:
        """Make the next ``times`` matching calls fail (``times=None``: until cleared)."""
        # method=None spares getUpdates: PTB backs off for seconds after a failed poll.
        # 502/504 come as HTML by default because Telegram's nginx front-end answers that way.
        # deliver=True applies the call before failing it, like an answer lost on the way back.
        if json_body is None:
            json_body = status not in (502, 504)
        fault = Fault(
            method=method,
            chat_id=chat_id,
            status=status,
            description=description,
            retry_after=retry_after,
            times=times,
            delay=delay,
            json_body=json_body,
            deliver=deliver,
        )
        self.faults.append(fault)
        return fault

    def slow_down(
        self,
        method: str | None = None,
        delay: float = 0.1,
        *,
        times: int | None = None,
        chat_id: int | None = None,
    ) -> Fault:
        """Delay matching calls by ``delay`` seconds without failing them."""
        fault = Fault(method=method, chat_id=chat_id, times=times, delay=delay)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove all injected faults."""
        self.faults.clear()

    def enable_flood_control(
        self, global_per_second: int | None = 30, per_chat_per_second: int | None = None
    ) -> None:
        """Answer 429 when sends exceed these rates within a sliding one-second window."""
        self._flood = FloodControl(global_per_second, per_chat_per_second)

    def disable_flood_control(self) -> None:
        """Turn flood control emulation off."""
        self._flood = None

    # ---- files ----------------------------------------------------------------------------

    def store_file(
        self,
        data: bytes,
        *,
        kind: FileKind = "document",
        filename: str | None = None,
        mime_type: str | None = None,
        url: str | None = None,
    ) -> StoredFile:
        """Store file content and give it a file_id and file_path."""
        number = next(self._ids)
        unique = hashlib.sha1(data + str(number).encode()).hexdigest()[:16]
        prefix = "AgAC" if kind == "photo" else "BQAC"
        if kind == "photo":
            size = image_size(data) or (0, 0)
            extension = ".jpg"
            path = f"photos/file_{number}{extension}"
        else:
            size = (0, 0)
            extension = ""
            if filename and "." in filename:
                extension = "." + filename.rsplit(".", 1)[1].lower()
            path = f"documents/file_{number}{extension}"
        if kind == "document" and mime_type is None and filename:
            mime_type = mimetypes.guess_type(filename)[0]
        stored = StoredFile(
            file_id=f"{prefix}{number:06d}{unique}",
            file_unique_id=f"AQAD{unique[:12]}",
            kind=kind,
            data=data,
            file_path=path,
            filename=filename,
            mime_type=mime_type,
            width=size[0],
            height=size[1],
            url=url,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def file(self, file_id: str) -> StoredFile:
        """A stored file by id (KeyError if unknown)."""
        return self._files[file_id]

    # ---- extension ------------------------------------------------------------------------

    def register_method(self, name: str, handler: MethodHandler) -> None:
        """Serve ``name`` (any case) with a sync or async handler that may raise BotApiError."""
        self._methods[name.lower()] = RegisteredMethod(name, handler)

    def calls(self, method: str) -> list[RecordedRequest]:
        """Recorded requests of one method (case-insensitive)."""
        key = method.lower()
        return [r for r in self.requests if r.method.lower() == key]
