"""A corpus folder's `metadata.csv`: analyst-given region, date and meeting per document.

Public entry point: `parse_metadata(text, source, documents) -> {document: DocumentMetadata}`.

Columns `document` (required), `region`, `date`, `meeting`; header names in any case, with
white space around them ignored (as in `labels.csv`). Every problem of the file is collected —
an unknown or misspelled column, an empty or unknown document, a document listed twice, a
region that is not one of the regions, a date that is not YYYY-MM-DD — and raised together as a
`MetadataError` naming `file:line`, so the run stops before it starts instead of ignoring a
column or failing after the documents were read.
"""

from __future__ import annotations

import csv
import difflib
import io
import unicodedata
from collections.abc import Collection
from datetime import date as Date

from pipeline.problems import InputError, Problem, at_line
from pipeline.records import Region
from pipeline.regions import DocumentMetadata

__all__ = ["METADATA_COLUMNS", "MetadataError", "parse_metadata"]

COL_DOCUMENT, COL_REGION, COL_DATE, COL_MEETING = "document", "region", "date", "meeting"
METADATA_COLUMNS = (COL_DOCUMENT, COL_REGION, COL_DATE, COL_MEETING)
_MAX_LISTED = 8  # corpus files named in a message before "…"


class MetadataError(InputError):
    """metadata.csv cannot be used; every problem names its line."""


def parse_metadata(
    text: str, source: str, documents: Collection[str]
) -> dict[str, DocumentMetadata]:
    """metadata.csv text → metadata by document name. `documents` are the corpus files' names
    relative to the corpus folder (a listed name must be one of them). Raises MetadataError with
    every problem found."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [_fold(cell).lower() for cell in next(reader, [])]
    problems = _header_problems(header, source)
    if problems:
        raise MetadataError(*problems)
    column = {name: header.index(name) for name in METADATA_COLUMNS if name in header}
    # Okänd is what detection says when nothing places a document, not an analyst's value.
    regions = {r.value.lower(): r for r in Region if r is not Region.OKAND}
    out: dict[str, DocumentMetadata] = {}
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        where = at_line(source, line)
        cells = {name: _fold(row[i]) if i < len(row) else "" for name, i in column.items()}
        if len(row) > len(header):
            problems.append(
                Problem(
                    where,
                    f"{len(row)} cells but the header has {len(header)} columns",
                    "quote a cell that holds a comma, or remove the extra cells",
                )
            )
            continue
        name = cells[COL_DOCUMENT]
        problem = _document_problem(name, where, documents, seen)
        if problem is not None:
            problems.append(problem)
            continue
        seen[name] = line
        region_text = cells.get(COL_REGION, "")
        region = regions.get(region_text.lower()) if region_text else None
        if region_text and region is None:
            problems.append(
                Problem(
                    where,
                    f"region {region_text!r} is not a region; allowed: "
                    f"{', '.join(r.value for r in regions.values())} (or empty: keep the detected "
                    "one)",
                    "write one of the allowed regions, spelled as listed",
                )
            )
        day = cells.get(COL_DATE, "")
        if day and not _is_iso_date(day):
            problems.append(
                Problem(
                    where,
                    f"date {day!r} is not a date in the form YYYY-MM-DD (e.g. 2017-12-13)",
                    "write the date as year-month-day, or leave it empty",
                )
            )
        out[name] = DocumentMetadata(region=region, date=day, meeting=cells.get(COL_MEETING, ""))
    if problems:
        raise MetadataError(*problems)
    return out


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _header_problems(header: list[str], source: str) -> list[Problem]:
    where = at_line(source, 1)
    allowed = ", ".join(METADATA_COLUMNS)
    problems = []
    for name in header:
        if name not in METADATA_COLUMNS:
            near = difflib.get_close_matches(name, METADATA_COLUMNS, n=1, cutoff=0.75)
            hint = f" — did you mean {near[0]!r}?" if near else ""
            problems.append(
                Problem(
                    where,
                    f"unknown column {name!r}{hint}; allowed: {allowed}",
                    "rename or remove the column in the header row",
                )
            )
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    if duplicated:
        problems.append(
            Problem(where, f"column {duplicated[0]!r} appears twice", "keep one of the two")
        )
    if COL_DOCUMENT not in header:
        problems.append(
            Problem(
                where,
                f"no column 'document' (found: {', '.join(map(repr, header)) or 'no header'}); "
                f"the first row names the columns: {allowed}",
                "start the file with the header row document,region,date,meeting",
            )
        )
    return problems


def _document_problem(
    name: str, where: str, documents: Collection[str], seen: dict[str, int]
) -> Problem | None:
    if not name:
        return Problem(where, "empty document", "give the file name as in the corpus folder")
    if name in seen:
        return Problem(
            where,
            f"document {name!r} is listed again (first on line {seen[name]})",
            "keep one row per document",
        )
    if name in documents:
        return None
    near = difflib.get_close_matches(name, list(documents), n=1)
    listed = sorted(documents)
    shown = ", ".join(listed[:_MAX_LISTED]) + (", …" if len(listed) > _MAX_LISTED else "")
    return Problem(
        where,
        f"document {name!r} is not in the corpus folder"
        + (f" — did you mean {near[0]!r}?" if near else "")
        + f"; corpus files: {shown or 'none'}",
        "give the file name relative to the corpus folder (e.g. sub/notes.docx), or remove the row",
    )


def _is_iso_date(text: str) -> bool:
    try:
        Date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == len("2017-12-13")
