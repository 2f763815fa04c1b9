"""PDF → blocks with pdfplumber; pages without a text layer are OCR'd (see `_ocr`).

Ruled tables come from pdfplumber's table finder (cells keep their columns); everything else
is read as positioned words and mapped by `_layout` (headings from font size, bullets and
numbered items, borderless tables from word x-positions). A BREAK opens every page; `page` is
the 1-based page number and `line` the line's ordinal on that page.
"""

from __future__ import annotations

import io
import re
import zlib
from typing import Any

from pipeline.config import LimitsConfig
from pipeline.extract._common import Deadline, clean, describe_exception, error
from pipeline.extract._errors import ExtractError
from pipeline.extract._layout import (
    Element,
    SizeStats,
    TableRows,
    TextLine,
    Word,
    group_lines,
    page_blocks,
)
from pipeline.records import Block, BlockKind, Location

#: Heading threshold: font size at least this times the body size (text layer / OCR heights).
HEADING_RATIO = 1.15
OCR_HEADING_RATIO = 1.3
#: A page with fewer text-layer characters than this is treated as a scan.
MIN_TEXT_CHARS = 1

_PASSWORD_ERRORS = ("PDFPasswordIncorrect", "PDFEncryptionError", "FileNotDecryptedError")
_REEXPORT = "export it from the original program again (File > Save as PDF), or remove it"


def _is_password_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__ in _PASSWORD_ERRORS or "password" in str(current).lower():
            return True
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
    return False


def _read_error(name: str, where: str, what: str, exc: BaseException) -> ExtractError:
    """The error for a library failure: a password prompt, or `what` with the library's words."""
    if _is_password_error(exc):
        return error(
            name,
            "file",
            "PDF is password-protected (encrypted)",
            "save an unprotected copy (remove the password in the PDF program) or remove it",
        )
    return error(name, where, f"{what} ({describe_exception(exc)})", _REEXPORT)


def _words(page: Any, tables: list[Any]) -> list[Word]:
    """The page's words outside ruled tables."""
    boxes = [table.bbox for table in tables]

    def outside(obj: dict[str, Any]) -> bool:
        if obj.get("object_type") != "char":
            return True
        cx = (float(obj["x0"]) + float(obj["x1"])) / 2
        cy = (float(obj["top"]) + float(obj["bottom"])) / 2
        return not any(x0 <= cx <= x1 and top <= cy <= bottom for x0, top, x1, bottom in boxes)

    source = page.filter(outside) if boxes else page
    raw = source.extract_words(extra_attrs=["size", "fontname"], keep_blank_chars=False)
    words: list[Word] = []
    for item in raw:
        text = clean(str(item["text"]))
        if text:
            words.append(
                Word(
                    text,
                    float(item["x0"]),
                    float(item["x1"]),
                    float(item["top"]),
                    float(item["bottom"]),
                    float(item.get("size") or 0.0),
                    "bold" in str(item.get("fontname", "")).lower(),
                )
            )
    return words


def _ruled_tables(page: Any) -> tuple[list[Any], list[TableRows]]:
    """Tables drawn with ruling lines, as rows of cell texts (merged cells dropped)."""
    found = page.find_tables()
    tables: list[Any] = []
    rows_out: list[TableRows] = []
    for table in found:
        rows: list[tuple[str, ...]] = []
        for row in table.extract():
            cells = [clean(cell) if cell is not None else None for cell in row]
            if not any(cells):
                continue
            # A cell spanning several columns yields None for the columns it covers.
            if sum(cell is not None for cell in cells) == 1 and len(cells) > 1:
                rows.append((next(cell for cell in cells if cell is not None),))
            else:
                rows.append(tuple(cell or "" for cell in cells))
        # A one-column, one-row "table" is usually a framed box of prose: leave it to the text.
        if len(rows) >= 2 or (rows and len(rows[0]) >= 2):
            tables.append(table)
            rows_out.append(TableRows(float(table.bbox[1]), tuple(rows)))
    return tables, rows_out


def _sorted_elements(lines: list[TextLine], tables: list[TableRows]) -> list[Element]:
    elements: list[tuple[float, int, Element]] = [(line.top, 1, line) for line in lines]
    elements += [(table.top, 0, table) for table in tables]
    return [element for _, _, element in sorted(elements, key=lambda item: (item[0], item[1]))]


def _open(name: str, data: bytes) -> Any:
    import pdfplumber

    try:
        return pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # pdfminer raises many types for broken files
        raise _read_error(name, "file", "not a readable PDF", exc) from exc


_STREAM = re.compile(rb"stream\r?\n")


def check_streams(name: str, data: bytes, limits: LimitsConfig) -> None:
    """Refuse a PDF whose Flate streams inflate past `limits.max_decompressed_bytes`.

    pdfminer inflates each stream whole in memory, so a small file could otherwise unpack
    to gigabytes. Streams are inflated here in 1 MB steps and only counted; streams that are
    not Flate data (images, broken bytes) simply fail to inflate and are skipped.
    """
    total = 0
    for match in _STREAM.finditer(data):
        end = data.find(b"endstream", match.end())
        chunk = data[match.end() : end if end >= 0 else len(data)]
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(chunk, 1 << 20)
            total += len(out)
            while inflater.unconsumed_tail and total <= limits.max_decompressed_bytes:
                out = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
                if not out:
                    break
                total += len(out)
        except zlib.error:
            continue
        if total > limits.max_decompressed_bytes:
            raise error(
                name,
                "file",
                f"PDF streams unpack to over {limits.max_decompressed_bytes:,} bytes "
                "(possible decompression bomb)",
                "check where the file came from, or raise limits.max_decompressed_bytes "
                "in models/config.yaml",
            )


def extract_pdf(name: str, data: bytes, limits: LimitsConfig) -> tuple[str, str, tuple[Block, ...]]:
    """Read a PDF: text layer where there is one, OCR for scanned pages."""
    head = data[:1024]
    if b"%PDF-" not in head:
        raise error(
            name,
            "file",
            "not a PDF (no '%PDF-' header; the file is damaged or another type)",
            "check the file type and " + _REEXPORT,
        )
    check_streams(name, data, limits)
    deadline = Deadline(name, limits.timeout_seconds)
    pdf = _open(name, data)
    try:
        try:
            pages = pdf.pages
            n_pages = len(pages)
        except Exception as exc:
            raise _read_error(name, "file", "PDF page tree is unreadable", exc) from exc
        if n_pages > limits.max_pages:
            raise error(
                name,
                "file",
                f"PDF has {n_pages:,} pages, over the limit of {limits.max_pages:,}",
                "split the file, or raise limits.max_pages in models/config.yaml",
            )
        if n_pages == 0:
            raise error(name, "file", "PDF has no pages", _REEXPORT)
        text_pages: dict[int, list[Element]] = {}
        scanned: list[int] = []
        for index, page in enumerate(pages):
            where = f"page {index + 1}"
            deadline.check(where)
            try:
                if len(page.chars) < MIN_TEXT_CHARS:
                    scanned.append(index)
                    continue
                table_objs, table_rows = _ruled_tables(page)
                lines = group_lines(_words(page, table_objs))
            except ExtractError:
                raise
            except Exception as exc:
                raise _read_error(name, where, "cannot read the page", exc) from exc
            finally:
                page.close()
            text_pages[index] = _sorted_elements(lines, table_rows)
    finally:
        pdf.close()

    ocr_pages = _ocr_pages(name, data, scanned, deadline) if scanned else {}
    text_stats = SizeStats.of(
        (e for elements in text_pages.values() for e in elements if isinstance(e, TextLine)),
        HEADING_RATIO,
    )
    ocr_stats = SizeStats.of(
        (line for lines in ocr_pages.values() for line in lines), OCR_HEADING_RATIO
    )
    _repeat_headers(text_pages)
    blocks: list[Block] = []
    for index in range(n_pages):
        page_no = index + 1
        blocks.append(Block(BlockKind.BREAK, "", Location(1, page_no)))
        if index in text_pages:
            blocks += page_blocks(text_pages[index], page_no, text_stats, ocr=False)
        elif index in ocr_pages:
            ocr_elements: list[Element] = list(ocr_pages[index])
            blocks += page_blocks(ocr_elements, page_no, ocr_stats, ocr=True)
    if not any(block.text for block in blocks):
        raise error(
            name,
            "file",
            "PDF contains no text (not even after OCR)",
            "check that the pages are not blank; re-scan at 300 dpi or remove the file",
        )
    return "pdf", "binary", tuple(blocks)


def _content(elements: list[Element]) -> list[Element]:
    """Elements without bare page numbers (running headers and footers)."""
    return [e for e in elements if not (isinstance(e, TextLine) and e.text.isdigit())]


def _repeat_headers(pages: dict[int, list[Element]]) -> None:
    """Give a table continued from the previous page that table's header row again.

    A table split by a page break would otherwise start a new table downstream whose first
    data row is taken for its header, losing the columns' polarity (Möjligheter/Hinder).
    """
    for index in sorted(pages):
        previous = _content(pages.get(index - 1, []))
        current = _content(pages[index])
        if not previous or not current:
            continue
        before, after = previous[-1], current[0]
        if not (isinstance(before, TableRows) and isinstance(after, TableRows)):
            continue
        width = len(before.rows[-1])
        header = next((row for row in before.rows if sum(bool(c) for c in row) >= 2), None)
        if header is None or len(header) != width or len(after.rows[0]) != width:
            continue
        if after.rows[0] == header:
            continue
        position = pages[index].index(after)
        pages[index][position] = TableRows(after.top, (header, *after.rows))


def _ocr_pages(
    name: str, data: bytes, indexes: list[int], deadline: Deadline
) -> dict[int, list[TextLine]]:
    """OCR the given page indexes with pypdfium2 + tesseract."""
    import pypdfium2

    from pipeline.extract._ocr import ocr_page_lines, require_tesseract

    require_tesseract(name, f"page {indexes[0] + 1}")
    try:
        pdf = pypdfium2.PdfDocument(data)
    except Exception as exc:
        raise _read_error(name, "file", "cannot render the scanned pages", exc) from exc
    try:
        result: dict[int, list[TextLine]] = {}
        for index in indexes:
            where = f"page {index + 1}"
            deadline.check(where)
            try:
                result[index] = ocr_page_lines(name, pdf, index, deadline)
            except ExtractError:
                raise
            except Exception as exc:
                raise error(
                    name,
                    where,
                    f"cannot render the page for OCR ({describe_exception(exc)})",
                    "re-scan or export the page again",
                ) from exc
        return result
    finally:
        pdf.close()
