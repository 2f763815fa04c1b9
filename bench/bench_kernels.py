"""The packed engine's C kernels (pipeline/_attend.c) one by one, on one thread.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_kernels.py [--reps 30]

Linear layers: each of the model's four products on 2048 rows of random inputs (qkv 384 ->
1152, out 384 -> 384 with residual and LayerNorm, up 384 -> 1536 with GELU, down 1536 -> 384
with residual and LayerNorm), GFLOP/s of the product's FLOPs (2 rows in out), median of
`--reps` calls: the float32 kernel, and where the CPU has AVX-512 BF16 the bf16 kernel
against what the bf16 engine ran before it, oneDNN's product (bias and residual fused) with
torch's GELU or LayerNorm after it (the same products, tests/bench/test_bench_kernels.py;
the C qkv product leaves its bias to the attention). Attention: a batch like the bench's (95
sequences of about 21 tokens, 12 heads of 32), the 8-lane kernel on rows against the 16-lane
one on the same qkv in head layout (`head_layout`) where the CPU has AVX-512, GFLOP/s of its
two products (4 n^2 d per sequence), median of 10 x `--reps` calls, alternating.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.embed import (  # noqa: E402
    _GELU,
    _NORM,
    _STORE,
    _c_attention_for,
    _c_attention_library,
    _panels,
    head_layout,
    head_rows,
)

SHAPES = [("qkv", 384, 1152, _STORE), ("out", 384, 384, _NORM), ("up", 384, 1536, _GELU)]
SHAPES.append(("down", 1536, 384, _NORM))
ROWS = 2048


def _median_seconds(call: Callable[[], object], reps: int) -> float:
    """Median wall time of `reps` calls after two warm-ups."""
    for _ in range(2):
        call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def _linear_rates(precision: str, reps: int) -> dict[str, float]:
    """GFLOP/s of pipeline/_attend.c's linear kernel of `precision` on each product."""
    import torch

    lib: Any = _c_attention_library()
    kernel = lib.temakarta_linear_bf16 if precision == "bfloat16" else lib.temakarta_linear_f32
    rates = {}
    for name, inputs, outputs, kind in SHAPES:
        a, out = torch.randn(ROWS, inputs), torch.randn(ROWS, outputs)
        weight = torch.randn(outputs, inputs) / inputs**0.5
        bias, gamma, beta = torch.randn(outputs), torch.randn(outputs), torch.randn(outputs)
        panels = _panels(weight, precision)
        pointers = (a.data_ptr(), panels.data_ptr(), out.data_ptr(), ROWS, inputs, outputs, kind)
        norm = (bias.data_ptr(), gamma.data_ptr(), beta.data_ptr(), 1e-12)
        seconds = _median_seconds(functools.partial(kernel, *pointers, *norm), reps)
        rates[name] = 2 * ROWS * inputs * outputs / seconds / 1e9
    return rates


def _onednn_product(kind: int, a: Any, residual: Any, weight: Any, *norm: Any) -> Any:
    """The bf16 engine's product before the C kernel: oneDNN's (bias, and residual for a
    LayerNorm, fused), then torch's GELU or LayerNorm; norm = (bias, gamma, beta)."""
    import torch

    F = torch.nn.functional
    linear = torch.ops.mkldnn._linear_pointwise
    bias, gamma, beta = norm
    if kind == _STORE:
        return linear(a, weight, bias, "none", [], "")
    if kind == _GELU:
        return F.gelu(linear(a, weight, bias, "none", [], ""))
    summed = linear.binary(a, residual, weight, bias, "add")
    return F.layer_norm(summed, (len(bias),), gamma, beta, 1e-12)


def _onednn_rates(reps: int) -> dict[str, float]:
    """GFLOP/s of `_onednn_product` on each product (bf16 rows, as that engine kept them)."""
    import torch

    rates = {}
    for name, inputs, outputs, kind in SHAPES:
        a, residual = torch.randn(ROWS, inputs).bfloat16(), torch.randn(ROWS, outputs).bfloat16()
        weight = (torch.randn(outputs, inputs) / inputs**0.5).bfloat16()
        norm = [torch.randn(outputs).bfloat16() for _ in range(3)]
        call = functools.partial(_onednn_product, kind, a, residual, weight, *norm)
        rates[name] = 2 * ROWS * inputs * outputs / _median_seconds(call, reps) / 1e9
    return rates


def _attention_rates(wide: bool, reps: int) -> dict[str, float]:
    """GFLOP/s of the 8-lane attention and, with `wide`, the 16-lane one, alternating."""
    lib: Any = _c_attention_library()
    rng = np.random.default_rng(0)
    lengths = np.sort(np.clip(rng.normal(21.5, 8, size=95).astype(np.int64), 6, 60))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    qkv = rng.normal(size=(int(lengths.sum()), 1152)).astype(np.float32)
    bias = rng.normal(size=1152).astype(np.float32)
    out = np.zeros((len(qkv), 384), dtype=np.float32)
    ends = (starts.ctypes.data, lengths.ctypes.data, len(lengths))
    calls: dict[str, tuple[Any, int, tuple[int, ...]]] = {
        "8 lanes": (lib.temakarta_attend_f32, qkv.ctypes.data, (12, 32))
    }
    if wide:  # on the qkv product in head layout, as the bf16 engine runs it
        heads = head_layout(qkv, bias[:384], 12)
        rows = (12, 32, head_rows(len(qkv)))
        calls["16 lanes"] = (lib.temakarta_attend_f32x16, heads.ctypes.data, rows)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(10 * reps):
        for name, (kernel, source, shape) in calls.items():
            start = time.perf_counter()
            kernel(source, bias.ctypes.data, out.ctypes.data, *shape, *ends)
            times[name].append(time.perf_counter() - start)
    flop = 4 * 384 * float((lengths**2).sum())
    return {name: flop / sorted(t)[len(t) // 2] / 1e9 for name, t in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30, help="timed calls per product")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    sizes = {"num_attention_heads": 12, "hidden_size": 384, "intermediate_size": 1536}
    if not _c_attention_for(sizes, "float32"):
        print("pipeline/_attend.c is not built or this CPU lacks AVX2 and FMA: nothing to time")
        return 1
    bf16 = _c_attention_for(sizes, "bfloat16")
    columns = {"C float32": _linear_rates("float32", args.reps)}
    if bf16:
        columns["C bf16"] = _linear_rates("bfloat16", args.reps)
        columns["oneDNN bf16 + torch"] = _onednn_rates(args.reps)
    print(f"linear layers, {ROWS} rows, one thread, GFLOP/s (median of {args.reps})")
    print(f"{'product':<8}" + "".join(f"{name:>22}" for name in columns))
    for name, *_ in SHAPES:
        print(f"{name:<8}" + "".join(f"{rates[name]:>22.1f}" for rates in columns.values()))
    if not bf16:
        print("bf16 kernel: not run (no AVX-512 BF16 here)")
    rates = _attention_rates(bf16, args.reps)
    print("attention, 95 sequences of ~21 tokens, 12 heads of 32, one thread, GFLOP/s: ")
    print(", ".join(f"{name} {rate:.1f}" for name, rate in rates.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
