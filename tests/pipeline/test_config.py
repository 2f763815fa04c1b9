"""The run config: validated, unknown keys rejected with a message that says where."""

from __future__ import annotations

import pytest

from pipeline.config import DEFAULT_CONFIG_PATH, MAX_REPRESENTATIVES, ConfigError, parse_config


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


def test_misspelled_top_level_key_names_its_line_and_the_nearest_key() -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_config("seed: 1\ngazeteer: models/gazetteer.yaml\n", "c.yaml")
    [problem] = excinfo.value.problems
    assert problem.where == "c.yaml:2"
    assert problem.what.startswith("gazeteer: unknown key — did you mean 'gazetteer'?; allowed")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_config("model:\n  batch_size: 0\nlimits:\n  max_pages: -1\n", "c.yaml")
    assert [p.where for p in excinfo.value.problems] == ["c.yaml:2", "c.yaml:4"]


def test_representatives_up_to_the_maximum() -> None:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    assert parse_config(text).themes.representatives == 3
    config = parse_config(f"themes:\n  representatives: {MAX_REPRESENTATIVES}\n")
    assert config.themes.representatives == MAX_REPRESENTATIVES
    with pytest.raises(ConfigError, match=r"less than or equal to 10 \(got 11\)"):
        parse_config("themes:\n  representatives: 11\n")


def test_the_config_knows_the_file_it_came_from() -> None:
    assert parse_config("seed: 1\n", "/elsewhere/config.yaml").source == "/elsewhere/config.yaml"
    assert parse_config("seed: 1\n").source == "models/config.yaml"


def test_precision_is_one_of_three() -> None:
    assert parse_config("model:\n  precision: bfloat16\n", "c.yaml").model.precision == "bfloat16"
    with pytest.raises(ConfigError) as excinfo:
        parse_config("model:\n  precision: fp16\n", "c.yaml")
    [problem] = excinfo.value.problems
    assert problem.where == "c.yaml:2"
    assert "'auto', 'float32' or 'bfloat16'" in problem.what
