"""Statements per second of the flow on a local Dask cluster of 1 and 2 workers, and on the
default runner, on the same generated corpus.

    nice -n 10 .venv/bin/python bench/dask_throughput.py [--statements 2000] [--json PATH]

The corpus is made by `bench/generate_corpus.py` (config seed). Each run starts with an empty
embedding cache of its own, so every text is read and embedded. Dask workers are
single-threaded processes (torch with one thread each); the default runner embeds in the flow's
process with torch on all cores. Reported: the flow's extract and embed seconds (from the
run's manifest), statements per second over extract + embed, and wall time of the whole flow
(Prefect's temporary server, the Dask cluster's start and the model load in each worker
included).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# On a busy machine Prefect's temporary server takes longer than its default 20 s to start.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")

from bench.generate_corpus import generate
from flows import io
from flows.task_runners import task_runner
from flows.theme_map import theme_map


def run(corpus: Path, work: Path, label: str, workers: int | None) -> dict[str, Any]:
    """One flow run on `corpus` with a fresh cache: dask with `workers`, or the default."""
    config = io.load_config()
    runner = task_runner("dask", workers=workers) if workers else None
    flow = theme_map.with_options(task_runner=runner) if runner is not None else theme_map
    start = time.perf_counter()
    report = flow(
        corpus,
        work / f"out-{label}",
        config,
        cache_dir=work / f"cache-{label}",
        mapped_embedding=workers is not None,
    )
    wall = time.perf_counter() - start
    busy = report.timings["extract"] + report.timings["embed"]
    return {
        "runner": label,
        "statements": report.n_statements,
        "extract_s": report.timings["extract"],
        "embed_s": report.timings["embed"],
        "statements_per_s": round(report.n_statements / busy, 1),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="temakarta-dask-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        generate(corpus, args.statements, io.load_config().seed)
        rows = [
            run(corpus, work, "default", None),
            run(corpus, work, "dask-1", 1),
            run(corpus, work, "dask-2", 2),
        ]
    print("| runner | statements | extract s | embed s | statements/s (extract+embed) | wall s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['runner']} | {r['statements']} | {r['extract_s']} | {r['embed_s']} | "
            f"{r['statements_per_s']} | {r['wall_s']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
