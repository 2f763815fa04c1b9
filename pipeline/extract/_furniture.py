"""Web-page furniture: what a saved page carries besides its content, found and dropped.

The rules are data (`models/furniture.yaml`, read by `parse_furniture`); the HTML reader asks
`is_furniture_element` for each element (navigation, cookie banner, share links, footer...) and
hands its blocks to `drop_furniture_blocks` for the furniture that only its text gives away
("Läs mer", "Senast uppdaterad …", "Pressmeddelande • …", a contact block of names, phone
numbers and e-mail addresses). `published_date` reads the date a page says it was published.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.problems import InputError, Key, Problem, dotted, parse_yaml, validation_problems
from pipeline.records import Block, BlockKind
from pipeline.vocabulary import vocabulary

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SPLIT_CLASS = re.compile(r"[\s_-]+")
# A contact block ends at a heading of its own level or above, or at a block of more words.
_CONTACT_KINDS = (BlockKind.HEADING, BlockKind.PARAGRAPH, BlockKind.NOTE)
# Containers of the whole page or its content: publishing systems give them classes such as
# "has-sidebar" or "nav-fixed", which say nothing about the content inside.
_CONTENT_CONTAINERS = {"html", "body", "main", "article"}


class FurnitureError(InputError):
    """The furniture file is malformed; each problem names the file's line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Elements(_Strict):
    tags: list[str] = []
    roles: list[str] = []
    classes: list[str] = []


class _Contact(_Strict):
    max_words: int = Field(8, ge=1)
    headings: list[str] = []
    lines: list[str] = []


class _Published(_Strict):
    meta: list[str] = []
    text: list[str] = []
    updated: str = "(senast )?uppdaterad"


class _File(_Strict):
    elements: _Elements = _Elements()
    lines: list[str] = []
    contact: _Contact = _Contact()
    published: _Published = _Published()


@dataclass(frozen=True)
class Furniture:
    """Compiled furniture rules (see models/furniture.yaml for what each part means)."""

    tags: frozenset[str]
    roles: frozenset[str]
    class_stems: tuple[str, ...]
    lines: tuple[re.Pattern[str], ...]
    contact_headings: tuple[re.Pattern[str], ...]
    contact_lines: tuple[re.Pattern[str], ...]
    contact_max_words: int
    published_meta: frozenset[str]
    published_text: tuple[re.Pattern[str], ...]
    updated: re.Pattern[str]


def parse_furniture(text: str, source: str) -> Furniture:
    """Compile the furniture YAML; FurnitureError lists every problem with its line."""
    doc = parse_yaml(text, source, FurnitureError)
    fix = f"correct it in {source} (see the comments at the top of the file for its shape)"
    try:
        data = _File.model_validate(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        raise FurnitureError(*validation_problems(exc, _File, doc, fix)) from None
    problems: list[Problem] = []

    def compile_all(patterns: Sequence[str], key: Key, prefix: bool = False) -> tuple[Any, ...]:
        out = []
        for i, pattern in enumerate(patterns):
            try:
                # Prefixes must be followed by something (the date); lines match a whole block.
                out.append(re.compile(f"(?:{pattern})" + (r"\s*" if prefix else ""), re.I))
            except re.error as exc:
                where = (*key, i) if len(patterns) > 1 or key[-1] != "updated" else key
                problems.append(
                    Problem(
                        doc.where(where),
                        f"{dotted(where)}: {pattern!r} is not a regular expression ({exc})",
                        "fix the pattern (Python `re` syntax; escape ( ) [ ] . * + ? with a "
                        "backslash)",
                    )
                )
        return tuple(out)

    lines = compile_all(data.lines, ("lines",))
    contact_headings = compile_all(data.contact.headings, ("contact", "headings"))
    contact_lines = compile_all(data.contact.lines, ("contact", "lines"))
    published_text = compile_all(data.published.text, ("published", "text"), prefix=True)
    updated = compile_all([data.published.updated], ("published", "updated"))
    if problems:
        raise FurnitureError(*problems)
    return Furniture(
        tags=frozenset(t.lower() for t in data.elements.tags),
        roles=frozenset(r.lower() for r in data.elements.roles),
        class_stems=tuple(c.lower() for c in data.elements.classes),
        lines=lines,
        contact_headings=contact_headings,
        contact_lines=contact_lines,
        contact_max_words=data.contact.max_words,
        published_meta=frozenset(m.lower() for m in data.published.meta),
        published_text=published_text,
        updated=updated[0],
    )


def is_furniture_element(tag: Any, furniture: Furniture) -> bool:
    """Whether a BeautifulSoup element is furniture as a whole (its tag, role, class or id)."""
    name = (tag.name or "").lower()
    if name in furniture.tags:
        return True
    if name in _CONTENT_CONTAINERS:
        return False
    if name == "header":
        # The page's own header (logo, search, menu), not an article's header with its title.
        return tag.find("h1") is None and tag.find_parent(["main", "article"]) is None
    role = str(tag.get("role") or "").lower()
    if role in furniture.roles:
        return True
    classes = tag.get("class") or []
    words = [*(classes if isinstance(classes, list) else [classes]), str(tag.get("id") or "")]
    parts = [p for w in words for p in _SPLIT_CLASS.split(str(w).lower()) if p]
    if any(p.startswith(furniture.class_stems) for p in parts):
        return True
    return name in ("ul", "ol") and _is_link_list(tag)


def _is_link_list(tag: Any) -> bool:
    """A list of three or more items that are each one link and nothing else: a menu."""
    items = tag.find_all("li", recursive=False)
    if len(items) < 3:
        return False
    for item in items:
        links = item.find_all("a")
        text = item.get_text(" ", strip=True)
        if len(links) != 1 or links[0].get_text(" ", strip=True) != text:
            return False
    return True


def drop_furniture_blocks(
    blocks: Sequence[Block], furniture: Furniture
) -> tuple[tuple[Block, ...], int]:
    """The blocks without the furniture their text gives away, and how many were dropped."""
    kept: list[Block] = []
    contact_level: int | None = None  # inside a contact block opened at this heading level
    for block in blocks:
        text = block.text.strip()
        if contact_level is not None:
            if block.kind is BlockKind.HEADING and block.level <= contact_level:
                contact_level = None
            elif block.kind in _CONTACT_KINDS and (
                len(text.split()) <= furniture.contact_max_words
                or _any(furniture.contact_lines, text)
            ):
                continue
            else:
                contact_level = None
        if block.kind is BlockKind.TABLE_ROW:
            kept.append(block)
        elif block.kind in _CONTACT_KINDS and _any(furniture.contact_headings, text):
            # A paragraph that opens a contact block closes it at any heading.
            contact_level = block.level if block.kind is BlockKind.HEADING else 99
        elif not (_any(furniture.lines, text) or _any(furniture.contact_lines, text)):
            kept.append(block)
    return tuple(kept), len(blocks) - len(kept)


def _any(patterns: Sequence[re.Pattern[str]], text: str) -> bool:
    return any(p.fullmatch(text) for p in patterns)


def published_date(soup: Any, blocks: Sequence[Block], furniture: Furniture) -> str:
    """The ISO date the page says it was published, or "" when it does not say.

    Meta tags first, then a block that starts with a publication prefix, then the first
    <time datetime> that is not an update date."""
    for meta in soup.find_all("meta"):
        key = next(
            (str(meta.get(a)) for a in ("property", "name", "itemprop") if meta.get(a)), ""
        ).lower()
        if key in furniture.published_meta:
            date = _iso(str(meta.get("content") or ""))
            if date:
                return date
    for block in blocks:
        for prefix in furniture.published_text:
            found = prefix.match(block.text)
            if found:
                date = _iso(block.text[found.end() :]) or _swedish(block.text[found.end() :])
                if date:
                    return date
    for time in soup.find_all("time"):
        # The words that introduce the date: "Senast uppdaterad <time>" is no publication.
        before = time.find_previous(string=lambda s: bool(s.strip()))
        if before is not None and furniture.updated.search(str(before)[-40:]):
            continue
        date = _iso(str(time.get("datetime") or ""))
        if date:
            return date
    return ""


def _iso(text: str) -> str:
    found = _ISO_DATE.match(text.strip())
    return found.group(0) if found and _valid(*map(int, found.groups())) else ""


def _swedish(text: str) -> str:
    found = vocabulary().swedish_date.match(text.strip())
    return vocabulary().iso_date(found) if found else ""


def _valid(year: int, month: int, day: int) -> bool:
    return 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31
