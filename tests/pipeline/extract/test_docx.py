"""DOCX extraction: styles → headings and list levels, tables in body order.

Equivalence with the .txt reading of 001 and 003 is exact (kinds, texts, heading and list
levels, table cells). Known differences with real Word files, not exercised by the .txt:
page breaks are not turned into BREAKs, and a title row merged across the table is one cell.
"""

from __future__ import annotations

import io
from pathlib import Path

import docx
from extract_builders import statements, structure

from pipeline.config import LimitsConfig
from pipeline.extract import extract_document
from pipeline.records import Block, BlockKind


def test_001_matches_txt(
    built: dict[str, Path], blocks_001: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("001.docx", built["001.docx"].read_bytes(), limits)
    assert doc.format == "docx"
    assert structure(doc.blocks) == structure(blocks_001)


def test_003_matches_txt(
    built: dict[str, Path], blocks_003: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("003.docx", built["003.docx"].read_bytes(), limits)
    assert structure(doc.blocks) == structure(blocks_003)


def _save(document: object) -> bytes:
    out = io.BytesIO()
    document.save(out)  # type: ignore[attr-defined]
    return out.getvalue()


def test_styles_numbering_and_body_order(limits: LimitsConfig) -> None:
    document = docx.Document()
    document.add_heading("Regional samverkan i Norra sjukvårdsregionen", level=0)
    document.add_heading("Grupp 1", level=2)
    document.add_paragraph("Tydliga roller och mandat för alla aktörer", style="List Number")
    document.add_paragraph("Vilka är aktörerna i regionen", style="List Bullet 2")
    table = document.add_table(rows=3, cols=2)
    title = table.rows[0].cells[0].merge(table.rows[0].cells[1])
    title.text = "Gemensam målbild"
    for cell, text in zip(table.rows[1].cells, ("Möjligheter", "Hinder"), strict=True):
        cell.text = text
    table.rows[2].cells[1].text = "Olika roller"
    document.add_paragraph("Det är viktigt att vi har en gemensam bild av vad som ska göras.")
    doc = extract_document("x.docx", _save(document), limits)
    kinds = [(b.kind, b.level, b.text, b.cells) for b in doc.blocks]
    assert kinds == [
        (BlockKind.HEADING, 1, "Regional samverkan i Norra sjukvårdsregionen", ()),
        (BlockKind.HEADING, 2, "Grupp 1", ()),
        (BlockKind.LIST_ITEM, 0, "Tydliga roller och mandat för alla aktörer", ()),
        (BlockKind.LIST_ITEM, 1, "Vilka är aktörerna i regionen", ()),
        (BlockKind.TABLE_ROW, 0, "Gemensam målbild", ("Gemensam målbild",)),
        (BlockKind.TABLE_ROW, 0, "Möjligheter | Hinder", ("Möjligheter", "Hinder")),
        (BlockKind.TABLE_ROW, 0, "Olika roller", ("", "Olika roller")),
        (
            BlockKind.PARAGRAPH,
            0,
            "Det är viktigt att vi har en gemensam bild av vad som ska göras.",
            (),
        ),
    ]
    lines = [b.location.line for b in doc.blocks]
    assert lines == sorted(lines) and lines[4:7] == [5, 6, 7]
    assert all(b.location.page is None for b in doc.blocks)


def test_statements_and_polarity_match_txt(
    built: dict[str, Path], blocks_001: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("001.docx", built["001.docx"].read_bytes(), limits)
    assert statements(doc.blocks) == statements(blocks_001)
    assert any(polarity == "Hinder" for _, polarity, _ in statements(doc.blocks))
