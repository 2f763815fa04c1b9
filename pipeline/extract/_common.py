"""Helpers shared by the extractors: error messages, zip guards, text decoding and cleanup,
table layout."""

from __future__ import annotations

import codecs
import re
import time
import zipfile
from collections.abc import Sequence
from io import BytesIO

from charset_normalizer import from_bytes

from pipeline.config import LimitsConfig
from pipeline.extract._errors import ExtractError

_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
_SPACE_NO_TAB = re.compile(r"[ \u00a0\u2000-\u200b\u202f\u3000]+")
_LINE_BREAKS = str.maketrans({"\r": "\n", "\v": "\n", "\f": "\n"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff\u00ad]")


def error(name: str, where: str, what: str, fix: str, setting: str = "") -> ExtractError:
    """An ExtractError at '<name>: <where>' (see ExtractError for `setting`)."""
    return ExtractError(f"{name}: {where}", what, fix, setting)


def describe_exception(exc: BaseException) -> str:
    """A one-line description of a library exception: its type and message."""
    message = " ".join(str(exc).split())[:300]
    kind = type(exc).__name__
    return f"{kind}: {message}" if message else kind


def clean(text: str) -> str:
    """Collapse runs of spaces, drop control characters and soft hyphens, strip the ends.

    Carriage returns, vertical tabs (python-pptx's line break) and form feeds separate words
    like a newline does."""
    text = _CONTROL.sub("", text.translate(_LINE_BREAKS))
    return _SPACE.sub(" ", " ".join(text.split("\n"))).strip()


def clean_line(text: str) -> str:
    """A typed line for structure recovery: like `clean`, but tabs (table columns) and the
    leading indent (list nesting) are kept."""
    text = _CONTROL.sub("", text.translate(_LINE_BREAKS).replace("\n", " "))
    body = text.lstrip(" \t")
    indent = text[: len(text) - len(body)]
    return indent + "\t".join(_SPACE_NO_TAB.sub(" ", part).strip() for part in body.split("\t"))


def check_zip(name: str, data: bytes, limits: LimitsConfig, kind: str) -> None:
    """Reject a corrupt Office zip package or one that would decompress past the limit.

    Sums the declared uncompressed sizes from the central directory before any parser inflates
    a byte, so a zip bomb is refused without being unpacked.
    """
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise error(
            name,
            "file",
            f"not a valid {kind} file (the zip package is corrupt or truncated: "
            f"{describe_exception(exc)})",
            f"open it in Office and save it again as {kind}, or remove it",
        ) from exc
    total = sum(info.file_size for info in infos)
    if total > limits.max_decompressed_bytes:
        raise error(
            name,
            "zip package",
            f"unpacks to {total:,} bytes, over the limit of {limits.max_decompressed_bytes:,} "
            "(possible zip bomb)",
            "check where the file came from",
            "limits.max_decompressed_bytes",
        )
    if len(infos) > 100_000:
        raise error(
            name,
            "zip package",
            f"holds {len(infos):,} entries, too many for a {kind} file",
            "check where the file came from, or save it again from Office",
        )


class Deadline:
    """A cooperative time budget: extractors call `check` between pages or slides."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never below a small positive floor (for subprocess timeouts)."""
        return max(0.5, self.end - time.monotonic())

    def check(self, where: str) -> None:
        """Raise ExtractError when the budget is spent."""
        if time.monotonic() > self.end:
            raise error(
                self.name,
                where,
                f"extraction took longer than {self.seconds:g} seconds",
                "split the file",
                "limits.timeout_seconds",
            )


# No real table is this wide (Word stops at 63 columns, HTML's colspan at 1000); the cap keeps
# a bogus span from turning every row into a huge tuple of blanks.
MAX_COLUMNS = 1000


def lay_out_rows(
    rows: Sequence[Sequence[tuple[int, int, str]]],
) -> list[tuple[tuple[str, ...], str]]:
    """Each table row as (one cell per grid column, row text with each cell's text once).

    `rows` gives, per row, the cells that start in it as (first grid column, columns spanned,
    text); columns covered by a cell from a row above are left out and come out blank. Shared
    by the HTML, DOCX and PPTX readers so merged cells read the same in all three.

    A cell's text is written once, in its first grid column, so each statement is made once.
    In the header row — the first row with two or more filled cells, the row the segmenter
    takes as header — the text is repeated over every column the cell spans, so a header
    "Möjligheter" over two columns heads both. A row that is a single cell spanning the whole
    table (a title) is a one-cell row.
    """
    width = max((column + span for row in rows for column, span, _ in row), default=0)
    out: list[tuple[tuple[str, ...], str]] = []
    seen_header = False
    for row in rows:
        filled = [text for _, _, text in row if text]
        header = len(filled) >= 2 and not seen_header
        seen_header = seen_header or header
        if len(row) == 1 and row[0][0] == 0 and row[0][1] == width:
            out.append(((row[0][2],), row[0][2]))
            continue
        cells = [""] * width
        for column, span, text in row:
            cells[column : column + span] = [text] * span if header else [text] + [""] * (span - 1)
        out.append((tuple(cells), " | ".join(filled)))
    return out


# Encodings we accept when a file is not UTF-8: what Windows and older Office exports write.
_FALLBACK_ENCODINGS = ["cp1252", "latin_1"]
_REPLACEMENT = "\ufffd"
_UTF8_EVIDENCE = 3


def decode_text(name: str, data: bytes) -> tuple[str, str]:
    """Decode UTF-8 (BOM allowed) or BOM-marked UTF-16 (what Notepad's "Unicode" writes);
    otherwise detect cp1252/latin-1 from the bytes."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ExtractError(
                f"{name}: byte {exc.start}",
                "not UTF-16 although it starts with a UTF-16 byte order mark",
                "save the file as UTF-8",
            ) from exc
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if b"\x00" in data[:4096]:
        raise ExtractError(
            f"{name}: byte {utf8_error.start}",
            "binary data in a text file",
            "check that the file really is text, or give it its proper extension",
        )
    damaged = _damaged_utf8(data)
    if damaged is not None:
        return damaged
    best = from_bytes(data, cp_isolation=_FALLBACK_ENCODINGS).best()
    if best is None or best.encoding not in {"cp1252", "latin_1"}:
        raise ExtractError(
            f"{name}: byte {utf8_error.start}",
            f"not UTF-8 ({utf8_error.reason}) and no "
            f"{' or '.join(_FALLBACK_ENCODINGS)} reading fits",
            "save the file as UTF-8",
        )
    return str(best), best.encoding.replace("_", "-")


def _damaged_utf8(data: bytes) -> tuple[str, str] | None:
    """A UTF-8 file with a few broken bytes (a bad copy, a cut download): read it with U+FFFD
    for each broken sequence rather than lose the document, and say so in the encoding.

    It counts as UTF-8 when its valid non-ASCII characters outnumber the broken sequences by
    `_UTF8_EVIDENCE` to one: a cp1252 file's å, ä and ö are all invalid UTF-8 (a valid sequence
    would need two of the rare bytes 0x80–0xBF right after them), so it has none."""
    text = data.decode("utf-8-sig", errors="replace")
    broken = text.count(_REPLACEMENT) - data.count(_REPLACEMENT.encode("utf-8"))
    valid = sum(1 for ch in text if ord(ch) > 127 and ch != _REPLACEMENT)
    if broken == 0 or valid < _UTF8_EVIDENCE * broken:
        return None
    return text, f"utf-8 ({broken} invalid byte sequences replaced)"
