"""Matrix: statements + themes → the output tables (pandas DataFrames, the CSV edge).

Public entry point: `build_tables(statements, result, documents)`.

Every table has sorted rows and columns named by the constants below, so the same input gives
byte-identical CSVs.

Uncertainty of the counts (`Tables.uncertainty`, theme_region_uncertainty.csv)
------------------------------------------------------------------------------
Long format, one row per theme × region cell of the counts matrix (same themes in the same order,
then the regions in column order: the six regions, Nationell, Okänd, Totalt; no footer rows).
Columns:
`theme_id`, `theme_label`, `region`, `observed` (the count in theme_region_counts.csv),
`expected` (the sum of the region's statements' probabilities for the theme, 2 decimals) and
`low_90`, `high_90`: the 5th and 95th percentiles of the number of the region's statements in
the theme, taking each statement to be in it independently with its probability (a
Poisson-binomial distribution). A percentile q is the smallest count k with P(X <= k) >= q.

Statements with probability <= 1e-9 (or >= 1 - 1e-9) for a theme are certainly out (in) and only
shift the count. For up to `EXACT_LIMIT` uncertain statements the distribution is computed
exactly by dynamic programming (convolving one statement at a time); beyond that a normal
approximation with continuity correction is used: k = ceil(mean + z_q * sd - 0.5), clipped to
the possible range. Probabilities come from `ThemeResult.probabilities`; statements assigned by
the analyst count as certain (one-hot), and without probabilities every statement is one-hot,
so the interval collapses to the observed count. Sums are exact (`math.fsum`) and statements
are taken in reading order, so reruns give identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipeline.records import SIX_REGIONS, DocumentInfo, Polarity, Region, Statement
from pipeline.themes import Theme, ThemeResult

# statements.csv
COL_ID = "id"
COL_DOCUMENT = "document"
COL_PAGE = "page"
COL_LINE = "line"
COL_HEADING_PATH = "heading_path"
COL_GROUP = "group"
COL_REGION = "region"
COL_REGION_SOURCE = "region_source"
COL_POLARITY = "polarity"
COL_TABLE_COLUMN = "table_column"
COL_OCR = "ocr"
COL_TEXT = "text"
COL_THEME_ID = "theme_id"
COL_THEME_LABEL = "theme_label"
COL_SCORE = "score"
COL_CONFIDENCE = "confidence"
COL_METHOD = "method"
STATEMENT_COLUMNS = (
    COL_ID, COL_DOCUMENT, COL_PAGE, COL_LINE, COL_HEADING_PATH, COL_GROUP, COL_REGION,
    COL_REGION_SOURCE, COL_POLARITY, COL_TABLE_COLUMN, COL_OCR, COL_TEXT, COL_THEME_ID,
    COL_THEME_LABEL, COL_SCORE, COL_CONFIDENCE, COL_METHOD,
)  # fmt: skip

# themes.csv
COL_ORIGIN = "origin"
COL_KEYWORDS = "keywords"
COL_SIZE = "size"
COL_REPRESENTATIVE = "representative_{n}"

# theme_region_*.csv
COL_TOTAL = "Totalt"
REGION_COLUMNS = (*(r.value for r in SIX_REGIONS), Region.NATIONELL.value, Region.OKAND.value)
ROW_N_STATEMENTS = "N_statements"
ROW_N_DOCUMENTS = "N_documents"
POLARITY_COLUMNS = (
    Polarity.MOJLIGHET.value, Polarity.HINDER.value, Polarity.STYRKA.value,
    Polarity.SVAGHET.value,
)  # fmt: skip
COL_NO_POLARITY = "ingen"

# theme_region_uncertainty.csv
COL_OBSERVED = "observed"
COL_EXPECTED = "expected"
COL_LOW_90 = "low_90"
COL_HIGH_90 = "high_90"
UNCERTAINTY_COLUMNS = (
    COL_THEME_ID, COL_THEME_LABEL, COL_REGION, COL_OBSERVED, COL_EXPECTED, COL_LOW_90, COL_HIGH_90,
)  # fmt: skip
EXACT_LIMIT = 5000  # uncertain statements up to which the count distribution is exact

# documents.csv
COL_FORMAT = "format"
COL_ENCODING = "encoding"
COL_SHA256 = "sha256"
COL_DATE = "date"
COL_MEETING = "meeting"
COL_N_STATEMENTS = "n_statements"
COL_N_DROPPED = "n_dropped"  # blocks left out as web-page furniture

DEFAULT_REPRESENTATIVES = 3  # representative_1..3 unless the config asks for more
_ORIGIN_ORDER = {"codebook": 0, "inductive": 1, "unassigned": 2}
_NEGLIGIBLE = 1e-9  # a probability this close to 0 or 1 is taken as certain
_ROW_SUM_TOLERANCE = 1e-4  # probability rows must sum to 1 within this
_QUANTILES = (0.05, 0.95)
# z of the 5th and 95th percentiles of the standard normal (NormalDist().inv_cdf(0.95)).
_Z = {0.05: -1.6448536269514722, 0.95: 1.6448536269514722}

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Tables:
    """The run's tables, ready to write as CSV (index not written)."""

    statements: pd.DataFrame
    themes: pd.DataFrame
    counts: pd.DataFrame
    shares: pd.DataFrame
    polarity: pd.DataFrame
    documents: pd.DataFrame
    uncertainty: pd.DataFrame


def build_tables(
    statements: Sequence[Statement],
    result: ThemeResult,
    documents: Sequence[DocumentInfo],
    representatives: int = DEFAULT_REPRESENTATIVES,
) -> Tables:
    """All output tables; themes.csv has the columns representative_1..`representatives`
    (`themes.representatives` of the config), empty where a theme has fewer statements.

    `statements` and `result.assignments` must cover the same statement ids.
    Counts are numbers of statements; shares are column percentages (one decimal); the
    uncertainty table gives expected counts and 90 % intervals from `result.probabilities`
    (see the module docstring).
    """
    by_id = {a.statement_id: a for a in result.assignments}
    missing = [s.id for s in statements if s.id not in by_id]
    if missing:
        raise ValueError(f"statements without a theme assignment: {', '.join(missing[:5])}")
    themes = sorted(result.themes, key=lambda t: (_ORIGIN_ORDER.get(t.origin, 9), t.id))
    theme_order = [t.id for t in themes]
    labels = {t.id: t.label for t in themes}
    ordered = sorted(statements, key=_reading_order)

    statement_rows = [
        {
            COL_ID: s.id,
            COL_DOCUMENT: s.document,
            COL_PAGE: s.location.page if s.location.page is not None else "",
            COL_LINE: s.location.line,
            COL_HEADING_PATH: " > ".join(s.heading_path),
            COL_GROUP: s.group,
            COL_REGION: s.region.value,
            COL_REGION_SOURCE: s.region_source,
            COL_POLARITY: s.polarity.value,
            COL_TABLE_COLUMN: s.table_column,
            COL_OCR: s.ocr,
            COL_TEXT: s.text,
            COL_THEME_ID: by_id[s.id].theme_id,
            COL_THEME_LABEL: by_id[s.id].theme_label,
            COL_SCORE: round(by_id[s.id].score, 4),
            COL_CONFIDENCE: round(by_id[s.id].confidence, 4),
            COL_METHOD: by_id[s.id].method,
        }
        for s in ordered
    ]
    statement_frame = pd.DataFrame(statement_rows, columns=list(STATEMENT_COLUMNS))

    return Tables(
        statements=statement_frame,
        themes=_themes_frame(themes, representatives),
        counts=_counts(statement_frame, theme_order, labels),
        shares=_shares(statement_frame, theme_order, labels),
        polarity=_polarity(statement_frame, theme_order, labels),
        documents=_documents(documents, statement_frame),
        uncertainty=_uncertainty(ordered, result, theme_order, labels),
    )


def _themes_frame(themes: Sequence[Theme], representatives: int) -> pd.DataFrame:
    rows = []
    for theme in themes:
        row: dict[str, object] = {
            COL_THEME_ID: theme.id,
            COL_THEME_LABEL: theme.label,
            COL_ORIGIN: theme.origin,
            COL_KEYWORDS: "; ".join(theme.keywords),
            COL_SIZE: theme.size,
        }
        for n in range(representatives):
            key = COL_REPRESENTATIVE.format(n=n + 1)
            row[key] = theme.representatives[n] if n < len(theme.representatives) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _counts(frame: pd.DataFrame, order: Sequence[str], labels: dict[str, str]) -> pd.DataFrame:
    table = pd.crosstab(frame[COL_THEME_ID], frame[COL_REGION])
    table = table.reindex(index=list(order), columns=list(REGION_COLUMNS), fill_value=0)
    table[COL_TOTAL] = table.sum(axis=1)
    n_documents = [
        frame.loc[frame[COL_REGION] == region, COL_DOCUMENT].nunique() for region in REGION_COLUMNS
    ]
    footer = pd.DataFrame(
        [
            [*(int(table[c].sum()) for c in REGION_COLUMNS), int(table[COL_TOTAL].sum())],
            [*n_documents, frame[COL_DOCUMENT].nunique()],
        ],
        index=[ROW_N_STATEMENTS, ROW_N_DOCUMENTS],
        columns=[*REGION_COLUMNS, COL_TOTAL],
    )
    out = pd.concat([table, footer]).astype(int)
    out.insert(0, COL_THEME_LABEL, [labels.get(i, i) for i in out.index])
    out.index.name = COL_THEME_ID
    return out.reset_index()


def _shares(frame: pd.DataFrame, order: Sequence[str], labels: dict[str, str]) -> pd.DataFrame:
    table = pd.crosstab(frame[COL_THEME_ID], frame[COL_REGION])
    table = table.reindex(index=list(order), columns=list(REGION_COLUMNS), fill_value=0)
    table[COL_TOTAL] = table.sum(axis=1)
    shares = table.apply(_percent_to_100, axis=0)
    shares.insert(0, COL_THEME_LABEL, [labels.get(i, i) for i in shares.index])
    shares.index.name = COL_THEME_ID
    return shares.reset_index()


def _reading_order(statement: Statement) -> tuple[str, int, int, int]:
    """Document, page (0 for plain text), line, then the n-th statement on that line (the last
    part of the id `<document>:<line>:<n>`, compared as a number so 10 follows 9)."""
    n = int(statement.id.rpartition(":")[2])
    return statement.document, statement.location.page or 0, statement.location.line, n


def _percent_to_100(counts: pd.Series) -> pd.Series:
    """Counts → percentages with one decimal that add up to exactly 100.0 (all 0.0 when the
    column is empty).

    Plain rounding can leave a column at 99.9 or 100.2, which readers take for an error:
    tenths are floored, then the missing tenths go to the largest remainders (ties to the
    earlier row)."""
    total = int(counts.sum())
    if total == 0:
        return counts.astype(float) * 0.0
    tenths = counts.astype(float) * 1000 / total
    floored = tenths.apply(math.floor).astype(int)
    remainders = sorted(range(len(counts)), key=lambda i: (-(tenths.iloc[i] - floored.iloc[i]), i))
    for i in remainders[: 1000 - int(floored.sum())]:
        floored.iloc[i] += 1
    return floored / 10


def _polarity(frame: pd.DataFrame, order: Sequence[str], labels: dict[str, str]) -> pd.DataFrame:
    polarity = frame[COL_POLARITY].replace("", COL_NO_POLARITY)
    table = pd.crosstab([frame[COL_THEME_ID], frame[COL_REGION]], polarity)
    index = pd.MultiIndex.from_product(
        [list(order), [*REGION_COLUMNS]], names=[COL_THEME_ID, COL_REGION]
    )
    table = table.reindex(index=index, columns=[*POLARITY_COLUMNS, COL_NO_POLARITY], fill_value=0)
    table = table[table.sum(axis=1) > 0]
    table[COL_TOTAL] = table.sum(axis=1)
    out = table.reset_index()
    out.insert(1, COL_THEME_LABEL, [labels.get(i, i) for i in out[COL_THEME_ID]])
    out.columns.name = None
    return out


def _documents(documents: Sequence[DocumentInfo], frame: pd.DataFrame) -> pd.DataFrame:
    counts = frame[COL_DOCUMENT].value_counts()
    rows = [
        {
            COL_DOCUMENT: d.name,
            COL_FORMAT: d.format,
            COL_ENCODING: d.encoding,
            COL_REGION: d.region.value,
            COL_REGION_SOURCE: d.region_source,
            COL_DATE: d.date,
            COL_MEETING: d.meeting,
            COL_N_STATEMENTS: int(counts.get(d.name, 0)),
            COL_N_DROPPED: d.n_dropped,
            COL_SHA256: d.sha256,
        }
        for d in sorted(documents, key=lambda d: d.name)
    ]
    return pd.DataFrame(
        rows,
        columns=[
            COL_DOCUMENT, COL_FORMAT, COL_ENCODING, COL_REGION, COL_REGION_SOURCE, COL_DATE,
            COL_MEETING, COL_N_STATEMENTS, COL_N_DROPPED, COL_SHA256,
        ],
    )  # fmt: skip


def _uncertainty(
    ordered: Sequence[Statement],
    result: ThemeResult,
    order: Sequence[str],
    labels: dict[str, str],
) -> pd.DataFrame:
    observed, probabilities = _theme_matrices(ordered, result, order)
    regions = [s.region.value for s in ordered]
    masks = {
        region: np.array([r == region for r in regions], dtype=bool) for region in REGION_COLUMNS
    }
    masks[COL_TOTAL] = np.array([r in REGION_COLUMNS for r in regions], dtype=bool)
    rows = []
    for j, theme_id in enumerate(order):
        for region, mask in masks.items():
            p = probabilities[mask, j]
            low, high = count_interval(p)
            rows.append(
                {
                    COL_THEME_ID: theme_id,
                    COL_THEME_LABEL: labels.get(theme_id, theme_id),
                    COL_REGION: region,
                    COL_OBSERVED: int(observed[mask, j].sum()),
                    COL_EXPECTED: round(math.fsum(p.tolist()), 2),
                    COL_LOW_90: low,
                    COL_HIGH_90: high,
                }
            )
    return pd.DataFrame(rows, columns=list(UNCERTAINTY_COLUMNS))


def _theme_matrices(
    ordered: Sequence[Statement], result: ThemeResult, order: Sequence[str]
) -> tuple[FloatArray, FloatArray]:
    """One-hot assignments and probabilities, (statements in `ordered` order) × (themes in
    `order`). Without `result.probabilities`, and for the analyst's statements, the
    probabilities are the one-hot assignments."""
    column = {theme_id: j for j, theme_id in enumerate(order)}
    by_id = {a.statement_id: a for a in result.assignments}
    one_hot = np.zeros((len(ordered), len(order)), dtype=np.float64)
    for i, statement in enumerate(ordered):
        theme_id = by_id[statement.id].theme_id
        if theme_id not in column:
            raise ValueError(f"{statement.id}: assigned to {theme_id!r}, not among result.themes")
        one_hot[i, column[theme_id]] = 1.0
    if result.probabilities is None:
        return one_hot, one_hot
    given = np.asarray(result.probabilities, dtype=np.float64)
    expected_shape = (len(result.assignments), len(result.themes))
    if given.shape != expected_shape:
        raise ValueError(
            f"result.probabilities has shape {given.shape}; expected {expected_shape} "
            "(assignments × themes)"
        )
    row_of = {a.statement_id: i for i, a in enumerate(result.assignments)}
    source_column = {t.id: j for j, t in enumerate(result.themes)}
    probabilities = given[
        np.ix_([row_of[s.id] for s in ordered], [source_column[t] for t in order])
    ]
    if not np.all(np.isfinite(probabilities)) or np.any(
        np.abs(probabilities.sum(axis=1) - 1.0) > _ROW_SUM_TOLERANCE
    ):
        raise ValueError("result.probabilities: every row must be finite and sum to 1")
    analyst = np.array([by_id[s.id].method == "analyst" for s in ordered], dtype=bool)
    probabilities[analyst] = one_hot[analyst]
    return one_hot, np.clip(probabilities, 0.0, 1.0)


def count_interval(probabilities: FloatArray, exact_limit: int = EXACT_LIMIT) -> tuple[int, int]:
    """The 5th and 95th percentiles of the number of successes among independent events with
    these probabilities (Poisson-binomial): exact up to `exact_limit` uncertain events, a normal
    approximation with continuity correction beyond (see the module docstring)."""
    p = np.asarray(probabilities, dtype=np.float64)
    certain = int(np.count_nonzero(p >= 1.0 - _NEGLIGIBLE))
    uncertain = p[(p > _NEGLIGIBLE) & (p < 1.0 - _NEGLIGIBLE)]
    n = len(uncertain)
    if n == 0:
        return certain, certain
    if n <= exact_limit:
        cdf = np.cumsum(_poisson_binomial_pmf(uncertain))
        # Smallest k with P(X <= k) >= q; the tolerance keeps an exact q from rounding away.
        low, high = (int(np.searchsorted(cdf, q - 1e-12, side="left")) for q in _QUANTILES)
    else:
        mean = math.fsum(uncertain.tolist())
        sd = math.sqrt(math.fsum((uncertain * (1.0 - uncertain)).tolist()))
        low, high = (math.ceil(mean + _Z[q] * sd - 0.5) for q in _QUANTILES)
    return certain + min(max(low, 0), n), certain + min(max(high, 0), n)


def _poisson_binomial_pmf(p: FloatArray) -> FloatArray:
    """P(X = k) for k = 0..len(p), X the number of successes of independent events."""
    pmf = np.zeros(len(p) + 1, dtype=np.float64)
    pmf[0] = 1.0
    for k, pk in enumerate(p.tolist(), start=1):
        pmf[1 : k + 1] = pmf[1 : k + 1] * (1.0 - pk) + pmf[:k] * pk
        pmf[0] *= 1.0 - pk
    return pmf
