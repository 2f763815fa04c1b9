"""Long fuzz run of `extract_document` on mutated DOCX/PPTX/PDF/HTML/TXT files.

    python bench/fuzz_extract.py --examples 500          # per format
    python bench/fuzz_extract.py --examples 200 --formats pdf,docx --seed 7

Builds the files from corpus documents (as the tests do), mutates them (byte flips, a
truncation, an inserted chunk) and reads each case as the flow does: in a child process with a
hard time limit and a memory cap (flows/isolation.py). Prints, per format, how many cases
returned a Document, raised ExtractError, were stopped for time, crashed the child, or raised
anything else (a bug: the run exits 1 and prints the first ones), with the slowest case and the
highest peak RSS of a child.
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import sys
import time
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

from flows.isolation import GRACE_SECONDS, ChildCrashed, ChildTimeout, run_isolated  # noqa: E402
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


def extract_quietly(name: str, data: bytes, limits: LimitsConfig) -> str:
    """Runs in the child: 'document' or 'ExtractError' (anything else propagates as a bug)."""
    # pdfminer/bs4 warn about every broken object; the outcome counts are what matter here.
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    try:
        extract_document(name, data, limits)
    except ExtractError:
        return "ExtractError"
    return "document"


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
    limits = LimitsConfig(timeout_seconds=20)
    files = originals()
    failures: list[str] = []
    for fmt in args.formats.split(","):
        rng = random.Random(f"{args.seed}:{fmt}")
        outcomes: Counter[str] = Counter()
        slowest = 0.0
        peak_mb = 0.0
        started = time.monotonic()
        for _ in range(args.examples):
            inside = fmt in ("docx", "pptx") and rng.random() < 0.5
            data = mutate_inside(files[fmt], rng) if inside else mutate(files[fmt], rng)
            t0 = time.monotonic()
            try:
                outcome = run_isolated(
                    extract_quietly,
                    (f"fuzz.{fmt}", data, limits),
                    timeout=limits.timeout_seconds + GRACE_SECONDS,
                    max_memory_mb=limits.max_memory_mb,
                )
                outcomes[outcome.value] += 1
                peak_mb = max(peak_mb, outcome.peak_rss_mb)
            except ChildTimeout:
                outcomes["stopped for time"] += 1
            except ChildCrashed:
                outcomes["crashed"] += 1
            except BaseException as exc:
                outcomes[f"BUG {type(exc).__name__}"] += 1
                if len(failures) < 5:
                    failures.append(f"{type(exc).__name__}: {exc}")
            slowest = max(slowest, time.monotonic() - t0)
        total = time.monotonic() - started
        summary = ", ".join(f"{key} {count}" for key, count in sorted(outcomes.items()))
        print(
            f"{fmt:5} cases {args.examples:5}  {summary}  (total {total:.1f}s, "
            f"slowest {slowest:.2f}s, peak RSS of a child {peak_mb:.0f} MB)",
            flush=True,
        )
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
