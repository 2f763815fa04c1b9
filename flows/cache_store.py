"""The cache store: embeddings, extracted documents and their statements in one SQLite database
(WAL mode).

Why SQLite in WAL mode, and not the single .npz it replaces, LMDB or Parquet shards:

* **written as work proceeds** — each chunk of embeddings (and each extracted document) is one
  small transaction; a crash or `kill -9` keeps every committed one, and a commit costs
  milliseconds instead of rewriting the whole cache (≈ 1.8 GB at a million statements);
* **safe for concurrent runs** — SQLite serialises writers with a file lock and WAL lets readers
  go on while one writes; rows are `INSERT OR IGNORE`d by key, so two runs writing at once
  lose nothing (an entry is a pure function of its key, so whichever lands first is right);
* **read by key** — a run looks up the keys it needs, it never loads the whole cache;
* **one place for every per-input result** — embeddings, extracted documents and each
  document's statements are tables of the same file;
* **in the standard library** — no new dependency, one file to copy or delete, readable with
  the `sqlite3` shell. LMDB would need a package and a fixed map size; Parquet shards need
  compaction and their own locking for concurrent writers.

WAL needs a local file system (not NFS/SMB): put `cache_dir` on a local disk.

Location: `--cache-dir` of `temakarta run`, else `cache_dir` of the config, else
`$XDG_CACHE_HOME/temakarta` or `~/.cache/temakarta` (`cache_dir_for`). Embedding caches of the
old format (`models/.cache/embeddings-*.npz` in the checkout) are imported once into the store
at the default location, the first time it opens (their keys are the same), and left in place;
delete them afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pipeline.config import PROJECT_ROOT, Config

STORE_FILE = "temakarta-cache.sqlite3"
LEGACY_NPZ_DIR = PROJECT_ROOT / "models" / ".cache"
_SCHEMA_VERSION = "2"
_BUSY_SECONDS = 300.0  # how long a writer waits for another run's transaction to finish
_IN_CHUNK = 900  # keys per `IN (...)` query: below every SQLite build's variable limit
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS embeddings (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (key BLOB PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statements (key BLOB PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
TextKind = Literal["documents", "statements"]
"""Tables of JSON texts: extracted documents; a document's statements with their regions."""


class CacheStoreError(RuntimeError):
    """The store cannot be opened or read; the message names the file and what to do."""


def _vector_rows(entries: Mapping[str, npt.NDArray[np.float32]]) -> list[tuple[bytes, bytes]]:
    """(key, float32 bytes) rows of the embeddings table."""
    return [
        (bytes.fromhex(k), np.ascontiguousarray(v, dtype=np.float32).tobytes())
        for k, v in entries.items()
    ]


def _insert(db: sqlite3.Connection, table: str, rows: Iterable[tuple[bytes, bytes | str]]) -> None:
    """Add `rows` (key, value) to `table`; a key already there keeps its value."""
    db.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?, ?)", rows)


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/temakarta`, or `~/.cache/temakarta` when that is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "temakarta"


def cache_dir_for(config: Config, override: Path | None = None) -> Path:
    """Where a run's store lives: `override` (--cache-dir), the config's `cache_dir`, the
    default."""
    if override is not None:
        return override
    if config.cache_dir is not None:
        return config.resolve(config.cache_dir)
    return default_cache_dir()


class CacheStore:
    """Key → value tables in `<cache_dir>/temakarta-cache.sqlite3`.

    Every method opens its own connection, so a store may be shared by threads (Prefect's
    mapped tasks) and used by several processes at once.
    """

    def __init__(self, cache_dir: Path, legacy_npz_dir: Path | None = None) -> None:
        """Open (create) the store in `cache_dir`. The old caches in `legacy_npz_dir` are
        imported once; by default only into the default location, which replaces them (a
        store elsewhere, a test's or a bench's, starts empty)."""
        self.path = cache_dir / STORE_FILE
        if legacy_npz_dir is None and cache_dir == default_cache_dir():
            legacy_npz_dir = LEGACY_NPZ_DIR
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            found = self._create()
        except (OSError, sqlite3.Error) as exc:
            raise CacheStoreError(
                f"{self.path}: cannot open the cache store ({exc}); check the folder is writable "
                "and on a local disk, or give another one with --cache-dir"
            ) from exc
        if found[0] != _SCHEMA_VERSION:
            raise CacheStoreError(
                f"{self.path}: cache store schema {found[0]}, this temakarta reads "
                f"{_SCHEMA_VERSION}; delete the file (it is only a cache) or use --cache-dir"
            )
        if legacy_npz_dir is not None:
            self._import_npz_once(legacy_npz_dir)

    def _create(self) -> tuple[str]:
        """Switch the file to WAL, create the tables; the stored schema version.

        Runs opening a new store at the same moment race here, and SQLite answers "database is
        locked" at once, without waiting for its busy timeout, while another connection changes
        the journal mode or recovers the WAL; so retry until `_BUSY_SECONDS` have passed.
        """
        deadline = time.monotonic() + _BUSY_SECONDS
        pause = 0.01
        while True:
            try:
                with self._connect() as db:
                    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
                    if mode != "wal":
                        db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(_SCHEMA)
                    db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                        (_SCHEMA_VERSION,),
                    )
                    found: tuple[str] = db.execute(
                        "SELECT value FROM meta WHERE key='schema_version'"
                    ).fetchone()
                return found
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _connection(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_BUSY_SECONDS)
        # NORMAL is durable against a crash of the process (what a cache needs) in WAL mode;
        # only a power cut may lose the last transactions.
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose `with` block is one transaction (committed, or rolled back)."""
        with closing(self._connection()) as db, db:
            yield db

    def _get(self, table: str, column: str, keys: Sequence[bytes]) -> dict[bytes, Any]:
        found: dict[bytes, Any] = {}
        with self._connect() as db:
            for a in range(0, len(keys), _IN_CHUNK):
                part = keys[a : a + _IN_CHUNK]
                marks = ",".join("?" * len(part))
                query = f"SELECT key, {column} FROM {table} WHERE key IN ({marks})"
                found.update(db.execute(query, part).fetchall())
        return found

    def _put(self, table: str, rows: Iterable[tuple[bytes, bytes | str]]) -> None:
        with self._connect() as db:
            _insert(db, table, rows)

    def get_vectors(self, keys: Iterable[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored vectors of those `keys` (sha256 hex, `pipeline.embed.cache_key`) that
        have one."""
        wanted = sorted({bytes.fromhex(k) for k in keys})
        try:
            found = self._get("embeddings", "vector", wanted)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        return {k.hex(): np.frombuffer(v, dtype=np.float32) for k, v in found.items()}

    def put_vectors(self, entries: Mapping[str, npt.NDArray[np.float32]]) -> None:
        """Store `entries` (key hex -> float32 vector) in one transaction; keys already stored
        keep their vector."""
        self._put("embeddings", _vector_rows(entries))

    @contextmanager
    def vector_writer(self) -> Iterator[Callable[[Mapping[str, npt.NDArray[np.float32]]], None]]:
        """`put_vectors` through one connection held open until the block ends: each call is
        still its own transaction, committed before it returns.

        Why: closing the last connection to a WAL database checkpoints it; with a connection
        per chunk of 512 vectors, closing them took 0.14 s of a 5.8 s embed stage on two
        threads (3000 statements)."""
        with closing(self._connection()) as db:

            def put(entries: Mapping[str, npt.NDArray[np.float32]]) -> None:
                with db:
                    _insert(db, "embeddings", _vector_rows(entries))

            yield put

    def get_texts(self, kind: TextKind, keys: Iterable[str]) -> dict[str, str]:
        """The stored JSON texts of `kind` under those `keys` (sha256 hex) that have one."""
        wanted = sorted({bytes.fromhex(k) for k in keys})
        try:
            found = self._get(kind, "value", wanted)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        return {k.hex(): str(v) for k, v in found.items()}

    def put_texts(self, kind: TextKind, entries: Mapping[str, str]) -> None:
        """Store JSON texts of `kind` (key hex -> text) in one transaction."""
        self._put(kind, [(bytes.fromhex(k), v) for k, v in entries.items()])

    def counts(self) -> dict[str, int]:
        """Rows per table (for tests and `bench/`)."""
        with self._connect() as db:
            return {
                table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("embeddings", "documents", "statements")
            }

    def copy_to(self, cache_dir: Path) -> CacheStore:
        """A consistent copy of this store in `cache_dir` (SQLite's online backup, safe while
        other runs write), opened."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        with (
            closing(sqlite3.connect(self.path, timeout=_BUSY_SECONDS)) as source,
            closing(sqlite3.connect(cache_dir / STORE_FILE)) as target,
        ):
            source.backup(target)
        return CacheStore(cache_dir)

    def _unreadable(self, exc: Exception) -> CacheStoreError:
        return CacheStoreError(
            f"{self.path}: unreadable cache store ({exc}); delete the file to rebuild it"
        )

    def _import_npz_once(self, folder: Path) -> None:
        """Copy the entries of old `embeddings-*.npz` caches into the store, each file once."""
        for npz in sorted(folder.glob("embeddings-*.npz")):
            stat = npz.stat()
            mark = f"imported:{npz.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
            with self._connect() as db:
                if db.execute("SELECT 1 FROM meta WHERE key=?", (mark,)).fetchone():
                    continue
            try:
                with np.load(npz, allow_pickle=False) as z:
                    keys = [str(k) for k in z["keys"]]
                    vectors = np.asarray(z["vectors"], dtype=np.float32)
            except (OSError, ValueError, KeyError):
                continue  # an unreadable old cache is only a missed head start
            if len(keys) == len(vectors):
                self.put_vectors(dict(zip(keys, vectors, strict=True)))
            with self._connect() as db:
                db.execute("INSERT OR IGNORE INTO meta VALUES (?, '1')", (mark,))
