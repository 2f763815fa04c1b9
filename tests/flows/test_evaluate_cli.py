"""`temakarta evaluate`: a small run folder written by hand, and a real run of the sample corpus
(the pipeline stages with the real model, written by `flows.io.write_run` as a run writes it)
against the real gold files (the copies in tests/data/)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from flows import io
from flows.cli import main
from pipeline.config import PROJECT_ROOT
from pipeline.matrix import Tables

GOLD = PROJECT_ROOT / "tests" / "data"
DOC = "000_möte.txt"


def _write(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], bom: bool = False
) -> None:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run folder as `temakarta run` writes it, trimmed to the columns that matter here."""
    folder = tmp_path / "run"
    folder.mkdir()
    header = ("id", "document", "page", "line", "heading_path", "text", "theme_id",
              "theme_label", "score", "method")  # fmt: skip
    _write(
        folder / "statements.csv",
        header,
        [
            (f"{DOC}:3:1", DOC, "", "3", "Grupp 1", "Mer pengar till VFU", "finansiering",
             "Finansiering", "0.91", "codebook"),
            (f"{DOC}:4:1", DOC, "", "4", "Grupp 1", "Vem har mandatet?", "roller",
             "Tydliga roller och uppdrag", "0.88", "codebook"),
            (f"{DOC}:5:1", DOC, "", "5", "Grupp 1", "Storlek", "inductive_01", "storlek",
             "0.7", "hdbscan"),
            (f"{DOC}:5:2", DOC, "", "5", "Grupp 1", "Storlek", "ej_tilldelad", "ej tilldelad",
             "0.6", "unassigned"),
            (f"{DOC}:7:1", DOC, "", "7", "Grupp 2", "Handledning  saknas", "roller",
             "Tydliga roller och uppdrag", "0.86", "codebook+heading"),
        ],
    )  # fmt: skip
    _write(
        folder / "themes.csv",
        ("theme_id", "theme_label", "origin", "keywords", "size"),
        [
            ("finansiering", "Finansiering", "codebook", "medel", "1"),
            ("lärmiljö", "Lärande miljö", "codebook", "vfu", "0"),
            ("roller", "Tydliga roller och uppdrag", "codebook", "roll", "2"),
            ("inductive_01", "storlek", "inductive", "storlek", "1"),
            ("ej_tilldelad", "ej tilldelad", "unassigned", "", "1"),
        ],
    )
    return folder


def _labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.csv"
    _write(
        path,
        ("document", "page", "line", "heading_path", "text", "label", "annotator_1"),
        [
            (DOC, "", "3", "Grupp 1", "Mer pengar till VFU", "finansiering", "finansiering"),
            (DOC, "", "4", "Grupp 1", "Vem har mandatet?", "roller", "roller"),
            (DOC, "", "5", "Grupp 1", "Storlek", "other", "other"),
            (DOC, "", "5", "Grupp 1", "Storlek", "other", "other"),
            (DOC, "", "7", "Grupp 2", "Handledning saknas", "lärmiljö", "lärmiljö"),
            ("999_annan.txt", "", "1", "", "Finns inte", "roller", "roller"),
        ],
        bom=True,
    )
    return path


def test_evaluate_prints_the_report_and_writes_json(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "metrics.json"
    code = main(
        ["evaluate", str(_labels(tmp_path)), str(run_dir), "--json", str(out), "--seed", "3"]
    )
    assert code == 0
    report = capsys.readouterr().out
    assert "Label rows 6: matched 5, unmatched 1" in report
    assert "Accuracy       0.800  (4/5)" in report
    assert "Codebook themes (from themes.csv): finansiering, lärmiljö, roller;" in report
    assert "   1  lärmiljö -> roller\n        - Handledning saknas\n" in report
    assert "row 6: 999_annan.txt line 1 [roller] Finns inte" in report
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["n_matched"] == 5 and metrics["n_unmatched"] == 1
    assert metrics["bootstrap"] == {"seed": 3, "n_boot": 1000}
    assert metrics["confusion"]["labels"] == ["finansiering", "lärmiljö", "roller", "other"]
    assert metrics["confusion"]["matrix"] == [
        [1, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 2],
    ]
    # same inputs, same seed: the same report
    assert main(["evaluate", str(_labels(tmp_path)), str(run_dir), "--seed", "3"]) == 0
    assert capsys.readouterr().out == report


def test_without_themes_csv_the_codebook_is_inferred(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run_dir / "themes.csv").unlink()
    assert main(["evaluate", str(_labels(tmp_path)), str(run_dir)]) == 0
    assert (
        "Codebook themes (inferred from the theme ids seen): finansiering, lärmiljö, roller;"
        in (capsys.readouterr().out)
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no labels", "labels.csv: labels file not found; check the path"),
        ("no statements", "run: no statements.csv in this folder; give a run folder such as"),
        ("bad columns", "labels.csv: columns found: document, line, category; expected document"),
        ("bad label", "labels.csv: row 1: label 'ekonomi' is neither a codebook theme of the run"),
    ],
)
def test_usage_errors_exit_3_with_one_line(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    labels = tmp_path / "labels.csv"
    if case == "no statements":
        _labels(tmp_path)
        (run_dir / "statements.csv").unlink()
    elif case == "bad columns":
        _write(labels, ("document", "line", "category"), [(DOC, "3", "Ekonomi")])
    elif case == "bad label":
        _write(labels, ("document", "text", "label"), [(DOC, "Mer pengar till VFU", "Ekonomi")])
    assert main(["evaluate", str(labels), str(run_dir)]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("temakarta evaluate: ") and message in captured.err


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory, sample_tables: Tables) -> Path:
    """A run folder of the five sample documents, themed with the real model and project data."""
    return io.write_run(tmp_path_factory.mktemp("outputs"), "sample", sample_tables, [], {}, "")


@pytest.mark.slow
@pytest.mark.parametrize("gold", ["analyst_labels.csv", "seed_categories.csv"])
def test_real_run_against_real_gold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gold: str, real_run: Path
) -> None:
    with (GOLD / gold).open(encoding="utf-8-sig", newline="") as handle:
        n_rows = sum(1 for _ in csv.DictReader(handle))
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(GOLD / gold), str(real_run), "--json", str(out)]) == 0
    report = capsys.readouterr().out
    assert f"Run:         {real_run / 'statements.csv'}" in report
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["n_label_rows"] == n_rows
    # the gold files were drawn from this corpus: (nearly) every row finds its statement
    assert metrics["n_matched"] >= 0.95 * n_rows
    low, high = metrics["kappa_ci95"]
    assert -1 <= low <= metrics["kappa"] <= high <= 1
    assert 0 < metrics["accuracy"] <= 1 and 0 < metrics["macro_f1"] <= 1


def test_a_run_written_for_swedish_excel_is_read_too(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--csv-dialect excel-sv` writes `;`-separated UTF-8 with BOM and CRLF.
    sv_dir = tmp_path / "run-sv"
    sv_dir.mkdir()
    for name in ("statements.csv", "themes.csv"):
        with (run_dir / name).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        with (sv_dir / name).open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle, delimiter=";", lineterminator="\r\n").writerows(rows)
    labels = _labels(tmp_path)
    outputs = []
    for folder in (run_dir, sv_dir):
        out = tmp_path / f"{folder.name}.json"
        assert main(["evaluate", str(labels), str(folder), "--json", str(out)]) == 0
        outputs.append(json.loads(out.read_text(encoding="utf-8")))
    capsys.readouterr()
    assert outputs[0]["n_matched"] == outputs[1]["n_matched"] > 0
    assert outputs[0]["kappa"] == outputs[1]["kappa"]


def test_the_bootstrap_seed_is_the_runs_config_seed(tmp_path: Path) -> None:
    from flows.evaluate import run_seed
    from pipeline.evaluate import DEFAULT_SEED

    assert run_seed(tmp_path) == DEFAULT_SEED  # no manifest
    (tmp_path / "manifest.json").write_text('{"config": {"seed": 42}}', encoding="utf-8")
    assert run_seed(tmp_path) == 42
    (tmp_path / "manifest.json").write_text('{"config": {}}', encoding="utf-8")
    assert run_seed(tmp_path) == DEFAULT_SEED
