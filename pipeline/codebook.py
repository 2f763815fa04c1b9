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
from typing import Any

import yaml

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
_THEME_KEYS = frozenset({"id", "label", "definition", "examples", "terms", "patterns"})
_OTHER_KEYS = frozenset({"definition", "examples", "patterns"})
_TOP_KEYS = frozenset({"themes", "other"})


class CodebookError(ValueError):
    """The codebook YAML is malformed; the message names the file, the theme and the key."""


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


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise CodebookError(f"{where}: {key}: expected a list of strings, got {_kind(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise CodebookError(f"{where}: {key}[{i}]: expected a non-empty string")
        out.append(" ".join(item.split()))
    return tuple(out)


def _examples(raw: Any, where: str) -> tuple[str, ...]:
    examples = _str_list(raw, where, "examples")
    if not MIN_EXAMPLES <= len(examples) <= MAX_EXAMPLES:
        raise CodebookError(
            f"{where}: examples: need {MIN_EXAMPLES}–{MAX_EXAMPLES}, got {len(examples)}"
        )
    if len(set(examples)) != len(examples):
        raise CodebookError(f"{where}: examples: duplicate example")
    return examples


def _patterns(raw: Any, where: str) -> tuple[str, ...]:
    patterns = _str_list(raw, where, "patterns")
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise CodebookError(
                f"{where}: patterns[{i}]: not a regular expression ({exc}); fix or quote it"
            ) from exc
    return patterns


def _parse_theme(raw: Any, index: int, source: str) -> CodebookTheme:
    if not isinstance(raw, dict):
        raise CodebookError(f"{source}: themes[{index}]: expected a mapping, got {_kind(raw)}")
    theme_id = raw.get("id")
    if not isinstance(theme_id, str) or not _ID_RE.match(theme_id):
        raise CodebookError(
            f"{source}: themes[{index}]: id: expected a lowercase slug like 'finansiering', "
            f"got {theme_id!r}"
        )
    where = f"{source}: theme {theme_id!r}"
    if theme_id in (UNASSIGNED_ID, OTHER_ID) or theme_id.startswith(INDUCTIVE_PREFIX):
        raise CodebookError(f"{where}: id: {theme_id!r} is reserved for computed themes")
    unknown = sorted(set(raw) - _THEME_KEYS)
    if unknown:
        raise CodebookError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(_THEME_KEYS))}"
        )
    strings: dict[str, str] = {}
    for key in ("label", "definition"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CodebookError(f"{where}: {key}: expected a non-empty string, got {_kind(value)}")
        strings[key] = " ".join(value.split())
    return CodebookTheme(
        id=theme_id,
        label=strings["label"],
        definition=strings["definition"],
        examples=_examples(raw.get("examples"), where),
        terms=tuple(t.casefold() for t in _str_list(raw.get("terms", []), where, "terms")),
        patterns=_patterns(raw.get("patterns", []), where),
    )


def _parse_other(raw: Any, source: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    where = f"{source}: other"
    if raw is None:
        return "", (), ()
    if not isinstance(raw, dict):
        raise CodebookError(f"{where}: expected a mapping, got {_kind(raw)}")
    unknown = sorted(set(raw) - _OTHER_KEYS)
    if unknown:
        raise CodebookError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(_OTHER_KEYS))}"
        )
    definition = raw.get("definition", "")
    if not isinstance(definition, str):
        raise CodebookError(f"{where}: definition: expected a string, got {_kind(definition)}")
    return (
        " ".join(definition.split()),
        _examples(raw.get("examples"), where),
        _patterns(raw.get("patterns", []), where),
    )


def parse_codebook(yaml_text: str, source: str = "<codebook>") -> Codebook:
    """Validate codebook YAML (`themes:` list of {id, label, definition, examples, terms?,
    patterns?}; optional `other: {definition, examples, patterns?}`) into a `Codebook`. Errors name
    `source`, the theme and the key, e.g. "models/codebook.yaml: theme 'x': examples: need 5–40,
    got 2"."""
    try:
        raw: Any = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        raise CodebookError(f"{source}: not valid YAML: {exc}; fix the syntax") from exc
    if not isinstance(raw, dict) or "themes" not in raw:
        raise CodebookError(f"{source}: expected a mapping with a 'themes' list")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise CodebookError(
            f"{source}: unknown top-level key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    items = raw["themes"]
    if not isinstance(items, list) or not items:
        raise CodebookError(f"{source}: themes: expected a non-empty list, got {_kind(items)}")
    themes = tuple(_parse_theme(item, i, source) for i, item in enumerate(items))
    seen: set[str] = set()
    for theme in themes:
        if theme.id in seen:
            raise CodebookError(f"{source}: theme {theme.id!r}: id: duplicate id")
        seen.add(theme.id)
    other = _parse_other(raw.get("other"), source)
    return Codebook(source, themes, *other)
