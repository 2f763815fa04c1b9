"""Output tables from a small real set of statements and assignments."""

from __future__ import annotations

import pytest

from pipeline.matrix import ROW_N_DOCUMENTS, ROW_N_STATEMENTS, STATEMENT_COLUMNS, build_tables
from pipeline.records import DocumentInfo, Location, Polarity, Region, Statement
from pipeline.themes import Assignment, Theme, ThemeResult


def _statement(
    i: int, region: Region, polarity: Polarity = Polarity.NONE, doc: str = "a.txt"
) -> Statement:
    return Statement(
        f"{doc}:{i}:1", doc, Location(i), f"text {i}", region=region, polarity=polarity
    )


STATEMENTS = [
    _statement(3, Region.SODRA, Polarity.HINDER),
    _statement(1, Region.SODRA, Polarity.MOJLIGHET),
    _statement(2, Region.NORRA),
    _statement(4, Region.NATIONELL, doc="b.txt"),
]
RESULT = ThemeResult(
    themes=(
        Theme("ej_tilldelad", "ej tilldelad", "unassigned", (), 1, ("text 4",)),
        Theme("inductive_01", "digital, journal", "inductive", ("digital", "journal"), 1, ()),
        Theme("finansiering", "Finansiering", "codebook", ("medel",), 2, ("text 1", "text 3")),
    ),
    assignments=(
        Assignment("a.txt:3:1", "finansiering", "Finansiering", 0.91, "codebook"),
        Assignment("a.txt:1:1", "finansiering", "Finansiering", 0.9, "codebook"),
        Assignment("a.txt:2:1", "inductive_01", "digital, journal", 0.5, "hdbscan"),
        Assignment("b.txt:4:1", "ej_tilldelad", "ej tilldelad", 0.0, "unassigned"),
    ),
    threshold=0.85,
    min_cohesion=0.86,
)
DOCS = [
    DocumentInfo("b.txt", "b" * 64, "txt", "utf-8", Region.NATIONELL, "default"),
    DocumentInfo("a.txt", "a" * 64, "txt", "utf-8", Region.SODRA, "title: Södra"),
]


def test_tables_are_sorted_and_complete() -> None:
    tables = build_tables(STATEMENTS, RESULT, DOCS)
    assert list(tables.statements.columns) == list(STATEMENT_COLUMNS)
    assert list(tables.statements["id"]) == ["a.txt:1:1", "a.txt:2:1", "a.txt:3:1", "b.txt:4:1"]
    assert list(tables.themes["theme_id"]) == ["finansiering", "inductive_01", "ej_tilldelad"]
    assert list(tables.documents["document"]) == ["a.txt", "b.txt"]


def test_counts_have_every_region_totals_and_footers() -> None:
    counts = build_tables(STATEMENTS, RESULT, DOCS).counts.set_index("theme_id")
    assert list(counts.columns) == [
        "theme_label",
        "Norra",
        "Mellansverige",
        "Stockholm-Gotland",
        "Västra",
        "Sydöstra",
        "Södra",
        "Nationell",
        "Totalt",
    ]
    assert counts.loc["finansiering", "Södra"] == 2
    assert counts.loc["finansiering", "Totalt"] == 2
    assert counts.loc["ej_tilldelad", "Nationell"] == 1
    assert counts.loc[ROW_N_STATEMENTS, "Totalt"] == 4
    assert counts.loc[ROW_N_DOCUMENTS, "Södra"] == 1
    assert counts.loc[ROW_N_DOCUMENTS, "Totalt"] == 2


def test_shares_are_column_percentages() -> None:
    shares = build_tables(STATEMENTS, RESULT, DOCS).shares.set_index("theme_id")
    assert shares.loc["finansiering", "Södra"] == 100.0
    assert shares.loc["inductive_01", "Norra"] == 100.0
    assert shares["Totalt"].sum() == pytest.approx(100.0)
    assert shares.loc["finansiering", "Totalt"] == 50.0


def test_share_columns_add_up_to_exactly_100() -> None:
    # Three statements in one region: 33.3 + 33.3 + 33.3 rounds to 99.9 without care.
    statements = [_statement(n, Region.NORRA, doc="d.txt") for n in (1, 2, 3)]
    themes = ("finansiering", "målbild", "roller")
    result = ThemeResult(
        themes=tuple(Theme(t, t, "codebook", (), 1, ()) for t in themes),
        assignments=tuple(
            Assignment(s.id, t, t, 0.9, "codebook") for s, t in zip(statements, themes, strict=True)
        ),
        threshold=0.8,
        min_cohesion=0.8,
    )
    shares = build_tables(statements, result, DOCS).shares
    assert sorted(shares["Norra"]) == [33.3, 33.3, 33.4]
    for column in ("Norra", "Totalt"):
        assert round(float(shares[column].sum()), 6) == 100.0
    assert float(shares["Södra"].sum()) == 0.0


def test_polarity_counts() -> None:
    polarity = build_tables(STATEMENTS, RESULT, DOCS).polarity
    row = polarity[(polarity["theme_id"] == "finansiering") & (polarity["region"] == "Södra")]
    assert row[["Möjlighet", "Hinder", "ingen", "Totalt"]].values.tolist() == [[1, 1, 0, 2]]
    assert len(polarity) == 3


def test_missing_assignment_is_an_error() -> None:
    with pytest.raises(ValueError, match="statements without a theme assignment: x:1:1"):
        build_tables([_statement(1, Region.NORRA, doc="x")], RESULT, DOCS)


def test_statement_rows_follow_reading_order() -> None:
    located = [
        Statement("d.pdf:p2.1:1", "d.pdf", Location(1, page=2), "slide 2"),
        Statement("d.pdf:p1.2:10", "d.pdf", Location(2, page=1), "tionde"),
        Statement("d.pdf:p1.2:9", "d.pdf", Location(2, page=1), "nionde"),
        Statement("c.txt:7:1", "c.txt", Location(7), "först"),
    ]
    result = ThemeResult(
        themes=(Theme("ej_tilldelad", "ej tilldelad", "unassigned", (), 4, ()),),
        assignments=tuple(
            Assignment(s.id, "ej_tilldelad", "ej tilldelad", 0.0, "unassigned") for s in located
        ),
        threshold=0.8,
        min_cohesion=0.8,
    )
    rows = build_tables(located, result, DOCS).statements
    assert list(rows["text"]) == ["först", "nionde", "tionde", "slide 2"]
