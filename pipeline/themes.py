"""Theme assignment: the codebook classifier first, inductive themes for the rest, and an honest
"ej tilldelad" remainder.

Public entry point (pure: no file I/O, no Prefect, no model; the caller embeds texts):
`assign_themes(statements, vectors, codebook, codebook_vectors, config, stopwords, labels)
-> ThemeResult` assigns every statement to exactly one theme.

The seams, each its own module:
* `pipeline/codebook.py` parses and validates the codebook;
* `pipeline/classify.py` fits the classifier on the codebook (and the analyst's labels) and gives
  every statement a calibrated probability over the codebook themes and `other`;
* `pipeline/inductive.py` clusters what the classifier calls `other` with HDBSCAN and names it.

A statement joins the class it is most probably in. The analyst's labels (`labels`, statement id
-> theme id or "other") win over the classifier, with method "analyst", and the classifier
learns from them. Statements of class `other` form inductive themes when they have content and
cluster cohesively; the rest is `ej_tilldelad`, counted in every table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from pipeline.classify import ClassScores, ThemeClassifier, fit_classifier
from pipeline.codebook import (
    INDUCTIVE_PREFIX,
    OTHER_ID,
    UNASSIGNED_ID,
    UNASSIGNED_LABEL,
    Codebook,
    CodebookError,
    CodebookTheme,
    parse_codebook,
)
from pipeline.config import ThemesConfig
from pipeline.inductive import InductiveThemes, find_inductive_themes, representatives
from pipeline.records import Statement

__all__ = [
    "INDUCTIVE_PREFIX",
    "OTHER_ID",
    "UNASSIGNED_ID",
    "UNASSIGNED_LABEL",
    "Assignment",
    "Codebook",
    "CodebookError",
    "CodebookTheme",
    "Method",
    "Theme",
    "ThemeResult",
    "assign_themes",
    "load_stopwords",
    "parse_codebook",
]

Origin = Literal["codebook", "inductive", "unassigned"]
Method = Literal["analyst", "codebook", "codebook+heading", "hdbscan", "unassigned"]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Theme:
    """A theme in the result.

    `size` counts the statements assigned to it (0 is possible for codebook themes and for
    `ej_tilldelad`, which are always listed). `keywords` are the top c-TF-IDF terms (inductive
    themes) or the codebook terms (codebook themes). `representatives` are the texts of up to
    `config.representatives` distinct statements nearest the theme's centroid.
    """

    id: str
    label: str
    origin: Origin
    keywords: tuple[str, ...]
    size: int
    representatives: tuple[str, ...]


@dataclass(frozen=True)
class Assignment:
    """Where one statement went.

    `score` depends on `method`: for "codebook"/"codebook+heading"/"analyst" the cosine
    similarity to the theme's nearest codebook prototype; for "hdbscan" the HDBSCAN membership
    probability (0..1); for "unassigned" the best codebook similarity it reached (so near misses
    are visible). `confidence` is the calibrated probability (0..1) that `theme_id` is right
    (1.0 for the analyst's labels)."""

    statement_id: str
    theme_id: str
    theme_label: str
    score: float
    method: Method
    confidence: float = 1.0


@dataclass(frozen=True)
class ThemeResult:
    """All themes (codebook in codebook order, then inductive_01.., then ej_tilldelad) and one
    assignment per input statement, in input order.

    `probabilities` (n, len(themes)) float64: row i is statement i's probability over `themes`
    (same order); rows sum to 1. The classifier's `other` mass sits on the statement's own
    non-codebook theme (its inductive theme, else ej_tilldelad); analyst labels are one-hot.
    `classifier` is the fitted classifier, `min_cohesion` the inductive cohesion floor."""

    themes: tuple[Theme, ...]
    assignments: tuple[Assignment, ...]
    min_cohesion: float
    probabilities: npt.NDArray[np.float64] | None = None
    classifier: ThemeClassifier | None = None


def assign_themes(
    statements: Sequence[Statement],
    vectors: FloatArray,
    codebook: Codebook,
    codebook_vectors: FloatArray,
    config: ThemesConfig,
    stopwords: frozenset[str],
    labels: Mapping[str, str] | None = None,
) -> ThemeResult:
    """Assign every statement to one theme (see the module docstring).

    statements: n statements; vectors: (n, dim) float32 unit rows, row i embeds statements[i].
    codebook_vectors: (len(codebook.texts), dim) float32 unit rows embedding `codebook.texts`.
    stopwords: lowercase words ignored when naming inductive themes.
    labels: the analyst's themes by statement id (a codebook id or "other"); others ignored.
    Deterministic: the same inputs give the same result, whatever order the statements come in
    (apart from the order of `assignments`, which follows the input).
    """
    n = len(statements)
    vectors = (
        np.asarray(vectors, dtype=np.float32).reshape(n, -1)
        if n
        else np.zeros((0, codebook_vectors.shape[1]), dtype=np.float32)
    )
    codebook_vectors = np.asarray(codebook_vectors, dtype=np.float32)
    _check_shapes(statements, vectors, codebook, codebook_vectors)
    classes = (*codebook.ids, OTHER_ID)
    given = {k: v for k, v in (labels or {}).items() if v in classes}
    labelled = sorted(
        (i for i, s in enumerate(statements) if s.id in given), key=lambda i: statements[i].id
    )
    classifier = fit_classifier(
        codebook,
        codebook_vectors,
        config,
        [statements[i] for i in labelled],
        vectors[labelled],
        [given[statements[i].id] for i in labelled],
    )
    scores = classifier.predict(statements, vectors, given)
    choice = _choose(statements, scores, given, classes)
    n_themes = len(codebook.themes)
    # Statement-id order, so the cohesion floor cannot depend on input order to the last bit.
    by_id = sorted(range(n), key=lambda i: statements[i].id)
    groups = [[i for i in by_id if choice[i] == t] for t in range(n_themes)]
    owners = np.asarray(codebook.owners)
    examples = [codebook_vectors[np.flatnonzero(owners == t)[1:]] for t in range(n_themes)]
    pool = [i for i in range(n) if choice[i] == n_themes and statements[i].id not in given]
    inductive = find_inductive_themes(
        statements, vectors, pool, groups, examples, config, stopwords
    )
    return _result(
        statements, vectors, codebook, config, scores, choice, given, inductive, classifier
    )


def _check_shapes(
    statements: Sequence[Statement],
    vectors: FloatArray,
    codebook: Codebook,
    codebook_vectors: FloatArray,
) -> None:
    if codebook_vectors.shape[0] != len(codebook.texts):
        raise ValueError(
            f"codebook_vectors has {codebook_vectors.shape[0]} rows, expected "
            f"{len(codebook.texts)} (one per codebook.texts)"
        )
    if statements and vectors.shape[1] != codebook_vectors.shape[1]:
        raise ValueError(
            f"statement vectors have dim {vectors.shape[1]}, codebook vectors "
            f"{codebook_vectors.shape[1]}: embed both with the same model"
        )
    if len({s.id for s in statements}) != len(statements):
        raise ValueError("statement ids must be unique")


def _choose(
    statements: Sequence[Statement],
    scores: ClassScores,
    given: Mapping[str, str],
    classes: Sequence[str],
) -> list[int]:
    """Class index per statement: the analyst's label, else the most probable class (ties to
    the earlier codebook theme)."""
    index = {c: j for j, c in enumerate(classes)}
    return [
        index[given[s.id]] if s.id in given else int(np.argmax(scores.probabilities[i]))
        for i, s in enumerate(statements)
    ]


def _result(
    statements: Sequence[Statement],
    vectors: FloatArray,
    codebook: Codebook,
    config: ThemesConfig,
    scores: ClassScores,
    choice: Sequence[int],
    given: Mapping[str, str],
    inductive: InductiveThemes,
    classifier: ThemeClassifier,
) -> ThemeResult:
    """Themes, assignments and the probability matrix (see `ThemeResult`)."""
    n, n_themes = len(statements), len(codebook.themes)
    ids = [s.id for s in statements]
    n_inductive = len(inductive.members)
    unassigned_col = n_themes + n_inductive
    # Result column per statement: its codebook theme, else ej_tilldelad unless a cluster took it.
    column = [c if c < n_themes else unassigned_col for c in choice]
    for c, members in enumerate(inductive.members):
        for i in members:
            column[i] = n_themes + c
    probs = np.zeros((n, unassigned_col + 1))
    p = scores.probabilities
    probs[:, :n_themes] = p[:, :n_themes]
    for i in range(n):
        other_col = column[i] if column[i] >= n_themes else unassigned_col
        probs[i, other_col] += p[i, n_themes]
        if ids[i] in given:
            probs[i] = 0.0
            probs[i, column[i]] = 1.0
    best_similarity = scores.similarity.max(axis=1) if n_themes else np.zeros(n)

    themes: list[Theme] = []
    labels_of: list[str] = []
    for t, theme in enumerate(codebook.themes):
        in_theme = sorted((i for i in range(n) if column[i] == t), key=lambda i: ids[i])
        themes.append(
            Theme(
                theme.id,
                theme.label,
                "codebook",
                theme.terms[: config.top_terms],
                len(in_theme),
                representatives(in_theme, statements, vectors, config.representatives),
            )
        )
        labels_of.append(theme.label)
    for c, (members, keywords) in enumerate(
        zip(inductive.members, inductive.keywords, strict=True), start=1
    ):
        label = ", ".join(keywords[:3]) if keywords else f"tema {c}"
        themes.append(
            Theme(
                f"{INDUCTIVE_PREFIX}{c:02d}",
                label,
                "inductive",
                keywords,
                len(members),
                representatives(list(members), statements, vectors, config.representatives),
            )
        )
        labels_of.append(label)
    noise = sorted((i for i in range(n) if column[i] == unassigned_col), key=lambda i: ids[i])
    themes.append(
        Theme(
            UNASSIGNED_ID,
            UNASSIGNED_LABEL,
            "unassigned",
            (),
            len(noise),
            representatives(noise, statements, vectors, config.representatives),
        )
    )
    labels_of.append(UNASSIGNED_LABEL)

    assignments = []
    for i in range(n):
        col = column[i]
        method: Method
        if ids[i] in given:
            method = "analyst"
        elif col < n_themes:
            method = "codebook+heading" if scores.heading[i, col] > 0 else "codebook"
        elif col < unassigned_col:
            method = "hdbscan"
        else:
            method = "unassigned"
        if method == "hdbscan":
            score = inductive.probabilities[i]
        elif col < n_themes:
            score = float(scores.similarity[i, col])
        else:
            score = float(best_similarity[i])
        assignments.append(
            Assignment(ids[i], themes[col].id, labels_of[col], score, method, float(probs[i, col]))
        )
    return ThemeResult(tuple(themes), tuple(assignments), inductive.min_cohesion, probs, classifier)


def load_stopwords(extra_text: str) -> frozenset[str]:
    """spaCy's Swedish stop words plus the lines of stopwords_extra.txt (`#` comments allowed),
    lowercased. Pure: the caller reads the file."""
    import spacy

    base = {w.casefold() for w in spacy.blank("sv").Defaults.stop_words}
    extra = {line.split("#", 1)[0].strip().casefold() for line in extra_text.splitlines()}
    return frozenset(base | {w for w in extra if w})
