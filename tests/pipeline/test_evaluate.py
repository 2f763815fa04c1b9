"""Evaluation against gold labels: matching, the other-mapping, and metrics checked by hand and
against scikit-learn."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Sequence

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score

from pipeline.evaluate import EvaluationError, Table, evaluate
from pipeline.evaluation_report import render_report

CODEBOOK = ("finansiering", "ledarskap", "lärmiljö", "roller", "struktur")
STATEMENT_HEADER = ("id", "document", "page", "line", "text", "theme_id", "method", "confidence")


def _statements(rows: Sequence[tuple[str, int, str, str]], doc: str = "a.txt") -> Table:
    """Statements of one document from (n, line, text, theme_id); ids `<doc>:<line>:<n>`."""
    out = []
    for suffix, line, text, theme in rows:
        out.append(
            {
                "id": f"{doc}:{line}:{suffix}",
                "document": doc,
                "page": "",
                "line": str(line),
                "text": text,
                "theme_id": theme,
                "method": "codebook",
                "confidence": "0.9",
            }
        )
    return Table("run/statements.csv", STATEMENT_HEADER, tuple(out))


def _labels(rows: Sequence[dict[str, str]], columns: Sequence[str] | None = None) -> Table:
    header = tuple(columns or ("document", "line", "text", "label"))
    return Table("gold.csv", header, tuple(rows))


def _paired(gold: Sequence[str], predicted: Sequence[str]) -> tuple[Table, Table]:
    """One statement per pair, labelled `gold`, themed `predicted`."""
    statements = _statements([("1", i + 1, f"påstående {i}", p) for i, p in enumerate(predicted)])
    labels = _labels(
        [
            {"document": "a.txt", "line": str(i + 1), "text": f"påstående {i}", "label": g}
            for i, g in enumerate(gold)
        ]
    )
    return labels, statements


def test_kappa_accuracy_and_f1_by_hand() -> None:
    # po = 8/10, pe = 0.5 * 0.5 + 0.5 * 0.5 = 0.5, kappa = (0.8 - 0.5) / 0.5 = 0.6
    gold = ["roller"] * 5 + ["struktur"] * 5
    predicted = ["roller"] * 4 + ["struktur"] * 5 + ["roller"]
    result = evaluate(*_paired(gold, predicted), CODEBOOK, n_boot=200)
    assert result.n_matched == 10 and not result.unmatched
    assert result.accuracy == pytest.approx(0.8)
    assert result.kappa == pytest.approx(0.6)
    assert result.macro_f1 == pytest.approx(0.8)
    assert result.f1_labels == ("roller", "struktur")
    assert result.confusion == ((4, 1), (1, 4))
    assert result.kappa_low <= result.kappa <= result.kappa_high


def test_metrics_agree_with_sklearn() -> None:
    gold = ["roller", "struktur", "struktur", "other", "lärmiljö", "roller", "struktur", "other"]
    gold += ["finansiering", "lärmiljö", "struktur", "roller"]
    predicted = ["roller", "roller", "struktur", "inductive_01", "ledarskap", "roller"]
    predicted += ["ej_tilldelad", "struktur", "finansiering", "lärmiljö", "ledarskap", "struktur"]
    result = evaluate(*_paired(gold, predicted), CODEBOOK, seed=7, n_boot=300)

    mapped = [
        "other" if p.startswith("inductive_") or p == "ej_tilldelad" else p for p in predicted
    ]
    assert [p.predicted for p in result.pairs] == mapped
    assert result.kappa == pytest.approx(cohen_kappa_score(gold, mapped))
    assert result.f1_labels == ("finansiering", "lärmiljö", "roller", "struktur", "other")
    expected_f1 = f1_score(
        gold, mapped, labels=list(result.f1_labels), average="macro", zero_division=0
    )
    assert result.macro_f1 == pytest.approx(expected_f1)
    assert result.labels[-1] == "other"  # sorted, `other` last; ledarskap only predicted
    assert "ledarskap" in result.labels and "ledarskap" not in result.f1_labels
    expected_matrix = confusion_matrix(gold, mapped, labels=list(result.labels))
    assert np.array_equal(np.array(result.confusion), expected_matrix)

    # The interval: percentiles of kappa over resampled pairs, drawn as documented.
    rng = np.random.default_rng(7)
    idx = rng.integers(0, len(gold), size=(300, len(gold)))
    kappas = [cohen_kappa_score([gold[i] for i in row], [mapped[i] for i in row]) for row in idx]
    low, high = np.percentile([k for k in kappas if not math.isnan(k)], [2.5, 97.5])
    assert result.kappa_low == pytest.approx(low) and result.kappa_high == pytest.approx(high)

    ledarskap = next(s for s in result.per_label if s.label == "ledarskap")
    assert (ledarskap.precision, ledarskap.support, ledarskap.predicted) == (0.0, 0, 2)
    roller = next(s for s in result.per_label if s.label == "roller")
    assert (roller.precision, roller.recall, roller.support) == (2 / 3, 2 / 3, 3)


def test_bootstrap_is_deterministic_per_seed() -> None:
    gold = ["roller", "struktur", "lärmiljö"] * 6
    predicted = ["roller", "struktur", "struktur"] * 6
    pairs = _paired(gold, predicted)
    first, again = evaluate(*pairs, CODEBOOK, seed=1), evaluate(*pairs, CODEBOOK, seed=1)
    other = evaluate(*pairs, CODEBOOK, seed=2)
    assert render_report(first) == render_report(again)
    assert first.as_dict() == again.as_dict()
    assert (first.kappa_low, first.kappa_high) != (other.kappa_low, other.kappa_high)
    assert first.n_boot == 1000


def test_duplicates_whitespace_and_line_preference() -> None:
    statements = _statements(
        [
            ("1", 100, "Storlek", "ledarskap"),
            ("2", 100, "Storlek", "struktur"),
            ("1", 139, "Storlek", "roller"),
            ("1", 88, "Lärande   miljö", "lärmiljö"),
        ]
    )
    decomposed = unicodedata.normalize("NFD", " Lärande \n miljö ")
    labels = _labels(
        [
            {"document": "a.txt", "line": "", "text": "Storlek", "label": "roller"},
            {"document": "a.txt", "line": "100", "text": "Storlek ", "label": "ledarskap"},
            {"document": "a.txt", "line": "100", "text": "\tStorlek", "label": "struktur"},
            {"document": "a.txt", "line": "", "text": decomposed, "label": "lärmiljö"},
            # a third row naming line 100 shares the best of the two statements there
            {"document": "a.txt", "line": "100", "text": "Storlek", "label": "ledarskap"},
        ]
    )
    result = evaluate(labels, statements, CODEBOOK, n_boot=10)
    ids = [p.statement_id for p in result.pairs]
    # rows naming line 100 take the two line-100 statements in id order; the row without a
    # line, though first in the file, takes what is left (line 139)
    assert ids == ["a.txt:139:1", "a.txt:100:1", "a.txt:100:2", "a.txt:88:1", "a.txt:100:1"]
    assert result.accuracy == 1.0 and not result.unmatched


def test_first_by_id_is_numeric_and_each_statement_is_used_once() -> None:
    statements = _statements([("1", 9, "Kultur", "lärmiljö"), ("1", 10, "Kultur", "roller")])
    rows = [{"document": "a.txt", "line": "", "text": "Kultur", "label": "lärmiljö"}] * 2
    result = evaluate(_labels(rows), statements, CODEBOOK, n_boot=10)
    assert [p.statement_id for p in result.pairs] == ["a.txt:9:1", "a.txt:10:1"]


def test_unmatched_rows_are_counted_and_listed() -> None:
    statements = _statements([("1", 1, "Finansiering saknas", "finansiering")])
    labels = _labels(
        [
            {
                "document": "a.txt",
                "line": "1",
                "text": "Finansiering saknas",
                "label": "finansiering",
            },
            {"document": "b.txt", "line": "1", "text": "Finansiering saknas", "label": "roller"},
            {"document": "a.txt", "line": "2", "text": "Något annat", "label": "other"},
        ]
    )
    result = evaluate(labels, statements, CODEBOOK, n_boot=10)
    assert result.n_matched == 1
    assert [(u.row, u.document) for u in result.unmatched] == [(2, "b.txt"), (3, "a.txt")]
    report = render_report(result)
    assert "matched 1, unmatched 2" in report
    assert "Unmatched label rows (2)" in report
    assert "row 2: b.txt line 1 [roller] Finansiering saknas" in report
    assert result.as_dict()["n_unmatched"] == 2


def test_computed_themes_count_as_other() -> None:
    gold = ["other", "other", "roller", "other"]
    predicted = ["inductive_01", "ej_tilldelad", "roller", "inductive_12"]
    known = evaluate(*_paired(gold, predicted), CODEBOOK, n_boot=10)
    assert known.accuracy == 1.0 and known.labels == ("roller", "other")
    inferred = evaluate(*_paired(gold, predicted), None, n_boot=10)
    assert inferred.accuracy == 1.0 and inferred.codebook_inferred
    assert inferred.codebook_ids == ("roller",)
    assert "inferred from the theme ids seen" in render_report(inferred)
    # a review file may keep the run's computed theme as its label: also `other`
    review = evaluate(*_paired(["inductive_03", "ej_tilldelad"], ["other", "inductive_01"]), None)
    assert [p.gold for p in review.pairs] == ["other", "other"] and review.accuracy == 1.0


def test_label_outside_the_codebook_is_an_error() -> None:
    with pytest.raises(EvaluationError) as info:
        evaluate(*_paired(["roller", "Ekonomi"], ["roller", "roller"]), CODEBOOK)
    message = str(info.value)
    assert message.startswith("gold.csv: row 2: label 'ekonomi' is neither a codebook theme")
    assert "use one of finansiering, ledarskap, lärmiljö, roller, struktur or other" in message


def test_seed_and_review_formats() -> None:
    statements = _statements([("1", 5, "Kultur", "lärmiljö"), ("1", 6, "Status", "roller")])
    seed = _labels(
        [
            {"document": "a.txt", "line": "5", "statement": "Kultur", "category": "X",
             "theme": "lärmiljö"},
            {"document": "a.txt", "line": "6", "statement": "Status", "category": "Y",
             "theme": "attraktivitet"},
        ],
        ("document", "line", "statement", "category", "theme"),
    )  # fmt: skip
    result = evaluate(seed, statements, None, n_boot=10)
    assert [p.gold for p in result.pairs] == ["lärmiljö", "attraktivitet"]
    review = _labels(
        [{"Document": "a.txt", " Text": "Status", "Theme": "Roller"},
         {"Document": "a.txt", " Text": "Kultur", "Theme": ""}],
        ("Document", " Text", "Theme"),
    )  # fmt: skip
    result = evaluate(review, statements, CODEBOOK, n_boot=10)
    assert result.n_matched == 1 and result.n_unlabelled == 1 and result.accuracy == 1.0
    # `label` wins over `theme` when a file has both
    both = _labels(
        [{"document": "a.txt", "text": "Status", "label": "roller", "theme": "struktur"}],
        ("document", "text", "label", "theme"),
    )
    assert evaluate(both, statements, CODEBOOK, n_boot=10).pairs[0].gold == "roller"


def test_bad_columns_name_the_file_what_was_found_and_what_is_expected() -> None:
    statements = _statements([("1", 1, "x", "roller")])
    bad = _labels(
        [{"document": "a.txt", "line": "1", "category": "x"}], ("document", "line", "category")
    )
    with pytest.raises(EvaluationError) as info:
        evaluate(bad, statements, CODEBOOK)
    assert str(info.value) == (
        "gold.csv: columns found: document, line, category; expected document, text (or "
        "statement), label (or theme); line, page optional; rename the header row or give the "
        "right file"
    )
    no_theme = Table("run/statements.csv", ("id", "document", "text"), ())
    with pytest.raises(EvaluationError, match=r"^run/statements.csv: columns found: id, docum"):
        evaluate(_labels([]), no_theme, CODEBOOK)


def test_no_match_scores_nothing_and_json_is_strict() -> None:
    statements = _statements([("1", 1, "Finansiering saknas", "finansiering")])
    labels = _labels([{"document": "b.txt", "line": "1", "text": "Annat", "label": "roller"}])
    result = evaluate(labels, statements, CODEBOOK)
    assert result.n_matched == 0 and math.isnan(result.kappa) and math.isnan(result.macro_f1)
    assert "nothing to score" in render_report(result)
    assert json.loads(json.dumps(result.as_dict(), allow_nan=False))["kappa"] is None


def test_worst_confusions_and_analyst_warning() -> None:
    gold = ["struktur"] * 5 + ["roller"] * 2 + ["roller"]
    predicted = ["roller"] * 4 + ["struktur"] + ["struktur"] * 2 + ["roller"]
    labels, statements = _paired(gold, predicted)
    rows = [dict(r) for r in statements.rows]
    rows[0]["method"] = "analyst"
    statements = Table(statements.source, statements.columns, tuple(rows))
    result = evaluate(labels, statements, CODEBOOK, n_boot=10)
    assert [(c.gold, c.predicted, c.count) for c in result.worst] == [
        ("struktur", "roller", 4),
        ("roller", "struktur", 2),
    ]
    assert result.worst[0].examples == ("påstående 0", "påstående 1", "påstående 2")
    assert result.n_analyst == 1
    assert "Warning: 1 matched statements were assigned from analyst labels" in render_report(
        result
    )
