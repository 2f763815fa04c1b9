"""How long a run takes when nothing changed since the last one (the fingerprint skip).

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python bench/fingerprint_skip.py [--corpus corpus]

Starts one temporary Prefect server (flows/prefect_api.py), runs the flow once on the corpus
into a temporary output folder (a full run), then `--repeat` more times with the same inputs:
each finds the fingerprint of the last completed run unchanged and ends without writing. Prints
the full run's seconds, the median and maximum seconds of the skipping flow calls (the whole
`theme_map` call: Prefect flow run, lock, sweep, hashing the corpus and the model, reading the
last manifest), and the seconds of computing the fingerprint alone. Prefect's server start-up
is not counted (a scheduled run talks to a running server).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows import io  # noqa: E402
from flows.history import fingerprint  # noqa: E402
from flows.prefect_api import prefect_api  # noqa: E402
from flows.theme_map import project_embedder, theme_map  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = io.load_config()
    corpus = args.corpus.resolve()
    with tempfile.TemporaryDirectory(prefix="fingerprint-skip-") as tmp, prefect_api():
        output = Path(tmp) / "out"
        start = time.perf_counter()
        full = theme_map(corpus, output, config)
        full_seconds = time.perf_counter() - start
        skips = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = theme_map(corpus, output, config)
            skips.append(time.perf_counter() - start)
            assert report.unchanged_since == full.run_dir.name, report
        start = time.perf_counter()
        files = io.corpus_files(corpus)
        fingerprint(
            io.input_hashes(corpus, files),
            io.data_file_hashes(config),
            config,
            project_embedder(config).content_hash,
        )
        alone = time.perf_counter() - start
    print(f"corpus: {corpus} ({len(files)} files, {full.n_statements} statements)")
    print(f"full run: {full_seconds:.1f} s")
    print(
        f"unchanged runs ({args.repeat}): median {statistics.median(skips):.2f} s, "
        f"max {max(skips):.2f} s"
    )
    print(f"fingerprint alone: {alone:.2f} s")


if __name__ == "__main__":
    main()
