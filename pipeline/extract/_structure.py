"""Structure recovery for text that carries no markup: one line grammar for every reader.

A plain-text file, a Word paragraph without a style, an HTML `<p>`, a spreadsheet row with one
cell and a PDF paragraph are all read with the same rules: `#` headings, bold title lines, list
items (`-`, `*`, `•`, `–`, `1.`, `a.`, `a)`), tab- or pipe-separated table rows, and prose.
Documents exported from slide decks mark slide breaks with runs of blank lines, which become
BREAK blocks.

A list item's depth comes from its indentation relative to the items above it: any deeper indent
is one level deeper (" - a." under "1." is level 1 whatever the number of spaces). A line wrapped
onto the next one is joined back into its item or paragraph (see `_continues`).

When a document has no section headings of its own (markdown `##`, Word heading styles), its
headings are recovered from layout: the title lines at the top, the first line of each slide,
workshop patterns ("Segment 2 – …", "Grupp 3", from `pipeline.vocabulary`) and short title-like
lines that introduce a list, a table or a section.

Public entry point: `recover_structure(items, join_wraps=..., breaks_from_gaps=...)`. A reader
passes its blocks in reading order: a PARAGRAPH block is an unstyled line whose text is the line
as typed (tabs and leading white space kept); every other block is structure the format stated
(a heading style, a list style, a table, a slide break) and is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from pipeline.records import Block, BlockKind, Location
from pipeline.vocabulary import Vocabulary, vocabulary

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*$")
_ITALIC_LINE = re.compile(r"^\s*[*_](?![*_\s])(.+?)(?<![*_\s])[*_]\s*$")
_ENUM = r"(?:\d{1,3}|[a-zA-Z]|[ivx]{1,4})[.)]"
_HTML_TAG = re.compile(r"<[^>]{1,400}>")

# A line ending in one of these is complete: what follows it on the next line is not its rest.
_TERMINAL = ".!?:;"

# Slide-deck exports separate slides by two or more blank lines.
_BREAK_BLANKS = 2
_MAX_TITLE_LINES = 4


@lru_cache(maxsize=1)
def _patterns() -> tuple[Vocabulary, re.Pattern[str], re.Pattern[str]]:
    """The vocabulary, its list-item pattern and the place-and-date title pattern."""
    vocab = vocabulary()
    # A list marker: bullet glyphs, or an enumerator like "1." "a." "a)" "iv." — possibly after
    # a bullet ("- a. text" in exports of nested Word lists).
    list_item = re.compile(
        rf"^(?P<indent>\s*)(?P<marker>(?:{vocab.bullet}|{_ENUM})(?:\s+{_ENUM})?)(?:\s+|$)"
        r"(?P<text>.*)$"
    )
    months = "|".join(vocab.months)
    place_date = re.compile(
        rf"^[A-ZÅÄÖ][\wåäöÅÄÖ\- ]{{1,40}},\s*\d{{1,2}}\s+(?:{months})\s+\d{{4}}$"  # "Malmö, 13 …"
        rf"|^\d{{1,2}}\s+\w+\s+\d{{4}}$"  # "21 december 2017"
        r"|^\d{4}-\d{2}-\d{2}$",  # "2020-12-16"
        re.IGNORECASE,
    )
    return vocab, list_item, place_date


@dataclass(frozen=True)
class _Line:
    """One item in reading order: an unstyled line (`fixed` None) or a block kept as it is.

    `number` orders lines and shows blank lines (a gap in the numbers); `page` is the slide."""

    number: int
    raw: str
    page: int
    location: Location
    fixed: Block | None = None
    ocr: bool = False


def recover_structure(
    items: Sequence[Block], *, join_wraps: bool = True, breaks_from_gaps: bool = True
) -> tuple[Block, ...]:
    """Blocks with the structure of their unstyled lines recovered (see the module docstring).

    `join_wraps`: join a line wrapped onto the next one back into its item or paragraph (typed
    text and exports wrap; a PDF's layout has joined its lines already). `breaks_from_gaps`: two
    or more blank lines (gaps in the line numbers) are a slide break. BREAK blocks in `items`
    are slide breaks too. Line numbers must rise through the items, restarting on a new page.
    """
    lines, leading = _lines(items, breaks_from_gaps)
    markdown_mode = any(
        (line.fixed is None and _MD_HEADING.match(line.raw))
        or (line.fixed is not None and _section_heading(line.fixed))
        for line in lines
    )
    if join_wraps:
        lines = _join_continuations(lines)
    breaks = {
        line.page: line.fixed
        for line in lines
        if line.fixed is not None and line.fixed.kind is BlockKind.BREAK
    }
    lines = [line for line in lines if line.fixed is None or line.fixed.kind is not BlockKind.BREAK]
    raw_blocks = _nest_lists(_lone_tab_rows([_classify(line) for line in lines], lines), lines)
    return (*leading, *_resolve_headings(raw_blocks, lines, markdown_mode, breaks))


def _section_heading(block: Block) -> bool:
    """A heading the format stated below the title level (a Word "Heading 2", a slide title)."""
    return block.kind is BlockKind.HEADING and block.level > 1


def _lines(items: Sequence[Block], breaks_from_gaps: bool) -> tuple[list[_Line], list[Block]]:
    """Items as numbered lines on pages; BREAK blocks before any text are returned apart."""
    lines: list[_Line] = []
    leading: list[Block] = []
    page, last, seen_text = 1, None, False
    for block in items:
        location = block.location
        if block.kind is BlockKind.BREAK:
            if not seen_text:
                leading.append(block)
                continue
            page += 1
            lines.append(_Line(location.line, "", page, location, block))
            last = None
            continue
        if block.kind is BlockKind.PARAGRAPH and not block.text.strip():
            continue
        number = location.line
        if (
            breaks_from_gaps
            and seen_text
            and last is not None
            and number - last > _BREAK_BLANKS
            and (lines[-1].fixed is None or lines[-1].fixed.kind is not BlockKind.BREAK)
        ):
            page += 1
        seen_text, last = True, number
        fixed = None if block.kind is BlockKind.PARAGRAPH else block
        lines.append(_Line(number, block.text, page, location, fixed, block.ocr))
    return lines, leading


def _clean(text: str) -> str:
    """Strip HTML tags and markdown emphasis; fold runs of white space."""
    text = _HTML_TAG.sub(" ", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    # Emphasis never spans another "*": scanning only to the next one keeps a long line of stray
    # asterisks linear instead of quadratic.
    text = re.sub(r"(?<![\w*])\*(?![\s*])([^*]+?)(?<![\s*])\*(?![\w*])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _table_cells(raw: str) -> tuple[str, ...] | None:
    """Cells of a tab- or pipe-separated row, or None when the line is no table row."""
    stripped = raw.strip()
    if "\t" in raw:
        cells = raw.rstrip("\n").split("\t")
    elif stripped.startswith("|") and stripped.count("|") >= 2:
        cells = stripped.strip("|").split("|")
    else:
        return None
    return tuple(_clean(c) for c in cells)


def title_like(text: str, max_chars: int = 80, max_words: int = 11) -> bool:
    """Short, capitalised, unpunctuated: could be a heading."""
    if not text:
        return False
    if _patterns()[2].match(text):
        return True
    if len(text) > max_chars:
        return False
    words = text.split()
    if len(words) > max_words or text[-1] in ".,;:!" or ", " in text:
        return False
    if text.endswith("?") and len(words) > 7:
        return False
    first = text.lstrip("\"'”“(")[:1]
    return first.isupper() or first.isdigit()


def _join_continuations(lines: list[_Line]) -> list[_Line]:
    """Join each wrapped line onto the item or paragraph it continues (`_continues`)."""
    out: list[_Line] = []
    last_number: int | None = None
    for line in lines:
        if (
            out
            and last_number is not None
            and line.number == last_number + 1
            and line.page == out[-1].page
            and out[-1].fixed is None
            and line.fixed is None
            and _continues(out[-1], line)
        ):
            head = out[-1]
            out[-1] = replace(head, raw=f"{head.raw.rstrip()} {line.raw.strip()}")
        else:
            out.append(line)
        last_number = line.number
    return out


def _continues(prev: _Line, line: _Line) -> bool:
    """Whether `line`, directly under `prev` (no blank line between), is the rest of `prev`.

    Exports wrap long bullets and sentences onto the next line, and slide exports put an item's
    second paragraph ("Exempel: RCC, CSD, RCSO") on an unmarked line under it. Such a line is:
    - unmarked and starting with a lower-case letter ("nationellt/regionalt"), unless the two
      lines together are still a title: a logo set on two lines ("Nationella" /
      "vårdkompetensrådet") is left to heading recovery, which reads it line by line;
    - unmarked, under an item or line that ends without terminal punctuation, and indented or,
      under an item, no title-like line of its own (a heading typed straight under a list);
    - a dash sub-item starting with a lower-case letter under an unfinished item: a dash inside
      the sentence that the export turned into a bullet ("… ser ut" / " - vilka frågor …").
    Capitalised sub-items and enumerated items ("a.", "b)") are always items of their own.
    """
    before, after = _classify(prev), _classify(line)
    if before.kind not in (BlockKind.LIST_ITEM, BlockKind.PARAGRAPH):
        return False
    unfinished = _clean(prev.raw)[-1:] not in _TERMINAL
    if after.kind is BlockKind.PARAGRAPH:
        if after.text[:1].islower():
            joined = _clean(f"{prev.raw} {line.raw}")
            return before.kind is BlockKind.LIST_ITEM or not title_like(joined)
        indented = line.raw[:1].isspace()
        under_item = before.kind is BlockKind.LIST_ITEM and not title_like(after.text)
        return unfinished and (indented or under_item)
    if after.kind is BlockKind.LIST_ITEM and before.kind is BlockKind.LIST_ITEM:
        item = _patterns()[1].match(line.raw)
        dash = item is not None and item.group("marker") in ("-", "–")
        deeper = _indent(line.raw) > _indent(prev.raw)
        return dash and deeper and unfinished and after.text[:1].islower()
    return False


def _lone_tab_rows(blocks: list[Block], lines: list[_Line]) -> list[Block]:
    """Typed tables are runs of tab-separated lines.

    A tab-separated line with no such line right above or below it is prose: Word users tab
    to align a word in a sentence, and a table has a header and a row at least. A line that
    starts with a tab between rows of a typed table is a row whose first column is empty
    ("\t– Förslag …"), not an indented item, as the same line with pipes would be.
    """

    def tab_row(index: int) -> bool:
        line = lines[index]
        return (
            line.fixed is None
            and blocks[index].kind is BlockKind.TABLE_ROW
            and not line.raw.strip().startswith("|")
        )

    def beside_row(index: int) -> bool:
        return any(
            0 <= other < len(lines)
            and abs(lines[other].number - lines[index].number) == 1
            and tab_row(other)
            for other in (index - 1, index + 1)
        )

    out = list(blocks)
    for index, line in enumerate(lines):
        if line.fixed is not None:
            continue
        if tab_row(index) and not beside_row(index):
            body = line.raw.lstrip()
            indent = line.raw[: len(line.raw) - len(body)]
            out[index] = _classify(replace(line, raw=indent + body.replace("\t", " ")))
        elif line.raw.startswith("\t") and not tab_row(index) and beside_row(index):
            cells = tuple(_clean(c) for c in line.raw.split("\t"))
            out[index] = replace(
                blocks[index], kind=BlockKind.TABLE_ROW, text="\t".join(cells), cells=cells
            )
    return out


def _indent(raw: str) -> int:
    """Width of a line's leading white space (tabs count 4)."""
    return len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())


def _nest_lists(blocks: list[Block], lines: list[_Line]) -> list[Block]:
    """Set each typed list item's depth from its indent relative to the open items above it.

    A stack holds the indents of the enclosing items: an item pops those indented as far as it
    or further, and its depth is what remains. Anything but a typed list item, or a new page,
    closes the list. Items the format marked as such keep their own level.
    """
    out: list[Block] = []
    open_indents: list[int] = []
    page: int | None = None
    for block, line in zip(blocks, lines, strict=True):
        typed_item = block.kind is BlockKind.LIST_ITEM and line.fixed is None
        if not typed_item or line.page != page:
            open_indents = []
        page = line.page
        if typed_item:
            indent = _indent(line.raw)
            while open_indents and open_indents[-1] >= indent:
                open_indents.pop()
            block = replace(block, level=len(open_indents))
            open_indents.append(indent)
        out.append(block)
    return out


def _classify(line: _Line) -> Block:
    """Kind of one line, before headings are resolved (headings: level from `#`)."""
    if line.fixed is not None:
        return line.fixed
    block = _classify_typed(line)
    return replace(block, ocr=True) if line.ocr else block


def _classify_typed(line: _Line) -> Block:
    loc = line.location
    raw = line.raw
    md = _MD_HEADING.match(raw)
    if md:
        return Block(BlockKind.HEADING, _clean(md.group(2)), loc, level=len(md.group(1)))
    item = _patterns()[1].match(raw)
    if item and not _ITALIC_LINE.match(raw) and not _BOLD_LINE.match(raw):
        rest = item.group("text")
        cells = _table_cells(rest)
        if cells is not None:
            return Block(BlockKind.TABLE_ROW, "\t".join(cells), loc, cells=cells)
        # Depth is set by `_nest_lists`, which sees the items above this one.
        return Block(BlockKind.LIST_ITEM, _clean(rest), loc)
    cells = _table_cells(raw)
    if cells is not None:
        return Block(BlockKind.TABLE_ROW, "\t".join(cells), loc, cells=cells)
    bold = _BOLD_LINE.match(raw)
    if bold:
        # Level 0 marks "bold title line": resolved against the enclosing heading below.
        return Block(BlockKind.HEADING, _clean(bold.group(1)), loc, level=0)
    italic = _ITALIC_LINE.match(raw)
    return Block(BlockKind.PARAGRAPH, _clean(italic.group(1) if italic else raw), loc)


def pattern_level(text: str, in_group: bool) -> int | None:
    """Fixed levels for the workshop vocabulary of headings."""
    vocab = _patterns()[0]
    if vocab.segment_heading.match(text):
        return 2
    if vocab.group_heading.match(text):
        return 3
    if vocab.discussion_heading.match(text):
        return 4 if in_group else 3
    return None


def _resolve_headings(
    raw: list[Block],
    lines: list[_Line],
    markdown_mode: bool,
    breaks: dict[int, Block],
) -> list[Block]:
    """Give every heading a level, turn plain title-like lines into headings, insert BREAKs."""
    vocab = _patterns()[0]
    out: list[Block] = []
    last_md_level = 1
    in_title = True  # still among the document's title lines
    title_lines = 0
    in_group = False
    in_polarity = False
    last_heading_level: int | None = None
    sibling_level: int | None = None  # level of the last plain heading that had content
    polarity_level: int | None = None  # level shared by the polarity headings of one section
    prev_page = 1
    for index, (block, line) in enumerate(zip(raw, lines, strict=True)):
        if line.page != prev_page:
            stated = breaks.get(line.page)
            out.append(
                stated
                if stated is not None
                else Block(BlockKind.BREAK, "", Location(line.location.line, line.location.page))
            )
            prev_page = line.page
            in_polarity = False
            sibling_level = None
            last_heading_level = None
            in_title = False
            first_on_page = True
        else:
            first_on_page = False
        nxt = raw[index + 1] if index + 1 < len(raw) else None
        same_page_next = nxt if nxt is not None and lines[index + 1].page == line.page else None

        if block.kind is BlockKind.HEADING:
            level = block.level or last_md_level + 1
            if block.level:
                last_md_level = block.level
            in_group = bool(vocab.group_heading.match(block.text)) or (in_group and level > 3)
            in_title = in_title and level <= 1
            out.append(replace(block, level=level) if block.level != level else block)
            last_heading_level = level
            continue
        # With headings of its own, a document's plain lines are headings only when they are
        # workshop or polarity headings ("Grupp 3", "Hinder") typed without a style.
        vocabulary_heading = block.kind is BlockKind.PARAGRAPH and (
            title_like(block.text)
            and (
                pattern_level(block.text, in_group) is not None
                or bool(vocab.polarity_heading.match(block.text))
            )
        )
        if (
            block.kind is not BlockKind.PARAGRAPH
            or (markdown_mode and not vocabulary_heading)
            or line.fixed is not None
        ):
            in_title = False
            if last_heading_level is not None:
                sibling_level = last_heading_level
                last_heading_level = None
            out.append(block)
            continue

        text = block.text
        pattern = pattern_level(text, in_group)
        polarity = bool(vocab.polarity_heading.match(text))
        if in_title and pattern is None and title_lines < _MAX_TITLE_LINES and title_like(text):
            title_lines += 1
            out.append(Block(BlockKind.HEADING, text, block.location, level=1))
            continue
        in_title = False
        plain_level: int | None = None
        if pattern is not None:
            plain_level = pattern
            in_group = bool(vocab.group_heading.match(text)) or (in_group and plain_level > 3)
        elif polarity:
            if not in_polarity or polarity_level is None:
                polarity_level = (last_heading_level or sibling_level or 3) + 1
            plain_level = polarity_level
        elif first_on_page and title_like(text):
            plain_level = 2
        elif not in_polarity and _introduces_content(
            text, same_page_next, after_heading=last_heading_level is not None
        ):
            plain_level = (
                last_heading_level + 1 if last_heading_level is not None else (sibling_level or 3)
            )
        if plain_level is None:
            if last_heading_level is not None:
                sibling_level = last_heading_level
                last_heading_level = None
            out.append(block)
            continue
        in_polarity = polarity or (in_polarity and pattern is None and not first_on_page)
        out.append(Block(BlockKind.HEADING, text, block.location, level=plain_level, ocr=block.ocr))
        last_heading_level = plain_level
    return out


def _introduces_content(text: str, nxt: Block | None, after_heading: bool) -> bool:
    """A plain title-like line is a heading when what follows is subordinate to it."""
    if not title_like(text, max_words=8):
        return False
    if nxt is None:
        # Last line of a slide right under its title: a subtitle ("Sjukvårdsregion Mellansverige").
        return after_heading
    if nxt.kind in (BlockKind.LIST_ITEM, BlockKind.TABLE_ROW, BlockKind.HEADING):
        return True
    # Before prose or another short line only very short noun phrases are headings; a longer
    # unpunctuated line ("Viktigt att ha en gemensam målbild") is itself a statement.
    return len(text.split()) <= 4 and " att " not in f" {text.lower()} "
