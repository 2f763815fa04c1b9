"""The run config: validated, unknown keys rejected with a message that says where."""

from __future__ import annotations

import pytest

from pipeline.config import DEFAULT_CONFIG_PATH, ConfigError, parse_config


def test_project_config_validates() -> None:
    config = parse_config(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), "models/config.yaml")
    assert config.model.prompt == "query: "
    assert config.resolve(config.gazetteer).is_file()
    assert config.resolve(config.themes.codebook).is_file()


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_config("seed: 1\nthemes:\n  treshold: 0.5\n", "my/config.yaml")
    [problem] = excinfo.value.problems
    assert problem.where == "my/config.yaml:3"
    assert problem.what.startswith("themes.treshold: unknown key; allowed here: codebook, ")
    assert "representatives" in problem.what
    assert problem.fix == "correct it in my/config.yaml"


def test_bad_value_and_bad_yaml() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:2: model.batch_size: Input should be greater"):
        parse_config("model:\n  batch_size: 0\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml:2: not valid YAML"):
        parse_config("model: [\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml:1: expected a mapping"):
        parse_config("- 1\n", "c.yaml")
