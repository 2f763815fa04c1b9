"""Gold accuracy of theme assignment: Cohen's kappa (bootstrap 95% CI), accuracy, macro-F1.

    OMP_NUM_THREADS=1 .venv/bin/python bench/gold_accuracy.py [--headings] [--report]
                                                            [--json PATH]

Runs `assign_themes` with the real embedder (through the on-disk cache), models/codebook.yaml
and the `themes` section of models/config.yaml, no analyst labels, and scores it with
`pipeline.evaluate` (a run's inductive_NN and ej_tilldelad count as `other`; the kappa interval
is 1000 bootstrap resamples of the matched rows, seed 20171213) on:

* analyst        analyst_labels.csv (tests/data/, else ../shared/gold/): the annotators'
                 labels of sample-corpus statements. The whole corpus is run, so the statements
                 have the headings, table columns and sibling context a run sees; gold rows are
                 matched by document and whitespace-normalised text, same line preferred.
* seed-masked    seed_categories.csv (the participants' own categories mapped to themes), each
                 row its own Statement: the statement text only, empty heading_path and
                 table_column, and a document of its own, so neither headings nor section
                 context can help: what the text alone gives.
* seed-headings  (--headings, for reference) the same rows with their gold `category` (e.g.
                 "Lärande miljö") as heading path and their real document, so rows under one
                 category are also siblings (context evidence), as in a run.

--report adds the full `temakarta evaluate` report (per label, confusion matrix, worst
confusions) of each set. The gold files only measure; nothing here feeds a fit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _gold
from pipeline.evaluate import Evaluation, Table
from pipeline.evaluation_report import render_report
from pipeline.records import Location, Statement


def seed_statements(gold: Table, headings: bool) -> tuple[list[Statement], Table]:
    """One Statement per seed row and the gold table re-pointed at those statements.

    Masked (default): text only, a unique document per row ("<document>#<row>"), no heading or
    table column. With `headings`: the real document and the row's `category` as heading."""
    statements: list[Statement] = []
    rows: list[dict[str, str]] = []
    for n, row in enumerate(gold.rows, start=1):
        line = int(row["line"]) if row.get("line", "").strip().isdigit() else n
        document = row["document"] if headings else f"{row['document']}#{n:03d}"
        statements.append(
            Statement(
                id=f"{document}:{line}:{n}",
                document=document,
                location=Location(line=line),
                text=row["statement"],
                heading_path=(row["category"],) if headings else (),
            )
        )
        rows.append({**row, "document": document})
    return statements, Table(gold.source, gold.columns, tuple(rows))


def evaluate_sets(
    analyst_path: Path, seed_path: Path, headings: bool
) -> list[tuple[str, Evaluation]]:
    """(name, evaluation) of each gold set (see the module docstring)."""
    corpus = _gold.load_corpus()
    ids = corpus.codebook_ids
    out: list[tuple[str, Evaluation]] = []
    if analyst_path.is_file():
        result = corpus.run()
        gold = _gold.read_gold(analyst_path)
        out.append(("analyst", _gold.score(gold, corpus.statements, result.assignments, ids)))
    seed_gold = _gold.read_gold(seed_path) if seed_path.is_file() else None
    for name, with_headings in (("seed-masked", False), ("seed-headings", True)):
        if seed_gold is None or (with_headings and not headings):
            continue
        statements, gold = seed_statements(seed_gold, with_headings)
        vectors = corpus.embed([s.text for s in statements])
        result = corpus.run(statements=statements, vectors=vectors)
        out.append((name, _gold.score(gold, statements, result.assignments, ids)))
    return out


def summary(sets: Sequence[tuple[str, Evaluation]]) -> str:
    """One line per set, then F1 per gold label (columns: the sets)."""
    head = (
        f"{'set':<14} {'rows':>5} {'match':>5}  {'kappa':>5}  {'95% CI':<13}  "
        f"{'acc':>5}  {'macroF1':>7}"
    )
    lines = [head, "-" * len(head)]
    for name, e in sets:
        m = _gold.metrics(e)
        low, high = m["kappa_ci95"]
        lines.append(
            f"{name:<14} {e.n_label_rows:>5} {e.n_matched:>5}  {_gold.fmt(m['kappa'])}  "
            f"[{_gold.fmt(low)}, {_gold.fmt(high)}]  {_gold.fmt(m['accuracy'])}  "
            f"{_gold.fmt(m['macro_f1'], 7)}"
        )
    labels = sorted({s.label for _, e in sets for s in e.per_label if s.support})
    labels = [x for x in labels if x != "other"] + (["other"] if "other" in labels else [])
    lines += ["", "F1 per gold label (support)", f"{'label':<18}" + "".join(
        f"{name:>18}" for name, _ in sets
    )]  # fmt: skip
    for label in labels:
        cells = []
        for _, e in sets:
            s = next((x for x in e.per_label if x.label == label and x.support), None)
            cells.append(f"{_gold.fmt(s.f1)} ({s.support:>3})" if s else "-")
        lines.append(f"{label:<18}" + "".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the summary (and with --report every set's full report)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--analyst", type=Path, default=_gold.gold_path(_gold.ANALYST_LABELS))
    parser.add_argument("--seed", type=Path, default=_gold.gold_path(_gold.SEED_CATEGORIES))
    parser.add_argument(
        "--headings", action="store_true", help="also score seed rows with their category heading"
    )
    parser.add_argument("--report", action="store_true", help="print each set's full report")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    missing = [p for p in (args.analyst, args.seed) if not p.is_file()]
    for path in missing:
        print(f"{path}: gold file not found, skipped", file=sys.stderr)
    if len(missing) == 2:
        return 2
    sets = evaluate_sets(args.analyst, args.seed, args.headings)
    print(summary(sets))
    print(
        "\nkappa CI: 95% percentile interval of 1000 bootstrap resamples; inductive_NN and "
        "ej_tilldelad count as 'other'; no analyst labels given."
    )
    if args.report:
        for name, e in sets:
            print(f"\n=== {name} ===\n{render_report(e)}", end="")
    report: dict[str, Any] = {name: e.as_dict() for name, e in sets}
    _gold.write_json(args.json, {"sets": report})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
