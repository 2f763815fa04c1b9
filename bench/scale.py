"""Every stage's time and peak memory at 10 k, 100 k and 1 M statements, with growth exponents.

    nice -n 10 .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--json PATH]
    SCALE_MAX=100000 make bench      # the sizes up to SCALE_MAX only (the quick mode)

For each size a child process (so each row's peak RSS is its own) generates a corpus with
`bench/generate_corpus.py` (seeded by the config seed) and runs the stages one after another as
the flow does, with one torch and one BLAS thread:

* extract — `extract_document` per document, in this process. A run reads each document in a
  forked reader process with time and memory limits (`flows.isolation.extract_file`); what that
  adds per document is timed apart on the first 20 documents and printed below the table
  (on a busy machine it is most of the extraction time: seconds of CPU per fork, against
  0.05-0.1 s to read a document);
* segment, regions — `segment_document`, `attribute_regions` per document;
* embed — embedding a million statements on 2 cores takes hours, so the real model embeds a
  seeded sample of `--embed-sample` distinct texts (timed: statements/s, and the time the whole
  corpus would take at that rate, column `embed (proj.)`), and the other texts get
  synthetic-but-realistic vectors: a ridge regression from hashed word and word-pair counts to
  the e5 vectors, fitted on 80 % of the sample, predicts each text's vector (its cosine to the
  real vector on the held-out 20 % is printed), plus seeded noise, renormalised. So vectors
  depend on the words as e5's do, and the themes stage sees realistic structure;
* themes — `assign_themes` on every statement (codebook classifier, inductive HDBSCAN);
* matrix — `build_tables` on every statement.
Time is CPU seconds of the process (every stage runs on one thread: one torch and one BLAS
thread), which a machine shared with other jobs does not inflate the way it inflates
wall-clock time (printed on stderr, and in the JSON as `*_wall_s`); memory is the peak resident
set size during the stage (sampled every 20 ms) and of the whole child. The exponent of a
stage between two sizes is log(t2 / t1) / log(n2 / n1): 1 is linear, 2 quadratic.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate_corpus import generate, sample_sources
from flows import io
from flows.isolation import extract_file
from pipeline.config import PROJECT_ROOT
from pipeline.extract import extract_document
from pipeline.matrix import build_tables
from pipeline.records import Document, Statement
from pipeline.regions import attribute_regions
from pipeline.segment import segment_document
from pipeline.themes import assign_themes

STAGES = ("extract", "segment", "regions", "embed", "themes", "matrix")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
_NOISE = 0.01  # per-dimension noise on the predicted unit vectors
_ISOLATED_SAMPLE = 20  # documents read through the flow's reader processes, timed apart


class _PeakRss:
    """Peak resident set size (bytes) of this process since the last `reset`."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def reset(self) -> None:
        self.peak = _rss()


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def _stage(name: str, row: dict[str, Any], watch: _PeakRss) -> Iterator[None]:
    watch.reset()
    start, cpu = time.perf_counter(), time.process_time()
    yield
    row[f"{name}_s"] = round(time.process_time() - cpu, 2)
    row[f"{name}_wall_s"] = round(time.perf_counter() - start, 2)
    row[f"{name}_rss_gb"] = round(max(watch.peak, _rss()) / 1e9, 2)
    print(
        f"  {name}: {row[f'{name}_s']} s CPU, {row[f'{name}_wall_s']} s wall, "
        f"peak {row[f'{name}_rss_gb']} GB",
        file=sys.stderr,
    )


def sample_and_predicted_vectors(
    texts: Sequence[str], config: Any, sample: int, seed: int, row: dict[str, Any]
) -> np.ndarray:
    """Real vectors for a seeded sample of distinct texts, predicted ones for the rest."""
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import Ridge

    from flows.theme_map import project_embedder

    distinct = sorted(set(texts))
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(distinct), size=min(sample, len(distinct)), replace=False))
    sample_texts = [distinct[i] for i in chosen]
    embedder = project_embedder(config)
    embedder.encode(sample_texts[:8])  # model load, not timed
    import torch

    torch.set_num_threads(1)  # the embedder takes every core; one thread, as documented
    start = time.process_time()
    real = embedder.encode(sample_texts)
    rate = len(sample_texts) / (time.process_time() - start)
    row["embed_real_texts"] = len(sample_texts)
    row["embed_per_s"] = round(rate, 1)
    row["embed_projected_s"] = round(len(texts) / rate, 1)
    hashing = HashingVectorizer(n_features=2**16, ngram_range=(1, 2), alternate_sign=False)
    features = hashing.transform(sample_texts)
    split = int(0.8 * len(sample_texts))
    held = Ridge(alpha=1.0).fit(features[:split], real[:split])
    predicted = held.predict(features[split:])
    predicted /= np.linalg.norm(predicted, axis=1, keepdims=True)
    row["synthetic_cosine"] = round(float(np.mean(np.sum(predicted * real[split:], axis=1))), 3)
    model = Ridge(alpha=1.0).fit(features, real)
    index = {t: i for i, t in enumerate(distinct)}
    vectors = np.empty((len(distinct), real.shape[1]), dtype=np.float32)
    for start_row in range(0, len(distinct), 50_000):
        part = distinct[start_row : start_row + 50_000]
        guess = model.predict(hashing.transform(part))
        guess += rng.normal(0.0, _NOISE, guess.shape)
        vectors[start_row : start_row + len(part)] = guess / np.linalg.norm(
            guess, axis=1, keepdims=True
        )
    vectors[np.asarray(chosen)] = real
    return vectors[[index[t] for t in texts]]


def run_one(n: int, work: Path, embed_sample: int) -> dict[str, Any]:
    """Generate a corpus of about `n` statements and run every stage on it."""
    config = io.load_config()
    data = io.load_project_data(config, PROJECT_ROOT / "corpus")
    corpus = work / f"corpus-{n}"
    if not corpus.is_dir():
        generate(corpus, n, config.seed, sample_sources())
    files = io.corpus_files(corpus)
    row: dict[str, Any] = {"target": n, "documents": len(files)}
    watch = _PeakRss()
    wall, cpu = time.perf_counter(), time.process_time()
    # What the flow adds per document: a forked reader process (timed apart, on a few files).
    start = time.perf_counter()
    for path in files[:_ISOLATED_SAMPLE]:
        extract_file(path, path.name, config.limits)
    row["isolated_reader_s_per_document"] = round(
        (time.perf_counter() - start) / min(len(files), _ISOLATED_SAMPLE), 3
    )
    with _stage("extract", row, watch):
        documents: list[Document] = [
            extract_document(p.name, p.read_bytes(), config.limits) for p in files
        ]
    with _stage("segment", row, watch):
        found = [segment_document(d, config.segment, data.abbreviations) for d in documents]
    with _stage("regions", row, watch):
        attributed = [
            attribute_regions(d, f, data.gazetteer) for d, f in zip(documents, found, strict=True)
        ]
        statements: list[Statement] = [s for found_here, _ in attributed for s in found_here]
        infos = [info for _, info in attributed]
    row["statements"] = len(statements)
    del found, attributed
    with _stage("embed", row, watch):
        texts = [s.text for s in statements]
        vectors = sample_and_predicted_vectors(texts, config, embed_sample, config.seed, row)
        from flows.theme_map import project_embedder

        codebook_vectors = project_embedder(config).encode(list(data.codebook.texts))
    with _stage("themes", row, watch):
        result = assign_themes(
            statements, vectors, data.codebook, codebook_vectors, config.themes, data.stopwords
        )
    row["inductive_themes"] = sum(t.origin == "inductive" for t in result.themes)
    row["pool"] = sum(a.method in ("hdbscan", "unassigned") for a in result.assignments)
    with _stage("matrix", row, watch):
        build_tables(statements, result, infos)
    row["total_s"] = round(time.process_time() - cpu, 1)
    row["elapsed_s"] = round(time.perf_counter() - wall, 1)
    with open("/proc/self/status") as handle:
        peak = next(line for line in handle if line.startswith("VmHWM"))
    row["peak_rss_gb"] = round(int(peak.split()[1]) * 1024 / 1e9, 2)
    return row


def exponents(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Growth exponent of each stage's time between consecutive sizes."""
    out = []
    for a, b in itertools.pairwise(rows):
        ratio = math.log(b["statements"] / a["statements"])
        entry: dict[str, Any] = {"from": a["statements"], "to": b["statements"]}
        for stage in (*STAGES, "total"):
            ta, tb = a[f"{stage}_s"], b[f"{stage}_s"]
            entry[stage] = round(math.log(tb / ta) / ratio, 2) if ta > 0 and tb > 0 else None
        out.append(entry)
    return out


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The scale table (markdown) with the exponents below it."""
    head = (
        "| statements | documents | "
        + " | ".join(STAGES)
        + " | embed, all (proj.) | all stages | peak RSS |"
    )
    lines = [head, "|" + "---|" * (len(STAGES) + 6)]
    for r in rows:
        cells = [f"{r[f'{s}_s']} s / {r[f'{s}_rss_gb']} GB" for s in STAGES]
        lines.append(
            f"| {r['statements']:,} | {r['documents']:,} | "
            + " | ".join(cells)
            + f" | {r['embed_projected_s']} s | {r['total_s']} s | {r['peak_rss_gb']} GB |"
        )
    for e in exponents(rows):
        values = " | ".join(str(e[s]) for s in STAGES)
        lines.append(f"| exponent {e['from']:,} → {e['to']:,} | | {values} | | {e['total']} | |")
    return "\n".join(lines)


def parse_args(description: str) -> argparse.Namespace:
    """The command line of the scale benches (this one and `bench/scale_flow.py`)."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--embed-sample", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=None, help="where corpora are generated")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work = args.work or Path(tempfile.gettempdir()) / "temakarta-scale"
    return args


def run_sizes(script: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each size of `--sizes` (up to $SCALE_MAX) by `script --one N` in a child process of
    its own (so each row's peak RSS is its own), one BLAS thread; the rows it printed."""
    limit = int(os.environ.get("SCALE_MAX", "0") or 0)
    sizes = [int(s) for s in args.sizes.split(",") if not limit or int(s) <= limit]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    rows = []
    for n in sizes:
        print(f"{n} statements ...", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, script, "--one", str(n), "--work", str(args.work),
             "--embed-sample", str(args.embed_sample)],
            env=env, stdout=subprocess.PIPE, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {json.dumps(rows[-1])}", file=sys.stderr)
    return rows


def main() -> None:
    args = parse_args(__doc__ or "")
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.work, args.embed_sample)))
        return
    rows = run_sizes(__file__, args)
    print(table(rows))
    real = ", ".join(
        f"{r['embed_real_texts']} at {r['embed_per_s']}/s (held-out cosine of the synthetic "
        f"vectors {r['synthetic_cosine']})"
        for r in rows
    )
    isolated = ", ".join(f"{r['isolated_reader_s_per_document']} s" for r in rows)
    print(
        f"\nextract: a forked reader process per document (as in a run) took {isolated} "
        "(wall clock) each."
    )
    print(
        "embed: the real model embedded a sample of distinct texts per row "
        f"({real}); the rest got predicted vectors (see the docstring). `embed (proj.)` is "
        "the whole corpus at the measured rate. Everything after embedding ran on every statement."
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "exponents": exponents(rows)}, indent=1))


if __name__ == "__main__":
    main()
