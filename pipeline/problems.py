"""Problems with a run's inputs as records: where, what, and how to fix it.

Public: `Problem` (one problem), `InputError` (bad inputs that stop a run before it starts: the
CLI prints its problems and exits 3), `parse_yaml` (YAML text with the line of every key) and
`validation_problems` (a pydantic `ValidationError` as problems that name the file's line, the
key, and the allowed keys or values).

A message is built once, from the record's fields: the CLI, errors.csv and the report render the
fields and never split a string to recover them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["InputError", "Problem", "YamlText", "parse_yaml", "validation_problems"]

Key = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem: `where` (file, with `:line` when known, or a document's place), `what` is
    wrong (naming the key or column and the allowed values), and `fix`: what to do about it."""

    where: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}\n  fix: {self.fix}"


class InputError(ValueError):
    """Inputs a run cannot start with (config, codebook, gazetteer, metadata.csv, labels.csv,
    the model folder, the output folder). Carries every problem found, in file order."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(*problems)
        self.problems: tuple[Problem, ...] = problems

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def at_line(source: str, line: int | None) -> str:
    """`source:line`, or the source alone when the line is not known."""
    return f"{source}:{line}" if line else source


@dataclass(frozen=True)
class YamlText:
    """Parsed YAML and the 1-based line of every key and list item (for messages)."""

    source: str
    data: Any
    lines: Mapping[Key, int]

    def line(self, key: Sequence[str | int]) -> int | None:
        """The line of `key`, or of its nearest enclosing key when it is not in the file (a
        missing key is reported at the mapping that lacks it)."""
        path = tuple(key)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def where(self, key: Sequence[str | int]) -> str:
        return at_line(self.source, self.line(key))


def parse_yaml(text: str, source: str, error: type[InputError] = InputError) -> YamlText:
    """YAML text → `YamlText`; a syntax error raises `error` naming its line, no traceback."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        started = getattr(exc, "context_mark", None)
        if context and started is not None and started.line + 1 != line:
            context += f" that starts on line {started.line + 1}"
        what = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
        raise error(
            Problem(
                at_line(source, line),
                what,
                "fix the syntax on that line or the line before it (indentation, an unclosed "
                "quote or bracket, a ':' inside an unquoted value)",
            )
        ) from None
    lines: dict[Key, int] = {}
    if root is not None:
        lines[()] = root.start_mark.line + 1
        _collect_lines(root, (), lines)
    return YamlText(source, data, lines)


def _collect_lines(node: yaml.Node, path: Key, lines: dict[Key, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, str(key_node.value))
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _collect_lines(item, (*path, i), lines)


def dotted(key: Iterable[str | int]) -> str:
    """`themes.treshold`, `themes[2].examples` — a key path as a user reads it."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_problems(
    exc: ValidationError, model: type[BaseModel], doc: YamlText, fix: str
) -> list[Problem]:
    """Each error of a pydantic validation as a `Problem` at the key's YAML line. An unknown key
    lists the keys allowed there (and the nearest one); a wrong value gives pydantic's reason,
    which names the allowed values or bounds; `fix` is the general advice (naming the file)."""
    problems = []
    for error in exc.errors():
        key: Key = tuple(p for p in error["loc"] if isinstance(p, str | int))
        name = dotted(key) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _fields_at(model, key[:-1])
            near = difflib.get_close_matches(str(key[-1]), allowed, n=1, cutoff=0.75)
            hint = f" — did you mean {near[0]!r}?" if near else ""
            what = f"{name}: unknown key{hint}; allowed here: {', '.join(allowed)}"
            problems.append(Problem(doc.where(key), what, fix))
        elif error["type"] == "missing":
            problems.append(Problem(doc.where(key), f"{name}: required key missing", fix))
        else:
            reason = str(error["msg"]).removeprefix("Value error, ")
            given = error.get("input")
            # Our own validators quote the value; pydantic's reasons do not.
            quoted = error["type"] == "value_error" or isinstance(given, dict | list)
            shown = "" if quoted else f" (got {given!r})"
            problems.append(Problem(doc.where(key), f"{name}: {reason}{shown}", fix))
    return problems


def _fields_at(model: type[BaseModel], key: Key) -> list[str]:
    """The field names of the (nested) model found at `key` below `model`."""
    current: Any = model
    for part in key:
        if isinstance(part, int) or not _is_model(current):
            current = _inner_model(current)
            if isinstance(part, int):
                continue
        if not _is_model(current) or part not in current.model_fields:
            return []
        current = current.model_fields[part].annotation
    current = _inner_model(current) if not _is_model(current) else current
    return list(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _inner_model(annotation: Any) -> Any:
    """The model inside `list[M]`, `M | None`, `dict[str, M]` (else the annotation itself)."""
    for arg in getattr(annotation, "__args__", ()):
        if _is_model(arg):
            return arg
    return annotation
