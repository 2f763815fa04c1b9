"""Shared helpers of the gold benches (gold_accuracy, learning_curve, calibration, themes_speed).

Not a script. Everything here is the plain pipeline, as a run does it:

* `load_corpus()`: the sample corpus (corpus/*.txt) extracted, segmented and given regions with
  the pipeline functions (as tests/conftest.py does), embedded with the real model
  (models/e5-small-st, prompt "query: ") through the on-disk cache `flows.embed_cache` (a
  rerun loads no model), plus the codebook, its vectors, the config and the stop words;
* `gold_path(name)`: tests/data/<name> when the repo has a copy, else ../shared/gold/<name>;
* `match(gold, statements)`: which statement each gold row labels, by `pipeline.evaluate`'s
  own matching (same document, same text after NFC and whitespace folding, the same line
  preferred);
* `oracle_labels(...)`: gold rows written as an analyst's labels.csv and resolved by
  `pipeline.labels.match_labels`, exactly as a run reads labels.csv (a label reaches every
  statement of the document with the same text);
* `score(...)`: kappa with its bootstrap 95% interval, accuracy and macro-F1 from
  `pipeline.evaluate.evaluate`; a run's `inductive_NN` and `ej_tilldelad` count as `other`.

Threads: one core for BLAS (threadpoolctl) and torch, whatever the caller's environment.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
for _name, _value in (
    ("TOKENIZERS_PARALLELISM", "false"),
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
):
    os.environ.setdefault(_name, _value)

import numpy as np  # noqa: E402  (after the thread settings above)
import numpy.typing as npt  # noqa: E402

from flows import io  # noqa: E402
from flows.embed_cache import DEFAULT_CACHE_DIR, encode_cached  # noqa: E402
from flows.evaluate import read_table  # noqa: E402
from flows.theme_map import project_embedder  # noqa: E402
from pipeline.config import PROJECT_ROOT, Config  # noqa: E402
from pipeline.embed import OnBatch, SentenceTransformerEmbedder  # noqa: E402
from pipeline.evaluate import DEFAULT_SEED, N_BOOT, Evaluation, Table, evaluate  # noqa: E402
from pipeline.extract import extract_document  # noqa: E402
from pipeline.labels import match_labels  # noqa: E402
from pipeline.records import Statement  # noqa: E402
from pipeline.regions import attribute_regions  # noqa: E402
from pipeline.segment import segment_document  # noqa: E402
from pipeline.themes import Assignment, Codebook, ThemeResult, assign_themes  # noqa: E402

__all__ = [
    "ANALYST_LABELS",
    "CORPUS_DIR",
    "DEFAULT_SEED",
    "N_BOOT",
    "SEED_CATEGORIES",
    "Corpus",
    "Fold",
    "GoldItem",
    "OneThreadEmbedder",
    "corpus_statements",
    "embedder",
    "fmt",
    "gold_path",
    "leave_one_document_out",
    "load_corpus",
    "match",
    "metrics",
    "oracle_labels",
    "read_gold",
    "run_table",
    "score",
    "single_thread",
    "subset",
    "write_json",
]

ANALYST_LABELS = "analyst_labels.csv"
SEED_CATEGORIES = "seed_categories.csv"
CORPUS_DIR = PROJECT_ROOT / "corpus"
FloatArray = npt.NDArray[np.float32]


def single_thread() -> None:
    """One thread for BLAS/OpenMP (already loaded libraries too) and for torch."""
    import scipy.linalg  # noqa: F401  (load the BLAS scikit-learn uses, then limit it)
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def gold_path(name: str) -> Path:
    """tests/data/<name> when present, else the shared gold folder ../shared/gold/<name>."""
    local = PROJECT_ROOT / "tests" / "data" / name
    return local if local.is_file() else PROJECT_ROOT.parent / "shared" / "gold" / name


def read_gold(path: Path) -> Table:
    """A gold CSV as a `pipeline.evaluate.Table` (read as `temakarta evaluate` reads it)."""
    return read_table(path)


def subset(table: Table, rows: Iterable[int]) -> Table:
    """The table with only the given data rows (numbered from 1, as `LabelRow.row`)."""
    return Table(table.source, table.columns, tuple(table.rows[r - 1] for r in sorted(rows)))


class OneThreadEmbedder:
    """The run's `SentenceTransformerEmbedder` (same name, so the same cache entries), kept on
    one torch thread: its model load sets torch to every core of the process's affinity."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def load(self) -> None:
        """Load the model now (encode() loads it on first use otherwise)."""
        import torch

        _ = self.inner.sentence_transformer
        torch.set_num_threads(1)

    def encode(self, texts: Sequence[str], on_batch: OnBatch | None = None) -> FloatArray:
        self.load()
        return self.inner.encode(texts, on_batch)


def embedder(config: Config) -> OneThreadEmbedder:
    """The run's embedder (models/e5-small-st, prompt "query: "), on one torch thread."""
    return OneThreadEmbedder(project_embedder(config))


@dataclass(frozen=True)
class Corpus:
    """The sample corpus as a run sees it, embedded, with everything `assign_themes` needs."""

    config: Config
    codebook: Codebook
    stopwords: frozenset[str]
    statements: tuple[Statement, ...]
    vectors: FloatArray
    codebook_vectors: FloatArray

    @property
    def codebook_ids(self) -> tuple[str, ...]:
        return self.codebook.ids

    @property
    def seed(self) -> int:
        return self.config.seed

    def embed(self, texts: Sequence[str], cache_dir: Path = DEFAULT_CACHE_DIR) -> FloatArray:
        """More texts with the same embedder, through the cache in `cache_dir`."""
        return np.asarray(encode_cached(texts, embedder(self.config), cache_dir), np.float32)

    def run(
        self,
        labels: Mapping[str, str] | None = None,
        statements: Sequence[Statement] | None = None,
        vectors: FloatArray | None = None,
    ) -> ThemeResult:
        """`assign_themes` with the project's codebook and config (on the corpus by default)."""
        return assign_themes(
            self.statements if statements is None else statements,
            self.vectors if vectors is None else vectors,
            self.codebook,
            self.codebook_vectors,
            self.config.themes,
            self.stopwords,
            labels=labels,
        )


def corpus_statements(config: Config, corpus_dir: Path = CORPUS_DIR) -> list[Statement]:
    """Statements of corpus_dir/*.txt: extract, segment, regions, in file-name order."""
    abbreviations = io.load_abbreviations(config)
    gazetteer = io.load_gazetteer(config)
    files = sorted(corpus_dir.glob("*.txt"))
    metadata = io.load_metadata(corpus_dir, files)
    out: list[Statement] = []
    for path in files:
        document = extract_document(path.name, path.read_bytes(), config.limits)
        found = segment_document(document, config.segment, abbreviations)
        out += attribute_regions(document, found, gazetteer, metadata.get(path.name))[0]
    return out


def load_corpus(
    statements: Sequence[Statement] | None = None, corpus_dir: Path = CORPUS_DIR
) -> Corpus:
    """The project's config, codebook and stop words; `statements` (default: the sample
    corpus) and the codebook texts embedded through the on-disk cache."""
    single_thread()
    config = io.load_config()
    codebook = io.load_codebook(config)
    stopwords = io.load_stopwords(config)
    found = tuple(statements if statements is not None else corpus_statements(config, corpus_dir))
    model = embedder(config)
    vectors = np.asarray(encode_cached([s.text for s in found], model), dtype=np.float32)
    codebook_vectors = np.asarray(encode_cached(list(codebook.texts), model), dtype=np.float32)
    return Corpus(config, codebook, stopwords, found, vectors, codebook_vectors)


def run_table(
    statements: Sequence[Statement], assignments: Sequence[Assignment], source: str = "run"
) -> Table:
    """The columns of a run's statements.csv that `pipeline.evaluate` reads."""
    rows = tuple(
        {
            "id": s.id,
            "document": s.document,
            "page": "" if s.location.page is None else str(s.location.page),
            "line": str(s.location.line),
            "text": s.text,
            "theme_id": a.theme_id,
            "method": a.method,
            "confidence": repr(a.confidence),
        }
        for s, a in zip(statements, assignments, strict=True)
    )
    columns = ("id", "document", "page", "line", "text", "theme_id", "method", "confidence")
    return Table(source, columns, rows)


def score(
    gold: Table,
    statements: Sequence[Statement],
    assignments: Sequence[Assignment],
    codebook_ids: Sequence[str],
    *,
    rows: Iterable[int] | None = None,
    n_boot: int = N_BOOT,
    seed: int = DEFAULT_SEED,
) -> Evaluation:
    """`pipeline.evaluate.evaluate` of the gold `rows` (all by default) against assignments."""
    table = gold if rows is None else subset(gold, rows)
    return evaluate(
        table, run_table(statements, assignments), codebook_ids, seed=seed, n_boot=n_boot
    )


@dataclass(frozen=True)
class GoldItem:
    """A gold row matched to a statement: `row` numbers the gold file's data rows from 1,
    `index` is the statement's position, `label` the gold label (codebook id or "other")."""

    row: int
    index: int
    document: str
    text: str
    label: str


def match(
    gold: Table, statements: Sequence[Statement], codebook_ids: Sequence[str]
) -> tuple[list[GoldItem], int]:
    """The gold rows that match a statement (in file order) and the number that match none,
    by `pipeline.evaluate`'s matching."""
    placeholder = [Assignment(s.id, "other", "other", 0.0, "unassigned", 0.0) for s in statements]
    e = score(gold, statements, placeholder, codebook_ids, n_boot=0)
    position = {s.id: i for i, s in enumerate(statements)}
    items = []
    for pair in e.pairs:
        i = position[pair.statement_id]
        items.append(GoldItem(pair.row, i, statements[i].document, statements[i].text, pair.gold))
    return items, len(e.unmatched)


def oracle_labels(
    items: Iterable[GoldItem], statements: Sequence[Statement], codebook_ids: Sequence[str]
) -> dict[str, str]:
    """The analyst's answers for `items` written to labels.csv (document, text, theme) and
    read back by `pipeline.labels.match_labels`, as a run does: statement id -> label."""
    rows = [["document", "text", "theme"]]
    rows += [[item.document, item.text, item.label] for item in items]
    labels, _errors = match_labels(rows, "labels.csv", statements, list(codebook_ids))
    return labels


def metrics(e: Evaluation) -> dict[str, Any]:
    """The headline numbers of an evaluation (NaN as None), JSON-ready."""

    def num(x: float) -> float | None:
        return None if math.isnan(x) else round(float(x), 4)

    return {
        "n": e.n_matched,
        "n_unmatched": len(e.unmatched),
        "n_analyst": e.n_analyst,
        "kappa": num(e.kappa),
        "kappa_ci95": [num(e.kappa_low), num(e.kappa_high)],
        "accuracy": num(e.accuracy),
        "macro_f1": num(e.macro_f1),
    }


def fmt(x: float | None, width: int = 5) -> str:
    """A metric with three decimals, "-" when undefined."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-".rjust(width)
    return f"{x:{width}.3f}"


def write_json(path: Path | None, report: Mapping[str, Any]) -> None:
    """Write `report` as UTF-8 JSON when a path is given."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Fold:
    """One leave-one-document-out fold: the labels of every gold row outside `document` given
    (`labels`: statement id -> label, as labels.csv would give them), `result` of that run."""

    document: str
    labels: dict[str, str]
    result: ThemeResult


def leave_one_document_out(
    corpus: Corpus, items: Sequence[GoldItem]
) -> tuple[list[Fold], list[Assignment]]:
    """One fold per document with gold rows, and the pooled assignments: each statement's
    assignment from the fold that held its document out (statements of documents without gold
    rows: from the first fold; they are never scored)."""
    folds: list[Fold] = []
    for document in sorted({item.document for item in items}):
        given = [item for item in items if item.document != document]
        labels = oracle_labels(given, corpus.statements, corpus.codebook_ids)
        folds.append(Fold(document, labels, corpus.run(labels)))
    by_document = {fold.document: fold.result for fold in folds}
    pooled = [
        by_document.get(s.document, folds[0].result).assignments[i]
        for i, s in enumerate(corpus.statements)
    ]
    return folds, pooled


def open_gold(path: Path) -> tuple[Corpus, Table, list[GoldItem], int] | None:
    """The corpus, the gold file at `path`, its rows matched to statements and the number that
    matched none; None (with a message on stderr) when the file is missing."""
    if not path.is_file():
        print(f"{path}: gold file not found", file=sys.stderr)
        return None
    corpus = load_corpus()
    gold = read_gold(path)
    items, unmatched = match(gold, corpus.statements, corpus.codebook_ids)
    return corpus, gold, items, unmatched
