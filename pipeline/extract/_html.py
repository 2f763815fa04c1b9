"""HTML → blocks with BeautifulSoup on lxml's HTML parser.

h1–h6 → HEADING level 1–6; li → LIST_ITEM with level = ul/ol nesting depth from 0 (text of
nested lists excluded from the parent item); table rows → TABLE_ROW with one cell per grid
column (colspan/rowspan laid out by `lay_out_rows`, nested tables folded into their cell's
text); other text → PARAGRAPH, split at block elements and <br>. Scripts, styles and <head>
are skipped. `line` is the block's ordinal in the document (one number skipped after each
table, so adjacent tables stay apart), `page` None.

lxml closes elements the way browsers do, so valid HTML with omitted end tags
(`<li>Ett<li>Två`, `<tr><td>a<td>b`) keeps its structure. The bytes are decoded here, not by
the parser: a byte order mark wins, then a declared charset (meta or XML declaration) when the
bytes fit it, else UTF-8 and then cp1252/latin-1 as for text files — never a guessed East
Asian codec. The encoding used is reported in the Document.

Paragraph text (a `<p>`, the lines of a `<pre>`) is a typed line for the shared structure
recovery (`_structure`), tabs kept, an empty `<p>` a blank line: LibreOffice's HTML export of a
typed document (one `<p>` per line) reads like the document.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from pipeline.config import LimitsConfig
from pipeline.extract._common import (
    MAX_COLUMNS,
    clean,
    clean_line,
    decode_text,
    describe_exception,
    error,
    lay_out_rows,
)
from pipeline.extract._errors import ExtractError
from pipeline.extract._furniture import (
    Furniture,
    drop_furniture_blocks,
    is_furniture_element,
    published_date,
)
from pipeline.extract._structure import recover_structure
from pipeline.records import Block, BlockKind, Location

_SKIP = {
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "svg",
    "iframe",
    "object",
    "button",
    "select",
    "textarea",
}
_BLOCK = {
    "p",
    "div",
    "section",
    "article",
    "blockquote",
    "pre",
    "header",
    "footer",
    "main",
    "aside",
    "nav",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "dl",
    "address",
    "form",
    "fieldset",
    "details",
    "summary",
    "hr",
    "br",
    "caption",
    "body",
    "html",
    "center",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_FIX = "save the page again as UTF-8 HTML, or remove it"
_DIGITS = re.compile(r"\d+")
_SOURCE_LEAD = re.compile(r"^[ \t\r\n]*\n")
_SOURCE_TRAIL = re.compile(r"\n[ \t\r\n]*$")
# Labels that browsers read as windows-1252 (WHATWG Encoding Standard): pages labelled
# latin-1 use its curly quotes and dashes in 0x80–0x9F.
_READ_AS_CP1252 = {"iso8859-1", "ascii"}


def extract_html(
    name: str, data: bytes, limits: LimitsConfig
) -> tuple[str, str, tuple[Block, ...]]:
    """Read an HTML page's visible text structure, furniture included."""
    page = read_html(name, data, limits, None)
    return "html", page.encoding, page.blocks


@dataclass(frozen=True)
class HtmlPage:
    """A page read: its blocks, and what the page says about itself besides them.

    `n_dropped`: blocks left out as furniture; `published`: ISO publication date or "";
    `title`: the <title> when no block carries it (the page has headings of its own)."""

    encoding: str
    blocks: tuple[Block, ...]
    n_dropped: int = 0
    published: str = ""
    title: str = ""


def read_html(
    name: str, data: bytes, limits: LimitsConfig, furniture: Furniture | None
) -> HtmlPage:
    """The page's blocks; with `furniture`, without the page's navigation, banners, share
    links, contact block, footer and the like, counted (pipeline/extract/_furniture.py)."""
    from bs4 import BeautifulSoup

    text, encoding = _decode_html(name, data)
    published = ""
    try:
        soup = BeautifulSoup(text, "lxml")
        walker = _Walker(furniture)
        walker.walk(soup, 0)
        walker.flush()
        title = soup.find("title")
        if furniture is not None:
            published = published_date(soup, walker.blocks, furniture)
            kept, dropped = drop_furniture_blocks(walker.blocks, furniture)
            walker.blocks, walker.dropped = list(kept), walker.dropped + dropped
        # The page's own text, furniture gone, gets the shared structure recovery.
        blocks = list(recover_structure(walker.blocks))
    except ExtractError:
        raise
    except RecursionError as exc:
        raise error(
            name,
            "document",
            "HTML is nested too deeply to read",
            "simplify the page (or save it as text), or remove it",
        ) from exc
    except Exception as exc:  # lxml and bs4 raise assorted errors on broken markup
        raise error(
            name, "document", f"not readable HTML ({describe_exception(exc)})", _FIX
        ) from exc
    title_text = clean(title.get_text(" ")) if title is not None else ""
    if title_text and not any(b.kind is BlockKind.HEADING for b in blocks):
        text, title_text = title_text, ""
        if text:
            blocks.insert(0, Block(BlockKind.HEADING, text, Location(1), level=1))
            blocks = [
                Block(b.kind, b.text, Location(i), b.level, b.cells, b.ocr) if i > 1 else b
                for i, b in enumerate(blocks, start=1)
            ]
    return HtmlPage(encoding, tuple(blocks), walker.dropped, published, title_text)


def _decode_html(name: str, data: bytes) -> tuple[str, str]:
    """The page's text and the encoding read: BOM, else declared charset, else UTF-8/cp1252."""
    from bs4.dammit import EncodingDetector

    stripped, bom = EncodingDetector.strip_byte_order_mark(data)
    if bom is not None and bom != "utf-8":  # UTF-16/32; decode_text handles a UTF-8 BOM
        return stripped.decode(bom, errors="replace"), bom
    declared = EncodingDetector.find_declared_encoding(data, is_html=True) if bom is None else None
    if declared:
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            codec = ""  # an unknown label: read the bytes as if unlabelled
        # A page whose markup is ASCII cannot be UTF-16/32 whatever its meta says (browsers
        # read such a label as UTF-8), so those labels are ignored too.
        candidates = ["cp1252", codec] if codec in _READ_AS_CP1252 else [codec]
        for candidate in candidates:
            if candidate and not candidate.startswith(("utf-16", "utf-32")):
                try:
                    return data.decode(candidate), candidate.replace("iso8859", "iso-8859")
                except UnicodeDecodeError:
                    continue  # a wrong label (a cp1252 page saying utf-8): detect instead
    return decode_text(name, data)


def _span(value: Any, limit: int) -> int:
    """A colspan/rowspan attribute as a count in 1..limit ("0" and junk read as 1)."""
    match = _DIGITS.search(str(value or ""))
    number = int(match.group()[:6]) if match else 1
    return max(1, min(number, limit))


class _Walker:
    """Depth-first walk that emits blocks and buffers inline text."""

    def __init__(self, furniture: Furniture | None = None) -> None:
        self.blocks: list[Block] = []
        self.buffer: list[str] = []
        self.skipped = 0  # line numbers left out after each table, so tables stay apart
        self.furniture = furniture
        self.dropped = 0  # blocks of furniture elements left out

    def drop(self, node: Any) -> None:
        """Leave out a furniture element, counting the blocks it would have given."""
        inner = _Walker()
        inner.walk(node, 0)
        inner.flush()
        self.dropped += len(inner.blocks)

    def emit(
        self,
        kind: BlockKind,
        text: str,
        level: int = 0,
        cells: tuple[str, ...] = (),
        keep_indent: bool = False,
    ) -> None:
        # A paragraph keeps its tabs (and in <pre> its indent): it is a typed line for
        # `recover_structure`. Source indentation of the markup means nothing.
        if kind is BlockKind.PARAGRAPH:
            if not keep_indent:  # white space up to a line break is the markup's indentation
                text = _SOURCE_TRAIL.sub("", _SOURCE_LEAD.sub("", text)).strip(" ")
            text = clean_line(text)
        else:
            text = clean(text)
        if text.strip():
            self.blocks.append(
                Block(kind, text, Location(len(self.blocks) + self.skipped + 1), level, cells)
            )

    def flush(self) -> None:
        if self.buffer:
            self.emit(BlockKind.PARAGRAPH, " ".join(self.buffer))
            self.buffer = []

    def walk(self, node: Any, depth: int) -> None:
        from bs4.element import NavigableString, PreformattedString, Tag

        for child in list(node.children):
            if isinstance(child, PreformattedString):  # comments, CDATA, doctype...
                continue
            if isinstance(child, NavigableString):
                self.buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            tag = (child.name or "").lower()
            if tag in _SKIP:
                continue
            if self.furniture is not None and is_furniture_element(child, self.furniture):
                self.drop(child)
            elif tag in _HEADINGS:
                self.flush()
                self.emit(BlockKind.HEADING, child.get_text(" "), _HEADINGS[tag])
            elif tag in ("ul", "ol", "menu"):
                self.flush()
                self.walk_list(child, depth)
            elif tag == "li":  # a stray li outside a list
                self.flush()
                self.walk_item(child, depth)
            elif tag == "table":
                self.flush()
                self.walk_table(child)
            elif tag == "pre":  # preformatted text: each of its lines is a line
                self.flush()
                for line in child.get_text().split("\n"):
                    if line.strip():
                        self.emit(BlockKind.PARAGRAPH, line, keep_indent=True)
                    else:
                        self.skipped += 1
            elif tag in _BLOCK:
                self.flush()
                before = len(self.blocks)
                self.walk(child, depth)
                self.flush()
                if tag == "p" and len(self.blocks) == before:
                    self.skipped += 1  # an empty paragraph is a blank line
            else:
                self.walk(child, depth)

    def walk_list(self, node: Any, depth: int) -> None:
        from bs4 import Tag

        for child in node.children:
            if isinstance(child, Tag) and (child.name or "").lower() == "li":
                self.walk_item(child, depth)
            elif isinstance(child, Tag) and (child.name or "").lower() in ("ul", "ol"):
                self.walk_list(child, depth + 1)

    def walk_item(self, node: Any, depth: int) -> None:
        from bs4.element import NavigableString, PreformattedString, Tag

        parts: list[str] = []
        nested: list[Any] = []
        for child in node.children:
            if isinstance(child, PreformattedString):
                continue
            if isinstance(child, Tag) and (child.name or "").lower() in ("ul", "ol"):
                nested.append(child)
            elif isinstance(child, Tag) and (child.name or "").lower() not in _SKIP:
                parts.append(child.get_text(" "))
            elif isinstance(child, NavigableString):
                parts.append(str(child))
        self.emit(BlockKind.LIST_ITEM, " ".join(parts), depth)
        for sub in nested:
            self.walk_list(sub, depth + 1)

    def walk_table(self, table: Any) -> None:
        # Rows of a nested table are part of their cell's text, not rows of this table.
        rows = [row for row in table.find_all("tr") if row.find_parent("table") is table]
        laid: list[list[tuple[int, int, str]]] = []
        below: dict[int, int] = {}  # grid column → rows still covered by a rowspan from above
        for index, row in enumerate(rows):
            origins: list[tuple[int, int, str]] = []
            spanning: dict[int, int] = {}
            column = 0
            for cell in row.find_all(["th", "td"], recursive=False):
                while column in below:
                    column += 1
                span = _span(cell.get("colspan"), max(1, MAX_COLUMNS - column))
                # rowspan="0" spans the rest of the table; no span reaches past the last row.
                rowspan = str(cell.get("rowspan") or "").strip()
                down = len(rows) - index if rowspan == "0" else _span(rowspan, len(rows) - index)
                origins.append((column, span, clean(cell.get_text(" "))))
                if down > 1:
                    spanning.update(dict.fromkeys(range(column, column + span), down - 1))
                column += span
            below = {c: n - 1 for c, n in below.items() if n > 1} | spanning
            laid.append(origins)
        for cells, text in lay_out_rows(laid):
            self.emit(BlockKind.TABLE_ROW, text, 0, cells)
        self.skipped += 1
