"""Plain text and Markdown → blocks: every line is an unstyled line for `_structure`.

Both are read with one line grammar (`pipeline.extract._structure`, shared with the readers of
formats whose paragraphs may carry no style): `#` headings, bold title lines, list items, tab-
or pipe-separated table rows, prose, and slide breaks at runs of blank lines. `line` is the
1-based line number in the decoded text.
"""

from __future__ import annotations

import itertools

from pipeline.config import LimitsConfig
from pipeline.extract._common import decode_text
from pipeline.extract._errors import ExtractError
from pipeline.extract._structure import recover_structure
from pipeline.records import Block, BlockKind, Location

# Slide-deck exports separate slides by two or more blank lines.
_BREAK_BLANKS = 2


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


def _parse(text: str, max_pages: int, name: str) -> tuple[Block, ...]:
    lines = [
        Block(BlockKind.PARAGRAPH, raw, Location(number))
        for number, raw in enumerate(text.splitlines(), start=1)
        if raw.strip()
    ]
    pages = 1 + sum(
        1
        for before, after in itertools.pairwise(lines)
        if after.location.line - before.location.line > _BREAK_BLANKS
    )
    if pages > max_pages:
        raise ExtractError(
            f"{name}: file",
            f"{pages} slides/pages, over the limit of {max_pages}",
            "split the document",
            "limits.max_pages",
        )
    return recover_structure(lines)
