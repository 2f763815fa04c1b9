"""Embedding through the cache store (flows/cache_store.py), keyed by model hash + text.

The pure part (keys, which texts are new, length-sorted chunks) is
`pipeline.embed.embed_with_cache`; this module only reads the store and writes each chunk to it
as soon as the model has embedded it, so a crash keeps every finished chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flows.cache_store import CacheStore, default_cache_dir
from pipeline.embed import (
    DEFAULT_CHUNK,
    Embedder,
    OnBatch,
    Vectors,
    cache_key,
    embed_with_cache,
    texts_to_embed,
)

DEFAULT_CACHE_DIR = default_cache_dir()


def count_uncached(
    texts: Sequence[str], embedder: Embedder, cache_dir: Path = DEFAULT_CACHE_DIR
) -> int:
    """How many distinct `texts` the store in `cache_dir` has no vector of `embedder` for."""
    name = embedder.name
    cached = CacheStore(cache_dir).get_vectors(cache_key(name, t) for t in texts)
    return len(texts_to_embed(texts, name, cached))


def encode_cached(
    texts: Sequence[str],
    embedder: Embedder,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    on_batch: OnBatch | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> Vectors:
    """Embed `texts` through the store in `cache_dir`; (n, dim) float32.

    Only the vectors of `texts` are read; the new ones are written `chunk` texts at a time.
    `on_batch` is told how many uncached texts each batch of the model embedded."""
    store = CacheStore(cache_dir)
    name = embedder.name
    cached = store.get_vectors(cache_key(name, t) for t in texts)
    with store.vector_writer() as put:
        vectors, _ = embed_with_cache(texts, embedder, cached, on_batch, put, chunk)
    return vectors
