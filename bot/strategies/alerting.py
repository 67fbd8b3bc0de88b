"""When a client at risk deserves a morning alert, and when a person's digest is due: pure rules.

"At risk" is the stored risk level (computed by the strategy engine) in `ALERT_LEVELS`. A client
is alerted about when it enters that set or gets worse, judged against what *this person* was
last alerted about for it (their alert memory), never against yesterday's score: a nightly
recomputation before the run therefore cannot swallow an alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import AT_RISK_LEVELS, RiskLevel

# The threshold: medium and high risk are in the digest (the same set /summary counts).
ALERT_LEVELS: frozenset[RiskLevel] = AT_RISK_LEVELS
LEVEL_RANK: Mapping[RiskLevel | None, int] = {
    None: 0,
    RiskLevel.LOW: 1,
    RiskLevel.MEDIUM: 2,
    RiskLevel.HIGH: 3,
}
# A score rise this large (0–100 scale) counts as worsening even within the same level.
SCORE_JUMP = 15
SNOOZE_DAYS = (7, 14, 30)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RU_WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


class Why(StrEnum):
    """Why a client is in today's digest."""

    NEW = "new"  # entered the at-risk levels (or this person never heard of it)
    WORSE = "worse"  # level went up, or the score rose by SCORE_JUMP or more
    REASON = "reason"  # a reason appeared that the person was not told about
    SNOOZE_ENDED = "snooze_ended"  # still at risk when the snooze ran out


@dataclass(frozen=True)
class RiskState:
    """A client's stored risk, as the strategy engine left it."""

    level: RiskLevel | None
    score: int | None
    reasons: frozenset[str]

    @property
    def at_risk(self) -> bool:
        return self.level in ALERT_LEVELS


@dataclass(frozen=True)
class Remembered:
    """What a person was last alerted about for a client, and their snooze."""

    level: RiskLevel | None
    score: int | None
    reasons: frozenset[str]
    snooze_until: date | None = None

    def snoozed(self, today: date) -> bool:
        return self.snooze_until is not None and today < self.snooze_until


def reason_keys(reasons: Iterable[Mapping[str, Any]] | None) -> frozenset[str]:
    """The keys of stored risk reasons ([{"key": …, "params": {…}}, …])."""
    return frozenset(
        str(r["key"]) for r in reasons or () if isinstance(r, Mapping) and r.get("key")
    )


def alert_reason(current: RiskState, memory: Remembered | None, today: date) -> Why | None:
    """Why this client should be in today's digest, or None when it should not.

    A snooze silences a client until it ends, except when things get materially worse: the
    level goes up or a new reason appears. A mere score drift does not break through a snooze.
    """
    if not current.at_risk:
        return None
    if memory is None or memory.level not in ALERT_LEVELS:
        return Why.NEW
    if LEVEL_RANK[current.level] > LEVEL_RANK[memory.level]:
        return Why.WORSE
    if current.reasons - memory.reasons:
        return Why.REASON
    if memory.snoozed(today):
        return None
    if memory.snooze_until is not None:
        return Why.SNOOZE_ENDED
    jumped = (
        current.score is not None
        and memory.score is not None
        and current.score - memory.score >= SCORE_JUMP
    )
    return Why.WORSE if jumped else None


# ---- schedule ------------------------------------------------------------------------------


def parse_days(text: str | None) -> frozenset[int]:
    """Stored alert days ("1,2,3,4,5", ISO weekdays) as a set; junk is ignored."""
    days = set()
    for part in (text or "").split(","):
        part = part.strip()
        if part.isdigit() and 1 <= int(part) <= 7:
            days.add(int(part))
    return frozenset(days)


def format_days(days: Iterable[int]) -> str:
    """The stored form of a set of ISO weekdays: "1,2,3,4,5"."""
    return ",".join(str(d) for d in sorted(set(days)))


def _day_number(token: str) -> int | None:
    token = token.strip().lower()
    if token.isdigit():
        number = int(token)
        return number if 1 <= number <= 7 else None
    for names in (WEEKDAYS, _RU_WEEKDAYS):
        for index, name in enumerate(names):
            if token[: len(name)] == name and len(token) >= len(name):
                return index + 1
    return None


def parse_days_arg(text: str) -> frozenset[int] | None:
    """Days as a person types them: "1-5", "mon,tue,fri", "пн-пт", "1 3 5"; None if unclear."""
    days: set[int] = set()
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        if "-" in part:
            first, _, last = part.partition("-")
            start, end = _day_number(first), _day_number(last)
            if start is None or end is None:
                return None
            day = start
            while True:
                days.add(day)
                if day == end:
                    break
                day = day % 7 + 1
        else:
            number = _day_number(part)
            if number is None:
                return None
            days.add(number)
    return frozenset(days) or None


def parse_time_arg(text: str) -> time | None:
    """A 24-hour time as typed: "9:00", "09:30", "18.45"; None if it is not one."""
    match = _HHMM.match(text.strip())
    return time(int(match[1]), int(match[2])) if match else None


def zone(name: str | None, default: str) -> ZoneInfo:
    """A person's time zone, falling back to the company's when unset or unknown."""
    if name:
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError):
            pass
    return ZoneInfo(default)


def due_day(
    now: datetime,
    tz: ZoneInfo,
    at: time,
    days: frozenset[int],
    grace: timedelta | None,
) -> date | None:
    """The local day whose digest is due at `now`, or None.

    The latest scheduled moment (a day in `days`, at `at`, in `tz`) that has passed counts, as
    long as `now` is within `grace` of it; `grace=None` means until the end of that local day.
    Looking back one day lets a grace period run past midnight.
    """
    today = now.astimezone(tz).date()
    for day in (today, today - timedelta(days=1)):
        if day.isoweekday() not in days:
            continue
        start = datetime.combine(day, at, tzinfo=tz)
        if start > now:
            continue
        if grace is None:
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        else:
            end = start + grace
        return day if now < end else None
    return None
