"""Plain text and Markdown → blocks.

Both are read with one line grammar: `#` headings, bold title lines, list items (`-`, `*`, `•`,
`–`, `1.`, `a.`, `a)`), tab- or pipe-separated table rows, and prose. Documents exported from slide
decks mark slide breaks with runs of blank lines, which become BREAK blocks.

A list item's depth comes from its indentation relative to the items above it: any deeper indent
is one level deeper (" - a." under "1." is level 1 whatever the number of spaces). A line wrapped
onto the next one is joined back into its item or paragraph (see `_continues`).

When a document has no markdown headings, its headings are recovered from layout: the title lines
at the top, the first line of each slide, workshop patterns ("Segment 2 – …", "Grupp 3") and short
title-like lines that introduce a list, a table or a section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pipeline.config import LimitsConfig
from pipeline.extract._common import decode_text
from pipeline.extract._errors import ExtractError
from pipeline.records import Block, BlockKind, Location

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*$")
_ITALIC_LINE = re.compile(r"^\s*[*_](?![*_\s])(.+?)(?<![*_\s])[*_]\s*$")
# A list marker: bullet glyphs, or an enumerator like "1." "a." "a)" "iv." — possibly after a
# bullet ("- a. text" in exports of nested Word lists).
_BULLET = r"[-*•–·▪◦]"
_ENUM = r"(?:\d{1,3}|[a-zA-Z]|[ivx]{1,4})[.)]"
_LIST_ITEM = re.compile(
    rf"^(?P<indent>\s*)(?P<marker>(?:{_BULLET}|{_ENUM})(?:\s+{_ENUM})?)(?:\s+|$)(?P<text>.*)$"
)
_HTML_TAG = re.compile(r"<[^>]{1,400}>")
_PLACE_DATE = re.compile(
    r"^[A-ZÅÄÖ][\wåäöÅÄÖ\- ]{1,40},\s*\d{1,2}\s+\w+\s+\d{4}$"  # "Malmö, 13 december 2017"
    r"|^\d{1,2}\s+\w+\s+\d{4}$"  # "21 december 2017"
    r"|^\d{4}-\d{2}-\d{2}$"  # "2020-12-16"
)
_SEGMENT = re.compile(r"^segment\s+\d+\b", re.IGNORECASE)
_GROUP = re.compile(r"^grupp\s+\d+\b", re.IGNORECASE)
_DISCUSSION = re.compile(r"^(gemensam\s+)?diskussion\b", re.IGNORECASE)
_POLARITY_HEADING = re.compile(r"^(möjligheter|hinder|styrkor|svagheter|hot)\s*:?$", re.IGNORECASE)

# A line ending in one of these is complete: what follows it on the next line is not its rest.
_TERMINAL = ".!?:;"

# Slide-deck exports separate slides by two or more blank lines.
_BREAK_BLANKS = 2
_MAX_TITLE_LINES = 4


def extract_text(
    name: str, data: bytes, limits: LimitsConfig
) -> tuple[str, str, tuple[Block, ...]]:
    """Plain text: (format "txt", detected encoding, blocks)."""
    text, encoding = decode_text(name, data)
    return "txt", encoding, _parse(text, limits.max_pages, name)


def extract_markdown(
    name: str, data: bytes, limits: LimitsConfig
) -> tuple[str, str, tuple[Block, ...]]:
    """Markdown: (format "md", detected encoding, blocks)."""
    text, encoding = decode_text(name, data)
    return "md", encoding, _parse(text, limits.max_pages, name)


@dataclass(frozen=True)
class _Line:
    number: int
    raw: str
    page: int


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
    if "\t" in raw:
        cells = raw.rstrip("\n").split("\t")
    elif raw.strip().startswith("|") and raw.strip().count("|") >= 2:
        cells = raw.strip().strip("|").split("|")
    else:
        return None
    return tuple(_clean(c) for c in cells)


def _title_like(text: str, max_chars: int = 80, max_words: int = 11) -> bool:
    """Short, capitalised, unpunctuated: could be a heading."""
    if not text:
        return False
    if _PLACE_DATE.match(text):
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


def _split_pages(text: str) -> list[_Line]:
    """Number lines (1-based) and pages (slides), a page ending at 2+ blank lines."""
    lines: list[_Line] = []
    page, blanks, seen_text = 1, 0, False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            blanks += 1
            continue
        if blanks >= _BREAK_BLANKS and seen_text:
            page += 1
        blanks = 0
        seen_text = True
        lines.append(_Line(number, raw, page))
    return lines


def _parse(text: str, max_pages: int, name: str) -> tuple[Block, ...]:
    lines = _split_pages(text)
    if lines and lines[-1].page > max_pages:
        raise ExtractError(
            f"{name}: file",
            f"{lines[-1].page} slides/pages, over the limit of {max_pages}",
            "split the document",
            "limits.max_pages",
        )
    markdown_mode = any(_MD_HEADING.match(line.raw) for line in lines)
    lines = _join_continuations(lines)
    raw_blocks = _nest_lists([_classify(line) for line in lines], lines)
    blocks = _resolve_headings(raw_blocks, lines, markdown_mode)
    return tuple(blocks)


def _join_continuations(lines: list[_Line]) -> list[_Line]:
    """Join each wrapped line onto the item or paragraph it continues (`_continues`)."""
    out: list[_Line] = []
    last_number = 0
    for line in lines:
        if out and line.number == last_number + 1 and _continues(out[-1], line):
            head = out[-1]
            out[-1] = _Line(head.number, f"{head.raw.rstrip()} {line.raw.strip()}", head.page)
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
            return before.kind is BlockKind.LIST_ITEM or not _title_like(joined)
        indented = line.raw[:1].isspace()
        under_item = before.kind is BlockKind.LIST_ITEM and not _title_like(after.text)
        return unfinished and (indented or under_item)
    if after.kind is BlockKind.LIST_ITEM and before.kind is BlockKind.LIST_ITEM:
        item = _LIST_ITEM.match(line.raw)
        dash = item is not None and item.group("marker") in ("-", "–")
        deeper = _indent(line.raw) > _indent(prev.raw)
        return dash and deeper and unfinished and after.text[:1].islower()
    return False


def _indent(raw: str) -> int:
    """Width of a line's leading white space (tabs count 4)."""
    return len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())


def _nest_lists(blocks: list[Block], lines: list[_Line]) -> list[Block]:
    """Set each list item's depth from its indent relative to the open items above it.

    A stack holds the indents of the enclosing items: an item pops those indented as far as it
    or further, and its depth is what remains. Anything but a list item, or a new page, closes
    the list.
    """
    out: list[Block] = []
    open_indents: list[int] = []
    page: int | None = None
    for block, line in zip(blocks, lines, strict=True):
        if block.kind is not BlockKind.LIST_ITEM or line.page != page:
            open_indents = []
        page = line.page
        if block.kind is BlockKind.LIST_ITEM:
            indent = _indent(line.raw)
            while open_indents and open_indents[-1] >= indent:
                open_indents.pop()
            block = replace(block, level=len(open_indents))
            open_indents.append(indent)
        out.append(block)
    return out


def _classify(line: _Line) -> Block:
    """Kind of one non-blank line, before headings are resolved (headings: level from `#`)."""
    loc = Location(line=line.number, page=None)
    raw = line.raw
    md = _MD_HEADING.match(raw)
    if md:
        return Block(BlockKind.HEADING, _clean(md.group(2)), loc, level=len(md.group(1)))
    item = _LIST_ITEM.match(raw)
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


def _pattern_level(text: str, in_group: bool) -> int | None:
    """Fixed levels for the workshop vocabulary of headings."""
    if _SEGMENT.match(text):
        return 2
    if _GROUP.match(text):
        return 3
    if _DISCUSSION.match(text):
        return 4 if in_group else 3
    return None


def _resolve_headings(raw: list[Block], lines: list[_Line], markdown_mode: bool) -> list[Block]:
    """Give every heading a level, turn plain title-like lines into headings, insert BREAKs."""
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
            out.append(Block(BlockKind.BREAK, "", Location(line=line.number, page=None)))
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
            in_group = bool(_GROUP.match(block.text)) or (in_group and level > 3)
            in_title = in_title and level <= 1
            out.append(Block(BlockKind.HEADING, block.text, block.location, level=level))
            last_heading_level = level
            continue
        if block.kind is not BlockKind.PARAGRAPH or markdown_mode:
            in_title = False
            if last_heading_level is not None:
                sibling_level = last_heading_level
                last_heading_level = None
            out.append(block)
            continue

        text = block.text
        pattern = _pattern_level(text, in_group)
        polarity = bool(_POLARITY_HEADING.match(text))
        if in_title and pattern is None and title_lines < _MAX_TITLE_LINES and _title_like(text):
            title_lines += 1
            out.append(Block(BlockKind.HEADING, text, block.location, level=1))
            continue
        in_title = False
        plain_level: int | None = None
        if pattern is not None:
            plain_level = pattern
            in_group = bool(_GROUP.match(text)) or (in_group and plain_level > 3)
        elif polarity:
            if not in_polarity or polarity_level is None:
                polarity_level = (last_heading_level or sibling_level or 3) + 1
            plain_level = polarity_level
        elif first_on_page and _title_like(text):
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
        out.append(Block(BlockKind.HEADING, text, block.location, level=plain_level))
        last_heading_level = plain_level
    return out


def _introduces_content(text: str, nxt: Block | None, after_heading: bool) -> bool:
    """A plain title-like line is a heading when what follows is subordinate to it."""
    if not _title_like(text, max_words=8):
        return False
    if nxt is None:
        # Last line of a slide right under its title: a subtitle ("Sjukvårdsregion Mellansverige").
        return after_heading
    if nxt.kind in (BlockKind.LIST_ITEM, BlockKind.TABLE_ROW, BlockKind.HEADING):
        return True
    # Before prose or another short line only very short noun phrases are headings; a longer
    # unpunctuated line ("Viktigt att ha en gemensam målbild") is itself a statement.
    return len(text.split()) <= 4 and " att " not in f" {text.lower()} "
