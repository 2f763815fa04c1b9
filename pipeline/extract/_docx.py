"""DOCX → blocks with python-docx, walking the body XML so paragraphs and tables interleave.

Heading styles ("Heading N" / Swedish "Rubrik N", or an outline level) → HEADING level N,
"Title" → level 1; numbered or bulleted paragraphs (numPr, directly or from the style, or a
"List Bullet 2"-type style) → LIST_ITEM with level = ilvl; tables → TABLE_ROW per row, merged
cells collapsed (a title row spanning the table becomes a single-cell row). `line` is the
ordinal of the paragraph or table row in the document; `page` is None (Word has no fixed
pages), and page breaks are not turned into BREAKs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from pipeline.config import LimitsConfig
from pipeline.extract._common import check_zip, clean, describe_exception, error
from pipeline.extract._errors import ExtractError
from pipeline.records import Block, BlockKind, Location

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
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
        blocks = tuple(_body_blocks(document, body))
    except ExtractError:
        raise
    except Exception as exc:
        raise error(
            name, "document body", f"cannot read the content ({describe_exception(exc)})", _FIX
        ) from exc
    return "docx", "binary", blocks


def _children(element: Any) -> Iterator[Any]:
    """Block-level children, descending into content controls (w:sdt)."""
    for child in element.iterchildren():
        if child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _children(content)
        elif child.tag in (f"{_W}p", f"{_W}tbl"):
            yield child


def _body_blocks(document: Any, body: Any) -> Iterator[Block]:
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

    line = 0
    for child in _children(body):
        if child.tag == f"{_W}p":
            line += 1
            paragraph = Paragraph(child, document)
            block = _paragraph_block(document, paragraph, line)
            if block is not None:
                yield block
            continue
        table = Table(child, document)
        for tr in child.findall(f"{_W}tr"):
            cells: list[str] = []
            for tc in tr.findall(f"{_W}tc"):
                tc_pr = tc.find(f"{_W}tcPr")
                v_merge = tc_pr.find(f"{_W}vMerge") if tc_pr is not None else None
                if v_merge is not None and v_merge.get(f"{_W}val", "continue") == "continue":
                    cells.append("")  # the merged cell's text sits in the row above
                    continue
                cells.append(clean(_Cell(tc, table).text))
            if not any(cells):
                continue  # no number for an empty row: the table's rows stay contiguous
            line += 1
            filled = [cell for cell in cells if cell]
            if len(filled) == 1 and len(tr.findall(f"{_W}tc")) == 1:
                cells = filled
            yield Block(BlockKind.TABLE_ROW, " | ".join(filled), Location(line), cells=tuple(cells))
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


def _paragraph_block(document: Any, paragraph: Any, line: int) -> Block | None:
    text = clean(paragraph.text)
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
    return Block(BlockKind.PARAGRAPH, text, location)
