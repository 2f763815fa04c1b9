"""pipeline/codebook.py: parsing and validation, and the shipped codebook's copy guards.

Parsing: every rule of `parse_codebook` (keys, ids, example counts, patterns, the `other` block)
is checked with a small YAML text that breaks exactly that rule, next to one that keeps it.

Copy guards: models/codebook.yaml promises examples "NOT taken from the gold files or the
corpus". If an example (or a definition) is a gold statement or a corpus line, the gold scores
measure recall of copied text instead of generalisation, and the corpus is themed by its own
words. Both gold files count: tests/data/seed_categories.csv (column `statement`) and
tests/data/analyst_labels.csv (column `text`), verbatim copies of ../shared/gold/. Texts are
compared after `_norm`: case-folded, punctuation replaced by spaces, white space folded; corpus
lines also lose a leading list marker ("1.", "- a.", "•") so "1. Tydligt uppdrag" counts as its
text. The `other` block's examples (and its definition) are checked like a theme's.

Rules (each failure names the theme, the text and what it copies):

(a) no example, definition or "label: definition" prototype equals a gold statement, a corpus
    line or a corpus table cell;
(b) no gold statement of two or more words occurs (as whole words) inside an example;
(c) no example shares a run of `MAX_SHARED_RUN` or more consecutive words with a corpus line.

Bare labels ("Ledarskap", "Finansiering") are theme names and so also corpus headings; they are
never embedded alone (only as "label: definition"), so they are not checked. Nor are `terms`
and `patterns`: they are single words and word forms, meant to occur in statements.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from pipeline.codebook import (
    MAX_EXAMPLES,
    MIN_EXAMPLES,
    OTHER_ID,
    Codebook,
    CodebookError,
    parse_codebook,
)
from pipeline.config import PROJECT_ROOT

CODEBOOK_PATH = PROJECT_ROOT / "models" / "codebook.yaml"
CORPUS_DIR = PROJECT_ROOT / "corpus"
# Gold files and the column holding their statement text.
GOLD_FILES = {
    PROJECT_ROOT / "tests" / "data" / "seed_categories.csv": "statement",
    PROJECT_ROOT / "tests" / "data" / "analyst_labels.csv": "text",
}
SHARED_GOLD = PROJECT_ROOT.parent / "shared" / "gold"

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


def _gold_rows(path: Path, column: str) -> list[str]:
    assert path.exists(), f"{path} missing: copy ../shared/gold/{path.name} verbatim"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row[column] for row in csv.DictReader(handle)]
    assert rows, f"{path} has no rows"
    return rows


@pytest.fixture(scope="module")
def gold_statements() -> dict[str, str]:
    """Normalised gold statement (both gold files) -> "file: statement as written"."""
    out: dict[str, str] = {}
    for path, column in GOLD_FILES.items():
        for text in _gold_rows(path, column):
            if _norm(text):
                out.setdefault(_norm(text), f"{path.name}: {text!r}")
    return out


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


def _examples(codebook: Codebook) -> list[tuple[str, str]]:
    """(owner, text) for every example, the `other` block's included (owner "other")."""
    out = [(theme.id, example) for theme in codebook.themes for example in theme.examples]
    return out + [(OTHER_ID, example) for example in codebook.other_examples]


def _checked_texts(codebook: Codebook) -> list[tuple[str, str]]:
    """(owner, text) for every example, definition and "label: definition" prototype."""
    out: list[tuple[str, str]] = []
    for theme in codebook.themes:
        out += [(theme.id, theme.definition), (theme.id, theme.prototype_texts[0])]
    if codebook.other_definition:
        out.append((OTHER_ID, codebook.other_definition))
    return out + _examples(codebook)


def test_normalisation() -> None:
    assert _norm("  Gemensamt intresse -->  gemensamma\tMÖJLIGHETER. ") == (
        "gemensamt intresse gemensamma möjligheter"
    )
    assert _norm(_strip_list_marker(" - a. Mandat -> vad?")) == "mandat vad"
    assert _norm(_strip_list_marker("1. Tydligt uppdrag/roller")) == "tydligt uppdrag roller"


@pytest.mark.parametrize("path", sorted(GOLD_FILES), ids=lambda p: p.name)
def test_gold_files_are_verbatim_copies_of_shared_gold(path: Path) -> None:
    shared = SHARED_GOLD / path.name
    if not shared.exists():
        pytest.skip(f"{shared} not present on this machine")
    assert path.read_bytes() == shared.read_bytes(), f"{path} differs from {shared}"


def test_gold_copy_and_corpus_are_present(
    gold_statements: dict[str, str], corpus_texts: dict[str, str], codebook: Codebook
) -> None:
    # Guards the checks below against passing vacuously on an empty gold file, corpus or
    # `other` block.
    assert len(gold_statements) >= 250  # 74 seed rows + 223 analyst rows, a few shared
    assert _norm("Vilja till lösning") in gold_statements  # seed_categories.csv
    assert _norm("Gemensam bild över framtida utveckling") in gold_statements  # analyst labels
    assert _norm("Tydliga karriärvägar") in corpus_texts
    assert any(owner == OTHER_ID for owner, _ in _checked_texts(codebook))


def test_the_guards_catch_a_copied_analyst_statement_and_other_example(
    gold_statements: dict[str, str],
) -> None:
    # The guards below would see a copy placed in the `other` block or taken from the analyst
    # labels: build such a codebook and run the same rule (a) on it.
    copied = "Gemensam bild över framtida utveckling"  # an analyst_labels.csv text
    text = (
        "themes:\n  - id: x\n    label: X\n    definition: D\n    examples: [a, b, c, d, e]\n"
        f"other:\n  examples: [f, g, h, i, '{copied}']\n"
    )
    book = parse_codebook(text)
    hits = [t for owner, t in _checked_texts(book) if _norm(t) in gold_statements]
    assert hits == [copied]
    assert (OTHER_ID, copied) in _examples(book)


def test_no_codebook_text_equals_a_gold_statement_or_corpus_line(
    codebook: Codebook, gold_statements: dict[str, str], corpus_texts: dict[str, str]
) -> None:
    copies = []
    for owner, text in _checked_texts(codebook):
        norm = _norm(text)
        if norm in gold_statements:
            copies.append(f"{owner}: {text!r} is gold statement {gold_statements[norm]}")
        if norm in corpus_texts:
            copies.append(f"{owner}: {text!r} is corpus line {corpus_texts[norm]}")
    assert not copies, "codebook copies gold/corpus text:\n" + "\n".join(copies)


def test_no_example_contains_a_gold_statement(
    codebook: Codebook, gold_statements: dict[str, str]
) -> None:
    multiword = {norm: raw for norm, raw in gold_statements.items() if len(norm.split()) >= 2}
    copies = [
        f"{owner}: {example!r} contains gold statement {raw}"
        for owner, example in _examples(codebook)
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
        f"{owner}: {example!r} shares {' '.join(run)!r} with {corpus_runs[run]}"
        for owner, example in _examples(codebook)
        for run in sorted(_ngrams(_norm(example).split(), MAX_SHARED_RUN))
        if run in corpus_runs
    ]
    assert not copies, (
        f"codebook examples share {MAX_SHARED_RUN}+ consecutive words with the corpus:\n"
        + "\n".join(copies)
    )


# --- parse_codebook ---------------------------------------------------------------------------

SOURCE = "models/codebook.yaml"


def _theme(theme_id: str = "x", n_examples: int = 5, extra: str = "", prefix: str = "e") -> str:
    examples = ", ".join(f"'{prefix} {i}'" for i in range(n_examples))
    return (
        f"  - id: {theme_id}\n    label: Tema {theme_id}\n    definition: Om {theme_id}\n"
        f"    examples: [{examples}]\n{extra}"
    )


def _other(n_examples: int = 5, extra: str = "") -> str:
    examples = ", ".join(f"'o {i}'" for i in range(n_examples))
    return f"other:\n  definition: Inget tema\n  examples: [{examples}]\n{extra}"


def _error(text: str) -> str:
    """The first problem as `where: what` (where is `file:line`)."""
    with pytest.raises(CodebookError) as excinfo:
        parse_codebook(text, SOURCE)
    problem = excinfo.value.problems[0]
    assert problem.fix.startswith((f"correct it in {SOURCE}", "fix the syntax on that line"))
    return f"{problem.where}: {problem.what}"


def test_a_minimal_codebook_parses_with_defaults() -> None:
    book = parse_codebook("themes:\n" + _theme("a"), SOURCE)
    assert book.source == SOURCE
    assert book.ids == ("a",)
    (theme,) = book.themes
    assert (theme.label, theme.definition) == ("Tema a", "Om a")
    assert theme.examples == tuple(f"e {i}" for i in range(5))
    assert (theme.terms, theme.patterns) == ((), ())


def test_terms_are_case_folded_and_white_space_folded() -> None:
    book = parse_codebook(
        "themes:\n" + _theme("a", extra="    terms: [VFU, '  Gemensam   Bild ']\n"), SOURCE
    )
    assert book.themes[0].terms == ("vfu", "gemensam bild")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "themes:\n" + _theme(extra="    colour: red\n"),
            f"{SOURCE}:6: themes[0].colour: unknown key; allowed here: id, label, definition, "
            "examples, terms, patterns",
        ),
        (
            "themes:\n" + _theme() + "teman: []\n",
            f"{SOURCE}:6: teman: unknown key; allowed here: themes, other",
        ),
        (
            "themes:\n" + _theme() + _other(extra="  terms: [x]\n"),
            f"{SOURCE}:9: other.terms: unknown key; allowed here: definition, examples, patterns",
        ),
    ],
    ids=["theme", "top-level", "other"],
)
def test_unknown_keys_are_rejected_with_the_allowed_ones(text: str, message: str) -> None:
    assert _error(text) == message


@pytest.mark.parametrize("index", [0, 1])
def test_a_bad_pattern_names_theme_and_index(index: int) -> None:
    patterns = ["'\\d+ kommuner'", "'(ohne'"] if index else ["'[a-'", "'ok'"]
    text = "themes:\n" + _theme("a") + _theme("b", extra=f"    patterns: [{', '.join(patterns)}]\n")
    message = _error(text)
    assert message.startswith(
        f"{SOURCE}:10: themes[1].patterns: item {index} {patterns[index]} is not a regular "
        "expression"
    )
    assert message.endswith("quote it in single quotes so YAML keeps its backslashes")


def test_good_patterns_are_kept_as_written() -> None:
    book = parse_codebook(
        "themes:\n" + _theme(extra="    patterns: ['\\b\\d+\\s+av\\s+\\d+\\b']\n"), SOURCE
    )
    assert book.themes[0].patterns == (r"\b\d+\s+av\s+\d+\b",)


@pytest.mark.parametrize("n", [MIN_EXAMPLES, MAX_EXAMPLES])
def test_example_count_at_the_bounds_is_accepted(n: int) -> None:
    book = parse_codebook("themes:\n" + _theme(n_examples=n) + _other(n), SOURCE)
    assert len(book.themes[0].examples) == len(book.other_examples) == n


@pytest.mark.parametrize("n", [0, MIN_EXAMPLES - 1, MAX_EXAMPLES + 1])
def test_example_count_outside_the_bounds_is_rejected(n: int) -> None:
    assert (MIN_EXAMPLES, MAX_EXAMPLES) == (5, 40)
    assert _error("themes:\n" + _theme(n_examples=n)) == (
        f"{SOURCE}:5: themes[0].examples: need 5–40 examples, got {n}"
    )
    assert _error("themes:\n" + _theme() + _other(n)) == (
        f"{SOURCE}:8: other.examples: need 5–40 examples, got {n}"
    )


def test_duplicate_examples_and_ids_are_rejected() -> None:
    text = "themes:\n" + _theme(extra="").replace("'e 1'", "'e 0'")
    assert _error(text) == (
        f"{SOURCE}:5: themes[0].examples: duplicate example 'e 0'; each example once"
    )
    assert _error("themes:\n" + _theme("a") + _theme("a")) == (
        f"{SOURCE}:1: themes: duplicate theme id 'a'; give each theme its own id"
    )


@pytest.mark.parametrize("theme_id", ["other", "ej_tilldelad", "inductive_x", "inductive_01"])
def test_reserved_ids_are_rejected(theme_id: str) -> None:
    assert _error("themes:\n" + _theme("a") + _theme(theme_id)).startswith(
        f"{SOURCE}:6: themes[1].id: {theme_id!r} is reserved for computed themes"
    )


@pytest.mark.parametrize("raw_id", ["Ledarskap", "'1a'", "lär miljö", "''", "null", "42"])
def test_ids_must_be_lowercase_slugs(raw_id: str) -> None:
    assert _error("themes:\n" + _theme(raw_id)).startswith(f"{SOURCE}:2: themes[0].id: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("themes: [\n", f"{SOURCE}:2: not valid YAML"),
        ("teman: []\n", f"{SOURCE}:1: themes: required key missing"),
        ("themes: []\n", f"{SOURCE}:1: themes: List should have at least 1 item"),
        (
            "themes:\n  - id: x\n    label: X\n    examples: [a, b, c, d, e]\n",
            f"{SOURCE}:2: themes[0].definition: required key missing",
        ),
        ("themes:\n" + _theme() + "other: [a]\n", f"{SOURCE}:6: other: Input should be a valid"),
        ("- a\n", f"{SOURCE}:1: expected a mapping with a 'themes' list"),
    ],
)
def test_malformed_codebooks_name_file_and_key(text: str, message: str) -> None:
    assert _error(text).startswith(message)


def test_other_block_is_optional() -> None:
    book = parse_codebook("themes:\n" + _theme("a") + _theme("b"), SOURCE)
    assert (book.other_definition, book.other_examples) == ("", ())
    assert book.texts == tuple(t for theme in book.themes for t in theme.prototype_texts)
    assert set(book.owners) == {0, 1}


def test_texts_and_owners_list_themes_in_order_then_other_examples() -> None:
    book = parse_codebook(
        "themes:\n" + _theme("a", 5, prefix="a") + _theme("b", 6, prefix="b") + _other(7), SOURCE
    )
    assert book.other_definition == "Inget tema"
    expected = (
        "Tema a: Om a",
        *(f"a {i}" for i in range(5)),
        "Tema b: Om b",
        *(f"b {i}" for i in range(6)),
        *(f"o {i}" for i in range(7)),
    )
    assert book.texts == expected
    assert book.owners == (0,) * 6 + (1,) * 7 + (2,) * 7
    assert book.owners[-1] == len(book.themes)
    # The `other` definition is documentation: it is never embedded.
    assert "Inget tema" not in book.texts


def test_shipped_codebook_texts_match_owners(codebook: Codebook) -> None:
    assert len(codebook.texts) == len(codebook.owners)
    assert len(codebook.other_examples) >= MIN_EXAMPLES
    n_other = len(codebook.other_examples)
    assert codebook.texts[-n_other:] == codebook.other_examples
    assert codebook.owners[-n_other:] == (len(codebook.themes),) * n_other
    assert all(MIN_EXAMPLES <= len(t.examples) <= MAX_EXAMPLES for t in codebook.themes)


def test_other_patterns_are_parsed_and_checked() -> None:
    book = parse_codebook(
        "themes:\n" + _theme() + _other(extra="  patterns: ['^läs mer$']\n"), SOURCE
    )
    assert book.other_patterns == ("^läs mer$",)
    message = _error("themes:\n" + _theme() + _other(extra="  patterns: ['(läs']\n"))
    assert message.startswith(f"{SOURCE}:9: other.patterns: item 0 '(läs' is not a regular")
