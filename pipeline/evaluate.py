"""Evaluation: how well a run's themes agree with gold labels.

Public API (pure: the caller reads the CSVs into `Table`s and prints or writes the result):

* `evaluate(labels, statements, codebook_ids, seed=..., n_boot=...) -> Evaluation`
* `render_report(evaluation) -> str` lives in `pipeline/evaluation_report.py`

Inputs
------
`labels` is a gold file: `document`, a text column (`text`, else `statement`) and a label column
(`label`, else `theme`); `line` and `page` are used when present. That covers the analysts' file
(`label`), the participants' own categories (`statement`, `theme`) and review files
(`document,text,theme`); header names are compared in any case. A label is a codebook theme id
or `other` (no codebook theme); rows with an empty label are skipped and counted. `statements`
is a run's statements.csv (`id`, `document`, `text`, `theme_id`; `page`, `line`, `method` when
present; other columns, such as `confidence`, ignored).

Labels compared
---------------
Both sides are mapped onto the codebook ids plus `other`: a run's `inductive_NN` and
`ej_tilldelad` themes are `other`, since neither is a codebook theme. `codebook_ids` are the
run's codebook themes (themes.csv, origin "codebook"); when None they are inferred: every id that
is not `inductive_NN`, `ej_tilldelad` or `other`. With known codebook ids a gold label outside
them is an error, not silently `other`.

Matching
--------
A label row matches a statement with the same document and the same text after Unicode NFC and
whitespace folding. Among several such statements, one with the same line (and page, when the
row gives one) is preferred, else the first in id order (`<document>:<line>:<n>`, numerically).
Rows that name their line exactly are matched first; then the rest in file order, each taking a
statement no other row has taken when one is left (two "Storlek" cells on one line are two
statements, so two rows labelling them match one each). A row whose candidates are all taken
shares the best of them. Rows without any candidate are reported as unmatched.

Metrics (on the matched pairs)
------------------------------
Accuracy; Cohen's kappa with a 95% percentile interval from `n_boot` bootstrap resamples of the
pairs (`numpy.random.default_rng(seed)`; resamples where kappa is undefined, i.e. all gold and
predicted labels are one and the same, are left out); macro-F1 = the unweighted mean of the F1
of each label that occurs among the matched gold labels (`Evaluation.f1_labels`; a label only
ever predicted is not averaged, it lowers the recall of the gold labels it took), equal to
sklearn's `f1_score(gold, predicted, labels=f1_labels, average="macro", zero_division=0)`.
Per label (gold or predicted): precision, recall, F1 (0 when undefined) and support. The
confusion matrix has gold rows and predicted columns over the same labels, sorted with `other`
last. The worst confusions are the most frequent off-diagonal pairs with up to three example
statements each, in label-file order.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from pipeline.themes import INDUCTIVE_PREFIX, OTHER_ID, UNASSIGNED_ID

__all__ = [
    "DEFAULT_SEED",
    "Confusion",
    "Evaluation",
    "EvaluationError",
    "LabelRow",
    "Pair",
    "Table",
    "ThemeScores",
    "evaluate",
]

DEFAULT_SEED = 20171213  # the project's seed (models/config.yaml), so reports are reproducible
N_BOOT = 1000
TOP_CONFUSIONS = 10
EXAMPLES_PER_CONFUSION = 3
TEXT_COLUMNS = ("text", "statement")  # first present wins
LABEL_COLUMNS = ("label", "theme")
STATEMENT_COLUMNS = ("id", "document", "text", "theme_id")
IntArray = npt.NDArray[np.int64]


class EvaluationError(ValueError):
    """A labels file or statements.csv cannot be evaluated: `where` (file, row), `what` went
    wrong and how to `fix` it; the message is '<where>: <what>; <fix>'."""

    def __init__(self, where: str, what: str, fix: str) -> None:
        super().__init__(f"{where}: {what}; {fix}")
        self.where, self.what, self.fix = where, what, fix


@dataclass(frozen=True)
class Table:
    """A CSV file as read: `source` names it in messages, `columns` is its header row."""

    source: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, str], ...]


@dataclass(frozen=True)
class LabelRow:
    """One gold row; `row` counts data rows from 1 (the header is not counted). `label` is
    mapped onto the codebook ids plus `other`; `line`/`page` are "" when not given."""

    row: int
    document: str
    text: str
    label: str
    line: str = ""
    page: str = ""


@dataclass(frozen=True)
class Pair:
    """A matched label row: the gold label, the run's `theme_id` and its mapped `predicted`."""

    row: int
    statement_id: str
    text: str
    gold: str
    predicted: str
    theme_id: str
    method: str


@dataclass(frozen=True)
class ThemeScores:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # matched gold rows with this label
    predicted: int  # matched rows the run put in it


@dataclass(frozen=True)
class Confusion:
    gold: str
    predicted: str
    count: int
    examples: tuple[str, ...]  # statement texts


@dataclass(frozen=True)
class Evaluation:
    """Everything the report shows; `kappa*` and `macro_f1` are NaN with no matched pairs."""

    labels_source: str
    statements_source: str
    codebook_ids: tuple[str, ...]
    codebook_inferred: bool
    n_label_rows: int
    n_unlabelled: int
    pairs: tuple[Pair, ...]
    unmatched: tuple[LabelRow, ...]
    accuracy: float
    kappa: float
    kappa_low: float
    kappa_high: float
    macro_f1: float
    f1_labels: tuple[str, ...]
    labels: tuple[str, ...]  # confusion-matrix order
    confusion: tuple[tuple[int, ...], ...]
    per_label: tuple[ThemeScores, ...]
    worst: tuple[Confusion, ...]
    seed: int
    n_boot: int

    @property
    def n_matched(self) -> int:
        return len(self.pairs)

    @property
    def n_analyst(self) -> int:
        """Matched statements the run took from analyst labels: not an independent test."""
        return sum(p.method == "analyst" for p in self.pairs)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready metrics (NaN as None), in a fixed key order."""

        def num(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 4)

        return {
            "labels": self.labels_source,
            "statements": self.statements_source,
            "codebook_ids": list(self.codebook_ids),
            "codebook_inferred": self.codebook_inferred,
            "n_label_rows": self.n_label_rows,
            "n_unlabelled": self.n_unlabelled,
            "n_matched": self.n_matched,
            "n_unmatched": len(self.unmatched),
            "n_analyst": self.n_analyst,
            "accuracy": num(self.accuracy),
            "kappa": num(self.kappa),
            "kappa_ci95": [num(self.kappa_low), num(self.kappa_high)],
            "bootstrap": {"seed": self.seed, "n_boot": self.n_boot},
            "macro_f1": num(self.macro_f1),
            "f1_labels": list(self.f1_labels),
            "per_label": [asdict(s) for s in self.per_label],
            "confusion": {"labels": list(self.labels), "matrix": [list(r) for r in self.confusion]},
            "worst_confusions": [asdict(c) for c in self.worst],
            "unmatched": [asdict(u) for u in self.unmatched],
        }


# --------------------------------------------------------------------------------------------
# Reading the tables


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _number(value: str | None) -> str:
    value = (value or "").strip()
    return str(int(value)) if value.isdigit() else value


def _canonical(table: Table) -> Table:
    """Header names compared stripped, in NFC and lower case ("Theme" is `theme`)."""
    names = [unicodedata.normalize("NFC", c).strip().lower() for c in table.columns]
    if list(table.columns) == names:
        return table
    rows = tuple(
        {n: row.get(c, "") for c, n in zip(table.columns, names, strict=True)} for row in table.rows
    )
    return Table(table.source, tuple(names), rows)


def _pick(table: Table, choices: Sequence[str]) -> str | None:
    return next((c for c in choices if c in table.columns), None)


def _require(table: Table, expected: str) -> NoReturn:
    raise EvaluationError(
        table.source,
        f"columns found: {', '.join(table.columns) or '(none)'}; expected {expected}",
        "rename the header row or give the right file",
    )


def _to_codebook(theme_id: str, codebook: frozenset[str] | None) -> str:
    if codebook is not None:
        return theme_id if theme_id in codebook else OTHER_ID
    computed = theme_id == UNASSIGNED_ID or theme_id.startswith(INDUCTIVE_PREFIX)
    return OTHER_ID if computed else theme_id


def _label_rows(table: Table, codebook: frozenset[str] | None) -> tuple[list[LabelRow], int]:
    text_col, label_col = _pick(table, TEXT_COLUMNS), _pick(table, LABEL_COLUMNS)
    if "document" not in table.columns or text_col is None or label_col is None:
        _require(table, "document, text (or statement), label (or theme); line, page optional")
    rows, unlabelled = [], 0
    for n, raw in enumerate(table.rows, start=1):
        label = unicodedata.normalize("NFC", (raw.get(label_col) or "").strip()).lower()
        if not label:
            unlabelled += 1
            continue
        computed = label == UNASSIGNED_ID or label.startswith(INDUCTIVE_PREFIX)
        if codebook is not None and label not in codebook | {OTHER_ID} and not computed:
            raise EvaluationError(
                f"{table.source}: row {n}",
                f"{label_col} {label!r} is neither a codebook theme of the run nor {OTHER_ID!r}",
                f"use one of {', '.join(sorted(codebook))} or {OTHER_ID}",
            )
        rows.append(
            LabelRow(
                n,
                (raw.get("document") or "").strip(),
                _fold(raw.get(text_col) or ""),
                _to_codebook(label, codebook),
                _number(raw.get("line")),
                _number(raw.get("page")),
            )
        )
    return rows, unlabelled


def _id_key(statement_id: str) -> tuple[str, int, int, str]:
    parts = statement_id.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2]), statement_id
    return statement_id, -1, -1, statement_id


# --------------------------------------------------------------------------------------------
# Matching


def _match(
    rows: Sequence[LabelRow], statements: Table
) -> tuple[list[tuple[LabelRow, Mapping[str, str]]], list[LabelRow]]:
    if any(c not in statements.columns for c in STATEMENT_COLUMNS):
        _require(statements, ", ".join(STATEMENT_COLUMNS) + " (a run's statements.csv)")
    index: dict[tuple[str, str], list[Mapping[str, str]]] = {}
    for s in sorted(statements.rows, key=lambda s: _id_key(s["id"])):
        index.setdefault((s["document"].strip(), _fold(s["text"])), []).append(s)

    def exact(row: LabelRow, s: Mapping[str, str]) -> bool:
        same_page = not row.page or _number(s.get("page")) == row.page
        return bool(row.line) and _number(s.get("line")) == row.line and same_page

    taken: set[str] = set()
    chosen: dict[int, Mapping[str, str]] = {}
    for row in rows:  # first pass: rows that name their statement's line exactly
        free = [s for s in index.get((row.document, row.text), []) if s["id"] not in taken]
        hit = next((s for s in free if exact(row, s)), None)
        if hit is not None:
            chosen[row.row] = hit
            taken.add(hit["id"])
    for row in rows:
        candidates = index.get((row.document, row.text), [])
        if row.row in chosen or not candidates:
            continue
        free = [s for s in candidates if s["id"] not in taken] or candidates
        hit = next((s for s in free if exact(row, s)), free[0])
        chosen[row.row] = hit
        taken.add(hit["id"])
    matched = [(row, chosen[row.row]) for row in rows if row.row in chosen]
    return matched, [row for row in rows if row.row not in chosen]


# --------------------------------------------------------------------------------------------
# Metrics


def _kappas(gold: IntArray, pred: IntArray, k: int) -> npt.NDArray[np.float64]:
    """Cohen's kappa of each row of (b, n) code arrays; NaN where chance agreement is 1."""
    b, n = gold.shape
    offsets = (np.arange(b, dtype=np.int64) * k)[:, None]
    gold_counts = np.bincount((gold + offsets).ravel(), minlength=b * k).reshape(b, k)
    pred_counts = np.bincount((pred + offsets).ravel(), minlength=b * k).reshape(b, k)
    observed = (gold == pred).mean(axis=1)
    chance = (gold_counts * pred_counts).sum(axis=1) / float(n * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - chance) / (1.0 - chance)
    return np.where(chance >= 1.0, np.nan, kappa)


def _bootstrap(
    gold: IntArray, pred: IntArray, k: int, seed: int, n_boot: int
) -> tuple[float, float]:
    n = gold.size
    if n == 0 or n_boot == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    kappas = _kappas(gold[idx], pred[idx], k)
    finite = kappas[np.isfinite(kappas)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def _scores(label: str, i: int, matrix: IntArray) -> ThemeScores:
    tp, support, predicted = int(matrix[i, i]), int(matrix[i].sum()), int(matrix[:, i].sum())
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    return ThemeScores(label, precision, recall, f1, support, predicted)


def _worst(pairs: Sequence[Pair]) -> tuple[Confusion, ...]:
    counts = Counter((p.gold, p.predicted) for p in pairs if p.gold != p.predicted)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CONFUSIONS]
    return tuple(
        Confusion(
            gold,
            pred,
            count,
            tuple(p.text for p in pairs if (p.gold, p.predicted) == (gold, pred))[
                :EXAMPLES_PER_CONFUSION
            ],
        )
        for (gold, pred), count in top
    )


def evaluate(
    labels: Table,
    statements: Table,
    codebook_ids: Collection[str] | None,
    *,
    seed: int = DEFAULT_SEED,
    n_boot: int = N_BOOT,
) -> Evaluation:
    """Match `labels` to `statements` and compute agreement (see the module docstring)."""
    codebook = frozenset(codebook_ids) if codebook_ids is not None else None
    rows, unlabelled = _label_rows(_canonical(labels), codebook)
    matched, unmatched = _match(rows, _canonical(statements))
    pairs = tuple(
        Pair(
            row.row,
            s["id"],
            row.text,
            row.label,
            _to_codebook(s["theme_id"].strip(), codebook),
            s["theme_id"],
            (s.get("method") or "").strip(),
        )
        for row, s in matched
    )
    present = {p.gold for p in pairs} | {p.predicted for p in pairs}
    order = tuple(sorted(present - {OTHER_ID})) + ((OTHER_ID,) if OTHER_ID in present else ())
    code = {label: i for i, label in enumerate(order)}
    gold = np.array([code[p.gold] for p in pairs], dtype=np.int64)
    pred = np.array([code[p.predicted] for p in pairs], dtype=np.int64)
    matrix = np.zeros((len(order), len(order)), dtype=np.int64)
    np.add.at(matrix, (gold, pred), 1)
    per_label = tuple(_scores(label, i, matrix) for i, label in enumerate(order))
    f1_labels = tuple(s.label for s in per_label if s.support > 0)
    f1s = [s.f1 for s in per_label if s.support > 0]
    kappa = float(_kappas(gold[None, :], pred[None, :], len(order))[0]) if pairs else math.nan
    low, high = _bootstrap(gold, pred, len(order), seed, n_boot)
    inferred = codebook is None
    return Evaluation(
        labels_source=labels.source,
        statements_source=statements.source,
        codebook_ids=tuple(sorted(codebook if codebook is not None else present - {OTHER_ID})),
        codebook_inferred=inferred,
        n_label_rows=len(labels.rows),
        n_unlabelled=unlabelled,
        pairs=pairs,
        unmatched=tuple(unmatched),
        accuracy=float((gold == pred).mean()) if pairs else math.nan,
        kappa=kappa,
        kappa_low=low,
        kappa_high=high,
        macro_f1=math.fsum(f1s) / len(f1s) if f1s else math.nan,
        f1_labels=f1_labels,
        labels=order,
        confusion=tuple(tuple(int(x) for x in r) for r in matrix),
        per_label=per_label,
        worst=_worst(pairs),
        seed=seed,
        n_boot=n_boot,
    )
