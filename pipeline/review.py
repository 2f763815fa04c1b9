"""Review: which statements an analyst should label next.

Public entry point: `select_for_review(statements, assignments, vectors, n, seed)`.

A label teaches the model most where the model is unsure and where no other label already
speaks for the statement's neighbourhood, so the pick is uncertain *and* diverse:

1. Candidates. Every statement not yet labelled by the analyst (method "analyst") has the
   uncertainty `1 - confidence` of its assigned theme. The `4 * n` most uncertain are the
   candidates; equal uncertainties are ordered by a hash of the seed and the statement id (then
   the id), so a tie — every statement has confidence 1.0 until the classifier is calibrated — is
   broken evenly across the documents instead of favouring the first file names. Of several
   candidates with the same text in the same document only the first is kept: the analyst's
   label reaches all of them anyway (see `pipeline.labels`).
2. Farthest first. The most uncertain candidate is picked first. Each next pick is the candidate
   with the largest `uncertainty × cosine distance to the nearest statement picked so far`, so a
   statement close to one already picked must be much more uncertain to be picked too. With
   equal uncertainties this is plain farthest-first traversal. Equal scores go to the earlier
   candidate in the order of step 1.

Deterministic and independent of the order the statements come in: no random state, candidates
in a fixed order before any arithmetic on their vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pipeline.records import Statement
from pipeline.themes import Assignment

__all__ = ["CANDIDATE_FACTOR", "select_for_review"]

CANDIDATE_FACTOR = 4  # candidates per statement asked for
# Keeps a candidate with confidence 1.0 (uncertainty 0) comparable with the others by distance.
_MIN_UNCERTAINTY = 1e-6


def select_for_review(
    statements: Sequence[Statement],
    assignments: Sequence[Assignment],
    vectors: npt.ArrayLike,
    n: int,
    seed: int,
) -> list[int]:
    """Indices into `statements` of up to `n` statements to label, in the order they were picked
    (most informative first; see the module docstring for the rule).

    assignments[i] is statements[i]'s assignment; vectors is (len(statements), dim), row i
    embedding statements[i] (rows need not be unit length). Fewer than `n` come back when fewer
    statements are unlabelled.
    """
    matrix = np.asarray(vectors, dtype=np.float64)
    if len(assignments) != len(statements) or (statements and matrix.shape[0] != len(statements)):
        raise ValueError(
            f"{len(statements)} statements, {len(assignments)} assignments and "
            f"{matrix.shape[0] if matrix.ndim else 0} vectors: give one of each per statement"
        )
    for statement, assignment in zip(statements, assignments, strict=True):
        if statement.id != assignment.statement_id:
            raise ValueError(
                f"assignment for {assignment.statement_id} given for statement {statement.id}: "
                "give the assignments in the statements' order"
            )
    if n <= 0:
        return []
    candidates = _candidates(statements, assignments, n * CANDIDATE_FACTOR, seed)
    if not candidates:
        return []
    uncertainty = np.array(
        [max(1.0 - assignments[i].confidence, _MIN_UNCERTAINTY) for i in candidates]
    )
    rows = matrix[candidates]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    rows = rows / np.where(norms > 0, norms, 1.0)

    picked = [0]
    nearest = 1.0 - rows @ rows[0]  # cosine distance to the nearest picked candidate
    while len(picked) < min(n, len(candidates)):
        score = uncertainty * np.clip(nearest, 0.0, None)
        score[picked] = -1.0
        best = int(np.argmax(score))  # first maximum: the earlier candidate wins a tie
        picked.append(best)
        nearest = np.minimum(nearest, 1.0 - rows @ rows[best])
    return [candidates[p] for p in picked]


def _candidates(
    statements: Sequence[Statement], assignments: Sequence[Assignment], size: int, seed: int
) -> list[int]:
    """The `size` most uncertain unlabelled statements (indices), most uncertain first, one per
    (document, text)."""
    order = sorted(
        (i for i, a in enumerate(assignments) if a.method != "analyst"),
        key=lambda i: (
            assignments[i].confidence,
            _tie_break(seed, statements[i].id),
            statements[i].id,
        ),
    )
    seen: set[tuple[str, str]] = set()
    out: list[int] = []
    for i in order:
        key = (statements[i].document, statements[i].text)
        if key in seen:
            continue
        seen.add(key)
        out.append(i)
        if len(out) == size:
            break
    return out


def _tie_break(seed: int, statement_id: str) -> str:
    return hashlib.sha256(f"{seed}:{statement_id}".encode()).hexdigest()
