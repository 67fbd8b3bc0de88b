"""Callback data: short, prefixed strings that always fit Telegram's 64 bytes."""

from __future__ import annotations

MAX_BYTES = 64
CARD = "card"
FIND = "find"
FIND_KEY = "findk"
NOOP = "noop"


class CallbackTooLong(ValueError):
    """Raised instead of ever handing Telegram more than 64 bytes."""


def pack(*parts: object) -> str:
    data = ":".join(str(p) for p in parts)
    if len(data.encode()) > MAX_BYTES:
        raise CallbackTooLong(data)
    return data


def fits(*parts: object) -> bool:
    return len(":".join(str(p) for p in parts).encode()) <= MAX_BYTES


def unpack(data: str | None) -> list[str]:
    """Split callback data; the last field may itself contain ':' (search text)."""
    if not data:
        return []
    head, _, rest = data.partition(":")
    if head == FIND:
        page, _, text = rest.partition(":")
        return [head, page, text]
    return data.split(":")
