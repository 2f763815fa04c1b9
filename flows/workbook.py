"""temakarta.xlsx: the run's tables as one Excel workbook, one sheet per CSV, Swedish sheet names.

The cells hold the same values as the CSVs (the shares divided by 100 under a percent number
format, so Excel shows 12,3 % for 12.3); headers are the CSV column names. The counts and shares
get a white-to-blue colour scale over the theme × region cells (one hue, so it reads the same
for colour-blind readers and in grey print). The bytes depend on the tables only: the document
properties carry a fixed date and XlsxWriter, writing in memory, stamps every zip entry
1980-01-01, so a rerun on the same input writes an identical file. A table longer than an
Excel sheet (1 048 576 rows with the header) continues on sheets named "Påståenden 2", "… 3":
Excel would drop the rows past its limit without a word.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from numbers import Real
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipeline.config import MAX_REPRESENTATIVES
from pipeline.matrix import (
    COL_REPRESENTATIVE,
    COL_TOTAL,
    REGION_COLUMNS,
    ROW_N_DOCUMENTS,
    ROW_N_STATEMENTS,
    Tables,
)

# Fixed so reruns are byte-identical; the zip entries carry the same date.
_FIXED_DATE = datetime(1980, 1, 1, tzinfo=UTC)
# ColorBrewer "Blues": one hue, light to mid-dark, so black digits stay legible on every cell.
_SCALE = {"min_color": "#FFFFFF", "mid_color": "#9ECAE1", "max_color": "#3182BD"}
_PERCENT_FORMAT = "0.0%"
# Columns of running text: a fixed width and wrapped lines instead of one very wide column.
_WRAPPED = {
    "text": 70,
    "heading_path": 40,
    "region_source": 28,
    "keywords": 40,
    **{COL_REPRESENTATIVE.format(n=n): 50 for n in range(1, MAX_REPRESENTATIVES + 1)},
    "where": 40,
    "what": 60,
    "fix": 50,
}
_MAX_WIDTH = 40  # other columns: as wide as their longest value, up to this many characters
_FOOTER_ROWS = (ROW_N_STATEMENTS, ROW_N_DOCUMENTS)
XLSX_DATA_ROWS = 1_048_575  # rows below the header on one sheet (Excel's limit, 2**20, - 1)


@dataclass(frozen=True)
class _Sheet:
    name: str
    frame: pd.DataFrame
    matrix: bool = False  # theme × region: header and theme columns frozen, colour scale
    percent: bool = False  # numbers are percentages (shown with a percent number format)


def workbook_bytes(
    tables: Tables, errors: pd.DataFrame, rows_per_sheet: int = XLSX_DATA_ROWS
) -> bytes:
    """The workbook of a run's `tables` and its `errors` table (the rows of errors.csv); a
    table longer than `rows_per_sheet` data rows goes on as many sheets as it needs."""
    tables_sheets = (
        _Sheet("Antal", tables.counts, matrix=True),
        _Sheet("Andelar", tables.shares, matrix=True, percent=True),
        _Sheet("Polaritet", tables.polarity),
        _Sheet("Osäkerhet", tables.uncertainty),
        _Sheet("Påståenden", tables.statements),
        _Sheet("Teman", tables.themes),
        _Sheet("Dokument", tables.documents),
        _Sheet("Fel", errors),
    )
    sheets = [part for sheet in tables_sheets for part in _split(sheet, rows_per_sheet)]
    buffer = io.BytesIO()
    # in_memory: zip entries get XlsxWriter's fixed 1980 date (temp files would carry their
    # local mtime). Strings are never turned into formulas or links.
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    workbook.set_properties({"title": "temakarta", "created": _FIXED_DATE})
    formats = {
        "header": workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
        "top": workbook.add_format({"valign": "top"}),
        "percent": workbook.add_format({"num_format": _PERCENT_FORMAT}),
    }
    for sheet in sheets:
        _write_sheet(workbook.add_worksheet(sheet.name), sheet, formats)
    workbook.close()
    return buffer.getvalue()


def _split(sheet: _Sheet, rows: int) -> list[_Sheet]:
    """`sheet`, or its rows in parts of `rows`, named "<name>", "<name> 2", …"""
    if len(sheet.frame) <= rows:
        return [sheet]
    return [
        dataclasses.replace(
            sheet,
            name=sheet.name if a == 0 else f"{sheet.name} {a // rows + 1}",
            frame=sheet.frame.iloc[a : a + rows],
        )
        for a in range(0, len(sheet.frame), rows)
    ]


def _write_sheet(worksheet: Worksheet, sheet: _Sheet, formats: dict[str, Format]) -> None:
    frame = sheet.frame
    columns = [str(c) for c in frame.columns]
    worksheet.write_row(0, 0, columns, formats["header"])
    for c, column in enumerate(columns):
        values = frame.iloc[:, c].tolist()
        cell_format = formats["wrap"] if column in _WRAPPED else formats["top"]
        worksheet.set_column(c, c, _width(column, values), cell_format)
        for r, value in enumerate(values, start=1):
            percent = sheet.percent and _is_number(value)
            _write_cell(
                worksheet,
                r,
                c,
                value / 100 if percent else value,
                formats["percent"] if percent else cell_format,
            )
    last_row, last_col = len(frame), len(columns) - 1
    if sheet.matrix:
        worksheet.freeze_panes(1, 2)
        themes = sum(1 for v in frame.iloc[:, 0] if v not in _FOOTER_ROWS)
        regions = [columns.index(r) for r in REGION_COLUMNS if r in columns]
        if themes and regions:
            worksheet.conditional_format(
                1, min(regions), themes, max(regions), {"type": "3_color_scale", **_SCALE}
            )
        if COL_TOTAL in columns and themes:
            total = columns.index(COL_TOTAL)
            worksheet.conditional_format(
                1, total, themes, total, {"type": "3_color_scale", **_SCALE}
            )
    else:
        worksheet.freeze_panes(1, 0)
        worksheet.autofilter(0, 0, last_row, last_col)


def _write_cell(worksheet: Worksheet, row: int, col: int, value: Any, cell_format: Format) -> None:
    """One cell, typed explicitly: what the CSV shows empty stays blank."""
    if isinstance(value, bool):
        worksheet.write_boolean(row, col, value, cell_format)
    elif _is_number(value):
        worksheet.write_number(row, col, value, cell_format)
    elif value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        worksheet.write_blank(row, col, None, cell_format)
    else:
        worksheet.write_string(row, col, str(value), cell_format)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, Real):
        return False
    return not (isinstance(value, float) and not math.isfinite(value))


def _width(column: str, values: Sequence[Any]) -> int:
    if column in _WRAPPED:
        return _WRAPPED[column]
    longest = max((len(str(v)) for v in values), default=0)
    return min(max(len(column), longest) + 2, _MAX_WIDTH)
