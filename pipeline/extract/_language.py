"""A cheap, deterministic Swedish-or-not check from stop-word ratios.

Counts how many of a document's words are common Swedish function words and how many are
common English ones. The lists leave out words that are frequent in both languages or mean
something else in the other ("i", "in", "a", "man", "be", "under", "by", "hit"), so a Swedish
text with English loanwords or an English quote stays Swedish.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.extract._errors import ExtractError

SWEDISH_STOPWORDS: frozenset[str] = frozenset(
    [
        "och",
        "att",
        "det",
        "som",
        "en",
        "på",
        "är",
        "av",
        "för",
        "med",
        "till",
        "den",
        "har",
        "de",
        "inte",
        "om",
        "ett",
        "men",
        "var",
        "jag",
        "sig",
        "från",
        "vi",
        "så",
        "kan",
        "när",
        "ska",
        "skall",
        "eller",
        "hur",
        "vad",
        "finns",
        "alla",
        "också",
        "detta",
        "där",
        "mellan",
        "måste",
        "vill",
        "olika",
        "genom",
        "efter",
        "sina",
        "sitt",
        "sin",
        "deras",
        "vår",
        "våra",
        "vårt",
        "oss",
        "dem",
        "denna",
        "dessa",
        "blir",
        "bli",
        "blev",
        "varit",
        "vara",
        "har",
        "hade",
        "inom",
        "utan",
        "mot",
        "mer",
        "mycket",
        "många",
        "samt",
        "både",
        "än",
        "nu",
        "då",
        "sedan",
        "just",
        "bara",
        "även",
        "kunna",
        "kommer",
        "ut",
        "upp",
        "här",
        "något",
        "några",
        "någon",
        "inga",
        "ingen",
        "vilka",
        "vilken",
        "vilket",
        "vid",
        "ju",
        "skulle",
        "får",
        "fått",
        "göra",
    ]
)

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    [
        "the",
        "and",
        "of",
        "to",
        "is",
        "that",
        "for",
        "it",
        "with",
        "as",
        "on",
        "are",
        "this",
        "from",
        "or",
        "an",
        "was",
        "at",
        "have",
        "not",
        "which",
        "we",
        "they",
        "their",
        "can",
        "will",
        "has",
        "would",
        "should",
        "there",
        "how",
        "what",
        "who",
        "been",
        "were",
        "its",
        "our",
        "these",
        "those",
        "into",
        "than",
        "then",
        "also",
        "about",
        "more",
        "such",
        "only",
        "other",
        "some",
        "any",
        "each",
        "when",
        "where",
        "while",
        "because",
        "but",
        "if",
        "you",
        "your",
        "he",
        "she",
        "his",
        "her",
        "them",
        "do",
        "does",
        "did",
        "being",
        "between",
        "through",
        "after",
        "before",
    ]
)

_WORD = re.compile(r"[a-zåäöéüæø]+")

#: Fewer words than this give too little evidence to judge; such a document passes.
MIN_WORDS = 40


@dataclass(frozen=True)
class LanguageGuess:
    """Stop-word shares of a text (0..1) and its word count."""

    words: int
    swedish: float
    english: float

    @property
    def looks_english(self) -> bool:
        """True when the text is clearly English rather than Swedish."""
        return self.words >= MIN_WORDS and self.english >= 0.10 and self.english > 2 * self.swedish


def guess_language(texts: Iterable[str]) -> LanguageGuess:
    """Stop-word shares over all words of `texts`."""
    words = [word for text in texts for word in _WORD.findall(text.lower())]
    if not words:
        return LanguageGuess(0, 0.0, 0.0)
    swedish = sum(word in SWEDISH_STOPWORDS for word in words)
    english = sum(word in ENGLISH_STOPWORDS for word in words)
    return LanguageGuess(len(words), swedish / len(words), english / len(words))


def check_swedish(name: str, texts: Iterable[str]) -> None:
    """Raise ExtractError when the text looks English instead of Swedish."""
    guess = guess_language(texts)
    if guess.looks_english:
        raise ExtractError(
            f"{name}: whole document: language looks like English "
            f"(sv stop words {guess.swedish:.0%}, en {guess.english:.0%}); "
            "temakarta themes Swedish text only — remove it or translate it"
        )
