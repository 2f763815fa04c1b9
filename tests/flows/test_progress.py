"""flows.progress: the bars, the silent reporter, the CLI's choice, and the embedding callback."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from flows.embed_cache import count_uncached, encode_cached
from flows.progress import EMBED, READ, NullProgress, Progress, RichProgress, choose_progress
from pipeline.embed import SentenceTransformerEmbedder, Vectors, embed_with_cache


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_rich_progress_shows_each_stage_with_its_counts() -> None:
    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=True, width=120))
    progress.start(READ, 3)
    for _ in range(3):
        progress.advance(READ)
    progress.start(EMBED, 10)
    progress.advance(EMBED, 4)
    progress.close()
    shown = out.getvalue()
    assert "reading documents" in shown and "3/3" in shown
    assert "embedding statements" in shown and "4/10" in shown
    assert "ETA" in shown


def test_rich_progress_with_nothing_to_do_and_before_start() -> None:
    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=True, width=120))
    progress.advance(EMBED, 5)  # no bar yet: ignored
    progress.close()  # never started: nothing to stop
    assert out.getvalue() == ""
    progress.start(EMBED, 0)  # everything came from the cache
    progress.close()
    assert "0/0" in out.getvalue()


def test_null_progress_does_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    progress = NullProgress()
    assert isinstance(progress, Progress)
    progress.start(READ, 5)
    progress.advance(READ, 5)
    progress.close()
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("quiet", "stdout_tty", "stderr_tty", "bars"),
    [
        (False, True, True, True),
        (True, True, True, False),  # --quiet
        (False, False, True, False),  # output piped or redirected to a file
        (False, True, False, False),  # stderr redirected (cron, CI)
        (False, False, False, False),
    ],
)
def test_cli_chooses_bars_only_for_a_terminal(
    quiet: bool, stdout_tty: bool, stderr_tty: bool, bars: bool
) -> None:
    chosen = choose_progress(quiet, _Stream(stdout_tty), _Stream(stderr_tty))
    assert isinstance(chosen, RichProgress if bars else NullProgress)


class _BatchingFake:
    """Test double that embeds two texts per batch and says so."""

    name = "fake@batches"

    def encode(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> Vectors:
        for start in range(0, len(texts), 2):
            if on_batch is not None:
                on_batch(len(texts[start : start + 2]))
        return np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (len(texts), 1))


def test_embed_with_cache_reports_only_the_uncached_texts() -> None:
    fake = _BatchingFake()
    _, cache = embed_with_cache(["a", "b"], fake, {})
    batches: list[int] = []
    embed_with_cache(["a", "c", "d", "c", "e", "b"], fake, cache, on_batch=batches.append)
    assert batches == [2, 1]  # c, d, e: each once, a and b from the cache


@pytest.mark.slow
def test_model_batches_sum_to_the_uncached_texts(tmp_path: Path, built_model_dir: Path) -> None:
    # Small batches and windows, so there are several batches and texts of several windows
    # (batch_size is the model's own forward's; the packed engine batches 2048 tokens).
    embedder = SentenceTransformerEmbedder(
        built_model_dir, batch_size=2, max_tokens=16, packed=False
    )
    cached = ["Oklarhet kring finansiering", "Brist på handledare"]
    encode_cached(cached, embedder, tmp_path)
    texts = [
        *cached,
        "Gemensam målbild saknas",
        "Regionerna behöver en gemensam plan för handledning av studenter under "
        "hela utbildningen, med tydliga roller för kommuner och lärosäten.",
        "Lärmiljön",
        "Gemensam målbild saknas",  # a duplicate is embedded once
    ]
    assert count_uncached(texts, embedder, tmp_path) == 3
    batches: list[int] = []
    vectors = encode_cached(texts, embedder, tmp_path, on_batch=batches.append)
    assert len(batches) > 1 and all(n > 0 for n in batches)
    assert sum(batches) == 3
    assert count_uncached(texts, embedder, tmp_path) == 0
    # Reporting progress does not change a single bit of the vectors.
    np.testing.assert_array_equal(vectors[2:5], embedder.encode(texts[2:5]))
