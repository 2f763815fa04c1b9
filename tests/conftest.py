"""Shared fixtures: offline environment, the real sample corpus, the built model, and one Prefect
test harness."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

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
SAMPLE_RUN_HELPER = ROOT / "bench" / "_report_browser.py"


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
def built_model_dir() -> Path:
    """models/e5-small-st, built via flows.build_model if missing or stale."""
    from flows.build_model import build
    from flows.io import load_config
    from pipeline.catalog import model_dir as configured_model_dir

    return build(configured_model_dir(load_config())).path


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (started only by tests that need it)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def sample_run() -> ModuleType:
    """bench/_report_browser.py: the sample corpus run as `temakarta run` builds it, and
    headless Chromium; one module for the benches and the tests (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("_report_browser", SAMPLE_RUN_HELPER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sample_tables(sample_run: ModuleType, config: Config) -> Tables:
    """The output tables of the five sample documents, themed with the real model (its
    embeddings cached in the default cache store), as a run builds them."""
    from pipeline.matrix import build_tables

    statements, infos, result, _, _ = sample_run.sample_themes(config)
    tables: Tables = build_tables(statements, result, infos)
    return tables
