"""Problems as records; YAML with the line of every key; pydantic errors as problems."""

from __future__ import annotations

import pickle

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.extract import ExtractError
from pipeline.problems import InputError, Problem, parse_yaml, validation_problems

TEXT = """\
# a comment
top:
  inner: 1
  items:
    - a
    - b
other: x
"""


def test_lines_of_keys_and_list_items() -> None:
    doc = parse_yaml(TEXT, "f.yaml")
    assert doc.data == {"top": {"inner": 1, "items": ["a", "b"]}, "other": "x"}
    assert doc.line(("top",)) == 2
    assert doc.line(("top", "inner")) == 3
    assert doc.line(("top", "items", 1)) == 6
    assert doc.line(("other",)) == 7
    # A key that is not in the file is reported at its nearest enclosing key.
    assert doc.where(("top", "missing")) == "f.yaml:2"


def test_a_syntax_error_names_its_line_and_no_traceback() -> None:
    with pytest.raises(InputError) as excinfo:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "f.yaml")
    [problem] = excinfo.value.problems
    assert problem.where == "f.yaml:3"
    assert "not valid YAML" in problem.what and "starts on line 2" in problem.what
    assert excinfo.value.__cause__ is None  # nothing chained to print


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: int = 0
    items: list[str] = []


class _Top(BaseModel):
    model_config = ConfigDict(extra="forbid")
    top: _Inner = _Inner()
    other: str = ""


def test_validation_errors_become_problems_at_their_lines() -> None:
    doc = parse_yaml(TEXT.replace("inner: 1", "iner: 1").replace("- b", "- [b]"), "f.yaml")
    with pytest.raises(ValidationError) as excinfo:
        _Top.model_validate(doc.data)
    problems = validation_problems(excinfo.value, _Top, doc, "fix f.yaml")
    assert [p.where for p in problems] == ["f.yaml:6", "f.yaml:3"]
    assert problems[0].what == "top.items[1]: Input should be a valid string"
    assert problems[1].what == (
        "top.iner: unknown key — did you mean 'inner'?; allowed here: inner, items"
    )
    assert {p.fix for p in problems} == {"fix f.yaml"}


def test_errors_keep_their_fields_across_processes() -> None:
    error = InputError(Problem("a.csv:2", "bad", "fix it"))
    assert pickle.loads(pickle.dumps(error)).problems == error.problems
    extract = ExtractError("a.pdf: page 2", "encrypted", "save it", "limits.max_pages")
    again = pickle.loads(pickle.dumps(extract))
    assert (again.where, again.what, again.fix, again.setting) == (
        "a.pdf: page 2", "encrypted", "save it", "limits.max_pages",
    )  # fmt: skip
    assert (
        str(again) == "a.pdf: page 2: encrypted; save it, or raise limits.max_pages in the config"
    )
