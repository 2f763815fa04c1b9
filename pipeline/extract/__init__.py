"""Extract: raw file bytes → `Document` (structure-preserving blocks in reading order).

Public entry point: `extract_document(name, data, limits, furniture, convert)`. One module per
format (`_text` for .txt/.md, and the other formats beside it); each maps its parser's output to
our `Block`s, and paragraphs that carry no style go through the shared structure recovery
(`_structure`). Given the furniture rules (`parse_furniture` of models/furniture.yaml), a web
page is read without its navigation, banners, contact block and footer, and with the
publication date it states.

The file type comes from the bytes when they tell it (PDF, Office and OpenDocument packages,
legacy Office files, RTF), else from the extension: a PDF named .docx is read as a PDF, and
its `format` says so ("pdf (named .docx)"). Legacy and OpenDocument files (.doc, .ppt, .xls,
.odt, .odp, .ods, .rtf) are converted to their Office Open XML counterpart by a `Converter`
(LibreOffice headless, in `flows/`, which may write files) and read as such.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import PurePath
from typing import Protocol

from pipeline.config import LimitsConfig
from pipeline.extract._common import check_zip, describe_exception
from pipeline.extract._docx import extract_docx
from pipeline.extract._errors import ExtractError
from pipeline.extract._furniture import Furniture, FurnitureError, parse_furniture
from pipeline.extract._html import extract_html, read_html
from pipeline.extract._language import check_swedish, warm_up
from pipeline.extract._pdf import extract_pdf
from pipeline.extract._pptx import extract_pptx
from pipeline.extract._sheet import extract_csv, extract_xlsx
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
    ".xlsx": extract_xlsx,
    ".csv": extract_csv,
}

#: Formats read after conversion: suffix → (Office Open XML suffix it is converted to).
CONVERTED: dict[str, str] = {
    ".doc": ".docx",
    ".odt": ".docx",
    ".rtf": ".docx",
    ".ppt": ".pptx",
    ".odp": ".pptx",
    ".xls": ".xlsx",
    ".ods": ".xlsx",
}

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted((*_EXTRACTORS, *CONVERTED)))


class Converter(Protocol):
    """Converts a document's bytes from one format to another (suffixes such as ".doc" →
    ".docx") within `timeout` seconds; raises ExtractError ('<name>: <where>: <what>; <fix>')."""

    def __call__(
        self, name: str, data: bytes, source: str, target: str, timeout: float
    ) -> bytes: ...


__all__ = [
    "CONVERTED",
    "SUPPORTED_SUFFIXES",
    "Converter",
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
    name: str,
    data: bytes,
    limits: LimitsConfig,
    furniture: Furniture | None = None,
    convert: Converter | None = None,
) -> Document:
    """Extract one file's content; `name` is its path relative to the corpus folder.

    With `furniture`, web-page furniture is left out and counted in `Document.n_dropped`.
    `convert` turns legacy and OpenDocument files into Office Open XML (without it they are
    reported as needing LibreOffice).

    Raises ExtractError (message: '<name>: <where>: <what>; <how to fix>') for unreadable input,
    for a document that is not Swedish, and for any parser failure: no other exception escapes.
    """
    named = PurePath(name).suffix.lower()
    check_size(name, len(data), limits)
    if not data.strip():
        raise ExtractError(name, "file is empty", "remove it or export its content again")
    sniffed = sniff_type(data, named)
    suffix = sniffed or named
    if suffix not in _EXTRACTORS and suffix not in CONVERTED:
        raise ExtractError(
            name,
            f"unsupported file type {suffix or '(no extension)'!r}; "
            f"expected one of {', '.join(SUPPORTED_SUFFIXES)}",
            "convert it or remove it",
        )
    n_dropped, published, title = 0, "", ""
    try:
        if suffix in (".html", ".htm") and furniture is not None:
            page = read_html(name, data, limits, furniture)
            fmt, encoding, blocks = "html", page.encoding, page.blocks
            n_dropped, published, title = page.n_dropped, page.published, page.title
        else:
            fmt, encoding, blocks = _read(name, data, limits, suffix, convert)
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
    if suffix != named and not (suffix == ".html" and named == ".htm"):
        fmt = f"{fmt} (named {named or 'without extension'})"
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


def _read(
    name: str, data: bytes, limits: LimitsConfig, suffix: str, convert: Converter | None
) -> tuple[str, str, tuple[Block, ...]]:
    """Read with the suffix's extractor, converting legacy and OpenDocument files first."""
    target = CONVERTED.get(suffix)
    if target is None:
        return _EXTRACTORS[suffix](name, data, limits)
    if convert is None:
        raise ExtractError(
            f"{name}: file",
            f"{suffix} files are read through LibreOffice, which this run does not use",
            f"run temakarta (which converts them), or save the file as {target} and try again",
        )
    if data[:2] == b"PK":  # OpenDocument is a zip package: refuse a bomb before unpacking
        check_zip(name, data, limits, suffix.lstrip(".").upper())
    converted = convert(name, data, suffix, target, limits.timeout_seconds)
    _, encoding, blocks = _EXTRACTORS[target](name, converted, limits)
    return suffix.lstrip("."), encoding, blocks


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Stream names in a legacy Office file's directory (UTF-16LE), by the format they mark.
_OLE_STREAMS = (
    ("WordDocument".encode("utf-16-le"), ".doc"),
    ("PowerPoint Document".encode("utf-16-le"), ".ppt"),
    ("Workbook".encode("utf-16-le"), ".xls"),
    ("Book".encode("utf-16-le"), ".xls"),
)
_OOXML_PARTS = (
    ("word/document.xml", ".docx"),
    ("ppt/presentation.xml", ".pptx"),
    ("xl/workbook.xml", ".xlsx"),
)
_ODF_TYPES = {
    b"application/vnd.oasis.opendocument.text": ".odt",
    b"application/vnd.oasis.opendocument.presentation": ".odp",
    b"application/vnd.oasis.opendocument.spreadsheet": ".ods",
}


def sniff_type(data: bytes, named: str) -> str | None:
    """The file type (a suffix) its bytes show, or None when they do not tell (text formats).

    `named` (the extension) settles what the bytes leave open: a legacy Office file whose
    directory is damaged, an Office Open XML file whose parts are misnamed."""
    if b"%PDF-" in data[:1024]:
        return ".pdf"
    if data.startswith(_OLE):
        for marker, suffix in _OLE_STREAMS:
            if marker in data:
                return suffix
        return named if named in (".doc", ".ppt", ".xls") else ".doc"
    if data.lstrip()[:5] == b"{\\rtf":
        return ".rtf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data) or (named if named in _ZIP_SUFFIXES else None)
    return None


_ZIP_SUFFIXES = (".docx", ".pptx", ".xlsx", ".odt", ".odp", ".ods")


def _zip_type(data: bytes) -> str | None:
    """An Office Open XML or OpenDocument package's type from its parts (None if unreadable)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size <= 200:
                    found = _ODF_TYPES.get(archive.read("mimetype").strip())
                    if found is not None:
                        return found
    except Exception:  # a damaged package: the extension decides, and its reader reports it
        return None
    return next((suffix for part, suffix in _OOXML_PARTS if part in names), None)
