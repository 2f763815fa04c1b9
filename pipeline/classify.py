"""Theme classifier: fitted on the codebook (and the analyst's labels), applied to statements.

Public entry point: `fit_classifier(codebook, codebook_vectors, config, ...) -> ThemeClassifier`;
the fitted object's `predict(statements, vectors, labels)` gives every statement a probability
over the codebook themes plus `other` (no codebook theme).

Evidence, added as scores per class before one softmax (weights in `ThemesConfig`):

1. Text embedding: a multinomial logistic regression on the e5 vectors of the codebook's
   examples, its "label: definition" prototypes and the `other` examples, plus the statements an
   analyst labelled (weighted `label_weight`). Its log-probabilities are the base score.
   Beside it, each theme loses `example_weight` times how much less similar (cosine) its nearest
   example is than the nearest example of any theme.
2. Terms: each distinct codebook term found in the statement adds `term_weight` (at most
   `term_cap` terms count). Swedish inflections and compounds match: "finansieringslösningar"
   and "VFU-platser" hit "finansiering" and "platser" (see `_term_hit`); simplemma lemmas are
   matched too.
3. Patterns: a codebook regular expression that matches the statement adds `pattern_weight`
   (counting facts such as "44 kommuner" are meeting facts by form; "Senast uppdaterad 3 maj"
   is web-page furniture, class `other`).
4. Headings: the terms of each short enclosing heading (innermost first, the table column
   header innermost of all) add `heading_weight` times `heading_decay` ** distance. A heading
   is evidence weighed against the text, not a verdict: clear text evidence for another theme
   still wins, so a section titled "Styrning" does not make every bullet in it leadership.
5. Context: statements filed together (same document, heading path and table column) tend to
   share a theme. Each statement gets `context_weight` * log(mean probability of its siblings +
   0.05); analyst-labelled siblings count with their label.
6. The analyst's filing: statements under a heading of a document where the analyst labelled
   statements (`labels.csv`) lean toward those labels (`label_heading_weight` times the log
   ratio of the smoothed label shares to a uniform share).

The softmax is taken at temperature `temperature_` (config `temperature`, or refitted by
maximum likelihood on the analyst's labels once there are `min_labels_for_calibration`); how
well the probabilities are calibrated is measured by `bench/calibration.py` (reliability curve,
expected calibration error).
Deterministic: no randomness, and rows are processed in statement-id order so the last bits of
a matrix product cannot depend on the order statements arrive in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from pipeline.codebook import OTHER_ID, Codebook
from pipeline.config import ThemesConfig
from pipeline.records import Statement

__all__ = ["ClassScores", "ThemeClassifier", "fit_classifier"]

FloatArray = npt.NDArray[np.float64]

# Words: letters (Swedish included) and inner hyphens, so "VFU-platser" stays one word.
_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Swedish noun, adjective and verb endings (definite, plural, genitive, participle).
_ENDINGS = frozenset({
    "s", "n", "t", "a", "e", "r", "en", "et", "na", "ar", "er", "or", "ns", "ts", "as", "es",
    "rs", "ens", "ets", "ena", "ade", "ad", "at", "ande", "arna", "erna", "orna", "rna",
    "arnas", "ernas", "ornas", "ans", "ers", "ars", "ors", "nas", "ats"
})  # fmt: skip
_INFLECTED_MIN = 4  # "mål" matches only itself: "måla" is another word
_COMPOUND_HEAD_MIN = 5
_COMPOUND_MODIFIER_MIN = 7
_LINKED_REST_MIN = 3  # letters after a linking s: "ansvars|tagande"
_CONTEXT_FLOOR = 0.05
_CHUNK = 65536  # statements scored at a time
_TEMPERATURES = tuple(float(t) for t in np.geomspace(0.2, 5.0, 61))


@dataclass(frozen=True)
class ClassScores:
    """What the classifier saw for n statements over k classes (`ThemeClassifier.classes_`).

    `probabilities` (n, k) rows sum to 1; `heading` (n, k) is the heading evidence each class
    got (0 where no heading named it); `similarity` (n, k - 1) the cosine to each codebook
    theme's nearest prototype (for the `score` column)."""

    probabilities: FloatArray
    heading: FloatArray
    similarity: FloatArray


@dataclass(frozen=True)
class _TermTable:
    """The codebook's terms in one list: `owner[j]` the class of term j; `words` the one-word
    terms and `phrases` the multi-word ones, as (j, term)."""

    owner: tuple[int, ...]
    words: tuple[tuple[int, str], ...]
    phrases: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class ThemeClassifier:
    """A fitted classifier. Attributes ending in `_` were learned by `fit_classifier`.

    classes_: codebook theme ids, then "other". coef_ (k, dim) and intercept_ (k,): the logistic
    regression on embeddings. temperature_: softmax temperature. n_examples_ / n_labels_: how
    many codebook texts and analyst labels it was fitted on."""

    classes_: tuple[str, ...]
    coef_: FloatArray
    intercept_: FloatArray
    temperature_: float
    n_examples_: int
    n_labels_: int
    terms: tuple[tuple[str, ...], ...]
    patterns: tuple[tuple[re.Pattern[str], ...], ...]
    config: ThemesConfig
    prototypes: npt.NDArray[np.float32] = field(repr=False)
    prototype_owners: npt.NDArray[np.int64] = field(repr=False)
    # (document, innermost heading) -> (k,) how many labelled statements under it are of each
    # class: where the analyst filed statements under a heading, the statements under the same
    # heading elsewhere in the document (the same section for another region) lean that way.
    heading_labels_: Mapping[str, FloatArray] = field(default_factory=dict, repr=False)
    # Lookup tables of the term matching, filled on first use (not part of what was fitted).
    _terms_memo: dict[str, _TermTable] = field(
        default_factory=dict, repr=False, compare=False, init=False
    )
    _word_memo: dict[str, frozenset[int]] = field(
        default_factory=dict, repr=False, compare=False, init=False
    )

    def predict(
        self,
        statements: Sequence[Statement],
        vectors: npt.NDArray[np.float32],
        labels: Mapping[str, str] | None = None,
    ) -> ClassScores:
        """Class probabilities for `statements` (vectors: (n, dim) unit rows, row i embeds
        statements[i]); `labels` (statement id -> class) make labelled statements count as
        certain context for their siblings (their own rows are still predicted)."""
        scores, heading, similarity = self._scores(statements, vectors, labels or {})
        return ClassScores(_softmax(scores / self.temperature_), heading, similarity)

    def summary(self) -> dict[str, object]:
        """The fitted values worth recording in a run manifest."""
        return {
            "classes": list(self.classes_),
            "temperature": round(self.temperature_, 6),
            "n_examples": self.n_examples_,
            "n_labels": self.n_labels_,
        }

    def _scores(
        self,
        statements: Sequence[Statement],
        vectors: npt.NDArray[np.float32],
        labels: Mapping[str, str],
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        n, k = len(statements), len(self.classes_)
        if n == 0:
            empty = np.zeros((0, k))
            return empty, empty, np.zeros((0, k - 1))
        by_id = sorted(range(n), key=lambda i: statements[i].id)
        logits = np.empty((n, k))
        similarity = np.full((n, k - 1), -1.0)
        prototypes = self.prototypes.astype(np.float64).T
        owned = [(t, self.prototype_owners == t) for t in range(k - 1)]
        # `_CHUNK` rows at a time: memory stays linear in n with a small constant (the
        # similarities to every prototype of a million statements would take 1.5 GB).
        for start in range(0, n, _CHUNK):
            rows = by_id[start : start + _CHUNK]
            v = np.asarray(vectors[rows], dtype=np.float64)
            logits[rows] = v @ self.coef_.T + self.intercept_
            sims = v @ prototypes
            for t, columns in owned:
                if columns.any():
                    similarity[rows, t] = sims[:, columns].max(axis=1)
        cfg = self.config
        scores = _log_softmax(logits)
        # Nearest example: a short cell that all but repeats one codebook example ("Handledning")
        # is pulled to it, relative to the theme whose example is nearest.
        scores[:, :-1] += cfg.example_weight * (similarity - similarity.max(axis=1, keepdims=True))
        cache: dict[str, FloatArray] = {}
        text_terms = np.array([self._term_counts(s.text, cache) for s in statements])
        scores += cfg.term_weight * np.minimum(text_terms, cfg.term_cap)
        scores += cfg.pattern_weight * np.array([self._pattern_hits(s.text) for s in statements])
        heading = np.array([self._heading_evidence(s, cache) for s in statements])
        scores += cfg.heading_weight * heading
        if self.heading_labels_:
            scores += cfg.label_heading_weight * np.array(
                [self._labelled_heading_evidence(s) for s in statements]
            )
        if cfg.context_weight > 0:
            scores += cfg.context_weight * self._context(statements, scores, labels)
        return scores, heading, similarity

    def _term_counts(self, text: str, cache: dict[str, FloatArray]) -> FloatArray:
        """(k,) number of distinct terms of each class found in `text`.

        Terms match words only, so texts with the same words (differing in digits or
        punctuation: "44 kommuner", "52 kommuner") share one entry of `cache`; which one-word
        terms a word hits is worked out once per distinct word (`_word_hits`)."""
        plain = _words(text)
        key = " ".join(plain)
        if key not in cache:
            table = self._term_table()
            hits: set[int] = set()
            for word in _words_and_lemmas(text):
                hits |= self._word_hits(word)
            joined = f" {key} "
            hits.update(j for j, term in table.phrases if f" {term} " in joined)
            counts = np.zeros(len(self.classes_), dtype=np.float64)
            np.add.at(counts, [table.owner[j] for j in hits], 1.0)
            cache[key] = counts
        return cache[key]

    def _term_table(self) -> _TermTable:
        """Every codebook term with its class, built on first use."""
        table = self._terms_memo.get("table")
        if table is None:
            flat = [(c, t) for c, terms in enumerate(self.terms) for t in terms]
            table = _TermTable(
                owner=tuple(c for c, _ in flat),
                words=tuple((j, t) for j, (_, t) in enumerate(flat) if " " not in t),
                phrases=tuple((j, t) for j, (_, t) in enumerate(flat) if " " in t),
            )
            self._terms_memo["table"] = table
        return table

    def _word_hits(self, word: str) -> frozenset[int]:
        """The one-word terms (indices into `_term_table()`) that `word` matches (`_term_hit`)."""
        memo = self._word_memo
        if word not in memo:
            memo[word] = frozenset(
                j for j, term in self._term_table().words if _term_hit(term, (word,), "")
            )
        return memo[word]

    def _pattern_hits(self, text: str) -> FloatArray:
        return np.array(
            [float(any(p.search(text) for p in patterns)) for patterns in self.patterns]
        )

    def _heading_evidence(self, statement: Statement, cache: dict[str, FloatArray]) -> FloatArray:
        """(k,) sum over short enclosing headings of decay**distance for each class they name."""
        headings = [h for h in (*statement.heading_path, statement.table_column) if h.strip()]
        out = np.zeros(len(self.classes_))
        for distance, heading in enumerate(reversed(headings)):
            if len(heading.split()) > self.config.heading_max_words:
                continue
            named = np.minimum(self._term_counts(heading, cache), 1.0)
            out += (self.config.heading_decay**distance) * named
        return out

    def _labelled_heading_evidence(self, statement: Statement) -> FloatArray:
        """(k,) log-ratio of the smoothed label shares under the statement's innermost heading to
        a uniform share (0 when no labelled statement sits under that heading)."""
        k = len(self.classes_)
        counts = self.heading_labels_.get(_heading_key(statement))
        if counts is None:
            return np.zeros(k)
        out: FloatArray = np.log((counts + 1.0) / (counts.sum() + k) * k)
        return out

    def _context(
        self, statements: Sequence[Statement], scores: FloatArray, labels: Mapping[str, str]
    ) -> FloatArray:
        """(n, k) log of the mean probability of each statement's siblings (0 when alone)."""
        probs = _softmax(scores / self.temperature_)
        index = {c: j for j, c in enumerate(self.classes_)}
        for i, statement in enumerate(statements):
            label = labels.get(statement.id)
            if label in index:
                probs[i] = 0.0
                probs[i, index[label]] = 1.0
        groups: dict[tuple[str, tuple[str, ...], str], list[int]] = {}
        for i, s in enumerate(statements):
            groups.setdefault((s.document, s.heading_path, s.table_column), []).append(i)
        out = np.zeros_like(scores)
        for members in groups.values():
            if len(members) < 2:
                continue
            # Sum in id order so the result cannot depend on input order.
            ordered = sorted(members, key=lambda i: statements[i].id)
            total = probs[ordered].sum(axis=0)
            for i in members:
                out[i] = np.log((total - probs[i]) / (len(members) - 1) + _CONTEXT_FLOOR)
        return out


def fit_classifier(
    codebook: Codebook,
    codebook_vectors: npt.NDArray[np.float32],
    config: ThemesConfig,
    labelled: Sequence[Statement] = (),
    labelled_vectors: npt.NDArray[np.float32] | None = None,
    labelled_classes: Sequence[str] = (),
) -> ThemeClassifier:
    """Fit on the codebook's texts (vectors in `codebook.texts` order) and, when given, the
    analyst-labelled statements (`labelled_classes[i]` a theme id or "other" for
    `labelled[i]`, vectors in the same order). With `config.min_labels_for_calibration` labels
    or more, the temperature is refitted on them (maximum likelihood, grid search), scored by
    the classifier fitted without them."""
    from sklearn.linear_model import LogisticRegression

    classes = (*codebook.ids, OTHER_ID)
    index = {c: j for j, c in enumerate(classes)}
    x = np.asarray(codebook_vectors, dtype=np.float64)
    y = np.asarray(codebook.owners, dtype=np.int64)
    weights = np.ones(len(y))
    n_labels = len(labelled_classes)
    if n_labels:
        if labelled_vectors is None or len(labelled_vectors) != n_labels:
            raise ValueError("labelled_vectors must have one row per labelled statement")
        unknown = sorted(set(labelled_classes) - set(classes))
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}; expected one of {list(classes)}")
        x = np.vstack([x, np.asarray(labelled_vectors, dtype=np.float64)])
        y = np.concatenate([y, [index[c] for c in labelled_classes]])
        weights = np.concatenate([weights, np.full(n_labels, config.label_weight)])
    present = sorted(set(y.tolist()))
    model = LogisticRegression(C=config.regularization, max_iter=5000, tol=1e-6)
    model.fit(x, y, sample_weight=weights)
    # Classes without any training row (an empty `other` block) keep a very low logit.
    coef = np.zeros((len(classes), x.shape[1]))
    intercept = np.full(len(classes), -30.0)
    if len(present) == 1:
        intercept[present[0]] = 0.0
    else:
        fitted_coef = np.asarray(model.coef_, dtype=np.float64)
        fitted_intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(present) == 2:  # sklearn's binary case: one row for the second class
            fitted_coef = np.vstack([-fitted_coef / 2, fitted_coef / 2])
            fitted_intercept = np.array([-fitted_intercept[0] / 2, fitted_intercept[0] / 2])
        coef[present] = fitted_coef
        intercept[present] = fitted_intercept
    classifier = ThemeClassifier(
        classes_=classes,
        coef_=coef,
        intercept_=intercept,
        temperature_=config.temperature,
        n_examples_=len(codebook.owners),
        n_labels_=n_labels,
        terms=(*(t.terms for t in codebook.themes), ()),
        patterns=(
            *(_compiled(t.patterns) for t in codebook.themes),
            _compiled(codebook.other_patterns),
        ),
        config=config,
        prototypes=np.asarray(codebook_vectors, dtype=np.float32)[: _n_themed(codebook)],
        prototype_owners=np.asarray(codebook.owners[: _n_themed(codebook)], dtype=np.int64),
    )
    if n_labels:
        classifier = replace(
            classifier,
            heading_labels_=_count_heading_labels(
                labelled, _targets(labelled_classes, index), len(classes)
            ),
        )
    if n_labels >= config.min_labels_for_calibration:
        targets = np.array([index[c] for c in labelled_classes])
        # Out of sample: the labels are scored by the classifier fitted without them (scored by
        # the one trained on them they are all right, and the temperature collapses).
        unlabelled = fit_classifier(codebook, codebook_vectors, config)
        scores, _, _ = unlabelled._scores(labelled, np.asarray(labelled_vectors), {})
        temperature = _fit_temperature(scores, targets)
        classifier = _with_temperature(classifier, temperature)
    return classifier


def _targets(classes: Sequence[str], index: Mapping[str, int]) -> list[int]:
    return [index[c] for c in classes]


def _heading_key(statement: Statement) -> str:
    """Document and innermost heading: within one document a repeated section heading ("Nästa
    steg" under each region) means the same; across documents "Grupp 1" or "Syfte" need not."""
    headings = [h for h in statement.heading_path if h.strip()]
    if not headings:
        return ""
    return f"{statement.document}\n{' '.join(headings[-1].casefold().split())}"


def _count_heading_labels(
    labelled: Sequence[Statement], targets: Sequence[int], k: int
) -> dict[str, FloatArray]:
    """Innermost heading -> (k,) class counts of the labelled statements under it."""
    out: dict[str, FloatArray] = {}
    for statement, target in zip(labelled, targets, strict=True):
        key = _heading_key(statement)
        if key:
            out.setdefault(key, np.zeros(k))[target] += 1.0
    return out


def _compiled(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _n_themed(codebook: Codebook) -> int:
    return len(codebook.owners) - len(codebook.other_examples)


def _with_temperature(classifier: ThemeClassifier, temperature: float) -> ThemeClassifier:
    return replace(classifier, temperature_=temperature)


def _fit_temperature(scores: FloatArray, targets: npt.NDArray[np.int64]) -> float:
    """The grid temperature with the lowest negative log-likelihood of `targets`."""
    rows = np.arange(len(targets))
    best, best_nll = 1.0, np.inf
    for t in _TEMPERATURES:
        nll = -float(np.log(_softmax(scores / t)[rows, targets] + 1e-12).sum())
        if nll < best_nll - 1e-12:
            best, best_nll = t, nll
    return best


def _softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def _log_softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    out: FloatArray = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return out


def _words(text: str) -> list[str]:
    return [m.group(0).casefold() for m in _WORD_RE.finditer(text)]


def _words_and_lemmas(text: str) -> tuple[str, ...]:
    """The words of `text` and their Swedish lemmas (simplemma), hyphen parts included."""
    import simplemma

    out: dict[str, None] = {}
    for word in _words(text):
        for part in (word, *word.split("-")):
            out[part] = None
            out[str(simplemma.lemmatize(part, lang="sv")).casefold()] = None
    return tuple(out)


def _term_hit(term: str, words: Sequence[str], joined: str) -> bool:
    """Does `term` occur? A multi-word term must occur as whole words in order. A single word
    matches a word exactly or, from 4 letters, inflected with a Swedish ending ("roll" ->
    "rollerna", not "rollator"); a term of 5+ letters also as the last part of a compound
    ("platser" in "VFU-platser" and "utbildningsplatser") and one of 7+ letters as the first part
    ("finansiering" in "finansieringslösningar"); a shorter first part needs the linking s of
    Swedish compounds ("ansvar" in "ansvarstagande", but not "medel" in "medelålder")."""
    if " " in term:
        return f" {term} " in joined
    for word in words:
        if word == term:
            return True
        if len(term) >= _INFLECTED_MIN and word.startswith(term) and word[len(term) :] in _ENDINGS:
            return True
        if len(term) >= _COMPOUND_HEAD_MIN and word.endswith(term):
            return True
        if len(term) >= _COMPOUND_MODIFIER_MIN and word.startswith(term):
            return True
        if (
            len(term) >= _COMPOUND_HEAD_MIN
            and word.startswith(f"{term}s")
            and len(word) - len(term) > _LINKED_REST_MIN
        ):
            return True
    return False
