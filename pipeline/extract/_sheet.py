"""Spreadsheets (.xlsx with openpyxl; .csv) → blocks: each row is a typed line.

A row's filled cells, tab-separated and with the empty cells before them kept (so a cell stays
in its column), go through structure recovery like a line of a text file: two or more adjacent
rows with several cells are a table whose header row gives each column its polarity
("Möjligheter" | "Hinder"), a row with one cell in the first column is a heading, bullet or
prose line, and empty rows are blank lines. `line` is the row number; with several sheets each
sheet opens with its name as a heading (and a BREAK after the first), and `page` is the sheet's
number. Two or more empty rows are a break, as blank lines are in text.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Iterator, Sequence

from pipeline.config import LimitsConfig
from pipeline.extract._common import (
    Deadline,
    check_zip,
    clean,
    decode_text,
    describe_exception,
    error,
)
from pipeline.extract._errors import ExtractError
from pipeline.extract._structure import recover_structure
from pipeline.records import Block, BlockKind, Location

#: No meeting note has this many rows; a sheet that does is data, not notes.
MAX_ROWS = 200_000
_FIX = "open it in Excel or LibreOffice Calc and save it again as .xlsx, or remove it"


def extract_xlsx(
    name: str, data: bytes, limits: LimitsConfig
) -> tuple[str, str, tuple[Block, ...]]:
    """Read every sheet of a workbook, row by row (cached values of formulas)."""
    check_zip(name, data, limits, "XLSX")
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, InvalidFileException, XML errors...
        raise error(name, "file", f"not a readable XLSX ({describe_exception(exc)})", _FIX) from exc
    deadline = Deadline(name, limits.timeout_seconds)
    try:
        sheets = list(workbook.worksheets)
        if len(sheets) > limits.max_pages:
            raise error(
                name,
                "file",
                f"workbook has {len(sheets):,} sheets, over the limit of {limits.max_pages:,}",
                "split the workbook",
                "limits.max_pages",
            )
        items: list[Block] = []
        for number, sheet in enumerate(sheets, start=1):
            where = f"sheet {sheet.title!r}"
            page = number if len(sheets) > 1 else None
            try:
                rows = (
                    [_cell_text(value) for value in row]
                    for row in sheet.iter_rows(values_only=True)
                )
                lines = list(_typed_lines(name, where, rows, deadline, page))
            except ExtractError:
                raise
            except Exception as exc:
                raise error(
                    name, where, f"cannot read the sheet ({describe_exception(exc)})", _FIX
                ) from exc
            if len(sheets) > 1 and lines:
                if items:
                    items.append(Block(BlockKind.BREAK, "", Location(0, number)))
                items.append(Block(BlockKind.HEADING, clean(sheet.title), Location(0, number), 2))
            items.extend(lines)
    finally:
        workbook.close()
    return "xlsx", "binary", recover_structure(items)


def extract_csv(name: str, data: bytes, limits: LimitsConfig) -> tuple[str, str, tuple[Block, ...]]:
    """Read a CSV file (comma, semicolon or tab separated; encoding detected as for text)."""
    text, encoding = decode_text(name, data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], ",;\t")
    except csv.Error:
        dialect = csv.excel
    deadline = Deadline(name, limits.timeout_seconds)
    try:
        rows = csv.reader(io.StringIO(text, newline=""), dialect)
        lines = list(_typed_lines(name, "file", rows, deadline, None))
    except csv.Error as exc:
        raise error(
            name, "file", f"not readable as CSV ({describe_exception(exc)})",
            "save it again as CSV (UTF-8) from Excel or LibreOffice Calc, or remove it",
        ) from exc  # fmt: skip
    return "csv", encoding, recover_structure(lines)


def _cell_text(value: object) -> str:
    """A cell's value as text: whole numbers without ".0", dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _typed_lines(
    name: str,
    where: str,
    rows: Iterable[Sequence[str]],
    deadline: Deadline,
    page: int | None,
) -> Iterator[Block]:
    """One PARAGRAPH (a typed line: cells joined by tabs) per non-empty row."""
    for number, row in enumerate(rows, start=1):
        if number > MAX_ROWS:
            raise error(
                name,
                where,
                f"more than {MAX_ROWS:,} rows: a data table, not meeting notes",
                "keep the notes in a sheet of their own, or remove the file",
            )
        if number % 1000 == 0:
            deadline.check(where)
        cells = [clean(cell) for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            yield Block(BlockKind.PARAGRAPH, "\t".join(cells), Location(number, page))
