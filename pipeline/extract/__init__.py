"""Extract: raw file bytes → `Document` (structure-preserving blocks in reading order).

Public entry point: `extract_document(name, data, limits)`. One module per format (`_text` for
.txt/.md, and the other formats beside it); each maps its parser's output to our `Block`s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import PurePath

from pipeline.config import LimitsConfig
from pipeline.extract._errors import ExtractError
from pipeline.extract._text import extract_markdown, extract_text
from pipeline.records import Block, Document

# An extractor maps (name, raw bytes, limits) to (format, encoding, blocks); it raises
# ExtractError with a message that says what is wrong and what to do.
_Extractor = Callable[[str, bytes, LimitsConfig], tuple[str, str, tuple[Block, ...]]]

_EXTRACTORS: dict[str, _Extractor] = {
    ".txt": extract_text,
    ".md": extract_markdown,
}

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_EXTRACTORS))

__all__ = ["SUPPORTED_SUFFIXES", "ExtractError", "extract_document"]


def extract_document(name: str, data: bytes, limits: LimitsConfig) -> Document:
    """Extract one file's content; `name` is its path relative to the corpus folder.

    Raises ExtractError (message: '<name>: <where>: <what>; <how to fix>') for unreadable input.
    """
    suffix = PurePath(name).suffix.lower()
    extractor = _EXTRACTORS.get(suffix)
    if extractor is None:
        raise ExtractError(
            f"{name}: unsupported file type {suffix or '(no extension)'!r}; "
            f"expected one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if len(data) > limits.max_file_bytes:
        raise ExtractError(
            f"{name}: file is {len(data):,} bytes, over the limit of {limits.max_file_bytes:,}; "
            "split the file or raise limits.max_file_bytes in models/config.yaml"
        )
    if not data.strip():
        raise ExtractError(f"{name}: file is empty; remove it or export its content again")
    fmt, encoding, blocks = extractor(name, data, limits)
    return Document(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        encoding=encoding,
        blocks=blocks,
    )
