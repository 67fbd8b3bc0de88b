"""The pure rules of the morning digest: what is news for a person, and when their digest is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import RiskLevel
from bot.strategies.alerting import (
    SCORE_JUMP,
    Remembered,
    RiskState,
    Why,
    alert_reason,
    due_day,
    format_days,
    parse_days,
    parse_days_arg,
    parse_time_arg,
    reason_keys,
    zone,
)

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW
TODAY = date(2026, 11, 20)  # a Friday
MOSCOW = ZoneInfo("Europe/Moscow")
WORKDAYS = frozenset({1, 2, 3, 4, 5})


def state(level: RiskLevel | None, score: int | None = 60, *reasons: str) -> RiskState:
    return RiskState(level, score, frozenset(reasons or ("no_purchases",)))


def memory(
    level: RiskLevel | None, score: int | None = 60, *reasons: str, snooze: date | None = None
) -> Remembered:
    return Remembered(level, score, frozenset(reasons or ("no_purchases",)), snooze)


def test_not_at_risk_is_never_news() -> None:
    assert alert_reason(state(LOW), None, TODAY) is None
    assert alert_reason(state(None, None), None, TODAY) is None
    assert alert_reason(state(LOW), memory(HIGH), TODAY) is None


def test_entering_the_at_risk_levels_is_news() -> None:
    assert alert_reason(state(MEDIUM), None, TODAY) == Why.NEW
    assert alert_reason(state(HIGH), None, TODAY) == Why.NEW
    # The person was told about it when it was low (a snooze-only row) or it recovered since.
    assert alert_reason(state(MEDIUM), memory(LOW), TODAY) == Why.NEW
    assert alert_reason(state(MEDIUM), memory(None, None), TODAY) == Why.NEW


def test_the_same_risk_again_is_not_news() -> None:
    assert alert_reason(state(HIGH, 80), memory(HIGH, 80), TODAY) is None
    assert alert_reason(state(MEDIUM, 40), memory(HIGH, 80), TODAY) is None  # better: quiet
    assert alert_reason(state(HIGH, 80 + SCORE_JUMP - 1), memory(HIGH, 80), TODAY) is None


def test_worsening_is_news() -> None:
    assert alert_reason(state(HIGH, 70), memory(MEDIUM, 69), TODAY) == Why.WORSE
    assert alert_reason(state(MEDIUM, 40 + SCORE_JUMP), memory(MEDIUM, 40), TODAY) == Why.WORSE
    assert alert_reason(state(MEDIUM, 50, "a", "b"), memory(MEDIUM, 50, "a"), TODAY) == Why.REASON
    # A reason that went away is not news; only a new one is.
    assert alert_reason(state(MEDIUM, 50, "a"), memory(MEDIUM, 50, "a", "b"), TODAY) is None


def test_a_snooze_silences_until_it_ends_unless_things_get_worse() -> None:
    until = TODAY + timedelta(days=7)
    snoozed = memory(MEDIUM, 40, "a", snooze=until)
    assert alert_reason(state(MEDIUM, 40, "a"), snoozed, TODAY) is None
    assert alert_reason(state(MEDIUM, 40 + SCORE_JUMP, "a"), snoozed, TODAY) is None
    assert alert_reason(state(HIGH, 60, "a"), snoozed, TODAY) == Why.WORSE
    assert alert_reason(state(MEDIUM, 40, "a", "b"), snoozed, TODAY) == Why.REASON
    assert alert_reason(state(MEDIUM, 40, "a"), snoozed, until) == Why.SNOOZE_ENDED
    assert alert_reason(state(LOW, 10, "a"), snoozed, until) is None


def test_reason_keys_ignore_junk() -> None:
    stored = [{"key": "no_purchases", "params": {"days": 90}}, {"params": {}}, "x", {"key": ""}]
    assert reason_keys(stored) == frozenset({"no_purchases"})
    assert reason_keys(None) == frozenset()


@pytest.mark.parametrize(
    ("typed", "days"),
    [
        ("1-5", "1,2,3,4,5"),
        ("mon,wed,fri", "1,3,5"),
        ("пн-пт", "1,2,3,4,5"),
        ("1 3 5", "1,3,5"),
        ("sat-mon", "1,6,7"),
        ("Monday, Tuesday", "1,2"),
        ("7", "7"),
    ],
)
def test_days_as_people_type_them(typed: str, days: str) -> None:
    parsed = parse_days_arg(typed)
    assert parsed is not None and format_days(parsed) == days
    assert parse_days(days) == parsed


@pytest.mark.parametrize("typed", ["", "8", "0-3", "someday", "mon-"])
def test_unclear_days_are_refused(typed: str) -> None:
    assert parse_days_arg(typed) is None


def test_times_and_zones() -> None:
    assert parse_time_arg("9:05") == time(9, 5)
    assert parse_time_arg("18.45") == time(18, 45)
    assert parse_time_arg("24:00") is None and parse_time_arg("9") is None
    assert zone("Asia/Tokyo", "Europe/Moscow").key == "Asia/Tokyo"
    assert zone("Nowhere/Land", "Europe/Moscow").key == "Europe/Moscow"
    assert zone(None, "Europe/Moscow").key == "Europe/Moscow"


def at(local: str, tz: ZoneInfo = MOSCOW) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(UTC)


def test_due_after_the_alert_time_on_alert_days_until_the_end_of_the_day() -> None:
    nine = time(9, 0)
    assert due_day(at("2026-11-20 08:59"), MOSCOW, nine, WORKDAYS, None) is None
    assert due_day(at("2026-11-20 09:00"), MOSCOW, nine, WORKDAYS, None) == TODAY
    assert due_day(at("2026-11-20 23:59"), MOSCOW, nine, WORKDAYS, None) == TODAY
    assert due_day(at("2026-11-21 10:00"), MOSCOW, nine, WORKDAYS, None) is None  # Saturday
    assert due_day(at("2026-11-21 10:00"), MOSCOW, nine, frozenset({6}), None) == date(2026, 11, 21)


def test_grace_limits_the_catch_up_and_may_run_past_midnight() -> None:
    nine, two_hours = time(9, 0), timedelta(hours=2)
    assert due_day(at("2026-11-20 10:59"), MOSCOW, nine, WORKDAYS, two_hours) == TODAY
    assert due_day(at("2026-11-20 11:00"), MOSCOW, nine, WORKDAYS, two_hours) is None
    late = time(23, 30)
    assert due_day(at("2026-11-21 00:30"), MOSCOW, late, WORKDAYS, two_hours) == TODAY
    assert due_day(at("2026-11-21 01:30"), MOSCOW, late, WORKDAYS, two_hours) is None


def test_each_person_in_their_own_time_zone() -> None:
    now = at("2026-11-20 09:30")  # 06:30 UTC: 15:30 in Tokyo, 07:30 in London
    nine = time(9, 0)
    assert due_day(now, ZoneInfo("Asia/Tokyo"), nine, WORKDAYS, None) == TODAY
    assert due_day(now, ZoneInfo("Europe/London"), nine, WORKDAYS, None) is None
    # Already Saturday in Tokyo: Friday's digest is past its day, Saturday is off.
    late = at("2026-11-20 19:00")
    assert due_day(late, ZoneInfo("Asia/Tokyo"), nine, WORKDAYS, None) is None


def test_daylight_saving_days() -> None:
    berlin, sunday, half_past_two = ZoneInfo("Europe/Berlin"), frozenset({7}), time(2, 30)
    spring = date(2026, 3, 29)  # 02:00 → 03:00: 02:30 does not exist and reads as 03:30
    assert due_day(at("2026-03-29 03:29", berlin), berlin, half_past_two, sunday, None) is None
    assert due_day(at("2026-03-29 03:30", berlin), berlin, half_past_two, sunday, None) == spring
    autumn = date(2026, 10, 25)  # 03:00 → 02:00: 02:30 happens twice; due from the first
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert due_day(first - timedelta(minutes=1), berlin, half_past_two, sunday, None) is None
    assert due_day(first, berlin, half_past_two, sunday, None) == autumn
    assert due_day(first + timedelta(hours=1), berlin, half_past_two, sunday, None) == autumn
