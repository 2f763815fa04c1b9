"""Pure helpers of bench/bertopic_compare.py: gold matching and topic -> label mapping.

Fast and model-free; BERTopic (the optional `bench` extra) is never imported.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pipeline.records import Location, Statement

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bertopic_compare.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_bertopic_compare", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        del sys.modules[spec.name]  # the script must not need bertopic at import time
        pytest.skip(
            f"{SCRIPT.name} does not import without the bench extra: {e}", allow_module_level=True
        )
    return module


_had_bertopic = "bertopic" in sys.modules
bc = _load()


def test_loading_the_script_does_not_import_bertopic() -> None:
    assert _had_bertopic or "bertopic" not in sys.modules


def _st(doc: str, line: int, text: str, page: int | None = None, idx: int = 0) -> Statement:
    return Statement(
        id=f"{doc}:{page}:{line}:{idx}",
        document=doc,
        location=Location(line=line, page=page),
        text=text,
    )


def _gold(doc: str, line: int | None, text: str, label: str = "struktur", page: int | None = None):
    return bc.GoldRow(document=doc, line=line, page=page, text=text, label=label)


def test_normalise_text_collapses_whitespace_only() -> None:
    assert bc.normalise_text("  Gemensam\tbild\n över  ") == "Gemensam bild över"
    assert bc.normalise_text("Över") != bc.normalise_text("över")
    # NFC: a decomposed "ö" matches the composed one
    assert bc.normalise_text("o\u0308ver") == "över"


def test_match_by_document_and_normalised_text() -> None:
    statements = [_st("a.txt", 3, "Gemensam bild"), _st("b.txt", 3, "Gemensam  bild")]
    gold = [
        _gold("b.txt", 3, "Gemensam bild"),
        _gold("a.txt", 9, " Gemensam\nbild "),
        _gold("a.txt", 3, "Annan text"),
        _gold("c.txt", 3, "Gemensam bild"),
    ]
    assert bc.match_gold(gold, statements) == [1, 0, None, None]


def test_match_prefers_same_line_then_nearest_then_untaken() -> None:
    statements = [
        _st("a.txt", 10, "Ja"),
        _st("a.txt", 20, "Ja"),
        _st("a.txt", 30, "Ja", idx=0),
        _st("a.txt", 30, "Ja", idx=1),
    ]
    gold = [
        _gold("a.txt", 20, "Ja"),  # same line
        _gold("a.txt", 12, "Ja"),  # nearest line
        _gold("a.txt", 30, "Ja"),  # same line, first cell
        _gold("a.txt", 30, "Ja"),  # same line, the cell not yet taken
    ]
    assert bc.match_gold(gold, statements) == [1, 0, 2, 3]


def test_match_prefers_same_page() -> None:
    statements = [_st("p.pdf", 4, "Ja", page=1), _st("p.pdf", 4, "Ja", page=2)]
    assert bc.match_gold([_gold("p.pdf", 4, "Ja", page=2)], statements) == [1]


def test_parse_gold_accepts_both_gold_files() -> None:
    analyst = {"document": "a.txt", "page": "", "line": "13", "text": "T", "label": "struktur"}
    seed = {"document": "a.txt", "line": "76", "statement": "S", "category": "X", "theme": "mål"}
    assert bc.parse_gold([analyst, seed]) == [
        bc.GoldRow("a.txt", 13, None, "T", "struktur"),
        bc.GoldRow("a.txt", 76, None, "S", "mål"),
    ]


def test_majority_mapping_outliers_and_ties() -> None:
    topics = [0, 0, 0, 1, 1, -1, -1, 2]
    labels = ["a", "a", "b", "c", "b", "a", "a", "z"]
    mapping = bc.majority_mapping(topics, labels)
    assert mapping == {0: "a", 1: "b", 2: "z", -1: "other"}  # 1: tie b/c -> alphabetical
    assert bc.apply_mapping([0, 1, 2, -1, 7], mapping) == ["a", "b", "z", "other", "other"]


def test_majority_mapping_custom_outlier_id() -> None:
    mapping = bc.majority_mapping(["x", "ej_tilldelad"], ["a", "b"], outliers=["ej_tilldelad"])
    assert mapping == {"x": "a", "ej_tilldelad": "other"}


def test_loo_majority_does_not_let_a_row_vote_for_itself() -> None:
    topics = [0, 0, 0, 1, 2, 2, -1]
    labels = ["a", "a", "b", "c", "d", "e", "a"]
    # row 2 ("b") sees a, a; rows 0/1 see a, b (tie -> a); singleton topic 1 has no voters;
    # topic 2's rows see only the other row's label; the outlier stays "other".
    assert bc.loo_majority_labels(topics, labels) == ["a", "a", "a", "other", "e", "d", "other"]


def test_our_label_maps_non_codebook_ids_to_other() -> None:
    ids = ["målbild", "struktur"]
    assert bc.our_label("struktur", ids) == "struktur"
    assert bc.our_label("inductive_03", ids) == "other"
    assert bc.our_label("ej_tilldelad", ids) == "other"


def test_seed_words_lowercase_dedup_without_stopwords() -> None:
    words = bc.seed_words(["Målbild", "vision", "mål"], "Gemensam målbild och Mål", {"och"})
    assert words == ["målbild", "vision", "mål", "gemensam"]
    assert bc.seed_words(["deltagare"], "Mötes- och bakgrundsfakta", {"och"}) == [
        "deltagare",
        "mötes",
        "bakgrundsfakta",
    ]


def test_score_perfect_and_table() -> None:
    perfect = bc.score(["a", "b", "a"], ["a", "b", "a"])
    assert perfect == {"kappa": 1.0, "accuracy": 1.0, "macro_f1": 1.0}
    row = {"method": "x", **perfect, "outliers": 0.0, "topics": 2, "seconds": 0.5}
    table = bc.format_table([row, {**row, "kappa_loo": 0.5, "accuracy_loo": 0.25}])
    assert "kappaLOO" in table.splitlines()[0]
    assert table.splitlines()[2].rstrip().endswith("-")
    assert table.splitlines()[3].rstrip().endswith("0.250")
