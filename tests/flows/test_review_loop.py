"""The review loop with the real flow on a copy of the sample corpus: run, review, label, rerun.

Slow (about a minute): three runs of the flow — before the labels, with them, and again with the
same labels for determinism — sharing one output folder and one embedding cache.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows import io
from flows.cache_store import CacheStore
from flows.cli import main
from flows.embed_cache import DEFAULT_CACHE_DIR
from flows.review import REVIEW_COLUMNS, ReviewReport, write_review
from flows.theme_map import RunReport, theme_map
from pipeline.config import Config

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
N_REVIEW = 10
UNMATCHED_TEXT = "Den här meningen finns inte i något dokument"


@dataclass(frozen=True)
class Loop:
    corpus: Path
    first: RunReport
    review: ReviewReport
    cache_unchanged: bool
    reviewed: list[dict[str, str]]
    second: RunReport
    third: RunReport


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*"))}


@pytest.fixture(scope="module")
def loop(prefect_harness: None, config: Config, tmp_path_factory: pytest.TempPathFactory) -> Loop:
    corpus = tmp_path_factory.mktemp("corpus")
    for path in CORPUS.glob("*.txt"):
        shutil.copy(path, corpus / path.name)
    output = tmp_path_factory.mktemp("outputs")
    cache = tmp_path_factory.mktemp("cache")
    CacheStore(DEFAULT_CACHE_DIR).copy_to(cache)  # a head start; the flow adds what is missing

    first = theme_map(corpus, output, config, cache_dir=cache)
    before = _snapshot(cache)
    review = write_review(first.run_dir, N_REVIEW, cache_dir=cache)
    cache_unchanged = _snapshot(cache) == before

    # The analyst files every proposed statement under roller, adds a row with a theme the
    # codebook does not have and one whose text was not copied from the run.
    reviewed = _rows(review.path)
    ids = {row["id"] for row in reviewed}
    other = next(r for r in _rows(first.run_dir / "statements.csv") if r["id"] not in ids)
    extra = [
        {"document": other["document"], "text": other["text"], "theme": "finans"},
        {"document": other["document"], "text": UNMATCHED_TEXT, "theme": "roller"},
    ]
    with (corpus / "labels.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, REVIEW_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows([*({**row, "theme": "roller"} for row in reviewed), *extra])

    second = theme_map(corpus, output, config, cache_dir=cache)
    third = theme_map(corpus, output, config, cache_dir=cache, force=True)  # same inputs
    return Loop(corpus, first, review, cache_unchanged, reviewed, second, third)


@pytest.mark.slow
def test_review_csv_proposes_statements_for_the_analyst(loop: Loop) -> None:
    path = loop.review.path
    assert path == loop.first.run_dir / "review.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbfid,document,page,line,")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == REVIEW_COLUMNS
    rows = loop.reviewed
    assert len(rows) == loop.review.n_selected == N_REVIEW
    assert all(r["theme"] == "" for r in rows)
    order = [(r["document"], int(r["page"] or 0), int(r["line"])) for r in rows]
    assert order == sorted(order)
    statements = {r["id"]: r for r in _rows(loop.first.run_dir / "statements.csv")}
    for row in rows:
        source = statements[row["id"]]
        assert (row["text"], row["proposed_theme"]) == (source["text"], source["theme_id"])
        assert row["confidence"] == source.get("confidence", "")
    assert loop.review.corpus_dir == loop.corpus
    assert "roller" in loop.review.theme_ids and not loop.review.labels_exist


@pytest.mark.slow
def test_review_embeds_nothing_new_for_a_cached_run(loop: Loop) -> None:
    assert loop.cache_unchanged


@pytest.mark.slow
def test_labelled_statements_get_the_analysts_theme(loop: Loop) -> None:
    reviewed = {(r["document"], r["text"]) for r in loop.reviewed}
    rows = _rows(loop.second.run_dir / "statements.csv")
    labelled = [r for r in rows if (r["document"], r["text"]) in reviewed]
    assert {r["id"] for r in loop.reviewed} <= {r["id"] for r in labelled}
    assert {(r["theme_id"], r["method"]) for r in labelled} == {("roller", "analyst")}
    assert all(r["method"] != "analyst" for r in rows if (r["document"], r["text"]) not in reviewed)
    assert loop.second.n_statements == loop.first.n_statements


@pytest.mark.slow
def test_label_rows_that_cannot_be_used_are_reported(loop: Loop) -> None:
    run_dir = loop.second.run_dir
    errors = _rows(run_dir / "errors.csv")
    assert [(e["file"], e["stage"]) for e in errors] == [("labels.csv", "labels")] * 2
    source = loop.corpus / "labels.csv"
    finans, unmatched = sorted(errors, key=lambda e: "finans" not in e["what"])
    assert finans["where"] == f"{source}: row {N_REVIEW + 2}"
    assert finans["what"] == (
        "theme 'finans' is not a codebook theme; expected one of "
        "attraktivitet, dimensionering, finansiering, kunskapsunderlag, ledarskap, lärmiljö, "
        "målbild, mötesfakta, roller, struktur, other"
    )
    assert unmatched["where"] == f"{source}: row {N_REVIEW + 3}"
    assert unmatched["what"].startswith("no statement of ")
    assert UNMATCHED_TEXT in unmatched["what"]
    assert "statements.csv or review.csv" in unmatched["fix"]
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "theme 'finans' is not a codebook theme" in summary
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"]["labels.csv"] == io.sha256_file(source)
    documents = {r["document"] for r in _rows(run_dir / "documents.csv")}
    assert "labels.csv" not in documents


@pytest.mark.slow
def test_the_same_labels_give_byte_identical_csvs(loop: Loop) -> None:
    second, third = loop.second.run_dir, loop.third.run_dir
    assert second != third
    names = sorted(p.name for p in second.glob("*.csv"))
    assert names == sorted(p.name for p in third.glob("*.csv")) and "errors.csv" in names
    for name in names:
        if name == "changes.csv":  # compares with the run before: second with first, ...
            continue
        assert (second / name).read_bytes() == (third / name).read_bytes(), name


@pytest.mark.slow
def test_review_command_says_where_the_file_went_and_what_to_do(
    loop: Loop, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "till_granskning.csv"
    assert main(["review", str(loop.third.run_dir), "--n", "3", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert f"Wrote 3 statements to review: {output}" in printed
    assert "Fill in `theme` (a codebook id or other) and add the rows to " in printed
    assert str(loop.corpus / "labels.csv") in printed  # labels.csv exists now: add, not replace
    reviewed = {r["id"] for r in loop.reviewed}
    assert len(_rows(output)) == 3 and not reviewed & {r["id"] for r in _rows(output)}


def test_review_of_a_missing_run_exits_3_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", str(tmp_path / "saknas")]) == 3
    err = capsys.readouterr().err
    assert (
        err == f"temakarta: {tmp_path / 'saknas'}: not a run folder; give a folder under outputs/\n"
    )
    (tmp_path / "tom").mkdir()
    assert main(["review", str(tmp_path / "tom")]) == 3
    assert "manifest.json: cannot read the run's manifest" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "tom"), "--n", "0"]) == 3


def test_labels_csv_is_read_not_extracted(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hej", encoding="utf-8")
    assert io.load_labels(tmp_path) is None
    # As Excel saves it in a Swedish locale: semicolons, Windows-1252.
    (tmp_path / io.LABELS_FILE).write_bytes(
        "Document;Text;Theme\na.txt;Målbild; roller\n".encode("cp1252")
    )
    assert io.load_labels(tmp_path) == [
        ["Document", "Text", "Theme"],
        ["a.txt", "Målbild", " roller"],
    ]
    (tmp_path / io.LABELS_FILE).write_text(
        'document,text,theme\na.txt,"x, y",roller\n', encoding="utf-8-sig"
    )
    assert io.load_labels(tmp_path) == [["document", "text", "theme"], ["a.txt", "x, y", "roller"]]
    files = io.corpus_files(tmp_path)
    assert [p.name for p in files] == ["a.txt"]
    assert set(io.input_hashes(tmp_path, files)) == {"a.txt", "labels.csv"}
