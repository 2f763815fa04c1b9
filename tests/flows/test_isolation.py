"""flows.isolation: each document is read in a child process with a time limit and a memory cap."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from flows import isolation
from flows.isolation import ChildCrashed, ChildTimeout, extract_file, run_isolated
from pipeline.config import LimitsConfig
from pipeline.extract import ExtractError, extract_document

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
LIMITS = LimitsConfig()


def test_sample_documents_read_in_a_child_equal_in_process() -> None:
    for path in sorted(CORPUS.glob("*.txt")):
        in_child = extract_file(path, path.name, LIMITS)
        assert in_child == extract_document(path.name, path.read_bytes(), LIMITS)


def test_a_child_past_its_time_is_stopped() -> None:
    with pytest.raises(ChildTimeout, match=r"did not finish within 1 seconds and was stopped"):
        run_isolated(time.sleep, (60,), timeout=1, max_memory_mb=512)


def test_memory_cap_is_enforced_in_the_child() -> None:
    # 2 GiB is well within this machine's memory: only the child's cap can refuse it.
    with pytest.raises(MemoryError):
        run_isolated(bytearray, (2 << 30,), timeout=60, max_memory_mb=512)
    assert run_isolated(bytearray, (64 << 20,), timeout=60, max_memory_mb=512).value


def test_a_crashing_child_is_reported() -> None:
    with pytest.raises(ChildCrashed, match=r"killed by SIGABRT"):
        run_isolated(os.abort, (), timeout=60, max_memory_mb=512)


def test_result_and_peak_memory_come_back() -> None:
    outcome = run_isolated(len, ("hej",), timeout=60, max_memory_mb=512)
    assert outcome.value == 3
    # Resident pages shared with the forkserver (readers, language models) count too.
    assert 1 < outcome.peak_rss_mb < 2048


def test_errors_from_the_reader_keep_their_message(tmp_path: Path) -> None:
    path = tmp_path / "skräp.pdf"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ExtractError, match=r"^skräp.pdf: file: not a PDF .*; check the file type"):
        extract_file(path, path.name, LIMITS)


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "stor.txt"
    with path.open("wb") as handle:
        handle.truncate(200_000_000)  # a sparse 200 MB file: refused by its size alone
    with pytest.raises(
        ExtractError,
        match=r"^stor.txt: file is 200,000,000 bytes, over the limit of 50,000,000; split the file",
    ):
        extract_file(path, path.name, LIMITS)


def test_reader_stopped_for_time_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    path = CORPUS / "003_fb89202d20482178.txt"
    monkeypatch.setattr(isolation, "GRACE_SECONDS", 0.0)
    hurried = LIMITS.model_copy(update={"timeout_seconds": 1e-6})  # no child answers that fast
    with pytest.raises(
        ExtractError,
        match=r"^003_fb89202d20482178.txt: whole document: reading did not finish within 1e-06 "
        r"seconds and was stopped; split the file, or raise limits.timeout_seconds",
    ):
        extract_file(path, path.name, hurried)


@pytest.fixture(scope="module")
def odt_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 001 notes typed into Word and saved as ODT by LibreOffice."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline" / "extract"))
    from roundtrip import soffice, typed_docx, typed_lines

    folder = tmp_path_factory.mktemp("odt")
    docx_path = folder / "notes.docx"
    text = (CORPUS / "001_aeb9084501ce30c8.txt").read_text(encoding="utf-8")
    docx_path.write_bytes(typed_docx(typed_lines(text)))
    return soffice(docx_path, "odt", folder)


def test_libreoffice_converts_inside_the_reader_process(odt_file: Path) -> None:
    document = extract_file(odt_file, "notes.odt", LIMITS)
    assert document.format == "odt"
    assert any(b.cells == ("Möjligheter", "Hinder") for b in document.blocks)


def test_a_conversion_past_its_time_is_stopped(odt_file: Path) -> None:
    from flows.convert import soffice_convert

    with pytest.raises(ExtractError, match=r"LibreOffice took longer than 0\.01 seconds; "):
        soffice_convert("notes.odt", odt_file.read_bytes(), ".odt", ".docx", 0.01)
