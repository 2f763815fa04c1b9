"""PDF → blocks with pdfplumber; scanned pages are OCR'd (see `_ocr`).

Ruled tables come from pdfplumber's table finder (cells keep their columns); everything else
is read as positioned words and mapped by `_layout` (headings from font size, bullets and
numbered items, borderless tables from word x-positions). `page` is the 1-based page number
and `line` the line's ordinal on that page.

No BREAK is emitted between pages: a PDF page break falls wherever the paper ran out, so the
headings above it (polarity, group, section) still hold for the text that continues on the
next page. A page that opens with its own title replaces them as any heading does. A PDF whose
pages are all landscape is a slide deck saved as PDF: each page opens with a BREAK.

Paragraphs the layout could not type go through the shared structure recovery (`_structure`).

A page is a scan, and is OCR'd, when it has no text layer, or only a few characters (a stamp
such as "Sida 1") over images covering most of the page; the OCR text replaces the text layer
unless it holds less.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

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
from pipeline.extract._structure import recover_structure
from pipeline.records import Block, BlockKind, Location
from pipeline.vocabulary import vocabulary

#: Heading threshold: font size at least this times the body size (text layer / OCR heights).
HEADING_RATIO = 1.15
OCR_HEADING_RATIO = 1.3
#: OCR word heights are glyph heights, which vary with the letters: coarser size classes.
OCR_SIZE_TOLERANCE = 0.5
#: A page whose text layer has fewer characters than this, over images covering at least
#: `SCAN_IMAGE_COVER` of the page, is a scan (a page without any text is one regardless).
SCAN_TEXT_CHARS = 40
SCAN_IMAGE_COVER = 0.5

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
    raw = source.extract_words(
        extra_attrs=["size", "fontname", "non_stroking_color"], keep_blank_chars=False
    )
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
                    _style(item),
                )
            )
    return words


def _style(item: dict[str, Any]) -> str:
    """A word's font face (without the subset prefix "ABCDEF+") and fill colour."""
    face = str(item.get("fontname", "")).split("+")[-1]
    color = item.get("non_stroking_color")
    if isinstance(color, list | tuple):
        color = tuple(round(float(c), 2) for c in color if isinstance(c, int | float))
    return f"{face}|{color}"


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


# "stream" at the start of stream data, not the tail of "endstream".
_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_INT = rb"\s+(\d{1,12})\b(?!\s+\d+\s+R)"  # a direct integer, not a reference "12 0 R"
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_WIDTH = re.compile(rb"/Width" + _INT)
_HEIGHT = re.compile(rb"/Height" + _INT)
_BITS = re.compile(rb"/BitsPerComponent" + _INT)
_MASK = re.compile(rb"/ImageMask\s+true\b")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/\w+)")
_COLOR_SPACE = re.compile(rb"/ColorSpace\s*\[?\s*/(\w+)")
_COMPONENTS = {
    b"DeviceGray": 1,
    b"CalGray": 1,
    b"Indexed": 1,
    b"DeviceRGB": 3,
    b"CalRGB": 3,
    b"Lab": 3,
    b"DeviceCMYK": 4,
}
#: How far back from "stream" to look for the stream's dictionary.
_DICT_WINDOW = 8192
_BOMB_FIX = "check where the file came from"
_BOMB_SETTING = "limits.max_decompressed_bytes"


class _ImageSize(NamedTuple):
    """An image's declared pixels and the least and most bytes they unpack to."""

    width: int
    height: int
    least: int
    most: int


def _image_size(head: bytes) -> _ImageSize | None:
    """An image stream's size from its dictionary alone, without unpacking it.

    None when the dictionary is not an image's or its size is not given directly. The colour
    space is often a reference (ICC profile): `least` then assumes one component, `most` four.
    """
    if not _IMAGE.search(head):
        return None
    width, height = _WIDTH.search(head), _HEIGHT.search(head)
    if width is None or height is None:
        return None
    w, h = int(width.group(1)), int(height.group(1))
    if _MASK.search(head):
        bits, components = 1, 1
    else:
        found = _BITS.search(head)
        bits = int(found.group(1)) if found else 8
        space = _COLOR_SPACE.search(head)
        components = _COMPONENTS.get(space.group(1), 0) if space else 0
    least = (w * bits * (components or 1) + 7) // 8 * h
    # PNG predictors add a byte per row; a little more for encoders that pad.
    most = (w * bits * (components or 4) + 7) // 8 * h + h + 4096
    return _ImageSize(w, h, least, most)


def _inflate(data: bytes, cap: int) -> bytes:
    """Flate data unpacked in 1 MB steps, cut off once past `cap` bytes.

    What is not Flate data (broken bytes, encrypted streams) yields what unpacked before
    the error: often nothing.
    """
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    total = 0
    try:
        out = inflater.decompress(data, 1 << 20)
        while out and total <= cap:
            parts.append(out)
            total += len(out)
            out = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
    except zlib.error:
        pass
    return b"".join(parts)


def _run_length(data: bytes, cap: int) -> bytes:
    """RunLengthDecode, cut off once past `cap` bytes."""
    out = bytearray()
    i = 0
    while i < len(data) and len(out) <= cap:
        n = data[i]
        if n == 128:  # end of data
            break
        if n < 128:
            out += data[i + 1 : i + n + 2]
            i += n + 2
        else:
            out += data[i + 1 : i + 2] * (257 - n)
            i += 2
    return bytes(out)


def _lzw(data: bytes, cap: int) -> bytes:
    """LZWDecode (pdfminer's decoder, which pdfplumber uses too), cut off once past `cap`."""
    from pdfminer.lzw import LZWDecoder

    parts: list[bytes] = []
    total = 0
    for part in LZWDecoder(io.BytesIO(data)).run():
        parts.append(part)
        total += len(part)
        if total > cap:
            break
    return b"".join(parts)


def _unpacked(head: bytes, raw: bytes, cap: int) -> int:
    """Bytes a stream unpacks to through its /Filter chain, counted up to just past `cap`.

    A dictionary without a readable /Filter is tried as Flate data. Image codecs (JPEG, JPEG
    2000, CCITT, JBIG2) are not unpacked here: their size is checked from the image's
    dimensions instead.
    """
    from pdfminer.ascii85 import ascii85decode, asciihexdecode

    found = _FILTER.search(head)
    names = re.findall(rb"/(\w+)", found.group(1)) if found else [b"FlateDecode"]
    data = raw
    try:
        for filter_name in names:
            if filter_name in (b"FlateDecode", b"Fl"):
                data = _inflate(data, cap)
            elif filter_name in (b"LZWDecode", b"LZW"):
                data = _lzw(data, cap)
            elif filter_name in (b"RunLengthDecode", b"RL"):
                data = _run_length(data, cap)
            elif filter_name in (b"ASCII85Decode", b"A85"):
                data = ascii85decode(data)
            elif filter_name in (b"ASCIIHexDecode", b"AHx"):
                data = asciihexdecode(data)
            else:
                return 0
            if len(data) > cap:
                break
    except Exception:  # broken data: pdfminer fails on it too, without unpacking much
        return 0
    return len(data)


def check_streams(
    name: str, data: bytes, limits: LimitsConfig, deadline: Deadline | None = None
) -> int:
    """Refuse a PDF whose streams would unpack to a decompression bomb; the images' total size.

    pdfminer inflates each content, font and object stream whole in memory, so a small file
    could otherwise unpack to gigabytes: these streams are inflated here in 1 MB steps, only
    counted, and together must stay within `limits.max_decompressed_bytes`. Image streams are
    only decoded when a scanned page is rendered, one page at a time, and a normal 300 dpi scan
    unpacks to ~9 MB a page: each image's size is read from its /Width, /Height and
    /BitsPerComponent and must stay within the limit on its own; the total (returned) is
    checked against the page count by the caller. An image stream that inflates past its
    declared size counts the excess as content, so a content stream labelled as an image
    gains nothing.
    """
    limit = limits.max_decompressed_bytes
    content = 0
    images = 0
    for number, match in enumerate(_STREAM.finditer(data)):
        if deadline is not None and number % 64 == 0:
            deadline.check("file")
        end = data.find(b"endstream", match.end())
        chunk = data[match.end() : end if end >= 0 else len(data)]
        head = data[max(0, match.start() - _DICT_WINDOW) : match.start()]
        opened = head.rfind(b"obj")  # the end of "12 0 obj": the dictionary follows
        head = head[opened + 3 :] if opened >= 0 else head
        size = _image_size(head)
        if size is not None and size.least > limit:
            raise error(
                name,
                "file",
                f"an image of {size.width:,} × {size.height:,} pixels unpacks to "
                f"{size.least:,} bytes, over the limit of {limit:,} (possible decompression bomb)",
                _BOMB_FIX,
                _BOMB_SETTING,
            )
        allowed = size.most if size is not None else 0
        inflated = _unpacked(head, chunk, allowed + limit - content)
        if size is not None:
            images += size.least
        content += max(0, inflated - allowed)
        if content > limit:
            raise error(
                name,
                "file",
                f"PDF streams unpack to over {limit:,} bytes (possible decompression bomb)",
                _BOMB_FIX,
                _BOMB_SETTING,
            )
    return images


def check_image_total(name: str, images: int, n_pages: int, limits: LimitsConfig) -> None:
    """Refuse images that unpack to more than `limits.max_decompressed_bytes` per page."""
    bound = limits.max_decompressed_bytes * n_pages
    if images > bound:
        raise error(
            name,
            "file",
            f"PDF images unpack to {images:,} bytes, over the limit of "
            f"{limits.max_decompressed_bytes:,} per page for {n_pages:,} page(s) "
            "(possible decompression bomb)",
            _BOMB_FIX,
            _BOMB_SETTING,
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
    deadline = Deadline(name, limits.timeout_seconds)
    images = check_streams(name, data, limits, deadline)
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
                "split the file",
                "limits.max_pages",
            )
        if n_pages == 0:
            raise error(name, "file", "PDF has no pages", _REEXPORT)
        check_image_total(name, images, n_pages, limits)
        text_pages: dict[int, list[Element]] = {}
        scanned: list[int] = []
        landscape: list[bool] = []
        for index, page in enumerate(pages):
            where = f"page {index + 1}"
            deadline.check(where)
            try:
                landscape.append(float(page.width) > float(page.height))
                n_chars = len(page.chars)
                if n_chars == 0 or (
                    n_chars < SCAN_TEXT_CHARS and _image_cover(page) >= SCAN_IMAGE_COVER
                ):
                    scanned.append(index)
                if n_chars == 0:
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
    for index in list(ocr_pages):
        # A stamped scan: OCR reads the stamp too, so it wins unless it read less (a blank
        # image under real text, or a scan tesseract cannot make out).
        if index in text_pages:
            if _n_chars(ocr_pages[index]) > _n_chars(text_pages[index]):
                del text_pages[index]
            else:
                del ocr_pages[index]
    text_stats = SizeStats.of(
        (e for elements in text_pages.values() for e in elements if isinstance(e, TextLine)),
        HEADING_RATIO,
    )
    ocr_stats = SizeStats.of(
        (line for lines in ocr_pages.values() for line in lines),
        OCR_HEADING_RATIO,
        OCR_SIZE_TOLERANCE,
    )
    _repeat_headers(text_pages)
    per_page: list[list[Block]] = []
    page_numbers: list[int] = []
    open_list: list[float] = []  # a list running on from one page to the next keeps its levels
    for index in range(n_pages):
        page_no = index + 1
        if index in text_pages:
            elements, stats, ocr = text_pages[index], text_stats, False
        elif index in ocr_pages:
            elements, stats, ocr = list(ocr_pages[index]), ocr_stats, True
        else:
            continue
        per_page.append(page_blocks(elements, page_no, stats, ocr, open_list))
        page_numbers.append(page_no)
    # Paragraphs the layout could not type (no larger font, no marker) get the plain-text rules:
    # "Grupp 3", short title lines over a list or table. The layout has joined wrapped lines.
    if n_pages > 1 and all(landscape):
        # A slide deck saved as PDF: each page is a slide, and a slide's headings end with it.
        joined = [
            block
            for number, blocks in zip(page_numbers, per_page, strict=True)
            for block in (Block(BlockKind.BREAK, "", Location(1, number)), *blocks)
        ]
    else:
        joined = _join_continued(per_page)
    blocks = recover_structure(joined, join_wraps=False, breaks_from_gaps=False)
    if not any(block.text for block in blocks):
        raise error(
            name,
            "file",
            "PDF contains no text (not even after OCR)",
            "check that the pages are not blank; re-scan at 300 dpi or remove the file",
        )
    return "pdf", "binary", tuple(blocks)


def _image_cover(page: Any) -> float:
    """The share of the page's area under images (overlaps counted twice, capped at 1)."""
    width, height = float(page.width), float(page.height)
    if width <= 0 or height <= 0:
        return 0.0
    x_lo, top_lo = float(page.bbox[0]), float(page.bbox[1])
    covered = 0.0
    for image in page.images:
        x0, x1 = max(float(image["x0"]), x_lo), min(float(image["x1"]), x_lo + width)
        top = max(float(image["top"]), top_lo)
        bottom = min(float(image["bottom"]), top_lo + height)
        covered += max(0.0, x1 - x0) * max(0.0, bottom - top)
    return min(1.0, covered / (width * height))


def _n_chars(elements: Sequence[Element]) -> int:
    """Non-space characters in lines and table cells."""
    count = 0
    for element in elements:
        if isinstance(element, TextLine):
            count += sum(len(word.text) for word in element.words)
        else:
            count += sum(len(cell.replace(" ", "")) for row in element.rows for cell in row)
    return count


_SENTENCE_END = (".", "!", "?", ":", ";", "…")
#: Text on this many pages is a running header or footer, or a logo.
FURNITURE_PAGES = 3


def _join_continued(pages: list[list[Block]]) -> list[Block]:
    """All pages' blocks, with a paragraph or list item cut by a page break joined again.

    The page's last block continues on the next page when it does not end a sentence and the
    next page's first block is prose starting in lower case ("... ska jobba" / "ihop."): the
    layout of each page cannot see that, and the sentence would become two statements.
    Page numbers and running headers and footers between the two are skipped.
    """
    seen_on: dict[str, set[int]] = {}
    for number, blocks in enumerate(pages):
        for block in blocks:
            seen_on.setdefault(_furniture_key(block), set()).add(number)
    furniture = {key for key, seen in seen_on.items() if len(seen) >= FURNITURE_PAGES}

    def is_furniture(block: Block) -> bool:
        page_number = vocabulary().page_number.match(block.text)
        return bool(page_number) or _furniture_key(block) in furniture

    out: list[Block] = []
    for blocks in pages:
        first = next((i for i, b in enumerate(blocks) if not is_furniture(b)), None)
        last = next((i for i in range(len(out) - 1, -1, -1) if not is_furniture(out[i])), None)
        if first is not None and last is not None:
            before, after = out[last], blocks[first]
            if (
                before.kind in (BlockKind.PARAGRAPH, BlockKind.LIST_ITEM)
                and not before.text.endswith(_SENTENCE_END)
                and after.kind is BlockKind.PARAGRAPH
                and after.text[:1].islower()
            ):
                out[last] = replace(
                    before, text=f"{before.text} {after.text}", ocr=before.ocr or after.ocr
                )
                blocks = blocks[:first] + blocks[first + 1 :]
        out += blocks
    return out


def _furniture_key(block: Block) -> str:
    """A block's text with digits masked, so "Sida 2" and "Sida 3" compare equal."""
    return re.sub(r"\d+", "#", block.text.lower())


def _content(elements: list[Element]) -> list[Element]:
    """Elements without bare page numbers (running headers and footers)."""
    return [e for e in elements if not (isinstance(e, TextLine) and e.text.isdigit())]


def _repeat_headers(pages: dict[int, list[Element]]) -> None:
    """Give a table continued from the previous page that table's title and header rows again.

    A table split by a page break would otherwise start a new table downstream whose first
    data row is taken for its header, losing the columns' polarity (Möjligheter/Hinder), and
    the one-cell title rows above the header (a category such as "Finansiering", which
    joins the heading path).
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
        at = _header_at(before.rows)
        if at is None or len(before.rows[at]) != width or len(after.rows[0]) != width:
            continue
        header = before.rows[at]
        own = _header_at(after.rows)
        if own is not None and after.rows[own] == header:
            continue  # the page repeats the header itself, or a new table with the same columns
        # Only one-cell rows above the header are titles; anything else is not repeated.
        titles = tuple(row for row in before.rows[:at] if sum(bool(c) for c in row) == 1)
        repeated = (*titles, header) if len(titles) == at else (header,)
        position = pages[index].index(after)
        pages[index][position] = TableRows(after.top, (*repeated, *after.rows))


def _header_at(rows: Sequence[tuple[str, ...]]) -> int | None:
    """Index of a table's header: its first row with two or more filled cells."""
    return next((i for i, row in enumerate(rows) if sum(bool(c) for c in row) >= 2), None)


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
