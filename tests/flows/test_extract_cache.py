"""flows.extract_cache: a document is read once per content, reader version and limits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.cache_store import CacheStore
from flows.extract_cache import cached_document, document_key, extract_through_cache
from pipeline.config import Config
from pipeline.extract import ExtractError

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.txt"))[:3]:
        shutil.copy(path, folder / path.name)
    return folder


def test_changed_file_is_read_again_unchanged_ones_are_not(
    corpus: Path, tmp_path: Path, config: Config
) -> None:
    store = CacheStore(tmp_path / "cache")
    files = sorted(corpus.iterdir())
    read = {p: extract_through_cache(p, p.name, config, store) for p in files}
    assert all(cached_document(p, p.name, config, store) == read[p] for p in files)

    changed = files[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nEn ny rad om handledning.\n")
    assert cached_document(changed, changed.name, config, store) is None
    assert all(cached_document(p, p.name, config, store) == read[p] for p in files[1:])
    again = extract_through_cache(changed, changed.name, config, store)
    assert again.blocks[-1].text == "En ny rad om handledning."
    assert cached_document(changed, changed.name, config, store) == again
    assert store.counts()["documents"] == len(files) + 1


def test_same_bytes_under_another_name_reuse_the_document(
    corpus: Path, tmp_path: Path, config: Config
) -> None:
    store = CacheStore(tmp_path / "cache")
    original = sorted(corpus.iterdir())[0]
    first = extract_through_cache(original, original.name, config, store)
    renamed = original.with_name("omdöpt.txt")
    original.rename(renamed)
    found = cached_document(renamed, "sub/omdöpt.txt", config, store)
    assert found is not None and found.name == "sub/omdöpt.txt"
    assert found.blocks == first.blocks


def test_limits_that_shape_the_document_are_in_the_key(config: Config) -> None:
    limits = config.limits
    key = document_key("ab" * 32, ".pdf", limits)
    assert document_key("ab" * 32, ".PDF", limits) == key
    assert document_key("ab" * 32, ".pdf", limits.model_copy(update={"max_pages": 3})) != key
    # Time and memory only decide whether reading fails, and failures are not stored.
    slower = limits.model_copy(update={"timeout_seconds": 999.0})
    assert document_key("ab" * 32, ".pdf", slower) == key
    assert document_key("cd" * 32, ".pdf", limits) != key
    assert document_key("ab" * 32, ".pdf", limits, "other furniture rules") != key


def test_a_file_that_fails_is_not_stored(tmp_path: Path, config: Config) -> None:
    store = CacheStore(tmp_path / "cache")
    broken = tmp_path / "trasig.docx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00\xff" * 500)
    with pytest.raises(ExtractError, match=r"trasig\.docx"):
        extract_through_cache(broken, broken.name, config, store)
    assert store.counts()["documents"] == 0
