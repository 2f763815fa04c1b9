"""bench/bench_kernels.py sets the C bf16 kernel against the product the bf16 engine ran
before it: both must compute the same thing, or the comparison means nothing."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from pipeline.embed import _c_attention_for

BF16_KERNEL = _c_attention_for(
    {"num_attention_heads": 12, "hidden_size": 384, "intermediate_size": 1536}, "bfloat16"
)


@pytest.mark.skipif(not BF16_KERNEL, reason="the bf16 kernel needs avx512_bf16")
@pytest.mark.parametrize("shape", range(4))
def test_the_c_kernel_and_onednn_compute_the_same_products(
    shape: int, bench_script: Callable[[str], ModuleType]
) -> None:
    import torch

    from pipeline.embed import _c_attention_library, _panels

    bench = bench_script("bench_kernels")
    _, inputs, outputs, kind = bench.SHAPES[shape]
    torch.manual_seed(shape)
    a, residual = torch.randn(96, inputs), torch.randn(96, outputs)
    weight = torch.randn(outputs, inputs) / inputs**0.5
    norm = [torch.randn(outputs) for _ in range(3)]  # bias, gamma, beta
    ours, panels = residual.clone(), _panels(weight, "bfloat16")
    pointers = (a.data_ptr(), panels.data_ptr(), ours.data_ptr())
    code = _c_attention_library().temakarta_linear_bf16(
        *pointers, 96, inputs, outputs, kind, *(t.data_ptr() for t in norm), 1e-12
    )
    assert code == 0
    if kind == bench._STORE:  # the C product leaves its bias to the attention; oneDNN's adds it
        ours += norm[0]
    bf16 = [t.bfloat16() for t in (a, residual, weight, *norm)]
    theirs = bench._onednn_product(kind, *bf16).float()
    # the same function: apart only by bf16 rounding (oneDNN's rows and output are bf16)
    assert (ours - theirs).abs().max() <= 0.05 * max(1.0, float(theirs.abs().max()))
    assert (ours - theirs).abs().mean() <= 0.01
