"""Shared fixtures: offline environment, the real sample corpus, and one Prefect test harness."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Prefect or Hugging Face libraries: offline, and a private Prefect home.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="temakarta-prefect-"))

from pipeline.config import DEFAULT_CONFIG_PATH, Config, parse_config
from pipeline.extract import extract_document
from pipeline.matrix import Tables
from pipeline.records import Document, Statement
from pipeline.regions import Gazetteer, attribute_regions, parse_gazetteer
from pipeline.segment import segment_document

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def config() -> Config:
    return parse_config(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), str(DEFAULT_CONFIG_PATH))


@pytest.fixture(scope="session")
def abbreviations() -> frozenset[str]:
    lines = (ROOT / "models" / "abbreviations.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    path = ROOT / "models" / "gazetteer.yaml"
    return parse_gazetteer(path.read_text(encoding="utf-8"), str(path))


@pytest.fixture(scope="session")
def documents(config: Config) -> dict[str, Document]:
    """The five real sample documents, extracted, by file-name prefix ("000" … "004")."""
    out = {}
    for path in sorted(CORPUS.glob("*.txt")):
        out[path.name[:3]] = extract_document(path.name, path.read_bytes(), config.limits)
    return out


@pytest.fixture(scope="session")
def sample_statements(
    documents: dict[str, Document],
    config: Config,
    abbreviations: frozenset[str],
    gazetteer: Gazetteer,
) -> dict[str, tuple[Statement, ...]]:
    """Segmented statements with regions for each sample document, by file-name prefix."""
    out = {}
    for key, document in documents.items():
        found = segment_document(document, config.segment, abbreviations)
        out[key] = attribute_regions(document, found, gazetteer)[0]
    return out


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (started only by tests that need it)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def sample_tables(
    documents: dict[str, Document],
    config: Config,
    abbreviations: frozenset[str],
    gazetteer: Gazetteer,
) -> Tables:
    """The output tables of the five sample documents, themed with the real model (its
    embeddings cached in the default cache store), as a run builds them."""
    from flows import io
    from flows.embed_cache import encode_cached
    from flows.theme_map import project_embedder
    from pipeline.matrix import build_tables
    from pipeline.themes import assign_themes

    statements: list[Statement] = []
    infos = []
    for key in sorted(documents):
        found = segment_document(documents[key], config.segment, abbreviations)
        with_regions, info = attribute_regions(documents[key], found, gazetteer)
        statements += with_regions
        infos.append(info)
    data = io.load_project_data(config, CORPUS)
    embedder = project_embedder(config)
    vectors = encode_cached([s.text for s in statements], embedder)
    codebook_vectors = encode_cached(list(data.codebook.texts), embedder)
    result = assign_themes(
        statements, vectors, data.codebook, codebook_vectors, config.themes, data.stopwords
    )
    return build_tables(statements, result, infos)
