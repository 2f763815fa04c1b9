"""Is a document Swedish? Language identification per block with lingua, weighted by length.

temakarta themes Swedish text only: an English, German, Norwegian, Danish or Finnish document
must be reported, not embedded next to Swedish statements. Stop-word counts cannot tell Swedish
slide bullets ("Kompetensförsörjning", "Tydliga roller") from anything else, and they take a
Swedish deck with English slide titles for English, so each block is identified on its own by
lingua's character n-gram models (shipped in the wheel, deterministic, offline). A block too
short or too ambiguous to call ("Kultur", "Finansiering") does not count either way. The
document is Swedish when Swedish holds at least `MIN_SWEDISH_SHARE` of the identified text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pipeline.extract._errors import ExtractError

# The languages a Swedish corpus meets; a text is always called as the nearest of these.
_CANDIDATES = (
    "SWEDISH", "ENGLISH", "GERMAN", "BOKMAL", "NYNORSK", "DANISH", "FINNISH", "FRENCH", "SPANISH",
)  # fmt: skip
_SWEDISH = "SWEDISH"
_NAMES_SV = {
    "SWEDISH": "svenska", "ENGLISH": "engelska", "GERMAN": "tyska", "BOKMAL": "norska",
    "NYNORSK": "norska", "DANISH": "danska", "FINNISH": "finska", "FRENCH": "franska",
    "SPANISH": "spanska",
}  # fmt: skip
_NAMES_EN = {
    "SWEDISH": "Swedish", "ENGLISH": "English", "GERMAN": "German", "BOKMAL": "Norwegian",
    "NYNORSK": "Norwegian", "DANISH": "Danish", "FINNISH": "Finnish", "FRENCH": "French",
    "SPANISH": "Spanish",
}  # fmt: skip
#: Blocks shorter than this many characters are not identified (single words are ambiguous).
MIN_BLOCK_CHARS = 12
#: Below this many identified characters a document gives too little evidence and passes.
MIN_EVIDENCE_CHARS = 80
#: Share of the identified characters that must be Swedish.
MIN_SWEDISH_SHARE = 0.5
# lingua answers "unsure" when the two best languages are closer than this (0..1).
_MIN_RELATIVE_DISTANCE = 0.1


@lru_cache(maxsize=1)
def _detector() -> Any:
    """The lingua detector over `_CANDIDATES` (models loaded once per process, ~2 s, ~300 MB)."""
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _CANDIDATES]
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_minimum_relative_distance(_MIN_RELATIVE_DISTANCE)
        .with_preloaded_language_models()
        .build()
    )


def warm_up() -> None:
    """Load the language models now (the reader processes' forkserver does, so that every
    document's reader starts with them)."""
    _detector()


def language_shares(texts: Iterable[str]) -> Counter[str]:
    """Characters of identified text per language (lingua's upper-case names, e.g. SWEDISH)."""
    blocks = [" ".join(text.split()) for text in texts]
    blocks = [text for text in blocks if len(text) >= MIN_BLOCK_CHARS]
    shares: Counter[str] = Counter()
    if not blocks:
        return shares
    detector = _detector()
    # One block at a time: lingua's parallel call uses a thread pool, which a reader process
    # forked from a warmed-up forkserver does not inherit, and it would wait for it forever.
    for text in blocks:
        language = detector.detect_language_of(text)
        if language is not None:
            shares[language.name] += len(text)
    return shares


def check_swedish(name: str, texts: Iterable[str]) -> None:
    """Raise ExtractError when the text is mostly in another language than Swedish."""
    shares = language_shares(texts)
    identified = sum(shares.values())
    if identified < MIN_EVIDENCE_CHARS:
        return
    swedish = shares[_SWEDISH] / identified
    if swedish >= MIN_SWEDISH_SHARE:
        return
    other, _ = max(
        ((lang, chars) for lang, chars in shares.items() if lang != _SWEDISH),
        key=lambda item: (item[1], item[0]),
    )
    raise ExtractError(
        f"{name}: whole document",
        f"language looks like {_NAMES_EN[other]} ({_NAMES_SV[other]} "
        f"{shares[other] / identified:.0%} of the text, svenska {swedish:.0%}); temakarta "
        "themes Swedish text only",
        "remove it or translate it",
    )
