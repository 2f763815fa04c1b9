"""A document's statements (with their regions) and its facts through the cache store.

Segmenting and attributing regions are per document, so a rerun does them only for new or
changed documents. The key is sha256 of everything the result depends on: the extracted
document itself (name included, as statement ids carry it), the segment config, the gazetteer
and abbreviation files, the document's `metadata.csv` row, the source of the stages
(`pipeline/segment.py`, `pipeline/regions.py`, `pipeline/records.py`) and spaCy's version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pipeline.records
from flows import io
from flows.cache_store import CacheStore
from pipeline.records import Document, DocumentInfo, Location, Polarity, Region, Statement

_STAGE_SOURCES = ("segment.py", "regions.py", "records.py")
Segmented = tuple[tuple[Statement, ...], DocumentInfo]
"""A document's statements with their regions, and the document's facts (`regions` output)."""


@lru_cache(maxsize=1)
def _code_version() -> str:
    digest = hashlib.sha256(f"spacy {version('spacy')}\n".encode())
    folder = Path(pipeline.records.__file__).parent
    for name in _STAGE_SOURCES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return digest.hexdigest()


def _keys(documents: Iterable[Document], data: io.ProjectData) -> dict[str, str]:
    """Store key of each document's statements, by document name."""
    files = io.data_file_hashes(data.config)
    shared = json.dumps(
        [
            _code_version(),
            data.config.segment.model_dump(),
            files[data.config.gazetteer],
            files[data.config.abbreviations],
        ],
        sort_keys=True,
    )
    keys = {}
    for document in documents:
        metadata = data.metadata.get(document.name)
        row = json.dumps(asdict(metadata) if metadata else None, sort_keys=True)
        digest = hashlib.sha256(shared.encode() + b"\0" + row.encode() + b"\0")
        digest.update(json.dumps(asdict(document), ensure_ascii=False).encode())
        keys[document.name] = digest.hexdigest()
    return keys


def cached_statements(
    documents: Sequence[Document], data: io.ProjectData, store: CacheStore
) -> dict[str, Segmented]:
    """The stored statements and facts of those `documents` segmented before with the same
    inputs, by document name."""
    keys = _keys(documents, data)
    found = store.get_texts("statements", keys.values())
    return {name: _from_json(found[key]) for name, key in keys.items() if key in found}


def store_statements(
    documents: Sequence[Document],
    done: Mapping[str, Segmented],
    data: io.ProjectData,
    store: CacheStore,
) -> None:
    """Store the statements and facts in `done` (by document name) of `documents`."""
    keys = _keys([d for d in documents if d.name in done], data)
    store.put_texts("statements", {keys[name]: _to_json(*done[name]) for name in keys})


def _to_json(statements: Sequence[Statement], info: DocumentInfo) -> str:
    raw = {"statements": [asdict(s) for s in statements], "info": asdict(info)}
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))


def _from_json(text: str) -> Segmented:
    raw: dict[str, Any] = json.loads(text)
    statements = tuple(
        Statement(
            **{
                **s,
                "location": Location(**s["location"]),
                "heading_path": tuple(s["heading_path"]),
                "polarity": Polarity(s["polarity"]),
                "region": Region(s["region"]),
            }
        )
        for s in raw["statements"]
    )
    info = raw["info"]
    return statements, DocumentInfo(**{**info, "region": Region(info["region"])})


def merge(
    fresh: Mapping[str, Segmented], known: Mapping[str, Segmented]
) -> tuple[list[Statement], list[DocumentInfo]]:
    """Statements in document-name order and each document's facts, from both sources."""
    both = {**known, **fresh}
    return [s for name in sorted(both) for s in both[name][0]], [
        both[name][1] for name in sorted(both)
    ]
