"""The format round trip: the sample corpus saved as other formats, read back, compared.

Used by `tests/pipeline/extract/test_roundtrip.py` and `bench/format_roundtrip.py`. Each text
original in corpus/ is rendered the ways analysts receive documents:

- styled DOCX: the original's blocks written as Markdown (headings, nested lists, pipe tables)
  and converted by pandoc;
- unstyled DOCX: the original's lines typed as plain paragraphs with python-docx — headings as
  plain lines, "- " bullets, table columns separated by tabs, blank lines as empty paragraphs;
- PDFs of both, ODT of the styled one, DOC and LibreOffice's HTML of the unstyled one, all by
  LibreOffice headless;
- XLSX and CSV of the typed lines (one row per line, one cell per tab column).

Every version is read as a run reads it (`flows.isolation.extract_file`: a child process, the
LibreOffice conversion inside it), segmented and given regions; its statements are matched to
the original's by their text (case and white space folded, end punctuation ignored).
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.records import Block, BlockKind, Polarity, Statement

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "corpus"

#: The versions compared, in table order: name → file suffix.
FORMATS: dict[str, str] = {
    "styled DOCX (pandoc)": ".docx",
    "styled DOCX → PDF": ".pdf",
    "unstyled DOCX (typed text)": ".docx",
    "unstyled DOCX → PDF": ".pdf",
    "LibreOffice HTML (of the unstyled DOCX)": ".html",
    "ODT (of the styled DOCX)": ".odt",
    "DOC (of the unstyled DOCX)": ".doc",
    "XLSX (typed lines, tab columns as cells)": ".xlsx",
    "CSV (typed lines)": ".csv",
}

_HTML_TAG = re.compile(r"<[^>]{1,400}>")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}")


# --- the versions ----------------------------------------------------------------------------


def typed_lines(text: str) -> list[str]:
    """The original's lines as someone would type them into Word: no markdown markup, pipe
    tables as tab columns, blank lines kept."""
    out: list[str] = []
    for raw in text.splitlines():
        line = _HTML_TAG.sub(" ", raw.rstrip(" \r\n"))
        line = _MD_HEADING.sub("", line)
        line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
        line = re.sub(r"^(\s*)[*_](?![*_\s])(.+?)(?<![*_\s])[*_]$", r"\1\2", line)
        if _SEPARATOR.match(line) and set(line.strip()) <= set("|:- "):
            continue  # a pipe table's rule row
        marker = re.match(r"^(\s*[-*•–]\s+)?(\|.*)$", line)
        if marker and marker.group(2).count("|") >= 2:
            cells = [c.strip() for c in marker.group(2).strip().strip("|").split("|")]
            line = (marker.group(1) or "") + "\t".join(cells)
        out.append(line)
    return out


def markdown(blocks: Sequence[Block]) -> str:
    """The original's blocks as pandoc Markdown: headings, nested bullets, pipe tables."""
    parts: list[str] = []
    table: list[tuple[str, ...]] = []
    last_line = -10

    def flush_table() -> None:
        if not table:
            return
        width = max(len(row) for row in table)
        rows = [[_md_escape(c) for c in row] + [""] * (width - len(row)) for row in table]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        parts.append("\n".join(lines) + "\n")
        table.clear()

    for block in blocks:
        if block.kind is BlockKind.TABLE_ROW:
            if table and block.location.line != last_line + 1:
                flush_table()
            table.append(block.cells)
            last_line = block.location.line
            continue
        flush_table()
        text = _md_escape(block.text)
        if block.kind is BlockKind.HEADING:
            parts.append(f"{'#' * min(max(block.level, 1), 6)} {text}\n")
        elif block.kind is BlockKind.LIST_ITEM:
            item = f"{'    ' * block.level}- {text}"
            if parts and parts[-1].lstrip().startswith("- "):
                parts[-1] += "\n" + item
            else:
                parts.append(item)
        elif block.kind in (BlockKind.PARAGRAPH, BlockKind.NOTE):
            parts.append(text + "\n")
    flush_table()
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def _md_escape(text: str) -> str:
    text = re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)
    return re.sub(r"^(\d+)\.", r"\1\\.", text)


def typed_docx(lines: Sequence[str]) -> bytes:
    """Each line a plain paragraph (Normal style; tabs as Word tabs)."""
    import docx

    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def typed_xlsx(lines: Sequence[str]) -> bytes:
    """One row per line, one cell per tab column; blank lines are empty rows."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for number, line in enumerate(lines, start=1):
        for column, cell in enumerate(line.split("\t"), start=1):
            if cell:
                sheet.cell(row=number, column=column, value=cell)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def typed_csv(lines: Sequence[str]) -> bytes:
    """One record per line, one field per tab column (comma-separated, UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for line in lines:
        writer.writerow(line.split("\t") if line else [])
    return out.getvalue().encode("utf-8")


def soffice(source: Path | Sequence[Path], target: str, outdir: Path) -> Path:
    """LibreOffice headless conversion of `source` (one file or several in one call) to
    `target` ("pdf", "odt", ...); the path of the (first) converted file."""
    sources = [source] if isinstance(source, Path) else list(source)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                str(outdir),
                *map(str, sources),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return outdir / f"{sources[0].stem}.{target.split(':')[0]}"


def pandoc_docx(text: str, outdir: Path, stem: str) -> Path:
    """Markdown → DOCX with pandoc (no smart quotes and dashes: the text stays as typed)."""
    target = outdir / f"{stem}.docx"
    subprocess.run(
        ["pandoc", "-f", "markdown-smart", "-t", "docx", "-o", str(target)],
        input=text.encode("utf-8"),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


def build_versions(
    originals: dict[str, Sequence[Block]], outdir: Path
) -> dict[str, dict[str, Path]]:
    """Every version in FORMATS of each corpus document (name → its text original's blocks),
    written under `outdir`: {name: {format label: path}}. LibreOffice runs once per target."""
    styled_dir, typed_dir = outdir / "styled", outdir / "typed"
    for folder in (styled_dir, typed_dir):
        folder.mkdir(parents=True, exist_ok=True)
    styled: list[Path] = []
    typed: list[Path] = []
    out: dict[str, dict[str, Path]] = {}
    for name, blocks in originals.items():
        stem = Path(name).stem
        lines = typed_lines((CORPUS / name).read_text(encoding="utf-8"))
        styled.append(pandoc_docx(markdown(blocks), styled_dir, stem))
        typed_path = typed_dir / f"{stem}.docx"
        typed_path.write_bytes(typed_docx(lines))
        typed.append(typed_path)
        (typed_dir / f"{stem}.xlsx").write_bytes(typed_xlsx(lines))
        (typed_dir / f"{stem}.csv").write_bytes(typed_csv(lines))
        out[name] = {
            "styled DOCX (pandoc)": styled[-1],
            "styled DOCX → PDF": styled_dir / f"{stem}.pdf",
            "unstyled DOCX (typed text)": typed_path,
            "unstyled DOCX → PDF": typed_dir / f"{stem}.pdf",
            "LibreOffice HTML (of the unstyled DOCX)": typed_dir / f"{stem}.html",
            "ODT (of the styled DOCX)": styled_dir / f"{stem}.odt",
            "DOC (of the unstyled DOCX)": typed_dir / f"{stem}.doc",
            "XLSX (typed lines, tab columns as cells)": typed_dir / f"{stem}.xlsx",
            "CSV (typed lines)": typed_dir / f"{stem}.csv",
        }
    for sources, folder, targets in (
        (styled, styled_dir, ("pdf", "odt")),
        (typed, typed_dir, ("pdf", "html", "doc")),
    ):
        for target in targets:
            soffice(sources, target, folder)
    return out


# --- reading and comparing -------------------------------------------------------------------


def read_statements(
    path: Path, name: str, config: Config, extract: Callable[[Path, str], object]
) -> tuple[Statement, ...]:
    """A file's statements with regions, read as a run reads it."""
    from flows.io import load_abbreviations, load_gazetteer
    from pipeline.records import Document
    from pipeline.regions import attribute_regions
    from pipeline.segment import segment_document

    document = extract(path, name)
    assert isinstance(document, Document)
    statements = segment_document(document, config.segment, load_abbreviations(config))
    with_regions, _ = attribute_regions(document, statements, load_gazetteer(config))
    return with_regions


def norm(text: str) -> str:
    """Text for matching: NFC, case and white space folded, end punctuation dropped."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return text.strip(" .,;:!?\"'”“’()-–•*").casefold()


@dataclass(frozen=True)
class Comparison:
    """One version against its original."""

    n_original: int
    n_converted: int
    matched: int
    same_region: int
    polar: int  # matched statements whose original has a polarity
    polarity_kept: int
    polarity_added: int  # matched statements with a polarity their original lacks

    def __add__(self, other: Comparison) -> Comparison:
        return Comparison(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def values(self) -> tuple[int, ...]:
        """The counts, in field order."""
        return (
            self.n_original,
            self.n_converted,
            self.matched,
            self.same_region,
            self.polar,
            self.polarity_kept,
            self.polarity_added,
        )

    @property
    def recall(self) -> float:
        """Share of the original's statements found in the version."""
        return self.matched / self.n_original if self.n_original else 1.0

    @property
    def precision(self) -> float:
        """Share of the version's statements that are statements of the original."""
        return self.matched / self.n_converted if self.n_converted else 1.0

    @property
    def region_rate(self) -> float:
        """Share of matched statements with the original's region."""
        return self.same_region / self.matched if self.matched else 1.0

    @property
    def polarity_rate(self) -> float:
        """Share of matched statements with a polarity that keep it."""
        return self.polarity_kept / self.polar if self.polar else 1.0


def compare(original: Sequence[Statement], converted: Sequence[Statement]) -> Comparison:
    """Match statements by normalized text (in order within equal texts) and count."""
    pool: dict[str, list[Statement]] = defaultdict(list)
    for statement in converted:
        pool[norm(statement.text)].append(statement)
    matched = same_region = polar = kept = added = 0
    for statement in original:
        candidates = pool.get(norm(statement.text))
        if not candidates:
            continue
        other = candidates.pop(0)
        matched += 1
        same_region += other.region == statement.region
        if statement.polarity is not Polarity.NONE:
            polar += 1
            kept += other.polarity == statement.polarity
        elif other.polarity is not Polarity.NONE:
            added += 1
    return Comparison(len(original), len(converted), matched, same_region, polar, kept, added)


def table(results: dict[str, Comparison]) -> str:
    """The Markdown table of the README."""
    rows = [
        "| format | statement recall | precision | same region | polarity kept | polarity added |",
        "|---|---|---|---|---|---|",
    ]
    for label, c in results.items():
        rows.append(
            f"| {label} | {c.recall:.2f} | {c.precision:.2f} | {c.region_rate:.2f} | "
            f"{c.polarity_rate:.2f} ({c.polarity_kept}/{c.polar}) | {c.polarity_added} |"
        )
    return "\n".join(rows)
