"""Calibration of `Assignment.confidence`: reliability curve and expected calibration error.

    OMP_NUM_THREADS=1 .venv/bin/python bench/calibration.py [--bins 10] [--json PATH]

The sample corpus is run as `temakarta run` runs it (statements, embeddings through the on-disk
cache, models/codebook.yaml, models/config.yaml) and each gold row of analyst_labels.csv
(tests/data/, else ../shared/gold/) is matched to its statement (document + whitespace-normalised
text, same line preferred). A row is correct when the assigned theme is its gold label (a run's
inductive_NN and ej_tilldelad count as `other`); its confidence is the assignment's
`confidence`, the calibrated probability that the assigned theme is right.

Two settings:

* no labels: the classifier as shipped (temperature from models/config.yaml);
* leave one document out: for each document, the labels of every gold row of the other four
  are given (as labels.csv rows), so the classifier is refitted on them and its temperature
  refitted by maximum likelihood (>= min_labels_for_calibration labels); each gold row is
  scored by the fold that held its document out, so no row is judged by a fit that saw it.

Per setting: the reliability curve over `--bins` equal-width confidence bins (count, mean
confidence, accuracy; confidence 1.0 falls in the last bin), the expected calibration error
ECE = sum over bins of (count / N) * |accuracy - mean confidence|, and the mean negative
log-likelihood of the gold label under `ThemeResult.probabilities` (the `other` label's
probability is the mass on the run's non-codebook themes).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _gold
from pipeline.themes import OTHER_ID, ThemeResult


def outcomes(
    items: Sequence[_gold.GoldItem],
    result_of: Callable[[_gold.GoldItem], ThemeResult],
    codebook_ids: Sequence[str],
) -> list[tuple[float, bool, float]]:
    """(confidence, correct, probability of the gold label) per gold row."""
    known = set(codebook_ids)
    out = []
    for item in items:
        result = result_of(item)
        assignment = result.assignments[item.index]
        predicted = assignment.theme_id if assignment.theme_id in known else OTHER_ID
        assert result.probabilities is not None
        row = result.probabilities[item.index]
        columns = [
            j
            for j, theme in enumerate(result.themes)
            if (theme.id == item.label) or (item.label == OTHER_ID and theme.id not in known)
        ]
        out.append((assignment.confidence, predicted == item.label, float(row[columns].sum())))
    return out


def reliability(rows: Sequence[tuple[float, bool, float]], bins: int) -> dict[str, Any]:
    """Per equal-width bin: count, mean confidence, accuracy; ECE, NLL and overall numbers."""
    confidence = np.array([c for c, _, _ in rows], dtype=np.float64)
    correct = np.array([ok for _, ok, _ in rows], dtype=np.float64)
    p_gold = np.array([p for _, _, p in rows], dtype=np.float64)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    curve, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        mean_conf: float | None = None
        accuracy: float | None = None
        if n:
            mean_conf, accuracy = float(confidence[mask].mean()), float(correct[mask].mean())
            ece += n / len(rows) * abs(accuracy - mean_conf)
        curve.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "n": n,
                "mean_confidence": mean_conf,
                "accuracy": accuracy,
            }
        )
    return {
        "n": len(rows),
        "mean_confidence": float(confidence.mean()),
        "accuracy": float(correct.mean()),
        "ece": ece,
        "nll": float(-np.log(np.clip(p_gold, 1e-12, None)).mean()),
        "bins": curve,
    }


def _table(settings: dict[str, dict[str, Any]]) -> str:
    names = list(settings)
    head = (f"{'confidence':<11}" + "".join(f" | {n[:26]:^26}" for n in names)).rstrip()
    sub = f"{'bin':<11}" + f" | {'n':>5} {'mean conf':>9} {'acc':>9}" * len(names)
    lines = [head, sub, "-" * len(sub)]
    n_bins = len(settings[names[0]]["bins"])
    for b in range(n_bins):
        first = settings[names[0]]["bins"][b]
        cells = f"{first['low']:.1f}-{first['high']:.1f}".ljust(11)
        for name in names:
            x = settings[name]["bins"][b]
            cells += f" | {x['n']:>5} {_gold.fmt(x['mean_confidence'], 9)} "
            cells += _gold.fmt(x["accuracy"], 9)
        lines.append(cells)
    lines.append("-" * len(sub))
    for key, label in (
        ("mean_confidence", "mean conf"),
        ("accuracy", "accuracy"),
        ("ece", "ECE"),
        ("nll", "NLL"),
    ):
        lines.append(
            f"{label:<11}" + "".join(f" | {settings[n][key]:>25.3f} " for n in names).rstrip()
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print both reliability curves side by side, ECE and NLL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gold", type=Path, default=_gold.gold_path(_gold.ANALYST_LABELS))
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    opened = _gold.open_gold(args.gold)
    if opened is None:
        return 2
    corpus, _, items, unmatched = opened
    ids = corpus.codebook_ids
    baseline = corpus.run()
    folds, _pooled = _gold.leave_one_document_out(corpus, items)
    by_document = {fold.document: fold.result for fold in folds}
    settings = {
        "no labels": reliability(outcomes(items, lambda _: baseline, ids), args.bins),
        "leave one document out": reliability(
            outcomes(items, lambda it: by_document[it.document], ids), args.bins
        ),
    }
    temperatures = {
        "no labels": baseline.classifier.temperature_ if baseline.classifier else math.nan,
        **{
            f.document: f.result.classifier.temperature_ if f.result.classifier else math.nan
            for f in folds
        },
    }
    print(
        f"{len(corpus.statements)} statements; gold {args.gold.name}: {len(items)} rows matched, "
        f"{unmatched} unmatched; {args.bins} equal-width bins"
    )
    print(_table(settings))
    folds_t = ", ".join(f"{f.document[:3]} {temperatures[f.document]:.2f}" for f in folds)
    print(
        f"softmax temperature: no labels {temperatures['no labels']:.2f}; leave-one-out folds "
        f"(by held-out document) {folds_t}"
    )
    _gold.write_json(
        args.json,
        {
            "gold": str(args.gold),
            "matched": len(items),
            "bins": args.bins,
            "settings": settings,
            "temperatures": temperatures,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
