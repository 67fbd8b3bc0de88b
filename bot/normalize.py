"""Normalising what people type or import: phones, e-mails, tax ids, tags. Pure functions."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "RU"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_SPLIT = re.compile(r"[;|,]")


class InvalidValue(ValueError):
    """A value that cannot be normalised; the message says why, for a user."""


def normalize_phone(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 form of a phone typed any common way ("8 (912) 345-67-89" → "+79123456789")."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidValue(f"not a phone number: {text!r}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidValue(f"not a valid phone number: {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_phone(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """Like normalize_phone, but None instead of an error (for search queries)."""
    try:
        return normalize_phone(raw, region)
    except InvalidValue:
        return None


def format_phone(e164: str | None) -> str:
    """A readable international form of a stored E.164 phone."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_email(raw: str | None) -> str | None:
    """Lower-cased, trimmed e-mail; an obviously broken address is an error."""
    if raw is None:
        return None
    text = str(raw).strip().lower()
    if not text:
        return None
    if not _EMAIL.match(text):
        raise InvalidValue(f"not an e-mail address: {text!r}")
    return text


def normalize_tax_id(raw: str | None) -> str | None:
    """Digits of a tax id (INN is 10 or 12 digits; others are kept as typed, without spaces)."""
    if raw is None:
        return None
    text = re.sub(r"[\s-]", "", str(raw))
    return text or None


def parse_tags(raw: str | None) -> list[str]:
    """Tags from "vip; wholesale|moscow": trimmed, lower-cased, unique, in order."""
    if not raw:
        return []
    seen: dict[str, None] = {}
    for part in _TAG_SPLIT.split(str(raw)):
        tag = part.strip().lower()
        if tag:
            seen.setdefault(tag[:50], None)
    return list(seen)


def clean_text(raw: str | None, limit: int) -> str:
    """Trimmed text with control characters removed, cut to `limit` characters."""
    if raw is None:
        return ""
    text = "".join(ch for ch in str(raw) if ch in "\n\t" or ch.isprintable()).strip()
    return text[:limit]
