"""Fixtures for the extraction tests: files built from corpus documents into tmp dirs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_builders import (
    build_docx,
    build_html,
    build_pdf,
    build_pptx,
    corpus_blocks,
)

from pipeline.config import LimitsConfig
from pipeline.records import Block

DOC_001 = "001_aeb9084501ce30c8.txt"
DOC_003 = "003_fb89202d20482178.txt"


@pytest.fixture(scope="session")
def limits() -> LimitsConfig:
    """The default limits."""
    return LimitsConfig()


@pytest.fixture(scope="session")
def blocks_001() -> tuple[Block, ...]:
    """Workshop notes: headings, numbered lists, Möjligheter/Hinder tables (from the .txt)."""
    return corpus_blocks(DOC_001)


@pytest.fixture(scope="session")
def blocks_003() -> tuple[Block, ...]:
    """The first five slides of a slide-deck export (from the .txt)."""
    return corpus_blocks(DOC_003, max_breaks=6)


@pytest.fixture(scope="session")
def built(
    tmp_path_factory: pytest.TempPathFactory,
    blocks_001: tuple[Block, ...],
    blocks_003: tuple[Block, ...],
) -> dict[str, Path]:
    """DOCX/PPTX/PDF/HTML versions of 001 and 003, written to a tmp dir: {"001.docx": path}."""
    folder = tmp_path_factory.mktemp("built")
    out: dict[str, Path] = {}
    for label, blocks in (("001", blocks_001), ("003", blocks_003)):
        for suffix, builder in (
            ("docx", build_docx),
            ("pptx", build_pptx),
            ("pdf", build_pdf),
            ("html", build_html),
        ):
            path = folder / f"{label}.{suffix}"
            path.write_bytes(builder(blocks))
            out[path.name] = path
    return out
