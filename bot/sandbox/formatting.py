"""Text formatting: HTML / MarkdownV2 / Markdown parsing into plain text + entities, and back."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

__all__ = [
    "EntityParseError",
    "entities_to_html",
    "parse_formatted_text",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "sort_entities",
    "utf16_len",
]

JSONDict = dict[str, Any]


class EntityParseError(ValueError):
    """Markup that Telegram would refuse with "can't parse entities"."""


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


def sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
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
    return builder.text(), sort_entities(entities)


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
    return builder.text(), sort_entities(entities)


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
    return builder.text(), sort_entities([e for e in entities if e["length"] > 0])


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
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    entities: list[JSONDict] = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("can't parse entities JSON object")
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if kind not in _ENTITY_TYPES:
            raise bad_request(f"can't parse entities: unsupported entity type {kind!r}")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0:
            raise bad_request("can't parse entities: entity offset and length must be integers")
        end = min(offset + length, total)
        if end > offset:
            entities.append({**item, "offset": offset, "length": end - offset})
    return sort_entities(entities)


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
                raise bad_request(f"unsupported parse_mode {parse_mode!r}")
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
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
        for e in sort_entities(list(entities))
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
