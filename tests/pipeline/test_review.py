"""pipeline.review: uncertain and diverse statements for the analyst, on real sample statements
with hand-made vectors and confidences."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.records import Statement
from pipeline.review import select_for_review
from pipeline.themes import Assignment, Method

SEED = 20171213


@pytest.fixture(scope="module")
def statements(sample_statements: dict[str, tuple[Statement, ...]]) -> list[Statement]:
    """Twelve statements of distinct text from two real documents."""
    picked: list[Statement] = []
    for key in ("001", "003"):
        texts: set[str] = set()
        for s in sample_statements[key]:
            if s.text not in texts and len(texts) < 6:
                texts.add(s.text)
                picked.append(s)
    return picked


def _assignments(
    statements: list[Statement], confidence: list[float], methods: dict[int, Method] | None = None
) -> list[Assignment]:
    methods = methods or {}
    return [
        Assignment(s.id, "roller", "Roller", 0.9, methods.get(i, "codebook"), c)
        for i, (s, c) in enumerate(zip(statements, confidence, strict=True))
    ]


def _unit(*angles_deg: float) -> npt.NDArray[np.float32]:
    """Unit vectors in the plane at the given angles."""
    rad = np.radians(angles_deg)
    return np.stack([np.cos(rad), np.sin(rad)], axis=1).astype(np.float32)


def test_the_most_uncertain_comes_first_and_labelled_ones_never(
    statements: list[Statement],
) -> None:
    confidence = [0.9, 0.2, 0.5, 0.1, 0.8, 0.7, 0.6, 0.4, 0.3, 0.95, 0.85, 0.75]
    assignments = _assignments(statements, confidence, methods={3: "analyst"})
    vectors = _unit(*(i * 30.0 for i in range(12)))
    picked = select_for_review(statements, assignments, vectors, 4, SEED)
    assert picked[0] == 1  # 0.1 is the analyst's own label
    assert 3 not in picked
    assert len(picked) == len(set(picked)) == 4


def test_near_duplicates_are_not_both_picked(statements: list[Statement]) -> None:
    # Two tight groups, all equally uncertain: one pick from each, not two from the first.
    vectors = _unit(0, 1, 2, 3, 4, 5, 90, 91, 92, 93, 94, 95)
    assignments = _assignments(statements, [0.5] * 12)
    picked = select_for_review(statements, assignments, vectors, 2, SEED)
    assert sorted(p // 6 for p in picked) == [0, 1]


def test_distance_is_weighed_by_uncertainty(statements: list[Statement]) -> None:
    # 0 is the most uncertain. 1 sits 90° away but the model is fairly sure of it; 2 sits 60°
    # away and is as unsure as 0: 0.5 * (1 - cos 60°) = 0.25 beats 0.1 * (1 - cos 90°) = 0.1.
    vectors = _unit(0, 90, 60, *([0.5] * 9))
    confidence = [0.4, 0.9, 0.5, *([0.95] * 9)]
    picked = select_for_review(statements, _assignments(statements, confidence), vectors, 2, SEED)
    assert picked == [0, 2]


def test_only_the_4n_least_confident_are_candidates(statements: list[Statement]) -> None:
    # Statement 11 is the farthest from everything but the most confident: with n=2 the 8 most
    # uncertain are the candidates and 11 is not among them; with n=3 it is.
    vectors = _unit(*([0.0] * 11), 180.0)
    confidence = [0.5 + 0.01 * i for i in range(12)]
    assignments = _assignments(statements, confidence)
    assert 11 not in select_for_review(statements, assignments, vectors, 2, SEED)
    assert 11 in select_for_review(statements, assignments, vectors, 3, SEED)


def test_identical_text_in_one_document_is_offered_once(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    kultur = [s for s in sample_statements["000"] if s.text == "Kultur"]
    others = [s for s in sample_statements["000"] if s.text != "Kultur"][:4]
    statements = [*kultur, *others]
    vectors = _unit(0, 0, 40, 80, 120, 160)
    assignments = _assignments(statements, [0.1, 0.1, 0.5, 0.5, 0.5, 0.5])
    picked = select_for_review(statements, assignments, vectors, 6, SEED)
    assert len(picked) == 5 and sum(p in (0, 1) for p in picked) == 1


def test_deterministic_and_independent_of_input_order(statements: list[Statement]) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(12, 8)).astype(np.float32)
    # Ties in confidence (the 1.0 placeholder) are broken by the seeded hash, not input order.
    confidence = [1.0] * 6 + [0.6, 0.6, 0.7, 0.7, 0.8, 0.8]
    assignments = _assignments(statements, confidence)
    picked = select_for_review(statements, assignments, vectors, 5, SEED)
    assert picked == select_for_review(statements, assignments, vectors, 5, SEED)
    order = rng.permutation(12)
    shuffled = select_for_review(
        [statements[i] for i in order],
        [assignments[i] for i in order],
        vectors[order],
        5,
        SEED,
    )
    assert [statements[order[j]].id for j in shuffled] == [statements[i].id for i in picked]


def test_fewer_come_back_when_fewer_are_unlabelled(statements: list[Statement]) -> None:
    methods: dict[int, Method] = {i: "analyst" for i in range(10)}
    assignments = _assignments(statements, [0.5] * 12, methods)
    vectors = _unit(*(i * 10.0 for i in range(12)))
    assert sorted(select_for_review(statements, assignments, vectors, 40, SEED)) == [10, 11]
    assert select_for_review(statements, assignments, vectors, 0, SEED) == []


def test_misaligned_inputs_are_refused(statements: list[Statement]) -> None:
    assignments = _assignments(statements, [0.5] * 12)
    vectors = _unit(*(i * 10.0 for i in range(12)))
    with pytest.raises(ValueError, match="one of each per statement"):
        select_for_review(statements, assignments[:-1], vectors, 3, SEED)
    with pytest.raises(ValueError, match="in the statements' order"):
        select_for_review(statements, assignments[::-1], vectors, 3, SEED)
