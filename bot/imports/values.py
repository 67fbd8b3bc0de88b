"""Parsing cells: dates, money, flags, ids. Pure functions raising ValueError on bad input."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from bot.domain import InteractionKind
from db.types import to_money

T = TypeVar("T")

MONEY_LIMIT = Decimal("1e12")
EXCEL_EPOCH = date(1899, 12, 30)
EXCEL_MAX_SERIAL = 2_958_465  # 9999-12-31

_DATETIME = re.compile(
    r"""^(?:(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?P<y>\d{4}|\d{2})
         |(?P<Y>\d{4})-(?P<M>\d{1,2})-(?P<D>\d{1,2}))
        (?:(?:\s+|T)(?P<H>\d{1,2}):(?P<I>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?
           \s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$""",
    re.VERBOSE,
)
_CURRENCY = re.compile(r"(?i)₽|руб\.?|р\.|rub\b|rur\b|[$€]")
_GROUPING = re.compile(r"[\s'’]")
_PLAIN_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")

TRUE = frozenset({"1", "yes", "y", "true", "да", "д", "+", "истина", "x", "✓"})
FALSE = frozenset({"0", "no", "n", "false", "нет", "н", "-", "ложь"})

KINDS: dict[str, InteractionKind] = {kind.value: kind for kind in InteractionKind}
KINDS.update(
    {
        "звонок": InteractionKind.CALL,
        "телефон": InteractionKind.CALL,
        "phone": InteractionKind.CALL,
        "встреча": InteractionKind.MEETING,
        "письмо": InteractionKind.EMAIL,
        "e-mail": InteractionKind.EMAIL,
        "почта": InteractionKind.EMAIL,
        "сообщение": InteractionKind.MESSAGE,
        "мессенджер": InteractionKind.MESSAGE,
        "sms": InteractionKind.MESSAGE,
        "смс": InteractionKind.MESSAGE,
        "визит": InteractionKind.VISIT,
        "заметка": InteractionKind.NOTE,
        "примечание": InteractionKind.NOTE,
        "комментарий": InteractionKind.NOTE,
    }
)


class Memo(Generic[T]):
    """A per-import cache of a parser: files repeat dates, phones and client codes a lot."""

    __slots__ = ("_func", "_memo")

    def __init__(self, func: Callable[[Any], T]) -> None:
        self._func = func
        self._memo: dict[Hashable, T | ValueError] = {}

    def __call__(self, raw: Any) -> T:
        try:
            result = self._memo[raw]
        except KeyError:
            try:
                result = self._func(raw)
            except ValueError as exc:
                result = exc
            self._memo[raw] = result
        if isinstance(result, ValueError):
            raise result.with_traceback(None)
        return result


def text(raw: Any) -> str | None:
    """A cell as trimmed text; numbers as typed (an integral float loses its ".0")."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.strip() or None
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.isoformat(sep=" ")
    return str(raw).strip() or None


def _excel_serial(value: float) -> datetime:
    if not 0 < value < EXCEL_MAX_SERIAL:
        raise ValueError(value)
    return datetime.combine(EXCEL_EPOCH, time()) + timedelta(days=value)


def parse_datetime(raw: Any) -> datetime:
    """A date or date-time; naive unless the cell carried an offset ("Z", "+03:00")."""
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime.combine(raw, time())
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return _excel_serial(raw)
    match = _DATETIME.match(str(raw).strip())
    if match is None:
        raise ValueError(raw)
    g = match.groupdict()
    if g["Y"]:
        year, month, day = int(g["Y"]), int(g["M"]), int(g["D"])
    else:
        year, month, day = int(g["y"]), int(g["m"]), int(g["d"])
        if len(g["y"]) == 2:
            year += 2000
    hour, minute, second = int(g["H"] or 0), int(g["I"] or 0), int(g["S"] or 0)
    zone: tzinfo | None = None
    if g["tz"]:
        zone = UTC if g["tz"] == "Z" else datetime.strptime(g["tz"], "%z").tzinfo
    # datetime() refuses 31.02 or 25:00 with ValueError, which is what callers catch.
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


def parse_date(raw: Any) -> date:
    """A calendar date; a time part (1C writes "31.01.2026 0:00:00") is dropped."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    return parse_datetime(raw).date()


def aware_utc(moment: datetime, zone: ZoneInfo) -> datetime:
    """A moment in UTC; naive moments are read in the company's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def parse_money(raw: Any) -> Decimal:
    """Exact Decimal rounded to 0.01 from "1 234,56", "1234.56", "-8400 ₽", "(500)" or a number."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    elif isinstance(raw, float):
        # repr is the shortest text that round-trips, so 0.1 stays 0.1 and not 0.1000000000000000055
        value = Decimal(repr(raw))
    else:
        value = _money_text(str(raw))
    if not value.is_finite() or abs(value) >= MONEY_LIMIT:
        raise ValueError(raw)
    return to_money(value)


def _money_text(raw: str) -> Decimal:
    cleaned = _GROUPING.sub("", _CURRENCY.sub("", raw)).replace("−", "-")
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        # Accounting notation for a negative amount.
        negative, cleaned = True, cleaned[1:-1]
    elif cleaned[:1] in ("-", "+"):
        negative, cleaned = cleaned[0] == "-", cleaned[1:]
    if "," in cleaned and "." in cleaned:
        # Whichever comes last is the decimal separator: "1.234,56" or "1,234.56".
        grouping = "." if cleaned.rfind(",") > cleaned.rfind(".") else ","
        cleaned = cleaned.replace(grouping, "").replace(",", ".")
    elif cleaned.count(",") == 1:
        cleaned = cleaned.replace(",", ".")
    elif cleaned.count(",") > 1:
        cleaned = cleaned.replace(",", "")
    elif cleaned.count(".") > 1:
        cleaned = cleaned.replace(".", "")
    if not _PLAIN_NUMBER.match(cleaned):
        raise ValueError(raw)
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(raw) from None
    return -value if negative else value


def parse_flag(raw: Any) -> bool:
    """Yes/no in English or Russian, 1/0, true/false; empty means no."""
    if raw is None:
        return False
    if isinstance(raw, bool):
        return raw
    key = (text(raw) or "").lower()
    if key in TRUE:
        return True
    if key in FALSE or not key:
        return False
    raise ValueError(raw)


def parse_telegram_id(raw: Any) -> int:
    """A Telegram user id; from XLSX it may arrive as a float."""
    value = text(raw)
    if value is None or not _INTEGER.match(value):
        raise ValueError(raw)
    return int(value)


def parse_kind(raw: Any) -> InteractionKind:
    """An interaction kind from its English key or a Russian word."""
    key = (text(raw) or "").lower().replace("ё", "е")
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(raw) from None


class RowProblem(Exception):
    """A row that cannot be imported: a RowError code and the offending cell."""

    def __init__(self, code: str, value: object = None) -> None:
        super().__init__(code)
        self.code = code
        self.value = value


def checked(parse: Callable[[Any], T], raw: Any, code: str) -> T | None:
    """`parse(raw)`, None for an empty cell, RowProblem(code) for a bad one."""
    if raw is None:
        return None
    try:
        return parse(raw)
    except ValueError:
        raise RowProblem(code, raw) from None


def required(parse: Callable[[Any], T], raw: Any, code: str) -> T:
    """Like `checked`, but an empty cell is RowProblem('missing_<code>')."""
    value = checked(parse, raw, code)
    if value is None:
        raise RowProblem(f"missing_{code}")
    return value
