"""Labels: an analyst's `labels.csv` rows → the theme of each statement they name.

Public entry point: `match_labels(rows, source, statements, theme_ids)`.

`labels.csv` sits in the corpus folder and has the columns `document`, `text` and `theme` (header
names in any case; other columns, such as the rest of `review.csv`, are ignored). A row names a
statement by its document and its text; the text is compared with white space collapsed and in
Unicode NFC, so a cell copied through a spreadsheet still matches. When several statements of the
document have that text, all of them get the label: to the analyst, identical words in one
document are one statement.

`theme` is a codebook theme id or `other` (no codebook theme fits), in any case. A row with an
empty `theme` has not been reviewed yet and is skipped without a word. Every other row that
cannot be used — an unknown theme, a text that matches no statement, a second label that
contradicts the first for the same statement (the first is kept) — becomes a `DocumentError`
(stage "labels") and the rest of the labels are used: one bad row never sinks a run.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import PurePath

from pipeline.problems import Problem, at_line
from pipeline.records import DocumentError, Statement
from pipeline.themes import OTHER_ID

__all__ = ["LABEL_COLUMNS", "STAGE", "header_problem", "match_labels"]

LABEL_COLUMNS = ("document", "text", "theme")
STAGE = "labels"

_MAX_QUOTED = 80  # characters of a statement's text quoted in a message


def match_labels(
    rows: Iterable[Sequence[str]],
    source: str,
    statements: Sequence[Statement],
    theme_ids: Sequence[str],
) -> tuple[dict[str, str], list[DocumentError]]:
    """The analyst's label of each statement it names, and the rows that could not be used.

    rows: the file's rows as lists of cells, the header row first (what `csv.reader` yields).
    source: the file as the user knows it (for messages); errors.csv lists it by file name.
    theme_ids: the codebook's theme ids; `other` is always allowed as well.
    Returns (statement id → theme id, errors in row order). Deterministic.
    """
    file = PurePath(source).name
    rows = iter(rows)
    header = next(rows, [])
    problem = header_problem(header, source)
    if problem is not None:
        return {}, [DocumentError(file, STAGE, problem.where, problem.what, problem.fix)]
    header = [_normalise(cell).lower() for cell in header]
    column = {name: header.index(name) for name in LABEL_COLUMNS}
    allowed = {_normalise(t).lower(): t for t in theme_ids} | {OTHER_ID: OTHER_ID}
    index = _statement_index(statements)
    documents = {s.document for s in statements}

    labels: dict[str, str] = {}
    labelled_by: dict[str, int] = {}  # statement id → row number that labelled it
    errors: list[DocumentError] = []
    for number, row in enumerate(rows, start=2):  # row 1 is the header, as in a spreadsheet
        document, text, theme_cell = (
            _normalise(row[column[c]]) if column[c] < len(row) else "" for c in LABEL_COLUMNS
        )
        if not theme_cell:
            continue  # not reviewed yet
        where = f"{source}: row {number}"  # a spreadsheet's row number
        theme = allowed.get(theme_cell.lower())
        if theme is None:
            expected = ", ".join([*sorted(set(theme_ids)), OTHER_ID])
            errors.append(
                DocumentError(
                    file,
                    STAGE,
                    where,
                    f"theme {theme_cell!r} is not a codebook theme; expected one of {expected}",
                    "write a theme id from the codebook, or other when none fits",
                )
            )
            continue
        ids = index.get((document, text), [])
        if not ids:
            errors.append(_unmatched(file, where, document, text, document in documents))
            continue
        conflict = next((i for i in ids if i in labels and labels[i] != theme), None)
        if conflict is not None:
            errors.append(
                DocumentError(
                    file,
                    STAGE,
                    where,
                    f"statement {conflict} is already labelled {labels[conflict]!r} "
                    f"by row {labelled_by[conflict]}; this row says {theme!r}, the first "
                    f"label is kept",
                    "keep one label per statement: correct or delete one of the two rows",
                )
            )
        for statement_id in ids:
            if statement_id not in labels:
                labels[statement_id] = theme
                labelled_by[statement_id] = number
    return labels, errors


def header_problem(header: Sequence[str], source: str) -> Problem | None:
    """What is wrong with labels.csv's header row (a missing column), None when it is usable.
    Checked before a run starts: without these columns no row can be used."""
    names = [_normalise(cell).lower() for cell in header]
    missing = [c for c in LABEL_COLUMNS if c not in names]
    if not missing:
        return None
    found = ", ".join(repr(h) for h in names if h) or "no header row"
    return Problem(
        at_line(source, 1),
        f"missing column(s) {', '.join(missing)}; expected columns "
        f"{', '.join(LABEL_COLUMNS)} (found {found})",
        "start the file with the header row document,text,theme, as review.csv has",
    )


def _normalise(text: str) -> str:
    """NFC with every run of white space folded to one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _statement_index(statements: Sequence[Statement]) -> dict[tuple[str, str], list[str]]:
    """(document, normalised text) → the ids of the statements with that text, sorted."""
    index: dict[tuple[str, str], list[str]] = {}
    for statement in statements:
        index.setdefault((statement.document, _normalise(statement.text)), []).append(statement.id)
    return {key: sorted(ids) for key, ids in index.items()}


def _unmatched(file: str, where: str, document: str, text: str, known: bool) -> DocumentError:
    quoted = text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"
    if not document:
        what = "empty document; a label needs the document and the text"
        fix = "copy the document column from statements.csv or review.csv"
    elif known:
        what = f"no statement of {document!r} has the text {quoted!r}"
        fix = (
            "check the text was copied unchanged from statements.csv or review.csv "
            "(white space may differ, words and punctuation may not)"
        )
    else:
        what = f"document {document!r} has no statements in this run"
        fix = (
            "check the document name was copied from statements.csv or review.csv and the "
            "file is still in the corpus folder"
        )
    return DocumentError(file, STAGE, where, what, fix)
