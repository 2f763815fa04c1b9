"""Bad input never sinks a run: every case raises ExtractError '<name>: <where>: <what>; <fix>'."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from extract_builders import CORPUS

from pipeline.config import LimitsConfig
from pipeline.extract import ExtractError, extract_document


def _raises(name: str, data: bytes, limits: LimitsConfig, pattern: str) -> str:
    with pytest.raises(ExtractError, match=pattern) as info:
        extract_document(name, data, limits)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "; " in message, message
    return message


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".pptx", ".html", ".txt"])
def test_empty_and_blank_files(suffix: str, limits: LimitsConfig) -> None:
    _raises(f"tom{suffix}", b"", limits, r"file is empty; remove it")
    _raises(f"blank{suffix}", b" \n\t\n", limits, r"file is empty; remove it")


def test_garbage_named_pdf(limits: LimitsConfig) -> None:
    garbage = bytes((i * 7919 + 13) % 256 for i in range(5000))
    _raises(
        "skräp.pdf",
        garbage,
        limits,
        r"skräp.pdf: file: not a PDF \(no '%PDF-' header.*; "
        r"check the file type",
    )


def test_truncated_pdf(built: dict[str, Path], limits: LimitsConfig) -> None:
    data = built["001.pdf"].read_bytes()
    _raises("kort.pdf", data[:400], limits, r"kort.pdf: (file|page \d+): .*; export it")


def test_password_protected_pdf(built: dict[str, Path], limits: LimitsConfig) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(built["003.pdf"]).pages:
        writer.add_page(page)
    writer.encrypt(user_password="hemligt", owner_password="ägare", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    _raises(
        "låst.pdf",
        out.getvalue(),
        limits,
        r"låst.pdf: file: PDF is password-protected \(encrypted\); save an unprotected copy",
    )


def test_too_many_pages(built: dict[str, Path], limits: LimitsConfig) -> None:
    few = limits.model_copy(update={"max_pages": 2})
    _raises(
        "lång.pdf",
        built["003.pdf"].read_bytes(),
        few,
        r"lång.pdf: file: PDF has \d+ pages, over the limit of 2; split the file",
    )
    _raises(
        "lång.pptx",
        built["003.pptx"].read_bytes(),
        few,
        r"lång.pptx: file: deck has \d+ slides, over the limit of 2; split the deck",
    )


@pytest.mark.parametrize("suffix", ["docx", "pptx"])
def test_corrupt_office_zip(suffix: str, built: dict[str, Path], limits: LimitsConfig) -> None:
    data = built[f"001.{suffix}"].read_bytes()
    kind = suffix.upper()
    _raises(
        f"trasig.{suffix}",
        data[: len(data) // 2],
        limits,
        rf"trasig.{suffix}: file: not a valid {kind} file \(the zip package is corrupt",
    )
    _raises(
        f"skräp.{suffix}",
        b"PK\x03\x04" + b"\x00" * 300,
        limits,
        rf"skräp.{suffix}: file: not a valid {kind} file",
    )
    # A valid zip that is no Office package.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hej.txt", "inte ett dokument")
    _raises(f"fel.{suffix}", out.getvalue(), limits, rf"fel.{suffix}: file: not a readable {kind}")


def _bomb(base: bytes, size: int) -> bytes:
    """`base` (an Office zip) plus one entry of `size` zero bytes, deflated."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        with target.open("word/media/bomb.bin", "w") as entry:
            chunk = b"\x00" * (1 << 20)
            for _ in range(size >> 20):
                entry.write(chunk)
    return out.getvalue()


@pytest.mark.parametrize("suffix", ["docx", "pptx"])
def test_zip_bomb_with_small_limit(
    suffix: str, built: dict[str, Path], limits: LimitsConfig
) -> None:
    small = limits.model_copy(update={"max_decompressed_bytes": 4_000_000})
    data = _bomb(built[f"001.{suffix}"].read_bytes(), 8 << 20)
    _raises(
        f"bomb.{suffix}",
        data,
        small,
        rf"bomb.{suffix}: zip package: unpacks to [\d,]+ bytes, over the limit of 4,000,000 "
        r"\(possible zip bomb\); check where the file came from",
    )


def test_zip_bomb_over_the_default_limit(built: dict[str, Path], limits: LimitsConfig) -> None:
    data = _bomb(built["001.docx"].read_bytes(), 256 << 20)
    assert len(data) < limits.max_file_bytes  # small on disk, huge unpacked
    _raises("bomb.docx", data, limits, r"over the limit of 200,000,000 \(possible zip bomb\)")


def test_oversized_file(limits: LimitsConfig) -> None:
    assert limits.max_file_bytes < 200_000_000  # a 200 MB text file is refused by default
    small = limits.model_copy(update={"max_file_bytes": 1000})
    data = (CORPUS / "001_aeb9084501ce30c8.txt").read_bytes()
    _raises(
        "stor.txt",
        data,
        small,
        r"stor.txt: file is [\d,]+ bytes, over the limit of 1,000; "
        r"split the file, or raise limits.max_file_bytes in the config",
    )


def test_unsupported_extension(limits: LimitsConfig) -> None:
    # .xlsx is read now; Apple's Numbers is not (its bytes are a zip like Office's).
    _raises(
        "kalkyl.numbers", b"PK\x03\x04", limits, r"kalkyl.numbers: unsupported file type '.numbers'"
    )


ENGLISH = (
    "The regional council met to discuss the supply of skills in health care. "
    "It was agreed that the universities and the regions should work together, and that "
    "there is a need for better data on how many nurses will retire over the next years. "
    "We also talked about what the national platform could do for the regions and how "
    "the funding of education is organised, which is a problem for all of the parties."
)


@pytest.mark.parametrize("suffix", [".txt", ".html"])
def test_english_document(suffix: str, limits: LimitsConfig) -> None:
    data = (ENGLISH if suffix == ".txt" else f"<p>{ENGLISH}</p>").encode()
    _raises(
        f"minutes{suffix}",
        data,
        limits,
        rf"minutes{suffix}: whole document: language looks like English "
        r"\(engelska \d+% of the text, svenska \d+%\); temakarta themes Swedish text only; "
        r"remove it or translate it",
    )


OTHER_LANGUAGES = {
    "German": (
        "Die Sitzung des Rates hat sich mit der Versorgung von Fachkräften im Gesundheitswesen "
        "beschäftigt. Es wurde vereinbart, dass die Regionen und die Hochschulen zusammenarbeiten "
        "sollen, und dass es einen Bedarf an besseren Daten über die Ausbildung gibt."
    ),
    "Norwegian": (
        "Møtet handlet om samarbeid mellom regionene og universitetene. Det er viktig at vi har "
        "en felles forståelse av hva som skal gjøres, og hvordan vi kan jobbe sammen for å sikre "
        "kompetanse i helsetjenesten i årene som kommer."
    ),
    "Finnish": (
        "Kokouksessa keskusteltiin terveydenhuollon osaamisen turvaamisesta. Sovittiin, että "
        "alueet ja yliopistot tekevät yhteistyötä ja että tarvitaan parempaa tietoa siitä, "
        "kuinka moni sairaanhoitaja jää eläkkeelle."
    ),
}


@pytest.mark.parametrize("language", sorted(OTHER_LANGUAGES))
def test_other_languages_are_reported(language: str, limits: LimitsConfig) -> None:
    data = OTHER_LANGUAGES[language].encode()
    _raises("protokoll.txt", data, limits, rf"language looks like {language} ")


def test_short_english_notes_are_reported(limits: LimitsConfig) -> None:
    data = b"Minutes of the meeting. The group discussed how the regions should work together.\n"
    _raises("notes.txt", data, limits, r"language looks like English")


def test_swedish_deck_with_english_slide_titles_is_read(limits: LimitsConfig) -> None:
    deck = "\n\n".join(
        [
            "# Agenda and the way forward",
            "- Kompetensförsörjning i hela sjukvårdsregionen\n- Verksamhetsförlagd utbildning",
            "# Background of the project",
            "- Nationell plattform för samverkan\n- Uppdrag från regeringen om utbildningsplatser",
            "# Summary of the discussion",
            "- Gemensam målbild saknas\n- Tydliga roller och mandat behövs\n- Finansiering",
            "# What is the next step?",
            "- Workshop i varje sjukvårdsregion under våren\n- Rapport till Socialstyrelsen",
            "Take home message: the regions and the universities should own this work, and it "
            "is up to all of us to make it happen.",
        ]
    )
    document = extract_document("deck.md", deck.encode(), limits)
    assert any(block.text == "Gemensam målbild saknas" for block in document.blocks)


def test_swedish_corpus_passes_language_check(limits: LimitsConfig) -> None:
    for path in sorted(CORPUS.glob("*.txt")):
        assert extract_document(path.name, path.read_bytes(), limits).blocks


def test_cp1252_text_is_read(limits: LimitsConfig) -> None:
    text = (CORPUS / "001_aeb9084501ce30c8.txt").read_text(encoding="utf-8")
    data = text.replace("–", "-").encode("cp1252")
    doc = extract_document("gammal.txt", data, limits)
    assert doc.encoding == "cp1252"
    assert any("kompetensförsörjning" in b.text for b in doc.blocks)


def test_pdf_decompression_bomb(limits: LimitsConfig) -> None:
    import zlib

    stream = zlib.compress(b"0 0 m " * 2_000_000, 9)  # 12 MB of drawing operators
    pdf = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>endobj\n"
        + f"4 0 obj<</Length {len(stream)}/Filter/FlateDecode>>stream\n".encode()
        + stream
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    small = limits.model_copy(update={"max_decompressed_bytes": 5_000_000})
    _raises(
        "bomb.pdf",
        pdf,
        small,
        r"bomb.pdf: file: PDF streams unpack to over 5,000,000 bytes \(possible "
        r"decompression bomb\); check where",
    )
