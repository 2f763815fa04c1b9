"""Extract: raw file bytes → `Document` (structure-preserving blocks in reading order).

Public entry point: `extract_document(name, data, limits, furniture)`. One module per format
(`_text` for .txt/.md, and the other formats beside it); each maps its parser's output to our
`Block`s. Given the furniture rules (`parse_furniture` of models/furniture.yaml), a web page is
read without its navigation, banners, contact block and footer, and with the publication date
it states.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import PurePath

from pipeline.config import LimitsConfig
from pipeline.extract._common import describe_exception
from pipeline.extract._docx import extract_docx
from pipeline.extract._errors import ExtractError
from pipeline.extract._furniture import Furniture, FurnitureError, parse_furniture
from pipeline.extract._html import extract_html, read_html
from pipeline.extract._language import check_swedish, warm_up
from pipeline.extract._pdf import extract_pdf
from pipeline.extract._pptx import extract_pptx
from pipeline.extract._text import extract_markdown, extract_text
from pipeline.records import Block, Document

# An extractor maps (name, raw bytes, limits) to (format, encoding, blocks); it raises
# ExtractError with a message that says what is wrong and what to do.
_Extractor = Callable[[str, bytes, LimitsConfig], tuple[str, str, tuple[Block, ...]]]

_EXTRACTORS: dict[str, _Extractor] = {
    ".txt": extract_text,
    ".md": extract_markdown,
    ".pdf": extract_pdf,
    ".docx": extract_docx,
    ".pptx": extract_pptx,
    ".html": extract_html,
    ".htm": extract_html,
}

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_EXTRACTORS))

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ExtractError",
    "Furniture",
    "FurnitureError",
    "check_size",
    "extract_document",
    "parse_furniture",
    "warm_up",
]


def check_size(name: str, size: int, limits: LimitsConfig) -> None:
    """Raise ExtractError when a file of `size` bytes is over `limits.max_file_bytes`.

    Called on the file's size before it is read, and again by `extract_document` on its bytes.
    """
    if size > limits.max_file_bytes:
        raise ExtractError(
            name,
            f"file is {size:,} bytes, over the limit of {limits.max_file_bytes:,}",
            "split the file",
            "limits.max_file_bytes",
        )


def extract_document(
    name: str, data: bytes, limits: LimitsConfig, furniture: Furniture | None = None
) -> Document:
    """Extract one file's content; `name` is its path relative to the corpus folder.

    With `furniture`, web-page furniture is left out and counted in `Document.n_dropped`.

    Raises ExtractError (message: '<name>: <where>: <what>; <how to fix>') for unreadable input,
    for a document that is not Swedish, and for any parser failure: no other exception escapes.
    """
    suffix = PurePath(name).suffix.lower()
    extractor = _EXTRACTORS.get(suffix)
    if extractor is None:
        raise ExtractError(
            name,
            f"unsupported file type {suffix or '(no extension)'!r}; "
            f"expected one of {', '.join(SUPPORTED_SUFFIXES)}",
            "convert it or remove it",
        )
    check_size(name, len(data), limits)
    if not data.strip():
        raise ExtractError(name, "file is empty", "remove it or export its content again")
    n_dropped, published, title = 0, "", ""
    try:
        if extractor is extract_html and furniture is not None:
            page = read_html(name, data, limits, furniture)
            fmt, encoding, blocks = "html", page.encoding, page.blocks
            n_dropped, published, title = page.n_dropped, page.published, page.title
        else:
            fmt, encoding, blocks = extractor(name, data, limits)
    except ExtractError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise ExtractError(
            f"{name}: file",
            f"too large or too deeply nested to read ({describe_exception(exc)})",
            "split the file or export it again",
        ) from exc
    except Exception as exc:  # any parser bug or oddity: report it, never sink the run
        raise ExtractError(
            f"{name}: file",
            f"the {suffix} reader failed ({describe_exception(exc)})",
            "export the file again from its original program, or remove it",
        ) from exc
    if not any(block.text.strip() for block in blocks):
        raise ExtractError(
            f"{name}: file", "no text found", "check that the file has content, or remove it"
        )
    check_swedish(name, (block.text for block in blocks))
    return Document(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        encoding=encoding,
        blocks=blocks,
        n_dropped=n_dropped,
        published=published,
        title=title,
    )
