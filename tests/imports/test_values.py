"""Cell parsers: dates, money as exact Decimal, flags, kinds, telegram ids."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.domain import InteractionKind
from bot.imports.values import (
    Memo,
    aware_utc,
    parse_date,
    parse_datetime,
    parse_flag,
    parse_kind,
    parse_money,
    parse_telegram_id,
    text,
)


@pytest.mark.parametrize(
    "raw",
    [
        "15.01.2026",
        "2026-01-15",
        "15/01/2026",
        "15.01.26",
        "15.01.2026 0:00:00",
        date(2026, 1, 15),
        datetime(2026, 1, 15, 13, 30),
        46037,  # the Excel serial number of 2026-01-15
    ],
)
def test_dates(raw: object) -> None:
    assert parse_date(raw) == date(2026, 1, 15)


@pytest.mark.parametrize("raw", ["31.02.2026", "2026-13-01", "вчера", "15.01", "1/2/3/4"])
def test_bad_dates(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_date(raw)


def test_datetimes_naive_and_with_offset() -> None:
    assert parse_datetime("15.01.2026 09:05") == datetime(2026, 1, 15, 9, 5)
    assert parse_datetime("2026-01-15T09:05:30") == datetime(2026, 1, 15, 9, 5, 30)
    assert parse_datetime("2026-01-15T09:05:30Z") == datetime(2026, 1, 15, 9, 5, 30, tzinfo=UTC)
    plus3 = timezone(timedelta(hours=3))
    assert parse_datetime("2026-01-15 12:00+03:00") == datetime(2026, 1, 15, 12, tzinfo=plus3)
    moscow = ZoneInfo("Europe/Moscow")
    assert aware_utc(datetime(2026, 1, 15, 12), moscow) == datetime(2026, 1, 15, 9, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("15.01.2026 25:00")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("-8400", "-8400.00"),
        ("8 400 ₽", "8400.00"),
        ("8400 руб.", "8400.00"),
        ("1.234.567,8", "1234567.80"),
        ("1,234,567.80", "1234567.80"),
        ("(500)", "-500.00"),
        ("0,005", "0.01"),
        (1234.56, "1234.56"),
        (0.1, "0.10"),
        (42, "42.00"),
        (Decimal("3.14159"), "3.14"),
    ],
)
def test_money_is_exact(raw: object, expected: str) -> None:
    value = parse_money(raw)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)
    assert str(value) == expected


@pytest.mark.parametrize("raw", ["", "abc", "12,34,5x", "1e5", "NaN", "--5", True, float("inf")])
def test_bad_money(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_money(raw)


def test_flags() -> None:
    for raw in ("1", "yes", "Да", "TRUE", True, 1):
        assert parse_flag(raw) is True
    for raw in ("0", "no", "нет", "false", None, "", False, 0):
        assert parse_flag(raw) is False
    with pytest.raises(ValueError):
        parse_flag("maybe")


def test_kinds_english_and_russian() -> None:
    assert parse_kind("Звонок") is InteractionKind.CALL
    assert parse_kind("meeting") is InteractionKind.MEETING
    assert parse_kind("письмо") is InteractionKind.EMAIL
    assert parse_kind("ЗАМЕТКА") is InteractionKind.NOTE
    with pytest.raises(ValueError):
        parse_kind("fax")


def test_text_and_telegram_ids_from_numeric_cells() -> None:
    assert text(79123456789.0) == "79123456789"
    assert text("  x ") == "x"
    assert text("   ") is None
    assert parse_telegram_id(123456789.0) == 123456789
    with pytest.raises(ValueError):
        parse_telegram_id("@ivan")


def test_memo_caches_results_and_errors() -> None:
    calls: list[str] = []

    def parse(raw: str) -> int:
        calls.append(raw)
        return int(raw)

    memo = Memo(parse)
    assert memo("1") == 1 and memo("1") == 1
    for _ in range(2):
        with pytest.raises(ValueError):
            memo("x")
    assert calls == ["1", "x"]
