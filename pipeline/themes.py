"""Theme assignment: codebook first, HDBSCAN for the rest, and an honest "ej tilldelad" remainder.

Public API (pure: no file I/O, no Prefect, no model; the caller embeds texts):

* `parse_codebook(yaml_text, source) -> Codebook` validates the codebook YAML.
* `assign_themes(statements, vectors, codebook, codebook_vectors, config, stopwords)
  -> ThemeResult` assigns every statement to exactly one theme.

The caller embeds `codebook.texts` with the same embedder as the statements and passes the rows in
that order as `codebook_vectors`.

How a statement is assigned
---------------------------
1. Similarity. Each codebook theme has prototypes: its "label: definition" text and its examples.
   A statement's similarity to a theme is the mean of its `config.top_k` highest cosines to that
   theme's prototypes. The default top_k=1 (nearest prototype) suits short table cells, which
   resemble one example rather than a theme's whole neighbourhood; top_k > 1 is a soft max.
2. Calibrated threshold. Unless `config.threshold` pins it, the threshold is calibrated on the
   codebook itself: every example is scored leave-one-out against its own theme (its own vector
   removed from the prototypes), and the threshold is the `config.calibration_quantile` quantile
   of those scores, i.e. the level that that share of held-out in-codebook examples would fail.
   The gold file is never used here; it only measures (see `bench/gold_accuracy.py`).
3. Headings. A short heading (<= 5 words) in `Statement.heading_path`, or the table column
   header, containing one of a theme's `heading_terms` names that theme (the innermost naming
   heading wins; one heading may name several themes).
   A named theme gets `config.heading_weight` (cosine units) added to its similarity before the
   argmax and the threshold test, so the group's own filing of a statement can tip a close or
   borderline call, but cannot pull in a statement that is far from the theme. When the chosen
   theme was named by the heading the method is "codebook+heading".
4. Margin. The best theme must also beat the second best by `config.margin` (adjusted scores).
5. The rest is clustered with HDBSCAN (exact MST, fixed parameters, input sorted by statement id,
   so no randomness is involved) into inductive themes named by their top c-TF-IDF terms. A
   cluster must be at least as cohesive (mean pairwise cosine) as the loosest codebook theme is
   on the same statements (`config.min_cohesion` pins it; see `_calibrate_cohesion`): its least
   typical members are let go until it is, and a cluster whose cohesive core is smaller than
   `min_cluster_size` leaves all its statements unassigned.
6. HDBSCAN noise becomes the theme `ej_tilldelad` (origin "unassigned"): counted, never hidden.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import yaml

from pipeline.config import ThemesConfig
from pipeline.records import Statement

__all__ = [
    "UNASSIGNED_ID",
    "UNASSIGNED_LABEL",
    "Assignment",
    "Codebook",
    "CodebookError",
    "CodebookTheme",
    "Theme",
    "ThemeResult",
    "assign_themes",
    "load_stopwords",
    "parse_codebook",
]

UNASSIGNED_ID = "ej_tilldelad"
UNASSIGNED_LABEL = "ej tilldelad"
INDUCTIVE_PREFIX = "inductive_"

MIN_EXAMPLES = 5
MAX_EXAMPLES = 15

Origin = Literal["codebook", "inductive", "unassigned"]
Method = Literal["analyst", "codebook", "codebook+heading", "hdbscan", "unassigned"]
OTHER_ID = "other"  # an analyst's label for "no codebook theme"
FloatArray = npt.NDArray[np.float32]

_ID_RE = re.compile(r"^[a-zåäö][a-zåäö0-9_]*$")
# Words for c-TF-IDF and heading matching: letters (Swedish included) and inner hyphens, so
# "IT-system" stays one term.
_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_MAX_HEADING_WORDS = 5
_THEME_KEYS = frozenset({"id", "label", "definition", "examples", "heading_terms"})


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class CodebookTheme:
    """One predefined theme: stable `id`, display `label`, `definition`, example statements and
    the words that, found in an enclosing heading, name this theme."""

    id: str
    label: str
    definition: str
    examples: tuple[str, ...]
    heading_terms: tuple[str, ...] = ()

    @property
    def prototype_texts(self) -> tuple[str, ...]:
        """The texts embedded for this theme: "label: definition" first, then the examples."""
        return (f"{self.label}: {self.definition}", *self.examples)


@dataclass(frozen=True)
class Codebook:
    """The validated codebook; `source` names the file it came from (for messages)."""

    source: str
    themes: tuple[CodebookTheme, ...]

    @property
    def texts(self) -> tuple[str, ...]:
        """All prototype texts, theme by theme in codebook order; embed these, in this order, to
        get the `codebook_vectors` for `assign_themes`."""
        return tuple(text for theme in self.themes for text in theme.prototype_texts)

    @property
    def owners(self) -> tuple[int, ...]:
        """For each row of `texts`, the index of its theme in `themes`."""
        return tuple(i for i, theme in enumerate(self.themes) for _ in theme.prototype_texts)


@dataclass(frozen=True)
class Theme:
    """A theme in the result.

    `size` counts the statements assigned to it (0 is possible for codebook themes and for
    `ej_tilldelad`, which are always listed). `keywords` are the top c-TF-IDF terms (inductive
    themes) or the heading terms (codebook themes). `representatives` are the texts of up to
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

    `score` depends on `method`: for "codebook"/"codebook+heading" the cosine similarity to the
    chosen theme (before any heading bonus); for "hdbscan" the HDBSCAN membership probability
    (0..1); for "unassigned" the best codebook similarity it reached (so near misses are visible).
    """

    statement_id: str
    theme_id: str
    theme_label: str
    score: float
    method: Method
    # Calibrated probability (0..1) that `theme_id` is the statement's theme.
    confidence: float = 1.0


@dataclass(frozen=True)
class ThemeResult:
    """All themes (codebook in codebook order, then inductive_01.., then ej_tilldelad) and one
    assignment per input statement, in input order. `threshold` is the codebook similarity
    threshold and `min_cohesion` the inductive-cluster cohesion floor that were used (cosine
    units; calibrated on the codebook or pinned by config)."""

    themes: tuple[Theme, ...]
    assignments: tuple[Assignment, ...]
    threshold: float
    min_cohesion: float
    # (n, len(themes)) float64: row i is statement i's probability over `themes` (same order,
    # inductive themes and ej_tilldelad included); rows sum to 1. None: not computed.
    probabilities: npt.NDArray[np.float64] | None = None


class CodebookError(ValueError):
    """The codebook YAML is malformed; the message names the file, the theme and the key."""


# --------------------------------------------------------------------------------------------
# Codebook parsing


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise CodebookError(f"{where}: {key}: expected a list of strings, got {_kind(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise CodebookError(f"{where}: {key}[{i}]: expected a non-empty string")
        out.append(" ".join(item.split()))
    return tuple(out)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


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
    if theme_id == UNASSIGNED_ID or theme_id.startswith(INDUCTIVE_PREFIX):
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
    examples = _str_list(raw.get("examples"), where, "examples")
    if not MIN_EXAMPLES <= len(examples) <= MAX_EXAMPLES:
        raise CodebookError(
            f"{where}: examples: need {MIN_EXAMPLES}–{MAX_EXAMPLES}, got {len(examples)}"
        )
    if len(set(examples)) != len(examples):
        raise CodebookError(f"{where}: examples: duplicate example")
    terms = _str_list(raw.get("heading_terms", []), where, "heading_terms")
    return CodebookTheme(
        id=theme_id,
        label=strings["label"],
        definition=strings["definition"],
        examples=examples,
        heading_terms=tuple(t.casefold() for t in terms),
    )


def parse_codebook(yaml_text: str, source: str = "<codebook>") -> Codebook:
    """Validate codebook YAML (`themes:` list of {id, label, definition, examples,
    heading_terms?}) into a `Codebook`. Errors name `source`, the theme and the key, e.g.
    "models/codebook.yaml: theme 'x': examples: need 5–15, got 2"."""
    try:
        raw: Any = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        raise CodebookError(f"{source}: not valid YAML: {exc}; fix the syntax") from exc
    if not isinstance(raw, dict) or "themes" not in raw:
        raise CodebookError(f"{source}: expected a mapping with a 'themes' list")
    unknown = sorted(set(raw) - {"themes"})
    if unknown:
        raise CodebookError(f"{source}: unknown top-level key(s) {', '.join(map(str, unknown))}")
    items = raw["themes"]
    if not isinstance(items, list) or not items:
        raise CodebookError(f"{source}: themes: expected a non-empty list, got {_kind(items)}")
    themes = tuple(_parse_theme(item, i, source) for i, item in enumerate(items))
    seen: set[str] = set()
    for theme in themes:
        if theme.id in seen:
            raise CodebookError(f"{source}: theme {theme.id!r}: id: duplicate id")
        seen.add(theme.id)
    return Codebook(source=source, themes=themes)


# --------------------------------------------------------------------------------------------
# Codebook similarity and calibration


def _theme_scores(
    sims: FloatArray, owners: npt.NDArray[np.int64], n_themes: int, top_k: int
) -> npt.NDArray[np.float64]:
    """Mean of the top_k cosines per theme. sims: (n, n_protos) -> (n, n_themes).

    Entries of `sims` set to -inf (held-out prototypes) are skipped."""
    out = np.empty((sims.shape[0], n_themes), dtype=np.float64)
    for t in range(n_themes):
        block = np.sort(sims[:, owners == t].astype(np.float64), axis=1)[:, ::-1]
        valid = np.isfinite(block)
        k = np.minimum(top_k, valid.sum(axis=1))
        top = np.where(valid, block, 0.0)
        cum = np.cumsum(top, axis=1)
        out[:, t] = cum[np.arange(len(k)), np.maximum(k - 1, 0)] / np.maximum(k, 1)
    return out


def _calibrate_threshold(
    codebook: Codebook, codebook_vectors: FloatArray, top_k: int, quantile: float
) -> float:
    """Leave-one-out threshold on the codebook's own examples.

    Each example (not the label/definition prototype) is scored against its own theme with its own
    row removed; returns the `quantile` quantile of those scores (cosine units)."""
    owners = np.asarray(codebook.owners, dtype=np.int64)
    sims = (codebook_vectors @ codebook_vectors.T).astype(np.float32)
    np.fill_diagonal(sims, -np.inf)
    scores = _theme_scores(sims, owners, len(codebook.themes), top_k)
    first_rows = {t: int(np.flatnonzero(owners == t)[0]) for t in range(len(codebook.themes))}
    is_example = np.array([first_rows[int(t)] != i for i, t in enumerate(owners)])
    own = scores[np.arange(len(owners)), owners][is_example]
    return float(np.quantile(own, quantile, method="lower"))


def _words(text: str) -> list[str]:
    return [m.group(0).casefold() for m in _WORD_RE.finditer(text)]


def _term_matches(term: str, words: Sequence[str], joined: str) -> bool:
    """A multi-word term must occur as whole words in order; a single word matches a heading word
    exactly or, when longer than 3 letters, as its prefix."""
    if " " in term:
        return f" {' '.join(_words(term))} " in joined
    return any(w == term or (len(term) > 3 and w.startswith(term)) for w in words)


def _heading_themes(statement: Statement, codebook: Codebook) -> frozenset[int]:
    """Themes named by the innermost heading that names any.

    The table column header counts as the innermost heading (workshop tables put categories in
    column headers). A term matches a heading word exactly or as its prefix (so "lärande" matches
    "lärandemiljö"); terms of 3 letters or fewer ("vfu", "mål") only match exactly. Headings of
    more than `_MAX_HEADING_WORDS` words are skipped: a category heading is short, while a title
    such as "Segment 1 – Regional samverkan kring kompetensförsörjning" mentions a theme word
    without filing the statements under it."""
    headings = (*statement.heading_path, statement.table_column)
    for heading in reversed(headings):
        words = _words(heading)
        if not words or len(words) > _MAX_HEADING_WORDS:
            continue
        joined = f" {' '.join(words)} "
        named = frozenset(
            t
            for t, theme in enumerate(codebook.themes)
            if any(_term_matches(term, words, joined) for term in theme.heading_terms)
        )
        if named:
            return named
    return frozenset()


# --------------------------------------------------------------------------------------------
# Inductive themes


def _terms(text: str, stopwords: frozenset[str]) -> list[str]:
    """Lowercased, lemmatized (simplemma, Swedish) content words; stop words dropped both before
    and after lemmatization so inflected and base forms are both caught."""
    import simplemma

    out: list[str] = []
    for word in _words(text):
        if len(word) < 2 or word in stopwords:
            continue
        lemma = str(simplemma.lemmatize(word, lang="sv")).casefold()
        if len(lemma) < 2 or lemma in stopwords:
            continue
        out.append(lemma)
    return out


def _ctfidf_keywords(class_docs: Sequence[Sequence[str]], top_n: int) -> list[tuple[str, ...]]:
    """c-TF-IDF (BERTopic): tf normalized per class times log(1 + A / f_t), A = mean words per
    class, f_t = frequency of t over all classes. Ties broken alphabetically."""
    counts = [Counter(doc) for doc in class_docs]
    total = Counter[str]()
    for c in counts:
        total.update(c)
    avg_words = sum(total.values()) / max(len(counts), 1)
    keywords: list[tuple[str, ...]] = []
    for c in counts:
        n_words = sum(c.values())
        if n_words == 0:
            keywords.append(())
            continue
        scored = sorted(
            ((-(n / n_words) * math.log(1.0 + avg_words / total[t]), t) for t, n in c.items()),
        )
        keywords.append(tuple(t for _, t in scored[:top_n]))
    return keywords


def _cluster(
    vectors: FloatArray, config: ThemesConfig, min_cohesion: float
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """HDBSCAN labels (-1 = noise) and membership probabilities for unit `vectors` (n, dim).

    Euclidean distance on unit vectors is monotone in cosine distance. The exact MST
    (approx_min_span_tree=False) and the generic algorithm make the result depend only on the
    input order, which the caller fixes by sorting on statement id. A cluster whose mean pairwise
    cosine is below `min_cohesion` is trimmed to its cohesive core (`_cohesive_core`), the rest
    returned as noise: with a single cluster allowed, HDBSCAN would otherwise lump a diffuse
    leftover into one "theme"."""
    import hdbscan

    n = vectors.shape[0]
    if n < max(config.min_cluster_size, 2):
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=config.min_cluster_size,
        min_samples=min(config.min_samples, n - 1),
        metric="euclidean",
        algorithm="generic",
        approx_min_span_tree=False,
        core_dist_n_jobs=1,
        cluster_selection_method="eom",
        allow_single_cluster=config.allow_single_cluster,
    )
    clusterer.fit(vectors.astype(np.float64))
    labels = np.asarray(clusterer.labels_, dtype=np.int64).copy()
    probs = np.asarray(clusterer.probabilities_, dtype=np.float32).copy()
    for label in sorted(set(labels.tolist()) - {-1}):
        members = np.flatnonzero(labels == label)
        core = _cohesive_core(vectors, members, min_cohesion, config.min_cluster_size)
        outliers = np.setdiff1d(members, core)
        labels[outliers] = -1
        probs[outliers] = 0.0
    return labels, probs


def _cohesive_core(
    vectors: FloatArray, members: npt.NDArray[np.int64], min_cohesion: float, min_size: int
) -> npt.NDArray[np.int64]:
    """The members of a cluster that stay once it is as cohesive as `min_cohesion`.

    HDBSCAN attaches loosely related points to a dense group; rather than lose the group, the
    member least similar to the others is let go, one at a time (ties to the later row), until
    the rest is cohesive enough. A core smaller than `min_size` is no theme: empty result."""
    core = np.asarray(members, dtype=np.int64)
    while len(core) >= min_size:
        if _cohesion(vectors[core]) >= min_cohesion:
            return core
        v = vectors[core].astype(np.float64)
        sims = v @ v.T
        mean_to_others = (sims.sum(axis=1) - np.diag(sims)) / (len(core) - 1)
        weakest = max(range(len(core)), key=lambda j: (-round(float(mean_to_others[j]), 9), j))
        core = np.delete(core, weakest)
    return np.zeros(0, dtype=np.int64)


def _cohesion(vectors: FloatArray) -> float:
    """Mean pairwise cosine of unit rows (n >= 2), cosine units."""
    v = vectors.astype(np.float64)
    n = v.shape[0]
    if n < 2:
        return 1.0
    sims = v @ v.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _calibrate_cohesion(
    codebook: Codebook,
    codebook_vectors: FloatArray,
    vectors: FloatArray,
    chosen: dict[int, tuple[int, float, Method]],
    config: ThemesConfig,
) -> float:
    """The cohesion an inductive theme needs: no looser than the loosest codebook theme.

    Like is compared with like: when at least two codebook themes hold `min_cluster_size`
    statements of this corpus, the floor is the lowest mean pairwise cosine among those themes'
    statements. On smaller inputs it falls back to the median over themes of the cohesion of
    their codebook examples (authored examples are tighter than real statements)."""
    by_theme: dict[int, list[int]] = {}
    for i, (theme, _, _) in chosen.items():
        by_theme.setdefault(theme, []).append(i)
    corpus = [
        _cohesion(vectors[sorted(members)])
        for members in by_theme.values()
        if len(members) >= config.min_cluster_size
    ]
    if len(corpus) >= 2:
        return float(min(corpus))
    owners = np.asarray(codebook.owners, dtype=np.int64)
    values = []
    for t in range(len(codebook.themes)):
        rows = np.flatnonzero(owners == t)[1:]  # skip the label/definition prototype
        values.append(_cohesion(codebook_vectors[rows]))
    return float(np.median(values))


def _representatives(
    members: Sequence[int], statements: Sequence[Statement], vectors: FloatArray, k: int
) -> tuple[str, ...]:
    """Texts of the k distinct statements nearest the (renormalized) mean of the members'
    vectors; ties (to 6 decimals, against float noise) broken by statement id."""
    if not members:
        return ()
    idx = np.asarray(members, dtype=np.int64)
    centroid = vectors[idx].astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    if norm > 0:
        centroid /= norm
    sims = vectors[idx].astype(np.float64) @ centroid
    order = sorted(
        range(len(idx)), key=lambda j: (-round(float(sims[j]), 6), statements[int(idx[j])].id)
    )
    out: list[str] = []
    for j in order:
        text = statements[int(idx[j])].text
        if text not in out:
            out.append(text)
        if len(out) == k:
            break
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Entry point


def assign_themes(
    statements: Sequence[Statement],
    vectors: FloatArray,
    codebook: Codebook,
    codebook_vectors: FloatArray,
    config: ThemesConfig,
    stopwords: frozenset[str],
    labels: Mapping[str, str] | None = None,
) -> ThemeResult:
    """Assign every statement to one theme (see the module docstring for the rules).

    statements: n statements; vectors: (n, dim) float32 unit rows, row i embeds statements[i].
    codebook_vectors: (len(codebook.texts), dim) float32 unit rows embedding `codebook.texts`.
    stopwords: lowercase words ignored when naming inductive themes (spaCy's Swedish list plus
    models/stopwords_extra.txt; the caller loads them).
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
    if codebook_vectors.shape[0] != len(codebook.texts):
        raise ValueError(
            f"codebook_vectors has {codebook_vectors.shape[0]} rows, expected "
            f"{len(codebook.texts)} (one per codebook.texts)"
        )
    if n and vectors.shape[1] != codebook_vectors.shape[1]:
        raise ValueError(
            f"statement vectors have dim {vectors.shape[1]}, codebook vectors "
            f"{codebook_vectors.shape[1]}: embed both with the same model"
        )
    ids = [s.id for s in statements]
    if len(set(ids)) != n:
        raise ValueError("statement ids must be unique")

    n_themes = len(codebook.themes)
    owners = np.asarray(codebook.owners, dtype=np.int64)
    threshold = (
        config.threshold
        if config.threshold is not None
        else _calibrate_threshold(
            codebook, codebook_vectors, config.top_k, config.calibration_quantile
        )
    )

    # --- codebook pass
    # Rows in statement-id order: a matrix product's last bits depend on where a row sits in
    # the batch, and the scores must not depend on the order the statements come in.
    by_id = sorted(range(n), key=lambda i: ids[i])
    raw = np.empty((n, n_themes), dtype=np.float64)
    raw[by_id] = _theme_scores(vectors[by_id] @ codebook_vectors.T, owners, n_themes, config.top_k)
    chosen: dict[int, tuple[int, float, Method]] = {}  # statement index -> (theme, score, method)
    best_raw = raw.max(axis=1) if n else np.zeros(0)
    theme_index = {theme.id: t for t, theme in enumerate(codebook.themes)}
    labelled = dict(labels or {})
    for i, statement in enumerate(statements):
        if statement.id in labelled and labelled[statement.id] in theme_index:
            t = theme_index[labelled[statement.id]]
            chosen[i] = (t, float(raw[i, t]), "analyst")
            continue
        named = _heading_themes(statement, codebook)
        adjusted = raw[i].copy()
        for t in named:
            adjusted[t] += config.heading_weight
        # argmax with ties to the earlier codebook theme (np.argmax is first-wins)
        order = np.argsort(-adjusted, kind="stable")
        best = int(order[0])
        second = float(adjusted[order[1]]) if n_themes > 1 else -np.inf
        if adjusted[best] >= threshold and adjusted[best] - second >= config.margin:
            method: Method = "codebook+heading" if best in named else "codebook"
            chosen[i] = (best, float(raw[i, best]), method)

    # --- inductive pass over the rest, in statement-id order so input order cannot matter
    rest = sorted((i for i in range(n) if i not in chosen), key=lambda i: ids[i])
    min_cohesion = (
        config.min_cohesion
        if config.min_cohesion is not None
        else _calibrate_cohesion(codebook, codebook_vectors, vectors, chosen, config)
    )
    labels, probs = (
        _cluster(vectors[rest], config, min_cohesion)
        if rest
        else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    )
    clusters: dict[int, list[int]] = {}
    noise: list[int] = []
    for j, i in enumerate(rest):
        (clusters.setdefault(int(labels[j]), []) if labels[j] >= 0 else noise).append(i)
    # Number inductive themes by size (largest first), then by their smallest statement id.
    ordered = sorted(clusters.values(), key=lambda m: (-len(m), min(ids[i] for i in m)))
    docs = [[w for i in m for w in _terms(statements[i].text, stopwords)] for m in ordered]
    noise_doc = [w for i in noise for w in _terms(statements[i].text, stopwords)]
    keywords = _ctfidf_keywords([*docs, noise_doc], config.top_terms)[: len(ordered)]
    prob_of = {i: float(probs[j]) for j, i in enumerate(rest)}

    assignments: dict[int, Assignment] = {}
    themes: list[Theme] = []
    for t, theme in enumerate(codebook.themes):
        members = sorted((i for i, (ct, _, _) in chosen.items() if ct == t), key=lambda i: ids[i])
        for i in members:
            _, score, method = chosen[i]
            assignments[i] = Assignment(ids[i], theme.id, theme.label, score, method)
        themes.append(
            Theme(
                theme.id,
                theme.label,
                "codebook",
                theme.heading_terms,
                len(members),
                _representatives(members, statements, vectors, config.representatives),
            )
        )
    for number, (members, kw) in enumerate(zip(ordered, keywords, strict=True), start=1):
        theme_id = f"{INDUCTIVE_PREFIX}{number:02d}"
        label = ", ".join(kw[:3]) if kw else f"tema {number}"
        for i in members:
            assignments[i] = Assignment(ids[i], theme_id, label, prob_of[i], "hdbscan")
        members_sorted = sorted(members, key=lambda i: ids[i])
        themes.append(
            Theme(
                theme_id,
                label,
                "inductive",
                kw,
                len(members),
                _representatives(members_sorted, statements, vectors, config.representatives),
            )
        )
    for i in noise:
        assignments[i] = Assignment(
            ids[i], UNASSIGNED_ID, UNASSIGNED_LABEL, float(best_raw[i]), "unassigned"
        )
    themes.append(
        Theme(
            UNASSIGNED_ID,
            UNASSIGNED_LABEL,
            "unassigned",
            (),
            len(noise),
            _representatives(noise, statements, vectors, config.representatives),
        )
    )
    return ThemeResult(
        tuple(themes), tuple(assignments[i] for i in range(n)), float(threshold), min_cohesion
    )


def load_stopwords(extra_text: str) -> frozenset[str]:
    """spaCy's Swedish stop words plus the lines of stopwords_extra.txt (`#` comments allowed),
    lowercased. Pure: the caller reads the file."""
    import spacy

    base = {w.casefold() for w in spacy.blank("sv").Defaults.stop_words}
    extra = {line.split("#", 1)[0].strip().casefold() for line in extra_text.splitlines()}
    return frozenset(base | {w for w in extra if w})
