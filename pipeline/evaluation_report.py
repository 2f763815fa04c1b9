"""The text report of an `Evaluation` (what `temakarta evaluate` prints).

Public entry point: `render_report(evaluation) -> str`. Pure: the caller prints it.
"""

from __future__ import annotations

import math

from pipeline.codebook import OTHER_ID, UNASSIGNED_ID
from pipeline.evaluate import Evaluation

__all__ = ["render_report"]


def _f(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _matrix_lines(evaluation: Evaluation) -> list[str]:
    labels = evaluation.labels
    heads = [label[:5] for label in labels]
    if len(set(heads)) < len(heads):  # abbreviations collide: number the columns instead
        heads = [str(i) for i in range(1, len(labels) + 1)]
    width = max(len(label) for label in labels) + 4
    cell = max(5, *(len(h) for h in heads))
    lines = [" " * width + " ".join(h.rjust(cell) for h in heads)]
    for i, (label, row) in enumerate(zip(labels, evaluation.confusion, strict=True)):
        name = f"{i + 1} {label}" if heads[0] == "1" else label
        lines.append(name.ljust(width) + " ".join(str(x).rjust(cell) for x in row))
    return lines


def render_report(evaluation: Evaluation) -> str:
    """The evaluation as plain text for a terminal (deterministic)."""
    e = evaluation
    source = "inferred from the theme ids seen" if e.codebook_inferred else "from themes.csv"
    out = [
        f"Gold labels: {e.labels_source}",
        f"Run:         {e.statements_source}",
        f"Label rows {e.n_label_rows}: matched {e.n_matched}, unmatched {len(e.unmatched)}"
        + (f", without a label (skipped) {e.n_unlabelled}" if e.n_unlabelled else ""),
        f"Codebook themes ({source}): {', '.join(e.codebook_ids) or '(none)'}; the run's other "
        f"themes (inductive_NN, {UNASSIGNED_ID}) count as '{OTHER_ID}'",
    ]
    if e.n_analyst:
        out.append(
            f"Warning: {e.n_analyst} matched statements were assigned from analyst labels "
            "(method 'analyst'); they do not test the model"
        )
    if not e.pairs:
        out += ["", "No label row matched a statement: nothing to score."]
    else:
        correct = sum(p.gold == p.predicted for p in e.pairs)
        out += [
            "",
            f"Accuracy       {_f(e.accuracy)}  ({correct}/{e.n_matched})",
            f"Cohen's kappa  {_f(e.kappa)}  95% CI {_f(e.kappa_low)}–{_f(e.kappa_high)} "
            f"(bootstrap: {e.n_boot} resamples of the matched pairs, seed {e.seed})",
            f"Macro-F1       {_f(e.macro_f1)}  (mean over the {len(e.f1_labels)} gold labels: "
            f"{', '.join(e.f1_labels)})",
            "",
            f"{'label':<18} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8} "
            f"{'predicted':>10}",
        ]
        out += [
            f"{s.label:<18} {_f(s.precision):>9} {_f(s.recall):>7} {_f(s.f1):>6} "
            f"{s.support:>8} {s.predicted:>10}"
            for s in e.per_label
        ]
        out += ["", "Confusion matrix (rows: gold, columns: predicted)", *_matrix_lines(e)]
        out += ["", "Worst confusions (gold -> predicted)"]
        for c in e.worst:
            out.append(f"{c.count:>4}  {c.gold} -> {c.predicted}")
            out += [f"        - {_short(text)}" for text in c.examples]
        if not e.worst:
            out.append("  none")
    if e.unmatched:
        out += [
            "",
            f"Unmatched label rows ({len(e.unmatched)}): no statement of the run has the same "
            "document and text (check the file names, or rerun on the same corpus)",
        ]
        out += [
            f"  row {u.row}: {u.document}"
            + (f" line {u.line}" if u.line else "")
            + f" [{u.label}] {_short(u.text, 80)}"
            for u in e.unmatched
        ]
    return "\n".join(out) + "\n"
