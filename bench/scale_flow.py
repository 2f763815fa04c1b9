"""The whole Prefect flow at 10 k, 100 k and 1 M statements: `temakarta run` as a user types it.

    nice -n 10 .venv/bin/python bench/scale_flow.py [--sizes 10000,100000,1000000] [--json PATH]

`bench/scale.py` times the pipeline's stages in one process; this bench runs the real thing: for
each size it generates a corpus with `bench/generate_corpus.py` (seeded, the same corpora as
scale.py), then runs `temakarta run CORPUS --output OUT --cache-dir STORE` in a child process,
with its Prefect temporary server, a task run and a forked reader process per document, the
cache store, the output lock and the run folder written, and reads the flow's own stage times
from the run's `manifest.json` (`stage_seconds`, wall clock).

Embedding a million statements on 2 cores takes hours, so before the run the cache store is
filled with vectors for every statement text the flow will embed: the real model's for a seeded
sample of `--embed-sample` distinct texts, and for the rest the predicted vectors of
`bench/scale.py` (a ridge regression from hashed word counts to e5 vectors plus seeded noise;
its held-out cosine is printed). The flow then finds every vector in the store; the manifest's
cache counts show how many it looked up and how many it had to embed (the codebook's texts, at
most). The time the flow would take to embed the corpus for real is projected from the
flow's own rate, measured by `bench/bench_embed.py`.

Peak RSS is the largest resident set of the run's processes (the flow process; its reader
children are far smaller), from `getrusage(RUSAGE_CHILDREN)` of a fresh child per size. The
preparation (generating, segmenting to learn the texts, predicting and storing vectors) is
timed apart and not part of the run's figures.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate_corpus import generate, sample_sources
from bench.scale import parse_args, run_sizes, sample_and_predicted_vectors
from flows import io
from flows.cache_store import CacheStore
from flows.theme_map import project_embedder
from pipeline.config import PROJECT_ROOT
from pipeline.embed import cache_key
from pipeline.extract import extract_document
from pipeline.segment import segment_document

STAGES = ("extract", "segment", "regions", "labels", "embed", "themes", "matrix")
OTHER = "other"
"""Wall time outside the stages: Prefect's start-up, fingerprinting, the lock, writing the run
folder (CSV, workbook, report)."""
TEMAKARTA = Path(sys.executable).parent / "temakarta"


def prepare(n: int, work: Path, embed_sample: int) -> dict[str, Any]:
    """Generate the corpus of about `n` statements and fill a fresh cache store with a vector
    for each of its statement texts; what it took."""
    config = io.load_config()
    data = io.load_project_data(config, PROJECT_ROOT / "corpus")
    corpus = work / f"corpus-{n}"
    if not corpus.is_dir():
        generate(corpus, n, config.seed, sample_sources())
    start = time.perf_counter()
    texts: dict[str, None] = {}
    files = io.corpus_files(corpus)
    for path in files:
        document = extract_document(path.name, path.read_bytes(), config.limits)
        for statement in segment_document(document, config.segment, data.abbreviations):
            texts[statement.text] = None
    distinct = list(texts)
    row: dict[str, Any] = {"target": n, "documents": len(files), "distinct_texts": len(distinct)}
    vectors = sample_and_predicted_vectors(distinct, config, embed_sample, config.seed, row)
    store_dir = work / f"store-{n}"
    if store_dir.exists():
        for stale in store_dir.iterdir():
            stale.unlink()
    store = CacheStore(store_dir)
    name = project_embedder(config).name
    for a in range(0, len(distinct), 50_000):
        store.put_vectors(
            {cache_key(name, t): vectors[a + i] for i, t in enumerate(distinct[a : a + 50_000])}
        )
    row["prepare_s"] = round(time.perf_counter() - start, 1)
    return row


def run_flow(n: int, work: Path) -> dict[str, Any]:
    """`temakarta run` on the prepared corpus and store; the flow's stage times and peaks."""
    out = work / f"out-{n}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PREFECT_HOME": str(work / "prefect-home")}
    start = time.perf_counter()
    done = subprocess.run(
        [str(TEMAKARTA), "run", str(work / f"corpus-{n}"), "--output", str(out),
         "--cache-dir", str(work / f"store-{n}"), "--force"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"temakarta run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    manifest = json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))
    stages = {s: float(manifest["stage_seconds"].get(s, 0.0)) for s in STAGES}
    stages[OTHER] = round(wall - sum(stages.values()), 1)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_gb": round(usage.ru_maxrss * 1024 / 1e9, 2),
        "stage_seconds": stages,
        "statements": _count_statements(out),
        "cache": manifest.get("cache", {}),
    }


def _count_statements(out: Path) -> int:
    with (out / "latest" / "statements.csv").open(encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


def exponents(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Growth exponent of each stage's wall time between consecutive sizes."""
    out = []
    for a, b in itertools.pairwise(rows):
        ratio = math.log(b["statements"] / a["statements"])
        entry: dict[str, Any] = {"from": a["statements"], "to": b["statements"]}
        for stage in (*STAGES, OTHER, "wall"):
            ta = a["wall_s"] if stage == "wall" else a["stage_seconds"].get(stage, 0.0)
            tb = b["wall_s"] if stage == "wall" else b["stage_seconds"].get(stage, 0.0)
            entry[stage] = round(math.log(tb / ta) / ratio, 2) if ta > 0 and tb > 0 else None
        out.append(entry)
    return out


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The flow's scale table (markdown, wall-clock seconds) with the exponents below it."""
    lines = [
        "| statements | documents | " + " | ".join(STAGES) + f" | {OTHER} | run wall | peak RSS |",
        "|" + "---|" * (len(STAGES) + 5),
    ]
    for r in rows:
        cells = " | ".join(f"{r['stage_seconds'][s]:.1f}" for s in (*STAGES, OTHER))
        lines.append(
            f"| {r['statements']:,} | {r['documents']:,} | {cells} | {r['wall_s']} s "
            f"| {r['peak_rss_gb']} GB |"
        )
    for e in exponents(rows):
        values = " | ".join(str(e[s]) for s in (*STAGES, OTHER))
        lines.append(f"| exponent {e['from']:,} → {e['to']:,} | | {values} | {e['wall']} | |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args(__doc__ or "")
    if args.one is not None:
        row = prepare(args.one, args.work, args.embed_sample)
        print(f"  prepared in {row['prepare_s']} s; running the flow ...", file=sys.stderr)
        row.update(run_flow(args.one, args.work))
        print(json.dumps(row))
        return
    rows = run_sizes(__file__, args)
    print(table(rows))
    for r in rows:
        print(
            f"{r['statements']:,} statements: {r['cache']} (cache store), run CPU {r['cpu_s']} s, "
            f"vectors prepared in {r['prepare_s']} s ({r['embed_real_texts']} real texts at "
            f"{r['embed_per_s']}/s, held-out cosine of the predicted ones "
            f"{r['synthetic_cosine']})"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "exponents": exponents(rows)}, indent=1))


if __name__ == "__main__":
    main()
