"""Theme ids that stay put: inductive themes renamed after the previous run's.

Public entry point: `keep_theme_ids(result, statements, previous)`.

HDBSCAN numbers its clusters by size, so one new document can shift `inductive_03` to
`inductive_04` and every bookmark and `changes.csv` row with it. This step matches each new
inductive theme to the previous run's inductive theme that shared the most of its statements
(by statement id) and gives it that theme's id; a theme that matches none gets the next number
the previous run did not use. A match needs at least half of the smaller of the two themes in
common, so a theme that merely touches an old one does not inherit its id. Matching is greedy
on the largest overlap (ties: the lower new index, then the lower old id), so it is
deterministic. Codebook themes and `ej_tilldelad` keep their fixed ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from pipeline.records import Statement
from pipeline.themes import INDUCTIVE_PREFIX, ThemeResult

__all__ = ["keep_theme_ids"]

_NUMBER_RE = re.compile(rf"^{re.escape(INDUCTIVE_PREFIX)}(\d+)$")
_MIN_SHARED = 0.5  # of the smaller theme's statements


def keep_theme_ids(
    result: ThemeResult, statements: Sequence[Statement], previous: Mapping[str, str]
) -> ThemeResult:
    """`result` with its inductive themes renamed after the previous run's (see module doc).

    statements: the statements `result.assignments` refer to (same order).
    previous: the previous run's theme id by statement id (other entries are ignored).
    Inductive themes come out ordered by id; `probabilities` columns follow the themes."""
    inductive = [j for j, t in enumerate(result.themes) if t.origin == "inductive"]
    if not inductive:
        return result
    names = _new_names(result, statements, inductive, previous)
    if all(names[j] == result.themes[j].id for j in inductive):
        return result
    first, last = inductive[0], inductive[-1]
    order = [
        *range(first),
        *sorted(inductive, key=lambda j: _number(names[j])),
        *range(last + 1, len(result.themes)),
    ]
    themes = tuple(replace(result.themes[j], id=names.get(j, result.themes[j].id)) for j in order)
    renamed = {result.themes[j].id: names[j] for j in inductive}
    assignments = tuple(
        replace(a, theme_id=renamed.get(a.theme_id, a.theme_id)) for a in result.assignments
    )
    probabilities = (
        None if result.probabilities is None else result.probabilities[:, np.asarray(order)]
    )
    return replace(result, themes=themes, assignments=assignments, probabilities=probabilities)


def _new_names(
    result: ThemeResult,
    statements: Sequence[Statement],
    inductive: Sequence[int],
    previous: Mapping[str, str],
) -> dict[int, str]:
    """New id by theme index, for the inductive themes."""
    members: dict[str, set[str]] = {result.themes[j].id: set() for j in inductive}
    for statement, assignment in zip(statements, result.assignments, strict=True):
        if assignment.theme_id in members:
            members[assignment.theme_id].add(statement.id)
    old: dict[str, set[str]] = {}
    for statement_id, theme_id in previous.items():
        if _NUMBER_RE.match(theme_id):
            old.setdefault(theme_id, set()).add(statement_id)
    pairs = []
    for j in inductive:
        mine = members[result.themes[j].id]
        for old_id, theirs in old.items():
            shared = len(mine & theirs)
            if shared and shared >= _MIN_SHARED * min(len(mine), len(theirs)):
                pairs.append((-shared, j, old_id))
    names: dict[int, str] = {}
    taken: set[str] = set()
    for _, j, old_id in sorted(pairs):
        if j not in names and old_id not in taken:
            names[j], taken = old_id, taken | {old_id}
    next_number = max((_number(t) for t in old), default=0) + 1
    for j in inductive:
        if j not in names:
            names[j] = f"{INDUCTIVE_PREFIX}{next_number:02d}"
            next_number += 1
    return names


def _number(theme_id: str) -> int:
    match = _NUMBER_RE.match(theme_id)
    return int(match.group(1)) if match else 0
