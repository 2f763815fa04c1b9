"""pipeline/inductive.py: which statements may form a theme, HDBSCAN with a cohesion floor, and
c-TF-IDF names.

Naming and the content filter run on real Swedish text with the real stop-word lists (spaCy's
Swedish list plus models/stopwords_extra.txt) and simplemma; cohesion helpers on hand-made
vectors; clustering on real e5 vectors (models/e5-small-st, marked slow) where what clusters is
decided by the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.codebook import Codebook, parse_codebook
from pipeline.config import PROJECT_ROOT, ThemesConfig
from pipeline.inductive import (
    InductiveThemes,
    _clusterable,
    _cohesion,
    _cohesive_core,
    _content_terms,
    _ctfidf_keywords,
    _terms,
    find_inductive_themes,
    representatives,
)
from pipeline.records import Location, Statement
from pipeline.themes import load_stopwords
from pipeline.vocabulary import vocabulary

Vectors = npt.NDArray[np.float32]

MONTHS = frozenset(vocabulary().months)

# A topic the codebook does not name: IT and journal systems (one statement a line).
IT_STATEMENTS = tuple(
    (PROJECT_ROOT / "tests" / "data" / "it_statements.txt").read_text(encoding="utf-8").splitlines()
)
# Counts, dates, acronym lists and web leftovers: several of each, so that they could form a
# cluster of their own if they were clustered at all.
LEFTOVERS = (
    "4 regioner",
    "5 regioner",
    "6 regioner",
    "12 mars 2021",
    "3 april 2022",
    "20 maj 2019",
    "RPO, RCC och CSD",
    "NPO och RSL",
    "RPO och NPO",
    "Läs mer",
    "Läs mer här",
    "Senast uppdaterad 3 maj",
    "Senast uppdaterad 12 mars",
    "Senast uppdaterad 1 juni",
)
CODEBOOK_LIKE = (
    "Hur ska vi finansiera utbildningsplatserna?",
    "Brist på handledare under VFU",
    "Chefer behöver stöd i sitt ledarskap",
)


@pytest.fixture(scope="module")
def stopwords() -> frozenset[str]:
    extra = (PROJECT_ROOT / "models" / "stopwords_extra.txt").read_text(encoding="utf-8")
    return load_stopwords(extra)


def _statements(texts: Sequence[str]) -> list[Statement]:
    return [
        Statement(
            id=f"doc.txt:{i + 1:03d}:0", document="doc.txt", location=Location(line=i + 1), text=t
        )
        for i, t in enumerate(texts)
    ]


# --- which statements may form a theme ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        *LEFTOVERS,
        "44 kommuner",
        "Ca 897 500 invånare",
        "Grattis!",
        "Tack för idag",
        "Se bilaga 2",
        "Sidan 4 av 12",
        "FoU, VFU och AT",
    ],
)
def test_counts_dates_acronyms_and_web_leftovers_have_no_content(
    text: str, stopwords: frozenset[str]
) -> None:
    assert not _clusterable(_statements([text])[0], stopwords), _content_terms(text, stopwords)


@pytest.mark.parametrize("text", [*IT_STATEMENTS, *CODEBOOK_LIKE])
def test_statements_with_two_content_lemmas_may_form_a_theme(
    text: str, stopwords: frozenset[str]
) -> None:
    assert _clusterable(_statements([text])[0], stopwords)


def test_content_terms_drop_acronyms_months_and_numbers(stopwords: frozenset[str]) -> None:
    text = "RPO och NPO infördes 12 mars 2021 i journalsystemet"
    assert _content_terms(text, stopwords) == ["införa", "journalsystem"]
    # `_terms` keeps the acronyms (lowercased) but not the month or the numbers.
    assert _terms(text, stopwords) == ["rpo", "npo", "införa", "journalsystem"]


# --- naming: _terms and _ctfidf_keywords on small real Swedish inputs ---------------------------
# The exact outputs depend on simplemma's lemmas and on both stop-word lists, so losing either
# fails here.


def test_terms_map_inflected_forms_to_one_lemma(stopwords: frozenset[str]) -> None:
    text = "Journalsystemet kraschar, journalsystemen kraschade. Handledarna och handledaren"
    assert _terms(text, stopwords) == [
        "journalsystem",
        "krascha",
        "journalsystem",
        "krascha",
        "handledare",
        "handledare",
    ]


def test_terms_drop_stop_words_before_lemmatizing(stopwords: frozenset[str]) -> None:
    # "väldigt" (stopwords_extra.txt) and "sämre", "långt" (spaCy) are stop words whose lemmas
    # ("väldig", "dålig", "lång") are not: only the check before lemmatization drops them.
    assert {"väldigt", "sämre", "långt"} <= stopwords
    assert _terms("Väldigt sämre handledning, långt till praktiken", stopwords) == [
        "handledning",
        "praktik",
    ]


def test_terms_drop_stop_words_after_lemmatizing(stopwords: frozenset[str]) -> None:
    # "möjligheterna", "frågorna" (lemmas in stopwords_extra.txt) and "är" (lemma "vara", spaCy)
    # are not stop words as written: only the check after lemmatization drops them.
    assert not {"möjligheterna", "frågorna", "är"} & stopwords
    assert _terms("Möjligheterna är frågorna om handledarna", stopwords) == ["handledare"]


def test_terms_drop_stop_words_from_both_lists(stopwords: frozenset[str]) -> None:
    # spaCy's Swedish list ("och", "vi", "ska") and models/stopwords_extra.txt ("behöver", "bra").
    assert _terms("Vi behöver bra handledare och vi ska ha tid", stopwords) == [
        "handledare",
        "tid",
    ]


def test_ctfidf_ranks_class_specific_terms_first() -> None:
    # "journalsystem" and "tid" are equally frequent in the first class, but "tid" is in every
    # class: the class-specific term ranks first. "krascha"/"logga" tie and sort alphabetically.
    docs = [
        ["journalsystem", "tid", "krascha", "journalsystem", "tid", "logga"],
        ["handledare", "tid", "handledare", "student"],
        ["tid", "lokal"],
    ]
    assert _ctfidf_keywords(docs, 3) == [
        ("journalsystem", "krascha", "logga"),
        ("handledare", "student", "tid"),
        ("lokal", "tid"),
    ]
    assert _ctfidf_keywords([*docs, []], 1) == [("journalsystem",), ("handledare",), ("lokal",), ()]
    assert _ctfidf_keywords([], 3) == []


def test_ctfidf_keywords_of_swedish_statements(stopwords: frozenset[str]) -> None:
    classes = [
        [
            "Journalsystemet kraschar ofta",
            "Journalsystemen tar tid",
            "Det tar tid att logga in i journalsystemet",
        ],
        [
            "Handledarna har ingen tid",
            "Handledaren saknar tid för studenterna",
            "Studenterna behöver fler handledare",
        ],
        ["Tid för reflektion saknas", "Lokalerna är för små", "Vi har inte tid med kursen"],
    ]
    docs = [[w for text in texts for w in _terms(text, stopwords)] for texts in classes]
    # "tid" occurs in every class, so it ranks below each class's own terms even where it is
    # more frequent (twice against once for "krascha" and "logga").
    assert _ctfidf_keywords(docs, 5) == [
        ("journalsystem", "krascha", "logga", "tid"),
        ("handledare", "student", "tid", "sakna"),
        ("kurs", "lokal", "reflektion", "tid", "sakna"),
    ]


# --- cohesion ------------------------------------------------------------------------------------


def _unit(rows: npt.ArrayLike) -> Vectors:
    a = np.asarray(rows, dtype=np.float64)
    out: Vectors = (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)
    return out


def test_cohesion_is_the_mean_pairwise_cosine() -> None:
    assert _cohesion(_unit(np.eye(4))) == 0.0
    assert _cohesion(_unit([[1, 0], [1, 0], [1, 0]])) == pytest.approx(1.0)
    assert _cohesion(_unit([[3, 4]])) == 1.0  # a single vector
    # cos(a,b) = 1, cos(a,c) = cos(b,c) = 0: mean over the three pairs is 1/3.
    assert _cohesion(_unit([[1, 0], [1, 0], [0, 1]])) == pytest.approx(1 / 3)


def test_cluster_is_trimmed_to_its_cohesive_core() -> None:
    rng = np.random.default_rng(7)
    centre = rng.normal(size=16)
    tight = [centre + 0.1 * rng.normal(size=16) for _ in range(6)]
    loose = [centre + 2.0 * rng.normal(size=16) for _ in range(2)]
    vectors = _unit([*tight, *loose])
    members = np.arange(8, dtype=np.int64)
    floor = _cohesion(vectors[:6]) - 0.01
    assert _cohesion(vectors) < floor  # the loose pair drags the whole cluster below the floor
    assert _cohesive_core(vectors, members, floor, 5).tolist() == [0, 1, 2, 3, 4, 5]
    assert _cohesive_core(vectors, members, floor, 7).size == 0  # core too small: no theme
    assert _cohesive_core(vectors, members, -1.0, 5).tolist() == list(range(8))
    # Members are indices into `vectors`.
    padded = np.vstack([np.zeros((2, 16), np.float32), vectors])
    assert _cohesive_core(padded, members + 2, floor, 5).tolist() == [2, 3, 4, 5, 6, 7]


def test_cohesion_and_core_need_no_pairwise_matrix() -> None:
    """The sum formula gives the mean over pairs that the n x n matrix gives."""
    rng = np.random.default_rng(3)
    vectors = _unit(rng.normal(size=(50, 16)) + 2.0)
    sims = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    assert _cohesion(vectors) == pytest.approx((sims.sum() - np.trace(sims)) / (50 * 49))
    assert _cohesion(vectors, [3, 7, 9]) == pytest.approx(
        (sims[np.ix_([3, 7, 9], [3, 7, 9])].sum() - 3 * 1.0) / 6, abs=1e-6
    )


# Three topics the codebook does not name, 150 statements each (texts differ by a number only).
TOPICS = (
    "Journalsystemet kraschar ofta",
    "Parkeringen saknar laddstolpar",
    "Kaffeautomaten serverar kallt kaffe",
)


def _three_topics(n_each: int) -> tuple[list[Statement], Vectors]:
    rng = np.random.default_rng(13)
    centres = rng.normal(size=(3, 32))
    rows = [centres[t] + 0.08 * rng.normal(size=32) for t in range(3) for _ in range(n_each)]
    texts = [f"{TOPICS[t]} {k}" for t in range(3) for k in range(n_each)]
    return _statements(texts), _unit(rows)


def test_a_pool_larger_than_the_sample_is_clustered_by_prediction(
    stopwords: frozenset[str],
) -> None:
    statements, vectors = _three_topics(150)
    config = ThemesConfig(min_cohesion=0.5, cluster_sample=100)
    found = find_inductive_themes(
        statements, vectors, range(len(statements)), [], [], config, stopwords
    )
    # HDBSCAN saw 100 of the 450; the other 350 joined the cluster it predicted for them.
    assert len(found.members) == 3
    for members, keywords in zip(found.members, found.keywords, strict=True):
        topic = {statements[i].text.rsplit(" ", 1)[0] for i in members}
        assert len(topic) == 1 and len(members) > 100
        assert keywords[0][:6] in topic.pop().casefold()  # a lemma: "laddstolpe"
    # The sample is chosen by statement id, so the input order changes nothing.
    order = np.random.default_rng(2).permutation(len(statements))
    shuffled = [statements[i] for i in order]
    again = find_inductive_themes(
        shuffled, vectors[order], range(len(statements)), [], [], config, stopwords
    )
    assert [[shuffled[i].id for i in m] for m in again.members] == [
        [statements[i].id for i in m] for m in found.members
    ]
    assert {shuffled[i].id: p for i, p in again.probabilities.items()} == {
        statements[i].id: p for i, p in found.probabilities.items()
    }


# --- naming decides: a cluster must share its top lemma ---------------------------------------


def _tight_and_spread() -> Vectors:
    """Six nearly identical vectors (a dense group for HDBSCAN), then six scattered ones."""
    rng = np.random.default_rng(5)
    centre = rng.normal(size=16)
    tight = [centre + 0.05 * rng.normal(size=16) for _ in range(6)]
    return _unit([*tight, *(rng.normal(size=16) for _ in range(6))])


SCATTERED = (
    "Handledare saknas helt",
    "Budgeten räcker knappt",
    "Chefer byts ofta",
    "Statistik saknas ofta",
    "Utbildningsplatser minskar snabbt",
    "Samverkan fungerar dåligt",
)


def test_a_dense_group_that_shares_no_word_is_no_theme(stopwords: frozenset[str]) -> None:
    vectors = _tight_and_spread()
    config = ThemesConfig(min_cohesion=-1.0)
    unrelated = (
        "Cykelställen rostar",
        "Lunchen serveras sent",
        "Parkeringen saknar laddare",
        "Hissen går sönder",
        "Fönstren läcker vatten",
        "Kopiatorn fastnar papper",
    )
    named = (
        "Journalsystemet kraschar",
        "Journalsystemet laggar",
        "Journalsystemet saknar funktioner",
        "Nytt journalsystem införs",
        "Journalsystemet kräver inloggning",
        "Datorerna är gamla",
    )
    # The same vectors: only the words differ.
    found = find_inductive_themes(
        _statements([*named, *SCATTERED]), vectors, range(12), [], [], config, stopwords
    )
    assert len(found.members) == 1 and found.keywords[0][0] == "journalsystem"
    assert set(found.members[0]) <= set(range(6))
    lost = find_inductive_themes(
        _statements([*unrelated, *SCATTERED]), vectors, range(12), [], [], config, stopwords
    )
    assert (lost.members, lost.keywords, lost.probabilities) == ((), (), {})
    assert lost.noise == tuple(range(12))


# --- with the real model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_vectors(encode: Callable[[Sequence[str]], Vectors]) -> list[Vectors]:
    """The shipped codebook's example vectors per theme (what sets the default floor)."""
    path = PROJECT_ROOT / "models" / "codebook.yaml"
    codebook: Codebook = parse_codebook(path.read_text(encoding="utf-8"), "models/codebook.yaml")
    vectors = encode(codebook.texts)
    owners = np.asarray(codebook.owners)
    return [vectors[np.flatnonzero(owners == t)[1:]] for t in range(len(codebook.themes))]


POOL_TEXTS = (*IT_STATEMENTS, *LEFTOVERS, *CODEBOOK_LIKE)
IT_ROWS = range(len(IT_STATEMENTS))
LEFTOVER_ROWS = range(len(IT_STATEMENTS), len(IT_STATEMENTS) + len(LEFTOVERS))


@pytest.fixture(scope="module")
def pool_vectors(encode: Callable[[Sequence[str]], Vectors]) -> Vectors:
    return encode(POOL_TEXTS)


def _find(
    vectors: Vectors,
    example_vectors: list[Vectors],
    stopwords: frozenset[str],
    config: ThemesConfig | None = None,
    statements: Sequence[Statement] | None = None,
) -> InductiveThemes:
    statements = statements or _statements(POOL_TEXTS)
    return find_inductive_themes(
        statements,
        vectors,
        range(len(statements)),
        [],
        example_vectors,
        config or ThemesConfig(),
        stopwords,
    )


@pytest.mark.slow
def test_a_dense_real_topic_forms_one_named_theme(
    pool_vectors: Vectors, example_vectors: list[Vectors], stopwords: frozenset[str]
) -> None:
    found = _find(pool_vectors, example_vectors, stopwords)
    assert len(found.members) == 1, [[POOL_TEXTS[i] for i in m] for m in found.members]
    (members,) = found.members
    assert len(members) >= ThemesConfig().min_cluster_size
    assert set(members) <= set(IT_ROWS)
    (keywords,) = found.keywords
    assert keywords[0] == "journalsystem"
    assert len(keywords) == ThemesConfig().top_terms
    bad = [
        k
        for k in keywords
        if k in stopwords or k in MONTHS or re.search(r"\d", k) or k.upper() == k
    ]
    assert not bad, keywords
    assert set(found.probabilities) == set(members)
    assert all(0.0 < p <= 1.0 for p in found.probabilities.values())
    assert sorted([*members, *found.noise]) == list(range(len(POOL_TEXTS)))
    # The floor came from the codebook's examples and the cluster clears it.
    assert -1.0 < found.min_cohesion < _cohesion(pool_vectors[list(members)])
    texts = representatives(members, _statements(POOL_TEXTS), pool_vectors, 3)
    assert len(set(texts)) == 3 and set(texts) <= set(IT_STATEMENTS)


@pytest.mark.slow
def test_leftovers_are_never_clustered(
    pool_vectors: Vectors, example_vectors: list[Vectors], stopwords: frozenset[str]
) -> None:
    from pipeline.inductive import _cluster

    found = _find(pool_vectors, example_vectors, stopwords)
    clustered = {i for m in found.members for i in m}
    assert not clustered & set(LEFTOVER_ROWS)
    assert set(LEFTOVER_ROWS) <= set(found.noise)
    # Control: on their vectors alone, HDBSCAN would put leftovers into a cluster; the content
    # filter is what keeps them out. (As many principal axes as points: the projection keeps
    # the full geometry of these 25 vectors.)
    ids = [s.id for s in _statements(POOL_TEXTS)]
    exact = ThemesConfig(cluster_dimensions=len(POOL_TEXTS))
    labels, _ = _cluster(pool_vectors, ids, exact, found.min_cohesion)
    assert (labels[list(LEFTOVER_ROWS)] >= 0).any()
    # However many there are.
    only_leftovers = _statements(LEFTOVERS * 2)
    vectors = np.vstack([pool_vectors[list(LEFTOVER_ROWS)]] * 2)
    alone = _find(vectors, example_vectors, stopwords, statements=only_leftovers)
    assert alone.members == () and len(alone.noise) == 2 * len(LEFTOVERS)


@pytest.mark.slow
def test_the_cohesion_floor_trims(
    pool_vectors: Vectors, example_vectors: list[Vectors], stopwords: frozenset[str]
) -> None:
    default = _find(pool_vectors, example_vectors, stopwords)
    (members,) = default.members
    cohesion = _cohesion(pool_vectors[list(members)])
    just_under = _find(
        pool_vectors, example_vectors, stopwords, ThemesConfig(min_cohesion=cohesion - 1e-3)
    )
    assert just_under.members == default.members
    assert just_under.min_cohesion == pytest.approx(cohesion - 1e-3)
    # Just over: the least typical member goes, and the core is then too small to be a theme.
    just_over = _find(
        pool_vectors, example_vectors, stopwords, ThemesConfig(min_cohesion=cohesion + 1e-3)
    )
    assert just_over.members == ()
    assert set(members) <= set(just_over.noise)
    strict = _find(pool_vectors, example_vectors, stopwords, ThemesConfig(min_cohesion=0.999))
    assert strict.members == () and len(strict.noise) == len(POOL_TEXTS)


@pytest.mark.slow
def test_independent_of_input_order(
    pool_vectors: Vectors, example_vectors: list[Vectors], stopwords: frozenset[str]
) -> None:
    statements = _statements(POOL_TEXTS)
    first = _find(pool_vectors, example_vectors, stopwords, statements=statements)
    order = np.random.default_rng(11).permutation(len(statements))
    shuffled_statements = [statements[i] for i in order]
    shuffled = _find(
        pool_vectors[order], example_vectors, stopwords, statements=shuffled_statements
    )

    def by_id(found: InductiveThemes, sts: Sequence[Statement]) -> object:
        return (
            [[sts[i].id for i in m] for m in found.members],
            found.keywords,
            {sts[i].id: p for i, p in found.probabilities.items()},
            sorted(sts[i].id for i in found.noise),
            found.min_cohesion,
        )

    assert by_id(shuffled, shuffled_statements) == by_id(first, statements)
