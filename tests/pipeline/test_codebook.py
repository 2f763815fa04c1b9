"""The shipped codebook is written for the codebook: it copies neither the gold file nor the corpus.

models/codebook.yaml promises examples "NOT taken from the gold file or the corpus". If an example
(or a definition) is a gold statement or a corpus line, the gold accuracy measures recall of copied
text instead of generalisation, and the corpus is themed by its own words. Texts are compared
after `_norm`: case-folded, punctuation replaced by spaces, white space folded; corpus lines also
lose a leading list marker ("1.", "- a.", "•") so "1. Tydligt uppdrag" counts as its text.

Rules (each failure names the theme, the text and what it copies):

(a) no example, definition or "label: definition" prototype equals a gold statement, a corpus
    line or a corpus table cell;
(b) no gold statement of two or more words occurs (as whole words) inside an example;
(c) no example shares a run of `MAX_SHARED_RUN` or more consecutive words with a corpus line.

Bare labels ("Ledarskap", "Finansiering") are theme names and so also corpus headings; they are
never embedded alone (only as "label: definition"), so they are not checked.
"""

from __future__ import annotations

import csv
import re

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.themes import Codebook, parse_codebook

CODEBOOK_PATH = PROJECT_ROOT / "models" / "codebook.yaml"
CORPUS_DIR = PROJECT_ROOT / "corpus"
GOLD_PATH = PROJECT_ROOT / "tests" / "data" / "seed_categories.csv"

MAX_SHARED_RUN = 5  # consecutive words an example may not share with a corpus line

_PUNCT_RE = re.compile(r"[^\w\s]|_")
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-–•*·]|\d+[.)]|[a-zA-Z][.)])\s+")


def _norm(text: str) -> str:
    """Case-folded, punctuation replaced by spaces, white space folded."""
    return " ".join(_PUNCT_RE.sub(" ", text.casefold()).split())


def _strip_list_marker(line: str) -> str:
    previous = None
    while previous != line:
        previous, line = line, _LIST_MARKER_RE.sub("", line, count=1)
    return line


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    return parse_codebook(CODEBOOK_PATH.read_text(encoding="utf-8"), "models/codebook.yaml")


@pytest.fixture(scope="module")
def gold_statements() -> dict[str, str]:
    """Normalised gold statement -> the statement as written."""
    assert GOLD_PATH.exists(), f"{GOLD_PATH} missing: copy ../shared/gold/seed_categories.csv"
    with GOLD_PATH.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, f"{GOLD_PATH} has no rows"
    return {_norm(r["statement"]): r["statement"] for r in rows if _norm(r["statement"])}


@pytest.fixture(scope="module")
def corpus_texts() -> dict[str, str]:
    """Normalised corpus line or table cell -> "file:line"."""
    paths = sorted(p for p in CORPUS_DIR.iterdir() if p.is_file())
    assert paths, f"no files in {CORPUS_DIR}"
    out: dict[str, str] = {}
    for path in paths:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, start=1):
            for part in (line, *line.split("\t")):
                norm = _norm(_strip_list_marker(part))
                if norm:
                    out.setdefault(norm, f"{path.name}:{number}")
    return out


def _checked_texts(codebook: Codebook) -> list[tuple[str, str]]:
    """(theme id, text) for every example, definition and "label: definition" prototype."""
    out: list[tuple[str, str]] = []
    for theme in codebook.themes:
        out += [(theme.id, theme.definition), (theme.id, theme.prototype_texts[0])]
        out += [(theme.id, example) for example in theme.examples]
    return out


def test_normalisation() -> None:
    assert _norm("  Gemensamt intresse -->  gemensamma\tMÖJLIGHETER. ") == (
        "gemensamt intresse gemensamma möjligheter"
    )
    assert _norm(_strip_list_marker(" - a. Mandat -> vad?")) == "mandat vad"
    assert _norm(_strip_list_marker("1. Tydligt uppdrag/roller")) == "tydligt uppdrag roller"


def test_gold_copy_and_corpus_are_present(
    gold_statements: dict[str, str], corpus_texts: dict[str, str]
) -> None:
    # Guards the checks below against passing vacuously on an empty gold file or corpus.
    assert len(gold_statements) >= 50
    assert _norm("Tydliga karriärvägar") in corpus_texts


def test_no_codebook_text_equals_a_gold_statement_or_corpus_line(
    codebook: Codebook, gold_statements: dict[str, str], corpus_texts: dict[str, str]
) -> None:
    copies = []
    for theme_id, text in _checked_texts(codebook):
        norm = _norm(text)
        if norm in gold_statements:
            copies.append(f"{theme_id}: {text!r} is gold statement {gold_statements[norm]!r}")
        if norm in corpus_texts:
            copies.append(f"{theme_id}: {text!r} is corpus line {corpus_texts[norm]}")
    assert not copies, "codebook copies gold/corpus text:\n" + "\n".join(copies)


def test_no_example_contains_a_gold_statement(
    codebook: Codebook, gold_statements: dict[str, str]
) -> None:
    multiword = {norm: raw for norm, raw in gold_statements.items() if len(norm.split()) >= 2}
    copies = [
        f"{theme.id}: {example!r} contains gold statement {raw!r}"
        for theme in codebook.themes
        for example in theme.examples
        for norm, raw in multiword.items()
        if f" {norm} " in f" {_norm(example)} "
    ]
    assert not copies, "codebook examples contain gold statements:\n" + "\n".join(copies)


def test_no_example_shares_a_long_word_run_with_the_corpus(
    codebook: Codebook, corpus_texts: dict[str, str]
) -> None:
    corpus_runs: dict[tuple[str, ...], str] = {}
    for norm, where in corpus_texts.items():
        for run in _ngrams(norm.split(), MAX_SHARED_RUN):
            corpus_runs.setdefault(run, where)
    copies = [
        f"{theme.id}: {example!r} shares {' '.join(run)!r} with {corpus_runs[run]}"
        for theme in codebook.themes
        for example in theme.examples
        for run in sorted(_ngrams(_norm(example).split(), MAX_SHARED_RUN))
        if run in corpus_runs
    ]
    assert not copies, (
        f"codebook examples share {MAX_SHARED_RUN}+ consecutive words with the corpus:\n"
        + "\n".join(copies)
    )
