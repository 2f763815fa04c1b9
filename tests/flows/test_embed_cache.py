"""flows.embed_cache: npz round trip and cached encoding."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from flows.embed_cache import cache_path, encode_cached, load_cache, save_cache
from pipeline.embed import SentenceTransformerEmbedder, Vectors


class _Fake:
    def __init__(self) -> None:
        self.calls = 0

    @property
    def name(self) -> str:
        return "fake@1"

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls += len(texts)
        return np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (len(texts), 1))


def test_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "c.npz"
    assert load_cache(p) == {}
    save_cache(p, {"k1": np.array([1.0, 0.0], np.float32)})
    got = load_cache(p)
    assert list(got) == ["k1"] and got["k1"].dtype == np.float32


def test_encode_cached_reuses_disk(tmp_path: Path) -> None:
    fake = _Fake()
    v1 = encode_cached(["x", "y"], fake, tmp_path)
    v2 = encode_cached(["y", "x", "z"], fake, tmp_path)
    assert fake.calls == 3
    assert v1.shape == (2, 2) and v2.shape == (3, 2)
    assert cache_path("fake@1", tmp_path).is_file()


@pytest.mark.slow
def test_rerun_with_the_real_model_embeds_nothing_new(tmp_path: Path) -> None:
    from flows.build_model import build
    from flows.io import load_config
    from pipeline.catalog import model_dir as configured_model_dir

    model_dir = build(configured_model_dir(load_config())).path
    texts = ["Oklarhet kring finansiering", "Brist på handledare", "Gemensam målbild saknas"]
    first = SentenceTransformerEmbedder(model_dir)
    vectors = encode_cached(texts, first, tmp_path)
    assert first.loaded and vectors.shape == (3, 384)
    rerun = SentenceTransformerEmbedder(model_dir)
    again = encode_cached(list(reversed(texts)), rerun, tmp_path)
    assert not rerun.loaded  # every vector came from the cache: the model was never loaded
    np.testing.assert_array_equal(again, vectors[::-1])
