"""OCR of scanned PDF pages: pypdfium2 renders the page, Tesseract (`-l swe`) reads it.

Tesseract runs as a subprocess with TSV output, so every recognised word comes back with its
box; `ocr_page_lines` groups them into `TextLine`s (in PDF points) that go through the same
line-to-block mapping as a PDF text layer.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from dataclasses import replace
from functools import lru_cache
from typing import Any

from pipeline.extract._common import Deadline, error
from pipeline.extract._layout import TextLine, Word

#: Render resolution for OCR, and a cap on the rendered image size (pixels) for huge pages.
OCR_DPI = 300
MAX_PIXELS = 40_000_000
#: Words Tesseract is less sure of than this (0-100) are dropped as noise.
MIN_CONFIDENCE = 30.0

INSTALL_HINT = (
    "install Tesseract with Swedish data: apt-get install tesseract-ocr tesseract-ocr-swe"
)


@lru_cache(maxsize=1)
def _tesseract_languages() -> tuple[str, ...] | None:
    """Languages the installed tesseract knows, or None when tesseract is not installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (done.stdout + done.stderr).splitlines()
    return tuple(line.strip() for line in lines if line.strip() and " " not in line.strip())


def require_tesseract(name: str, where: str) -> str:
    """The tesseract executable; ExtractError with install instructions when it is missing."""
    langs = _tesseract_languages()
    exe = shutil.which("tesseract")
    if langs is None or exe is None:
        raise error(
            name,
            where,
            "page is a scan (no usable text layer) and needs OCR, but tesseract is not installed",
            INSTALL_HINT,
        )
    if "swe" not in langs:
        raise error(
            name,
            where,
            "page is a scan (no usable text layer) and needs OCR, "
            "but tesseract has no Swedish data (swe)",
            INSTALL_HINT,
        )
    return exe


def render_page(pdf: Any, index: int) -> tuple[bytes, float]:
    """Render page `index` of a pypdfium2 document to PNG bytes; returns (png, pixels per pt)."""
    page = pdf[index]
    try:
        width, height = page.get_size()
        scale = OCR_DPI / 72.0
        area = max(1.0, float(width) * float(height))
        if area * scale * scale > MAX_PIXELS:
            scale = (MAX_PIXELS / area) ** 0.5
        bitmap = page.render(scale=scale, grayscale=True)
        image = bitmap.to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), scale
    finally:
        page.close()


def run_tesseract(name: str, where: str, png: bytes, deadline: Deadline) -> str:
    """Tesseract's TSV output for one PNG image."""
    exe = require_tesseract(name, where)
    try:
        done = subprocess.run(
            [exe, "stdin", "stdout", "-l", "swe", "--psm", "3", "tsv"],
            input=png,
            capture_output=True,
            timeout=deadline.remaining(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(
            name,
            where,
            f"OCR took longer than {deadline.seconds:g} seconds",
            "split the file",
            "limits.timeout_seconds",
        ) from exc
    except OSError as exc:
        raise error(name, where, f"could not run tesseract ({exc})", INSTALL_HINT) from exc
    if done.returncode != 0:
        message = " ".join(done.stderr.decode("utf-8", "replace").split())[:300]
        raise error(
            name,
            where,
            f"tesseract failed (exit {done.returncode}: {message})",
            "check that the page is a readable image; re-scan or export the page again",
        )
    return done.stdout.decode("utf-8", "replace")


def parse_tsv(tsv: str, scale: float) -> list[TextLine]:
    """Group Tesseract TSV words into lines (coordinates converted back to PDF points)."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    order: list[tuple[int, int, int]] = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        try:
            if int(row["level"]) != 5:
                continue
            text = (row.get("text") or "").strip()
            conf = float(row["conf"])
            key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
            left, top = int(row["left"]) / scale, int(row["top"]) / scale
            width, height = int(row["width"]) / scale, int(row["height"]) / scale
        except (KeyError, TypeError, ValueError):
            continue
        if not text or conf < MIN_CONFIDENCE:
            continue
        if key not in grouped:
            grouped[key] = []
            order.append(key)
        grouped[key].append(Word(text, left, left + width, top, top + height, height, False))
    lines = [
        TextLine.from_words(_rejoin_split_words(grouped[key]), paragraph=key[:2]) for key in order
    ]
    return sorted(lines, key=lambda line: (round(line.top), line.x0))


_LETTERS = re.compile(r"^[a-zåäöéüA-ZÅÄÖÉÜ]+$")


def _is_word(text: str) -> bool:
    """A Swedish word form simplemma's dictionary knows (offline data)."""
    import simplemma

    return bool(simplemma.is_known(text.casefold(), lang="sv"))


def _rejoin_split_words(words: list[Word]) -> list[Word]:
    """Words Tesseract split with a space joined again ("möj ligheter" → "möjligheter").

    Two neighbouring words of letters are one when together they are a Swedish word and one of
    them is not: "sam verkan", both words, stays as read (the space may be real), and so does a
    pair whose joined form is unknown.
    """
    ordered = sorted(words, key=lambda word: word.x0)
    out: list[Word] = []
    for word in ordered:
        prev = out[-1] if out else None
        if (
            prev is not None
            and _LETTERS.match(prev.text)
            and _LETTERS.match(word.text)
            and word.text[:1].islower()
            and not (_is_word(prev.text) and _is_word(word.text))
            and _is_word(prev.text + word.text)
        ):
            out[-1] = replace(
                prev,
                text=prev.text + word.text,
                x1=word.x1,
                top=min(prev.top, word.top),
                bottom=max(prev.bottom, word.bottom),
                size=max(prev.size, word.size),
            )
        else:
            out.append(word)
    return out


def ocr_page_lines(name: str, pdf: Any, index: int, deadline: Deadline) -> list[TextLine]:
    """OCR one page of a pypdfium2 document into text lines."""
    where = f"page {index + 1}"
    require_tesseract(name, where)
    png, scale = render_page(pdf, index)
    return parse_tsv(run_tesseract(name, where, png, deadline), scale)
