"""Long fuzz run of `extract_document` on mutated DOCX/PPTX/PDF/HTML/TXT files.

    python bench/fuzz_extract.py --examples 500          # per format
    python bench/fuzz_extract.py --examples 200 --formats pdf,docx --seed 7

Builds the files from corpus documents (as the tests do), mutates them (byte flips, a
truncation, an inserted chunk) and prints, per format, how many cases returned a Document,
raised ExtractError, or raised anything else (a bug: the run exits 1 and prints the first
tracebacks), plus the slowest case. Memory is bounded by the extractor limits; each case's
time by limits.timeout_seconds (set low here).
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import sys
import time
import traceback
import warnings
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "pipeline" / "extract"))

from extract_builders import (  # noqa: E402
    CORPUS,
    build_docx,
    build_html,
    build_pdf,
    build_pptx,
    corpus_blocks,
)

from pipeline.config import LimitsConfig  # noqa: E402
from pipeline.extract import ExtractError, extract_document  # noqa: E402


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few byte flips, maybe a truncation, maybe an inserted random chunk."""
    out = bytearray(data)
    for _ in range(rng.randint(0, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    if rng.random() < 0.5:
        out = out[: rng.randint(0, len(out))]
    if rng.random() < 0.5:
        position = rng.randint(0, len(out))
        out[position:position] = rng.randbytes(rng.randint(1, 64))
    return bytes(out)


def mutate_inside(data: bytes, rng: random.Random) -> bytes:
    """An Office zip with one member's bytes mutated and the package zipped again.

    Byte-level mutation of the zip mostly trips its CRC checks; this reaches the XML parsers.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    infos = source.infolist()
    victim = rng.choice([i for i in infos if i.filename.endswith(".xml")] or infos)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in infos:
            content = source.read(info)
            target.writestr(info.filename, mutate(content, rng) if info is victim else content)
    return out.getvalue()


def originals() -> dict[str, bytes]:
    """One real file per format."""
    blocks = corpus_blocks("003_fb89202d20482178.txt", max_breaks=6)
    both = corpus_blocks("001_aeb9084501ce30c8.txt")
    return {
        "docx": build_docx(both),
        "pptx": build_pptx(blocks),
        "pdf": build_pdf(blocks),
        "html": build_html(both),
        "txt": (CORPUS / "003_fb89202d20482178.txt").read_bytes(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the fuzz cases; exit 1 when any case raised something other than ExtractError."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="cases per format")
    parser.add_argument("--formats", default="docx,pptx,pdf,html,txt")
    parser.add_argument("--seed", type=int, default=20171213)
    args = parser.parse_args(argv)
    # pdfminer/bs4 warn about every broken object; the outcome counts are what matter here.
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    limits = LimitsConfig(timeout_seconds=20)
    files = originals()
    failures: list[str] = []
    for fmt in args.formats.split(","):
        rng = random.Random(f"{args.seed}:{fmt}")
        outcomes: Counter[str] = Counter()
        slowest = 0.0
        started = time.monotonic()
        for _ in range(args.examples):
            inside = fmt in ("docx", "pptx") and rng.random() < 0.5
            data = mutate_inside(files[fmt], rng) if inside else mutate(files[fmt], rng)
            t0 = time.monotonic()
            try:
                extract_document(f"fuzz.{fmt}", data, limits)
                outcomes["document"] += 1
            except ExtractError:
                outcomes["ExtractError"] += 1
            except BaseException as exc:
                outcomes[f"BUG {type(exc).__name__}"] += 1
                if len(failures) < 5:
                    failures.append(traceback.format_exc())
            slowest = max(slowest, time.monotonic() - t0)
        total = time.monotonic() - started
        summary = ", ".join(f"{key} {count}" for key, count in sorted(outcomes.items()))
        print(
            f"{fmt:5} cases {args.examples:5}  {summary}  (total {total:.1f}s, "
            f"slowest {slowest:.2f}s)",
            flush=True,
        )
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
