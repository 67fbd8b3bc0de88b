"""The import report's summary lines, in English and Russian."""

from __future__ import annotations

from bot.imports import ImportReport, RowError


def test_summary_in_english_and_russian() -> None:
    report = ImportReport(created=120, updated=3, unchanged=0)
    report.skip(7, "date", "31.02.2026")
    report.skip(9, "client", "C-404")
    report.warn(8, "referrer_unknown", "C-1")
    assert report.summary_lines("en") == [
        "Created 120, updated 3, unchanged 0, skipped 2",
        "line 7: unparseable date '31.02.2026'",
        "line 8 (warning): referred_by 'C-1' not found, left empty",
        "line 9: unknown client 'C-404'",
    ]
    assert report.summary_lines("ru") == [
        "Создано 120, обновлено 3, без изменений 0, пропущено 2",
        "строка 7: не удалось разобрать дату '31.02.2026'",
        "строка 8 (предупреждение): рекомендатель 'C-1' не найден, поле оставлено пустым",
        "строка 9: клиент 'C-404' не найден",
    ]


def test_listed_rows_are_capped() -> None:
    report = ImportReport()
    for line in range(2, 252):
        report.skip(line, "missing_name")
    lines = report.summary_lines("en")
    assert lines[0].endswith("skipped 250")
    assert len(lines) == 1 + 100 + 1
    assert lines[-1] == "… and 150 more"
    assert report.summary_lines("ru")[-1] == "… и ещё 150"


def test_row_error_keeps_the_plain_shape() -> None:
    error = RowError(5, "something odd")
    assert (error.line, error.reason) == (5, "something odd")
    assert error.text("ru") == "something odd"
    long = RowError.of(3, "phone", "9" * 200)
    assert len(long.value) == 60
