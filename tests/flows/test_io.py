"""flows.io: run ids, input and data-file hashes, and the CSV dialects a run writes."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flows import io
from pipeline.config import Config, ConfigError, parse_config
from pipeline.matrix import Tables
from pipeline.records import DocumentError


def test_run_ids_never_collide_within_a_second(tmp_path: Path, config: Config) -> None:
    first = io.new_run_id({"a.txt": "0" * 64}, {}, config, tmp_path)
    (tmp_path / first).mkdir()
    second = io.new_run_id({"a.txt": "0" * 64}, {}, config, tmp_path)
    assert second != first and not (tmp_path / second).exists()
    assert second.split("-")[1] == first.split("-")[1]  # same inputs, same digest


def test_run_id_changes_with_inputs_data_files_and_config(tmp_path: Path, config: Config) -> None:
    digest = {"a.txt": "0" * 64}
    base = io.new_run_id(digest, {}, config, tmp_path).split("-")[1]
    assert io.new_run_id({"a.txt": "1" * 64}, {}, config, tmp_path).split("-")[1] != base
    assert io.new_run_id(digest, {"models/codebook.yaml": "2"}, config, tmp_path).split("-")[1] != (
        base
    )
    other = config.model_copy(update={"seed": config.seed + 1})
    assert io.new_run_id(digest, {}, other, tmp_path).split("-")[1] != base


def test_input_hashes_include_metadata_csv(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("hej", encoding="utf-8")
    (tmp_path / io.METADATA_FILE).write_text("document,region\n", encoding="utf-8")
    files = io.corpus_files(tmp_path)
    assert [p.name for p in files] == ["a.txt"]
    hashes = io.input_hashes(tmp_path, files)
    assert set(hashes) == {"sub/a.txt", "metadata.csv"}
    assert hashes["sub/a.txt"] == io.sha256_file(tmp_path / "sub" / "a.txt")


def test_data_file_hashes_cover_what_a_run_reads(config: Config) -> None:
    hashes = io.data_file_hashes(config)
    assert set(hashes) == {
        "models/abbreviations.txt",
        "models/codebook.yaml",
        "models/furniture.yaml",
        "models/gazetteer.yaml",
        "models/stopwords_extra.txt",
        "models/vocabulary.yaml",
    }
    assert hashes["models/codebook.yaml"] == io.sha256_file(config.resolve("models/codebook.yaml"))


def test_excel_sv_dialect_writes_semicolons_decimal_comma_bom_and_crlf() -> None:
    frame = pd.DataFrame({"text": ["Västra; Södra", 'sa "ja"'], "n": [3, 12], "share": [2.5, 97.5]})
    assert io._csv_bytes(frame) == (
        'text,n,share\nVästra; Södra,3,2.5\n"sa ""ja""",12,97.5\n'.encode()
    )
    assert io._csv_bytes(frame, "excel-sv") == (
        '\ufefftext;n;share\r\n"Västra; Södra";3;2,5\r\n"sa ""ja""";12;97,5\r\n'.encode()
    )
    errors = [DocumentError("ö.pdf", "extract", "ö.pdf: page 2", "encrypted; no text", "save it")]
    assert io.errors_csv(errors, "excel-sv") == (
        "\ufefffile;stage;where;what;fix\r\n"
        'ö.pdf;extract;ö.pdf: page 2;"encrypted; no text";save it\r\n'.encode()
    )
    assert io.ERROR_COLUMNS == ("file", "stage", "where", "what", "fix")


def test_csv_dialect_is_a_config_key_with_listed_values(config: Config) -> None:
    assert config.outputs.csv_dialect == "comma"
    assert parse_config("outputs:\n  csv_dialect: excel-sv\n").outputs.csv_dialect == "excel-sv"
    with pytest.raises(ConfigError, match=r"outputs\.csv_dialect.*'comma' or 'excel-sv'"):
        parse_config("outputs:\n  csv_dialect: semicolon\n")


def test_cli_flag_sets_the_dialect_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import flows.prefect_api
    import flows.theme_map
    from flows.cli import main

    seen: list[Config] = []

    def fake_theme_map(
        corpus: Path, output: Path, config: Config, **_: Any
    ) -> flows.theme_map.RunReport:
        seen.append(config)
        return flows.theme_map.RunReport(output / "run", 1, 1)

    monkeypatch.setattr(flows.theme_map, "theme_map", fake_theme_map)
    monkeypatch.setattr(flows.prefect_api, "prefect_api", contextlib.nullcontext)  # no server
    assert main(["run", str(tmp_path), "--output", str(tmp_path / "out")]) == 0
    out = str(tmp_path / "out")
    assert main(["run", str(tmp_path), "--output", out, "--csv-dialect", "excel-sv"]) == 0
    assert [c.outputs.csv_dialect for c in seen] == ["comma", "excel-sv"]
    assert seen[1].model_copy(update={"outputs": seen[0].outputs}) == seen[0]
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path), "--csv-dialect", "semicolon"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
def test_excel_sv_run_reads_back_into_the_same_tables(
    tmp_path: Path, sample_tables: Tables
) -> None:
    errors = [DocumentError("ö.pdf", "extract", "ö.pdf: file", "encrypted; no text", "save it")]
    comma = io.write_run(tmp_path, "comma", sample_tables, errors, {}, "")
    swedish = io.write_run(tmp_path, "sv", sample_tables, errors, {}, "", csv_dialect="excel-sv")
    for filename in [*io.OUTPUT_FILES.values(), "errors.csv"]:
        raw = (swedish / filename).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), filename
        assert raw.count(b"\n") == raw.count(b"\r\n") > 0, filename
        expected = pd.read_csv(comma / filename)
        read = pd.read_csv(swedish / filename, sep=";", decimal=",", encoding="utf-8-sig")
        pd.testing.assert_frame_equal(read, expected, check_exact=True, obj=filename)
        assert b"\r" not in (comma / filename).read_bytes(), filename
    shares = (swedish / "theme_region_shares.csv").read_text(encoding="utf-8-sig")
    assert shares.startswith("theme_id;theme_label;Norra;Mellansverige;Stockholm-Gotland;Västra;")
    assert any("," in cell and cell[0].isdigit() for cell in shares.split(";"))  # 12,5
    assert (swedish / io.WORKBOOK_FILE).read_bytes() == (comma / io.WORKBOOK_FILE).read_bytes()
    for filename in [*io.OUTPUT_FILES.values(), "errors.csv"]:  # what review and evaluate read
        with (comma / filename).open(encoding="utf-8", newline="") as handle:
            expected_rows = list(csv.DictReader(handle))
        assert io.read_run_csv(swedish / filename) == expected_rows, filename
        assert io.read_run_csv(comma / filename) == expected_rows, filename


def test_the_furniture_file_is_loaded_from_the_config(config: Config) -> None:
    furniture = io.load_furniture(config)
    assert "nav" in furniture.tags
    assert any(p.fullmatch("Läs mer") for p in furniture.lines)
