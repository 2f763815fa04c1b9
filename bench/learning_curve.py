"""Learning curve of the review loop: kappa as the analyst labels 0, 20, 40, 60, 80 statements.

    OMP_NUM_THREADS=1 .venv/bin/python bench/learning_curve.py [--step 20] [--rounds 4]
                                                             [--json PATH]

The analyst is simulated by an oracle that answers from analyst_labels.csv (tests/data/, else
../shared/gold/). The whole sample corpus is run (statements, embeddings through the on-disk
cache, models/codebook.yaml, models/config.yaml), as in `temakarta run`.

* active: start with no labels; each round runs `assign_themes` with the labels so far, then
  `pipeline.review.select_for_review` (uncertain + diverse, seed = the config seed) picks the
  next `--step` statements. The oracle can only answer for statements that have a gold label,
  so the selection is restricted to the pool of gold-matched statements not yet labelled; in a
  real run it may pick any statement of the corpus, so this measures the selection rule within
  the gold pool, not a live session. Each answer is written as a labels.csv row (document, text,
  theme) and resolved by `pipeline.labels.match_labels`, so it labels every statement of its
  document with the same text, exactly as a run reads labels.csv.
* random: the baseline, the same pool shuffled with `numpy.random.default_rng(seed)` (one
  statement per document and text), the first 20, 40, ... answered.

After each round kappa (95% bootstrap interval), accuracy and macro-F1 are measured on the gold
rows whose statement is NOT labelled (a run copies a labelled statement's label, so it is no
test). The held-out rows shrink as labels grow and differ between the two selections: active
review takes the uncertain, harder rows out of the test, so kappa0/acc0 give the run without
any labels on the same held-out rows, and the gain from the labels is kappa - kappa0. The
issue's goal: kappa >= 0.80 after 40 labels.

* leave-one-document-out: labels from all gold rows of four documents, scored on the fifth's
  gold rows; per document and pooled (each gold row scored by the fold that held its document
  out), beside the same rows with no labels at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _gold
from pipeline.evaluate import Table
from pipeline.review import select_for_review
from pipeline.themes import ThemeResult

GOAL_KAPPA, GOAL_LABELS = 0.80, 40


def _held_out(
    corpus: _gold.Corpus,
    gold: Table,
    items: Sequence[_gold.GoldItem],
    labels: dict[str, str],
    result: ThemeResult,
    baseline: ThemeResult,
) -> dict[str, Any]:
    """Metrics on the gold rows whose statement carries no label, and those of the run without
    labels on the same rows (`kappa_no_labels`, `accuracy_no_labels`)."""
    rows = [it.row for it in items if corpus.statements[it.index].id not in labels]
    ids = corpus.codebook_ids
    e = _gold.score(gold, corpus.statements, result.assignments, ids, rows=rows)
    e0 = _gold.score(gold, corpus.statements, baseline.assignments, ids, rows=rows, n_boot=0)
    temperature = result.classifier.temperature_ if result.classifier else None
    return {
        **_gold.metrics(e),
        "labelled": len(labels),
        "temperature": temperature,
        "kappa_no_labels": _gold.metrics(e0)["kappa"],
        "accuracy_no_labels": _gold.metrics(e0)["accuracy"],
    }


def _first_item(items: Sequence[_gold.GoldItem]) -> dict[int, _gold.GoldItem]:
    """The first gold row of each matched statement (the oracle's answer for it)."""
    out: dict[int, _gold.GoldItem] = {}
    for item in items:
        out.setdefault(item.index, item)
    return out


def active_curve(
    corpus: _gold.Corpus,
    gold: Table,
    items: Sequence[_gold.GoldItem],
    baseline: ThemeResult,
    step: int,
    rounds: int,
) -> list[dict[str, Any]]:
    """Rounds of review with `select_for_review` restricted to the unlabelled gold pool."""
    answer = _first_item(items)
    answered: list[_gold.GoldItem] = []
    labels: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for round_no in range(rounds + 1):
        result = corpus.run(labels) if labels else baseline
        held_out = _held_out(corpus, gold, items, labels, result, baseline)
        out.append({"answers": len(answered), **held_out})
        if round_no == rounds:
            break
        pool = [i for i in sorted(answer) if corpus.statements[i].id not in labels]
        picked = select_for_review(
            [corpus.statements[i] for i in pool],
            [result.assignments[i] for i in pool],
            corpus.vectors[pool],
            step,
            corpus.seed,
        )
        answered += [answer[pool[p]] for p in picked]
        labels = _gold.oracle_labels(answered, corpus.statements, corpus.codebook_ids)
    return out


def random_curve(
    corpus: _gold.Corpus,
    gold: Table,
    items: Sequence[_gold.GoldItem],
    baseline: ThemeResult,
    sizes: Sequence[int],
) -> list[dict[str, Any]]:
    """The same sizes answered in a seeded random order of the gold pool."""
    answer = _first_item(items)
    unique: dict[tuple[str, str], int] = {}
    for i in sorted(answer):
        unique.setdefault((corpus.statements[i].document, corpus.statements[i].text), i)
    pool = sorted(unique.values())
    order = [pool[p] for p in np.random.default_rng(corpus.seed).permutation(len(pool))]
    out: list[dict[str, Any]] = []
    for size in sizes:
        answered = [answer[i] for i in order[:size]]
        labels = _gold.oracle_labels(answered, corpus.statements, corpus.codebook_ids)
        result = corpus.run(labels) if labels else baseline
        held_out = _held_out(corpus, gold, items, labels, result, baseline)
        out.append({"answers": size, **held_out})
    return out


def leave_one_out(
    corpus: _gold.Corpus,
    gold: Table,
    items: Sequence[_gold.GoldItem],
    baseline: ThemeResult,
) -> list[dict[str, Any]]:
    """Per held-out document and pooled: metrics with the other documents' labels and with none."""
    folds, pooled = _gold.leave_one_document_out(corpus, items)
    ids = corpus.codebook_ids
    out: list[dict[str, Any]] = []
    for fold in folds:
        rows = [it.row for it in items if it.document == fold.document]
        e = _gold.score(gold, corpus.statements, fold.result.assignments, ids, rows=rows)
        e0 = _gold.score(gold, corpus.statements, baseline.assignments, ids, rows=rows)
        classifier = fold.result.classifier
        out.append(
            {
                "document": fold.document,
                "labelled": len(fold.labels),
                "temperature": classifier.temperature_ if classifier else None,
                **_gold.metrics(e),
                "kappa_no_labels": _gold.metrics(e0)["kappa"],
                "accuracy_no_labels": _gold.metrics(e0)["accuracy"],
            }
        )
    rows = [it.row for it in items]
    e = _gold.score(gold, corpus.statements, pooled, ids, rows=rows)
    e0 = _gold.score(gold, corpus.statements, baseline.assignments, ids, rows=rows)
    out.append(
        {
            "document": "pooled",
            "labelled": None,
            "temperature": None,
            **_gold.metrics(e),
            "kappa_no_labels": _gold.metrics(e0)["kappa"],
            "accuracy_no_labels": _gold.metrics(e0)["accuracy"],
        }
    )
    return out


def _curve_table(curves: dict[str, list[dict[str, Any]]]) -> str:
    head = (
        f"{'selection':<9} {'answers':>7} {'labelled':>8} {'T':>5} {'held-out':>8}  "
        f"{'kappa':>5}  {'95% CI':<14}  {'acc':>5}  {'macroF1':>7}  {'kappa0':>6}  {'acc0':>5}"
    )
    lines = [head, "-" * len(head)]
    for name, curve in curves.items():
        for r in curve:
            low, high = r["kappa_ci95"]
            lines.append(
                f"{name:<9} {r['answers']:>7} {r['labelled']:>8} {r['temperature'] or 0:5.2f} "
                f"{r['n']:>8}  {_gold.fmt(r['kappa'])}  [{_gold.fmt(low)}, {_gold.fmt(high)}]  "
                f"{_gold.fmt(r['accuracy'])}  {_gold.fmt(r['macro_f1'], 7)}  "
                f"{_gold.fmt(r['kappa_no_labels'], 6)}  {_gold.fmt(r['accuracy_no_labels'])}"
            )
    return "\n".join(lines)


def _loo_table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'held-out document':<26} {'labelled':>8} {'T':>5} {'rows':>5}  {'kappa':>5}  "
        f"{'95% CI':<14}  {'acc':>5}  {'macroF1':>7}  {'kappa0':>6}  {'acc0':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        low, high = r["kappa_ci95"]
        labelled = "" if r["labelled"] is None else r["labelled"]
        temperature = "" if r["temperature"] is None else f"{r['temperature']:.2f}"
        lines.append(
            f"{r['document']:<26} {labelled:>8} {temperature:>5} {r['n']:>5}  "
            f"{_gold.fmt(r['kappa'])}  [{_gold.fmt(low)}, {_gold.fmt(high)}]  "
            f"{_gold.fmt(r['accuracy'])}  {_gold.fmt(r['macro_f1'], 7)}  "
            f"{_gold.fmt(r['kappa_no_labels'], 6)}  {_gold.fmt(r['accuracy_no_labels'])}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the curves and the leave-one-document-out table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gold", type=Path, default=_gold.gold_path(_gold.ANALYST_LABELS))
    parser.add_argument("--step", type=int, default=20, help="answers per review round")
    parser.add_argument("--rounds", type=int, default=4, help="review rounds (4 x 20 = 80)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    opened = _gold.open_gold(args.gold)
    if opened is None:
        return 2
    corpus, gold, items, unmatched = opened
    pool = len({it.index for it in items})
    print(
        f"{len(corpus.statements)} statements; gold {args.gold.name}: {len(gold.rows)} rows, "
        f"{len(items)} matched ({pool} distinct statements), {unmatched} unmatched; "
        f"seed {corpus.seed}"
    )
    baseline = corpus.run()
    active = active_curve(corpus, gold, items, baseline, args.step, args.rounds)
    sizes = [r["answers"] for r in active]
    curves = {"active": active, "random": random_curve(corpus, gold, items, baseline, sizes)}
    print(
        "\nReview rounds (answers: labels.csv rows the oracle wrote; labelled: statements they "
        "reach; T: softmax temperature; held-out: gold rows not labelled, the rows scored; "
        "kappa0/acc0: the run without labels on the same held-out rows)"
    )
    print(_curve_table(curves))
    at_goal = next((r for r in active if r["answers"] == GOAL_LABELS), None)
    if at_goal is not None and at_goal["kappa"] is not None:
        verdict = "met" if at_goal["kappa"] >= GOAL_KAPPA else "not met"
        print(
            f"goal kappa >= {GOAL_KAPPA:.2f} after {GOAL_LABELS} labels (active): "
            f"{at_goal['kappa']:.3f}, {verdict}"
        )
    loo = leave_one_out(corpus, gold, items, baseline)
    print(
        "\nLeave one document out (labels: every gold row of the other documents; kappa0/acc0: "
        "the same rows with no labels)"
    )
    print(_loo_table(loo))
    leaks = sum(r["n_analyst"] for c in curves.values() for r in c) + sum(
        r["n_analyst"] for r in loo
    )
    if leaks:
        print(f"warning: {leaks} scored rows were labelled (method analyst)", file=sys.stderr)
    _gold.write_json(
        args.json,
        {
            "gold": str(args.gold),
            "statements": len(corpus.statements),
            "gold_rows": len(gold.rows),
            "matched": len(items),
            "seed": corpus.seed,
            "step": args.step,
            "curves": curves,
            "leave_one_document_out": loo,
            "goal": {"kappa": GOAL_KAPPA, "labels": GOAL_LABELS},
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
