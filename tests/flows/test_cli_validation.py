"""Bad inputs stop `temakarta run` before the flow starts: exit 3, file:line, what is wrong, the
allowed values and how to fix it — no traceback, no run folder, the model never loaded.

Each test breaks one input of a good set-up (two sample documents, the project's data files) and
runs the real CLI in this process with the flow replaced by a tripwire: reaching the flow fails
the test. `test_console_shows_no_traceback` runs the installed command as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import flows.theme_map
from flows import preflight
from flows.cli import main
from flows.io import load_config, load_project_data
from pipeline.config import DEFAULT_CONFIG_PATH, PROJECT_ROOT, Config

CORPUS = PROJECT_ROOT / "corpus"
DOCS = ("000_cc70e5e80d086de1.txt", "004_77aaf0857291a2ba.txt")
CODEBOOK = PROJECT_ROOT / "models" / "codebook.yaml"
GAZETTEER = PROJECT_ROOT / "models" / "gazetteer.yaml"
FURNITURE = PROJECT_ROOT / "models" / "furniture.yaml"
EXIT_USAGE = 3


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "korpus"
    folder.mkdir()
    for name in DOCS:
        shutil.copy(CORPUS / name, folder / name)
    return folder


@pytest.fixture(autouse=True)
def flow_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flow must not start on a bad input."""

    def tripwire(*args: object, **kwargs: object) -> None:
        raise AssertionError("the flow started although an input was bad")

    monkeypatch.setattr(flows.theme_map, "theme_map", tripwire)


Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """`temakarta run CORPUS --output OUT [--config CFG]`; returns (exit code, stderr) and checks
    that nothing was written to the output folder and no traceback was printed."""

    def go(*, config: str | None = None, output: Path | None = None) -> tuple[int, str]:
        out = output or tmp_path / "ut"
        argv = ["run", str(corpus), "--output", str(out), "--quiet"]
        if config is not None:
            path = tmp_path / "min-config.yaml"
            path.write_text(config, encoding="utf-8")
            argv += ["--config", str(path)]
        code = main(argv)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err + captured.out
        assert not out.is_dir() or not list(out.iterdir()), "a run folder was written"
        return code, captured.err

    return go


def _config_with(extra: str) -> str:
    return DEFAULT_CONFIG_PATH.read_text(encoding="utf-8") + extra


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- config ----------------------------------------------------------------------------------


def test_misspelled_top_level_key(run: Run, tmp_path: Path) -> None:
    text = _config_with("seeed: 7\n")
    code, err = run(config=text)
    assert code == EXIT_USAGE
    config = tmp_path / "min-config.yaml"
    assert f"{config}:{_line_of(text, 'seeed')}: seeed: unknown key — did you mean 'seed'?" in err
    assert "allowed here: seed, gazetteer, furniture, stopwords_extra, abbreviations, model," in err
    assert f"fix: correct it in {config}" in err  # the file in use, not models/config.yaml


def test_misspelled_nested_key(run: Run, tmp_path: Path) -> None:
    code, err = run(config="themes:\n  representative: 5\n")
    assert code == EXIT_USAGE
    assert f"{tmp_path / 'min-config.yaml'}:2: themes.representative: unknown key" in err
    assert "did you mean 'representatives'?" in err


def test_value_outside_the_allowed_ones(run: Run, tmp_path: Path) -> None:
    code, err = run(config="outputs:\n  csv_dialect: semicolon\n")
    assert code == EXIT_USAGE
    assert f"{tmp_path / 'min-config.yaml'}:2: outputs.csv_dialect: " in err
    assert "Input should be 'comma' or 'excel-sv' (got 'semicolon')" in err


def test_representatives_above_the_maximum(run: Run) -> None:
    code, err = run(config="themes:\n  representatives: 11\n")
    assert code == EXIT_USAGE
    assert "themes.representatives: Input should be less than or equal to 10 (got 11)" in err


def test_config_yaml_syntax_error(run: Run, tmp_path: Path) -> None:
    code, err = run(config="model:\n  path: [models/e5\nseed: 1\n")
    assert code == EXIT_USAGE
    assert f"{tmp_path / 'min-config.yaml'}:3: not valid YAML" in err


def test_config_file_missing(run: Run, tmp_path: Path, corpus: Path) -> None:
    code = main(["run", str(corpus), "--config", str(tmp_path / "saknas.yaml")])
    assert code == EXIT_USAGE


# --- codebook and gazetteer --------------------------------------------------------------------


def _broken_copy(tmp_path: Path, source: Path, old: str, new: str) -> tuple[Path, str]:
    text = source.read_text(encoding="utf-8")
    assert old in text
    broken = text.replace(old, new, 1)
    path = tmp_path / source.name
    path.write_text(broken, encoding="utf-8")
    return path, broken


def test_furniture_unknown_key(run: Run, tmp_path: Path) -> None:
    path, text = _broken_copy(tmp_path, FURNITURE, "  classes:", "  klasses:")
    code, err = run(config=f"furniture: {path}\n")
    assert code == EXIT_USAGE
    assert f"{path}:{_line_of(text, 'klasses:')}: elements.klasses: unknown key" in err
    assert "did you mean 'classes'?" in err
    assert "Traceback" not in err


def test_furniture_bad_pattern(run: Run, tmp_path: Path) -> None:
    path, text = _broken_copy(tmp_path, FURNITURE, '  - "läs mer', '  - "läs (mer')
    code, err = run(config=f"furniture: {path}\n")
    assert code == EXIT_USAGE
    assert f"{path}:{_line_of(text, 'läs (mer')}: lines[0]: " in err
    assert "is not a regular expression" in err


def test_codebook_yaml_syntax_error(run: Run, tmp_path: Path) -> None:
    path, text = _broken_copy(tmp_path, CODEBOOK, "  - id: roller", "  - id: [roller")
    code, err = run(config=f"themes:\n  codebook: {path}\n")
    assert code == EXIT_USAGE
    assert f"{path}:{_line_of(text, 'id: [roller') + 1}: not valid YAML" in err
    assert len(err.splitlines()) <= 4  # the problem and its fix, not a 202-line traceback


def test_codebook_unknown_key_names_line_and_allowed_keys(run: Run, tmp_path: Path) -> None:
    path, text = _broken_copy(
        tmp_path, CODEBOOK, "    label: Tydliga roller", "    lable: Tydliga roller"
    )
    code, err = run(config=f"themes:\n  codebook: {path}\n")
    assert code == EXIT_USAGE
    line = _line_of(text, "lable: Tydliga roller")
    assert f"{path}:{line}: themes[1].lable: unknown key — did you mean 'label'?" in err
    assert "allowed here: id, label, definition, examples, terms, patterns" in err


def test_gazetteer_group_as_a_string_is_an_error(run: Run, tmp_path: Path) -> None:
    old = (
        'names: ["södra sjukvårdsregion\\\\w*", "sjukvårdsregion syd", "södra regionvårdsnämnden"]'
    )
    path, text = _broken_copy(tmp_path, GAZETTEER, old, "names: Skåne")
    code, err = run(config=f"gazetteer: {path}\n")
    assert code == EXIT_USAGE
    line = _line_of(text, "names: Skåne")
    assert f"{path}:{line}: regions.Södra.names: Input should be a valid list (got 'Skåne')" in err


def test_gazetteer_unknown_region(run: Run, tmp_path: Path) -> None:
    path, text = _broken_copy(tmp_path, GAZETTEER, "  Södra:", "  Östra:")
    code, err = run(config=f"gazetteer: {path}\n")
    assert code == EXIT_USAGE
    assert (
        f"{path}:{_line_of(text, 'Östra:')}: regions.Östra: unknown region; allowed: Norra," in err
    )


def test_data_file_missing_names_the_config_key_file(run: Run, tmp_path: Path) -> None:
    code, err = run(config=f"stopwords_extra: {tmp_path / 'saknas.txt'}\n")
    assert code == EXIT_USAGE
    assert f"{tmp_path / 'saknas.txt'}: cannot read it (No such file or directory)" in err
    assert f"check the path in {tmp_path / 'min-config.yaml'}" in err


# --- metadata.csv and labels.csv --------------------------------------------------------------


def _metadata(corpus: Path, text: str) -> None:
    (corpus / "metadata.csv").write_text(text, encoding="utf-8")


def test_metadata_unknown_region(run: Run, corpus: Path) -> None:
    _metadata(corpus, f"document,region\n{DOCS[0]},Gotland\n")
    code, err = run()
    assert code == EXIT_USAGE
    assert f"{corpus / 'metadata.csv'}:2: region 'Gotland' is not a region; allowed: Norra, " in err
    assert "Stockholm-Gotland, Västra, Sydöstra, Södra, Nationell" in err


def test_metadata_misspelled_column(run: Run, corpus: Path) -> None:
    _metadata(corpus, f"document,regon\n{DOCS[0]},Södra\n")
    code, err = run()
    assert code == EXIT_USAGE
    assert (
        f"{corpus / 'metadata.csv'}:1: unknown column 'regon' — did you mean 'region'?; "
        "allowed: document, region, date, meeting"
    ) in err


def test_metadata_document_not_in_the_corpus(run: Run, corpus: Path) -> None:
    _metadata(corpus, f"document,region\n{DOCS[0]},Södra\n000_cc70e5e80d086de1.docx,Södra\n")
    code, err = run()
    assert code == EXIT_USAGE
    assert (
        f"{corpus / 'metadata.csv'}:3: document '000_cc70e5e80d086de1.docx' is not in the corpus "
        f"folder — did you mean '{DOCS[0]}'?; corpus files: {DOCS[0]}, {DOCS[1]}"
    ) in err


def test_metadata_bad_date(run: Run, corpus: Path) -> None:
    _metadata(corpus, f"document,date\n{DOCS[0]},13/12/2017\n")
    code, err = run()
    assert code == EXIT_USAGE
    assert "metadata.csv:2: date '13/12/2017' is not a date in the form YYYY-MM-DD" in err


def test_metadata_without_a_document_column(run: Run, corpus: Path) -> None:
    _metadata(corpus, f"fil,region\n{DOCS[0]},Södra\n")
    code, err = run()
    assert code == EXIT_USAGE
    assert "metadata.csv:1: no column 'document' (found: 'fil', 'region')" in err


def test_metadata_capitalised_header_is_read(corpus: Path, tmp_path: Path) -> None:
    # `Document`, ` Region ` are the columns document and region (as in labels.csv), not a
    # misleading "empty 'document'".
    _metadata(corpus, f"Document, Region ,Date\n{DOCS[0]},Södra,2017-12-13\n")
    config = _project_config()
    preflight.check_inputs(corpus, tmp_path / "ut", config)
    data = load_project_data(config, corpus)
    assert data.metadata[DOCS[0]].region == "Södra"
    assert data.metadata[DOCS[0]].date == "2017-12-13"


def test_labels_without_a_theme_column(run: Run, corpus: Path) -> None:
    (corpus / "labels.csv").write_text(f"document,text,label\n{DOCS[0]},x,roller\n", "utf-8")
    code, err = run()
    assert code == EXIT_USAGE
    assert (
        f"{corpus / 'labels.csv'}:1: missing column(s) theme; expected columns document, text, "
        "theme (found 'document', 'text', 'label')"
    ) in err


# --- model and output folders, corpus ----------------------------------------------------------


def test_model_folder_missing(run: Run, tmp_path: Path) -> None:
    code, err = run(config=f"model:\n  path: {tmp_path / 'ingen-modell'}\n")
    assert code == EXIT_USAGE
    assert f"{tmp_path / 'ingen-modell'}: the embedding model folder does not exist" in err
    assert "temakarta build-model" in err


def test_model_folder_without_its_files(run: Run, tmp_path: Path) -> None:
    (tmp_path / "halv-modell").mkdir()
    (tmp_path / "halv-modell" / "config.json").write_text("{}", encoding="utf-8")
    code, err = run(config=f"model:\n  path: {tmp_path / 'halv-modell'}\n")
    assert code == EXIT_USAGE
    assert (
        "not a built model: modules.json, model.safetensors, tokenizer.json, CONTENT_SHA256" in err
    )


def test_bfloat16_on_a_cpu_whose_onednn_refuses_it(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe itself runs for real in tests/pipeline/test_embed.py; here this CPU is one
    # without bf16, whatever the test machine is.
    monkeypatch.setattr(preflight, "bf16_refused", lambda: "no inner product for bf16")
    code, err = run(config="model:\n  precision: bfloat16\n")
    assert code == EXIT_USAGE
    assert (
        f"{tmp_path / 'min-config.yaml'}: model.precision is bfloat16, but torch's oneDNN refuses "
        "bf16 matrix products on this CPU (no inner product for bf16; it lacks avx512_bf16 and "
        "amx_bf16)\n  fix: set model.precision: auto (bf16 only where the CPU has it) or float32"
    ) in err


def test_output_folder_that_cannot_be_written(run: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "en-fil"
    blocker.write_text("", encoding="utf-8")  # root can write anywhere, but not below a file
    code, err = run(output=blocker / "ut")
    assert code == EXIT_USAGE
    assert f"{blocker / 'ut'}: cannot write run folders here (Not a directory)" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_output_folder(run: Run, tmp_path: Path) -> None:
    locked = tmp_path / "låst"
    locked.mkdir(mode=0o500)
    code, err = run(output=locked)
    assert code == EXIT_USAGE
    assert "cannot write run folders here (Permission denied)" in err


def test_corpus_that_is_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "saknas"), "--output", str(tmp_path / "ut")]) == EXIT_USAGE
    assert f"{tmp_path / 'saknas'}: not a folder" in capsys.readouterr().err


def test_every_problem_is_listed_at_once(run: Run, corpus: Path, tmp_path: Path) -> None:
    _metadata(corpus, f"document,regon\n{DOCS[0]},Södra\n")
    code, err = run(config=f"model:\n  path: {tmp_path / 'ingen-modell'}\n")
    assert code == EXIT_USAGE
    assert err.startswith("temakarta: cannot start: 2 problems")
    assert "unknown column 'regon'" in err and "model folder does not exist" in err


def _project_config() -> Config:
    return load_config()


# --- as a user sees it --------------------------------------------------------------------------


def test_console_shows_no_traceback(corpus: Path, tmp_path: Path) -> None:
    _metadata(corpus, f"document,region\n{DOCS[0]},Gotland\n")
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(corpus), "--output", str(tmp_path / "ut")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        check=False,
    )
    assert done.returncode == EXIT_USAGE
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "temakarta: cannot start: 1 problem",
        f"{corpus / 'metadata.csv'}:2: region 'Gotland' is not a region; allowed: Norra, "
        "Mellansverige, Stockholm-Gotland, Västra, Sydöstra, Södra, Nationell (or empty: keep the "
        "detected one)",
        "  fix: write one of the allowed regions, spelled as listed",
    ]
    assert not (tmp_path / "ut").exists() or not list((tmp_path / "ut").iterdir())


def test_output_disk_without_room_for_the_run(run: Run, corpus: Path, tmp_path: Path) -> None:
    # A sparse file takes no room but counts at its size: the run folder of a corpus that big
    # would not fit on the disk of the output folder (tmp_path's).
    free = shutil.disk_usage(tmp_path).free
    with (corpus / "stor.txt").open("wb") as handle:
        handle.truncate(free // 6 + 2**30)
    limits = f"max_file_bytes: {2**60}"
    config = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    code, err = run(config=config.replace("max_file_bytes: 50000000", limits))
    assert code == EXIT_USAGE
    assert f"{tmp_path / 'ut'}: only " in err
    assert "MB free on its disk; this run needs about" in err
    assert "give --output a folder on another disk" in err
