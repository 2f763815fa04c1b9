"""flows.embed_cache and flows.cache_store: the SQLite store, written chunk by chunk, shared by
concurrent processes, surviving a kill."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flows.cache_store import STORE_FILE, CacheStore, CacheStoreError, cache_dir_for
from flows.embed_cache import count_uncached, encode_cached
from pipeline.config import Config
from pipeline.embed import SentenceTransformerEmbedder, Vectors, cache_key

ROOT = Path(__file__).resolve().parents[2]

# A child process: embeds `n` texts "<prefix> <i>" through the store in `cache_dir` with a fake
# model that takes `delay` seconds per chunk of 10 texts and prints "start" as it begins one
# (by then every earlier chunk is in the store).
_CHILD = """
import sys, time
from pathlib import Path
import numpy as np
from flows.embed_cache import encode_cached

class Slow:
    name = "slow@1"
    def encode(self, texts):
        print("start", flush=True)
        time.sleep(float(sys.argv[4]))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

texts = [f"{sys.argv[2]} {i}" for i in range(int(sys.argv[3]))]
encode_cached(texts, Slow(), Path(sys.argv[1]), chunk=10)
print("done", flush=True)
"""


class _Fake:
    def __init__(self) -> None:
        self.calls = 0

    @property
    def name(self) -> str:
        return "fake@1"

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls += len(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def _child(cache: Path, prefix: str, n: int, delay: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(cache), prefix, str(n), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_vectors_round_trip_by_key(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    assert (tmp_path / STORE_FILE).is_file()
    key = cache_key("m", "text")
    assert store.get_vectors([key]) == {}
    store.put_vectors({key: np.array([0.6, 0.8], np.float64)})
    got = CacheStore(tmp_path).get_vectors([key, cache_key("m", "other")])
    assert list(got) == [key] and got[key].dtype == np.float32
    np.testing.assert_array_equal(got[key], np.array([0.6, 0.8], np.float32))
    store.put_vectors({key: np.array([0.0, 1.0], np.float32)})  # an entry is never replaced
    np.testing.assert_array_equal(store.get_vectors([key])[key], np.array([0.6, 0.8], np.float32))


def test_the_vector_writer_commits_each_call_on_one_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CacheStore(tmp_path)
    keys = [cache_key("m", t) for t in ("a", "b")]
    opened: list[object] = []
    connect = sqlite3.connect

    def counted(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(args[0])
        return connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", counted)
    with store.vector_writer() as put:
        put({keys[0]: np.array([1.0, 0.0], np.float32)})
        put({keys[1]: np.array([0.0, 1.0], np.float32)})
        assert len(opened) == 1
        seen = CacheStore(tmp_path).get_vectors(keys)  # another connection sees both
        assert sorted(seen) == sorted(keys)
        put({keys[0]: np.array([0.5, 0.5], np.float32)})  # kept: never replaced
    np.testing.assert_array_equal(store.get_vectors(keys)[keys[0]], [1.0, 0.0])


def test_encode_cached_reuses_the_store(tmp_path: Path) -> None:
    fake = _Fake()
    v1 = encode_cached(["x", "yy"], fake, tmp_path)
    assert count_uncached(["yy", "x", "zzz"], fake, tmp_path) == 1
    v2 = encode_cached(["yy", "x", "zzz"], fake, tmp_path)
    assert fake.calls == 3
    assert v1.shape == (2, 2) and v2.shape == (3, 2)
    np.testing.assert_array_equal(v2[:2], v1[::-1])
    assert CacheStore(tmp_path).counts()["embeddings"] == 3


def test_old_npz_cache_is_imported_once(tmp_path: Path) -> None:
    legacy = tmp_path / "old"
    legacy.mkdir()
    key = cache_key("fake@1", "x")
    np.savez(
        legacy / "embeddings-0123456789abcdef.npz",
        keys=np.asarray([key], dtype=np.str_),
        vectors=np.array([[0.6, 0.8]], dtype=np.float32),
    )
    store = CacheStore(tmp_path / "store", legacy_npz_dir=legacy)
    np.testing.assert_array_equal(store.get_vectors([key])[key], np.array([0.6, 0.8], np.float32))
    with store._connect() as db:  # the import is recorded, so the next open skips the file
        marks = db.execute("SELECT count(*) FROM meta WHERE key LIKE 'imported:%'").fetchone()
    assert marks[0] == 1
    assert CacheStore(tmp_path / "elsewhere").counts()["embeddings"] == 0  # not the default


def test_location_override_config_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir_for(config) == tmp_path / "xdg" / "temakarta"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir_for(config) == Path.home() / ".cache" / "temakarta"
    configured = config.model_copy(update={"cache_dir": str(tmp_path / "conf")})
    assert cache_dir_for(configured) == tmp_path / "conf"
    assert cache_dir_for(configured, tmp_path / "cli") == tmp_path / "cli"


def test_unwritable_location_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheStoreError, match=r"a-file.*cannot open the cache store.*--cache-dir"):
        CacheStore(blocker / "cache")


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    children = [_child(tmp_path, prefix, 200, 0.01) for prefix in ("first", "second")]
    for child in children:
        out, _ = child.communicate(timeout=300)
        assert child.returncode == 0 and out.endswith("done\n")
        assert out.count("start") == 20
    store = CacheStore(tmp_path)
    keys = [cache_key("slow@1", f"{p} {i}") for p in ("first", "second") for i in range(200)]
    assert len(store.get_vectors(keys)) == 400
    assert store.counts()["embeddings"] == 400


def test_a_killed_run_keeps_every_finished_chunk(tmp_path: Path) -> None:
    child = _child(tmp_path, "killed", 100, 0.3)
    assert child.stdout is not None
    for _ in range(4):  # the fourth chunk starts: three chunks of ten are in the store
        assert child.stdout.readline() == "start\n"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    keys = [cache_key("slow@1", f"killed {i}") for i in range(100)]
    kept = len(CacheStore(tmp_path).get_vectors(keys))
    assert kept == 30
    assert count_uncached([f"killed {i}" for i in range(100)], _Named("slow@1"), tmp_path) == (
        100 - kept
    )


class _Named(_Fake):
    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def name(self) -> str:
        return self._name


@pytest.mark.slow
def test_rerun_with_the_real_model_embeds_nothing_new(
    tmp_path: Path, built_model_dir: Path
) -> None:
    texts = ["Oklarhet kring finansiering", "Brist på handledare", "Gemensam målbild saknas"]
    first = SentenceTransformerEmbedder(built_model_dir, threads=1)
    vectors = encode_cached(texts, first, tmp_path)
    assert first.loaded and vectors.shape == (3, 384)
    rerun = SentenceTransformerEmbedder(built_model_dir, threads=1)
    again = encode_cached(list(reversed(texts)), rerun, tmp_path)
    assert not rerun.loaded  # every vector came from the cache: the model was never loaded
    np.testing.assert_array_equal(again, vectors[::-1])


def test_a_store_of_another_schema_says_what_to_do(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    with store._connect() as db:
        db.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    with pytest.raises(CacheStoreError, match=r"schema 0.*delete the file"):
        CacheStore(tmp_path)


def test_a_store_being_created_by_another_run_is_waited_for(tmp_path: Path) -> None:
    # Two runs creating one store at once: one is writing the new file before it is in WAL mode,
    # the other's switch to WAL gets "database is locked" at once (SQLite's busy timeout does not
    # apply to it). CI hit this; the opener must wait and retry, not fail.
    other = sqlite3.connect(tmp_path / STORE_FILE, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE early (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO early VALUES (1)")
    finish = threading.Timer(1.0, lambda: other.execute("COMMIT"))
    finish.start()
    try:
        store = CacheStore(tmp_path)
    finally:
        finish.join()
        other.close()
    store.put_texts("documents", {"ab" * 32: "x"})
    assert store.counts()["documents"] == 1
