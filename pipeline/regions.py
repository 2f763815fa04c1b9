"""Regions: give every statement one of the six sjukvårdsregioner, Nationell or Okänd.

Public entry point: `attribute_regions(document, statements, gazetteer, metadata)`;
`parse_gazetteer` reads the gazetteer file's text (`models/gazetteer.yaml`).

Order of evidence for a statement (the first that speaks wins):
1. the corpus `metadata.csv` row for the document (an analyst's word overrides detection);
2. the nearest enclosing heading that names a region or national scope;
3. the last such heading earlier in the document (slide decks continue a region's section on
   slides whose titles do not repeat the region: "Syfte och organisering");
4. the document's title lines, then the title its file states (a web page's <title>);
5. the region the document's text names most (at least 60 % of its region mentions);
6. Nationell when the text names national scope ("hela landet", "Socialstyrelsen") at least as
   often as regions;
7. Okänd: nothing places the statement. Nationell is never a default.

The document's date: metadata.csv, else the publication date the file states (a web page's
meta tags, <time> or "Publicerad …"), else the first date in its title lines or first blocks —
never an update date ("Senast uppdaterad 3 maj 2023").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.problems import InputError, Problem, dotted, parse_yaml, validation_problems
from pipeline.records import (
    BlockKind,
    Document,
    DocumentInfo,
    Location,
    Region,
    Statement,
)
from pipeline.vocabulary import vocabulary

_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# A line that dates an update or review of the text, not the text itself.
_UPDATED = re.compile(r"^\W*(senast\s+)?(uppdaterad|ändrad|granskad|reviderad)\b", re.IGNORECASE)
# Genitive of a name that ends in a letter: "Göteborgs", "Region Stockholms", "VGR:s".
_GENITIVE = "(?::?s)?"
_MAJORITY = 0.6
_DATE_SEARCH_BLOCKS = 25


@dataclass(frozen=True)
class Gazetteer:
    """Compiled region patterns: (region, pattern) pairs and national-scope patterns."""

    regions: tuple[tuple[Region, re.Pattern[str]], ...]
    national: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class DocumentMetadata:
    """One row of a corpus `metadata.csv`: analyst-given facts that override detection."""

    region: Region | None = None
    date: str = ""
    meeting: str = ""


class GazetteerError(InputError):
    """The gazetteer file is malformed; each problem names the file's line."""


class _GazetteerModel(BaseModel):
    """The gazetteer's shape: region → group (names, counties, cities, …) → list of patterns,
    and the national-scope patterns. A group given as a string instead of a list is an error,
    not a list of its letters."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    regions: dict[str, dict[str, list[str]]]
    national: list[str] = []


def parse_gazetteer(text: str, source: str) -> Gazetteer:
    """Compile the gazetteer YAML (see models/gazetteer.yaml for the shape)."""
    doc = parse_yaml(text, source, GazetteerError)
    fix = (
        f"correct it in {source}: `regions:` maps each region to groups (names, counties, "
        'cities) of patterns, each group a list such as names: ["region skåne", "skåne\\w*"]'
    )
    try:
        model = _GazetteerModel.model_validate(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        raise GazetteerError(*validation_problems(exc, _GazetteerModel, doc, fix)) from None
    known = {r.value: r for r in Region if r not in (Region.NATIONELL, Region.OKAND)}
    problems: list[Problem] = []
    pairs: list[tuple[Region, re.Pattern[str]]] = []
    for name, groups in model.regions.items():
        if name not in known:
            problems.append(
                Problem(
                    doc.where(("regions", name)),
                    f"regions.{name}: unknown region; allowed: {', '.join(known)}",
                    fix,
                )
            )
            continue
        for group, patterns in groups.items():
            for i, pattern in enumerate(patterns):
                key = ("regions", name, group, i)
                compiled = _compile(pattern, doc.where(key), dotted(key), problems)
                if compiled is not None:
                    pairs.append((known[name], compiled))
    national = []
    for i, pattern in enumerate(model.national):
        compiled = _compile(pattern, doc.where(("national", i)), f"national[{i}]", problems)
        if compiled is not None:
            national.append(compiled)
    if problems:
        raise GazetteerError(*problems)
    return Gazetteer(regions=tuple(pairs), national=tuple(national))


def _compile(pattern: str, where: str, key: str, problems: list[Problem]) -> re.Pattern[str] | None:
    """The pattern with word boundaries at alphanumeric ends; None (and a problem) when it is
    not a regular expression or is empty."""
    if not pattern.strip():
        problems.append(Problem(where, f"{key}: empty pattern", "remove it or write the name"))
        return None
    start = r"\b" if pattern[:1].isalnum() else ""
    genitive = _GENITIVE if pattern[-1:].isalpha() else ""
    end = r"\b" if pattern[-1:].isalnum() or pattern.endswith("*") else ""
    try:
        return re.compile(f"{start}(?:{pattern}){genitive}{end}", re.IGNORECASE)
    except re.error as exc:
        problems.append(
            Problem(
                where,
                f"{key}: {pattern!r} is not a regular expression ({exc})",
                "fix the pattern (Python `re` syntax; escape ( ) [ ] . * + ? with a backslash)",
            )
        )
        return None


def attribute_regions(
    document: Document,
    statements: Sequence[Statement],
    gazetteer: Gazetteer,
    metadata: DocumentMetadata | None = None,
) -> tuple[tuple[Statement, ...], DocumentInfo]:
    """Statements with `region`/`region_source` set, and the document's own facts."""
    titles = [b.text for b in _title_blocks(document)]
    if document.title:
        titles.append(document.title)
    doc_region, doc_source = _document_region(document, titles, gazetteer, metadata)
    date = (
        (metadata.date if metadata and metadata.date else "")
        or document.published
        or _document_date(document)
    )
    info = DocumentInfo(
        name=document.name,
        sha256=document.sha256,
        format=document.format,
        encoding=document.encoding,
        region=doc_region,
        region_source=doc_source,
        date=date,
        meeting=metadata.meeting if metadata else "",
        n_dropped=document.n_dropped,
    )
    if metadata and metadata.region:
        return tuple(
            replace(s, region=metadata.region, region_source="metadata") for s in statements
        ), info

    carried = _carried_cues(document, gazetteer)
    out: list[Statement] = []
    for statement in statements:
        region, source = doc_region, doc_source
        for heading in reversed(statement.heading_path):
            cue = _cue(heading, gazetteer)
            if cue is not None:
                region, source = cue, f"heading: {heading}"
                break
        else:
            section = carried.get(statement.location)
            if section is not None:
                region, source = section[0], f"section: {section[1]}"
        out.append(replace(statement, region=region, region_source=source))
    return tuple(out), info


def _cue(text: str, gazetteer: Gazetteer) -> Region | None:
    """The region a heading names, Nationell for national/cross-region scope, else None."""
    if any(p.search(text) for p in gazetteer.national):
        return Region.NATIONELL
    named = {region for region, pattern in gazetteer.regions if pattern.search(text)}
    if len(named) == 1:
        return named.pop()
    return Region.NATIONELL if named else None


def _title_blocks(document: Document) -> list[Any]:
    """The document's title lines: its leading level-1 headings."""
    titles = []
    for block in document.blocks:
        if block.kind is BlockKind.HEADING and block.level <= 1:
            titles.append(block)
        elif block.kind is not BlockKind.BREAK:
            break
    return titles


def _carried_cues(document: Document, gazetteer: Gazetteer) -> dict[Location, tuple[Region, str]]:
    """For each block location: the last region-naming heading before it (titles excluded)."""
    current: tuple[Region, str] | None = None
    carried: dict[Location, tuple[Region, str]] = {}
    for block in document.blocks:
        if block.kind is BlockKind.HEADING and block.level > 1:
            cue = _cue(block.text, gazetteer)
            if cue is not None:
                current = (cue, block.text)
        elif current is not None:
            carried[block.location] = current
    return carried


def _document_region(
    document: Document,
    titles: Iterable[str],
    gazetteer: Gazetteer,
    metadata: DocumentMetadata | None,
) -> tuple[Region, str]:
    if metadata and metadata.region:
        return metadata.region, "metadata"
    for title in titles:
        cue = _cue(title, gazetteer)
        if cue is not None:
            return cue, f"title: {title}"
    mentions: Counter[Region] = Counter()
    national = 0
    for block in document.blocks:
        text = " ".join(block.cells) if block.cells else block.text
        for region, pattern in gazetteer.regions:
            mentions[region] += len(pattern.findall(text))
        national += sum(len(pattern.findall(text)) for pattern in gazetteer.national)
    total = sum(mentions.values())
    if total:
        region, count = mentions.most_common(1)[0]
        if count / total >= _MAJORITY:
            return region, f"mentions: {count} of {total}"
    if national and national >= total:
        return Region.NATIONELL, f"mentions: national {national}, regions {total}"
    return Region.OKAND, "no evidence"


def _document_date(document: Document) -> str:
    """ISO date from the title lines or, failing that, the first blocks of the document."""
    candidates = [*_title_blocks(document), *document.blocks[:_DATE_SEARCH_BLOCKS]]
    for block in candidates:
        if _UPDATED.match(block.text):
            continue
        iso = _ISO_DATE.search(block.text)
        if iso:
            return iso.group(0)
        sv = vocabulary().swedish_date.search(block.text)
        if sv and vocabulary().iso_date(sv):
            return vocabulary().iso_date(sv)
    return ""
