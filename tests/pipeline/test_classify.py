"""pipeline/classify.py: the fitted theme classifier and its evidence.

Most tests use a small codebook with hand-made vectors (one direction per class in 8
dimensions), so each kind of evidence can be switched on alone and its effect measured exactly.
Swedish term matching runs on real words through simplemma. One slow test fits the shipped
codebook with the real model (models/e5-small-st) to show that an analyst's labels are learned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.classify import (
    _TEMPERATURES,
    ClassScores,
    ThemeClassifier,
    _term_hit,
    _words,
    _words_and_lemmas,
    fit_classifier,
)
from pipeline.codebook import OTHER_ID, Codebook, parse_codebook
from pipeline.config import PROJECT_ROOT, ThemesConfig
from pipeline.records import Location, Statement

Vectors = npt.NDArray[np.float32]

# --- _term_hit: Swedish inflections and compounds ---------------------------------------------


def _hit(term: str, text: str) -> bool:
    """`_term_hit` as `ThemeClassifier` calls it on a text."""
    return _term_hit(term, _words_and_lemmas(text), f" {' '.join(_words(text))} ")


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("finansiering", "Nya finansieringslösningar behövs"),  # first part of a compound
        ("platser", "Brist på VFU-platser"),  # hyphenated compound
        ("platser", "Fler utbildningsplatser"),  # last part of a compound
        ("roll", "Rollen är otydlig"),  # inflected form of a short term
        ("roll", "Rollerna"),  # at most four letters added
        ("mål", "Målet är oklart"),  # a 3-letter term through the lemma
        ("chef", "Chefernas tid räcker inte"),
        ("vfu", "VFU-handledare saknas"),  # case-folded, hyphen part
        ("system", "IT-systemet krånglar"),
        ("vem gör vad", "Oklart vem gör vad här"),  # multiword: whole words in order
        ("gemensam bild", "Vi saknar en gemensam bild."),
    ],
)
def test_term_hits_swedish_forms(term: str, text: str) -> None:
    assert _hit(term, text)


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("roll", "Behöver en rollator"),
        ("mål", "Målgruppen är unga"),  # a 3-letter term is never a compound part
        ("mål", "Måla om väggarna"),
        ("chef", "Chefsstöd"),  # a 4-letter term is not a compound part either
        ("ersättning", "En löneersättningsmodell"),  # only the first or last part counts
        ("vem gör vad", "Vad gör vem?"),  # words out of order
        ("gemensam bild", "Gemensamma bilder"),  # multiword terms are matched as written
        ("platser", "Platta organisationer"),
    ],
)
def test_term_misses(term: str, text: str) -> None:
    assert not _hit(term, text)


# --- a small codebook with hand-made vectors --------------------------------------------------

DIM = 8
CODEBOOK_YAML = """
themes:
  - id: finansiering
    label: Finansiering
    definition: Pengar
    terms: [finansiering, budget, anslag]
    examples: [f1, f2, f3, f4, f5]
  - id: lärmiljö
    label: Lärmiljö
    definition: Lärande
    terms: [handledare, vfu, platser]
    examples: [l1, l2, l3, l4, l5]
  - id: ledarskap
    label: Ledarskap
    definition: Chefer
    terms: [ledarskap, chef]
    patterns: ['^\\d+ ledare$']
    examples: [c1, c2, c3, c4, c5]
other:
  examples: [o1, o2, o3, o4, o5]
"""
FIN, LAR, LED, OTHER = 0, 1, 2, 3
NEUTRAL_TEXT = "Kaffe och kaka"  # names no class


def _unit(v: npt.ArrayLike) -> Vectors:
    a = np.asarray(v, dtype=np.float64)
    out: Vectors = (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)
    return out


def _direction(*weights: float) -> Vectors:
    """A unit vector weighting the four class directions (the rest of DIM stays noise-free)."""
    v = np.zeros(DIM)
    v[: len(weights)] = weights
    return _unit(v)


NEUTRAL = _direction(1, 1, 1, 1)


@pytest.fixture(scope="module")
def small_codebook() -> Codebook:
    return parse_codebook(CODEBOOK_YAML, "small.yaml")


@pytest.fixture(scope="module")
def small_vectors(small_codebook: Codebook) -> Vectors:
    """One row per `codebook.texts`: its class direction plus a little seeded noise."""
    rng = np.random.default_rng(20171213)
    rows = [np.eye(DIM)[owner] + 0.15 * rng.normal(size=DIM) for owner in small_codebook.owners]
    return _unit(rows)


def _fit(
    codebook: Codebook,
    vectors: Vectors,
    config: ThemesConfig | None = None,
    labelled: Sequence[tuple[Statement, Vectors, str]] = (),
) -> ThemeClassifier:
    return fit_classifier(
        codebook,
        vectors,
        config or ThemesConfig(),
        [s for s, _, _ in labelled],
        np.array([v for _, v, _ in labelled], dtype=np.float32) if labelled else None,
        [c for _, _, c in labelled],
    )


def _st(
    n: int,
    text: str = NEUTRAL_TEXT,
    document: str = "",
    heading_path: tuple[str, ...] = (),
    table_column: str = "",
) -> Statement:
    """Statement number n; alone in its own document unless `document` is given."""
    document = document or f"doc{n:03d}.txt"
    return Statement(
        id=f"{document}:{n:03d}:0",
        document=document,
        location=Location(line=n),
        text=text,
        heading_path=heading_path,
        table_column=table_column,
    )


def _predict(
    classifier: ThemeClassifier,
    statements: Sequence[Statement],
    vectors: Sequence[Vectors] | None = None,
    labels: dict[str, str] | None = None,
) -> ClassScores:
    rows = np.array(vectors if vectors is not None else [NEUTRAL] * len(statements))
    return classifier.predict(statements, rows.astype(np.float32), labels)


def test_fit_learns_visible_attributes(small_codebook: Codebook, small_vectors: Vectors) -> None:
    classifier = _fit(small_codebook, small_vectors)
    assert classifier.classes_ == ("finansiering", "lärmiljö", "ledarskap", OTHER_ID)
    assert classifier.coef_.shape == (4, DIM)
    assert classifier.intercept_.shape == (4,)
    assert classifier.temperature_ == 1.0
    assert (classifier.n_examples_, classifier.n_labels_) == (len(small_codebook.texts), 0)
    assert classifier.summary() == {
        "classes": list(classifier.classes_),
        "temperature": 1.0,
        "n_examples": 23,
        "n_labels": 0,
    }
    # The regression separates the classes: each class's weight is largest on its direction.
    assert np.argmax(classifier.coef_[:, :4], axis=0).tolist() == [0, 1, 2, 3]
    with pytest.raises(dataclasses.FrozenInstanceError):
        classifier.temperature_ = 2.0  # type: ignore[misc]


def test_predict_shapes_sum_to_one_and_similarity(
    small_codebook: Codebook, small_vectors: Vectors
) -> None:
    classifier = _fit(small_codebook, small_vectors)
    statements = [_st(i) for i in range(4)]
    # Row 0 is the finansiering prototype itself; rows 1-3 point at lärmiljö, ledarskap, other.
    vectors = [small_vectors[0], _direction(0, 1), _direction(0, 0, 1), _direction(0, 0, 0, 1)]
    scores = _predict(classifier, statements, vectors)
    assert scores.probabilities.shape == scores.heading.shape == (4, 4)
    assert scores.similarity.shape == (4, 3)
    np.testing.assert_allclose(scores.probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (scores.probabilities >= 0).all()
    assert np.argmax(scores.probabilities, axis=1).tolist() == [FIN, LAR, LED, OTHER]
    assert scores.similarity[0, FIN] == pytest.approx(1.0, abs=1e-6)
    assert np.argmax(scores.similarity[:3], axis=1).tolist() == [FIN, LAR, LED]
    assert not scores.heading.any()


def test_empty_input(small_codebook: Codebook, small_vectors: Vectors) -> None:
    scores = _fit(small_codebook, small_vectors).predict([], np.zeros((0, DIM), np.float32))
    assert scores.probabilities.shape == scores.heading.shape == (0, 4)
    assert scores.similarity.shape == (0, 3)


def test_terms_add_evidence_up_to_the_cap(small_codebook: Codebook, small_vectors: Vectors) -> None:
    classifier = _fit(small_codebook, small_vectors)
    texts = [
        NEUTRAL_TEXT,
        "Finansieringen räcker inte",
        "Finansieringen och budgeten räcker inte",
        "Finansieringen, budgeten och anslagen räcker inte",  # three terms, term_cap 2
    ]
    p = _predict(classifier, [_st(i, t) for i, t in enumerate(texts)]).probabilities[:, FIN]
    assert p[0] < p[1] < p[2]
    assert p[3] == p[2]
    uncapped = _fit(small_codebook, small_vectors, ThemesConfig(term_cap=3))
    p3 = _predict(uncapped, [_st(i, t) for i, t in enumerate(texts)]).probabilities[:, FIN]
    assert p3[3] > p3[2]


def test_patterns_add_evidence(small_codebook: Codebook, small_vectors: Vectors) -> None:
    classifier = _fit(small_codebook, small_vectors)
    p = _predict(classifier, [_st(0, "44 ledare"), _st(1, "44 kommuner")]).probabilities
    assert p[0, LED] > 0.5 > p[1, LED]
    off = _fit(small_codebook, small_vectors, ThemesConfig(pattern_weight=0.0))
    p_off = _predict(off, [_st(0, "44 ledare"), _st(1, "44 kommuner")]).probabilities
    np.testing.assert_array_equal(p_off[0], p_off[1])


def test_heading_evidence_decays_with_distance(
    small_codebook: Codebook, small_vectors: Vectors
) -> None:
    classifier = _fit(small_codebook, small_vectors)
    statements = [
        _st(0, heading_path=("Ledarskap",)),
        _st(1, heading_path=("Ledarskap", "Grupp 1")),
        _st(2, heading_path=("Ledarskap", "Grupp 1", "Fråga 2")),
        _st(3, heading_path=("Ledarskap",), table_column="Hinder"),  # the column is innermost
        _st(4, heading_path=("Grupp 1",), table_column="Ledarskap"),
        _st(5, heading_path=("Grupp 1",)),
    ]
    scores = _predict(classifier, statements)
    decay = ThemesConfig().heading_decay
    np.testing.assert_allclose(
        scores.heading[:, LED], [1.0, decay, decay**2, decay, 1.0, 0.0], rtol=0, atol=1e-12
    )
    assert not np.delete(scores.heading, LED, axis=1).any()
    p = scores.probabilities[:, LED]
    assert p[0] > p[1] > p[2] > p[5]
    assert p[1] == p[3] and p[0] == p[4]
    # Evidence, not a verdict: with no heading weight the headings change nothing.
    flat = _fit(small_codebook, small_vectors, ThemesConfig(heading_weight=0.0))
    p_flat = _predict(flat, statements).probabilities
    np.testing.assert_array_equal(p_flat, np.tile(p_flat[5], (6, 1)))


def test_clear_text_evidence_beats_a_heading(
    small_codebook: Codebook, small_vectors: Vectors
) -> None:
    classifier = _fit(small_codebook, small_vectors)
    statement = _st(0, "Budgeten räcker inte till anslagen", heading_path=("Ledarskap",))
    (row,) = _predict(classifier, [statement], [_direction(1, 0, 0.2)]).probabilities
    assert np.argmax(row) == FIN


@pytest.mark.parametrize("extra_words", [0, 1])
def test_long_headings_are_titles_and_skipped(
    small_codebook: Codebook, small_vectors: Vectors, extra_words: int
) -> None:
    max_words = ThemesConfig().heading_max_words
    words = ["Ledarskap", *("ord" for _ in range(max_words - 1 + extra_words))]
    heading = " ".join(words)
    scores = _predict(_fit(small_codebook, small_vectors), [_st(0, heading_path=(heading,))])
    assert scores.heading[0, LED] == (0.0 if extra_words else 1.0)
    # A long title farther out adds nothing (it would add decay * 1 if it were counted).
    inner = ("Segment 1 – Regional samverkan kring ledarskap i vården och kommunen", "Chefer")
    scores = _predict(_fit(small_codebook, small_vectors), [_st(1, heading_path=inner)])
    assert scores.heading[0, LED] == 1.0


def _group_run(
    classifier: ThemeClassifier,
    sibling_document: str = "d.txt",
    sibling_column: str = "",
    sibling_vector: Vectors | None = None,
    labels: dict[str, str] | None = None,
) -> float:
    """P(finansiering) of a neutral statement with three siblings that look like finansiering
    (or `sibling_vector`), filed in `sibling_document` / `sibling_column`."""
    target = _st(0, document="d.txt", heading_path=("Rubrik",))
    siblings = [
        _st(i, "Budgeten", sibling_document, ("Rubrik",), sibling_column) for i in (1, 2, 3)
    ]
    looks = sibling_vector if sibling_vector is not None else _direction(1)
    vectors = [NEUTRAL, looks, looks, looks]
    scores = _predict(classifier, [target, *siblings], vectors, labels)
    return float(scores.probabilities[0, FIN])


def test_context_comes_from_siblings(small_codebook: Codebook, small_vectors: Vectors) -> None:
    classifier = _fit(small_codebook, small_vectors)
    together = _group_run(classifier)
    assert together > _group_run(classifier, sibling_document="e.txt")
    assert together > _group_run(classifier, sibling_column="Hinder")
    assert _group_run(classifier, "e.txt") == _group_run(classifier, sibling_column="Hinder")
    no_context = _fit(small_codebook, small_vectors, ThemesConfig(context_weight=0.0))
    assert _group_run(no_context) == _group_run(no_context, sibling_document="e.txt")


def test_labelled_siblings_count_with_their_label(
    small_codebook: Codebook, small_vectors: Vectors
) -> None:
    classifier = _fit(small_codebook, small_vectors)
    ledarskap_look = _direction(0, 0, 1)
    unlabelled = _group_run(classifier, sibling_vector=ledarskap_look)
    labels = {f"d.txt:{i:03d}:0": "finansiering" for i in (1, 2, 3)}
    labelled = _group_run(classifier, sibling_vector=ledarskap_look, labels=labels)
    assert labelled > unlabelled
    # A label outside the classes is ignored.
    assert (
        _group_run(classifier, sibling_vector=ledarskap_look, labels=dict.fromkeys(labels, "okänt"))
        == unlabelled
    )


def test_order_independent_to_the_last_bit(
    small_codebook: Codebook, small_vectors: Vectors
) -> None:
    rng = np.random.default_rng(7)
    texts = [NEUTRAL_TEXT, "Budgeten räcker inte", "Fler VFU-platser", "Chefernas tid"]
    headings = [(), ("Ledarskap",), ("Grupp 1", "Lärande miljö"), ("Grupp 2",)]
    statements = [
        _st(
            i,
            texts[i % 4],
            document=f"doc{i % 3}.txt",
            heading_path=headings[(i // 3) % 4],
            table_column=("", "Hinder")[i % 2],
        )
        for i in range(240)
    ]
    vectors = _unit(rng.normal(size=(240, DIM)))
    classifier = _fit(small_codebook, small_vectors)
    labels = {statements[i].id: "ledarskap" for i in range(0, 240, 17)}
    first = classifier.predict(statements, vectors, labels)
    order = rng.permutation(240)
    shuffled = classifier.predict([statements[i] for i in order], vectors[order], labels)
    for name in ("probabilities", "heading", "similarity"):
        a, b = getattr(first, name)[order], getattr(shuffled, name)
        assert a.tobytes() == b.tobytes(), name


def _labelled(n: int, vector: Vectors, label: str) -> list[tuple[Statement, Vectors, str]]:
    return [(_st(100 + i, "Fika"), vector, label) for i in range(n)]


def test_labelled_statements_are_learned(small_codebook: Codebook, small_vectors: Vectors) -> None:
    # Statements between lärmiljö and other, labelled ledarskap: a similar unlabelled statement
    # (not their sibling: another document) moves toward ledarskap.
    rng = np.random.default_rng(3)
    point = _direction(0, 1, 0, 1)
    near = [_unit(point + 0.05 * rng.normal(size=DIM)) for _ in range(4)]
    labelled = [(_st(100 + i, "Fika"), v, "ledarskap") for i, v in enumerate(near[:3])]
    # A label weighing as much as one codebook example (the shipped config weighs it 0.1), and
    # the regression alone: the nearest-example pull toward the codebook is switched off.
    config = ThemesConfig(context_weight=0.0, label_weight=1.0, example_weight=0.0)
    before = _fit(small_codebook, small_vectors, config)
    after = _fit(small_codebook, small_vectors, config, labelled)
    assert after.n_labels_ == 3
    unlabelled = [_st(0, "Fika")]
    p_before = _predict(before, unlabelled, [near[3]]).probabilities[0]
    p_after = _predict(after, unlabelled, [near[3]]).probabilities[0]
    assert p_after[LED] > p_before[LED] + 0.2
    # A far-away statement barely moves.
    far = _predict(after, unlabelled, [_direction(1)]).probabilities[0]
    assert np.argmax(far) == FIN


def test_temperature_is_refitted_only_with_enough_labels(
    small_codebook: Codebook, small_vectors: Vectors
) -> None:
    config = ThemesConfig(min_labels_for_calibration=5, temperature=2.0)
    few = _fit(small_codebook, small_vectors, config, _labelled(4, _direction(1), "finansiering"))
    assert (few.n_labels_, few.temperature_) == (4, 2.0)
    enough = _fit(
        small_codebook, small_vectors, config, _labelled(5, _direction(1), "finansiering")
    )
    assert enough.n_labels_ == 5
    assert enough.temperature_ in _TEMPERATURES
    # Labels the classifier already gets right with confidence: sharpen (a lower temperature).
    assert enough.temperature_ < 1.0
    # Mislabelled-looking labels (clearly finansiering, labelled other) soften it instead.
    noisy = [
        *_labelled(3, _direction(1), "finansiering"),
        *[(_st(200 + i, "Fika"), _direction(1), OTHER_ID) for i in range(3)],
    ]
    soft = _fit(small_codebook, small_vectors, config, noisy)
    assert soft.temperature_ > enough.temperature_


def test_fit_rejects_unknown_labels_and_missing_vectors(
    small_codebook: Codebook, small_vectors: Vectors
) -> None:
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['okänt'\]"):
        _fit(small_codebook, small_vectors, labelled=_labelled(1, _direction(1), "okänt"))
    with pytest.raises(ValueError, match="one row per labelled statement"):
        fit_classifier(small_codebook, small_vectors, ThemesConfig(), [_st(0)], None, ["other"])


def test_a_codebook_without_other_examples_keeps_other_improbable(
    small_vectors: Vectors,
) -> None:
    book = parse_codebook(CODEBOOK_YAML.split("other:")[0], "small.yaml")
    vectors = small_vectors[: len(book.texts)]
    classifier = _fit(book, vectors)
    assert classifier.classes_[-1] == OTHER_ID
    (row,) = _predict(classifier, [_st(0)], [_direction(0, 0, 0, 1)]).probabilities
    assert row[OTHER] < 1e-9


# --- with the real model ----------------------------------------------------------------------


# A topic the codebook does not name: IT and journal systems (one statement a line).
IT_STATEMENTS = tuple(
    (PROJECT_ROOT / "tests" / "data" / "it_statements.txt").read_text(encoding="utf-8").splitlines()
)


@pytest.mark.slow
def test_real_labels_move_similar_statements(
    encode: Callable[[Sequence[str]], Vectors],
) -> None:
    path = PROJECT_ROOT / "models" / "codebook.yaml"
    codebook = parse_codebook(path.read_text(encoding="utf-8"), "models/codebook.yaml")
    config = ThemesConfig(context_weight=0.0, label_weight=1.0)  # one label = one example
    codebook_vectors = encode(codebook.texts)
    vectors = encode(IT_STATEMENTS)
    statements = [_st(i, text) for i, text in enumerate(IT_STATEMENTS)]
    target = codebook.ids.index("kunskapsunderlag")
    before = fit_classifier(codebook, codebook_vectors, config)
    after = fit_classifier(
        codebook, codebook_vectors, config, statements[:4], vectors[:4], ["kunskapsunderlag"] * 4
    )
    p_before = before.predict(statements[4:], vectors[4:]).probabilities[:, target]
    p_after = after.predict(statements[4:], vectors[4:]).probabilities[:, target]
    assert (p_after > p_before).all(), (p_before, p_after)
    assert p_after.mean() > p_before.mean() + 0.1
    # Unrelated statements stay where they were.
    other = [_st(20, "Hur ska vi finansiera utbildningsplatserna?")]
    v_other = encode([other[0].text])
    fin = codebook.ids.index("finansiering")
    assert np.argmax(after.predict(other, v_other).probabilities[0]) == fin
