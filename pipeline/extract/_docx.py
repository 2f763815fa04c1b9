"""DOCX → blocks with python-docx, walking the body XML so paragraphs and tables interleave.

Heading styles ("Heading N" / Swedish "Rubrik N", or an outline level) → HEADING level N,
"Title" → level 1; numbered or bulleted paragraphs (numPr, directly or from the style, or a
"List Bullet 2"-type style) → LIST_ITEM with level = ilvl; tables → TABLE_ROW per row with one
cell per grid column (gridSpan, gridBefore and merged cells laid out by `lay_out_rows`: a
merged cell's text once, in its first column, a header repeated over the columns it spans;
a title row spanning the table becomes a single-cell row). `line` is the ordinal of the
paragraph or table row in the document; `page` is None (Word has no fixed pages), and page
breaks are not turned into BREAKs.

A paragraph's text is every w:t in it in document order — runs inside hyperlinks, tracked
insertions, fields, smart tags, content controls and text boxes included; tracked deletions
and moved-away text left out. A table nested in a cell is folded into that cell's text (cells
joined by spaces, as HTML does), so the outer table keeps its columns and header.

A paragraph without a heading or list style is a typed line for the shared structure recovery
(`_structure`): its tabs (w:tab) and leading spaces are kept, so text typed into Word ("- "
bullets, tab columns, "Grupp 3", short title lines) reads like the same text in a .txt file.
Empty paragraphs count as blank lines.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from pipeline.config import LimitsConfig
from pipeline.extract._common import (
    MAX_COLUMNS,
    check_zip,
    clean,
    clean_line,
    describe_exception,
    error,
    lay_out_rows,
)
from pipeline.extract._errors import ExtractError
from pipeline.extract._structure import recover_structure
from pipeline.records import Block, BlockKind, Location

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
# Subtrees that hold no visible text: deleted and moved-away revisions (the moved text is also
# at its destination, w:moveTo), and run/paragraph properties.
_NO_TEXT = {f"{_W}del", f"{_W}moveFrom", f"{_W}rPr", f"{_W}pPr"}
_BREAKS = {f"{_W}br", f"{_W}cr"}
# A paragraph inside a text box, or a text box: kept apart from the text around it.
_SEPARATE = {f"{_W}p", f"{_W}txbxContent"}
_HEADING_STYLE = re.compile(r"^(?:heading|rubrik|überschrift|titre)\s*(\d)$", re.IGNORECASE)
_TITLE_STYLE = re.compile(r"^(?:title|rubrik|titel)$", re.IGNORECASE)
_LIST_STYLE = re.compile(
    r"^(?:list|lista|punktlista|numrerad lista)(?: (?:bullet|number|continue|paragraph|"
    r"punkt|nummer))?\s*(\d)?$",
    re.IGNORECASE,
)
_FIX = "open it in Word and save it again as .docx, or remove it"


def extract_docx(
    name: str, data: bytes, limits: LimitsConfig
) -> tuple[str, str, tuple[Block, ...]]:
    """Read a Word document's body in order."""
    check_zip(name, data, limits, "DOCX")
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
    except Exception as exc:  # python-docx/lxml raise KeyError, XMLSyntaxError, ValueError...
        raise error(name, "file", f"not a readable DOCX ({describe_exception(exc)})", _FIX) from exc
    try:
        blocks = recover_structure(tuple(_body_blocks(document, body)))
    except ExtractError:
        raise
    except Exception as exc:
        raise error(
            name, "document body", f"cannot read the content ({describe_exception(exc)})", _FIX
        ) from exc
    return "docx", "binary", blocks


def _children(element: Any, tags: tuple[str, ...] = ("p", "tbl")) -> Iterator[Any]:
    """Children with the given w: tags, descending into content controls (w:sdt)."""
    wanted = {f"{_W}{tag}" for tag in tags}
    for child in element.iterchildren():
        if child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _children(content, tags)
        elif child.tag in wanted:
            yield child


def _text(paragraph: Any) -> str:
    """All visible text of a w:p in document order (iterative: text boxes nest paragraphs)."""
    parts: list[str] = []
    stack: list[tuple[Any, Iterator[Any]]] = [(paragraph, paragraph.iterchildren())]
    while stack:
        parent, children = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            if parent.tag in _SEPARATE:
                parts.append(" ")
            continue
        tag = node.tag
        if not isinstance(tag, str) or tag in _NO_TEXT:
            continue  # comments and processing instructions have a non-string tag
        if tag == f"{_W}t":
            parts.append(node.text or "")
        elif tag in _BREAKS:
            parts.append(" ")
        elif tag == f"{_W}tab":
            parts.append("\t")  # a typed column separator; `clean` folds it into a space
        elif tag == f"{_W}noBreakHyphen":
            parts.append("-")
        elif tag == f"{_MC}AlternateContent":
            # Word writes a text box twice, as a DrawingML choice and a VML fallback: read one.
            chosen = node.find(f"{_MC}Choice")
            chosen = node.find(f"{_MC}Fallback") if chosen is None else chosen
            if chosen is not None:
                stack.append((chosen, chosen.iterchildren()))
        else:
            if tag in _SEPARATE:
                parts.append(" ")
            stack.append((node, node.iterchildren()))
    return "".join(parts)


def _cell_text(tc: Any) -> str:
    """A cell's paragraphs and nested tables, in order, as one line of text."""
    parts: list[str] = []
    for child in _children(tc):
        if child.tag == f"{_W}p":
            parts.append(_text(child))
        else:  # a nested table: its cells row by row
            for tr in _children(child, ("tr",)):
                parts.extend(_cell_text(inner) for inner in _children(tr, ("tc",)))
    return clean(" ".join(parts))


def _number(element: Any, tag: str, default: int) -> int:
    """The w:val of a child element as a column count in 0..MAX_COLUMNS."""
    found = element.find(f"{_W}{tag}") if element is not None else None
    try:
        value = int(found.get(f"{_W}val", default)) if found is not None else default
    except ValueError:
        value = default
    return max(0, min(value, MAX_COLUMNS))


def _table_rows(table: Any) -> list[tuple[tuple[str, ...], str]]:
    """The table's rows laid out on its grid: (cells, row text) per row."""
    laid: list[list[tuple[int, int, str]]] = []
    for tr in _children(table, ("tr",)):
        column = _number(tr.find(f"{_W}trPr"), "gridBefore", 0)  # columns left empty
        origins: list[tuple[int, int, str]] = []
        for tc in _children(tr, ("tc",)):
            tc_pr = tc.find(f"{_W}tcPr")
            span = max(1, _number(tc_pr, "gridSpan", 1))
            v_merge = tc_pr.find(f"{_W}vMerge") if tc_pr is not None else None
            h_merge = tc_pr.find(f"{_W}hMerge") if tc_pr is not None else None
            if h_merge is not None and h_merge.get(f"{_W}val", "continue") == "continue":
                if origins:  # legacy horizontal merge: widens the cell to its left
                    first, width, text = origins[-1]
                    origins[-1] = (first, width + span, text)
            elif v_merge is None or v_merge.get(f"{_W}val", "continue") != "continue":
                origins.append((column, span, _cell_text(tc)))
            # else: a vertically merged cell, its text sits in the row above (blank here)
            column += span
        laid.append(origins)
    return lay_out_rows(laid)


def _body_blocks(document: Any, body: Any) -> Iterator[Block]:
    from docx.text.paragraph import Paragraph

    line = 0
    for child in _children(body):
        if child.tag == f"{_W}p":
            line += 1
            block = _paragraph_block(Paragraph(child, document), line)
            if block is not None:
                yield block
            continue
        for cells, text in _table_rows(child):
            if not text:
                continue  # no number for an empty row: the table's rows stay contiguous
            line += 1
            yield Block(BlockKind.TABLE_ROW, text, Location(line), cells=cells)
        line += 1  # a gap in the numbering keeps adjacent tables apart


def _style_chain(paragraph: Any) -> list[Any]:
    """The paragraph's style and the styles it is based on."""
    chain: list[Any] = []
    try:
        style = paragraph.style
    except Exception:  # a dangling style id
        return chain
    while style is not None and len(chain) < 10:
        chain.append(style)
        style = style.base_style
    return chain


def _num_level(paragraph: Any, chain: list[Any]) -> int | None:
    """ilvl of the paragraph's numbering (own or from its style), or None when unnumbered."""
    candidates = [paragraph._p.pPr] + [style.element.pPr for style in chain]
    for p_pr in candidates:
        if p_pr is None:
            continue
        num_pr = p_pr.find(f"{_W}numPr")
        if num_pr is None:
            continue
        num_id = num_pr.find(f"{_W}numId")
        if num_id is not None and num_id.get(f"{_W}val") == "0":
            return None  # numbering explicitly switched off
        ilvl = num_pr.find(f"{_W}ilvl")
        try:
            return int(ilvl.get(f"{_W}val", "0")) if ilvl is not None else 0
        except ValueError:
            return 0
    return None


def _outline_level(chain: list[Any], paragraph: Any) -> int | None:
    for p_pr in [paragraph._p.pPr] + [style.element.pPr for style in chain]:
        if p_pr is None:
            continue
        outline = p_pr.find(f"{_W}outlineLvl")
        if outline is not None:
            try:
                value = int(outline.get(f"{_W}val", "9"))
            except ValueError:
                return None
            return value + 1 if value < 9 else None
    return None


def _paragraph_block(paragraph: Any, line: int) -> Block | None:
    raw = _text(paragraph._p)
    text = clean(raw)
    if not text:
        return None
    location = Location(line)
    chain = _style_chain(paragraph)
    names = [str(style.name or "") for style in chain]
    for style_name in names:
        heading = _HEADING_STYLE.match(style_name)
        if heading:
            return Block(BlockKind.HEADING, text, location, level=max(1, int(heading.group(1))))
        if _TITLE_STYLE.match(style_name):
            return Block(BlockKind.HEADING, text, location, level=1)
    outline = _outline_level(chain, paragraph)
    if outline is not None:
        return Block(BlockKind.HEADING, text, location, level=outline)
    own = _num_level(paragraph, [])
    if own is not None:
        return Block(BlockKind.LIST_ITEM, text, location, level=max(0, min(own, 8)))
    listed = _LIST_STYLE.match(names[0]) if names else None
    if listed and not re.search(r"continue|paragraph", names[0], re.IGNORECASE):
        return Block(BlockKind.LIST_ITEM, text, location, level=int(listed.group(1) or 1) - 1)
    level = _num_level(paragraph, chain)
    if level is not None:
        return Block(BlockKind.LIST_ITEM, text, location, level=max(0, min(level, 8)))
    # No structure from a style: the line as typed, for `recover_structure`.
    return Block(BlockKind.PARAGRAPH, clean_line(raw), location)
