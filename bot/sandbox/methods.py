"""The Bot API methods the fake server implements, mixed into FakeBotApi."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import BotApiError, bad_request
from .formatting import parse_formatted_text, sort_entities
from .images import image_size
from .params import INT_RE, ApiParams, UploadedFile
from .state import (
    BotEvent,
    CallbackAnswer,
    ChatMessage,
    ChatState,
    FileKind,
    MessageKind,
    StoredFile,
)
from .validation import (
    CHAT_ACTIONS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_COMMANDS,
    MAX_DOWNLOAD_SIZE,
    MAX_PHOTO_SIZE,
    MAX_TEXT_LENGTH,
    validate_reply_markup,
)

__all__ = ["BotApiMethods", "MethodHandler", "RegisteredMethod"]

JSONDict = dict[str, Any]

MethodHandler = Callable[["ApiParams"], Any]

# Telegram only sends these update types when they are requested explicitly.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SEND_OPTIONS = (
    "disable_notification",
    "protect_content",
    "link_preview_options",
    "disable_web_page_preview",
    "message_thread_id",
    "message_effect_id",
    "business_connection_id",
    "allow_paid_broadcast",
    "has_spoiler",
    "show_caption_above_media",
)

_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def _markup_key(markup: JSONDict | None) -> str:
    return json.dumps(markup, sort_keys=True) if markup else ""


def _entities_key(entities: list[JSONDict]) -> str:
    return json.dumps(sort_entities(entities), sort_keys=True)


@dataclass(frozen=True, slots=True)
class RegisteredMethod:
    name: str
    handler: MethodHandler


class BotApiMethods:
    """The built-in Bot API methods, mixed into FakeBotApi, which holds the state they use."""

    # ---- method helpers -------------------------------------------------------------------

    def _target_chat(self, params: ApiParams, *, write: bool = True) -> ChatState:
        value = params.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        state: ChatState | None
        if isinstance(value, str) and not INT_RE.fullmatch(value):
            state = self._chat_by_username(value)
        else:
            chat_id = params.get_int("chat_id", required="chat_id is empty")
            assert chat_id is not None
            state = self._chats.get(chat_id)
            if state is None and self.accept_unknown_chats:
                state = self._auto_chat(chat_id)
        if state is None:
            raise bad_request("chat not found")
        if write:
            if state.blocked:
                raise BotApiError(403, "Forbidden: bot was blocked by the user")
            if state.user is not None and not state.started:
                raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return state

    def _target_message(self, params: ApiParams, state: ChatState, missing: str) -> ChatMessage:
        if params.get("inline_message_id") is not None:
            raise bad_request("inline messages are not supported by the sandbox")
        message_id = params.get_int("message_id", required="message identifier is not specified")
        assert message_id is not None
        message = state.by_id.get(message_id)
        if message is None or message.deleted:
            raise bad_request(missing)
        return message

    def _reply_target(self, params: ApiParams, state: ChatState) -> ChatMessage | None:
        reply = params.get_json("reply_parameters", error="can't parse reply parameters")
        message_id: int | None
        allow_missing = params.get_bool("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = ApiParams("reply_parameters", reply).get_int("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        else:
            message_id = params.get_int("reply_to_message_id")
        if message_id is None:
            return None
        target = state.by_id.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _send(
        self,
        params: ApiParams,
        state: ChatState,
        *,
        kind: MessageKind,
        body: str,
        raw: str,
        parse_mode: str | None,
        entities: list[JSONDict],
        reply_markup: JSONDict | None,
        photo: StoredFile | None = None,
        document: StoredFile | None = None,
    ) -> JSONDict:
        reply_to = self._reply_target(params, state)
        options = {name: params.get(name) for name in _SEND_OPTIONS if name in params}
        message = ChatMessage(
            chat=state.chat,
            message_id=state.allocate_message_id(),
            date=int(time.time()),
            sender=self._sender,
            outgoing=True,
            kind=kind,
            body=body,
            raw=raw,
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=reply_markup,
            photo=photo,
            document=document,
            reply_to=reply_to,
            options=options,
        )
        state.add(message)
        if reply_markup is not None:
            if "keyboard" in reply_markup:
                state.reply_keyboard = reply_markup
            elif reply_markup.get("remove_keyboard"):
                state.reply_keyboard = None
        self._add_event(
            BotEvent("message", state.chat_id, params.method, time.monotonic(), message=message)
        )
        return message.to_api()

    @staticmethod
    def _parse_text(params: ApiParams) -> tuple[str, str, str | None, list[JSONDict]]:
        raw = params.get_str("text")
        if not raw:
            raise bad_request("message text is empty")
        parse_mode = params.get_str("parse_mode")
        entities = params.get_json("entities", error="can't parse entities JSON object")
        body, parsed = parse_formatted_text(raw, parse_mode, entities)
        if not body:
            raise bad_request("message text is empty")
        if len(body) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return body, raw, parse_mode, parsed

    @staticmethod
    def _parse_caption(params: ApiParams) -> tuple[str, str, str | None, list[JSONDict]]:
        raw = params.get_str("caption") or ""
        parse_mode = params.get_str("parse_mode")
        entities = params.get_json("caption_entities", error="can't parse entities JSON object")
        body, parsed = parse_formatted_text(raw, parse_mode, entities) if raw else ("", [])
        if len(body) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return body, raw, parse_mode, parsed

    def _input_file(self, params: ApiParams, name: str, kind: FileKind) -> StoredFile:
        value = params.get_input_file(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, UploadedFile):
            if kind == "photo":
                if image_size(value.data) is None:
                    raise bad_request("IMAGE_PROCESS_FAILED")
                if len(value.data) > MAX_PHOTO_SIZE:
                    raise bad_request("PHOTO_INVALID_DIMENSIONS")
            return self.store_file(
                value.data, kind=kind, filename=value.filename, mime_type=value.content_type
            )
        known = self._files.get(value)
        if known is not None:
            if known.kind != kind:
                raise bad_request(f"can't use file of type {known.kind.title()} as {kind.title()}")
            return known
        if value.startswith(("http://", "https://")):
            filename = urlsplit(value).path.rsplit("/", 1)[-1] or None
            return self.store_file(b"", kind=kind, filename=filename, url=value)
        raise bad_request("wrong file identifier/HTTP URL specified")

    # ---- methods --------------------------------------------------------------------------

    def _builtin_methods(self) -> list[tuple[str, MethodHandler]]:
        return [
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("sendMessage", self._send_message),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("deleteMessages", self._delete_messages),
            ("answerCallbackQuery", self._answer_callback_query),
            ("sendChatAction", self._send_chat_action),
            ("getChat", self._get_chat),
            ("getFile", self._get_file),
            ("close", self._close),
            ("logOut", self._close),
            ("setMyDescription", self._setting_setter("description")),
            ("getMyDescription", self._setting_getter("description")),
            ("setMyShortDescription", self._setting_setter("short_description")),
            ("getMyShortDescription", self._setting_getter("short_description")),
            ("setMyName", self._setting_setter("name")),
            ("getMyName", self._setting_getter("name")),
            ("setChatMenuButton", self._set_chat_menu_button),
            ("getChatMenuButton", self._get_chat_menu_button),
        ]

    def _get_me(self, params: ApiParams) -> JSONDict:
        return self.bot_user

    async def _get_updates(self, params: ApiParams) -> list[JSONDict]:
        if self.webhook is not None:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = params.get_int("offset")
        limit = min(max(params.get_int("limit") or 100, 1), 100)
        timeout = max(params.get_float("timeout"), 0.0)
        allowed = params.get_json("allowed_updates", error="can't parse allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        self._confirm_updates(offset)
        # A newer poll supersedes an older one, which is answered with 409 like Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        deadline = time.monotonic() + timeout
        while True:
            batch = self._collect_updates(limit)
            if batch or self._closing:
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if generation != self._poll_generation:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            wakeup = self._poll_wakeup
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await wakeup.wait()

    def _confirm_updates(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            keep = -offset
            while len(self._updates) > keep:
                self._updates.popleft()
            return
        confirmed = False
        while self._updates and self._updates[0][0] < offset:
            self._updates.popleft()
            confirmed = True
        if confirmed:
            self._notify_global()

    def _collect_updates(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed_updates
        batch: list[JSONDict] = []
        dropped = False
        for update_id, update in self._updates:
            kind = next((key for key in update if key != "update_id"), "")
            wanted = kind in allowed if allowed is not None else kind not in _OPT_IN_UPDATES
            if not wanted:
                dropped = True
                self.filtered_updates.add(update_id)
                self.note_update_processed(update_id)
                continue
            batch.append(update)
            if len(batch) >= limit:
                break
        if dropped:
            # Telegram never queues unwanted update types for the bot.
            self._updates = deque(
                item for item in self._updates if item[0] not in self._processed_updates
            )
        return batch

    def _set_webhook(self, params: ApiParams) -> bool:
        url = params.get_str("url") or ""
        if not url:
            self.webhook = None
            return True
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {
            "url": url,
            "max_connections": params.get_int("max_connections") or 40,
            "allowed_updates": params.get_json("allowed_updates"),
        }
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, params: ApiParams) -> bool:
        self.webhook = None
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: ApiParams) -> JSONDict:
        info: JSONDict = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["url"] = self.webhook["url"]
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook["allowed_updates"]:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _commands_key(self, params: ApiParams) -> tuple[str, str]:
        scope = params.get_json("scope", error="can't parse BotCommandScope JSON object")
        language = params.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return self._scope_key(scope), language

    def _set_my_commands(self, params: ApiParams) -> bool:
        commands = params.get_json("commands", error="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise bad_request("too many commands specified")
        cleaned: list[JSONDict] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", "")).strip()
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._commands_key(params)
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: ApiParams) -> list[JSONDict]:
        return list(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: ApiParams) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _send_message(self, params: ApiParams) -> JSONDict:
        state = self._target_chat(params)
        body, raw, parse_mode, parsed = self._parse_text(params)
        markup = validate_reply_markup(
            params.get_json("reply_markup", error="can't parse reply keyboard markup JSON object")
        )
        return self._send(
            params,
            state,
            kind="text",
            body=body,
            raw=raw,
            parse_mode=parse_mode,
            entities=parsed,
            reply_markup=markup,
        )

    def _send_media(self, params: ApiParams, kind: FileKind) -> JSONDict:
        state = self._target_chat(params)
        body, raw, parse_mode, entities = self._parse_caption(params)
        markup = validate_reply_markup(
            params.get_json("reply_markup", error="can't parse reply keyboard markup JSON object")
        )
        stored = self._input_file(params, kind, kind)
        return self._send(
            params,
            state,
            kind=kind,
            body=body,
            raw=raw,
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=markup,
            photo=stored if kind == "photo" else None,
            document=stored if kind == "document" else None,
        )

    def _send_photo(self, params: ApiParams) -> JSONDict:
        return self._send_media(params, "photo")

    def _send_document(self, params: ApiParams) -> JSONDict:
        return self._send_media(params, "document")

    def _apply_edit(
        self,
        params: ApiParams,
        message: ChatMessage,
        *,
        body: str,
        raw: str,
        parse_mode: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
    ) -> JSONDict:
        unchanged = (
            body == message.body
            and _entities_key(entities) == _entities_key(message.entities)
            and _markup_key(markup) == _markup_key(message.reply_markup)
        )
        if unchanged:
            raise bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        previous = message.snapshot()
        message.history.append(previous)
        message.body = body
        message.raw = raw
        message.parse_mode = parse_mode
        message.entities = entities
        message.reply_markup = markup
        message.edit_date = int(time.time())
        self._add_event(
            BotEvent(
                "edit",
                message.chat_id,
                params.method,
                time.monotonic(),
                message=message,
                previous=previous,
            )
        )
        return message.to_api()

    def _edit_markup_param(self, params: ApiParams) -> JSONDict | None:
        # Omitting reply_markup in an edit removes the inline keyboard, as in Telegram.
        return validate_reply_markup(
            params.get_json("reply_markup", error="can't parse reply keyboard markup JSON object"),
            inline_only=True,
        )

    def _editable(self, params: ApiParams) -> ChatMessage:
        state = self._target_chat(params)
        message = self._target_message(params, state, "message to edit not found")
        if not message.outgoing:
            raise bad_request("message can't be edited")
        return message

    def _edit_message_text(self, params: ApiParams) -> JSONDict:
        message = self._editable(params)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        body, raw, parse_mode, parsed = self._parse_text(params)
        return self._apply_edit(
            params,
            message,
            body=body,
            raw=raw,
            parse_mode=parse_mode,
            entities=parsed,
            markup=self._edit_markup_param(params),
        )

    def _edit_message_caption(self, params: ApiParams) -> JSONDict:
        message = self._editable(params)
        if message.kind not in ("photo", "document"):
            raise bad_request("there is no caption in the message to edit")
        body, raw, parse_mode, entities = self._parse_caption(params)
        return self._apply_edit(
            params,
            message,
            body=body,
            raw=raw,
            parse_mode=parse_mode,
            entities=entities,
            markup=self._edit_markup_param(params),
        )

    def _edit_message_reply_markup(self, params: ApiParams) -> JSONDict:
        message = self._editable(params)
        return self._apply_edit(
            params,
            message,
            body=message.body,
            raw=message.raw,
            parse_mode=message.parse_mode,
            entities=message.entities,
            markup=self._edit_markup_param(params),
        )

    def _delete(self, params: ApiParams, message: ChatMessage) -> None:
        message.deleted = True
        self._add_event(
            BotEvent("delete", message.chat_id, params.method, time.monotonic(), message=message)
        )

    def _delete_message(self, params: ApiParams) -> bool:
        state = self._target_chat(params, write=False)
        message = self._target_message(params, state, "message to delete not found")
        self._delete(params, message)
        return True

    def _delete_messages(self, params: ApiParams) -> bool:
        state = self._target_chat(params, write=False)
        ids = params.get_json("message_ids", error="can't parse message identifiers")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            message = state.by_id.get(int(message_id))
            if message is not None and not message.deleted:
                self._delete(params, message)
        return True

    def _answer_callback_query(self, params: ApiParams) -> bool:
        query_id = params.get_str("callback_query_id", required="query_id is empty")
        assert query_id is not None
        query = self._callback_queries.get(query_id)
        if query is None or query.answer is not None:
            raise bad_request(_QUERY_INVALID.removeprefix("Bad Request: "))
        text = params.get_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            query_id=query_id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
            text=text or None,
            show_alert=params.get_bool("show_alert"),
            url=params.get_str("url"),
            cache_time=params.get_int("cache_time") or 0,
            time=time.monotonic(),
        )
        query.answer = answer
        self.callback_answers.append(answer)
        self._add_event(
            BotEvent(
                "callback_answer",
                query.chat_id,
                params.method,
                answer.time,
                answer=answer,
            )
        )
        return True

    def _send_chat_action(self, params: ApiParams) -> bool:
        state = self._target_chat(params)
        action = params.get_str("action", required="action is empty")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._add_event(
            BotEvent("chat_action", state.chat_id, params.method, time.monotonic(), action=action)
        )
        return True

    def _get_chat(self, params: ApiParams) -> JSONDict:
        state = self._target_chat(params, write=False)
        return {
            **state.chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_file(self, params: ApiParams) -> JSONDict:
        file_id = params.get_str("file_id", required="file_id is empty")
        assert file_id is not None
        stored = self._files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _close(self, params: ApiParams) -> bool:
        self.closed = True
        return True

    def _setting_setter(self, name: str) -> MethodHandler:
        def handler(params: ApiParams) -> bool:
            language = params.get_str("language_code") or ""
            self.bot_settings[f"{name}:{language}"] = params.get_str(name) or ""
            return True

        return handler

    def _setting_getter(self, name: str) -> MethodHandler:
        def handler(params: ApiParams) -> JSONDict:
            language = params.get_str("language_code") or ""
            value = self.bot_settings.get(f"{name}:{language}", self.bot_settings.get(name, ""))
            return {name: value}

        return handler

    def _set_chat_menu_button(self, params: ApiParams) -> bool:
        chat_id = params.get_int("chat_id")
        button = params.get_json("menu_button") or {"type": "default"}
        self.bot_settings[f"menu_button:{chat_id or ''}"] = button
        return True

    def _get_chat_menu_button(self, params: ApiParams) -> JSONDict:
        chat_id = params.get_int("chat_id")
        default: JSONDict = self.bot_settings.get("menu_button:", {"type": "commands"})
        button: JSONDict = self.bot_settings.get(f"menu_button:{chat_id or ''}", default)
        return button
