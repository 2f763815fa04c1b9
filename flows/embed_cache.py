"""On-disk embedding cache: one npz per embedder under `models/.cache/` (git-ignored).

The pure part (keys, which texts are new) is `pipeline.embed.embed_with_cache`; this module
only reads and writes the files.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.embed import Embedder, OnBatch, Vectors, embed_with_cache, texts_to_embed

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE_DIR = PROJECT_ROOT / "models" / ".cache"


def cache_path(embedder_name: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """`<cache_dir>/embeddings-<sha256(name)[:16]>.npz`."""
    digest = hashlib.sha256(embedder_name.encode("utf-8")).hexdigest()[:16]
    return cache_dir / f"embeddings-{digest}.npz"


def load_cache(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """Read a cache file (missing file -> empty cache). Rows are float32 (dim,)."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = [str(k) for k in z["keys"]]
            vecs = np.asarray(z["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as e:
        raise RuntimeError(
            f"{path}: unreadable embedding cache ({e}); delete the file to rebuild it"
        ) from e
    if len(keys) != len(vecs):
        raise RuntimeError(f"{path}: {len(keys)} keys but {len(vecs)} vectors; delete the file")
    return {k: vecs[i] for i, k in enumerate(keys)}


def save_cache(path: Path, cache: Mapping[str, npt.NDArray[np.float32]]) -> None:
    """Write the whole cache atomically (temp file + rename), keys sorted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(cache)
    vecs = (
        np.stack([cache[k] for k in keys]).astype(np.float32)
        if keys
        else np.zeros((0, 0), dtype=np.float32)
    )
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=np.asarray(keys, dtype=np.str_), vectors=vecs)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def count_uncached(
    texts: Sequence[str], embedder: Embedder, cache_dir: Path = DEFAULT_CACHE_DIR
) -> int:
    """How many distinct `texts` the on-disk cache of `embedder` has no vector for."""
    return len(
        texts_to_embed(texts, embedder.name, load_cache(cache_path(embedder.name, cache_dir)))
    )


def encode_cached(
    texts: Sequence[str],
    embedder: Embedder,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    on_batch: OnBatch | None = None,
) -> Vectors:
    """Embed `texts` through the on-disk cache of `embedder`; (n, dim) float32.

    `on_batch` is told how many uncached texts each batch of the model embedded."""
    path = cache_path(embedder.name, cache_dir)
    cache = load_cache(path)
    vectors, new = embed_with_cache(texts, embedder, cache, on_batch)
    if new:
        save_cache(path, {**cache, **new})
    return vectors
