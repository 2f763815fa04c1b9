"""Frozen records passed between pipeline stages.

Every extractor (txt, md, pdf, docx, pptx, html) produces the same `Document`: a flat tuple of
`Block`s in reading order, each with its kind, structure (heading level, list depth, table cells)
and source location. Segmentation, region attribution and theme assignment only ever see these
records, so a new input format needs no change downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BlockKind(StrEnum):
    """What a block is in the source document's structure."""

    HEADING = "heading"  # a title, markdown heading, slide title, docx heading style
    PARAGRAPH = "paragraph"  # running prose; split into sentences by `segment`
    LIST_ITEM = "list_item"  # one bullet or numbered item; `level` is its nesting depth
    TABLE_ROW = "table_row"  # one row of a table; `cells` holds its cells in column order
    NOTE = "note"  # speaker notes, captions: prose that sits beside the main flow
    BREAK = "break"  # a page, slide or section break (no text)


class Polarity(StrEnum):
    """The participants' own framing of a statement, from a table column or a heading."""

    MOJLIGHET = "Möjlighet"
    HINDER = "Hinder"
    STYRKA = "Styrka"
    SVAGHET = "Svaghet"
    NONE = ""


class Region(StrEnum):
    """The six Swedish healthcare regions (sjukvårdsregioner), national scope, and unknown.

    NATIONELL is for evidence of national or cross-region scope; OKAND for a statement
    nothing places (no heading, title, metadata or text names a region or the nation)."""

    NORRA = "Norra"
    MELLANSVERIGE = "Mellansverige"
    STOCKHOLM_GOTLAND = "Stockholm-Gotland"
    VASTRA = "Västra"
    SYDOSTRA = "Sydöstra"
    SODRA = "Södra"
    NATIONELL = "Nationell"
    OKAND = "Okänd"


#: The six regions in the conventional north-to-south order used for matrix columns.
SIX_REGIONS: tuple[Region, ...] = (
    Region.NORRA,
    Region.MELLANSVERIGE,
    Region.STOCKHOLM_GOTLAND,
    Region.VASTRA,
    Region.SYDOSTRA,
    Region.SODRA,
)


@dataclass(frozen=True)
class Location:
    """Where a block sits in its source file.

    `line` is 1-based in the extracted text for txt/md and 1-based within the page/slide for
    other formats; `page` is the 1-based page or slide number (None for plain text).
    """

    line: int
    page: int | None = None

    def describe(self) -> str:
        """Human-readable location, e.g. 'line 12' or 'page 3, line 4'."""
        if self.page is None:
            return f"line {self.line}"
        return f"page {self.page}, line {self.line}"


@dataclass(frozen=True)
class Block:
    """One structural unit of a document.

    `level`: heading level (1 = document title, 2 = section, ...) or list depth (0 = top level).
    `cells`: for TABLE_ROW, the cell texts in column order (empty strings for empty cells).
    `ocr`: True when the text came from optical character recognition.
    """

    kind: BlockKind
    text: str
    location: Location
    level: int = 0
    cells: tuple[str, ...] = ()
    ocr: bool = False


@dataclass(frozen=True)
class Document:
    """An extracted document.

    `name` is the file name relative to the corpus folder; `sha256` the hash of the raw bytes;
    `encoding` the text encoding that was detected ("utf-8", "cp1252", ... or "binary" for
    formats that carry their own); `blocks` the content in reading order; `n_dropped` the
    number of blocks left out as web-page furniture; `published` the ISO publication date the
    file states in its markup or a "Publicerad …" line ("" when it states none); `title` the
    title the file gives itself outside its blocks (a web page's <title>), or "".
    """

    name: str
    sha256: str
    format: str
    encoding: str
    blocks: tuple[Block, ...]
    n_dropped: int = 0
    published: str = ""
    title: str = ""


@dataclass(frozen=True)
class Statement:
    """One statement: a bullet, a table cell or a sentence, with its provenance.

    `id` is stable across runs: `<document>:<line>:<index on that line>`.
    `heading_path` lists the enclosing headings, outermost first.
    `group` is the workshop group ("Grupp 3") or "" when none.
    `table_column` is the header of the table column the statement came from, or "".
    """

    id: str
    document: str
    location: Location
    text: str
    heading_path: tuple[str, ...] = ()
    group: str = ""
    polarity: Polarity = Polarity.NONE
    region: Region = Region.OKAND
    region_source: str = ""
    table_column: str = ""
    ocr: bool = False


@dataclass(frozen=True)
class DocumentError:
    """A document (or a labels.csv row) that could not be (fully) processed: reported, never
    fatal to the run. One row of errors.csv.

    `stage` is the pipeline stage ("extract", "segment", ...); `where` the place (the file, a
    page, a row), `what` went wrong, and `fix`: what to do about it.
    """

    document: str
    stage: str
    where: str
    what: str
    fix: str

    @property
    def message(self) -> str:
        """`where: what`, for a log line."""
        return f"{self.where}: {self.what}"


@dataclass(frozen=True)
class DocumentInfo:
    """Per-document facts that outputs and manifests report."""

    name: str
    sha256: str
    format: str
    encoding: str
    region: Region
    region_source: str
    date: str = ""  # ISO date (YYYY-MM-DD) when one could be read from the title lines
    meeting: str = ""
    n_dropped: int = 0  # blocks left out as web-page furniture
