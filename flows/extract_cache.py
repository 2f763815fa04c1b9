"""Extracted documents through the cache store, so a rerun reads only new or changed files.

A document is stored under sha256 of (the file's bytes' sha256, its suffix, the reader version,
the limits that shape what a reader returns). The reader version is a hash of the readers'
own source (`pipeline/extract/*.py`) and the versions of the libraries and programs they call,
so changing a reader, upgrading pdfplumber or Tesseract, or raising `limits.max_pages` reads
every document again. Only documents that were read are stored: a file that failed is tried
again on the next run (a timeout may not recur on a quieter machine).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pipeline.extract
from flows.cache_store import CacheStore
from flows.io import sha256_file
from flows.isolation import extract_file
from pipeline.catalog import data_paths
from pipeline.config import Config, LimitsConfig
from pipeline.extract import Furniture
from pipeline.records import Block, BlockKind, Document, Location

_READER_PACKAGES = (
    "pdfplumber",
    "pdfminer.six",
    "pypdfium2",
    "python-docx",
    "python-pptx",
    "beautifulsoup4",
    "lxml",
    "charset-normalizer",
    "lingua-language-detector",
    "pillow",
)
_READER_PROGRAMS = ("tesseract", "soffice", "pandoc")
# Limits that only decide whether reading fails (time, memory) are not in the key: a failure
# is never stored.
_OUTCOME_LIMITS = ("timeout_seconds", "max_memory_mb")
_FORMAT = 1  # the JSON layout of a stored document


@lru_cache(maxsize=1)
def reader_version() -> str:
    """sha256 hex of the readers' source files, their libraries' versions and the programs they
    run (path, size, mtime)."""
    digest = hashlib.sha256(f"format {_FORMAT}\n".encode())
    source = Path(pipeline.extract.__file__).parent
    for path in sorted(source.rglob("*.py")):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes())
    for package in _READER_PACKAGES:
        try:
            digest.update(f"{package}=={version(package)}\n".encode())
        except PackageNotFoundError:
            digest.update(f"{package} missing\n".encode())
    for program in _READER_PROGRAMS:
        found = shutil.which(program)
        stat = Path(found).resolve().stat() if found else None
        digest.update(f"{program}:{found}:{stat and (stat.st_size, stat.st_mtime_ns)}\n".encode())
    return digest.hexdigest()


def document_key(file_sha256: str, suffix: str, limits: LimitsConfig, reader_data: str = "") -> str:
    """The store key of a file's extracted document (see the module docstring);
    `reader_data` identifies the data files the readers use (the web-page furniture rules)."""
    shaping = {k: v for k, v in limits.model_dump().items() if k not in _OUTCOME_LIMITS}
    text = json.dumps(
        [file_sha256, suffix.lower(), reader_version(), shaping, reader_data], sort_keys=True
    ).encode()
    return hashlib.sha256(text).hexdigest()


def _reader_data(config: Config) -> str:
    """sha256 of the data files the readers use (the web-page furniture rules)."""
    return sha256_file(data_paths(config)["furniture"])


def cached_document(path: Path, name: str, config: Config, store: CacheStore) -> Document | None:
    """The stored document of the file at `path` (named `name`), or None when it was not read
    before with this reader version, these limits and these furniture rules."""
    key = document_key(sha256_file(path), path.suffix, config.limits, _reader_data(config))
    stored = store.get_texts("documents", [key]).get(key)
    return None if stored is None else _from_json(stored, name)


def extract_through_cache(
    path: Path, name: str, config: Config, store: CacheStore, furniture: Furniture | None = None
) -> Document:
    """`flows.isolation.extract_file`, its result stored for the next run (raises ExtractError
    like it)."""
    key = document_key(sha256_file(path), path.suffix, config.limits, _reader_data(config))
    document = extract_file(path, name, config.limits, furniture)
    store.put_texts("documents", {key: _to_json(document)})
    return document


def _to_json(document: Document) -> str:
    raw = asdict(document)
    raw["name"] = ""  # the same bytes under another name are the same document
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))


def _from_json(text: str, name: str) -> Document:
    raw: dict[str, Any] = json.loads(text)
    blocks = tuple(
        Block(
            kind=BlockKind(b["kind"]),
            text=b["text"],
            location=Location(**b["location"]),
            level=b["level"],
            cells=tuple(b["cells"]),
            ocr=b["ocr"],
        )
        for b in raw["blocks"]
    )
    return Document(**{**raw, "name": name, "blocks": blocks})
