"""Due dates as typed: relative words, weekdays, numeric and named dates, in ru and en."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dates import DateError, parse_date, split_trailing_date

FRIDAY = date(2026, 11, 20)
WEDNESDAY = date(2026, 11, 18)
SUNDAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("сегодня", FRIDAY),
        ("Today", FRIDAY),
        ("завтра", date(2026, 11, 21)),
        ("tomorrow.", date(2026, 11, 21)),
        ("послезавтра", date(2026, 11, 22)),
        ("day after tomorrow", date(2026, 11, 22)),
        ("через 3 дня", date(2026, 11, 23)),
        ("через три дня", date(2026, 11, 23)),
        ("через 5 дней", date(2026, 11, 25)),
        ("через день", date(2026, 11, 21)),
        ("через пару дней", date(2026, 11, 22)),
        ("in 3 days", date(2026, 11, 23)),
        ("in three days", date(2026, 11, 23)),
        ("in a couple of days", date(2026, 11, 22)),
        ("in 1 day", date(2026, 11, 21)),
        ("через неделю", date(2026, 11, 27)),
        ("через 2 недели", date(2026, 12, 4)),
        ("in a week", date(2026, 11, 27)),
        ("in 2 weeks", date(2026, 12, 4)),
        ("через месяц", date(2026, 12, 20)),
        ("in 3 months", date(2027, 2, 20)),
        ("+3", date(2026, 11, 23)),
        ("+10д", date(2026, 11, 30)),
    ],
)
def test_relative_words(text: str, expected: date) -> None:
    assert parse_date(text, FRIDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A bare weekday is the next one after today; on a Friday, "Friday" is a week ahead.
        ("в понедельник", date(2026, 11, 23)),
        ("понедельник", date(2026, 11, 23)),
        ("Monday", date(2026, 11, 23)),
        ("on Mon", date(2026, 11, 23)),
        ("во вторник", date(2026, 11, 24)),
        ("в среду", date(2026, 11, 25)),
        ("до среды", date(2026, 11, 25)),
        ("к четвергу", date(2026, 11, 26)),
        ("в пятницу", date(2026, 11, 27)),
        ("до пятницы", date(2026, 11, 27)),
        ("friday", date(2026, 11, 27)),
        ("в субботу", date(2026, 11, 21)),
        ("в воскресенье", date(2026, 11, 22)),
        ("пт", date(2026, 11, 27)),
        ("by Thu", date(2026, 11, 26)),
        # "Next" is the one in next calendar week: on a Friday that is the coming Monday.
        ("next Monday", date(2026, 11, 23)),
        ("в следующий понедельник", date(2026, 11, 23)),
        ("в след. понедельник", date(2026, 11, 23)),
        ("next friday", date(2026, 11, 27)),
        ("в следующую пятницу", date(2026, 11, 27)),
        ("next week", date(2026, 11, 23)),
        ("на следующей неделе", date(2026, 11, 23)),
    ],
)
def test_weekdays_on_a_friday(text: str, expected: date) -> None:
    assert parse_date(text, FRIDAY) == expected


def test_this_and_next_weekday_differ_mid_week() -> None:
    assert parse_date("friday", WEDNESDAY) == date(2026, 11, 20)
    assert parse_date("в пятницу", WEDNESDAY) == date(2026, 11, 20)
    assert parse_date("next friday", WEDNESDAY) == date(2026, 11, 27)
    assert parse_date("в следующую пятницу", WEDNESDAY) == date(2026, 11, 27)
    assert parse_date("wednesday", WEDNESDAY) == date(2026, 11, 25)
    # On a Sunday, next week starts tomorrow.
    assert parse_date("next monday", SUNDAY) == date(2026, 11, 23)
    assert parse_date("monday", SUNDAY) == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25.12.2026", date(2026, 12, 25)),
        ("25.12.26", date(2026, 12, 25)),
        ("5.1.2027", date(2027, 1, 5)),
        ("2026-12-25", date(2026, 12, 25)),
        ("2027-01-05", date(2027, 1, 5)),
        ("25.12", date(2026, 12, 25)),
        ("20.11", FRIDAY),  # today is not past
        ("19.11", date(2027, 11, 19)),  # past this year: next year
        ("01.02", date(2027, 2, 1)),
        ("25 декабря", date(2026, 12, 25)),
        ("1 марта", date(2027, 3, 1)),
        ("20 ноября", FRIDAY),
        ("25 dec", date(2026, 12, 25)),
        ("Dec 25", date(2026, 12, 25)),
        ("3 January 2027", date(2027, 1, 3)),
        ("до 25.12", date(2026, 12, 25)),
        ("by 2026-12-01", date(2026, 12, 1)),
        ("29.02", date(2028, 2, 29)),
    ],
)
def test_numeric_and_named_dates(text: str, expected: date) -> None:
    assert parse_date(text, FRIDAY) == expected


@pytest.mark.parametrize("text", ["19.11.2026", "2026-11-19", "01.01.2020", "3 января 2026"])
def test_past_dates_are_refused(text: str) -> None:
    with pytest.raises(DateError) as error:
        parse_date(text, FRIDAY)
    assert error.value.reason == "past"


@pytest.mark.parametrize("text", ["31.02.2027", "2027-13-01", "32.01", "30 февраля 2027"])
def test_impossible_dates_are_invalid(text: str) -> None:
    with pytest.raises(DateError) as error:
        parse_date(text, FRIDAY)
    assert error.value.reason == "invalid"


@pytest.mark.parametrize(
    "text", ["", "когда-нибудь", "soon", "42", "средний", "средств", "next", "через", "in days"]
)
def test_unknown_text_is_not_a_date(text: str) -> None:
    with pytest.raises(DateError) as error:
        parse_date(text, FRIDAY)
    assert error.value.reason == "unknown"


def test_far_future_is_refused() -> None:
    with pytest.raises(DateError) as error:
        parse_date("01.01.2035", FRIDAY)
    assert error.value.reason == "too_far"


def test_the_users_today_decides() -> None:
    # The same words on another day: everything is relative to the user's own date.
    assert parse_date("завтра", date(2026, 12, 31)) == date(2027, 1, 1)
    assert parse_date("через месяц", date(2027, 1, 31)) == date(2027, 2, 28)
    assert parse_date("01.01", date(2026, 12, 31)) == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("text", "step", "due"),
    [
        ("send the PO by Friday", "send the PO", date(2026, 11, 27)),
        ("отправить КП до пятницы", "отправить КП", date(2026, 11, 27)),
        ("перезвонить через 3 дня", "перезвонить", date(2026, 11, 23)),
        ("call back in a week", "call back", date(2026, 11, 27)),
        ("встреча в следующий понедельник", "встреча", date(2026, 11, 23)),
        ("demo, 25.12.2026", "demo", date(2026, 12, 25)),
        ("счёт — завтра", "счёт", date(2026, 11, 21)),
        ("ждём оплату, нет средств", "ждём оплату, нет средств", None),
        ("meet at 10.30", "meet at 10.30", None),
        ("discuss the average order", "discuss the average order", None),
        ("завтра", "", date(2026, 11, 21)),
    ],
)
def test_trailing_date_is_split_from_a_step(text: str, step: str, due: date | None) -> None:
    assert split_trailing_date(text, FRIDAY) == (step, due)


def test_a_trailing_past_date_is_reported_not_swallowed() -> None:
    with pytest.raises(DateError) as error:
        split_trailing_date("send the PO by 01.11.2026", FRIDAY)
    assert error.value.reason == "past"
