"""Incremental reruns: a generated corpus, a first run, one document added, a rerun.

Run: ``nice -n 10 OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/incremental.py
[--documents 520]``. The corpus is written by `bench/_corpus.py` (perturbed copies of the
sample documents); both runs use one fresh cache store and one torch thread. Prefect's start-up
is excluded: a trivial flow starts the temporary server before the clock runs. Prints what each
run read and embedded (from its manifest), its stage times and the rerun's share of the first
run's time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _corpus import write_corpus  # noqa: E402


def _run(corpus: Path, output: Path, cache: Path, config: Any) -> tuple[float, dict[str, Any]]:
    from flows.theme_map import theme_map

    start = time.perf_counter()
    report = theme_map(corpus, output, config, cache_dir=cache)
    seconds = time.perf_counter() - start
    manifest = json.loads((report.run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["n_statements"] = report.n_statements
    return seconds, manifest


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, default=520)
    ap.add_argument("--workdir", type=Path, default=None, help="keep corpus/outputs/cache here")
    args = ap.parse_args()

    # A loaded machine starts the temporary server slowly (its default wait is 20 s).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    from prefect import flow

    from flows import io

    @flow
    def _warm_up() -> None:
        """Starts Prefect's temporary server, so the timed runs exclude it."""

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    corpus, output, cache = work / "corpus", work / "outputs", work / "cache"
    for folder in (corpus, output, cache):
        shutil.rmtree(folder, ignore_errors=True)
    write_corpus(corpus, args.documents)
    config = io.load_config()
    config = config.model_copy(update={"model": config.model.model_copy(update={"threads": 1})})
    t0 = time.perf_counter()
    _warm_up()
    startup = time.perf_counter() - t0

    first_s, first = _run(corpus, output, cache, config)
    extra = work / "extra"
    shutil.rmtree(extra, ignore_errors=True)
    (added,) = write_corpus(extra, 1, seed=7)
    shutil.copy(added, corpus / "99999_tillagd.txt")
    second_s, second = _run(corpus, output, cache, config)

    print(f"Prefect start-up (excluded): {startup:.1f} s")
    print(
        f"{'run':<10}{'docs':>6}{'stmts':>8}{'read':>6}{'cached':>8}{'embedded':>10}"
        f"{'seconds':>9}  stages"
    )
    for label, seconds, m in (("first", first_s, first), ("+1 doc", second_s, second)):
        c = m["cache"]
        stages = " ".join(f"{k} {v:.1f}" for k, v in m["stage_seconds"].items())
        print(
            f"{label:<10}{c['documents_read'] + c['documents_from_cache']:>6}"
            f"{m['n_statements']:>8}{c['documents_read']:>6}{c['documents_from_cache']:>8}"
            f"{c['texts_embedded']:>10}{seconds:>9.1f}  {stages}"
        )
    print(f"rerun / first run: {100 * second_s / first_s:.1f} %")
    print(f"work folder: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
