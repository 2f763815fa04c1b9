"""PDF extraction: text layer (headings by size, bullets, ruled and borderless tables) and OCR.

Equivalence with the .txt reading of 001 and 003 (rendered with reportlab: headings in larger
bold type, • bullets indented per level, tables ruled): same kinds, texts, heading and list
levels and table cells; same statements with the same polarity. Differences: a BREAK opens
every page, and a table continued on the next page gets its header row repeated there (so
downstream sees the columns' polarity; the title row is not repeated).

OCR (a page rendered to an image with Pillow): Tesseract recovers ≥ 90 % of the words; bullets
are often read as «, » or e, and headings are told by glyph height only.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from extract_builders import build_scan, slides, statements, structure

from pipeline.config import LimitsConfig
from pipeline.extract import ExtractError, _ocr, extract_document
from pipeline.records import Block, BlockKind


@pytest.mark.parametrize("label", ["001", "003"])
def test_matches_txt(
    label: str,
    built: dict[str, Path],
    blocks_001: tuple[Block, ...],
    blocks_003: tuple[Block, ...],
    limits: LimitsConfig,
) -> None:
    blocks = blocks_001 if label == "001" else blocks_003
    doc = extract_document(f"{label}.pdf", built[f"{label}.pdf"].read_bytes(), limits)
    assert doc.format == "pdf" and doc.encoding == "binary"
    assert structure(_without_repeated_headers(doc.blocks)) == structure(blocks)
    assert statements(doc.blocks) == statements(blocks)


def _without_repeated_headers(blocks: tuple[Block, ...]) -> list[Block]:
    """Drop the header rows the PDF reader repeats on a page that continues a table."""
    out: list[Block] = []
    for block in blocks:
        if (
            block.kind is BlockKind.TABLE_ROW
            and out
            and out[-1].kind is BlockKind.BREAK
            and any(b.kind is BlockKind.TABLE_ROW and b.cells == block.cells for b in out)
        ):
            continue
        out.append(block)
    return out


def test_pages_and_lines(
    built: dict[str, Path], blocks_003: tuple[Block, ...], limits: LimitsConfig
) -> None:
    doc = extract_document("003.pdf", built["003.pdf"].read_bytes(), limits)
    breaks = [b for b in doc.blocks if b.kind is BlockKind.BREAK]
    assert [b.location.page for b in breaks] == list(range(1, len(breaks) + 1))
    assert len(breaks) >= len(slides(blocks_003))  # a long slide may overflow its page
    for block in doc.blocks:
        assert block.location.page is not None and block.location.line >= 1
        assert not block.ocr


def test_borderless_two_column_table(limits: LimitsConfig) -> None:
    """Columns rebuilt from word x-positions: an empty left cell stays empty."""
    import io

    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    rows = [
        ("Möjligheter", "Hinder"),
        ("Trygga kompetensförsörjning", "Olika uppdrag"),
        ("", "Olika roller"),
        ("Öka kunskapen om varandras uppdrag", ""),
    ]
    page.setFont("Helvetica", 10)
    page.drawString(72, 760, "Gemensam målbild")
    for i, (left, right) in enumerate(rows):
        page.drawString(72, 745 - 15 * i, left)
        page.drawString(300, 745 - 15 * i, right)
    page.drawString(72, 640, "Det finns en stor vilja att samverka mellan regionerna.")
    page.save()
    doc = extract_document("t.pdf", out.getvalue(), limits)
    got = [b.cells for b in doc.blocks if b.kind is BlockKind.TABLE_ROW]
    assert got == [("Gemensam målbild",), *rows]
    assert doc.blocks[-1].kind is BlockKind.PARAGRAPH
    assert [s[1] for s in statements(doc.blocks)][:4] == [
        "Möjlighet",
        "Hinder",
        "Hinder",
        "Möjlighet",
    ]


SCAN_LINES = [
    "Segment 2 – Hinder och möjligheter",
    "",
    "Grupp 1",
    "• Tydligt uppdrag och roller för alla aktörer",
    "• Definiera aktörerna i regionen",
    "",
    "Förde ingen diskussion om nationell nivå, men vi vet att vi utbildar för hela landet.",
    "Samverkan mellan lärosätena är svårt då det inte finns liknande ekonomiska system.",
    "Finns stort behov av fakta för att få en gemensam bas att stå på.",
]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-zåäöé0-9]+", text.lower())


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_scanned_pdf_is_ocrd(limits: LimitsConfig) -> None:
    doc = extract_document("scan.pdf", build_scan(SCAN_LINES), limits)
    text_blocks = [b for b in doc.blocks if b.kind is not BlockKind.BREAK]
    assert text_blocks and all(b.ocr for b in text_blocks)
    expected = _words(" ".join(SCAN_LINES))
    got = set(_words(" ".join(b.text for b in text_blocks)))
    recovered = sum(word in got for word in expected) / len(expected)
    assert recovered >= 0.9, recovered
    assert any(b.kind is BlockKind.LIST_ITEM for b in text_blocks)


def test_missing_tesseract_says_how_to_install(
    limits: LimitsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    _ocr._tesseract_languages.cache_clear()
    try:
        with pytest.raises(
            ExtractError,
            match=r"scan.pdf: page 1: .*tesseract is not installed; "
            r"install Tesseract .*apt-get install tesseract-ocr tesseract-ocr-swe",
        ):
            extract_document("scan.pdf", build_scan(SCAN_LINES[:3]), limits)
    finally:
        monkeypatch.undo()
        _ocr._tesseract_languages.cache_clear()
