"""The catalogue of every file a run reads besides its documents — named once.

Public: `DATA_FILES` (the project's data files under `models/`, each with the config key that
names it), `data_paths(config)`, `model_dir(config)`, and the corpus folder's own inputs
`METADATA_FILE` and `LABELS_FILE`. The loaders (`flows/io.py`), the up-front checks
(`flows/preflight.py`), the manifest's `data_files` hashes and `build-model` all read this list,
so a new data file is added here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.vocabulary import VOCABULARY_FILE

__all__ = [
    "DATA_FILES",
    "LABELS_FILE",
    "METADATA_FILE",
    "MODEL_FILES",
    "DataFile",
    "data_paths",
    "model_dir",
]

METADATA_FILE = "metadata.csv"  # per-document region/date/meeting (pipeline/regions.py)
LABELS_FILE = "labels.csv"  # the analyst's theme labels (pipeline/labels.py)
# What `build-model` writes and the embedder loads; a model folder without one is not usable.
MODEL_FILES = ("config.json", "modules.json", "model.safetensors", "tokenizer.json")


@dataclass(frozen=True)
class DataFile:
    """A data file of the project: its `key` (in the manifest and in messages), the config key
    that names it, and what it holds."""

    key: str
    config_key: str  # "" when the path is fixed
    holds: str
    _path: Callable[[Config], str]

    def path(self, config: Config) -> str:
        """The path as the config gives it (relative to the project root unless absolute)."""
        return self._path(config)


DATA_FILES: tuple[DataFile, ...] = (
    DataFile("abbreviations", "abbreviations", "abbreviations", lambda c: c.abbreviations),
    DataFile("codebook", "themes.codebook", "themes", lambda c: c.themes.codebook),
    DataFile("gazetteer", "gazetteer", "region names", lambda c: c.gazetteer),
    DataFile("furniture", "furniture", "web-page furniture", lambda c: c.furniture),
    DataFile("stopwords", "stopwords_extra", "stop words", lambda c: c.stopwords_extra),
    # Read where it is used, inside every reader process too, so it has no config key: its path
    # is fixed (pipeline/vocabulary.py), and it is hashed and checked like the others.
    DataFile("vocabulary", "", "the meeting vocabulary", lambda c: VOCABULARY_FILE),
)


def data_paths(config: Config) -> dict[str, Path]:
    """Every data file by its key, resolved against the project root."""
    return {entry.key: config.resolve(entry.path(config)) for entry in DATA_FILES}


def model_dir(config: Config) -> Path:
    """The embedding model folder (`model.path`), where `build-model` writes it."""
    return config.resolve(config.model.path)
