"""The Swedish meeting vocabulary: heading words, polarity words, months, page-number and list
markers, read from `models/vocabulary.yaml` and compiled once.

Public entry point: `vocabulary()` (the project's file) and `parse_vocabulary(text, source)`.
Structure recovery in `pipeline.extract` and statement rules in `pipeline.segment` both use it,
so "Grupp 3" is a group heading and "Möjligheter" a polarity in every reader and stage alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.problems import InputError, parse_yaml, validation_problems
from pipeline.records import Polarity

#: The project's vocabulary file.
VOCABULARY_FILE = "models/vocabulary.yaml"  # relative to the project root, as in the manifest
VOCABULARY_PATH = Path(__file__).resolve().parents[1] / VOCABULARY_FILE


class VocabularyError(InputError):
    """The vocabulary file is malformed; its problems name the file's line and the key."""


class _VocabularyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segment_words: tuple[str, ...]
    group_words: tuple[str, ...]
    discussion_words: tuple[str, ...]
    joint_words: tuple[str, ...]
    polarity: dict[Polarity, tuple[str, ...]]
    polarity_section_words: tuple[str, ...]
    # January to December, in order: a month's place in the list is its number.
    months: tuple[str, ...] = Field(min_length=12, max_length=12)
    page_words: tuple[str, ...]
    page_of_words: tuple[str, ...]
    bullets: tuple[str, ...]
    pdf_bullets: tuple[str, ...]


def _any(words: tuple[str, ...]) -> str:
    """A regex alternation of `words`, longest first, each escaped."""
    if not words:
        return "(?!)"  # matches nothing
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


def _chars(glyphs: tuple[str, ...]) -> str:
    return "[" + "".join(re.escape(g) for g in glyphs) + "]"


@dataclass(frozen=True)
class Vocabulary:
    """The compiled vocabulary (patterns match case-insensitively)."""

    polarity_words: dict[str, Polarity]
    segment_heading: re.Pattern[str]  # "Segment 2 – …"
    group_heading: re.Pattern[str]  # "Grupp 3" (group 1: the number)
    discussion_heading: re.Pattern[str]  # "Diskussion", "Gemensam diskussion"
    joint_discussion: re.Pattern[str]  # "Gemensam diskussion" (after the groups)
    polarity_heading: re.Pattern[str]  # a heading that is only a polarity word ("Hinder:")
    date_only: re.Pattern[str]  # "13 december", "13 december 2017"
    page_number: re.Pattern[str]  # "12", "Sida 3", "3 av 12", "3/12", "3 (12)"
    bullet: str  # regex character class of typed bullet glyphs
    pdf_bullet: str  # regex character class of bullet glyphs in PDF text layers
    months: tuple[str, ...]  # lower case, January first
    swedish_date: re.Pattern[str]  # "13 december 2017" (groups: day, month name, year)

    def iso_date(self, found: re.Match[str]) -> str:
        """A `swedish_date` match as YYYY-MM-DD, or "" when it is no calendar date."""
        day, month = int(found.group(1)), self.months.index(found.group(2).lower()) + 1
        year = int(found.group(3))
        valid = 1900 <= year <= 2100 and 1 <= day <= 31
        return f"{year:04d}-{month:02d}-{day:02d}" if valid else ""

    def polarity_of(self, text: str) -> Polarity:
        """The polarity a heading or column header names, or Polarity.NONE."""
        return self.polarity_words.get(text.strip(" :*").lower(), Polarity.NONE)


def parse_vocabulary(text: str, source: str) -> Vocabulary:
    """Validate and compile a vocabulary YAML text; VocabularyError names `source` and the key."""
    doc = parse_yaml(text, source, VocabularyError)
    try:
        data = _VocabularyFile.model_validate(doc.data)
    except ValidationError as exc:
        fix = "see the comments in models/vocabulary.yaml for what each key holds"
        raise VocabularyError(*validation_problems(exc, _VocabularyFile, doc, fix)) from None
    polarity_words = {
        word.lower(): polarity for polarity, words in data.polarity.items() for word in words
    }
    all_polarity = (*polarity_words, *data.polarity_section_words)
    months = _any(data.months)
    page = _any(data.page_words)
    page_of = _any(data.page_of_words)
    flags = re.IGNORECASE
    return Vocabulary(
        polarity_words=polarity_words,
        segment_heading=re.compile(rf"^{_any(data.segment_words)}\s+\d+\b", flags),
        group_heading=re.compile(rf"^{_any(data.group_words)}\s+(\d+)\b", flags),
        discussion_heading=re.compile(
            rf"^(?:{_any(data.joint_words)}\s+)?{_any(data.discussion_words)}\b", flags
        ),
        joint_discussion=re.compile(
            rf"^{_any(data.joint_words)}\s+{_any(data.discussion_words)}\b", flags
        ),
        polarity_heading=re.compile(rf"^{_any(all_polarity)}\s*:?$", flags),
        date_only=re.compile(rf"^\d{{1,2}}\s+{months}(\s+\d{{4}})?$", flags),
        page_number=re.compile(
            rf"^({page}\.?\s*)?\d{{1,4}}(\s*(/|{page_of})\s*\d{{1,4}}|\s*\(\d{{1,4}}\))?$", flags
        ),
        bullet=_chars(data.bullets),
        pdf_bullet=_chars(data.pdf_bullets),
        months=tuple(m.lower() for m in data.months),
        swedish_date=re.compile(rf"\b(\d{{1,2}})\s+({months})\s+(\d{{4}})\b", flags),
    )


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The project's vocabulary (`models/vocabulary.yaml`), read once per process."""
    return parse_vocabulary(VOCABULARY_PATH.read_text(encoding="utf-8"), str(VOCABULARY_PATH))
