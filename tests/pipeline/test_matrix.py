"""Output tables from a small real set of statements and assignments."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest

from pipeline.matrix import (
    COL_N_DROPPED,
    COL_TOTAL,
    REGION_COLUMNS,
    ROW_N_DOCUMENTS,
    ROW_N_STATEMENTS,
    STATEMENT_COLUMNS,
    UNCERTAINTY_COLUMNS,
    build_tables,
    count_interval,
)
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
        "Okänd",
        "Totalt",
    ]
    assert counts.loc["finansiering", "Södra"] == 2
    assert counts.loc["finansiering", "Totalt"] == 2
    assert counts.loc["ej_tilldelad", "Nationell"] == 1
    assert counts.loc["ej_tilldelad", "Okänd"] == 0
    assert counts.loc[ROW_N_STATEMENTS, "Totalt"] == 4
    assert counts.loc[ROW_N_DOCUMENTS, "Södra"] == 1
    assert counts.loc[ROW_N_DOCUMENTS, "Totalt"] == 2


def test_unplaced_statements_have_their_own_column() -> None:
    page = _statement(5, Region.OKAND, doc="c.html")
    result = ThemeResult(
        RESULT.themes,
        (
            *RESULT.assignments,
            Assignment(page.id, "inductive_01", "digital, journal", 0.6, "hdbscan"),
        ),
        RESULT.min_cohesion,
    )
    info = DocumentInfo(
        "c.html", "c" * 64, "html", "utf-8", Region.OKAND, "no evidence", n_dropped=7
    )
    tables = build_tables([*STATEMENTS, page], result, [*DOCS, info])
    counts = tables.counts.set_index("theme_id")
    # A statement nothing places is counted in its own column, not as national.
    assert counts.loc["inductive_01", "Okänd"] == 1
    assert counts.loc["inductive_01", "Nationell"] == 0
    assert counts.loc[ROW_N_DOCUMENTS, "Okänd"] == 1
    uncertainty = tables.uncertainty
    assert "Okänd" in set(uncertainty["region"])
    assert list(tables.documents["document"]) == ["a.txt", "b.txt", "c.html"]
    assert list(tables.documents[COL_N_DROPPED]) == [0, 0, 7]


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
        min_cohesion=0.8,
    )
    rows = build_tables(located, result, DOCS).statements
    assert list(rows["text"]) == ["först", "nionde", "tionde", "slide 2"]


# Uncertainty: four statements (three in Södra, one in Norra), themes given out of output order
# and assignments out of reading order, so both mappings are exercised.
PROB_STATEMENTS = [
    _statement(1, Region.SODRA),
    _statement(2, Region.SODRA),
    _statement(3, Region.SODRA),
    _statement(4, Region.NORRA),
]
PROB_THEMES = (
    Theme("ej_tilldelad", "ej tilldelad", "unassigned", (), 1, ()),
    Theme("roller", "Roller", "codebook", (), 1, ()),
    Theme("finansiering", "Finansiering", "codebook", (), 2, ()),
)
# Rows follow the assignments, columns follow PROB_THEMES (ej_tilldelad, roller, finansiering).
PROB_ASSIGNMENTS = (
    Assignment("a.txt:3:1", "roller", "Roller", 0.8, "codebook", confidence=0.55),
    Assignment("a.txt:1:1", "finansiering", "Finansiering", 0.9, "codebook", confidence=0.7),
    Assignment("a.txt:4:1", "ej_tilldelad", "ej tilldelad", 0.1, "unassigned", confidence=0.6),
    Assignment("a.txt:2:1", "finansiering", "Finansiering", 0.85, "codebook", confidence=0.8),
)
PROBABILITIES = np.array(
    [
        [0.15, 0.55, 0.30],
        [0.10, 0.20, 0.70],
        [0.60, 0.25, 0.15],
        [0.05, 0.15, 0.80],
    ]
)
PROB_RESULT = ThemeResult(PROB_THEMES, PROB_ASSIGNMENTS, 0.8, PROBABILITIES)


def _brute_force(probabilities: list[float]) -> tuple[float, int, int]:
    """Expected count and 5th/95th percentiles by enumerating all 2^n outcomes."""
    pmf = [0.0] * (len(probabilities) + 1)
    for outcome in itertools.product((0, 1), repeat=len(probabilities)):
        pmf[sum(outcome)] += math.prod(
            p if hit else 1.0 - p for p, hit in zip(probabilities, outcome, strict=True)
        )
    cdf = list(itertools.accumulate(pmf))
    low = next(k for k, c in enumerate(cdf) if c >= 0.05 - 1e-12)
    high = next(k for k, c in enumerate(cdf) if c >= 0.95 - 1e-12)
    return sum(probabilities), low, high


def test_uncertainty_matches_brute_force_enumeration() -> None:
    table = build_tables(PROB_STATEMENTS, PROB_RESULT, DOCS).uncertainty
    row_of = {a.statement_id: i for i, a in enumerate(PROB_ASSIGNMENTS)}
    column_of = {t.id: j for j, t in enumerate(PROB_THEMES)}
    members = {
        "Södra": ["a.txt:1:1", "a.txt:2:1", "a.txt:3:1"],
        "Norra": ["a.txt:4:1"],
        COL_TOTAL: ["a.txt:1:1", "a.txt:2:1", "a.txt:3:1", "a.txt:4:1"],
    }
    cells: dict[tuple[str, str], tuple[int, float, int, int]] = {
        (str(t), str(r)): (int(o), float(e), int(lo), int(hi))
        for t, _, r, o, e, lo, hi in table.itertuples(index=False)
    }
    checked = 0
    for (theme_id, region), (observed, expected, low, high) in cells.items():
        ids = members.get(region, [])
        probs = [float(PROBABILITIES[row_of[i]][column_of[theme_id]]) for i in ids]
        mean, brute_low, brute_high = _brute_force(probs)
        assert (expected, low, high) == (round(mean, 2), brute_low, brute_high), theme_id
        assert observed == sum(
            1 for a in PROB_ASSIGNMENTS if a.statement_id in ids and a.theme_id == theme_id
        )
        checked += bool(ids)
    assert checked == 3 * 3
    assert cells[("finansiering", COL_TOTAL)] == (2, 1.95, 1, 3)


def test_uncertainty_rows_follow_the_counts_matrix() -> None:
    tables = build_tables(PROB_STATEMENTS, PROB_RESULT, DOCS)
    table = tables.uncertainty
    assert list(table.columns) == list(UNCERTAINTY_COLUMNS)
    counts = tables.counts
    themes = [t for t in counts["theme_id"] if t not in (ROW_N_STATEMENTS, ROW_N_DOCUMENTS)]
    assert themes == ["finansiering", "roller", "ej_tilldelad"]
    regions = [*REGION_COLUMNS, COL_TOTAL]
    assert list(zip(table["theme_id"], table["region"], strict=True)) == [
        (t, r) for t in themes for r in regions
    ]
    observed = counts.set_index("theme_id").loc[themes, regions].to_numpy().ravel()
    assert table["observed"].tolist() == observed.tolist()
    assert table.loc[table["theme_id"] == "roller", "theme_label"].unique().tolist() == ["Roller"]


def test_expected_counts_add_up_to_each_regions_statements() -> None:
    tables = build_tables(PROB_STATEMENTS, PROB_RESULT, DOCS)
    n_statements = tables.counts.set_index("theme_id").loc[ROW_N_STATEMENTS]
    expected = tables.uncertainty.groupby("region")["expected"].sum()
    for region in (*REGION_COLUMNS, COL_TOTAL):
        assert expected[region] == pytest.approx(n_statements[region], abs=0.005 * 3)


def test_without_probabilities_intervals_collapse_to_the_counts() -> None:
    table = build_tables(STATEMENTS, RESULT, DOCS).uncertainty
    assert (table["low_90"] == table["observed"]).all()
    assert (table["high_90"] == table["observed"]).all()
    assert (table["expected"] == table["observed"]).all()
    assert table["observed"].sum() == 2 * len(STATEMENTS)  # each statement: region and Totalt


def test_analyst_statements_are_certain() -> None:
    assignments = (
        Assignment("a.txt:3:1", "roller", "Roller", 1.0, "analyst"),
        *PROB_ASSIGNMENTS[1:],
    )
    result = ThemeResult(PROB_THEMES, assignments, 0.8, PROBABILITIES)
    table = build_tables(PROB_STATEMENTS, result, DOCS).uncertainty.set_index(
        ["theme_id", "region"]
    )
    # a.txt:3:1 (Södra) counts fully for roller, not with 0.15 / 0.55 / 0.30.
    assert table.loc[("roller", "Södra"), "expected"] == round(0.20 + 0.15 + 1.0, 2)
    assert table.loc[("ej_tilldelad", "Södra"), "expected"] == round(0.10 + 0.05, 2)
    assert table.loc[("roller", "Södra"), "low_90"] == 1


def test_uncertainty_is_byte_identical_on_rerun() -> None:
    def csv_bytes() -> bytes:
        buffer = io.StringIO()
        tables = build_tables(list(reversed(PROB_STATEMENTS)), PROB_RESULT, DOCS)
        tables.uncertainty.to_csv(buffer, index=False, lineterminator="\n")
        tables.statements.to_csv(buffer, index=False, lineterminator="\n")
        return buffer.getvalue().encode("utf-8")

    assert csv_bytes() == csv_bytes()


def test_probabilities_of_the_wrong_shape_are_an_error() -> None:
    result = ThemeResult(PROB_THEMES, PROB_ASSIGNMENTS, 0.8, PROBABILITIES[:, :2])
    with pytest.raises(ValueError, match="shape"):
        build_tables(PROB_STATEMENTS, result, DOCS)


def test_statements_have_a_rounded_confidence_after_the_score() -> None:
    assignments = (
        Assignment("a.txt:3:1", "roller", "Roller", 0.8, "codebook", confidence=0.123456),
        *PROB_ASSIGNMENTS[1:],
    )
    result = ThemeResult(PROB_THEMES, assignments, 0.8, PROBABILITIES)
    rows = build_tables(PROB_STATEMENTS, result, DOCS).statements
    columns = list(rows.columns)
    assert columns.index("confidence") == columns.index("score") + 1
    assert rows["confidence"].tolist() == [0.7, 0.8, 0.1235, 0.6]
    assert build_tables(STATEMENTS, RESULT, DOCS).statements["confidence"].tolist() == [1.0] * 4


def test_count_interval_exact_against_enumeration() -> None:
    rng = np.random.default_rng(7)
    for n in range(1, 9):
        probabilities = rng.uniform(0.0, 1.0, n)
        _, low, high = _brute_force(probabilities.tolist())
        assert count_interval(probabilities) == (low, high)
    assert count_interval(np.array([0.5, 0.5, 0.5])) == (0, 3)
    # Certain and impossible statements only shift the count.
    assert count_interval(np.array([1.0, 0.0, 1e-12, 0.5])) == (1, 2)


def test_count_interval_normal_approximation_is_close_to_exact() -> None:
    probabilities = np.random.default_rng(11).uniform(0.0, 1.0, 2000)
    low, high = count_interval(probabilities)
    approx_low, approx_high = count_interval(probabilities, exact_limit=1000)
    assert abs(approx_low - low) <= 1 and abs(approx_high - high) <= 1
    assert approx_low < sum(probabilities) < approx_high


def test_themes_csv_has_as_many_representatives_as_asked() -> None:
    themes = build_tables(STATEMENTS, RESULT, DOCS, representatives=5).themes
    columns = [c for c in themes.columns if c.startswith("representative_")]
    assert columns == [f"representative_{n}" for n in range(1, 6)]
    row = themes.set_index("theme_id").loc["finansiering"]
    assert [row[c] for c in columns] == ["text 1", "text 3", "", "", ""]
    default = build_tables(STATEMENTS, RESULT, DOCS).themes
    assert [c for c in default.columns if c.startswith("representative_")] == [
        "representative_1", "representative_2", "representative_3",
    ]  # fmt: skip
