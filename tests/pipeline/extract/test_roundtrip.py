"""The format round trip on the sample corpus (README: "Supported inputs").

The five documents are saved by pandoc and LibreOffice as styled and unstyled DOCX, their
PDFs, LibreOffice's HTML, ODT, DOC, XLSX and CSV (see roundtrip.py), read back as a run reads
them (each in a reader process, LibreOffice converting inside it), and their statements
compared with those of the text originals. The conversions are made once per session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from roundtrip import CORPUS, FORMATS, Comparison, build_versions, compare, read_statements

from flows.io import load_config
from flows.isolation import extract_file
from pipeline.extract import extract_document

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("soffice") is None or shutil.which("pandoc") is None,
        reason="LibreOffice and pandoc are installed by `make` (deps/apt.txt)",
    ),
]

#: The bar of issue 8 for statement recall and precision, same region and polarity kept.
BAR = 0.95
#: Where a format does not reach the bar, the floor this test holds it to: what was measured
#: (bench/format_roundtrip.py, README), so it cannot get worse unnoticed. Honest, not met.
FLOORS: dict[str, dict[str, float]] = {
    "unstyled DOCX → PDF": {"recall": 0.85, "precision": 0.87, "polarity": 0.75},
}


@pytest.fixture(scope="session")
def roundtrip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Comparison]:
    """Each format's comparison with the text originals, all five documents pooled."""
    config = load_config()
    names = sorted(path.name for path in CORPUS.glob("*.txt"))
    originals = {
        name: extract_document(name, (CORPUS / name).read_bytes(), config.limits).blocks
        for name in names
    }
    versions = build_versions(originals, tmp_path_factory.mktemp("roundtrip"))

    def extract(path: Path, name: str) -> object:
        return extract_file(path, name, config.limits)

    totals: dict[str, Comparison] = {}
    for name in names:
        original = read_statements(CORPUS / name, name, config, extract)
        for label in FORMATS:
            path = versions[name][label]
            result = compare(original, read_statements(path, path.name, config, extract))
            totals[label] = totals[label] + result if label in totals else result
    return totals


@pytest.mark.parametrize("label", list(FORMATS))
def test_a_saved_version_gives_the_statements_of_its_original(
    label: str, roundtrip: dict[str, Comparison]
) -> None:
    result = roundtrip[label]
    floors = FLOORS.get(label, {})
    measured = {
        "recall": result.recall,
        "precision": result.precision,
        "region": result.region_rate,
        "polarity": result.polarity_rate,
    }
    assert result.n_original > 500  # the whole sample corpus was compared
    for key, value in measured.items():
        assert value >= floors.get(key, BAR), f"{label}: {key} {value:.3f} ({result})"
