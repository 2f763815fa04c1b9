"""HTML → blocks with BeautifulSoup (stdlib html.parser).

h1–h6 → HEADING level 1–6; li → LIST_ITEM with level = ul/ol nesting depth from 0 (text of
nested lists excluded from the parent item); table rows → TABLE_ROW (th/td cells, colspans
collapsed, nested tables folded into their cell's text); other text → PARAGRAPH, split at
block elements and <br>. Scripts, styles and <head> are skipped. `line` is the block's ordinal
in the document (one number skipped after each table, so adjacent tables stay apart), `page`
None. The encoding comes from the bytes (BOM, meta charset, detection).
"""

from __future__ import annotations

from typing import Any

from pipeline.config import LimitsConfig
from pipeline.extract._common import clean, describe_exception, error
from pipeline.extract._errors import ExtractError
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


def extract_html(
    name: str, data: bytes, limits: LimitsConfig
) -> tuple[str, str, tuple[Block, ...]]:
    """Read an HTML page's visible text structure."""
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(data, "html.parser")
        walker = _Walker()
        walker.walk(soup, 0)
        walker.flush()
        title = soup.find("title")
    except ExtractError:
        raise
    except RecursionError as exc:
        raise error(
            name,
            "document",
            "HTML is nested too deeply to read",
            "simplify the page (or save it as text), or remove it",
        ) from exc
    except Exception as exc:  # html.parser and bs4 raise assorted errors on broken markup
        raise error(
            name, "document", f"not readable HTML ({describe_exception(exc)})", _FIX
        ) from exc
    blocks = walker.blocks
    if title is not None and not any(b.kind is BlockKind.HEADING for b in blocks):
        text = clean(title.get_text(" "))
        if text:
            blocks.insert(0, Block(BlockKind.HEADING, text, Location(1), level=1))
            blocks = [
                Block(b.kind, b.text, Location(i), b.level, b.cells, b.ocr) if i > 1 else b
                for i, b in enumerate(blocks, start=1)
            ]
    encoding = str(getattr(soup, "original_encoding", None) or "utf-8").lower()
    return "html", encoding.replace("_", "-").replace("windows-1252", "cp1252"), tuple(blocks)


class _Walker:
    """Depth-first walk that emits blocks and buffers inline text."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buffer: list[str] = []
        self.skipped = 0  # line numbers left out after each table, so tables stay apart

    def emit(self, kind: BlockKind, text: str, level: int = 0, cells: tuple[str, ...] = ()) -> None:
        text = clean(text)
        if text:
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
            if tag in _HEADINGS:
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
            elif tag in _BLOCK:
                self.flush()
                self.walk(child, depth)
                self.flush()
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
        for row in table.find_all("tr"):
            if row.find_parent("table") is not table:
                continue  # a row of a nested table: part of its cell's text
            cells = tuple(
                clean(cell.get_text(" ")) for cell in row.find_all(["th", "td"], recursive=False)
            )
            if any(cells):
                filled = [cell for cell in cells if cell]
                self.emit(BlockKind.TABLE_ROW, " | ".join(filled), 0, cells)
        self.skipped += 1
