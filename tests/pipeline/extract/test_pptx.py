"""PPTX extraction: slide titles, bullets with levels, prose, tables, notes, slide numbers.

Equivalence with the .txt reading of 001 and 003: same kinds, texts and table cells, and the
same statements with the same polarity. Differences by design: a slide has one title
(HEADING level 2, or 1 for the first slide's centred title) and sub-headings are bold
paragraphs (HEADING level 3), so heading *levels* differ from the .txt's (1–4); speaker notes
add NOTE blocks (and statements) that the .txt does not have. Merged table cells (no .txt
counterpart) keep their text once, in their first grid column, with a header repeated over
the columns it spans.
"""

from __future__ import annotations

import io
from pathlib import Path

from extract_builders import (
    MERGED_TABLE_ROWS,
    MERGED_TABLE_STATEMENTS,
    build_merged_table,
    build_pptx,
    slides,
    statements,
    structure,
)

from pipeline.config import LimitsConfig
from pipeline.extract import extract_document
from pipeline.records import Block, BlockKind


def test_001_matches_txt(
    built: dict[str, Path], blocks_001: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("001.pptx", built["001.pptx"].read_bytes(), limits)
    assert doc.format == "pptx"
    assert structure(doc.blocks, levels=False) == structure(blocks_001, levels=False)


def test_003_slides_match_txt(
    built: dict[str, Path], blocks_003: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("003.pptx", built["003.pptx"].read_bytes(), limits)
    assert structure(doc.blocks, levels=False) == structure(blocks_003, levels=False)
    breaks = [b for b in doc.blocks if b.kind is BlockKind.BREAK]
    count = len(slides(blocks_003))
    assert [b.location.page for b in breaks] == list(range(1, count + 1))
    notes = [b for b in doc.blocks if b.kind is BlockKind.NOTE]
    assert [n.text for n in notes] == [f"Talaranteckning för bild {i}" for i in range(1, count + 1)]
    assert all(n.location.page == i for i, n in enumerate(notes, start=1))
    titles = [b for b in doc.blocks if b.kind is BlockKind.HEADING and b.level == 2]
    assert [t.location.page for t in titles] == list(range(1, count + 1))
    assert titles[1].text == "Nationella" and titles[1].location.line == 1


def test_list_levels_and_prose(blocks_003: tuple[Block, ...], limits: LimitsConfig) -> None:
    blocks = [b for b in blocks_003 if b.kind is not BlockKind.BREAK][:12]
    nested = [
        Block(b.kind, b.text, b.location, 1 if i % 2 else 0) if b.kind is BlockKind.LIST_ITEM else b
        for i, b in enumerate(blocks)
    ]
    doc = extract_document("x.pptx", build_pptx(nested, notes=False), limits)
    items = [(b.text, b.level) for b in doc.blocks if b.kind is BlockKind.LIST_ITEM]
    assert items == [(b.text, b.level) for b in nested if b.kind is BlockKind.LIST_ITEM]
    prose = [b.text for b in doc.blocks if b.kind is BlockKind.PARAGRAPH]
    assert "vårdkompetensrådet" in prose


def test_statements_and_polarity_match_txt(
    blocks_001: tuple[Block, ...], blocks_003: tuple[Block, ...], limits: LimitsConfig
) -> None:
    for blocks in (blocks_001, blocks_003):
        doc = extract_document("x.pptx", build_pptx(blocks, notes=False), limits)
        assert statements(doc.blocks) == statements(blocks)


def test_merged_cells_keep_their_grid_columns(limits: LimitsConfig) -> None:
    # Cells covered by a merge (hMerge) used to be dropped, so the header had two cells over
    # three columns: the second column fell under "Hinder", the third under no header.
    doc = extract_document("x.pptx", build_merged_table("pptx"), limits)
    assert [b.cells for b in doc.blocks if b.kind is BlockKind.TABLE_ROW] == MERGED_TABLE_ROWS
    assert statements(doc.blocks) == MERGED_TABLE_STATEMENTS


def test_line_break_reads_as_space(limits: LimitsConfig) -> None:
    # python-pptx gives a line break as a vertical tab, which clean() drops: words joined.
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # Blank
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(8), Inches(1))
    box.text_frame.paragraphs[0].text = "Det är viktigt att samverka\vmellan regionerna."
    out = io.BytesIO()
    deck.save(out)
    doc = extract_document("x.pptx", out.getvalue(), limits)
    assert [b.text for b in doc.blocks if b.text] == [
        "Det är viktigt att samverka mellan regionerna."
    ]
