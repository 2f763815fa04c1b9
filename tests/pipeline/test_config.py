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
    with pytest.raises(ConfigError, match=r"models/config.yaml: themes.treshold: Extra inputs"):
        parse_config("themes:\n  treshold: 0.5\n", "models/config.yaml")


def test_bad_value_and_bad_yaml() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml: model.batch_size: Input should be greater"):
        parse_config("model:\n  batch_size: 0\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml: not valid YAML"):
        parse_config("model: [\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml: expected a mapping"):
        parse_config("- 1\n", "c.yaml")
