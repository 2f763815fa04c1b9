"""The Swedish meeting vocabulary (models/vocabulary.yaml) and its compiled patterns."""

from __future__ import annotations

import pytest
import yaml

from pipeline.records import Polarity
from pipeline.vocabulary import VOCABULARY_PATH, VocabularyError, parse_vocabulary, vocabulary


def test_the_project_vocabulary_compiles_to_the_patterns_extract_and_segment_use() -> None:
    vocab = vocabulary()
    assert vocab.polarity_of("Möjligheter:") is Polarity.MOJLIGHET
    assert vocab.polarity_of("**Svagheter**") is Polarity.SVAGHET
    assert vocab.polarity_of("Hot") is Polarity.NONE  # opens a SWOT section, no polarity
    assert vocab.polarity_heading.match("Hot")
    group = vocab.group_heading.match("Grupp 12 – Malmö")
    assert group is not None and group.group(1) == "12"
    assert vocab.joint_discussion.match("Gemensam diskussion")
    assert not vocab.joint_discussion.match("Diskussion")
    assert vocab.discussion_heading.match("Diskussion")
    assert vocab.segment_heading.match("Segment 2 – Hinder och möjligheter")
    for page in ("12", "Sida 3", "sid. 4", "3 av 12", "3/12", "3 (12)"):
        assert vocab.page_number.match(page), page
    assert not vocab.page_number.match("3 regioner")
    assert vocab.date_only.match("13 december 2017") and not vocab.date_only.match("13 kommuner")


def test_a_word_added_to_the_file_is_used(tmp_path: object) -> None:
    data = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    data["group_words"].append("bord")  # "Bord 3": a table group at a dialogue meeting
    vocab = parse_vocabulary(yaml.safe_dump(data, allow_unicode=True), "test.yaml")
    assert vocab.group_heading.match("Bord 3")


def test_an_unknown_key_names_the_file_and_the_key() -> None:
    data = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    data["grupp_words"] = ["grupp"]
    with pytest.raises(VocabularyError, match=r"^test\.yaml:\d+: .*grupp_words"):
        parse_vocabulary(yaml.safe_dump(data, allow_unicode=True), "test.yaml")


def test_a_wrong_polarity_name_is_refused() -> None:
    data = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    data["polarity"]["Hot"] = ["hot"]
    with pytest.raises(VocabularyError, match=r"^test\.yaml:\d+: .*polarity\.Hot"):
        parse_vocabulary(yaml.safe_dump(data, allow_unicode=True), "test.yaml")


def test_a_yaml_error_names_the_line_like_every_data_file() -> None:
    text = VOCABULARY_PATH.read_text(encoding="utf-8") + "months: [januari\n"
    with pytest.raises(VocabularyError) as caught:
        parse_vocabulary(text, "test.yaml")
    (problem,) = caught.value.problems
    assert problem.where.startswith("test.yaml:")
    assert problem.what.startswith("not valid YAML")
