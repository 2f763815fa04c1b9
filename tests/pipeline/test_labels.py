"""pipeline.labels: an analyst's labels.csv rows matched to the real sample statements."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from pipeline.labels import match_labels
from pipeline.records import Statement
from pipeline.themes import parse_codebook

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "corpus/labels.csv"
HEADER = ["document", "text", "theme"]
D000, D001, D004 = (
    "000_cc70e5e80d086de1.txt",
    "001_aeb9084501ce30c8.txt",
    "004_77aaf0857291a2ba.txt",
)
ALLA_PARTER = (
    "Alla parter måste ingå i samverkansarenor (region/landsting, kommuner, utbildningsanordnare)"
)


@pytest.fixture(scope="module")
def statements(sample_statements: dict[str, tuple[Statement, ...]]) -> list[Statement]:
    return [s for key in sorted(sample_statements) for s in sample_statements[key]]


@pytest.fixture(scope="module")
def theme_ids() -> list[str]:
    path = ROOT / "models" / "codebook.yaml"
    return [t.id for t in parse_codebook(path.read_text(encoding="utf-8"), str(path)).themes]


def _ids(statements: list[Statement], document: str, text: str) -> list[str]:
    return sorted(s.id for s in statements if s.document == document and s.text == text)


def test_a_row_names_a_statement_by_document_and_text(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    labels, errors = match_labels(
        [HEADER, [D000, ALLA_PARTER, "roller"]], SOURCE, statements, theme_ids
    )
    assert errors == []
    assert labels == {"000_cc70e5e80d086de1.txt:13:1": "roller"}


def test_text_matches_with_white_space_and_unicode_form_normalised(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    # A spreadsheet may wrap the cell, double spaces, or store å decomposed (a + ring).
    spaced = "  " + ALLA_PARTER.replace("parter ", "parter \t ").replace("måste ", "måste\n")
    mangled = unicodedata.normalize("NFD", spaced)
    assert mangled != ALLA_PARTER
    labels, errors = match_labels(
        [HEADER, [D000, mangled, "roller"]], SOURCE, statements, theme_ids
    )
    assert (labels, errors) == ({"000_cc70e5e80d086de1.txt:13:1": "roller"}, [])


def test_header_in_any_case_with_review_columns_around_it(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    header = ["ID", "Document", "page", "line", "heading_path", "TEXT", "proposed_theme", "Theme"]
    row = ["x", D000, "", "13", "", ALLA_PARTER, "struktur", "Roller"]
    labels, errors = match_labels([header, row], SOURCE, statements, theme_ids)
    assert (labels, errors) == ({"000_cc70e5e80d086de1.txt:13:1": "roller"}, [])


def test_identical_text_in_one_document_is_one_statement_to_the_analyst(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    kultur = _ids(statements, D000, "Kultur")
    assert len(kultur) == 2
    labels, errors = match_labels(
        [HEADER, [D000, "Kultur", "OTHER"]], SOURCE, statements, theme_ids
    )
    assert errors == []
    assert labels == dict.fromkeys(kultur, "other")


def test_the_same_text_in_another_document_is_not_labelled(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    text = "Gemensam målbild"
    documents = {s.document for s in statements if s.text == text}
    assert len(documents) > 1
    labels, _ = match_labels([HEADER, [D000, text, "målbild"]], SOURCE, statements, theme_ids)
    assert sorted(labels) == _ids(statements, D000, text)


def test_an_empty_theme_is_not_reviewed_yet_and_skipped_silently(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    rows = [HEADER, [D000, ALLA_PARTER, ""], [D000, "no such text", "  "], [], ["", "", ""]]
    assert match_labels(rows, SOURCE, statements, theme_ids) == ({}, [])


def test_an_unknown_theme_is_reported_and_the_other_rows_used(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    rows = [HEADER, [D000, "Kultur", "finans"], [D000, ALLA_PARTER, "roller"]]
    labels, errors = match_labels(rows, SOURCE, statements, theme_ids)
    assert labels == {"000_cc70e5e80d086de1.txt:13:1": "roller"}
    [error] = errors
    assert (error.document, error.stage) == ("labels.csv", "labels")
    assert error.where == "corpus/labels.csv: row 2"
    assert error.what == (
        "theme 'finans' is not a codebook theme; expected one of "
        "attraktivitet, dimensionering, finansiering, kunskapsunderlag, ledarskap, lärmiljö, "
        "målbild, mötesfakta, roller, struktur, other"
    )
    assert "codebook" in error.fix


def test_a_row_that_matches_no_statement_says_which_document_and_what_to_check(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    rows = [
        HEADER,
        [D001, "Alla parter måste ingå", "roller"],  # only the start of a statement of 000
        ["005_saknas.txt", "Kultur", "roller"],
        ["", "Kultur", "roller"],
    ]
    labels, errors = match_labels(rows, SOURCE, statements, theme_ids)
    assert labels == {}
    assert [(e.where, e.what) for e in errors] == [
        (
            "corpus/labels.csv: row 2",
            f"no statement of '{D001}' has the text 'Alla parter måste ingå'",
        ),
        ("corpus/labels.csv: row 3", "document '005_saknas.txt' has no statements in this run"),
        ("corpus/labels.csv: row 4", "empty document; a label needs the document and the text"),
    ]
    assert all("statements.csv or review.csv" in e.fix for e in errors)


def test_a_conflicting_label_keeps_the_first_and_is_reported(
    statements: list[Statement], theme_ids: list[str]
) -> None:
    rows = [
        HEADER,
        [D004, "RSG", "struktur"],
        [D004, "RSG", "struktur"],  # the same label again: fine
        [D004, "RSG", "roller"],
    ]
    labels, errors = match_labels(rows, SOURCE, statements, theme_ids)
    rsg = _ids(statements, D004, "RSG")
    assert labels == dict.fromkeys(rsg, "struktur")
    [error] = errors
    assert error.where == "corpus/labels.csv: row 4"
    assert error.what == (
        f"statement {rsg[0]} is already labelled 'struktur' by row 2; "
        "this row says 'roller', the first label is kept"
    )
    assert error.fix.startswith("keep one label per statement")


@pytest.mark.parametrize(
    ("rows", "found"),
    [
        ([], "no header row"),
        (
            [["document", "Text", "label"], [D000, "Kultur", "roller"]],
            "'document', 'text', 'label'",
        ),
    ],
)
def test_missing_columns_name_the_file_and_the_expected_columns(
    statements: list[Statement], theme_ids: list[str], rows: list[list[str]], found: str
) -> None:
    labels, errors = match_labels(rows, SOURCE, statements, theme_ids)
    assert labels == {}
    [error] = errors
    missing = "document, text, theme" if not rows else "theme"
    assert error.where == "corpus/labels.csv:1"
    assert error.what == (
        f"missing column(s) {missing}; expected columns document, text, theme (found {found})"
    )
    assert (error.document, error.stage) == ("labels.csv", "labels")
