"""Loopback stand-in for the Telegram Bot API that enforces Telegram's validation rules."""

# The server speaks the HTTP protocol of https://core.telegram.org/bots/api closely enough for
# python-telegram-bot to run unmodified against it. It is strict where Telegram is strict
# (markup parsing, length limits, keyboard shape, "message is not modified") so that a bot's
# mistakes fail in tests instead of in production.

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import inspect
import itertools
import json
import logging
import mimetypes
import re
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Self
from urllib.parse import urlsplit

from aiohttp import web

if TYPE_CHECKING:
    from telegram.ext._applicationbuilder import InitApplicationBuilder

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

_LOG = logging.getLogger(__name__)

JSONDict = dict[str, Any]
MethodHandler = Callable[["ApiParams"], Any]
EventKind = Literal["message", "edit", "delete", "callback_answer", "chat_action", "error"]
MessageKind = Literal["text", "photo", "document", "contact"]
FileKind = Literal["photo", "document"]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_COMMANDS = 100
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
MAX_PHOTO_SIZE = 10 * 1024 * 1024
# Uploads up to 50 MB are allowed; the slack covers the multipart framing.
MAX_REQUEST_SIZE = 50 * 1024 * 1024 + 64 * 1024

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Telegram only sends these update types when they are requested explicitly.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# getUpdates is excluded from catch-all faults: PTB backs off for seconds after a failed poll.
_FAULT_EXEMPT = frozenset({"getupdates"})

_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "from_chat_id",
        "reply_to_message_id",
        "cache_time",
        "message_thread_id",
        "user_id",
        "max_connections",
        "until_date",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "for_channels",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
        "message_ids",
        "rights",
    }
)
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

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class BotApiError(Exception):
    """An error answer of the Bot API (``ok: false``) with its HTTP status."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def to_payload(self) -> JSONDict:
        """Return the JSON body Telegram would answer with."""
        payload: JSONDict = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        parameters: JSONDict = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            payload["parameters"] = parameters
        return payload


class _RawFailure(Exception):
    """A failure answered with a non-JSON body, like an HTML page from a gateway."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    @property
    def body(self) -> str:
        title = f"{self.status} {self.description}"
        return (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )


class EntityParseError(ValueError):
    """Markup that Telegram would refuse with "can't parse entities"."""


def _bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------------------------
# Text formatting: HTML / MarkdownV2 / Markdown parsing into plain text + entities
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _Builder:
    """Accumulates parsed text while tracking the UTF-16 offset entities are measured in."""

    __slots__ = ("parts", "u16")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0

    def add(self, chunk: str) -> None:
        if chunk:
            self.parts.append(chunk)
            self.u16 += utf16_len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


def _sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    # Telegram returns entities ordered by offset, outer (longer) entities first.
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_TAG_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]*));")
_HTML_SPECIAL_RE = re.compile(r"[<&]")


def _decode_html_entity(text: str, index: int, *, strict: bool) -> tuple[str, int]:
    """Decode the entity starting at ``text[index] == '&'``; return (chars, next index)."""
    match = _HTML_ENTITY_RE.match(text, index)
    if match is None:
        if strict:
            raise EntityParseError(
                f'Character "&" at byte offset {_byte_offset(text, index)} must be escaped '
                'as "&amp;"'
            )
        return "&", index + 1
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        char = _HTML_NAMED_ENTITIES.get(name)
        if char is None:
            if strict:
                raise EntityParseError(
                    f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(text, index)}'
                )
            return "&", index + 1
        return char, match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        if strict:
            raise EntityParseError(
                f"Invalid numeric HTML entity at byte offset {_byte_offset(text, index)}"
            )
        return "&", index + 1
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    # Telegram is lenient inside attribute values, so URLs with a raw "&" keep working.
    out: list[str] = []
    pos = 0
    while (amp := value.find("&", pos)) != -1:
        out.append(value[pos:amp])
        chunk, pos = _decode_html_entity(value, amp, strict=False)
        out.append(chunk)
    out.append(value[pos:])
    return "".join(out)


@dataclass(slots=True)
class _OpenTag:
    name: str
    entity: JSONDict | None
    offset: int
    index: int


def _parse_start_tag(text: str, index: int) -> tuple[str, dict[str, str], int]:
    """Parse ``<name attr="v">`` at ``index``; return (name, attributes, index after '>')."""
    n = len(text)
    pos = index + 1
    while pos < n and not text[pos].isspace() and text[pos] not in "/>":
        pos += 1
    if pos >= n:
        raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, index)}")
    name = text[index + 1 : pos].lower()
    if name not in _HTML_TAG_TYPES:
        raise EntityParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, index)}'
        )
    attributes: dict[str, str] = {}
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, index)}")
        if text[pos] == ">":
            return name, attributes, pos + 1
        start = pos
        while pos < n and (text[pos].isalnum() or text[pos] in "-_"):
            pos += 1
        if pos == start:
            raise EntityParseError(
                f'Unexpected character "{text[pos]}" in the tag "{name}" at byte offset '
                f"{_byte_offset(text, pos)}"
            )
        attribute = text[start:pos].lower()
        while pos < n and text[pos].isspace():
            pos += 1
        value = ""
        if pos < n and text[pos] == "=":
            pos += 1
            while pos < n and text[pos].isspace():
                pos += 1
            if pos >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(text, index)}"
                )
            if text[pos] in "\"'":
                end = text.find(text[pos], pos + 1)
                if end == -1:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(text, index)}"
                    )
                value = text[pos + 1 : end]
                pos = end + 1
            else:
                start = pos
                while pos < n and not text[pos].isspace() and text[pos] != ">":
                    pos += 1
                value = text[start:pos]
        attributes[attribute] = _decode_attribute(value)


def _entity_for_tag(name: str, attributes: Mapping[str, str]) -> JSONDict | None:
    kind = _HTML_TAG_TYPES[name]
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError('Tag "span" must have class "tg-spoiler"')
    if kind == "text_link":
        href = attributes.get("href")
        if not href:
            return None
        user_id = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user_id:
            return {"type": "text_mention", "user": {"id": int(user_id.group(1))}}
        return {"type": "text_link", "url": href}
    if kind == "custom_emoji":
        emoji_id = attributes.get("emoji-id")
        if not emoji_id:
            raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
        return {"type": "custom_emoji", "custom_emoji_id": emoji_id}
    if kind == "code":
        language = attributes.get("class", "")
        if language.startswith("language-") and len(language) > len("language-"):
            return {"type": "code", "language": language[len("language-") :]}
        return {"type": "code"}
    if kind == "blockquote" and "expandable" in attributes:
        return {"type": "expandable_blockquote"}
    return {"type": kind}


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into plain text and entities, raising on invalid markup."""
    builder = _Builder()
    entities: list[JSONDict] = []
    stack: list[_OpenTag] = []
    pos = 0
    while (match := _HTML_SPECIAL_RE.search(text, pos)) is not None:
        index = match.start()
        builder.add(text[pos:index])
        if text[index] == "&":
            char, pos = _decode_html_entity(text, index, strict=True)
            builder.add(char)
            continue
        if text.startswith("</", index):
            end = text.find(">", index + 2)
            if end == -1:
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, index)}"
                )
            name = text[index + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, index)}"
                )
            top = stack.pop()
            if name != top.name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, index)}, "
                    f'expected "</{top.name}>", found "</{name}>"'
                )
            length = builder.u16 - top.offset
            if top.entity is not None and length > 0:
                entity = {**top.entity, "offset": top.offset, "length": length}
                if top.name == "pre":
                    _merge_pre_code(entity, entities)
                entities.append(entity)
            pos = end + 1
            continue
        name, attributes, pos = _parse_start_tag(text, index)
        stack.append(_OpenTag(name, _entity_for_tag(name, attributes), builder.u16, index))
    builder.add(text[pos:])
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        # A language only means something on <pre><code class="language-...">.
        if entity["type"] == "code":
            entity.pop("language", None)
    return builder.text(), _sort_entities(entities)


def _merge_pre_code(pre: JSONDict, entities: list[JSONDict]) -> None:
    for i in range(len(entities) - 1, -1, -1):
        inner = entities[i]
        if (
            inner["type"] == "code"
            and inner["offset"] == pre["offset"]
            and inner["length"] == pre["length"]
        ):
            language = inner.get("language")
            if language:
                pre["language"] = language
            del entities[i]
            return


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}
_MDV2_TOGGLES = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough"}


def parse_markdown_v2(text: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 into plain text and entities, raising on unescaped reserved chars."""
    builder = _Builder()
    entities: list[JSONDict] = []
    stack: list[tuple[str, int, int]] = []  # (entity type, utf-16 offset, source index)
    quote: tuple[str, int] | None = None  # (entity type, utf-16 offset)
    n = len(text)
    i = 0
    line_start = True

    def close_quote() -> None:
        nonlocal quote
        if quote is not None and builder.u16 > quote[1]:
            entities.append(
                {"type": quote[0], "offset": quote[1], "length": builder.u16 - quote[1]}
            )
        quote = None

    def reserved(index: int) -> EntityParseError:
        return EntityParseError(
            f"Character '{text[index]}' is reserved and must be escaped with the preceding '\\'"
        )

    while i < n:
        char = text[i]
        in_code = bool(stack) and stack[-1][0].split(":", 1)[0] in ("code", "pre")
        if line_start and not in_code:
            line_start = False
            if quote is None and text.startswith("**>", i):
                quote = ("expandable_blockquote", builder.u16)
                i += 3
                continue
            if char == ">":
                if quote is None:
                    quote = ("blockquote", builder.u16)
                i += 1
                continue
            if quote is not None:
                close_quote()
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            builder.add(text[i + 1])
            i += 2
            continue
        if char == "\n" and not in_code:
            # A quote ends with the last line that starts with ">"; the newline isn't part of it.
            if quote is not None and not text.startswith(">", i + 1):
                close_quote()
            builder.add(char)
            i += 1
            line_start = True
            continue
        if in_code:
            kind = stack[-1][0].split(":", 1)[0]
            if kind == "pre" and text.startswith("```", i):
                _close_md_entity(stack, entities, builder, extra=None)
                i += 3
            elif kind == "code" and char == "`":
                _close_md_entity(stack, entities, builder, extra=None)
                i += 1
            else:
                builder.add(char)
                i += 1
            continue
        if char not in _MDV2_RESERVED:
            builder.add(char)
            i += 1
            continue
        if char == "`":
            if text.startswith("```", i):
                i += 3
                newline = text.find("\n", i)
                language = text[i:newline] if newline != -1 else ""
                stack.append(("pre", builder.u16, i - 3))
                if language and not any(c.isspace() or c == "`" for c in language):
                    stack[-1] = ("pre:" + language, builder.u16, i - 3)
                    i = newline + 1
                elif newline == i:
                    i += 1
                continue
            stack.append(("code", builder.u16, i))
            i += 1
            continue
        if (
            char == "|"
            and quote is not None
            and quote[0] == "expandable_blockquote"
            and text.startswith("||", i)
            and (i + 2 == n or text[i + 2] == "\n")
        ):
            close_quote()
            i += 2
            continue
        token = char
        if char == "_" and text.startswith("__", i):
            token = "__"
        elif char == "|":
            if not text.startswith("||", i):
                raise reserved(i)
            token = "||"
        toggle = _MDV2_TOGGLES.get(token) or ("spoiler" if token == "||" else None)
        if toggle is not None:
            if stack and stack[-1][0] == toggle:
                _close_md_entity(stack, entities, builder, extra=None)
            elif any(entry[0] == toggle for entry in stack):
                top_kind, _, top_index = stack[-1]
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES.get(top_kind, top_kind)} entity at byte "
                    f"offset {_byte_offset(text, top_index)}"
                )
            else:
                stack.append((toggle, builder.u16, i))
            i += len(token)
            continue
        if char == "[":
            stack.append(("text_link", builder.u16, i))
            i += 1
            continue
        if char == "!" and text.startswith("![", i):
            stack.append(("custom_emoji", builder.u16, i))
            i += 2
            continue
        if char == "]" and stack and stack[-1][0] in ("text_link", "custom_emoji"):
            i += 1
            url = ""
            if i < n and text[i] == "(":
                url, i = _read_md_url(text, i + 1)
            kind = stack[-1][0]
            if kind == "custom_emoji":
                emoji = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if emoji is None:
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                extra: JSONDict | None = {"custom_emoji_id": emoji.group(1)}
            else:
                extra = {"url": url} if url else None
            _close_md_entity(stack, entities, builder, extra=extra, drop=extra is None)
            continue
        raise reserved(i)
    if stack:
        kind, _, index = stack[-1]
        kind = kind.split(":", 1)[0]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES.get(kind, kind)} entity at byte offset "
            f"{_byte_offset(text, index)}"
        )
    close_quote()
    return builder.text(), _sort_entities(entities)


def _read_md_url(text: str, index: int) -> tuple[str, int]:
    out: list[str] = []
    n = len(text)
    while index < n:
        char = text[index]
        if char == "\\" and index + 1 < n:
            out.append(text[index + 1])
            index += 2
            continue
        if char == ")":
            return "".join(out), index + 1
        out.append(char)
        index += 1
    raise EntityParseError("Can't find end of a URL")


def _close_md_entity(
    stack: list[tuple[str, int, int]],
    entities: list[JSONDict],
    builder: _Builder,
    *,
    extra: JSONDict | None,
    drop: bool = False,
) -> None:
    kind, offset, _ = stack.pop()
    length = builder.u16 - offset
    if drop or length <= 0:
        return
    entity: JSONDict = {"offset": offset, "length": length}
    if kind.startswith("pre:"):
        entity["type"] = "pre"
        entity["language"] = kind[4:]
    else:
        entity["type"] = kind
    if extra:
        entity.update(extra)
    entities.append(entity)


def parse_markdown(text: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Markdown (no nesting) into plain text and entities."""
    builder = _Builder()
    entities: list[JSONDict] = []
    n = len(text)
    i = 0

    def unterminated(index: int) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, index)}"
        )

    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            builder.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            builder.add(char)
            i += 1
            continue
        start = builder.u16
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise unterminated(i)
            body = text[i + 3 : end]
            language = ""
            first_line, newline, rest = body.partition("\n")
            if newline and first_line and not any(c.isspace() for c in first_line):
                language, body = first_line, rest
            builder.add(body)
            entity: JSONDict = {"type": "pre", "offset": start, "length": builder.u16 - start}
            if language:
                entity["language"] = language
            entities.append(entity)
            i = end + 3
        elif char == "[":
            close = text.find("]", i + 1)
            if close == -1 or not text.startswith("(", close + 1):
                raise unterminated(i)
            url_end = text.find(")", close + 2)
            if url_end == -1:
                raise unterminated(i)
            builder.add(text[i + 1 : close])
            entities.append(
                {
                    "type": "text_link",
                    "offset": start,
                    "length": builder.u16 - start,
                    "url": text[close + 2 : url_end],
                }
            )
            i = url_end + 1
        else:
            end = text.find(char, i + 1)
            if end == -1:
                raise unterminated(i)
            builder.add(text[i + 1 : end])
            kind = {"*": "bold", "_": "italic", "`": "code"}[char]
            entities.append({"type": kind, "offset": start, "length": builder.u16 - start})
            i = end + 1
    return builder.text(), _sort_entities([e for e in entities if e["length"] > 0])


_ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)
_TRIMMED = " \t\r\n"


def _validate_entities(text: str, raw: Any) -> list[JSONDict]:
    if not isinstance(raw, list):
        raise _bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    entities: list[JSONDict] = []
    for item in raw:
        if not isinstance(item, dict):
            raise _bad_request("can't parse entities JSON object")
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if kind not in _ENTITY_TYPES:
            raise _bad_request(f"can't parse entities: unsupported entity type {kind!r}")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0:
            raise _bad_request("can't parse entities: entity offset and length must be integers")
        end = min(offset + length, total)
        if end > offset:
            entities.append({**item, "offset": offset, "length": end - offset})
    return _sort_entities(entities)


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    # Telegram strips leading and trailing whitespace from texts and captions.
    left = text.lstrip(_TRIMMED)
    result = left.rstrip(_TRIMMED)
    if len(result) == len(text):
        return text, entities
    lead = utf16_len(text[: len(text) - len(left)])
    total = utf16_len(result)
    trimmed: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return result, trimmed


def parse_formatted_text(
    text: str, parse_mode: str | None = None, entities: Any = None
) -> tuple[str, list[JSONDict]]:
    """Parse text as Telegram does into (plain text, entities); BotApiError(400) if invalid."""
    if entities is not None:
        plain, parsed = text, _validate_entities(text, entities)
    else:
        mode = (parse_mode or "").lower()
        try:
            if mode == "html":
                plain, parsed = parse_html(text)
            elif mode == "markdownv2":
                plain, parsed = parse_markdown_v2(text)
            elif mode == "markdown":
                plain, parsed = parse_markdown(text)
            elif mode == "":
                plain, parsed = text, []
            else:
                raise _bad_request(f"unsupported parse_mode {parse_mode!r}")
        except EntityParseError as exc:
            raise _bad_request(f"can't parse entities: {exc}") from None
    return _trim(plain, parsed)


_HTML_TAGS_FOR_ENTITY: dict[str, tuple[str, str]] = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ("<tg-spoiler>", "</tg-spoiler>"),
    "code": ("<code>", "</code>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote expandable>", "</blockquote>"),
}


def _html_tags(entity: JSONDict) -> tuple[str, str]:
    kind = entity["type"]
    if kind in _HTML_TAGS_FOR_ENTITY:
        return _HTML_TAGS_FOR_ENTITY[kind]
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{html.escape(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{html.escape(entity.get("url", ""))}">', "</a>"
    if kind == "text_mention":
        return f'<a href="tg://user?id={entity.get("user", {}).get("id", 0)}">', "</a>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{html.escape(entity["custom_emoji_id"])}">', "</tg-emoji>"
    return "", ""


def entities_to_html(text: str, entities: Iterable[JSONDict]) -> str:
    """Render plain text plus entities back into Telegram HTML."""
    spans = [
        (e["offset"], e["offset"] + e["length"], *_html_tags(e))
        for e in _sort_entities(list(entities))
    ]
    spans = [span for span in spans if span[2]]
    out: list[str] = []
    stack: list[tuple[int, int, str, str]] = []
    next_span = 0
    position = 0
    for char in itertools.chain(text, [""]):
        # Close before open so adjacent entities stay siblings rather than nesting.
        ending = [i for i, span in enumerate(stack) if span[1] <= position]
        if ending:
            # Overlapping (not nested) entities: close down to the ending one, reopen the rest.
            reopen: list[tuple[int, int, str, str]] = []
            while len(stack) > ending[0]:
                span = stack.pop()
                out.append(span[3])
                if span[1] > position:
                    reopen.append(span)
            for span in reversed(reopen):
                out.append(span[2])
                stack.append(span)
        while next_span < len(spans) and spans[next_span][0] <= position:
            span = spans[next_span]
            next_span += 1
            out.append(span[2])
            stack.append(span)
        if char:
            out.append(html.escape(char, quote=False))
            position += 2 if ord(char) > 0xFFFF else 1
    while stack:
        out.append(stack.pop()[3])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Keyboards
# --------------------------------------------------------------------------------------------

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _check_button_url(url: Any) -> None:
    if not isinstance(url, str) or not url:
        raise _bad_request('can\'t parse inline keyboard button: Field "url" must be a String')
    candidate = url if "://" in url else f"http://{url}"
    parts = urlsplit(candidate)
    scheme = parts.scheme.lower()
    if scheme == "tg":
        return
    host = parts.hostname or ""
    # Telegram refuses hosts it can't resolve publicly, e.g. "localhost".
    if scheme not in ("http", "https") or "." not in host or host.endswith("."):
        raise _bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _validate_inline_keyboard(rows: Any) -> None:
    shape_error = _bad_request(
        'can\'t parse inline keyboard button: Field "inline_keyboard" of the '
        "InlineKeyboardMarkup should be an Array of Arrays"
    )
    if not isinstance(rows, list):
        raise shape_error
    count = 0
    for row in rows:
        if not isinstance(row, list):
            raise shape_error
        for button in row:
            count += 1
            if not isinstance(button, dict):
                raise _bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str):
                raise _bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not text.strip():
                raise _bad_request("BUTTON_TEXT_INVALID")
            actions = [key for key in _INLINE_ACTIONS if key in button]
            if not actions:
                raise _bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if len(actions) > 1:
                raise _bad_request(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    f"must be used, got {', '.join(actions)}"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str):
                    raise _bad_request(
                        'can\'t parse inline keyboard button: Field "callback_data" must be '
                        "of type String"
                    )
                if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                _check_button_url(button["url"])
    if count > 100:
        raise _bad_request("reply markup is too long")


def _validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JSONDict | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
        return markup
    if inline_only:
        raise _bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'can\'t parse keyboard button: Field "keyboard" of the ReplyKeyboardMarkup '
                "should be an Array of Arrays"
            )
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise _bad_request("can't parse keyboard button: text must be a String")
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise _bad_request("can't parse reply keyboard markup JSON object")


def _markup_key(markup: JSONDict | None) -> str:
    return json.dumps(markup, sort_keys=True) if markup else ""


def _entities_key(entities: list[JSONDict]) -> str:
    return json.dumps(_sort_entities(entities), sort_keys=True)


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(slots=True)
class StoredFile:
    """A file known to the server: uploaded by the bot or by a user."""

    file_id: str
    file_unique_id: str
    kind: FileKind
    data: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    url: str | None = None

    @property
    def size(self) -> int:
        """Size of the content in bytes."""
        return len(self.data)

    def text(self, encoding: str = "utf-8") -> str:
        """Decode the content, e.g. for CSV reports."""
        return self.data.decode(encoding)

    def to_api(self) -> JSONDict:
        """Return the Document / PhotoSize JSON object."""
        data: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.kind == "photo":
            data["width"] = self.width
            data["height"] = self.height
        else:
            if self.filename:
                data["file_name"] = self.filename
            if self.mime_type:
                data["mime_type"] = self.mime_type
        return data


class Button(NamedTuple):
    """An inline button: its text and callback_data (or url for link buttons)."""

    text: str
    data: str | None


@dataclass(frozen=True, slots=True)
class Revision:
    """A previous state of an edited message."""

    text: str
    raw: str
    parse_mode: str | None
    entities: tuple[JSONDict, ...]
    reply_markup: JSONDict | None
    date: int


@dataclass(eq=False, slots=True)
class ChatMessage:
    """A message in a chat transcript, sent by the bot (``outgoing``) or by a user."""

    chat: JSONDict
    message_id: int
    date: int
    sender: JSONDict
    outgoing: bool
    kind: MessageKind = "text"
    body: str = ""  # text or caption after markup parsing and trimming
    raw: str = ""  # text or caption exactly as sent
    parse_mode: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    contact: JSONDict | None = None
    reply_to: ChatMessage | None = None
    options: JSONDict = field(default_factory=dict)
    edit_date: int | None = None
    history: list[Revision] = field(default_factory=list)
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        """Id of the chat the message belongs to."""
        return int(self.chat["id"])

    @property
    def text(self) -> str | None:
        """Plain text of a text message (markup stripped), None for media."""
        return self.body if self.kind == "text" else None

    @property
    def caption(self) -> str | None:
        """Plain caption of a media message, None for text messages or no caption."""
        return self.body if self.kind != "text" and self.body else None

    @property
    def content(self) -> str:
        """Plain text or caption, whichever the message has."""
        return self.body

    @property
    def html(self) -> str:
        """The markup as sent when parse_mode was HTML, otherwise HTML rebuilt from entities."""
        if (self.parse_mode or "").lower() == "html":
            return self.raw
        return entities_to_html(self.body, self.entities)

    @property
    def edited(self) -> bool:
        """Whether the bot edited the message."""
        return bool(self.history)

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """Raw inline keyboard buttons (empty when there is none)."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            rows: list[list[JSONDict]] = self.reply_markup["inline_keyboard"]
            return rows
        return []

    @property
    def buttons(self) -> list[list[Button]]:
        """Inline keyboard as rows of (text, callback_data or url)."""
        return [
            [
                Button(
                    b["text"],
                    b.get("callback_data", b.get("url", b.get("copy_text", {}).get("text"))),
                )
                for b in row
            ]
            for row in self.inline_keyboard
        ]

    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [button.text for row in self.buttons for button in row]

    @property
    def keyboard(self) -> list[list[str]] | None:
        """Texts of the reply keyboard attached to this message, if any."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return None
        return [
            [b["text"] if isinstance(b, dict) else str(b) for b in row]
            for row in self.reply_markup["keyboard"]
        ]

    def find_button(self, text: str) -> tuple[int, int]:
        """Return (row, column) of the button with this text, or the only one containing it."""
        rows = self.buttons
        exact = [(r, c) for r, row in enumerate(rows) for c, b in enumerate(row) if b.text == text]
        if exact:
            return exact[0]
        needle = text.casefold()
        partial = [
            (r, c)
            for r, row in enumerate(rows)
            for c, b in enumerate(row)
            if needle in b.text.casefold()
        ]
        if len(partial) == 1:
            return partial[0]
        found = "ambiguous" if partial else "not found"
        raise AssertionError(
            f"button {text!r} {found} on message #{self.message_id}; buttons: {self.button_texts()}"
        )

    def snapshot(self) -> Revision:
        """Capture the current content, e.g. before an edit."""
        return Revision(
            text=self.body,
            raw=self.raw,
            parse_mode=self.parse_mode,
            entities=tuple(self.entities),
            reply_markup=self.reply_markup,
            date=self.edit_date or self.date,
        )

    def to_api(self, *, with_reply: bool = True) -> JSONDict:
        """Return the Message JSON object as the Bot API would."""
        data: JSONDict = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.kind == "text":
            data["text"] = self.body
            if self.entities:
                data["entities"] = self.entities
        elif self.body:
            data["caption"] = self.body
            if self.entities:
                data["caption_entities"] = self.entities
        if self.photo is not None:
            data["photo"] = [self.photo.to_api()]
        if self.document is not None:
            data["document"] = self.document.to_api()
        if self.contact is not None:
            data["contact"] = self.contact
        if self.options.get("protect_content"):
            data["has_protected_content"] = True
        if self.reply_to is not None and with_reply:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        return data

    def render(self) -> str:
        """Human-readable form for transcripts and assertion messages."""
        who = "bot" if self.outgoing else "user"
        head = f"[{who} #{self.message_id}]"
        if self.kind == "photo" and self.photo is not None:
            head += f" <photo {self.photo.size} bytes>"
        elif self.kind == "document" and self.document is not None:
            head += f" <document {self.document.filename!r}, {self.document.size} bytes>"
        elif self.kind == "contact" and self.contact is not None:
            head += f" <contact {self.contact.get('phone_number')}>"
        if self.edited:
            head += " (edited)"
        if self.deleted:
            head += " (deleted)"
        lines = [f"{head} {self.body}".rstrip()]
        lines.extend("    " + " ".join(f"[{b.text}]" for b in row) for row in self.buttons)
        if self.keyboard:
            lines.extend("    " + " ".join(f"({text})" for text in row) for row in self.keyboard)
        return "\n".join(lines)

    def __repr__(self) -> str:
        who = "bot" if self.outgoing else "user"
        extra = f", buttons={self.button_texts()!r}" if self.reply_markup else ""
        flags = ", edited" if self.edited else ""
        flags += ", deleted" if self.deleted else ""
        return f"ChatMessage(#{self.message_id} {who} {self.kind} {self.body!r}{extra}{flags})"


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """The bot's answerCallbackQuery call for a pressed button."""

    query_id: str
    chat_id: int | None
    message_id: int | None
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    time: float


@dataclass(frozen=True, slots=True)
class BotEvent:
    """Something the bot did (or failed to do) that a chat participant could observe."""

    kind: EventKind
    chat_id: int | None
    method: str
    time: float
    message: ChatMessage | None = None
    previous: Revision | None = None
    answer: CallbackAnswer | None = None
    action: str | None = None
    status: int | None = None
    description: str | None = None

    def describe(self) -> str:
        """One-line summary for logs and assertion messages."""
        if self.kind == "error":
            return f"{self.method} failed: {self.status} {self.description}"
        if self.kind == "callback_answer" and self.answer is not None:
            alert = " (alert)" if self.answer.show_alert else ""
            return f"answerCallbackQuery{alert}: {self.answer.text!r}"
        if self.kind == "chat_action":
            return f"chat action {self.action}"
        assert self.message is not None
        verb = {"message": "sent", "edit": "edited", "delete": "deleted"}[self.kind]
        return f"{verb} {self.message.render()}"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One HTTP call of the bot, for rate and throughput assertions."""

    method: str
    params: JSONDict
    time: float
    status: int
    description: str | None = None
    chat_id: int | None = None
    files: Mapping[str, tuple[str | None, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200


@dataclass(slots=True)
class Fault:
    """An injected failure or delay for matching requests."""

    method: str | None
    chat_id: int | None = None
    status: int | None = None
    description: str | None = None
    retry_after: int | None = None
    times: int | None = 1
    delay: float = 0.0
    json_body: bool = True
    deliver: bool = False
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        """Whether the fault has fired as many times as requested."""
        return self.times is not None and self.hits >= self.times

    def matches(self, method_key: str, chat_id: int | None) -> bool:
        """Whether a request to ``method_key`` (lower case) for ``chat_id`` is affected."""
        if self.exhausted:
            return False
        if self.method is None:
            if method_key in _FAULT_EXEMPT:
                return False
        elif self.method.lower() != method_key:
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def error(self) -> BotApiError | None:
        """The error the fault answers with, if any."""
        if self.status is None:
            return None
        description = self.description
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(self.status, "Error")
            if self.status == 429:
                description = f"Too Many Requests: retry after {self.retry_after or 1}"
        retry_after = self.retry_after
        if self.status == 429 and retry_after is None:
            retry_after = 1
        return BotApiError(self.status, description, retry_after=retry_after)

    def fail(self) -> None:
        """Raise the configured failure, if the fault has one."""
        error = self.error()
        if error is None:
            return
        if self.json_body:
            raise error
        raise _RawFailure(error.status, error.description)


@dataclass(slots=True)
class ChatState:
    """Server-side state of one chat."""

    chat: JSONDict
    user: JSONDict | None = None
    messages: list[ChatMessage] = field(default_factory=list)
    by_id: dict[int, ChatMessage] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False
    started: bool = True
    reply_keyboard: JSONDict | None = None

    @property
    def chat_id(self) -> int:
        """The chat id."""
        return int(self.chat["id"])

    def allocate_message_id(self) -> int:
        """Message ids are shared by both directions and grow per chat."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def add(self, message: ChatMessage) -> None:
        """Append a message to the transcript."""
        self.messages.append(message)
        self.by_id[message.message_id] = message


@dataclass(slots=True)
class _CallbackQuery:
    query_id: str
    chat_id: int
    message_id: int
    data: str | None
    answer: CallbackAnswer | None = None


@dataclass(slots=True)
class _FloodControl:
    global_per_second: int | None
    per_chat_per_second: int | None
    sent: deque[tuple[float, int]] = field(default_factory=deque)


def _update_chat_id(update: JSONDict) -> int | None:
    """Chat an update belongs to, found in its message, callback query or member change."""
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        holder = value.get("message", value) if "chat" not in value else value
        chat = holder.get("chat") if isinstance(holder, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    return None


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------

_INT_RE = re.compile(r"-?\d+")


def _coerce_form_value(name: str, value: str) -> Any:
    # Form fields carry everything as strings; PTB JSON-encodes objects into them.
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if name in _INT_PARAMS and _INT_RE.fullmatch(value):
        return int(value)
    if name in _FLOAT_PARAMS:
        try:
            return float(value)
        except ValueError:
            return value
    if name in _BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


class ApiParams:
    """Decoded parameters of one Bot API call with typed, Telegram-style validating getters."""

    __slots__ = ("files", "method", "values")

    def __init__(
        self,
        method: str,
        values: JSONDict,
        files: Mapping[str, UploadedFile] | None = None,
    ) -> None:
        self.method = method
        self.values = values
        self.files: Mapping[str, UploadedFile] = files or {}

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.files

    def get(self, name: str, default: Any = None) -> Any:
        """Raw decoded value."""
        return self.values.get(name, default)

    def get_str(self, name: str, *, required: str | None = None) -> str | None:
        """String parameter; ``required`` is the error detail when it is missing."""
        value = self.values.get(name)
        if value is None or value == "":
            if required is not None:
                raise _bad_request(required)
            return None if value is None else ""
        if isinstance(value, (dict, list, bool)):
            raise _bad_request(f"parameter {name} must be a String")
        return str(value)

    def get_int(self, name: str, *, required: str | None = None) -> int | None:
        """Integer parameter; accepts numeric strings like Telegram does."""
        value = self.values.get(name)
        if value is None or value == "":
            if required is not None:
                raise _bad_request(required)
            return None
        if isinstance(value, bool):
            raise _bad_request(f"parameter {name} must be an Integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
            return int(value)
        raise _bad_request(f"parameter {name} must be an Integer")

    def get_float(self, name: str, default: float = 0.0) -> float:
        """Numeric parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"parameter {name} must be a Number") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """Boolean parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        return str(value).lower() in ("true", "1")

    def get_json(self, name: str, *, error: str | None = None) -> Any:
        """Object/array parameter, decoding a JSON string if needed."""
        value = self.values.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(error or f"can't parse {name} JSON object") from None
        return value

    def get_input_file(self, name: str) -> UploadedFile | str | None:
        """A file parameter: an uploaded part, a file_id/URL, or ``attach://`` reference."""
        if name in self.files:
            return self.files[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            attached = self.files.get(value[len("attach://") :])
            if attached is None:
                raise _bad_request(f"file {value} not found in the request")
            return attached
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise _bad_request(f"parameter {name} must be a file_id, URL or upload")
        return value


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of PNG/JPEG/GIF/WEBP/BMP data, or None if it isn't an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return width, abs(height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 0, 0
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return 0, 0


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Method:
    name: str
    handler: MethodHandler


class FakeBotApi:
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
        self._callback_queries: dict[str, _CallbackQuery] = {}
        self._updates: deque[tuple[int, JSONDict]] = deque()
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._processed_updates: set[int] = set()
        self.filtered_updates: set[int] = set()
        self._tracking_processing = 0
        self._flood: _FloodControl | None = None
        self._ids = itertools.count(1)
        self._poll_generation = 0
        self._poll_wakeup = asyncio.Event()
        self._activity = asyncio.Event()
        self._chat_activity: dict[int, asyncio.Event] = {}
        self._update_chats: dict[int, int] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._methods: dict[str, _Method] = {}
        for name, handler in self._builtin_methods():
            self.register_method(name, handler)

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the HTTP server (port 0 picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("server already started")
        app = web.Application(client_max_size=MAX_REQUEST_SIZE)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Cancelling handlers of dropped connections retires long polls abandoned by PTB.
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self._closing = False
        host, port = runner.addresses[0][:2]
        self.port = port
        self._url = f"http://{host}:{port}"
        _LOG.debug("Fake Bot API listening on %s", self._url)

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._wake_pollers()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Root URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self._url is None:
            raise RuntimeError("server is not started")
        return self._url

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder.base_url``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder.base_file_url``."""
        return f"{self.url}/file/bot"

    def application_builder(self) -> InitApplicationBuilder:
        """A PTB ``ApplicationBuilder`` pointed at this server with the server's token."""
        # Imported late so the server itself doesn't depend on PTB.
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

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

    # ---- updates --------------------------------------------------------------------------

    def push_update(self, update: JSONDict) -> int:
        """Queue an update for getUpdates; returns the assigned update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        payload = {"update_id": update_id, **{k: v for k, v in update.items() if k != "update_id"}}
        chat_id = _update_chat_id(payload)
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
        self._callback_queries[query_id] = _CallbackQuery(
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
            raise _bad_request("can't parse BotCommandScope JSON object")
        key = str(scope["type"])
        for part in ("chat_id", "user_id"):
            if part in scope:
                value = scope[part]
                if isinstance(value, str) and _INT_RE.fullmatch(value):
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
        self._flood = _FloodControl(global_per_second, per_chat_per_second)

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
            size = _image_size(data) or (0, 0)
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
        self._methods[name.lower()] = _Method(name, handler)

    def calls(self, method: str) -> list[RecordedRequest]:
        """Recorded requests of one method (case-insensitive)."""
        key = method.lower()
        return [r for r in self.requests if r.method.lower() == key]

    # ---- HTTP -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        name = request.match_info["method"]
        entry = self._methods.get(name.lower())
        params = ApiParams(entry.name if entry is not None else name, {})
        try:
            if request.match_info["token"] != self.token:
                raise BotApiError(401, "Unauthorized")
            values, files = await self._read_params(request)
            params = ApiParams(params.method, values, files)
            if entry is None:
                _LOG.warning(
                    "Fake Bot API has no method %r; answering 404 as Telegram does for unknown "
                    "methods (extend it with register_method)",
                    name,
                )
                raise BotApiError(404, "Not Found")
            result = await self._dispatch(entry, params)
        except BotApiError as exc:
            self._record_failure(params, started, exc.status, exc.description)
            return self._json_response(exc.status, exc.to_payload())
        except _RawFailure as failure:
            self._record_failure(params, started, failure.status, failure.description)
            return web.Response(status=failure.status, text=failure.body, content_type="text/html")
        except Exception as exc:
            # A sandbox bug must not look like a hang to the bot: answer like a broken server.
            _LOG.exception("Fake Bot API crashed handling %s", params.method)
            error = BotApiError(500, f"Internal Server Error: {exc!r}")
            self._record_failure(params, started, error.status, error.description)
            return self._json_response(error.status, error.to_payload())
        self._record(params, started, 200, None, self._chat_id_hint(params))
        return self._json_response(200, {"ok": True, "result": result})

    async def _dispatch(self, entry: _Method, params: ApiParams) -> Any:
        key = entry.name.lower()
        chat_id = self._chat_id_hint(params)
        delay = self.latency if key not in _FAULT_EXEMPT else 0.0
        fault = next((f for f in self.faults if f.matches(key, chat_id)), None)
        if fault is not None:
            fault.hits += 1
            delay += fault.delay
            if fault.exhausted:
                self.faults.remove(fault)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None and not fault.deliver:
            fault.fail()
        if key in ("sendmessage", "sendphoto", "senddocument"):
            self._check_flood(chat_id)
        result = entry.handler(params)
        if inspect.isawaitable(result):
            result = await result
        if fault is not None:
            fault.fail()
        return result

    def _check_flood(self, chat_id: int | None) -> None:
        flood = self._flood
        if flood is None:
            return
        now = time.monotonic()
        while flood.sent and flood.sent[0][0] <= now - 1.0:
            flood.sent.popleft()
        too_many = flood.global_per_second is not None and (
            len(flood.sent) >= flood.global_per_second
        )
        if not too_many and flood.per_chat_per_second is not None:
            in_chat = sum(1 for _, chat in flood.sent if chat == chat_id)
            too_many = in_chat >= flood.per_chat_per_second
        if too_many:
            raise BotApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        flood.sent.append((now, chat_id if chat_id is not None else 0))

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        values: JSONDict = {
            key: _coerce_form_value(key, value) for key, value in request.query.items()
        }
        files: dict[str, UploadedFile] = {}
        if not request.body_exists:
            return values, files
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                raise _bad_request("can't parse JSON encoded request parameters") from None
            if not isinstance(body, dict):
                raise _bad_request("JSON encoded request parameters must be an object")
            values.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                else:
                    values[key] = _coerce_form_value(key, str(value))
        else:
            await request.read()
        return values, files

    def _record_failure(
        self, params: ApiParams, started: float, status: int, description: str
    ) -> None:
        chat_id = self._chat_id_hint(params)
        self._record(params, started, status, description, chat_id)
        if chat_id is not None and params.method.lower() not in _FAULT_EXEMPT:
            self._add_event(
                BotEvent(
                    kind="error",
                    chat_id=chat_id,
                    method=params.method,
                    time=time.monotonic(),
                    status=status,
                    description=description,
                )
            )

    @staticmethod
    def _json_response(status: int, payload: JSONDict) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
            content_type="application/json",
        )

    def _record(
        self,
        params: ApiParams,
        started: float,
        status: int,
        description: str | None,
        chat_id: int | None,
    ) -> None:
        if not self.record_requests:
            return
        self.requests.append(
            RecordedRequest(
                method=params.method,
                params=params.values,
                time=started,
                status=status,
                description=description,
                chat_id=chat_id,
                files={
                    name: (upload.filename, len(upload.data))
                    for name, upload in params.files.items()
                },
            )
        )

    def _chat_id_hint(self, params: ApiParams) -> int | None:
        value = params.values.get("chat_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            if _INT_RE.fullmatch(value):
                return int(value)
            found = self._chat_by_username(value)
            return found.chat_id if found else None
        query_id = params.values.get("callback_query_id")
        if query_id is not None:
            query = self._callback_queries.get(str(query_id))
            return query.chat_id if query else None
        return None

    def _chat_by_username(self, username: str) -> ChatState | None:
        name = username.removeprefix("@").lower()
        for state in self._chats.values():
            if str(state.chat.get("username", "")).lower() == name:
                return state
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # ---- method helpers -------------------------------------------------------------------

    def _target_chat(self, params: ApiParams, *, write: bool = True) -> ChatState:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        state: ChatState | None
        if isinstance(value, str) and not _INT_RE.fullmatch(value):
            state = self._chat_by_username(value)
        else:
            chat_id = params.get_int("chat_id", required="chat_id is empty")
            assert chat_id is not None
            state = self._chats.get(chat_id)
            if state is None and self.accept_unknown_chats:
                state = self._auto_chat(chat_id)
        if state is None:
            raise _bad_request("chat not found")
        if write:
            if state.blocked:
                raise BotApiError(403, "Forbidden: bot was blocked by the user")
            if state.user is not None and not state.started:
                raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return state

    def _target_message(self, params: ApiParams, state: ChatState, missing: str) -> ChatMessage:
        if params.get("inline_message_id") is not None:
            raise _bad_request("inline messages are not supported by the sandbox")
        message_id = params.get_int("message_id", required="message identifier is not specified")
        assert message_id is not None
        message = state.by_id.get(message_id)
        if message is None or message.deleted:
            raise _bad_request(missing)
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
            raise _bad_request("message to be replied not found")
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
    def _parse_caption(params: ApiParams) -> tuple[str, str, str | None, list[JSONDict]]:
        raw = params.get_str("caption") or ""
        parse_mode = params.get_str("parse_mode")
        entities = params.get_json("caption_entities", error="can't parse entities JSON object")
        body, parsed = parse_formatted_text(raw, parse_mode, entities) if raw else ("", [])
        if len(body) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        return body, raw, parse_mode, parsed

    def _input_file(self, params: ApiParams, name: str, kind: FileKind) -> StoredFile:
        value = params.get_input_file(name)
        if value is None:
            raise _bad_request(f"there is no {name} in the request")
        if isinstance(value, UploadedFile):
            if kind == "photo":
                if _image_size(value.data) is None:
                    raise _bad_request("IMAGE_PROCESS_FAILED")
                if len(value.data) > MAX_PHOTO_SIZE:
                    raise _bad_request("PHOTO_INVALID_DIMENSIONS")
            return self.store_file(
                value.data, kind=kind, filename=value.filename, mime_type=value.content_type
            )
        known = self._files.get(value)
        if known is not None:
            if known.kind != kind:
                raise _bad_request(f"can't use file of type {known.kind.title()} as {kind.title()}")
            return known
        if value.startswith(("http://", "https://")):
            filename = urlsplit(value).path.rsplit("/", 1)[-1] or None
            return self.store_file(b"", kind=kind, filename=filename, url=value)
        raise _bad_request("wrong file identifier/HTTP URL specified")

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
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
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
            raise _bad_request("invalid language code specified")
        return self._scope_key(scope), language

    def _set_my_commands(self, params: ApiParams) -> bool:
        commands = params.get_json("commands", error="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise _bad_request("too many commands specified")
        cleaned: list[JSONDict] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", "")).strip()
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
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
        raw = params.get_str("text")
        if not raw:
            raise _bad_request("message text is empty")
        parse_mode = params.get_str("parse_mode")
        entities = params.get_json("entities", error="can't parse entities JSON object")
        body, parsed = parse_formatted_text(raw, parse_mode, entities)
        if not body:
            raise _bad_request("message text is empty")
        if len(body) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        markup = _validate_reply_markup(
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
        markup = _validate_reply_markup(
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
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
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
        return _validate_reply_markup(
            params.get_json("reply_markup", error="can't parse reply keyboard markup JSON object"),
            inline_only=True,
        )

    def _editable(self, params: ApiParams) -> ChatMessage:
        state = self._target_chat(params)
        message = self._target_message(params, state, "message to edit not found")
        if not message.outgoing:
            raise _bad_request("message can't be edited")
        return message

    def _edit_message_text(self, params: ApiParams) -> JSONDict:
        message = self._editable(params)
        if message.kind != "text":
            raise _bad_request("there is no text in the message to edit")
        raw = params.get_str("text")
        if not raw:
            raise _bad_request("message text is empty")
        parse_mode = params.get_str("parse_mode")
        entities = params.get_json("entities", error="can't parse entities JSON object")
        body, parsed = parse_formatted_text(raw, parse_mode, entities)
        if not body:
            raise _bad_request("message text is empty")
        if len(body) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
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
            raise _bad_request("there is no caption in the message to edit")
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
            raise _bad_request("message identifiers are not specified")
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
            raise _bad_request(_QUERY_INVALID.removeprefix("Bad Request: "))
        text = params.get_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
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
            raise _bad_request("wrong parameter action in request")
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
            raise _bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise _bad_request("file is too big")
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
