"""Inductive themes: what fits no codebook theme, clustered with HDBSCAN and named.

Public entry point: `find_inductive_themes(statements, vectors, pool, codebook_groups,
example_vectors, config, stopwords) -> InductiveThemes`; `representatives` (the statements
nearest a theme's centre) is shared with `pipeline/themes.py` for codebook themes.

1. Only statements with content can form a theme: a statement needs at least
   `_MIN_CONTENT_TERMS` content lemmas (no stop words, months, numbers or acronyms), so counts,
   dates, acronym lists and web leftovers ("Läs mer", "Senast uppdaterad 3 maj") stay
   unassigned instead of forming a "theme" of their own.
2. HDBSCAN on the pool's top principal axes (k-d tree, exact MST, fixed parameters, input
   sorted by statement id, so no randomness); a pool larger than `config.cluster_sample` is
   clustered on a hash-chosen sample and the rest joins the predicted cluster. Memory is linear
   in the pool and time near-linear: no n x n matrix is formed anywhere (`_cluster`).
3. A cluster must be as cohesive (mean pairwise cosine) as a typical (median) codebook theme on
   the same corpus (`config.min_cohesion` pins it); its least typical members are let go until
   it is, and a core smaller than `min_cluster_size` is no theme.
4. Names are the top c-TF-IDF content lemmas (BERTopic's class-based TF-IDF); a cluster whose
   top lemma is not shared by half its members names nothing and is returned to the remainder.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.config import ThemesConfig
from pipeline.records import Statement

__all__ = ["InductiveThemes", "find_inductive_themes", "representatives"]

FloatArray = npt.NDArray[np.float32]

# Words for c-TF-IDF: letters (Swedish included) and inner hyphens, so "IT-system" stays one term.
_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# An all-capitals token of up to 6 letters is an acronym (RSL, NPO, FUI-rådet's FUI).
_ACRONYM_RE = re.compile(r"^[A-ZÅÄÖ]{2,6}$")
_MIN_CONTENT_TERMS = 2
_MIN_KEYWORD_SHARE = 0.5
# Rows converted to float64 at a time (a theme of a million statements is never copied whole).
_CHUNK = 65536
# Clusters up to this size are trimmed one member at a time (see `_cohesive_core`).
_TRIM_ONE_BY_ONE = 200
# Key of the hash that picks HDBSCAN's sample (see `_sample`); changing it changes the sample.
_SAMPLE_KEY = b"temakarta-inductive-sample"


@dataclass(frozen=True)
class InductiveThemes:
    """Clusters of the pool, largest first: `members[c]` statement indices (sorted by id),
    `keywords[c]` their top lemmas, `probabilities[i]` HDBSCAN membership of statement i
    (pool statements only); `noise` the pool statements in no cluster; `min_cohesion` the
    cohesion floor used (cosine units)."""

    members: tuple[tuple[int, ...], ...]
    keywords: tuple[tuple[str, ...], ...]
    probabilities: dict[int, float]
    noise: tuple[int, ...]
    min_cohesion: float


def _words(text: str) -> list[str]:
    return [m.group(0).casefold() for m in _WORD_RE.finditer(text)]


def _content_terms(text: str, stopwords: frozenset[str]) -> list[str]:
    """Content lemmas of `text`: like `_terms`, without acronyms."""
    acronyms = {
        m.group(0).casefold() for m in _WORD_RE.finditer(text) if _ACRONYM_RE.match(m.group(0))
    }
    return [t for t in _terms(text, stopwords) if t not in acronyms]


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
    vectors: FloatArray, ids: Sequence[str], config: ThemesConfig, min_cohesion: float
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """HDBSCAN labels (-1 = noise) and membership probabilities for unit `vectors` (n, dim),
    row j being statement `ids[j]`; memory linear in n, time near-linear.

    1. The vectors are projected on their top `config.cluster_dimensions` principal axes
       (`_principal_axes`): a k-d tree answers neighbour queries there, and no n x n distance
       matrix is ever built (HDBSCAN's generic algorithm holds one: 15 bytes x n^2).
    2. HDBSCAN (Boruvka on the k-d tree, exact minimum spanning tree) clusters at most
       `config.cluster_sample` of them, chosen by a keyed hash of their statement ids, so the
       choice depends neither on the input order nor on any random state; the rest join the
       cluster HDBSCAN's condensed tree predicts for them (`approximate_predict`). A smaller
       input is clustered whole.
    3. A cluster whose mean pairwise cosine (in the full space) is below `min_cohesion` is
       trimmed to its cohesive core (`_cohesive_core`), the rest returned as noise: with a
       single cluster allowed, HDBSCAN would otherwise lump a diffuse leftover into one
       "theme".
    The caller fixes the input order (statement id), so the result depends on the input only."""
    import hdbscan

    n = vectors.shape[0]
    if n < max(config.min_cluster_size, 2):
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    reduced = _project(vectors, config.cluster_dimensions)
    fitted = _sample(ids, config.cluster_sample)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=config.min_cluster_size,
        min_samples=min(config.min_samples, len(fitted) - 1),
        metric="euclidean",
        algorithm="boruvka_kdtree",
        approx_min_span_tree=False,
        core_dist_n_jobs=1,
        cluster_selection_method="eom",
        allow_single_cluster=config.allow_single_cluster,
        prediction_data=len(fitted) < n,
    )
    clusterer.fit(reduced[fitted])
    labels = np.full(n, -1, dtype=np.int64)
    probs = np.zeros(n, dtype=np.float32)
    labels[fitted] = np.asarray(clusterer.labels_, dtype=np.int64)
    probs[fitted] = np.asarray(clusterer.probabilities_, dtype=np.float32)
    rest = np.setdiff1d(np.arange(n), fitted)
    if len(rest) and labels[fitted].max() >= 0:
        predicted, strengths = hdbscan.approximate_predict(clusterer, reduced[rest])
        labels[rest] = np.asarray(predicted, dtype=np.int64)
        probs[rest] = np.asarray(strengths, dtype=np.float32)
    for label in sorted(set(labels.tolist()) - {-1}):
        members = np.flatnonzero(labels == label)
        core = _cohesive_core(vectors, members, min_cohesion, config.min_cluster_size)
        outliers = np.setdiff1d(members, core)
        labels[outliers] = -1
        probs[outliers] = 0.0
    return labels, probs


def _project(vectors: FloatArray, dimensions: int) -> npt.NDArray[np.float64]:
    """`vectors` (n, dim) centred and projected on their top `dimensions` principal axes
    (n, min(dimensions, dim)): PCA from the dim x dim covariance, which is linear in n and has
    no random step. Each axis is signed so its largest component is positive, so the
    projection does not flip between platforms' eigensolvers."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.shape[1] <= dimensions:
        return v
    centred = v - v.mean(axis=0)
    covariance = centred.T @ centred
    _, eigenvectors = np.linalg.eigh(covariance)
    axes = eigenvectors[:, ::-1][:, :dimensions]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(dimensions)])
    projected: npt.NDArray[np.float64] = centred @ (axes * signs)
    return projected


def _sample(ids: Sequence[str], size: int) -> npt.NDArray[np.int64]:
    """Sorted row numbers of the `size` ids with the smallest keyed BLAKE2 hash (all rows when
    there are no more than `size`): a fixed, order-independent sample."""
    if len(ids) <= size:
        return np.arange(len(ids), dtype=np.int64)
    keys = [
        hashlib.blake2b(i.encode("utf-8"), digest_size=8, key=_SAMPLE_KEY).digest() for i in ids
    ]
    chosen = sorted(range(len(ids)), key=lambda j: (keys[j], ids[j]))[:size]
    return np.asarray(sorted(chosen), dtype=np.int64)


def _cohesive_core(
    vectors: FloatArray, members: npt.NDArray[np.int64], min_cohesion: float, min_size: int
) -> npt.NDArray[np.int64]:
    """The members of a cluster that stay once it is as cohesive as `min_cohesion`.

    HDBSCAN attaches loosely related points to a dense group; rather than lose the group, the
    member least similar to the others is let go (ties to the later row) until the rest is
    cohesive enough. A core smaller than `min_size` is no theme: empty result.

    Linear memory: a member's mean cosine to the others is (v . S - |v|^2) / (m - 1), S the sum
    of the m member vectors, so no m x m matrix is formed. Up to `_TRIM_ONE_BY_ONE` members the
    weakest goes one at a time; a larger cluster lets its weakest 1/`_TRIM_ONE_BY_ONE` go per
    step, so trimming stays near-linear (a handful of passes per halving)."""
    core = np.asarray(members, dtype=np.int64)
    v = vectors[core].astype(np.float64)
    squares = np.einsum("ij,ij->i", v, v)
    while len(core) >= min_size:
        m = len(core)
        total = v.sum(axis=0)
        if _mean_pairwise(total, squares, m) >= min_cohesion:
            return core
        mean_to_others = (v @ total - squares) / (m - 1)
        drop = max(1, m // _TRIM_ONE_BY_ONE)
        # Weakest first; among equals (to 9 decimals, against float noise) the later row.
        order = np.lexsort((-np.arange(m), np.round(mean_to_others, 9)))
        keep = np.sort(order[drop:])
        core, v, squares = core[keep], v[keep], squares[keep]
    return np.zeros(0, dtype=np.int64)


def _mean_pairwise(
    total: npt.NDArray[np.float64], squares: npt.NDArray[np.float64], n: int
) -> float:
    """Mean cosine over the n (n - 1) ordered pairs of distinct unit rows, from their sum
    `total` and squared norms `squares`: (|S|^2 - sum |v|^2) / (n (n - 1))."""
    return float((total @ total - squares.sum()) / (n * (n - 1)))


def _cohesion(vectors: FloatArray, rows: Sequence[int] | None = None) -> float:
    """Mean pairwise cosine of the unit rows `rows` of `vectors` (all rows by default; n >= 2),
    cosine units; linear in n (no n x n matrix, see `_mean_pairwise`)."""
    picked = np.arange(len(vectors)) if rows is None else np.asarray(rows, dtype=np.int64)
    n = len(picked)
    if n < 2:
        return 1.0
    total, squares = _row_sums(vectors, picked)
    return _mean_pairwise(total, squares, n)


def _row_sums(
    vectors: FloatArray, rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Sum (dim,) and squared norms (len(rows),) of the rows, in float64, `_CHUNK` rows at a
    time so that no float64 copy of a large theme is held."""
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    squares = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _CHUNK):
        v = vectors[rows[start : start + _CHUNK]].astype(np.float64)
        total += v.sum(axis=0)
        squares[start : start + len(v)] = np.einsum("ij,ij->i", v, v)
    return total, squares


def _calibrate_cohesion(
    vectors: FloatArray,
    codebook_groups: Sequence[Sequence[int]],
    example_vectors: Sequence[FloatArray],
    config: ThemesConfig,
) -> float:
    """The cohesion an inductive theme needs: that of a typical codebook theme.

    Like is compared with like: when at least two codebook themes hold `min_cluster_size`
    statements of this corpus (`codebook_groups`: statement indices per theme, in statement-id
    order), the floor is the median mean pairwise cosine of those themes' statements. On
    smaller inputs it is the median over themes of the cohesion of their codebook examples
    (`example_vectors`, one array per theme), which are tighter than real statements."""
    corpus = [
        _cohesion(vectors, members)
        for members in codebook_groups
        if len(members) >= config.min_cluster_size
    ]
    if len(corpus) >= 2:
        return float(np.median(corpus))
    return float(np.median([_cohesion(v) for v in example_vectors if len(v) >= 2]))


def _clusterable(statement: Statement, stopwords: frozenset[str]) -> bool:
    """Has the statement enough content to belong to a theme (see the module docstring)?"""
    return len(set(_content_terms(statement.text, stopwords))) >= _MIN_CONTENT_TERMS


def _terms_by_text(texts: Sequence[str], stopwords: frozenset[str]) -> dict[str, list[str]]:
    """Content lemmas of each distinct text, lemmatized once per distinct sequence of words
    (the lemmas depend on the words only, not on digits or punctuation)."""
    by_words: dict[str, list[str]] = {}
    out: dict[str, list[str]] = {}
    for text in dict.fromkeys(texts):
        key = " ".join(m.group(0) for m in _WORD_RE.finditer(text))
        if key not in by_words:
            by_words[key] = _content_terms(text, stopwords)
        out[text] = by_words[key]
    return out


def _named(
    clusters: list[list[int]],
    statements: Sequence[Statement],
    pool: Sequence[int],
    config: ThemesConfig,
    stopwords: frozenset[str],
) -> tuple[list[list[int]], list[tuple[str, ...]]]:
    """The clusters that share a name, with their c-TF-IDF keywords.

    e5 puts unrelated short Swedish texts close together, so cohesion alone lets leftovers
    ("Grattis!", "Hjälp att boka nästa steg") pass as a theme. A theme that means something is
    named by what its members say: its top keyword must occur in at least
    `_MIN_KEYWORD_SHARE` of its members, or the cluster is returned to the remainder."""
    kept = list(clusters)
    words = _terms_by_text([statements[i].text for i in pool], stopwords)
    content = {i: words[statements[i].text] for i in pool}
    terms = {i: set(content[i]) for i in pool}
    while True:
        clustered = {i for m in kept for i in m}
        noise = [i for i in pool if i not in clustered]
        docs = [[w for i in m for w in content[i]] for m in kept]
        noise_doc = [w for i in noise for w in content[i]]
        keywords = _ctfidf_keywords([*docs, noise_doc], config.top_terms)[: len(kept)]
        shared = [
            bool(kw) and sum(kw[0] in terms[i] for i in m) >= _MIN_KEYWORD_SHARE * len(m)
            for m, kw in zip(kept, keywords, strict=True)
        ]
        if all(shared):
            return kept, keywords
        kept = [m for m, ok in zip(kept, shared, strict=True) if ok]


def find_inductive_themes(
    statements: Sequence[Statement],
    vectors: FloatArray,
    pool: Sequence[int],
    codebook_groups: Sequence[Sequence[int]],
    example_vectors: Sequence[FloatArray],
    config: ThemesConfig,
    stopwords: frozenset[str],
) -> InductiveThemes:
    """Cluster the statements `pool` (indices into `statements`/`vectors` (n, dim) unit rows)
    that no codebook theme took. `codebook_groups` and `example_vectors` set the cohesion floor
    (see `_calibrate_cohesion`). Deterministic and independent of input order."""
    ids = [s.id for s in statements]
    min_cohesion = (
        config.min_cohesion
        if config.min_cohesion is not None
        else _calibrate_cohesion(vectors, codebook_groups, example_vectors, config)
    )
    ordered_pool = sorted(pool, key=lambda i: ids[i])
    words = _terms_by_text([statements[i].text for i in ordered_pool], stopwords)
    candidates = [
        i for i in ordered_pool if len(set(words[statements[i].text])) >= _MIN_CONTENT_TERMS
    ]
    # A text repeated verbatim (a page's navigation line, the same bullet in many documents)
    # is one point: identical vectors are at distance 0, which HDBSCAN's k-d tree takes for
    # infinite density, so a handful of copies would carry whatever cluster they join.
    slot: dict[str, int] = {}
    for i in candidates:
        slot.setdefault(statements[i].text, len(slot))
    distinct = [candidates[0]] * len(slot) if candidates else []
    for i in reversed(candidates):
        distinct[slot[statements[i].text]] = i
    found, probs = (
        _cluster(vectors[distinct], [ids[i] for i in distinct], config, min_cohesion)
        if distinct
        else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    )
    clusters: dict[int, list[int]] = {}
    for i in candidates:
        if found[slot[statements[i].text]] >= 0:
            clusters.setdefault(int(found[slot[statements[i].text]]), []).append(i)
    # Number inductive themes by size (largest first), then by their smallest statement id.
    members = sorted(clusters.values(), key=lambda m: (-len(m), min(ids[i] for i in m)))
    members, keywords = _named(members, statements, ordered_pool, config, stopwords)
    clustered = {i for m in members for i in m}
    noise = tuple(i for i in ordered_pool if i not in clustered)
    return InductiveThemes(
        members=tuple(tuple(sorted(m, key=lambda i: ids[i])) for m in members),
        keywords=tuple(keywords),
        probabilities={i: float(probs[slot[statements[i].text]]) for i in clustered},
        noise=noise,
        min_cohesion=min_cohesion,
    )


def representatives(
    members: Sequence[int], statements: Sequence[Statement], vectors: FloatArray, k: int
) -> tuple[str, ...]:
    """Texts of the k distinct statements nearest the (renormalized) mean of the members'
    vectors; ties (to 6 decimals, against float noise) broken by statement id."""
    if not members:
        return ()
    idx = np.asarray(members, dtype=np.int64)
    centroid = _row_sums(vectors, idx)[0] / len(idx)
    norm = float(np.linalg.norm(centroid))
    if norm > 0:
        centroid /= norm
    sims = np.concatenate(
        [
            vectors[idx[start : start + _CHUNK]].astype(np.float64) @ centroid
            for start in range(0, len(idx), _CHUNK)
        ]
    )
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
