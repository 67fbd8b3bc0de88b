"""Reading CSV (Excel, 1C) and XLSX into header-mapped rows with human line numbers."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.imports.columns import ColumnSpec
from bot.imports.errors import MissingColumnsError, UnreadableFileError

CSV_DELIMITERS = (";", ",", "\t", "|")
XLSX_SUFFIXES = (".xlsx", ".xlsm")

# A cell as it comes out of a reader: text from CSV, typed values from XLSX.
Cell = Any


@dataclass
class Table:
    """Rows reduced to the spec's fields, in spec order; absent columns are None."""

    fields: tuple[str, ...]
    present: set[str]
    rows: list[tuple[int, tuple[Cell, ...]]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def read_table(data: bytes, filename: str, spec: ColumnSpec) -> Table:
    """Parse a CSV or XLSX file; raises ImportFileError before reading rows if it can't."""
    if _is_xlsx(data, filename):
        lines = _xlsx_lines(data)
    elif filename.lower().endswith(".xls"):
        raise UnreadableFileError(
            "old .xls files are not supported: save the sheet as .xlsx or CSV",
            "старый формат .xls не поддерживается: сохраните лист как .xlsx или CSV",
        )
    else:
        lines = _csv_lines(data, spec)
    return _map_rows(lines, spec)


def _is_xlsx(data: bytes, filename: str) -> bool:
    return filename.lower().endswith(XLSX_SUFFIXES) or data[:4] == b"PK\x03\x04"


def decode(data: bytes) -> str:
    """Text of a CSV as Excel or 1C save it: UTF-8 (BOM or not), UTF-16 with BOM, or cp1251."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError:
        raise UnreadableFileError(
            "cannot tell the file's encoding: save it as CSV UTF-8",
            "не удалось определить кодировку файла: сохраните его как CSV UTF-8",
        ) from None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def sniff_delimiter(header_line: str, spec: ColumnSpec) -> str:
    """The delimiter that makes the most known headers out of the first line."""

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        known = sum(1 for cell in cells if spec.field_for(cell))
        return known, len(cells)

    # Ties go to ";", which Russian Excel and 1C use because "," is the decimal separator.
    return max(CSV_DELIMITERS, key=score)


def _csv_lines(data: bytes, spec: ColumnSpec) -> Iterator[tuple[int, Sequence[Cell]]]:
    text = decode(data)
    delimiter = sniff_delimiter(_first_line(text), spec)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0
    for row in reader:
        # line_num counts physical lines, so a quoted multi-line cell keeps later numbers right.
        start, line = line + 1, reader.line_num
        yield start, [_csv_cell(cell) for cell in row]


def _csv_cell(raw: str) -> str | None:
    cell = raw.strip()
    # Excel's ="00123" keeps leading zeros of codes and phones.
    if cell.startswith('="') and cell.endswith('"'):
        cell = cell[2:-1].strip()
    return cell or None


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, Sequence[Cell]]]:
    from openpyxl import load_workbook  # slow to import; only XLSX uploads pay for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise UnreadableFileError(
            "not a readable .xlsx file", "файл не читается как .xlsx"
        ) from None
    try:
        sheet = workbook.active or workbook.worksheets[0]
        # Some exporters write a wrong used range; without this rows past it would be lost.
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_xlsx_cell(cell) for cell in row]
    finally:
        workbook.close()


def _xlsx_cell(value: Cell) -> Cell:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _map_rows(lines: Iterable[tuple[int, Sequence[Cell]]], spec: ColumnSpec) -> Table:
    iterator = iter(lines)
    header: Sequence[Cell] = ()
    for _, cells in iterator:
        if any(cell is not None for cell in cells):
            header = cells
            break
    if not header:
        raise UnreadableFileError(
            "the file is empty: expected a header row", "файл пуст: нужна строка заголовков"
        )
    index: dict[str, int] = {}
    ignored: list[str] = []
    for position, title in enumerate(header):
        name = spec.field_for(title)
        if name is None:
            if title is not None:
                ignored.append(str(title).strip())
        else:
            # The first of two columns meaning the same thing wins.
            index.setdefault(name, position)
    missing = [name for name in spec.required if name not in index]
    if missing:
        raise MissingColumnsError(missing, [str(t).strip() for t in header if t is not None])
    positions = [index.get(name, -1) for name in spec.fields]
    table = Table(fields=spec.fields, present=set(index), ignored=ignored)
    for number, cells in iterator:
        width = len(cells)
        values = tuple(cells[p] if 0 <= p < width else None for p in positions)
        if any(value is not None for value in values):
            table.rows.append((number, values))
    return table
