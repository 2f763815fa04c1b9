"""Reruns of the real flow on a small copy of the sample corpus: the fingerprint skip, --force,
changes.csv, the empty corpus, the user's umask on run folders."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Imported here, not first inside a test: Prefect's console log handler keeps the stream it
# finds at import, and under capsys that stream is closed after the test.
import flows.theme_map  # noqa: F401
from flows.cli import main
from pipeline.changes import CHANGE_COLUMNS

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
FIRST, SECOND = "004_77aaf0857291a2ba.txt", "003_fb89202d20482178.txt"

pytestmark = pytest.mark.slow


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _runs(output: Path) -> list[str]:
    return sorted(p.name for p in output.iterdir() if p.is_dir() and not p.is_symlink())


@pytest.fixture
def umask_002() -> Iterator[None]:
    old = os.umask(0o002)
    yield
    os.umask(old)


def test_unchanged_inputs_skip_force_reprocesses_and_changes_are_listed(
    prefect_harness: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    umask_002: None,
) -> None:
    corpus, output = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    shutil.copy(CORPUS / FIRST, corpus / FIRST)
    assert main(["run", str(corpus), "--output", str(output), "--quiet"]) == 0
    first = (output / "latest").resolve()
    assert first.stat().st_mode & 0o777 == 0o775  # the umask, not a temp folder's 0700
    assert (first / "report.html").stat().st_mode & 0o777 == 0o664
    capsys.readouterr()

    assert main(["run", str(corpus), "--output", str(output), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"Unchanged since {first.name}" in printed
    assert _runs(output) == [first.name]  # nothing written

    (corpus / "labels.csv").write_text("document,text,theme\n", encoding="utf-8")
    assert main(["run", str(corpus), "--output", str(output), "--quiet"]) == 0
    assert "Unchanged" not in capsys.readouterr().out  # labels.csv is an input
    (corpus / "labels.csv").unlink()

    assert main(["run", str(corpus), "--output", str(output), "--quiet", "--force"]) == 0
    forced = (output / "latest").resolve()
    assert len(_runs(output)) == 3 and forced.name not in (first.name,)

    shutil.copy(CORPUS / SECOND, corpus / SECOND)
    assert main(["run", str(corpus), "--output", str(output), "--quiet"]) == 0
    latest = (output / "latest").resolve()
    changes = _rows(latest / "changes.csv")
    assert list(changes[0]) == list(CHANGE_COLUMNS)
    added = [r for r in changes if r["change"] == "added"]
    assert [r["document"] for r in added] == [SECOND] and int(added[0]["current"]) > 0
    total = next(r for r in changes if r["theme_id"] == "N_statements" and r["region"] == "Totalt")
    assert int(total["difference"]) == int(added[0]["current"])
    assert int(total["previous"]) > 0
    summary = (latest / "summary.md").read_text(encoding="utf-8")
    assert summary.splitlines()[2] == f"## What changed since run {forced.name}"
    manifest = json.loads((latest / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_run"] == forced.name and len(manifest["fingerprint"]) == 64


def test_a_corpus_without_readable_documents_leaves_latest(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, output = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    shutil.copy(CORPUS / FIRST, corpus / FIRST)
    assert main(["run", str(corpus), "--output", str(output), "--quiet"]) == 0
    before = (output / "latest").resolve()
    (corpus / FIRST).unlink()
    assert main(["run", str(corpus), "--output", str(output), "--quiet"]) == 1
    assert "no document could be read" in capsys.readouterr().err
    assert (output / "latest").resolve() == before
    (corpus / "tom.txt").write_bytes(b"")
    assert main(["run", str(corpus), "--output", str(output), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"not moved (still {before.name})" in err
    assert (output / "latest").resolve() == before
