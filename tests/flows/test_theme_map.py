"""The real Prefect flow with the real model on the real sample corpus.

Slow (about a minute): it builds nothing new when `make` already built the model, but runs the
flow three times — once with bad files mixed in, once more for determinism, once through the CLI.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import io
from flows.cache_store import STORE_FILE
from flows.cli import main
from flows.progress import EMBED, READ
from flows.theme_map import RunReport, theme_map
from pipeline.config import Config
from pipeline.embed import native_bf16
from pipeline.records import SIX_REGIONS

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
WEB_PAGE = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "webpages"
    / "furniture"
    / "region_halland_vfu.html"
)
sys.path.insert(0, str(CORPUS.parent / "tests" / "pipeline" / "extract"))
from extract_builders import build_docx, build_scan, corpus_blocks  # noqa: E402

CSV_FILES = (*io.OUTPUT_FILES.values(), io.ERRORS_FILE)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus_with_bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for path in CORPUS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    # The same notes as a Word file, and the national summary as a scan (read by OCR).
    (folder / "001_kopia.docx").write_bytes(build_docx(corpus_blocks("001_aeb9084501ce30c8.txt")))
    # The scan keeps the summary's prose, not its closing list of links named after the regions:
    # a scan drawn in one type size gives OCR no cue that those are links rather than headings.
    summary = (CORPUS / "002_324f8cb48e0e37e8.txt").read_text(encoding="utf-8")
    prose = [line for line in summary.split("Mötesanteckningar")[0].splitlines() if line]
    (folder / "002_skannad.pdf").write_bytes(build_scan(prose))
    # A saved web page with its navigation, cookie dialog, contact block and footer.
    shutil.copy(WEB_PAGE, folder / WEB_PAGE.name)
    (folder / "tom.txt").write_bytes(b"")
    (folder / "bild.xyz").write_bytes(b"\x89PNG\r\n")
    (folder / "skrap.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    (folder / "trasig.docx").write_bytes(b"PK\x03\x04" + b"\x00\xff" * 500)
    (folder / "metadata.csv").write_text(
        "document,region,date,meeting\n"
        "004_77aaf0857291a2ba.txt,Sydöstra,2022-06-01,Workshop RSL och RD\n"
        "002_324f8cb48e0e37e8.txt,,,Nationell sammanställning\n",
        encoding="utf-8",
    )
    with (folder / "stor.txt").open("wb") as handle:
        handle.truncate(200_000_000)  # a sparse 200 MB text file
    (folder / "english.txt").write_text(
        "Minutes of the meeting. The group discussed how the regions and the universities "
        "should work together on the supply of staff, and it was agreed that we will need a "
        "shared plan for the next year, with clear roles for all of the partners that are "
        "involved in the work and a budget that is fair to each of them.\n",
        encoding="utf-8",
    )
    return folder


class _RecordedProgress:
    """A `flows.progress.Progress` that remembers what the flow reported."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def start(self, stage: str, total: int) -> None:
        self.totals[stage], self.done[stage] = total, 0

    def advance(self, stage: str, n: int = 1) -> None:
        self.done[stage] += n

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def progress() -> tuple[_RecordedProgress, _RecordedProgress]:
    """What each of the two runs of `runs` reported."""
    return _RecordedProgress(), _RecordedProgress()


@pytest.fixture(scope="module")
def runs(
    prefect_harness: None,
    corpus_with_bad_files: Path,
    config: Config,
    tmp_path_factory: pytest.TempPathFactory,
    progress: tuple[_RecordedProgress, _RecordedProgress],
) -> Iterator[tuple[RunReport, RunReport]]:
    output = tmp_path_factory.mktemp("outputs")
    cache = tmp_path_factory.mktemp("cache")
    first = theme_map(corpus_with_bad_files, output, config, cache_dir=cache, progress=progress[0])
    second = theme_map(  # the same inputs: without force, it would find them unchanged
        corpus_with_bad_files, output, config, cache_dir=cache, progress=progress[1], force=True
    )
    yield first, second


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_output_is_written(runs: tuple[RunReport, RunReport]) -> None:
    run_dir = runs[0].run_dir
    for name in (*CSV_FILES, "manifest.json", "summary.md"):
        assert (run_dir / name).is_file(), name
    assert runs[0].n_documents == 8
    assert runs[0].n_statements > 400


def test_counts_matrix_covers_all_regions_and_core_themes(
    runs: tuple[RunReport, RunReport],
) -> None:
    rows = {r["theme_id"]: r for r in _rows(runs[0].run_dir / "theme_region_counts.csv")}
    header = list(rows["N_statements"])
    assert header == [
        "theme_id",
        "theme_label",
        *(r.value for r in SIX_REGIONS),
        "Nationell",
        "Okänd",
        "Totalt",
    ]
    for region in SIX_REGIONS:
        assert int(rows["N_statements"][region.value]) >= 1, region
    for theme in ("målbild", "roller", "finansiering", "lärmiljö"):
        assert int(rows[theme]["Totalt"]) > 0, theme
    assert "ej_tilldelad" in rows
    # Acronym lists and counts form no inductive theme any more (tests/pipeline/test_inductive.py
    # shows HDBSCAN still finding a real topic the codebook does not name).
    for theme_id in (t for t in rows if t.startswith("inductive_")):
        assert not any(ch.isdigit() for ch in rows[theme_id]["theme_label"]), theme_id
    themes = [t for t in rows if not t.startswith("N_")]
    assert sum(int(rows[t]["Totalt"]) for t in themes) == int(rows["N_statements"]["Totalt"])
    assert int(rows["N_documents"]["Totalt"]) == 8
    assert int(rows["N_statements"]["Okänd"]) == 0  # every document here names its region


def test_fact_sheets_and_attendance_are_kept_apart_from_opinions(
    runs: tuple[RunReport, RunReport],
) -> None:
    themes = {r["id"]: r["theme_id"] for r in _rows(runs[0].run_dir / "statements.csv")}
    facts = [
        "003_fb89202d20482178.txt:23:1",  # 44 kommuner
        "003_fb89202d20482178.txt:48:1",  # 5 lärosäten
        "003_fb89202d20482178.txt:136:1",  # 5 av 5 lärosäten
        "003_fb89202d20482178.txt:199:1",  # Totalt 19 deltagare exkl. Socialstyrelsen och UKÄ.
    ]
    assert [themes[i] for i in facts] == ["mötesfakta"] * len(facts)
    # ... while the participants' own words on the number of places stay in dimensionering.
    assert themes["001_aeb9084501ce30c8.txt:117:1"] == "dimensionering"


def test_word_and_scanned_documents_go_through_the_same_pipeline(
    runs: tuple[RunReport, RunReport],
) -> None:
    rows = _rows(runs[0].run_dir / "statements.csv")
    by_document: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_document.setdefault(row["document"], []).append(row)
    docx, txt = by_document["001_kopia.docx"], by_document["001_aeb9084501ce30c8.txt"]
    assert [(r["text"], r["polarity"], r["region"]) for r in docx] == [
        (r["text"], r["polarity"], r["region"]) for r in txt
    ]
    scanned = by_document["002_skannad.pdf"]
    # Its title line is a heading, as in the text original; the four paragraphs are statements.
    assert len(scanned) >= 4
    assert {r["ocr"] for r in scanned} == {"True"} and {r["region"] for r in scanned} == {
        "Nationell"
    }
    assert {r["ocr"] for r in txt} == {"False"}
    formats = {r["document"]: r["format"] for r in _rows(runs[0].run_dir / "documents.csv")}
    assert (formats["001_kopia.docx"], formats["002_skannad.pdf"]) == ("docx", "pdf")


def test_bad_files_are_reported_and_the_rest_processed(
    runs: tuple[RunReport, RunReport],
) -> None:
    run_dir = runs[0].run_dir
    errors = _rows(run_dir / "errors.csv")
    by_file = {e["file"]: e for e in errors}
    assert sorted(by_file) == [
        "bild.xyz",
        "english.txt",
        "skrap.pdf",
        "stor.txt",
        "tom.txt",
        "trasig.docx",
    ]
    assert "unsupported file type '.xyz'" in by_file["bild.xyz"]["what"]
    assert "over the limit of 50,000,000" in by_file["stor.txt"]["what"]
    # A limit's fix names the config file the run used.
    fix = by_file["stor.txt"]["fix"]
    assert fix.startswith("split the file, or raise limits.max_file_bytes in ")
    assert fix.endswith("models/config.yaml")
    assert by_file["tom.txt"]["fix"].startswith("remove it")
    assert "English" in by_file["english.txt"]["what"]
    assert by_file["english.txt"]["where"] == "english.txt: whole document"
    assert all(e["stage"] == "extract" and e["where"] and e["fix"] for e in errors)
    assert "6 documents skipped" in (run_dir / "summary.md").read_text(encoding="utf-8")


def test_skipped_files_are_warned_about_in_the_prefect_log(
    runs: tuple[RunReport, RunReport],
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterLevel

    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(level=LogFilterLevel(ge_=logging.WARNING)))
    warned = {
        name for log in logs for name in ("stor.txt", "tom.txt", "skrap.pdf") if name in log.message
    }
    assert warned == {"stor.txt", "tom.txt", "skrap.pdf"}


def test_metadata_csv_overrides_detection(runs: tuple[RunReport, RunReport]) -> None:
    documents = {r["document"]: r for r in _rows(runs[0].run_dir / "documents.csv")}
    assert documents["004_77aaf0857291a2ba.txt"]["meeting"] == "Workshop RSL och RD"
    assert documents["004_77aaf0857291a2ba.txt"]["date"] == "2022-06-01"
    assert documents["004_77aaf0857291a2ba.txt"]["region_source"] == "metadata"
    # Empty cells keep what was detected.
    assert documents["002_324f8cb48e0e37e8.txt"]["meeting"] == "Nationell sammanställning"
    assert documents["002_324f8cb48e0e37e8.txt"]["region"] == "Nationell"
    assert documents["002_324f8cb48e0e37e8.txt"]["region_source"] != "metadata"
    # The web page: furniture counted, its stated publication date, its region from its text.
    page = documents[WEB_PAGE.name]
    assert int(page["n_dropped"]) > 20
    assert (page["date"], page["region"]) == ("2023-05-04", "Södra")
    assert {d["n_dropped"] for name, d in documents.items() if name != WEB_PAGE.name} == {"0"}
    statements = _rows(runs[0].run_dir / "statements.csv")
    sources = {r["region_source"] for r in statements if r["document"].startswith("004_")}
    assert sources == {"metadata"}


def test_manifest_describes_the_run(runs: tuple[RunReport, RunReport]) -> None:
    manifest = json.loads((runs[0].run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["data_files"]) == {
        "models/abbreviations.txt",
        "models/codebook.yaml",
        "models/furniture.yaml",
        "models/gazetteer.yaml",
        "models/stopwords_extra.txt",
        "models/vocabulary.yaml",
    }
    assert all(len(digest) == 64 for digest in manifest["data_files"].values())
    assert len(manifest["model"]["content_sha256"]) == 64
    assert manifest["model"]["path"].endswith("models/e5-small-st")
    assert manifest["model"]["precision"] == ("bfloat16" if native_bf16() else "float32")
    assert set(manifest["inputs"]) == {p.name for p in CORPUS.glob("*.txt")} | {
        "tom.txt",
        "bild.xyz",
        "skrap.pdf",
        "trasig.docx",
        "english.txt",
        "stor.txt",
        "metadata.csv",
        "001_kopia.docx",
        "002_skannad.pdf",
        WEB_PAGE.name,
    }
    assert set(manifest["stage_seconds"]) >= {
        "extract",
        "segment",
        "regions",
        "embed",
        "themes",
        "matrix",
    }
    assert manifest["versions"]["prefect"].startswith("3.")
    assert manifest["config"]["seed"] == 20171213


def test_same_input_gives_byte_identical_csvs(runs: tuple[RunReport, RunReport]) -> None:
    first, second = runs
    assert first.run_dir != second.run_dir
    for name in CSV_FILES:
        assert (first.run_dir / name).read_bytes() == (second.run_dir / name).read_bytes(), name


def test_latest_mirrors_the_newest_run(runs: tuple[RunReport, RunReport]) -> None:
    latest = runs[1].run_dir.parent / "latest"
    assert latest.resolve() == runs[1].run_dir.resolve()
    assert (latest / "statements.csv").read_bytes() == (
        runs[1].run_dir / "statements.csv"
    ).read_bytes()


def test_flow_publishes_artifacts(runs: tuple[RunReport, RunReport]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = ["theme-region-counts", "theme-region-shares", "theme-map-report", "theme-map-summary"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    run_dir = runs[0].run_dir
    of_run = {a.key: a for a in artifacts if run_dir.name in (a.description or "")}
    assert set(of_run) == {"theme-region-counts", "theme-region-shares", "theme-map-report"}
    for key, csv_name in [
        ("theme-region-counts", "theme_region_counts.csv"),
        ("theme-region-shares", "theme_region_shares.csv"),
    ]:
        table = of_run[key].data
        rows = json.loads(table) if isinstance(table, str) else table
        expected = _rows(run_dir / csv_name)
        assert [r["theme_id"] for r in rows] == [r["theme_id"] for r in expected], key
        assert [str(r["Totalt"]) for r in rows] == [r["Totalt"] for r in expected], key
    report_uri = (run_dir / io.REPORT_FILE).resolve().as_uri()
    assert report_uri in str(of_run["theme-map-report"].data)
    assert any(a.key == "theme-map-summary" for a in artifacts)


def test_flow_reports_progress(
    runs: tuple[RunReport, RunReport],
    progress: tuple[_RecordedProgress, _RecordedProgress],
    corpus_with_bad_files: Path,
) -> None:
    first, second = progress
    n_files = len(io.corpus_files(corpus_with_bad_files))
    assert first.totals[READ] == first.done[READ] == n_files
    # The first run embeds every statement (and codebook example); the second finds them cached.
    assert first.totals[EMBED] == first.done[EMBED] > runs[0].n_statements // 2
    assert second.totals == {READ: n_files, EMBED: 0} and second.done == second.totals


def test_cli_exit_codes(
    prefect_harness: None,
    corpus_with_bad_files: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "tom.txt").write_bytes(b"")
    store = ["--cache-dir", str(tmp_path / "store")]
    assert main(["run", str(only_bad), "--output", str(tmp_path / "o1"), *store]) == 1
    assert (tmp_path / "store" / STORE_FILE).is_file()
    capsys.readouterr()
    lenient = main(["run", str(corpus_with_bad_files), "--output", str(tmp_path / "o2")])
    assert lenient == 0  # skipped files are reported, not fatal
    printed = capsys.readouterr().out
    assert f"Report:  {tmp_path / 'o2'}" in printed and printed.count("report.html") == 1
    strict = main(["run", str(corpus_with_bad_files), "--output", str(tmp_path / "o2"), "--strict"])
    assert strict == 2
    assert main(["run", str(tmp_path / "missing"), "--output", str(tmp_path / "o3")]) == 3


def test_a_rerun_reads_and_embeds_only_what_the_store_lacks(
    runs: tuple[RunReport, RunReport],
) -> None:
    first, second = (json.loads((r.run_dir / "manifest.json").read_text())["cache"] for r in runs)
    assert first["documents_from_cache"] == 0 and first["texts_embedded"] > 400
    # The readable documents come from the store; the files that failed are tried again.
    readable = runs[1].n_documents
    assert second["documents_from_cache"] == readable == runs[0].n_documents
    assert second["documents_read"] == first["documents_read"] - readable
    assert second["texts_embedded"] == 0
    assert first["documents_segmented"] == readable and second["documents_segmented"] == 0
