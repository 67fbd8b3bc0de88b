"""When the weekly summary is due: Monday at the person's alert time, the week's Monday by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.config import load_settings
from bot.domain import Role
from bot.services.delivery import DIGEST, person_day
from bot.services.weekly import PLAN, monday_of
from db.models import Staff
from tests.alerts_support import moscow

SETTINGS = load_settings(timezone="Europe/Moscow", alert_time="09:00", _env_file=None)
MONDAY = date(2026, 11, 23)


def supervisor(**fields: object) -> Staff:
    values: dict[str, object] = {"id": 1, "telegram_id": 1, "name": "Света"}
    values.update(fields)
    return Staff(role=Role.SUPERVISOR, **values)


def due(person: Staff, when: datetime, **options: object) -> date | None:
    settings = options.pop("settings", SETTINGS)
    return person_day(
        person,
        settings,  # type: ignore[arg-type]
        when,
        manual=bool(options.get("manual")),
        day=options.get("day"),  # type: ignore[arg-type]
        plan=PLAN,
    )


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-23 08:59", None),
        ("2026-11-23 09:00", MONDAY),
        ("2026-11-23 23:59", MONDAY),  # no grace set: all Monday
        ("2026-11-24 00:01", None),
        ("2026-11-24 09:00", None),
        ("2026-11-22 09:00", None),
        ("2026-11-30 09:00", date(2026, 11, 30)),
    ],
)
def test_due_on_monday_from_the_alert_time(when: str, expected: date | None) -> None:
    assert due(supervisor(), moscow(when)) == expected


def test_monday_even_when_the_digest_days_leave_it_out() -> None:
    person = supervisor(alert_days="2,3,4,5")
    assert person_day(person, SETTINGS, moscow("2026-11-23 09:00"), manual=False, day=None) is None
    assert due(person, moscow("2026-11-23 09:00")) == MONDAY


def test_own_time_and_zone_and_the_grace() -> None:
    person = supervisor(alert_time=time(23, 0), timezone="Asia/Yekaterinburg")
    assert due(person, datetime(2026, 11, 23, 17, 59, tzinfo=UTC)) is None  # 22:59 there
    assert due(person, datetime(2026, 11, 23, 18, 0, tzinfo=UTC)) == MONDAY
    graced = SETTINGS.model_copy(update={"alert_grace_hours": 2})
    past_midnight = datetime(2026, 11, 23, 19, 30, tzinfo=UTC)  # 00:30 on Tuesday there
    assert due(person, past_midnight, settings=graced) == MONDAY
    assert due(person, past_midnight) is None  # without a grace, Monday ended at midnight


def test_by_hand_it_is_the_week_of_the_day() -> None:
    wednesday = moscow("2026-11-25 15:00")
    assert due(supervisor(), wednesday, manual=True) == MONDAY
    assert due(supervisor(), wednesday, day=date(2026, 11, 29)) == MONDAY
    assert person_day(supervisor(), SETTINGS, wednesday, manual=True, day=None, plan=DIGEST) == (
        date(2026, 11, 25)
    )
    assert [monday_of(date(2026, 11, d)) for d in (23, 24, 29, 30)] == [MONDAY] * 3 + [
        date(2026, 11, 30)
    ]
