"""Mutated real files (bit flips, truncations, insertions): a Document or an ExtractError.

Kept short here (40 derandomized examples per format); `python bench/fuzz_extract.py
--examples N` runs the long version.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from extract_builders import CORPUS, mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import LimitsConfig
from pipeline.extract import ExtractError, extract_document
from pipeline.records import Document

LIMITS = LimitsConfig(timeout_seconds=20)


@st.composite
def mutated_member(draw: st.DrawFn, data: bytes) -> bytes:
    """An Office zip with one XML member mutated and re-zipped (reaches the XML parsers)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    infos = [info for info in source.infolist() if info.filename.endswith(".xml")]
    victim = draw(st.sampled_from(infos))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info.filename, draw(mutated(content)) if info is victim else content)
    return out.getvalue()


def check(name: str, data: bytes) -> str:
    """Extract; return 'ok' or 'error'; anything but ExtractError fails the test."""
    try:
        result = extract_document(name, data, LIMITS)
    except ExtractError as exc:
        assert str(exc).startswith(f"{name}: "), exc
        return "error"
    assert isinstance(result, Document)
    return "ok"


@pytest.mark.parametrize(
    ("suffix", "strategy"),
    [
        ("docx", mutated),
        ("pptx", mutated),
        ("pdf", mutated),
        ("html", mutated),
        # Raw byte flips mostly fail the zip checksum; these reach the XML readers.
        ("docx", mutated_member),
        ("pptx", mutated_member),
    ],
    ids=["docx", "pptx", "pdf", "html", "docx-member", "pptx-member"],
)
def test_mutated_built_files(
    suffix: str, strategy: Callable[[bytes], st.SearchStrategy[bytes]], built: dict[str, Path]
) -> None:
    original = built[f"003.{suffix}"].read_bytes()

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(original))
    def run(data: bytes) -> None:
        check(f"fuzz.{suffix}", data)

    run()


def test_mutated_corpus_text() -> None:
    original = (CORPUS / "003_fb89202d20482178.txt").read_bytes()

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(original))
    def run(data: bytes) -> None:
        check("fuzz.txt", data)

    run()


@pytest.fixture(scope="module")
def sheets_and_legacy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """003's typed lines as XLSX and CSV, and (by LibreOffice) as ODT and DOC."""
    from roundtrip import soffice, typed_csv, typed_docx, typed_lines, typed_xlsx

    lines = typed_lines((CORPUS / "003_fb89202d20482178.txt").read_text(encoding="utf-8"))[:120]
    folder = tmp_path_factory.mktemp("fuzz-legacy")
    docx_path = folder / "typed.docx"
    docx_path.write_bytes(typed_docx(lines))
    out = {"xlsx": typed_xlsx(lines), "csv": typed_csv(lines)}
    for suffix in ("odt", "doc"):
        out[suffix] = soffice(docx_path, suffix, folder).read_bytes()
    return out


@pytest.mark.parametrize(
    ("suffix", "strategy", "examples"),
    [
        ("xlsx", mutated, 40),
        ("xlsx", mutated_member, 40),
        ("csv", mutated, 40),
        # Each case starts LibreOffice (about a second): a few cases of each.
        ("odt", mutated, 6),
        ("doc", mutated, 6),
    ],
    ids=["xlsx", "xlsx-member", "csv", "odt-libreoffice", "doc-libreoffice"],
)
def test_mutated_spreadsheets_and_converted_formats(
    suffix: str,
    strategy: Callable[[bytes], st.SearchStrategy[bytes]],
    examples: int,
    sheets_and_legacy: dict[str, bytes],
) -> None:
    from flows.convert import soffice_convert

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(sheets_and_legacy[suffix]))
    def run(data: bytes) -> None:
        name = f"fuzz.{suffix}"
        try:
            result = extract_document(name, data, LIMITS, convert=soffice_convert)
        except ExtractError as exc:
            assert str(exc).startswith(f"{name}: "), exc
            return
        assert isinstance(result, Document)

    run()
