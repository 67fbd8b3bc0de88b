"""Translations: one TOML catalogue per language under templates/locales, plural-aware."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_interval, format_timedelta
from babel.numbers import (
    format_compact_decimal,
    format_decimal,
    format_percent,
    get_group_symbol,
    get_minus_sign_symbol,
)
from markupsafe import Markup, escape

import templates

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
LOCALES_DIR = Path(templates.__file__).resolve().parent / "locales"


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, Any]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not _is_plural(value):
            _flatten(name, value, out)
        else:
            out[name] = value


def _is_plural(value: dict[str, Any]) -> bool:
    return bool(value) and set(value) <= {"zero", "one", "two", "few", "many", "other"}


class CatalogError(ValueError):
    """Two catalogue files define the same key."""


@lru_cache(maxsize=len(LANGUAGES))
def catalog(lang: str) -> dict[str, Any]:
    """The flattened catalogue of one language: 'card.owner' → text or plural table.

    Each capability keeps its texts in its own file, templates/locales/<lang>/<capability>.toml.
    """
    out: dict[str, Any] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.toml")):
        with path.open("rb") as handle:
            part: dict[str, Any] = {}
            _flatten("", tomllib.load(handle), part)
        clash = out.keys() & part.keys()
        if clash:
            raise CatalogError(f"{path.name} redefines {sorted(clash)[:5]}")
        out.update(part)
    return out


def pick_language(*candidates: str | None) -> str:
    """The first supported language among the candidates ('ru-RU' counts as 'ru')."""
    for candidate in candidates:
        if candidate:
            short = candidate.split("-")[0].split("_")[0].lower()
            if short in LANGUAGES:
                return short
    return DEFAULT_LANGUAGE


def translate(lang: str, key: str, /, n: int | None = None, **params: Any) -> Markup:
    """The text for `key`; catalogue markup is trusted, every parameter is HTML-escaped.

    `n` is the count that picks the plural form; it is formatted here, so pass the number.
    """
    if n is not None and not isinstance(n, int):
        raise TypeError(f"{key}: n must be an int count, got {type(n).__name__}")
    entry = catalog(lang).get(key)
    if entry is None:
        entry = catalog("en").get(key, key)
    if isinstance(entry, dict):
        form = _plural_form(lang)(abs(n or 0))
        entry = entry.get(form) or entry.get("other") or next(iter(entry.values()))
    if n is not None:
        params.setdefault("n", format_number(n, lang))
    if not params:
        return Markup(entry)
    return Markup(entry).format(**{k: escape(v) for k, v in params.items()})


class Translator:
    """`t('key', **params)` bound to one language, for handlers and templates."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE

    def __call__(self, key: str, /, n: int | None = None, **params: Any) -> Markup:
        return translate(self.lang, key, n, **params)

    def text(self, key: str, /, n: int | None = None, **params: Any) -> str:
        """Plain text (for button labels and alerts, which Telegram does not parse as HTML)."""
        return Markup(self(key, n, **params)).unescape()


@lru_cache(maxsize=8)
def _grouping(lang: str) -> tuple[str, str]:
    return get_group_symbol(lang), get_minus_sign_symbol(lang)


@lru_cache(maxsize=8)
def _plural_form(lang: str) -> Any:
    return Locale.parse(lang).plural_form


def _whole(value: int, lang: str) -> str:
    # Babel's general formatter costs tens of microseconds a call and a card formats dozens
    # of counts and sums; whole numbers only need the locale's group and minus signs.
    group, minus = _grouping(lang)
    digits = f"{abs(value):,}".replace(",", group)
    return minus + digits if value < 0 else digits


def format_number(value: int | float | Decimal, lang: str) -> str:
    if isinstance(value, int):
        return _whole(value, lang)
    return format_decimal(value, locale=lang)


def format_money(value: Decimal | int | None, lang: str, *, symbol: str = "₽") -> str:
    """Whole roubles with locale grouping: '1 234 000 ₽'; kopecks do not matter on a phone."""
    if value is None:
        return "—"
    whole = int(Decimal(value).quantize(Decimal(1)))
    return f"{_whole(whole, lang)}\u00a0{symbol}"


def format_compact_money(value: Decimal | int | None, lang: str, *, symbol: str = "₽") -> str:
    """Large sums the way people say them: '1,2 млрд ₽', '45.6M ₽'."""
    if value is None:
        return "—"
    text = format_compact_decimal(Decimal(value), locale=lang, fraction_digits=1)
    return f"{text}\u00a0{symbol}"


def format_share(value: float, lang: str) -> str:
    """A share as a whole percentage: '37 %' in Russian, '37%' in English."""
    return format_percent(value, locale=lang)


def format_day(value: date | datetime | None, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, "d MMM yyyy", locale=lang)


def format_period(first: date, last: date, lang: str) -> str:
    """Two days as one span, the locale's way: '16–22 нояб. 2026 г.', 'Nov 16 – 22, 2026'."""
    return format_interval(first, last, "yMMMd", locale=lang)


def format_moment(value: datetime | None, lang: str, tz: Any = None) -> str:
    if value is None:
        return "—"
    return format_datetime(value, "d MMM, HH:mm", tzinfo=tz, locale=lang)


def format_ago(delta: timedelta, lang: str) -> str:
    """'3 days ago' / '3 дня назад'; the future reads 'in 3 days'."""
    return format_timedelta(
        -delta, granularity="day", threshold=1.0, add_direction=True, locale=lang
    )
