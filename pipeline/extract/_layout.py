"""Positioned text lines (from a PDF text layer or OCR) → our `Block`s.

The PDF and OCR readers only produce words with boxes; this module rebuilds the structure:
headings from font size (or boldness), bullets and numbered items with nesting from their
indentation, paragraphs from line spacing, and borderless tables from wide gaps between
words whose x-positions line up with a header row's columns.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from pipeline.extract._common import clean
from pipeline.records import Block, BlockKind, Location
from pipeline.vocabulary import vocabulary

#: A bullet or number at the start of a line: •, -, –, *, 1., 1), a., a), iv. ... (the glyphs
#: from `pipeline.vocabulary`).
LIST_MARKER = re.compile(
    rf"^\s*(?:{vocabulary().pdf_bullet}|\(cid:\d+\)|\(?(?:\d{{1,3}}|[a-zA-Z]|[ivxIVX]{{1,4}})[.)])"
    r"(?:\s+|$)"
)
_ENUMERATOR = re.compile(r"(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]\s+")
#: A gap wider than this many font sizes between two words separates table columns.
COLUMN_GAP = 1.5
#: A narrower gap still separates columns when it is this wide (in font sizes) and this many
#: times the line's typical gap between words (a tab typed to the next tab stop).
TAB_GAP = 0.42
TAB_OVER_SPACE = 1.4
#: Vertical whitespace (in font sizes) above which consecutive lines are separate blocks.
PARAGRAPH_GAP = 0.7
#: A heading continues on the next line only when the lines are this close (wrapped title).
HEADING_WRAP_GAP = 0.45
#: A table line this close under the row above (in font sizes) continues its cells: rows are
#: set further apart (cell padding) than the lines of one cell.
CELL_WRAP_GAP = 0.3
#: Tolerance (points) when matching a cell's x-position to a column start.
COLUMN_TOLERANCE = 8.0


@dataclass(frozen=True)
class Word:
    """One word with its box in PDF points (top grows downwards)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    style: str = ""  # font face and colour ("DejaVuSans-Oblique|(0.3, 0.5, 0.7)"); "" for OCR


@dataclass(frozen=True)
class TextLine:
    """Words on one visual line, left to right."""

    words: tuple[Word, ...]
    paragraph: tuple[int, int] | None = None  # Tesseract's (block, paragraph), when known

    @staticmethod
    def from_words(words: Iterable[Word], paragraph: tuple[int, int] | None = None) -> TextLine:
        """A line from its words, sorted left to right."""
        return TextLine(tuple(sorted(words, key=lambda w: w.x0)), paragraph)

    @property
    def text(self) -> str:
        """The line's text, single-spaced."""
        return clean(" ".join(word.text for word in self.words))

    @property
    def x0(self) -> float:
        """Left edge."""
        return self.words[0].x0

    @property
    def top(self) -> float:
        """Top edge."""
        return min(word.top for word in self.words)

    @property
    def bottom(self) -> float:
        """Bottom edge."""
        return max(word.bottom for word in self.words)

    @property
    def size(self) -> float:
        """Median font size (or OCR word height)."""
        return float(statistics.median(word.size for word in self.words))

    @property
    def bold(self) -> bool:
        """True when every word is set in a bold face."""
        return all(word.bold for word in self.words)

    @property
    def style(self) -> str:
        """The font face and colour shared by all words, or "" when they differ."""
        styles = {word.style for word in self.words}
        return styles.pop() if len(styles) == 1 else ""

    def segments(self) -> list[tuple[float, str]]:
        """Runs of words split at column-sized gaps: (x0, text) each."""
        return [(x0, text) for x0, _, text in self.spans()]

    def spans(self) -> list[tuple[float, float, str]]:
        """Runs of words split at column-sized gaps: (x0, x1, text) each."""
        runs: list[list[Word]] = [[self.words[0]]]
        gaps = [word.x0 - prev.x1 for prev, word in zip(self.words, self.words[1:], strict=False)]
        for index, (prev, word) in enumerate(zip(self.words, self.words[1:], strict=False)):
            size = max(prev.size, word.size, 1.0)
            # A typed tab to the next tab stop may be barely wider than a space: a gap counts
            # when it is wide for the font and wider than the line's other gaps (justified
            # text stretches all of them alike).
            others = gaps[:index] + gaps[index + 1 :]
            typical = statistics.median(others) if len(others) >= 2 else 0.3 * size
            # (Not in OCR text, whose word boxes space irregularly: it has no style.)
            tab = (
                bool(prev.style)
                and gaps[index] > TAB_GAP * size
                and gaps[index] > TAB_OVER_SPACE * typical
            )
            if gaps[index] > COLUMN_GAP * size or tab:
                runs.append([word])
            else:
                runs[-1].append(word)
        return [(run[0].x0, run[-1].x1, clean(" ".join(w.text for w in run))) for run in runs]


@dataclass(frozen=True)
class TableRows:
    """A ruled table found by the PDF reader: rows of cell texts, with its top edge."""

    top: float
    rows: tuple[tuple[str, ...], ...]


Element = TextLine | TableRows


def group_lines(words: Sequence[Word]) -> list[TextLine]:
    """Group words into lines by vertical overlap, top to bottom."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (round(w.top, 1), w.x0)):
        if lines:
            last = lines[-1]
            ref_top = min(w.top for w in last)
            ref_bottom = max(w.bottom for w in last)
            height = max(ref_bottom - ref_top, 1.0)
            if abs(word.top - ref_top) <= 0.4 * height or (
                word.top < ref_bottom - 0.5 * height and word.bottom > ref_top + 0.5 * height
            ):
                last.append(word)
                continue
        lines.append([word])
    return [TextLine.from_words(line) for line in lines]


#: Font sizes this close (points) are one heading level: float noise in a PDF's text layer, not
#: a design choice. Half a point apart (11.5 / 12 / 12.5) are different levels.
SIZE_TOLERANCE = 0.2


def size_classes(sizes: Iterable[float], tolerance: float) -> list[tuple[float, float]]:
    """Sizes clustered into (smallest, largest) classes, largest first.

    A class spans at most `tolerance` points, so with 0.2 12.0 and 12.004 stay one class while
    11.5 and 12.0 are two (rounding to whole points merged them); sizes a little apart each
    cannot chain a whole range into one class.
    """
    classes: list[tuple[float, float]] = []
    for size in sorted(set(sizes)):
        if classes and size - classes[-1][0] <= tolerance:
            classes[-1] = (classes[-1][0], size)
        else:
            classes.append((size, size))
    return classes[::-1]


#: A heading is at most this long; a style used for any longer line is an emphasis, not a heading.
HEADING_MAX_CHARS = 80


@dataclass
class SizeStats:
    """Font statistics over a document, to tell headings from body text.

    Heading levels come from font sizes above the body size first, then from heading styles at
    the body size: a style (face and colour) other than the body's that sets only short lines,
    such as Word's and pandoc's level-3 and level-4 headings (bold or italic in the heading
    colour), bold before the others.
    """

    body: float
    heading_sizes: tuple[float, ...]  # smallest size of each heading class, largest first
    ratio: float
    tolerance: float = SIZE_TOLERANCE
    style_levels: dict[str, int] = field(default_factory=dict)  # body-size heading styles

    @staticmethod
    def of(lines: Iterable[TextLine], ratio: float, tolerance: float = SIZE_TOLERANCE) -> SizeStats:
        """Body size = the size carrying most characters; larger size classes are headings.

        `tolerance` (see `size_classes`): `SIZE_TOLERANCE` for a text layer; OCR glyph heights
        vary by a point or more within one type size.
        """
        weights: Counter[float] = Counter()
        all_lines = list(lines)
        for line in all_lines:
            weights[round(line.size * 2) / 2] += len(line.text)
        if not weights:
            return SizeStats(10.0, (), ratio, tolerance)
        body = weights.most_common(1)[0][0]
        # The small allowance keeps a size written as 11.4999 level with 11.5.
        slack = tolerance / 4
        heading = size_classes(
            (
                line.size
                for line in all_lines
                if line.size >= body * ratio - slack and not LIST_MARKER.match(line.text)
            ),
            tolerance,
        )
        sizes = tuple(low for low, _ in heading[:5])
        return SizeStats(body, sizes, ratio, tolerance, _style_levels(all_lines, body, len(sizes)))

    def heading_level(self, line: TextLine) -> int | None:
        """The heading level of a line, or None for body text."""
        text = line.text
        if len(text) > 150 or LIST_MARKER.match(text):
            return None
        slack = self.tolerance / 4
        if line.size >= self.body * self.ratio - slack and self.heading_sizes:
            for index, heading_size in enumerate(self.heading_sizes):
                if line.size >= heading_size - slack:
                    return index + 1
            return len(self.heading_sizes)
        short = len(text) <= HEADING_MAX_CHARS and not text.endswith((".", ":", ","))
        if short and line.style in self.style_levels:
            return self.style_levels[line.style]
        if line.bold and short:
            return min(len(self.heading_sizes) + 1, 6)
        return None


def _style_levels(lines: Sequence[TextLine], body: float, n_sizes: int) -> dict[str, int]:
    """Levels of the body-size styles that set only short lines (bold styles first)."""
    at_body = [line for line in lines if abs(line.size - body) <= 1.0 and line.style]
    chars: Counter[str] = Counter()
    for line in at_body:
        chars[line.style] += len(line.text)
    if not chars:
        return {}
    body_style = chars.most_common(1)[0][0]
    candidates: dict[str, bool] = {}  # style → only short lines so far
    for line in at_body:
        if line.style == body_style or LIST_MARKER.match(line.text):
            continue
        short = len(line.text) <= HEADING_MAX_CHARS and not line.text.endswith((".", ","))
        candidates[line.style] = candidates.get(line.style, True) and short
    styles = sorted(
        (style for style, only_short in candidates.items() if only_short),
        key=lambda style: ("bold" not in style.lower(), style),
    )
    return {style: min(n_sizes + 1 + rank, 6) for rank, style in enumerate(styles[:3])}


@dataclass
class _Pending:
    """A block being assembled from one or more lines."""

    kind: BlockKind
    parts: list[str]
    line: int
    level: int = 0
    first: TextLine | None = None
    last: TextLine | None = None
    n_lines: int = 1
    text_x0: float = 0.0  # where a list item's text starts (continuation lines align there)
    extra: dict[str, float] = field(default_factory=dict)


#: Words that follow a hyphen that ends a line and belongs there: "hälso- och sjukvård".
_KEEP_HYPHEN_BEFORE = frozenset({"och", "eller", "samt", "som", "till", "respektive", "resp."})
_HYPHENATED = re.compile(r"(?<=[a-zåäöéü])[-\u00ad]$")


def join_lines(parts: Sequence[str]) -> str:
    """The lines of one block (PDF text layer or OCR) as one text: a word hyphenated at a line
    end is joined again ("möj-" / "ligheter" → "möjligheter"; "VFU-" / "platser" →
    "VFU-platser"), a hyphen before "och" ("hälso-" / "och …") kept."""
    out = ""
    for part in parts:
        part = clean(part)
        if not part:
            continue
        first = part.split(" ", 1)[0]
        if (
            out
            and _HYPHENATED.search(out)
            and first[:1].islower()
            and first.lower() not in _KEEP_HYPHEN_BEFORE
        ):
            out = out[:-1] + part
        elif out.endswith("-") and out[-2:-1].isupper() and first[:1].islower():
            out += part  # a compound with an acronym keeps its hyphen: "VFU-platser"
        else:
            out = f"{out} {part}" if out else part
    return out


def _strip_marker(text: str) -> str:
    """The item's text without its marker: a bullet, an enumerator, or both ("- a. Om …",
    what a nested Word list typed or exported as text looks like)."""
    match = LIST_MARKER.match(text)
    if not match:
        return text
    rest = text[match.end() :]
    enumerator = _ENUMERATOR.match(rest)
    return clean(rest[enumerator.end() :] if enumerator else rest)


def _gap(upper: TextLine, lower: TextLine) -> float:
    return (lower.top - upper.bottom) / max(min(upper.size, lower.size), 1.0)


def _new_paragraph(prev: TextLine | None, line: TextLine) -> bool:
    """True when `line` starts a new block rather than continuing the one above."""
    if prev is None:
        return True
    if prev.paragraph is not None and line.paragraph not in (None, prev.paragraph):
        return True
    return _gap(prev, line) > PARAGRAPH_GAP or abs(prev.size - line.size) > 1.0


def page_blocks(
    elements: Sequence[Element],
    page: int,
    stats: SizeStats,
    ocr: bool,
    open_list: list[float] | None = None,
) -> list[Block]:
    """Map one page's lines and ruled tables (sorted top to bottom) to blocks.

    `open_list` holds the x-positions of the list levels open at the end of the previous page
    and is updated for the next one, so a list running across a page break keeps its nesting.
    """
    blocks: list[Block] = []
    pending: _Pending | None = None
    # The open borderless table: column x-starts and its last row's line.
    columns: list[float] = []
    table_last: TextLine | None = None
    # x-positions of list markers in the current list run
    list_levels: list[float] = list(open_list or [])

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            text = join_lines(pending.parts)
            if text:
                cells: tuple[str, ...] = (text,) if pending.kind is BlockKind.TABLE_ROW else ()
                blocks.append(
                    Block(
                        pending.kind, text, Location(pending.line, page), pending.level, cells, ocr
                    )
                )
        pending = None

    def add_row(cells: Sequence[str], line_no: int) -> None:
        cells = tuple(clean(cell) for cell in cells)
        if any(cells):
            text = " | ".join(cell for cell in cells if cell)
            blocks.append(
                Block(BlockKind.TABLE_ROW, text, Location(line_no, page), 0, tuple(cells), ocr)
            )

    def column_of(x0: float) -> int | None:
        for index in range(len(columns) - 1, -1, -1):
            if x0 >= columns[index] - COLUMN_TOLERANCE:
                return index if abs(x0 - columns[index]) <= COLUMN_TOLERANCE * 3 else None
        return None

    prev: TextLine | None = None
    line_no = 0  # ordinal of the line (or table row) on the page
    for element in elements:
        line_no += 1
        if isinstance(element, TableRows):
            flush()
            columns, table_last, list_levels, prev = [], None, [], None
            for offset, row in enumerate(element.rows):
                add_row(row, line_no + offset)
            line_no += len(element.rows)  # and one more: adjacent tables stay apart
            continue
        line = element
        text = line.text
        if not text:
            continue
        segments = line.segments()
        # A row of the open borderless table?
        # A heading (by its size or style) ends the table: the headings between two tables are
        # not cells of the first.
        if (
            table_last is not None
            and _gap(table_last, line) <= 1.2
            and stats.heading_level(line) is None
        ):
            spans = line.spans()
            placed = [(column_of(x0), cell) for x0, _, cell in spans]
            # Text running into the next column's space is prose under the table, not a cell.
            fits = all(
                index is None
                or index + 1 >= len(columns)
                or x1 <= columns[index + 1] - COLUMN_TOLERANCE
                for (index, _), (_, x1, _) in zip(placed, spans, strict=True)
            )
            if (
                fits
                and all(index is not None for index, _ in placed)
                and not LIST_MARKER.match(text)
            ):
                cells = [""] * len(columns)
                for index, cell in placed:
                    assert index is not None
                    cells[index] = clean(f"{cells[index]} {cell}")
                last = blocks[-1] if blocks else None
                if (
                    _gap(table_last, line) <= CELL_WRAP_GAP
                    and last is not None
                    and last.kind is BlockKind.TABLE_ROW
                    and len(last.cells) == len(cells)
                ):
                    # Closer than rows are: the cells' text wrapped onto another line.
                    joined = tuple(
                        clean(f"{old} {new}") for old, new in zip(last.cells, cells, strict=True)
                    )
                    text = " | ".join(cell for cell in joined if cell)
                    blocks[-1] = replace(last, text=text, cells=joined)
                    line_no -= 1  # the row's lines keep one number: its table stays contiguous
                else:
                    add_row(cells, line_no)
                table_last = prev = line
                continue
        near_table = table_last is not None and _gap(table_last, line) <= 1.2
        if table_last is not None and not (near_table and len(segments) >= 2):
            line_no += 1  # a gap in the numbering: the next table is not this one's rest
        table_last = None
        if len(segments) >= 2 and not LIST_MARKER.match(text):
            # A new borderless table; a single short line right above it is its title row.
            if (
                pending is not None
                and pending.kind is BlockKind.PARAGRAPH
                and pending.n_lines == 1
                and pending.last is not None
                and _gap(pending.last, line) <= 1.2
                and len(pending.parts[0]) <= 80
            ):
                pending.kind = BlockKind.TABLE_ROW
            flush()
            columns = [x0 for x0, _ in segments]
            add_row([cell for _, cell in segments], line_no)
            table_last = prev = line
            list_levels = []
            continue
        level = stats.heading_level(line)
        marker = LIST_MARKER.match(text)
        if level is not None:
            if (
                pending is not None
                and pending.kind is BlockKind.HEADING
                and pending.level == level
                and pending.last is not None
                and _gap(pending.last, line) <= HEADING_WRAP_GAP
            ):
                pending.parts.append(text)
                pending.last = line
            else:
                flush()
                pending = _Pending(BlockKind.HEADING, [text], line_no, level, line, line)
            list_levels = []
        elif marker:
            flush()
            x0 = line.x0
            if not list_levels or (
                prev is not None and _new_paragraph(prev, line) and _gap(prev, line) > 2.5
            ):
                list_levels = [x0]
            depth = next((i for i, lx in enumerate(list_levels) if abs(lx - x0) <= 4.0), None)
            if depth is None:
                depth = sum(1 for lx in list_levels if lx < x0)
                list_levels = [lx for lx in list_levels if lx < x0] + [x0]
            marker_end = len(marker.group(0))
            text_x0 = line.words[min(1, len(line.words) - 1)].x0 if marker_end else x0
            pending = _Pending(
                BlockKind.LIST_ITEM,
                [_strip_marker(text)],
                line_no,
                depth,
                line,
                line,
                text_x0=text_x0,
            )
        elif (
            (
                pending is not None
                and pending.kind is BlockKind.LIST_ITEM
                and pending.last is not None
                and _gap(pending.last, line) <= PARAGRAPH_GAP
                and (
                    line.x0 >= pending.text_x0 - 3.0
                    # A typed "- " item wraps to the paragraph's edge, not under its text: a
                    # line set as close as wrapped lines are that goes on in lower case is
                    # its rest.
                    or (_gap(pending.last, line) <= HEADING_WRAP_GAP and text[:1].islower())
                )
            )
            or (
                pending is not None
                and pending.kind is BlockKind.PARAGRAPH
                and not _new_paragraph(pending.last, line)
            )
        ):
            pending.parts.append(text)
            pending.last = line
            pending.n_lines += 1
        else:
            flush()
            list_levels = []
            pending = _Pending(BlockKind.PARAGRAPH, [text], line_no, 0, line, line)
        prev = line
    flush()
    if open_list is not None:
        open_list[:] = list_levels
    return blocks
