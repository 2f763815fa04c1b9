"""File type from the bytes; spreadsheets; legacy and OpenDocument files through LibreOffice."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from extract_builders import build_docx, build_pdf, statements, structure
from roundtrip import soffice

from flows.convert import soffice_convert
from pipeline.config import LimitsConfig
from pipeline.extract import ExtractError, extract_document, sniff_type
from pipeline.records import Block, BlockKind

needs_libreoffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice is installed by `make` (deps/apt.txt)"
)


def test_a_pdf_named_docx_is_read_as_a_pdf(
    blocks_001: tuple[Block, ...], limits: LimitsConfig
) -> None:
    data = build_pdf(blocks_001)
    as_pdf = extract_document("notes.pdf", data, limits)
    misnamed = extract_document("notes.docx", data, limits)
    assert misnamed.blocks == as_pdf.blocks
    assert (as_pdf.format, misnamed.format) == ("pdf", "pdf (named .docx)")


def test_a_docx_named_pdf_is_read_as_a_docx(
    blocks_001: tuple[Block, ...], limits: LimitsConfig
) -> None:
    data = build_docx(blocks_001)
    assert extract_document("notes.pdf", data, limits).format == "docx (named .pdf)"


def test_types_from_the_bytes() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100
    assert sniff_type(ole + "WordDocument".encode("utf-16-le"), ".bin") == ".doc"
    assert sniff_type(ole + "PowerPoint Document".encode("utf-16-le"), ".doc") == ".ppt"
    assert sniff_type(ole + "Workbook".encode("utf-16-le"), ".doc") == ".xls"
    assert sniff_type(ole, ".ppt") == ".ppt"  # a damaged directory: the extension decides
    assert sniff_type(b"{\\rtf1\\ansi Hej}", ".doc") == ".rtf"
    assert sniff_type(b"Hej\nOch hej", ".txt") is None
    odt = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(odt, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<x/>")
    assert sniff_type(odt.getvalue(), ".docx") == ".odt"


def test_a_legacy_file_without_a_converter_says_what_to_do(limits: LimitsConfig) -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le") + b"\0" * 512
    with pytest.raises(ExtractError, match=r"^old\.doc: file: \.doc files are read through "):
        extract_document("old.doc", data, limits)


def _grid_rows() -> list[list[str]]:
    return [
        ["Finansiering", ""],
        ["Möjligheter", "Hinder"],
        ["Gemensamma satsningar", "Oklarhet kring finansiering"],
        ["", "Takbeloppet styr lärosätena"],
    ]


def _expected_grid() -> list[tuple[str, str, str]]:
    return [
        ("Gemensamma satsningar", "Möjlighet", "Möjligheter"),
        ("Oklarhet kring finansiering", "Hinder", "Hinder"),
        ("Takbeloppet styr lärosätena", "Hinder", "Hinder"),
    ]


def test_an_xlsx_grid_is_a_table_with_header_polarity(limits: LimitsConfig) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Workshop"
    for row in _grid_rows():
        sheet.append([cell or None for cell in row])
    sheet.append([None])
    sheet.append(["Mötet avslutades med fika."])
    out = io.BytesIO()
    workbook.save(out)
    document = extract_document("grid.xlsx", out.getvalue(), limits)
    assert document.format == "xlsx"
    got = statements(document.blocks)
    assert got[:3] == _expected_grid()
    assert got[3] == ("Mötet avslutades med fika.", "", "")
    # The one-cell row above the header heads the table (a single sheet's name is no heading).
    headings = [(b.level, b.text) for b in document.blocks if b.kind is BlockKind.HEADING]
    assert headings == [(1, "Finansiering")]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_a_csv_grid_is_a_table_with_header_polarity(separator: str, limits: LimitsConfig) -> None:
    text = "\n".join(separator.join(row) for row in _grid_rows()) + "\n"
    document = extract_document("grid.csv", text.encode("cp1252"), limits)
    assert (document.format, document.encoding) == ("csv", "cp1252")
    assert statements(document.blocks) == _expected_grid()


@needs_libreoffice
@pytest.mark.parametrize("suffix", ["odt", "doc", "rtf"])
def test_word_processor_formats_read_through_libreoffice(
    suffix: str, blocks_001: tuple[Block, ...], limits: LimitsConfig, tmp_path: Path
) -> None:
    source = tmp_path / "notes.docx"
    source.write_bytes(build_docx(blocks_001))
    converted = soffice(source, suffix, tmp_path).read_bytes()
    document = extract_document(f"notes.{suffix}", converted, limits, convert=soffice_convert)
    assert document.format == suffix
    direct = extract_document("notes.docx", source.read_bytes(), limits)
    # List levels may shift in the round trip through LibreOffice; kinds, texts and cells not.
    assert structure(document.blocks, levels=False) == structure(direct.blocks, levels=False)


@needs_libreoffice
@pytest.mark.parametrize("suffix", ["ods", "xls"])
def test_spreadsheet_formats_read_through_libreoffice(
    suffix: str, limits: LimitsConfig, tmp_path: Path
) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in _grid_rows():
        sheet.append([cell or None for cell in row])
    source = tmp_path / "grid.xlsx"
    workbook.save(source)
    converted = soffice(source, suffix, tmp_path).read_bytes()
    document = extract_document(f"grid.{suffix}", converted, limits, convert=soffice_convert)
    assert document.format == suffix
    assert statements(document.blocks) == _expected_grid()


@needs_libreoffice
def test_a_damaged_legacy_file_is_an_error_with_a_fix(limits: LimitsConfig) -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le") + b"\x07" * 900
    with pytest.raises(
        ExtractError, match=r"^bad\.doc: file: LibreOffice could not convert the \.doc file .*; "
    ):
        extract_document("bad.doc", data, limits, convert=soffice_convert)


@needs_libreoffice
def test_a_slide_deck_saved_as_pdf_keeps_its_slide_breaks(
    blocks_003: tuple[Block, ...], limits: LimitsConfig, tmp_path: Path
) -> None:
    from extract_builders import build_pptx, slides

    deck = tmp_path / "deck.pptx"
    deck.write_bytes(build_pptx(blocks_003, notes=False))
    pdf = soffice(deck, "pdf", tmp_path).read_bytes()
    document = extract_document("deck.pdf", pdf, limits)
    breaks = [b.location.page for b in document.blocks if b.kind is BlockKind.BREAK]
    assert breaks == list(range(1, len(slides(blocks_003)) + 1))
    # Each slide's title is a heading again after its break, not text under the last one.
    read = extract_document("deck.pptx", deck.read_bytes(), limits)
    assert statements(document.blocks) == statements(read.blocks)


@needs_libreoffice
@pytest.mark.parametrize("suffix", ["odp", "ppt"])
def test_presentation_formats_read_through_libreoffice(
    suffix: str, blocks_003: tuple[Block, ...], limits: LimitsConfig, tmp_path: Path
) -> None:
    from extract_builders import build_pptx

    deck = tmp_path / "deck.pptx"
    deck.write_bytes(build_pptx(blocks_003, notes=False))
    converted = soffice(deck, suffix, tmp_path).read_bytes()
    document = extract_document(f"deck.{suffix}", converted, limits, convert=soffice_convert)
    assert document.format == suffix
    read = extract_document("deck.pptx", deck.read_bytes(), limits)
    assert statements(document.blocks) == statements(read.blocks)
