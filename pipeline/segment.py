"""Segment: `Document` → statements (one bullet, one table cell, or one sentence of prose).

Public entry point: `segment_document(document, config, abbreviations)`.

Each statement keeps its document, line, heading path, workshop group and polarity. Polarity
comes from the table column it sits in ("Möjligheter" | "Hinder", "Styrkor" | "Svagheter") or
from the nearest enclosing polarity heading. What is not a statement is dropped: headings alone,
agenda tables, rules, page numbers, times, dates, and text repeated on many slides (footers,
logos). Text without letters is kept when it is a formula or arrow ("1+1-->3").

A statement's text is its source text verbatim, white space folded: a sentence is the original
span of its paragraph, never pieces re-joined.

Within one document, a statement equal to an earlier one in heading path, table column, polarity
and text is dropped: a slide shown twice in a deck counts once. The same words under another
heading (two workshop groups) or in the other column (Möjlighet and Hinder) are kept.
Regions are attributed afterwards by `pipeline.regions`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.symbols import ORTH

from pipeline.config import SegmentConfig
from pipeline.records import Block, BlockKind, Document, Location, Polarity, Statement
from pipeline.vocabulary import vocabulary

_TIME = re.compile(r"^\d{1,2}[.:]\d{2}(\s*[-–]\s*\d{1,2}[.:]\d{2})?$")
_HAS_LETTER = re.compile(r"[A-Za-zÅÄÖåäöÉéÜü]")
# A digit and an operator or arrow: a formula such as "1+1-->3" or "> 50 %". Page numbers,
# times, dates and dash rules use only digits, "." ":" "/" and dashes, so none of them matches.
_FORMULA = re.compile(r"\d.*[+=<>→←⇒⇔]|[+=<>→←⇒⇔].*\d")


def segment_document(
    document: Document, config: SegmentConfig, abbreviations: frozenset[str]
) -> tuple[Statement, ...]:
    """All statements of `document` in reading order (region left for `pipeline.regions`)."""
    boilerplate = _boilerplate(document.blocks, config.boilerplate_min_pages)
    nlp = _sentencizer(tuple(sorted(abbreviations)))
    drafts: list[_Draft] = []
    stack: list[tuple[int, str]] = []
    blocks = document.blocks
    index = 0
    while index < len(blocks):
        block = blocks[index]
        if block.kind is BlockKind.HEADING:
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            if _group_level(block.text):
                # Workshop groups are siblings whatever their markup level ("### Grupp 3" then
                # "#### Grupp 4"): a new group or the joint discussion closes the previous group.
                stack = _close_group(stack)
            stack.append((block.level, block.text))
        elif block.kind is BlockKind.BREAK:
            stack = [entry for entry in stack if entry[0] <= 1]
        elif block.kind is BlockKind.TABLE_ROW:
            end = _table_end(blocks, index)
            drafts.extend(_table_statements(blocks[index:end], stack))
            index = end
            continue
        elif block.kind is BlockKind.LIST_ITEM:
            drafts.append(_Draft(block, block.text, _snapshot(stack)))
        else:  # PARAGRAPH, NOTE
            for sentence in _sentences(nlp, block.text, abbreviations):
                drafts.append(_Draft(block, sentence, _snapshot(stack)))
        index += 1
    return _finish(document.name, drafts, boilerplate, config)


@dataclass(frozen=True)
class _Draft:
    block: Block
    text: str
    headings: tuple[tuple[int, str], ...]
    table_column: str = ""
    column_polarity: Polarity = Polarity.NONE


def _snapshot(stack: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """An immutable copy of the heading stack."""
    return tuple(stack)


def _finish(
    name: str, drafts: Sequence[_Draft], boilerplate: frozenset[str], config: SegmentConfig
) -> tuple[Statement, ...]:
    statements: list[Statement] = []
    per_line: Counter[tuple[int | None, int]] = Counter()
    seen: set[tuple[tuple[str, ...], str, Polarity, str]] = set()
    for draft in drafts:
        text = _tidy(draft.text)
        if not _is_statement(text, config) or _norm(text) in boilerplate:
            continue
        path = tuple(heading for level, heading in draft.headings if level > 1)
        polarity = draft.column_polarity or _heading_polarity(draft.headings)
        # A repeated slide says nothing new; the first showing keeps the statement and its id.
        repeat = (path, draft.table_column, polarity, text)
        if repeat in seen:
            continue
        seen.add(repeat)
        loc = draft.block.location
        key = (loc.page, loc.line)
        per_line[key] += 1
        statements.append(
            Statement(
                id=f"{name}:{_loc_id(loc)}:{per_line[key]}",
                document=name,
                location=loc,
                text=text,
                heading_path=path,
                group=_group(draft.headings),
                polarity=polarity,
                table_column=draft.table_column,
                ocr=draft.block.ocr,
            )
        )
    return tuple(statements)


def _loc_id(loc: Location) -> str:
    return str(loc.line) if loc.page is None else f"p{loc.page}.{loc.line}"


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    # Leftover list/quote punctuation around a cell or bullet carries no meaning.
    return text.strip(" \t-–•*")


def _is_statement(text: str, config: SegmentConfig) -> bool:
    if len(text) < config.min_chars:
        return False
    if not _HAS_LETTER.search(text) and not _FORMULA.search(text):
        return False
    vocab = vocabulary()
    return not (vocab.page_number.match(text) or _TIME.match(text) or vocab.date_only.match(text))


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _boilerplate(blocks: Sequence[Block], min_pages: int) -> frozenset[str]:
    """Texts that recur on at least `min_pages` different pages/slides: footers, logos."""
    page = 0
    pages_of: dict[str, set[int]] = {}
    for block in blocks:
        if block.kind is BlockKind.BREAK:
            page += 1
            continue
        if block.kind in (BlockKind.PARAGRAPH, BlockKind.LIST_ITEM, BlockKind.NOTE):
            pages_of.setdefault(_norm(block.text), set()).add(block.location.page or page)
    return frozenset(text for text, pages in pages_of.items() if len(pages) >= min_pages)


def _group_level(text: str) -> bool:
    """A workshop group heading or the joint discussion after the groups."""
    vocab = vocabulary()
    return bool(vocab.group_heading.match(text) or vocab.joint_discussion.match(text))


def _close_group(stack: list[tuple[int, str]]) -> list[tuple[int, str]]:
    for position, (_, text) in enumerate(stack):
        if _group_level(text):
            return stack[:position]
    return stack


def _group(headings: Iterable[tuple[int, str]]) -> str:
    for _, text in reversed(tuple(headings)):
        match = vocabulary().group_heading.match(text)
        if match:
            return f"Grupp {match.group(1)}"
    return ""


def _polarity_of(text: str) -> Polarity:
    return vocabulary().polarity_of(text)


def _heading_polarity(headings: Iterable[tuple[int, str]]) -> Polarity:
    for _, text in reversed(tuple(headings)):
        polarity = _polarity_of(text)
        if polarity is not Polarity.NONE:
            return polarity
    return Polarity.NONE


# --- tables -------------------------------------------------------------------------------


def _table_end(blocks: Sequence[Block], start: int) -> int:
    """Index one past the last row of the table starting at `start` (contiguous rows)."""
    end = start + 1
    while (
        end < len(blocks)
        and blocks[end].kind is BlockKind.TABLE_ROW
        and blocks[end].location.page == blocks[end - 1].location.page
        and blocks[end].location.line == blocks[end - 1].location.line + 1
    ):
        end += 1
    return end


def _table_statements(rows: Sequence[Block], stack: list[tuple[int, str]]) -> list[_Draft]:
    """Cells of a table as statements, each with its column header and that column's polarity.

    The first row with two or more filled cells is the header; a single-cell row before a
    header names the table (a category such as "Attraktionskraft") and joins the heading path.
    Agenda tables (a time in the first column) are dropped whole.
    """
    filled = [tuple(c for c in row.cells if c) for row in rows]
    if any(cells and _TIME.match(cells[0]) for cells in filled):
        return []
    drafts: list[_Draft] = []
    header: tuple[str, ...] | None = None
    title: tuple[int, str] | None = None
    base = _snapshot(stack)
    for row, cells in zip(rows, filled, strict=True):
        if not cells or all(set(c) <= set("-:| ") for c in cells):
            continue
        is_polarity_header = all(_polarity_of(c) is not Polarity.NONE for c in cells)
        if is_polarity_header or (header is None and len(cells) >= 2):
            header = row.cells
            continue
        if header is None and len(cells) == 1:
            title = (max((level for level, _ in base), default=1) + 1, cells[0])
            continue
        headings = (*base, title) if title else base
        for column, cell in enumerate(row.cells):
            if not cell:
                continue
            name = header[column] if header and column < len(header) else ""
            drafts.append(
                _Draft(row, cell, headings, table_column=name, column_polarity=_polarity_of(name))
            )
    return drafts


# --- sentences ----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _sentencizer(abbreviations: tuple[str, ...]) -> Language:
    """spaCy's blank Swedish pipeline with a sentencizer that knows our abbreviations."""
    nlp = spacy.blank("sv")
    nlp.add_pipe("sentencizer")
    tokenizer: Any = nlp.tokenizer
    for abbreviation in abbreviations:
        for form in {abbreviation, abbreviation.capitalize()}:
            tokenizer.add_special_case(form, [{ORTH: form}])
    return nlp


def _sentences(nlp: Language, text: str, abbreviations: frozenset[str]) -> list[str]:
    """Split prose into sentences; never after an abbreviation or before a lower-case word.

    Sentences are (start, end) offsets into `text`, and a merge widens the span, so a merged
    sentence keeps its own spacing ("städer? (nivåstrukturering …"), not a space put between
    the pieces spaCy split it into.
    """
    spans: list[tuple[int, int]] = []
    for sent in nlp(text).sents:
        piece = sent.text.strip()
        if not piece:
            continue
        start = sent.start_char + len(sent.text) - len(sent.text.lstrip())
        end = start + len(piece)
        if spans and (
            _ends_with_abbreviation(text[slice(*spans[-1])], abbreviations) or piece[:1].islower()
        ):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return [text[start:end] for start, end in spans]


def _ends_with_abbreviation(text: str, abbreviations: frozenset[str]) -> bool:
    # Compared on folded white space with a space before, so "bl. a." (two words) matches
    # and "t.ex." does not end with "ex.".
    folded = " " + " ".join(text.split()).lower()
    return any(folded.endswith(" " + abbreviation) for abbreviation in abbreviations)
