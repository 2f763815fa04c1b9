"""How the classifier's evidence weights were chosen, and what that choice is worth on unseen
documents.

    OMP_NUM_THREADS=1 .venv/bin/python bench/tune_themes.py [--json PATH]

The weights in models/config.yaml (`example_weight`, `heading_decay`, `heading_weight`,
`term_weight`, `context_weight`) cannot be fitted on the codebook alone, so they are chosen on
the analysts' labels (analyst_labels.csv, tests/data/ else ../shared/gold/) — which makes the κ
of the chosen weights on the same labels optimistic. This bench says by how much: a grid of
weights is run on the sample corpus (no labels.csv), and

* in-sample: κ of every grid point on all gold rows, and the best one;
* nested leave-one-document-out: for each of the five documents, the grid point with the best κ
  on the other four documents' gold rows is chosen, and the held-out document's rows are
  predicted with it; κ over the pooled held-out predictions is the honest estimate of what the
  tuning is worth on a document it never saw.

The classifier never sees a gold label: only the choice among a few weights does.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import _gold  # noqa: E402

GRID: dict[str, tuple[float, ...]] = {
    "example_weight": (0.0, 12.0),
    "heading_decay": (0.5, 0.65, 0.8),
    "heading_weight": (2.0, 3.0),
    "term_weight": (2.0, 3.0),
    "context_weight": (0.3, 0.5, 0.8),
}


def _kappa(
    corpus: _gold.Corpus, gold: Any, assignments: Sequence[Any], rows: Sequence[int]
) -> float:
    e = _gold.score(gold, corpus.statements, assignments, corpus.codebook_ids, rows=rows, n_boot=0)
    return float(_gold.metrics(e)["kappa"])


def main(argv: Sequence[str] | None = None) -> int:
    """Print the grid, the in-sample best and the nested leave-one-document-out estimate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    corpus = _gold.load_corpus()
    gold = _gold.read_gold(_gold.gold_path("analyst_labels.csv"))
    documents = sorted({row["document"] for row in gold.rows})
    rows_of = {d: [i for i, r in enumerate(gold.rows) if r["document"] == d] for d in documents}
    every = list(range(len(gold.rows)))
    keys = list(GRID)
    points = [dict(zip(keys, values, strict=True)) for values in itertools.product(*GRID.values())]
    runs = []
    for point in points:
        themes = corpus.config.themes.model_copy(update=point)
        tuned = replace(corpus, config=corpus.config.model_copy(update={"themes": themes}))
        runs.append(tuned.run().assignments)
    in_sample = [_kappa(corpus, gold, a, every) for a in runs]
    best = max(range(len(points)), key=lambda p: (round(in_sample[p], 6), -p))
    held_out: list[dict[str, Any]] = []
    pooled = list(runs[0])  # replaced document by document below
    statement_doc = [s.document for s in corpus.statements]
    for document in documents:
        train = [i for d in documents if d != document for i in rows_of[d]]
        scores = [_kappa(corpus, gold, a, train) for a in runs]
        chosen = max(range(len(points)), key=lambda p: (round(scores[p], 6), -p))
        for i, doc in enumerate(statement_doc):
            if doc == document:
                pooled[i] = runs[chosen][i]
        held_out.append(
            {
                "document": document,
                "chosen": points[chosen],
                "kappa_train": scores[chosen],
                "kappa_held_out": _kappa(corpus, gold, runs[chosen], rows_of[document]),
            }
        )
    nested = _kappa(corpus, gold, pooled, every)
    shipped = _kappa(corpus, gold, corpus.run().assignments, every)

    print(f"grid: {', '.join(f'{k} {list(v)}' for k, v in GRID.items())} ({len(points)} points)")
    order = sorted(range(len(points)), key=lambda p: -in_sample[p])
    print("\nin-sample kappa, best ten:")
    for p in order[:10]:
        print(f"  {in_sample[p]:.3f}  {points[p]}")
    print(f"  worst: {in_sample[order[-1]]:.3f}  {points[order[-1]]}")
    print(f"\nshipped models/config.yaml: kappa {shipped:.3f}")
    print("\nnested leave-one-document-out (weights chosen on the other four documents):")
    for h in held_out:
        print(
            f"  {h['document']}  train {h['kappa_train']:.3f}  held out "
            f"{h['kappa_held_out']:.3f}  {h['chosen']}"
        )
    print(f"pooled held-out kappa: {nested:.3f}  (in-sample best {in_sample[best]:.3f})")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "grid": GRID,
                    "in_sample": [{"point": points[p], "kappa": in_sample[p]} for p in order],
                    "shipped_kappa": shipped,
                    "nested": held_out,
                    "nested_pooled_kappa": nested,
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
