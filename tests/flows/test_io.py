"""flows.io: run ids, input and data-file hashes."""

from __future__ import annotations

from pathlib import Path

from flows import io
from pipeline.config import Config


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
        "models/gazetteer.yaml",
        "models/stopwords_extra.txt",
    }
    assert hashes["models/codebook.yaml"] == io.sha256_file(config.resolve("models/codebook.yaml"))
