"""HTML extraction: h1–h6, nested lists, tables, paragraphs; matches the .txt reading exactly."""

from __future__ import annotations

from pathlib import Path

from extract_builders import statements, structure

from pipeline.config import LimitsConfig
from pipeline.extract import extract_document
from pipeline.records import Block, BlockKind


def test_001_matches_txt(
    built: dict[str, Path], blocks_001: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("001.html", built["001.html"].read_bytes(), limits)
    assert doc.format == "html"
    assert structure(doc.blocks) == structure(blocks_001)


def test_003_matches_txt(
    built: dict[str, Path], blocks_003: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("003.html", built["003.html"].read_bytes(), limits)
    assert structure(doc.blocks) == structure(blocks_003)


def test_nesting_tables_and_cp1252(limits: LimitsConfig) -> None:
    page = """<html><head><meta charset="windows-1252"><title>Möte</title>
    <style>p { color: red }</style><script>var x = "<p>nej</p>";</script></head><body>
    <h1>Regionalt vårdkompetensråd</h1><h3>Grupp 2</h3>
    <ul><li>Att man ska samverka<ul><li>Vad man ska samverka kring</li></ul></li>
    <li>Finansiering</li></ul>
    <table><tr><th>Möjligheter</th><th>Hinder</th></tr>
    <tr><td></td><td>Olika roller</td></tr></table>
    <p>Det behövs kunskap om hur man hittar<br>in i olika stora organisationer.</p>
    </body></html>"""
    doc = extract_document("x.html", page.encode("cp1252"), limits)
    got = [(b.kind, b.level, b.text, b.cells) for b in doc.blocks]
    assert got == [
        (BlockKind.HEADING, 1, "Regionalt vårdkompetensråd", ()),
        (BlockKind.HEADING, 3, "Grupp 2", ()),
        (BlockKind.LIST_ITEM, 0, "Att man ska samverka", ()),
        (BlockKind.LIST_ITEM, 1, "Vad man ska samverka kring", ()),
        (BlockKind.LIST_ITEM, 0, "Finansiering", ()),
        (BlockKind.TABLE_ROW, 0, "Möjligheter | Hinder", ("Möjligheter", "Hinder")),
        (BlockKind.TABLE_ROW, 0, "Olika roller", ("", "Olika roller")),
        (BlockKind.PARAGRAPH, 0, "Det behövs kunskap om hur man hittar", ()),
        (BlockKind.PARAGRAPH, 0, "in i olika stora organisationer.", ()),
    ]
    assert doc.encoding == "cp1252"


def test_statements_and_polarity_match_txt(
    built: dict[str, Path], blocks_001: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("001.html", built["001.html"].read_bytes(), limits)
    assert statements(doc.blocks) == statements(blocks_001)
