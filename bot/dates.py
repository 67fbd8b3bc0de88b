"""Due dates as people type them on a phone, in Russian or English: pure functions, no I/O.

Every answer is relative to `today`, the user's own date in their time zone. The rules:

- "today"/"сегодня", "tomorrow"/"завтра", "day after tomorrow"/"послезавтра";
- "in 3 days"/"через 3 дня", "in a week"/"через неделю", "in 2 months"/"через 2 месяца",
  numbers as digits or words ("через два дня", "in three days"), and "+3" for three days;
- a weekday ("friday", "в пятницу", "до пятницы", "к пятнице", "on Fri", "пт") is its next
  occurrence after today, never today itself (on a Friday, "Friday" is a week ahead);
- "next friday"/"в следующую пятницу" is the Friday of next calendar week (weeks start on
  Monday), so on a Wednesday it is nine days ahead, on a Friday seven; "next week" is next Monday;
- DD.MM.YYYY, DD.MM.YY, YYYY-MM-DD, and "20 ноября"/"20 Nov"/"Nov 20" with an optional year;
  without a year, DD.MM and "20 Nov" mean this year, or next year once the date has passed;
- a date before today is refused ("past"), as is one more than two years ahead ("too_far").
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, timedelta

MAX_AHEAD = timedelta(days=730)
# Words before a date that say nothing about it: "до пятницы", "by Friday", "on 12.03".
CONNECTORS = frozenset(
    {"до", "к", "ко", "на", "в", "во", "by", "until", "till", "on", "due", "before", "at", "this"}
    | {"эту", "этот", "это", "эта", "этой"}
)
_NEXT = frozenset({"next", "следующий", "следующую", "следующее", "следующей", "следующая", "след"})
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "один": 1, "одну": 1, "одна": 1,
    "two": 2, "два": 2, "две": 2, "пару": 2, "пара": 2, "couple": 2,
    "three": 3, "три": 3, "four": 4, "четыре": 4, "five": 5, "пять": 5, "six": 6, "шесть": 6,
    "seven": 7, "семь": 7, "eight": 8, "восемь": 8, "nine": 9, "девять": 9, "ten": 10, "десять": 10,
}  # fmt: skip
_DAY_UNITS = frozenset({"день", "дня", "дней", "дн", "д", "day", "days", "d"})
_WEEK_UNITS = frozenset(
    {"неделя", "неделю", "недели", "неделе", "недель", "нед", "week", "weeks", "wk", "w"}
)
_MONTH_UNITS = frozenset({"месяц", "месяца", "месяцев", "мес", "month", "months", "mo"})
# Exact word forms: a stem would also match "средний" or "средств" at the end of a sentence.
_WEEKDAYS = tuple(
    re.compile(pattern)
    for pattern in (
        r"^(понедельник(а|у|е|ом)?|пн|mon|monday)$",
        r"^(вторник(а|у|е|ом)?|вт|tue|tues|tuesday)$",
        r"^(сред(а|у|ы|е|ой)|ср|wed|weds|wednesday)$",
        r"^(четверг(а|у|е|ом)?|чт|thu|thur|thurs|thursday)$",
        r"^(пятниц(а|у|ы|е|ей)|пт|fri|friday)$",
        r"^(суббот(а|у|ы|е|ой)|сб|sat|saturday)$",
        r"^(воскресень(е|я|ю|ем)|вс|sun|sunday)$",
    )
)
_MONTHS = tuple(
    re.compile(pattern)
    for pattern in (
        r"^(январ[яье]|янв|jan|january)$",
        r"^(феврал[яье]|февр?|feb|february)$",
        r"^(марта?|мар|mar|march)$",
        r"^(апрел[яье]|апр|apr|april)$",
        r"^(ма[яй]|may)$",
        r"^(июн[яье]|июн|jun|june)$",
        r"^(июл[яье]|июл|jul|july)$",
        r"^(августа?|авг|aug|august)$",
        r"^(сентябр[яье]|сент?|sep|sept|september)$",
        r"^(октябр[яье]|окт|oct|october)$",
        r"^(ноябр[яье]|нояб?|nov|november)$",
        r"^(декабр[яье]|дек|dec|december)$",
    )
)
_DOTTED = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_PLUS = re.compile(r"^\+(\d{1,3})(?:d|д)?$")
_EDGE_PUNCTUATION = " \t\n.,;:!?()«»\"'—–-→"


class DateError(ValueError):
    """Not a usable due date. `reason`: unknown, invalid (31.02), past or too_far."""

    def __init__(self, reason: str, text: str = "") -> None:
        super().__init__(f"{reason}: {text!r}")
        self.reason = reason
        self.text = text


def _words(text: str) -> list[str]:
    cleaned = text.lower().replace("ё", "е").strip(_EDGE_PUNCTUATION)
    cleaned = re.sub(r"(?<=\w)\.(?=\s|$)", " ", cleaned)  # "след. пятницу", "20 нояб."
    return [w for w in re.split(r"[\s,]+", cleaned) if w]


def _weekday(word: str) -> int | None:
    return next((i for i, pattern in enumerate(_WEEKDAYS) if pattern.match(word)), None)


def _month(word: str) -> int | None:
    return next((i + 1 for i, pattern in enumerate(_MONTHS) if pattern.match(word)), None)


def _number(word: str) -> int | None:
    if word.isdigit() and len(word) <= 3:
        return int(word)
    return _NUMBERS.get(word)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _make(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError("invalid", text) from None


def _yearless(month: int, day: int, today: date, text: str) -> date:
    if month == 2 and day == 29:  # the next 29 February, even if years away
        year = today.year
        while True:
            try:
                found = date(year, 2, 29)
            except ValueError:
                year += 1
                continue
            if found >= today:
                return found
            year += 1
    found = _make(today.year, month, day, text)
    return found if found >= today else _make(today.year + 1, month, day, text)


def _full_year(text: str) -> int:
    return int(text) + 2000 if len(text) == 2 else int(text)


def _relative(words: list[str], today: date) -> date | None:
    """'через 3 дня', 'in a week', 'in a couple of days', 'через два месяца'."""
    if not words or words[0] not in ("через", "in"):
        return None
    rest = [w for w in words[1:] if w != "of"]
    if len(rest) == 3 and rest[0] == "a":  # "in a couple of days"
        rest = rest[1:]
    if len(rest) == 1:
        if rest[0] not in ("день", "неделю", "месяц"):  # "через неделю"; English says "in a week"
            return None
        count, unit = 1, rest[0]
    elif len(rest) == 2:
        number = _number(rest[0])
        if number is None:
            return None
        count, unit = number, rest[1]
    else:
        return None
    if unit in _DAY_UNITS:
        return today + timedelta(days=count)
    if unit in _WEEK_UNITS:
        return today + timedelta(weeks=count)
    if unit in _MONTH_UNITS:
        return _add_months(today, count)
    return None


def _named_day(words: list[str], today: date, text: str) -> date | None:
    """'20 ноября', '20 nov 2027', 'nov 20'."""
    if len(words) not in (2, 3):
        return None
    first, second = words[0], words[1]
    if first.isdigit() and (month := _month(second)) is not None:
        day = int(first)
    elif second.isdigit() and (month := _month(first)) is not None:
        day = int(second)
    else:
        return None
    if len(words) == 3:
        if not re.fullmatch(r"\d{4}", words[2]):
            return None
        return _make(int(words[2]), month, day, text)
    return _yearless(month, day, today, text)


def _parse(text: str, today: date) -> date:
    words = _words(text)
    while words and words[0] in CONNECTORS:
        words = words[1:]
    nxt = False
    if words and words[0] in _NEXT:
        nxt, words = True, words[1:]
    if not words:
        raise DateError("unknown", text)
    joined = " ".join(words)
    if not nxt:
        if joined in ("сегодня", "today"):
            return today
        if joined in ("завтра", "tomorrow", "tmrw", "tmr"):
            return today + timedelta(days=1)
        if joined in ("послезавтра", "day after tomorrow", "the day after tomorrow"):
            return today + timedelta(days=2)
        if match := _PLUS.match(joined):
            return today + timedelta(days=int(match[1]))
        if (found := _relative(words, today)) is not None:
            return found
        if match := _ISO.match(joined):
            return _make(int(match[1]), int(match[2]), int(match[3]), text)
        if match := _DOTTED.match(joined):
            day, month = int(match[1]), int(match[2])
            if match[3]:
                return _make(_full_year(match[3]), month, day, text)
            if not (1 <= month <= 12 and 1 <= day <= 31):
                raise DateError("invalid", text)
            return _yearless(month, day, today, text)
        if (found := _named_day(words, today, text)) is not None:
            return found
    if len(words) == 1 and (weekday := _weekday(words[0])) is not None:
        ahead = (weekday - today.weekday()) % 7 or 7
        if nxt:  # the one in next calendar week
            monday = today + timedelta(days=7 - today.weekday())
            return monday + timedelta(days=weekday)
        return today + timedelta(days=ahead)
    if nxt and words[0] in _WEEK_UNITS and len(words) == 1:
        return today + timedelta(days=7 - today.weekday())
    raise DateError("unknown", text)


def parse_date(text: str, today: date) -> date:
    """The date `text` names, relative to `today`; raises DateError when it is not a due date."""
    found = _parse(text, today)
    if found < today:
        raise DateError("past", text)
    if found - today > MAX_AHEAD:
        raise DateError("too_far", text)
    return found


def split_trailing_date(text: str, today: date, *, max_words: int = 6) -> tuple[str, date | None]:
    """'send the PO by Friday' → ('send the PO', Friday); without a date at the end, (text, None).

    Only the end of the text is looked at. A date there that is past or too far raises DateError:
    the user meant a date, and silently keeping it as text would hide the mistake.
    """
    words = text.split()
    for count in range(min(max_words, len(words)), 0, -1):
        tail = " ".join(words[-count:])
        try:
            found = parse_date(tail, today)
        except DateError as error:
            if error.reason in ("past", "too_far"):
                raise
            continue
        head = " ".join(words[:-count])
        return _strip_connectors(head), found
    return text.strip(), None


def _strip_connectors(text: str) -> str:
    words = text.rstrip(_EDGE_PUNCTUATION).split(" ")
    while words and words[-1].lower().strip(_EDGE_PUNCTUATION) in CONNECTORS | _NEXT:
        words.pop()
    return " ".join(words).rstrip(_EDGE_PUNCTUATION).strip()
