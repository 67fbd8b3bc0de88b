"""The one-line /log syntax: client, kind word (ru/en), outcome mark, text, next step and date."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain import InteractionKind, Outcome
from bot.services.interactions import LogLine, parse_log_line

FRIDAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "42 call Discussed renewal, sends PO Friday",
            LogLine(42, InteractionKind.CALL, None, "Discussed renewal, sends PO Friday"),
        ),
        (
            "#42 звонок Обсудили продление → отправить КП до пятницы",
            LogLine(
                42, InteractionKind.CALL, None, "Обсудили продление", "отправить КП",
                date(2026, 11, 27),
            ),
        ),
        (
            "42 Встреча + Показали каталог -> демо next Monday",
            LogLine(
                42, InteractionKind.MEETING, Outcome.POSITIVE, "Показали каталог", "демо",
                date(2026, 11, 23),
            ),
        ),
        (
            "42 email - Отказались next: напомнить через месяц",
            LogLine(
                42, InteractionKind.EMAIL, Outcome.NEGATIVE, "Отказались", "напомнить",
                date(2026, 12, 20),
            ),
        ),
        ("42 письмо = Прайс", LogLine(42, InteractionKind.EMAIL, Outcome.NEUTRAL, "Прайс")),
        ("42 визит: склад осмотрели", LogLine(42, InteractionKind.VISIT, None, "склад осмотрели")),
        ("42 sms напомнил", LogLine(42, InteractionKind.MESSAGE, None, "напомнил")),
        ("42 call недозвон", LogLine(42, InteractionKind.CALL, Outcome.NO_ANSWER, "недозвон")),
        ("42 заметка", LogLine(42, InteractionKind.NOTE, None, "")),
        ("42", LogLine(42)),
        ("42 Обсудили поставку", LogLine(42, None, None, "Обсудили поставку")),
        # A dash inside the text is not an outcome mark.
        ("42 call Re-sent - ok", LogLine(42, InteractionKind.CALL, None, "Re-sent - ok")),
        (
            "42 call Обсудили\nвторую строку\nдалее: счёт",
            LogLine(42, InteractionKind.CALL, None, "Обсудили\nвторую строку", "счёт"),
        ),
    ],
)  # fmt: skip
def test_lines(line: str, expected: LogLine) -> None:
    assert parse_log_line(line, FRIDAY) == expected


def test_a_past_date_in_the_next_step_is_reported() -> None:
    parsed = parse_log_line("42 call Говорили → счёт до 01.11.2026", FRIDAY)
    assert parsed is not None
    assert parsed.step == "счёт до 01.11.2026" and parsed.due is None
    assert parsed.due_error == "past"


@pytest.mark.parametrize("line", ["", "   ", "call 42", "Ivanov call", "#x"])
def test_no_client_id_first(line: str) -> None:
    assert parse_log_line(line, FRIDAY) is None
