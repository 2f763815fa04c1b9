"""Our theme assignment side by side with BERTopic 0.17 on the same statements and vectors.

Builds the statements of the sample corpus (corpus/*.txt) with the plain pipeline functions,
embeds them once with the real model through the on-disk cache, then runs in one process:

* ours            `pipeline.themes.assign_themes` with models/codebook.yaml and the `themes`
                  section of models/config.yaml;
* bertopic-plain  BERTopic with every default (UMAP n_neighbors=15, n_components=5, min_dist=0,
                  metric=cosine; HDBSCAN min_cluster_size=10, eom; a bare CountVectorizer), only
                  UMAP's random_state fixed to the config seed. The first BERTopic fit also pays
                  numba's JIT compilation, so its time is the cold one;
* bertopic        the same, with spaCy's Swedish stop words (plus models/stopwords_extra.txt)
                  in the CountVectorizer and language="multilingual" (with its default
                  "english" and no embedding model, BERTopic strips every non-ASCII letter
                  before c-TF-IDF: "för" -> "fr"); both only change topic keywords, not
                  assignments;
* bertopic-mcs5   as `bertopic`, but HDBSCAN with our min_cluster_size/min_samples (config);
* bertopic-seeded the same with our codebook as `seed_topic_list` (per theme: the lowercase
                  words of its heading_terms and label). Guided modelling embeds the seed
                  strings, so it gets our embedder (through the cache) as its backend; the
                  seed strings are embedded into the cache before the timer starts.
* majority        baseline: every statement gets the most frequent gold label.

BERTopic never gets an embedding model of its own: it always receives `embeddings=`.

Scoring against the annotators' gold file (default /work/shared/gold/analyst_labels.csv, text
column `text`, label column `label`; seed_categories.csv with `statement`/`theme` also works):
gold rows are matched to statements by document and whitespace-normalised text (same line
preferred). Each BERTopic topic is mapped to the gold label it most often holds among the
matched statements (an oracle, generous to it; topic -1 maps to `other`). Our codebook theme
ids map to themselves and everything else (inductive_*, ej_tilldelad) to `other`; the row
`ours+oracle` additionally gives our inductive themes the same oracle mapping as BERTopic's.
The oracle is fitted on the very labels it is scored on, which flatters many small topics; the
kappaLOO/accLOO columns vote each gold row's topic label without that row's own label.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bertopic_compare.py [--gold PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# One core each for torch, numba and BLAS, and no network: set before anything heavy loads.
for _name, _value in (
    ("OMP_NUM_THREADS", "1"),
    ("NUMBA_NUM_THREADS", "1"),
    ("MKL_NUM_THREADS", "1"),
    ("OPENBLAS_NUM_THREADS", "1"),
    ("TOKENIZERS_PARALLELISM", "false"),
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
):
    os.environ.setdefault(_name, _value)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GOLD = Path("/work/shared/gold/analyst_labels.csv")
OTHER = "other"
OUTLIER_TOPIC = -1

_WS_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"[^\W\d_]+")


# --------------------------------------------------------------------------------------------
# Pure helpers (no bertopic, no model): tested in tests/bench/test_bertopic_mapping.py


@dataclass(frozen=True)
class GoldRow:
    """One annotated statement of the gold file."""

    document: str
    line: int | None
    page: int | None
    text: str
    label: str


class _Loc(Protocol):
    line: int
    page: int | None


class StatementLike(Protocol):
    """What matching needs of a `pipeline.records.Statement`."""

    @property
    def document(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def location(self) -> _Loc: ...


def normalise_text(text: str) -> str:
    """NFC, whitespace runs collapsed to one space, stripped (case kept)."""
    return _WS_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value else None


def parse_gold(rows: Iterable[Mapping[str, str]]) -> list[GoldRow]:
    """Gold rows from csv.DictReader rows: text in `text` or `statement`, label in `label` or
    `theme`, optional `line` and `page`."""
    out: list[GoldRow] = []
    for row in rows:
        text = row["text"] if "text" in row else row["statement"]
        label = row["label"] if "label" in row else row["theme"]
        out.append(
            GoldRow(
                document=row["document"],
                line=_int_or_none(row.get("line")),
                page=_int_or_none(row.get("page")),
                text=text,
                label=label.strip(),
            )
        )
    return out


def read_gold(path: Path) -> list[GoldRow]:
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_gold(csv.DictReader(handle))


def match_gold(gold: Sequence[GoldRow], statements: Sequence[StatementLike]) -> list[int | None]:
    """For each gold row, the index of its statement (None: no statement with that document and
    normalised text). Among several candidates the one on the gold row's page and line wins,
    then the nearest line, then one not yet taken by an earlier gold row, then the first."""
    index: dict[tuple[str, str], list[int]] = {}
    for i, s in enumerate(statements):
        index.setdefault((s.document, normalise_text(s.text)), []).append(i)
    taken: set[int] = set()
    out: list[int | None] = []
    for row in gold:
        candidates = index.get((row.document, normalise_text(row.text)), [])
        if not candidates:
            out.append(None)
            continue

        def rank(i: int, row: GoldRow = row) -> tuple[int, int, int, int]:
            loc = statements[i].location
            page_miss = int(row.page is not None and loc.page != row.page)
            distance = abs(loc.line - row.line) if row.line is not None else 0
            return (page_miss, distance, int(i in taken), i)

        best = min(candidates, key=rank)
        taken.add(best)
        out.append(best)
    return out


def majority_mapping(
    topics: Sequence[Hashable],
    labels: Sequence[str],
    outliers: Iterable[Hashable] = (OUTLIER_TOPIC,),
    other: str = OTHER,
) -> dict[Hashable, str]:
    """Each topic -> the label it holds most often among the (topic, label) pairs (ties: the
    alphabetically first label). Outlier topics always map to `other`. Topics absent from the
    pairs are absent from the mapping (callers default them to `other`)."""
    counts: dict[Hashable, Counter[str]] = {}
    for topic, label in zip(topics, labels, strict=True):
        counts.setdefault(topic, Counter())[label] += 1
    mapping = {
        topic: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for topic, c in counts.items()
    }
    for topic in outliers:
        mapping[topic] = other
    return mapping


def loo_majority_labels(
    topics: Sequence[Hashable],
    labels: Sequence[str],
    outliers: Iterable[Hashable] = (OUTLIER_TOPIC,),
    other: str = OTHER,
) -> list[str]:
    """Leave-one-out version of `majority_mapping`: pair i gets the majority label of the
    *other* pairs in its topic (ties: alphabetically first; no other pair: `other`), so a
    topic's own gold label cannot vote for itself. Outlier topics give `other`."""
    counts: dict[Hashable, Counter[str]] = {}
    for topic, label in zip(topics, labels, strict=True):
        counts.setdefault(topic, Counter())[label] += 1
    skip = set(outliers)
    out: list[str] = []
    for topic, label in zip(topics, labels, strict=True):
        if topic in skip:
            out.append(other)
            continue
        rest = counts[topic].copy()
        rest[label] -= 1
        left = [(lab, c) for lab, c in rest.items() if c > 0]
        out.append(min(left, key=lambda kv: (-kv[1], kv[0]))[0] if left else other)
    return out


def apply_mapping(
    topics: Sequence[Hashable], mapping: Mapping[Hashable, str], other: str = OTHER
) -> list[str]:
    return [mapping.get(t, other) for t in topics]


def our_label(theme_id: str, codebook_ids: Iterable[str], other: str = OTHER) -> str:
    """Our theme id as a gold label: codebook ids are gold labels, anything else is `other`."""
    return theme_id if theme_id in set(codebook_ids) else other


def seed_words(
    heading_terms: Sequence[str], label: str, stopwords: Iterable[str] = ()
) -> list[str]:
    """Lowercase seed words of one codebook theme: its heading terms, then the words of its
    label, deduplicated in order, stop words dropped."""
    stop = {w.casefold() for w in stopwords}
    words = [t.casefold().strip() for t in heading_terms]
    words += [w.casefold() for w in _WORD_RE.findall(label)]
    out: list[str] = []
    for w in words:
        if w and w not in stop and w not in out:
            out.append(w)
    return out


def score(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Cohen's kappa, accuracy and macro-F1 (over the labels in gold or predicted)."""
    from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

    if not gold:
        return {"kappa": float("nan"), "accuracy": float("nan"), "macro_f1": float("nan")}
    return {
        "kappa": float(cohen_kappa_score(gold, predicted)),
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
    }


COLUMNS = (
    "method", "kappa", "accuracy", "macro_f1", "outliers", "topics", "seconds", "kappa_loo",
    "accuracy_loo",
)  # fmt: skip


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Plain-text table, one row per method (missing LOO numbers print as "-")."""

    def num(value: Any, width: int) -> str:
        return f"{value:{width}.3f}" if isinstance(value, float) else f"{'-':>{width}}"

    head = f"{'method':<16} | {'kappa':>6} | {'acc':>6} | {'macroF1':>7} | {'outl.':>6} | "
    head += f"{'topics':>6} | {'seconds':>8} | {'kappaLOO':>8} | {'accLOO':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['method']:<16} | {r['kappa']:6.3f} | {r['accuracy']:6.3f} | "
            f"{r['macro_f1']:7.3f} | {r['outliers']:6.3f} | {r['topics']:>6} | "
            f"{r['seconds']:8.2f} | {num(r.get('kappa_loo'), 8)} | "
            f"{num(r.get('accuracy_loo'), 6)}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The run (imports the pipeline, the model and BERTopic lazily)


def build_statements() -> list[Any]:
    """The sample corpus's statements, as tests/conftest.py builds them."""
    from pipeline.config import DEFAULT_CONFIG_PATH, parse_config
    from pipeline.extract import extract_document
    from pipeline.regions import attribute_regions, parse_gazetteer
    from pipeline.segment import segment_document

    config = parse_config(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), str(DEFAULT_CONFIG_PATH))
    lines = (ROOT / "models" / "abbreviations.txt").read_text(encoding="utf-8").splitlines()
    abbreviations = frozenset(
        x.strip().lower() for x in lines if x.strip() and not x.startswith("#")
    )
    gaz_path = ROOT / "models" / "gazetteer.yaml"
    gazetteer = parse_gazetteer(gaz_path.read_text(encoding="utf-8"), str(gaz_path))
    statements: list[Any] = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        document = extract_document(path.name, path.read_bytes(), config.limits)
        found = segment_document(document, config.segment, abbreviations)
        statements += attribute_regions(document, found, gazetteer)[0]
    return statements


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _bertopic_row(
    name: str,
    topics: Sequence[int],
    seconds: float,
    matched: Sequence[tuple[int, str]],
) -> dict[str, Any]:
    """Score BERTopic topics with the oracle topic -> gold label mapping."""
    gold_labels = [label for _, label in matched]
    mapping = majority_mapping([topics[i] for i, _ in matched], gold_labels)
    predicted = apply_mapping([topics[i] for i, _ in matched], mapping)
    loo = score(gold_labels, loo_majority_labels([topics[i] for i, _ in matched], gold_labels))
    return {
        "method": name,
        **score(gold_labels, predicted),
        "kappa_loo": loo["kappa"],
        "accuracy_loo": loo["accuracy"],
        "outliers": sum(t == OUTLIER_TOPIC for t in topics) / len(topics),
        "topics": len({t for t in topics if t != OUTLIER_TOPIC}),
        "seconds": seconds,
        "mapping": {str(k): v for k, v in sorted(mapping.items(), key=lambda kv: str(kv[0]))},
    }


def run(gold_path: Path) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(1)

    from flows.embed_cache import encode_cached
    from pipeline.config import DEFAULT_CONFIG_PATH, parse_config
    from pipeline.embed import SentenceTransformerEmbedder
    from pipeline.themes import UNASSIGNED_ID, assign_themes, load_stopwords, parse_codebook

    config = parse_config(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), str(DEFAULT_CONFIG_PATH))
    cb_path = ROOT / "models" / "codebook.yaml"
    codebook = parse_codebook(cb_path.read_text(encoding="utf-8"), "models/codebook.yaml")
    stopwords = load_stopwords(
        (ROOT / "models" / "stopwords_extra.txt").read_text(encoding="utf-8")
    )
    codebook_ids = [t.id for t in codebook.themes]

    statements = build_statements()
    texts = [s.text for s in statements]
    embedder = SentenceTransformerEmbedder(path=ROOT / "models" / "e5-small-st", prompt="query: ")
    vectors, embed_s = _timed(lambda: encode_cached(texts, embedder))
    cb_vectors = encode_cached(list(codebook.texts), embedder)
    vectors = np.asarray(vectors, dtype=np.float32)

    gold = read_gold(gold_path)
    matches = match_gold(gold, statements)
    matched = [(i, row.label) for i, row in zip(matches, gold, strict=True) if i is not None]
    gold_labels = [label for _, label in matched]
    rows: list[dict[str, Any]] = []

    # ours
    result, ours_s = _timed(
        lambda: assign_themes(
            statements, vectors.copy(), codebook, cb_vectors.copy(), config.themes, stopwords
        )
    )
    ours_ids = [a.theme_id for a in result.assignments]
    predicted = [our_label(ours_ids[i], codebook_ids) for i, _ in matched]
    rows.append(
        {
            "method": "ours",
            **score(gold_labels, predicted),
            "outliers": sum(t == UNASSIGNED_ID for t in ours_ids) / len(ours_ids),
            "topics": len({t for t in ours_ids if t != UNASSIGNED_ID}),
            "seconds": ours_s,
            "kappa_loo": None,  # nothing fitted to the gold labels: same as kappa
            "accuracy_loo": None,
            "inductive_share": sum(t.startswith("inductive_") for t in ours_ids) / len(ours_ids),
        }
    )
    # ours with the oracle mapping for its non-codebook themes (as generous as to BERTopic)
    non_cb = [(i, label) for i, label in matched if ours_ids[i] not in codebook_ids]
    oracle = majority_mapping(
        [ours_ids[i] for i, _ in non_cb], [label for _, label in non_cb], outliers=[UNASSIGNED_ID]
    )
    predicted_oracle = [
        ours_ids[i] if ours_ids[i] in codebook_ids else oracle.get(ours_ids[i], OTHER)
        for i, _ in matched
    ]
    loo_non_cb = iter(
        loo_majority_labels(
            [ours_ids[i] for i, _ in non_cb],
            [label for _, label in non_cb],
            outliers=[UNASSIGNED_ID],
        )
    )
    predicted_loo = [
        ours_ids[i] if ours_ids[i] in codebook_ids else next(loo_non_cb) for i, _ in matched
    ]
    loo = score(gold_labels, predicted_loo)
    rows.append(
        {
            **rows[0],
            "method": "ours+oracle",
            **score(gold_labels, predicted_oracle),
            "seconds": 0.0,
            "kappa_loo": loo["kappa"],
            "accuracy_loo": loo["accuracy"],
        }
    )

    # baseline: the most frequent gold label for everything
    top = min(Counter(gold_labels).items(), key=lambda kv: (-kv[1], kv[0]))[0]
    rows.append(
        {
            "method": "majority",
            **score(gold_labels, [top] * len(gold_labels)),
            "outliers": 0.0,
            "topics": 1,
            "seconds": 0.0,
        }
    )

    # BERTopic
    from bertopic import BERTopic
    from bertopic.backend import BaseEmbedder
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    class CachedEmbedder(BaseEmbedder):  # type: ignore[misc]
        """Our e5 embedder through the cache; BERTopic only uses it for the seed words."""

        def embed(self, documents: list[str], verbose: bool = False) -> Any:
            return encode_cached(list(documents), embedder)

    def umap_model() -> Any:
        # BERTopic 0.17's own UMAP defaults, plus the seed.
        return UMAP(
            n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=config.seed
        )

    swedish = sorted(stopwords)
    seeds = [seed_words(t.terms, t.label, stopwords) for t in codebook.themes]
    encode_cached([" ".join(s) for s in seeds], embedder)  # BERTopic embeds exactly these

    def vectorizer() -> Any:
        return CountVectorizer(stop_words=swedish)

    variants: list[tuple[str, Callable[[], Any]]] = [
        ("bertopic-plain", lambda: BERTopic(umap_model=umap_model())),
        (
            "bertopic",
            lambda: BERTopic(
                language="multilingual", umap_model=umap_model(), vectorizer_model=vectorizer()
            ),
        ),
        (
            "bertopic-mcs5",
            lambda: BERTopic(
                language="multilingual",
                umap_model=umap_model(),
                hdbscan_model=HDBSCAN(
                    min_cluster_size=config.themes.min_cluster_size,
                    min_samples=config.themes.min_samples,
                    metric="euclidean",
                    cluster_selection_method="eom",
                    prediction_data=True,
                ),
                vectorizer_model=vectorizer(),
            ),
        ),
        (
            "bertopic-seeded",
            lambda: BERTopic(
                umap_model=umap_model(),
                vectorizer_model=vectorizer(),
                seed_topic_list=seeds,
                embedding_model=CachedEmbedder(),
            ),
        ),
    ]
    keywords: dict[str, dict[str, list[str]]] = {}
    for name, make in variants:
        model = make()
        # A copy each time: guided topic modelling rewrites the embeddings array in place.
        (topics, _), secs = _timed(
            functools.partial(model.fit_transform, texts, embeddings=vectors.copy())
        )
        rows.append(_bertopic_row(name, [int(t) for t in topics], secs, matched))
        keywords[name] = {
            str(k): [w for w, _ in (v or [])][:5] for k, v in model.get_topics().items()
        }

    import bertopic
    import hdbscan
    import umap

    return {
        "statements": len(statements),
        "gold_file": str(gold_path),
        "gold_rows": len(gold),
        "gold_matched": len(matched),
        "embed_seconds": embed_s,
        "seed": config.seed,
        "versions": {
            "bertopic": bertopic.__version__,
            "umap-learn": umap.__version__ if hasattr(umap, "__version__") else "?",
            "hdbscan": getattr(hdbscan, "__version__", "?"),
        },
        "bertopic_defaults": {
            "umap": "UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric='cosine')",
            "hdbscan": "HDBSCAN(min_cluster_size=10, metric='euclidean', "
            "cluster_selection_method='eom', prediction_data=True)",
            "vectorizer": "CountVectorizer() (no stop words, token_pattern r'(?u)\\b\\w\\w+\\b')",
            "ctfidf": "ClassTfidfTransformer()",
        },
        "seed_topic_list": {t.id: s for t, s in zip(codebook.themes, seeds, strict=True)},
        "rows": rows,
        "topic_keywords": keywords,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    if not args.gold.is_file():
        print(f"{args.gold}: gold file not found", file=sys.stderr)
        return 2
    report = run(args.gold)
    print(
        f"statements: {report['statements']}   gold rows: {report['gold_rows']} "
        f"(matched {report['gold_matched']})   seed: {report['seed']}   "
        f"embedding (cache): {report['embed_seconds']:.2f}s"
    )
    print(format_table(report["rows"]))
    print(
        "outl. = share of all statements in BERTopic topic -1 / our ej_tilldelad; "
        "topics excludes those. BERTopic topics -> gold labels by majority (oracle); "
        "ours+oracle gives our inductive themes the same; LOO: the mapping for each gold "
        "row is voted without its own label. bertopic-plain is the cold run (numba JIT)."
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
