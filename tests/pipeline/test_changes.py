"""What changed since the previous run (pipeline/changes.py)."""

from __future__ import annotations

import pandas as pd

from pipeline.changes import (
    CHANGE_COLUMNS,
    RunSnapshot,
    changes_frame,
    changes_markdown,
    compare_runs,
)
from pipeline.matrix import COL_THEME_ID, COL_THEME_LABEL, COL_TOTAL, REGION_COLUMNS


def _counts(rows: dict[str, dict[str, int]]) -> pd.DataFrame:
    """A counts table: theme id -> {region column: count}, other regions 0."""
    records = []
    for theme_id, cells in rows.items():
        record: dict[str, object] = {COL_THEME_ID: theme_id, COL_THEME_LABEL: theme_id.title()}
        record |= {c: cells.get(c, 0) for c in (*REGION_COLUMNS, COL_TOTAL)}
        records.append(record)
    return pd.DataFrame(records)


def _snapshot() -> RunSnapshot:
    return RunSnapshot(
        run_id="20260101T000000Z-aaaaaaaa",
        fingerprint="f",
        inputs={"a.txt": "1", "b.txt": "2", "c.txt": "3", "metadata.csv": "9"},
        counts={("roller", "Södra"): 4, ("roller", COL_TOTAL): 4, ("gammal", "Norra"): 2},
        labels={"roller": "Roller", "gammal": "Gammal"},
        statements_per_document={"a.txt": 3, "b.txt": 2, "c.txt": 1},
        theme_of={},
    )


def test_cells_and_documents_are_compared_with_the_previous_run() -> None:
    counts = _counts({"roller": {"Södra": 6, COL_TOTAL: 6}, "ny": {"Västra": 1, COL_TOTAL: 1}})
    changes = compare_runs(
        _snapshot(),
        counts,
        {"a.txt": 3, "b.txt": 5, "d.txt": 2},
        {"a.txt": "1", "b.txt": "22", "d.txt": "4", "metadata.csv": "10"},
    )
    cells = {(c.theme_id, c.region): (c.previous, c.current, c.difference) for c in changes.cells}
    assert cells[("roller", "Södra")] == (4, 6, 2)
    assert cells[("ny", "Västra")] == (0, 1, 1)
    assert cells[("gammal", "Norra")] == (2, 0, -2)  # a theme gone is still listed
    assert cells[("roller", "Norra")] == (0, 0, 0)
    documents = [(d.change, d.document, d.previous, d.current) for d in changes.documents]
    assert documents == [
        ("added", "d.txt", 0, 2),
        ("changed", "b.txt", 2, 5),
        ("removed", "c.txt", 1, 0),
    ]  # metadata.csv is an input, not a document
    frame = changes_frame(changes)
    assert list(frame.columns) == list(CHANGE_COLUMNS)
    keys = list(
        zip(frame["change"], frame["theme_id"], frame["region"], frame["document"], strict=True)
    )
    assert keys == sorted(keys)
    gone = frame[(frame["theme_id"] == "gammal") & (frame["region"] == "Norra")].iloc[0]
    assert (gone["theme_label"], gone["previous"], gone["current"]) == ("Gammal", 2, 0)


def test_markdown_leads_with_documents_and_the_cells_that_moved_most() -> None:
    counts = _counts(
        {"roller": {"Södra": 6, COL_TOTAL: 6}, "N_statements": {"Södra": 6, COL_TOTAL: 6}}
    )
    changes = compare_runs(_snapshot(), counts, {}, {"a.txt": "1", "b.txt": "22"})
    text = changes_markdown(changes)
    assert text.startswith("## What changed since run 20260101T000000Z-aaaaaaaa")
    assert "0 documents added, 1 documents changed, 1 documents removed." in text
    assert "- changed: b.txt" in text and "- removed: c.txt" in text
    rows = [line for line in text.splitlines() if line.startswith("| R") or line.startswith("| G")]
    # Largest moves first; equal moves by theme id.
    assert rows == ["| Gammal | Norra | 2 | 0 | -2 |", "| Roller | Södra | 4 | 6 | +2 |"]


def test_first_run_compares_with_nothing() -> None:
    counts = _counts({"roller": {"Södra": 1, COL_TOTAL: 1}})
    changes = compare_runs(None, counts, {"a.txt": 1}, {"a.txt": "1"})
    assert changes.previous_run_id is None
    assert [(d.change, d.document) for d in changes.documents] == [("added", "a.txt")]
    assert "(first run in this output folder)" in changes_markdown(changes)
