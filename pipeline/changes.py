"""What changed since the previous completed run: theme × region counts and documents.

Public entry point: `compare_runs(previous, counts, statements_per_document, inputs)`; the
result becomes `changes.csv` through `changes_frame` and the head of `summary.md` through
`changes_markdown`.

changes.csv (columns `CHANGE_COLUMNS`, rows sorted by change, theme_id, region, document):
- change `count`: one row per theme × region cell of either run's counts matrix (the regions,
  Nationell and Totalt; the N_statements and N_documents rows too), with `previous` (0 when the
  previous run had no such cell), `current` and `difference` = current - previous;
- change `added`, `changed` or `removed`: one row per document whose file is new, has other
  bytes, or is gone, with its statements in the previous and the current run.
Without a previous run every count is compared with 0 and every document is `added`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from pipeline.matrix import COL_THEME_ID, COL_THEME_LABEL, COL_TOTAL, REGION_COLUMNS

__all__ = [
    "CHANGE_COLUMNS",
    "CellChange",
    "Changes",
    "DocumentChange",
    "RunSnapshot",
    "changes_frame",
    "changes_markdown",
    "compare_runs",
    "count_cells",
]

COL_CHANGE = "change"
COL_REGION = "region"
COL_DOCUMENT = "document"
COL_PREVIOUS = "previous"
COL_CURRENT = "current"
COL_DIFFERENCE = "difference"
CHANGE_COLUMNS = (
    COL_CHANGE, COL_THEME_ID, COL_THEME_LABEL, COL_REGION, COL_DOCUMENT,
    COL_PREVIOUS, COL_CURRENT, COL_DIFFERENCE,
)  # fmt: skip
CHANGE_COUNT = "count"
DocumentChangeKind = Literal["added", "changed", "removed"]
_CELL_COLUMNS = (*REGION_COLUMNS, COL_TOTAL)
_NOT_DOCUMENTS = frozenset({"metadata.csv", "labels.csv"})
_TOP_CELLS = 10


@dataclass(frozen=True)
class RunSnapshot:
    """What a completed run left for the next one to compare with (read from its folder).

    `inputs`: sha256 by corpus file; `counts`: statements by (theme id, region column);
    `labels`: theme label by id; `statements_per_document`; `theme_of`: theme id by statement
    id; `fingerprint`: the hash of everything the run read ("" for runs from before it)."""

    run_id: str
    fingerprint: str
    inputs: Mapping[str, str]
    counts: Mapping[tuple[str, str], int]
    labels: Mapping[str, str]
    statements_per_document: Mapping[str, int]
    theme_of: Mapping[str, str]


@dataclass(frozen=True)
class CellChange:
    theme_id: str
    theme_label: str
    region: str
    previous: int
    current: int

    @property
    def difference(self) -> int:
        return self.current - self.previous


@dataclass(frozen=True)
class DocumentChange:
    document: str
    change: DocumentChangeKind
    previous: int  # statements in the previous run
    current: int


@dataclass(frozen=True)
class Changes:
    """Cells sorted by (theme id, region), documents by (change, document)."""

    previous_run_id: str | None
    cells: tuple[CellChange, ...]
    documents: tuple[DocumentChange, ...]


def count_cells(
    rows: Iterable[Mapping[Any, Any]],
) -> tuple[dict[tuple[str, str], int], dict[str, str]]:
    """(count by (theme id, region column), label by theme id) of a counts table's rows (as
    records of theme_region_counts.csv or of `Tables.counts`)."""
    cells: dict[tuple[str, str], int] = {}
    labels: dict[str, str] = {}
    for row in rows:
        theme_id = str(row[COL_THEME_ID])
        labels[theme_id] = str(row[COL_THEME_LABEL])
        for column in _CELL_COLUMNS:
            if column in row:
                cells[(theme_id, column)] = int(float(str(row[column])))
    return cells, labels


def compare_runs(
    previous: RunSnapshot | None,
    counts: pd.DataFrame,
    statements_per_document: Mapping[str, int],
    inputs: Mapping[str, str],
) -> Changes:
    """The changes from `previous` (None: no completed run yet) to this run's counts table,
    statements per document and input hashes (see the module docstring)."""
    now, labels = count_cells(counts.to_dict("records"))
    before = previous.counts if previous else {}
    label_of = {**(previous.labels if previous else {}), **labels}
    cells = tuple(
        CellChange(key[0], label_of.get(key[0], ""), key[1], before.get(key, 0), now.get(key, 0))
        for key in sorted(set(before) | set(now))
    )
    return Changes(
        previous.run_id if previous else None,
        cells,
        _document_changes(previous, statements_per_document, inputs),
    )


def _document_changes(
    previous: RunSnapshot | None,
    statements_per_document: Mapping[str, int],
    inputs: Mapping[str, str],
) -> tuple[DocumentChange, ...]:
    old_inputs = previous.inputs if previous else {}
    old_counts = previous.statements_per_document if previous else {}
    out: list[DocumentChange] = []
    for name in sorted((set(old_inputs) | set(inputs)) - _NOT_DOCUMENTS):
        kind: DocumentChangeKind
        if name not in old_inputs:
            kind = "added"
        elif name not in inputs:
            kind = "removed"
        elif old_inputs[name] != inputs[name]:
            kind = "changed"
        else:
            continue
        out.append(
            DocumentChange(
                name, kind, old_counts.get(name, 0), statements_per_document.get(name, 0)
            )
        )
    return tuple(sorted(out, key=lambda d: (d.change, d.document)))


def changes_frame(changes: Changes) -> pd.DataFrame:
    """changes.csv as a table (columns `CHANGE_COLUMNS`, rows sorted)."""
    rows = [
        (CHANGE_COUNT, c.theme_id, c.theme_label, c.region, "", c.previous, c.current,
         c.difference)
        for c in changes.cells
    ] + [
        (d.change, "", "", "", d.document, d.previous, d.current, d.current - d.previous)
        for d in changes.documents
    ]  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1], r[3], r[4]))
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))


def changes_markdown(changes: Changes) -> str:
    """The 'what changed' section that leads summary.md: documents added, changed and removed,
    the statement total before and now, and the theme × region cells that moved most."""
    since = (
        f"since run {changes.previous_run_id}"
        if changes.previous_run_id
        else "(first run in this output folder)"
    )
    by_kind = {
        kind: [d.document for d in changes.documents if d.change == kind]
        for kind in ("added", "changed", "removed")
    }
    lines = [f"## What changed {since}", ""]
    lines.append(
        ", ".join(f"{len(names)} documents {kind}" for kind, names in by_kind.items()) + "."
    )
    for kind, names in by_kind.items():
        if names:
            lines.append(f"- {kind}: {', '.join(names)}")
    total = next(
        (c for c in changes.cells if c.theme_id == "N_statements" and c.region == COL_TOTAL), None
    )
    if total is not None:
        lines += ["", f"Statements: {total.previous} before, {total.current} now."]
    moved = sorted(
        (
            c
            for c in changes.cells
            if c.difference and c.region != COL_TOTAL and not c.theme_id.startswith("N_")
        ),
        key=lambda c: (-abs(c.difference), c.theme_id, c.region),
    )[:_TOP_CELLS]
    if moved:
        lines += ["", "| theme | region | before | now | change |", "|---|---|---|---|---|"]
        lines += [
            f"| {c.theme_label} | {c.region} | {c.previous} | {c.current} | {c.difference:+d} |"
            for c in moved
        ]
    else:
        lines += ["", "No theme × region count changed."]
    return "\n".join(lines) + "\n"
