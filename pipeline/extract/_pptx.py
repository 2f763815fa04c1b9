"""PPTX → blocks with python-pptx.

Each slide opens with a BREAK; its title → HEADING level 2 (the first slide's centred title →
level 1, the deck's title); a short all-bold paragraph without bullet → HEADING level 3; body
paragraphs that carry a bullet (explicit, or inherited in a body/content placeholder) →
LIST_ITEM with the paragraph level, other paragraphs → PARAGRAPH; tables → TABLE_ROW per row
with one cell per grid column (merged cells laid out by `lay_out_rows`: a merged cell's text
once, in its first column, a header repeated over the columns it spans); speaker notes → NOTE
per paragraph. A line break inside a paragraph reads as a space. Shapes are read top to
bottom, left to right; groups are entered. `page` is the slide number and `line` the ordinal
of the paragraph or table row on that slide. Paragraphs without a bullet go through the shared
structure recovery (`_structure`): "- " typed in a text box is a list item there too.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from pipeline.config import LimitsConfig
from pipeline.extract._common import (
    MAX_COLUMNS,
    Deadline,
    check_zip,
    clean,
    describe_exception,
    error,
    lay_out_rows,
)
from pipeline.extract._errors import ExtractError
from pipeline.extract._structure import recover_structure
from pipeline.records import Block, BlockKind, Location

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_FIX = "open it in PowerPoint and save it again as .pptx, or remove it"
# Placeholder types (python-pptx PP_PLACEHOLDER values) whose paragraphs inherit bullets.
_BULLETED_PLACEHOLDERS = {"BODY", "OBJECT"}
_TITLE_PLACEHOLDERS = {"TITLE", "CENTER_TITLE", "VERTICAL_TITLE"}


def extract_pptx(
    name: str, data: bytes, limits: LimitsConfig
) -> tuple[str, str, tuple[Block, ...]]:
    """Read a PowerPoint deck slide by slide."""
    check_zip(name, data, limits, "PPTX")
    import pptx

    try:
        deck = pptx.Presentation(io.BytesIO(data))
        slides = list(deck.slides)
    except Exception as exc:  # python-pptx/lxml raise KeyError, XMLSyntaxError, ValueError...
        raise error(name, "file", f"not a readable PPTX ({describe_exception(exc)})", _FIX) from exc
    if len(slides) > limits.max_pages:
        raise error(
            name,
            "file",
            f"deck has {len(slides):,} slides, over the limit of {limits.max_pages:,}",
            "split the deck",
            "limits.max_pages",
        )
    deadline = Deadline(name, limits.timeout_seconds)
    blocks: list[Block] = []
    for number, slide in enumerate(slides, start=1):
        where = f"slide {number}"
        deadline.check(where)
        try:
            blocks.append(Block(BlockKind.BREAK, "", Location(1, number)))
            blocks.extend(_slide_blocks(slide, number))
        except ExtractError:
            raise
        except Exception as exc:
            raise error(
                name, where, f"cannot read the slide ({describe_exception(exc)})", _FIX
            ) from exc
    # Text typed into a text box ("- " bullets, tab columns, "Grupp 3") gets its structure too;
    # lines on a slide are its paragraphs, so nothing is joined and slides are the breaks.
    return "pptx", "binary", recover_structure(blocks, join_wraps=False, breaks_from_gaps=False)


def _table_rows(table: Any) -> list[tuple[tuple[str, ...], str]]:
    """The table's rows laid out on its grid: (cells, row text) per row."""
    laid: list[list[tuple[int, int, str]]] = []
    for row in table.rows:
        cells = list(row.cells)  # one per grid column, covered cells included
        origins: list[tuple[int, int, str]] = []
        for column, cell in enumerate(cells):
            tc = cell._tc
            if tc.get("hMerge") in ("1", "true") or tc.get("vMerge") in ("1", "true"):
                continue  # covered by the merged cell to its left or above
            try:
                span = int(tc.get("gridSpan", "1"))
            except ValueError:
                span = 1
            span = max(1, min(span, len(cells) - column, MAX_COLUMNS))
            origins.append((column, span, clean(cell.text)))
        laid.append(origins)
    return lay_out_rows(laid)


def _placeholder_type(shape: Any) -> str | None:
    if not getattr(shape, "is_placeholder", False):
        return None
    try:
        kind = shape.placeholder_format.type
    except Exception:  # a placeholder without a type attribute defaults to OBJECT
        return "OBJECT"
    return str(getattr(kind, "name", kind)) if kind is not None else "OBJECT"


def _shapes(shapes: Any) -> Iterator[Any]:
    """Shapes in reading order (top, then left), groups flattened."""

    def key(shape: Any) -> tuple[int, int]:
        return (int(shape.top or 0), int(shape.left or 0))

    from pptx.shapes.group import GroupShape

    for shape in sorted(shapes, key=key):
        if isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes)  # a group shape
        else:
            yield shape


def _bulleted(paragraph: Any, placeholder: str | None) -> bool:
    """True when the paragraph shows a bullet or number."""
    p_pr = paragraph._p.pPr
    if p_pr is not None:
        if p_pr.find(f"{_A}buNone") is not None:
            return False
        if p_pr.find(f"{_A}buChar") is not None or p_pr.find(f"{_A}buAutoNum") is not None:
            return True
    return placeholder in _BULLETED_PLACEHOLDERS


def _bold_heading(paragraph: Any, text: str) -> bool:
    """A short, all-bold, unpunctuated paragraph: a sub-heading on the slide."""
    runs = [run for run in paragraph.runs if run.text.strip()]
    if not runs or len(text) > 80 or text.endswith((".", ",", ";", ":")):
        return False
    return all(run.font.bold for run in runs)


def _slide_blocks(slide: Any, number: int) -> Iterator[Block]:
    line = 0
    title_shape = slide.shapes.title
    ordered = list(_shapes(slide.shapes))
    if title_shape is not None:
        ordered = [title_shape] + [s for s in ordered if s.shape_id != title_shape.shape_id]
    for shape in ordered:
        placeholder = _placeholder_type(shape)
        if getattr(shape, "has_table", False) and shape.has_table:
            for cells, text in _table_rows(shape.table):
                if text:
                    line += 1
                    yield Block(BlockKind.TABLE_ROW, text, Location(line, number), cells=cells)
            line += 1  # a gap in the numbering keeps adjacent tables apart
            continue
        if not getattr(shape, "has_text_frame", False) or not shape.has_text_frame:
            continue
        if placeholder in _TITLE_PLACEHOLDERS or (
            title_shape is not None and shape.shape_id == title_shape.shape_id
        ):
            text = clean(" ".join(p.text for p in shape.text_frame.paragraphs))
            if text:
                line += 1
                level = 1 if number == 1 and placeholder == "CENTER_TITLE" else 2
                yield Block(BlockKind.HEADING, text, Location(line, number), level=level)
            continue
        for paragraph in shape.text_frame.paragraphs:
            text = clean(paragraph.text)
            if not text:
                continue
            line += 1
            location = Location(line, number)
            if _bulleted(paragraph, placeholder):
                yield Block(BlockKind.LIST_ITEM, text, location, level=int(paragraph.level))
            elif _bold_heading(paragraph, text):
                yield Block(BlockKind.HEADING, text, location, level=3)
            else:
                yield Block(BlockKind.PARAGRAPH, text, location)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None:
            for paragraph in notes.paragraphs:
                text = clean(paragraph.text)
                if text:
                    line += 1
                    yield Block(BlockKind.NOTE, text, Location(line, number))
