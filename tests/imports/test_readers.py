"""Reading files as Excel and 1C write them: encodings, delimiters, headers, line numbers."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from bot.imports.columns import CLIENTS, SALES, header_key
from bot.imports.errors import MissingColumnsError, UnreadableFileError
from bot.imports.readers import decode, read_table, sniff_delimiter


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_decode_utf8_bom_cp1251_and_utf16() -> None:
    text = "Имя;Телефон\r\nЁжиков;+7 912 345 67 89\r\n"
    assert decode(b"\xef\xbb\xbf" + text.encode()) == text
    assert decode(text.encode("cp1251")) == text
    assert decode(text.encode("utf-8")) == text
    assert decode(text.encode("utf-16")) == text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Name;Phone;Email", ";"),
        ("name,phone,email", ","),
        ("name\tphone", "\t"),
        # A comma inside a quoted header does not fool it.
        ('"Клиент, ФИО";Телефон;Почта', ";"),
    ],
)
def test_delimiter_is_the_one_giving_known_headers(line: str, expected: str) -> None:
    assert sniff_delimiter(line, CLIENTS) == expected


def test_headers_are_case_insensitive_trimmed_and_russian() -> None:
    assert header_key("  E-Mail ") == "e mail"
    assert CLIENTS.field_for(" Внешний ID ") == "external_id"
    assert CLIENTS.field_for("ИНН") == "tax_id"
    assert CLIENTS.field_for("Ответственный") == "owner_telegram_id"
    assert CLIENTS.field_for("МЕТКИ") == "tags"
    assert CLIENTS.field_for("Owner_Telegram_ID") == "owner_telegram_id"
    assert SALES.field_for("Срок оплаты") == "due_date"
    assert SALES.field_for("Клиент") == "client"
    assert CLIENTS.field_for("Клиент") == "name"


def test_rows_are_mapped_to_fields_with_human_line_numbers() -> None:
    data = (
        "\ufeffНаименование;Телефон;Лишний столбец\n"
        "Иван;+79123456789;x\n"
        "\n"
        '"Многострочное\nимя";89123456780;y\n'
        ";;\n"
        "Пётр\n"
    ).encode()
    table = read_table(data, "clients.csv", CLIENTS)
    assert table.ignored == ["Лишний столбец"]
    assert table.present == {"name", "phone"}
    by_line = {line: cells for line, cells in table.rows}
    assert set(by_line) == {2, 4, 7}
    name_at = CLIENTS.fields.index("name")
    phone_at = CLIENTS.fields.index("phone")
    assert by_line[4][name_at] == "Многострочное\nимя"
    assert by_line[7][name_at] == "Пётр"
    assert by_line[7][phone_at] is None


def test_excel_text_formula_keeps_leading_zeros() -> None:
    table = read_table(b'name,external_id\nA,="00123"\n', "c.csv", CLIENTS)
    assert table.rows[0][1][CLIENTS.fields.index("external_id")] == "00123"


def test_xlsx_keeps_typed_cells_and_sheet_row_numbers() -> None:
    data = xlsx_bytes(
        [
            ["Клиент", "Дата", "Сумма"],
            ["C1", datetime(2026, 1, 15), 1234.56],
            [None, None, None],
            ["C2", "15.01.2026", 10],
        ]
    )
    table = read_table(data, "sales.xlsx", SALES)
    assert [line for line, _ in table.rows] == [2, 4]
    assert table.rows[0][1][:3] == ("C1", datetime(2026, 1, 15), 1234.56)


def test_missing_required_column_is_reported_in_both_languages() -> None:
    with pytest.raises(MissingColumnsError) as caught:
        read_table(b"client;amount\nC1;10\n", "sales.csv", SALES)
    error = caught.value
    assert error.missing == ["date"]
    assert "date" in str(error) and "client" in str(error)
    assert "дата" in error.text("ru")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "empty.csv"),
        (b"\n\n", "blank.csv"),
        (b"whatever", "old.xls"),
        (b"PK\x03\x04x", "a.xlsx"),
    ],
)
def test_unreadable_files_raise_a_user_facing_error(data: bytes, name: str) -> None:
    with pytest.raises(UnreadableFileError) as caught:
        read_table(data, name, CLIENTS)
    assert caught.value.text("ru") != caught.value.text("en")
