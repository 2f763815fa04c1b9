"""The theme codebook: validated from YAML into frozen records.

Public entry point: `parse_codebook(yaml_text, source) -> Codebook`.

A codebook lists the themes analysts asked for. Each theme has an id (a lowercase slug), a label,
a definition, example statements, `terms` (key words that, found in a statement or in an
enclosing heading, point to the theme; matched with Swedish inflections and compounds, see
`pipeline/classify.py`) and optional `patterns` (regular expressions for statements whose form
alone gives the theme, such as counting facts). The top-level `other` block holds examples of
text that belongs to no theme (web leftovers, care topics outside the codebook, fragments), so
the classifier learns a real "none of these" instead of a threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.problems import InputError, Problem, parse_yaml, validation_problems

__all__ = [
    "INDUCTIVE_PREFIX",
    "OTHER_ID",
    "UNASSIGNED_ID",
    "UNASSIGNED_LABEL",
    "Codebook",
    "CodebookError",
    "CodebookTheme",
    "parse_codebook",
]

UNASSIGNED_ID = "ej_tilldelad"
UNASSIGNED_LABEL = "ej tilldelad"
INDUCTIVE_PREFIX = "inductive_"
OTHER_ID = "other"  # an analyst's label, and the classifier's class, for "no codebook theme"

MIN_EXAMPLES = 5
MAX_EXAMPLES = 40

_ID_RE = re.compile(r"^[a-zåäö][a-zåäö0-9_]*$")


class CodebookError(InputError):
    """The codebook YAML is malformed; each problem names the file's line, the theme and the
    key."""


@dataclass(frozen=True)
class CodebookTheme:
    """One predefined theme: stable `id`, display `label`, `definition`, example statements,
    key `terms` (lowercase) and `patterns` (case-insensitive regular expressions)."""

    id: str
    label: str
    definition: str
    examples: tuple[str, ...]
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @property
    def prototype_texts(self) -> tuple[str, ...]:
        """The texts embedded for this theme: "label: definition" first, then the examples."""
        return (f"{self.label}: {self.definition}", *self.examples)


@dataclass(frozen=True)
class Codebook:
    """The validated codebook; `source` names the file it came from (for messages).

    `other_examples` are texts of no theme (the classifier's `other` class), `other_patterns`
    regular expressions for them (web-page furniture such as "Senast uppdaterad …")."""

    source: str
    themes: tuple[CodebookTheme, ...]
    other_definition: str = ""
    other_examples: tuple[str, ...] = ()
    other_patterns: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        """Theme ids in codebook order."""
        return tuple(theme.id for theme in self.themes)

    @property
    def texts(self) -> tuple[str, ...]:
        """Every text to embed, theme by theme in codebook order, then the `other` examples;
        embed these, in this order, to get the `codebook_vectors` for `assign_themes`."""
        themed = tuple(text for theme in self.themes for text in theme.prototype_texts)
        return (*themed, *self.other_examples)

    @property
    def owners(self) -> tuple[int, ...]:
        """For each row of `texts`, the index of its theme in `themes` (len(themes) = other)."""
        themed = tuple(i for i, theme in enumerate(self.themes) for _ in theme.prototype_texts)
        return (*themed, *(len(self.themes) for _ in self.other_examples))


def _folded(value: str) -> str:
    return " ".join(value.split())


def _non_empty(values: list[str]) -> list[str]:
    for i, item in enumerate(values):
        if not item.strip():
            raise ValueError(f"item {i} is empty; give a non-empty string")
    return [_folded(item) for item in values]


def _check_examples(values: list[str]) -> list[str]:
    examples = _non_empty(values)
    if not MIN_EXAMPLES <= len(examples) <= MAX_EXAMPLES:
        raise ValueError(f"need {MIN_EXAMPLES}–{MAX_EXAMPLES} examples, got {len(examples)}")
    duplicates = sorted({e for e in examples if examples.count(e) > 1})
    if duplicates:
        raise ValueError(f"duplicate example {duplicates[0]!r}; each example once")
    return examples


def _check_patterns(values: list[str]) -> list[str]:
    patterns = _non_empty(values)
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"item {i} {pattern!r} is not a regular expression ({exc}); fix it, or quote "
                "it in single quotes so YAML keeps its backslashes"
            ) from None
    return patterns


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _ThemeModel(_Strict):
    id: str
    label: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    examples: list[str]
    terms: list[str] = []
    patterns: list[str] = []

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError(f"expected a lowercase slug like 'finansiering', got {value!r}")
        if value in (UNASSIGNED_ID, OTHER_ID) or value.startswith(INDUCTIVE_PREFIX):
            raise ValueError(
                f"{value!r} is reserved for computed themes ({UNASSIGNED_ID}, {OTHER_ID}, "
                f"{INDUCTIVE_PREFIX}NN); choose another id"
            )
        return value

    @field_validator("label", "definition")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a non-empty string")
        return _folded(value)

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        return _check_examples(value)

    @field_validator("terms")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        return [term.casefold() for term in _non_empty(value)]

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)


class _OtherModel(_Strict):
    definition: str = ""
    examples: list[str]
    patterns: list[str] = []

    @field_validator("definition")
    @classmethod
    def _definition(cls, value: str) -> str:
        return _folded(value)

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        return _check_examples(value)

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)


class _CodebookModel(_Strict):
    themes: list[_ThemeModel] = Field(min_length=1)
    other: _OtherModel | None = None

    @field_validator("themes")
    @classmethod
    def _unique_ids(cls, themes: list[_ThemeModel]) -> list[_ThemeModel]:
        ids = [theme.id for theme in themes]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate theme id {duplicates[0]!r}; give each theme its own id")
        return themes


def parse_codebook(yaml_text: str, source: str = "<codebook>") -> Codebook:
    """Validate codebook YAML (`themes:` list of {id, label, definition, examples, terms?,
    patterns?}; optional `other: {definition?, examples, patterns?}`) into a `Codebook`. Each
    problem names `source:line`, the key (`themes[2].examples`), what is wrong and what is
    allowed, e.g. "models/codebook.yaml:40: themes[2].examples: need 5–40 examples, got 2"."""
    doc = parse_yaml(yaml_text, source, CodebookError)
    fix = f"correct it in {source} (its header comment describes a theme)"
    if not isinstance(doc.data, dict):
        raise CodebookError(Problem(doc.where(()), "expected a mapping with a 'themes' list", fix))
    try:
        model = _CodebookModel.model_validate(doc.data)
    except ValidationError as exc:
        raise CodebookError(*validation_problems(exc, _CodebookModel, doc, fix)) from None
    themes = tuple(
        CodebookTheme(
            id=t.id,
            label=t.label,
            definition=t.definition,
            examples=tuple(t.examples),
            terms=tuple(t.terms),
            patterns=tuple(t.patterns),
        )
        for t in model.themes
    )
    other = model.other
    if other is None:
        return Codebook(source, themes)
    return Codebook(source, themes, other.definition, tuple(other.examples), tuple(other.patterns))
