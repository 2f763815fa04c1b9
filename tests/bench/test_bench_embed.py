"""bench/bench_embed.py's count of the model's FLOPs, against torch's own FLOP counter run on
the built model's forward."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="module")
def bert(built_model_dir: Path) -> Any:
    """The built model's BERT, with eager attention: its two products are plain batched
    matmuls, which torch's FLOP counter knows."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(built_model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    return model[0].auto_model


@pytest.mark.slow
@pytest.mark.parametrize("tokens", [8, 300])
def test_model_flops_match_torchs_flop_counter(
    bert: Any, tokens: int, bench_script: Callable[[str], ModuleType]
) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    bench = bench_script("bench_embed")
    config = bert.config
    assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers) == (
        bench.H,
        bench.FF,
        bench.LAYERS,
    )
    ids = torch.randint(5, config.vocab_size, (1, tokens))
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        bert(input_ids=ids, attention_mask=torch.ones_like(ids))
    counted = counter.get_total_flops()
    # torch counts the products only: our count's biases and LayerNorm weights (0.3 %) and
    # the pooler's one product per sequence (not run by the flow) are the difference.
    linear, attention = bench._gflop([tokens])
    assert (linear + attention) * 1e9 == pytest.approx(counted, rel=0.005)
    if tokens == 300:  # where attention's products are 11 % of the work, not 0.3 %
        assert linear * 1e9 < 0.9 * counted


@pytest.mark.parametrize("threads", [1, 2])
def test_probe_takes_the_fastest_library_and_way_to_use_the_threads(
    threads: int, bench_script: Callable[[str], ModuleType]
) -> None:
    """The float32 limit is the fastest of torch's (MKL's) and numpy's (OpenBLAS's) matmul,
    on two threads each both ways: its own split of one product and one product per thread
    side by side (the flow's way), so none can beat it. Torch is left on the probe's thread
    count, OpenBLAS on the one it had."""
    import torch
    from threadpoolctl import threadpool_info

    def openblas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"]

    bench = bench_script("bench_embed")
    before, blas_before = torch.get_num_threads(), openblas_threads()
    try:
        probe = bench._Probe(threads, "float32", size=256, reps=2)
        rate = probe.rate()
        assert torch.get_num_threads() == threads
        assert openblas_threads() == blas_before and blas_before
    finally:
        torch.set_num_threads(before)
    ways = {1: ["split"], 2: ["split", "side by side"]}[threads]
    assert sorted(probe.last) == sorted(
        f"{lib} {way}" for lib in ("torch", "openblas") for way in ways
    )
    assert all(r > 0 for r in probe.last.values())
    assert rate == max(probe.last.values())
