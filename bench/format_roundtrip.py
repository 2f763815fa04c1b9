"""The format round trip on the sample corpus: statement recall, precision, same region and
polarity kept for each format the five documents are saved as (see
tests/pipeline/extract/roundtrip.py for how each version is made and compared).

    python bench/format_roundtrip.py [--keep DIR] [--per-document]

Prints the README's table. Needs LibreOffice (soffice) and pandoc, as `make` installs them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "pipeline" / "extract"))

from roundtrip import (  # noqa: E402
    CORPUS,
    FORMATS,
    Comparison,
    build_versions,
    compare,
    read_statements,
    table,
)

from flows.io import load_config  # noqa: E402
from flows.isolation import extract_file  # noqa: E402
from pipeline.extract import ExtractError, extract_document  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="write the versions here and keep them")
    parser.add_argument("--per-document", action="store_true", help="a table per document")
    args = parser.parse_args()
    config = load_config(ROOT / "models" / "config.yaml")
    outdir = args.keep or Path(tempfile.mkdtemp(prefix="roundtrip-"))

    def extract(path: Path, name: str) -> object:
        return extract_file(path, name, config.limits)

    names = sorted(path.name for path in CORPUS.glob("*.txt"))
    originals = {
        name: extract_document(name, (CORPUS / name).read_bytes(), config.limits).blocks
        for name in names
    }
    versions = build_versions(originals, outdir)
    totals: dict[str, Comparison] = {}
    for name in names:
        original = read_statements(CORPUS / name, name, config, extract)
        per_doc: dict[str, Comparison] = {}
        for label in FORMATS:
            path = versions[name][label]
            try:
                converted = read_statements(path, path.name, config, extract)
            except ExtractError as exc:
                print(f"{path.name}: {exc}", file=sys.stderr)
                converted = ()
            result = compare(original, converted)
            per_doc[label] = result
            totals[label] = totals[label] + result if label in totals else result
        if args.per_document:
            print(f"\n{name}\n{table(per_doc)}")
    print(f"\nAll five documents ({next(iter(totals.values())).n_original} statements)")
    print(table(totals))
    print(f"\nversions in {outdir}")


if __name__ == "__main__":
    main()
