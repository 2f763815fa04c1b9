"""temakarta.xlsx, read back with openpyxl: the same cells as the CSVs, the layout analysts use,
and the same bytes on every rerun. The tables are the real sample corpus themed with the real
model, written by `flows.io.write_run` as a run writes them."""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from flows import io
from flows.workbook import XLSX_DATA_ROWS, workbook_bytes
from pipeline.matrix import COL_TEXT, REGION_COLUMNS, ROW_N_STATEMENTS, Tables
from pipeline.records import DocumentError

pytestmark = pytest.mark.slow

SHEETS = {
    "Antal": "theme_region_counts.csv",
    "Andelar": "theme_region_shares.csv",
    "Polaritet": "theme_region_polarity.csv",
    "Osäkerhet": "theme_region_uncertainty.csv",
    "Påståenden": "statements.csv",
    "Teman": "themes.csv",
    "Dokument": "documents.csv",
    "Fel": "errors.csv",
}
ERRORS = [
    DocumentError("z.pdf", "extract", "z.pdf: file", "encrypted PDF", "save it without a password"),
    DocumentError("a;b.docx", "extract", "a;b.docx: file", '"broken", zip', "save it again"),
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, sample_tables: Tables) -> Path:
    out = tmp_path_factory.mktemp("outputs")
    return io.write_run(out, "sample", sample_tables, ERRORS, {}, "")


@pytest.fixture(scope="module")
def book(run_dir: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(run_dir / io.WORKBOOK_FILE)


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _same(cell: object, text: str, percent: bool) -> bool:
    """A workbook cell holds what the CSV shows: numbers equal as numbers, blanks empty."""
    if cell is None:
        return text == ""
    if isinstance(cell, bool):
        return str(cell) == text
    if isinstance(cell, int | float):
        if percent:
            return math.isclose(cell * 100, float(text), abs_tol=1e-9)
        return cell == float(text)
    return cell == text


def test_every_sheet_holds_the_cells_of_its_csv(run_dir: Path, book: openpyxl.Workbook) -> None:
    assert book.sheetnames == list(SHEETS)
    for name, filename in SHEETS.items():
        rows = _csv_rows(run_dir / filename)
        sheet = book[name]
        assert (sheet.max_row, sheet.max_column) == (len(rows), len(rows[0])), name
        for r, (cells, row) in enumerate(zip(sheet.iter_rows(values_only=True), rows, strict=True)):
            for c, (cell, text) in enumerate(zip(cells, row, strict=True)):
                percent = name == "Andelar" and r > 0 and c >= 2
                assert _same(cell, text, percent), (name, r + 1, c + 1, cell, text)
    numbers = [v for row in book["Antal"].iter_rows(min_row=2, values_only=True) for v in row[2:]]
    assert numbers and all(isinstance(v, int) for v in numbers)  # numbers, not text
    assert [row[0] for row in book["Fel"].iter_rows(min_row=2, values_only=True)] == [
        "a;b.docx",
        "z.pdf",
    ]


def _column(sheet: Worksheet, header: str) -> int:
    return [c.value for c in sheet[1]].index(header) + 1


def test_layout_for_reading_in_excel(book: openpyxl.Workbook) -> None:
    statements = book["Påståenden"]
    assert statements.freeze_panes == "A2"
    assert statements.auto_filter.ref == statements.dimensions
    text = _column(statements, COL_TEXT)
    letter = openpyxl.utils.get_column_letter(text)
    assert statements.column_dimensions[letter].width >= 50
    assert statements.cell(2, text).alignment.wrap_text
    widths = [statements.column_dimensions[openpyxl.utils.get_column_letter(c)].width for c in
              range(1, statements.max_column + 1)]  # fmt: skip
    assert all(5 <= w <= 80 for w in widths)
    for name in ("Polaritet", "Osäkerhet", "Teman", "Dokument", "Fel"):
        assert book[name].freeze_panes == "A2" and book[name].auto_filter.ref, name

    shares = book["Andelar"]
    for row in shares.iter_rows(min_row=2, min_col=3):
        assert all(cell.number_format == "0.0%" for cell in row)
    assert book["Antal"]["C2"].number_format == "General"

    for name in ("Antal", "Andelar"):
        sheet = book[name]
        assert sheet.freeze_panes == "C2"
        themes = [v for (v,) in sheet.iter_rows(min_row=2, max_col=1, values_only=True)]
        n_themes = themes.index(ROW_N_STATEMENTS) if ROW_N_STATEMENTS in themes else len(themes)
        last_region = openpyxl.utils.get_column_letter(2 + len(REGION_COLUMNS))
        ranges = {
            str(rng.sqref): rule
            for rng in sheet.conditional_formatting
            for rule in rng.rules
            if rule.type == "colorScale"
        }
        assert f"C2:{last_region}{n_themes + 1}" in ranges, (name, list(ranges))
        scale = ranges[f"C2:{last_region}{n_themes + 1}"].colorScale
        assert [c.rgb for c in scale.color] == ["FFFFFFFF", "FF9ECAE1", "FF3182BD"]


def test_workbook_is_byte_identical_across_reruns(
    tmp_path: Path, run_dir: Path, sample_tables: Tables
) -> None:
    again = io.write_run(tmp_path, "again", sample_tables, list(reversed(ERRORS)), {}, "")
    first = (run_dir / io.WORKBOOK_FILE).read_bytes()
    assert (again / io.WORKBOOK_FILE).read_bytes() == first
    assert workbook_bytes(sample_tables, io.errors_frame(ERRORS)) == first
    with zipfile.ZipFile(run_dir / io.WORKBOOK_FILE) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode("utf-8")
    assert "1980-01-01T00:00:00Z" in core


def test_a_table_longer_than_a_sheet_goes_on_further_sheets(
    sample_tables: Tables, run_dir: Path, tmp_path: Path
) -> None:
    assert XLSX_DATA_ROWS == 2**20 - 1  # Excel's rows per sheet, less the header
    path = tmp_path / "split.xlsx"
    path.write_bytes(workbook_bytes(sample_tables, io.errors_frame(ERRORS), rows_per_sheet=200))
    book = openpyxl.load_workbook(path)
    parts = [name for name in book.sheetnames if name.startswith("Påståenden")]
    assert parts == ["Påståenden", "Påståenden 2", "Påståenden 3"]  # 531 statements
    header, *expected = _csv_rows(run_dir / "statements.csv")
    rows = []
    for name in parts:
        sheet_rows = [[c.value for c in row] for row in book[name].iter_rows()]
        assert sheet_rows[0] == header
        rows += sheet_rows[1:]
    assert len(rows) == len(expected) == 531
    assert [row[header.index(COL_TEXT)] for row in rows] == [
        row[header.index(COL_TEXT)] for row in expected
    ]
    assert book.sheetnames[-1] == "Fel"  # the other sheets as before
