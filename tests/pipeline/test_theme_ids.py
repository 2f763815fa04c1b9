"""Inductive theme ids kept from the previous run (pipeline/theme_ids.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.config import PROJECT_ROOT, Config
from pipeline.extract import extract_document
from pipeline.records import Location, Statement
from pipeline.regions import Gazetteer, attribute_regions
from pipeline.segment import segment_document
from pipeline.theme_ids import keep_theme_ids
from pipeline.themes import (
    INDUCTIVE_PREFIX,
    UNASSIGNED_ID,
    Assignment,
    Theme,
    ThemeResult,
    assign_themes,
    load_stopwords,
    parse_codebook,
)

Encode = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def _statement(sid: str) -> Statement:
    return Statement(id=sid, document="d.txt", text=sid, location=Location(page=1, line=1))


def _result(members: dict[str, list[str]], unassigned: list[str]) -> ThemeResult:
    """A result with codebook theme `mål`, the inductive themes `members` (in that order) and
    ej_tilldelad; statement ids are their texts."""
    themes = [Theme("mål", "Mål", "codebook", (), 0, ())]
    themes += [Theme(t, f"label of {t}", "inductive", (), len(m), ()) for t, m in members.items()]
    themes.append(Theme(UNASSIGNED_ID, "ej tilldelad", "unassigned", (), len(unassigned), ()))
    owner = {sid: t for t, m in members.items() for sid in m} | dict.fromkeys(
        unassigned, UNASSIGNED_ID
    )
    ids = sorted(owner)
    column = {t.id: j for j, t in enumerate(themes)}
    probabilities = np.zeros((len(ids), len(themes)))
    for i, sid in enumerate(ids):
        probabilities[i, column[owner[sid]]] = 1.0
    assignments = tuple(Assignment(sid, owner[sid], owner[sid], 0.5, "hdbscan") for sid in ids)
    return ThemeResult(tuple(themes), assignments, 0.5, probabilities)


def test_a_theme_still_there_keeps_its_id_and_a_new_one_gets_a_new_number() -> None:
    # Before: 01 = a-statements, 02 = b-statements. Now a new, larger c-cluster comes first.
    previous = {f"a{i}": "inductive_01" for i in range(5)} | {
        f"b{i}": "inductive_02" for i in range(4)
    }
    now = _result(
        {
            "inductive_01": [f"c{i}" for i in range(8)],
            "inductive_02": [f"a{i}" for i in range(5)] + ["a9"],
            "inductive_03": [f"b{i}" for i in range(3)],
        },
        ["x"],
    )
    statements = [_statement(a.statement_id) for a in now.assignments]
    kept = keep_theme_ids(now, statements, previous)
    theme_of = {a.statement_id: a.theme_id for a in kept.assignments}
    assert {theme_of[f"a{i}"] for i in range(5)} == {"inductive_01"}
    assert {theme_of[f"b{i}"] for i in range(3)} == {"inductive_02"}
    assert {theme_of[f"c{i}"] for i in range(8)} == {"inductive_03"}
    assert theme_of["x"] == UNASSIGNED_ID
    assert [t.id for t in kept.themes] == [
        "mål", "inductive_01", "inductive_02", "inductive_03", UNASSIGNED_ID
    ]  # fmt: skip
    # Labels and sizes travel with their theme; probability columns follow the themes.
    assert [t.size for t in kept.themes[1:4]] == [6, 3, 8]
    assert kept.themes[3].label == "label of inductive_01"
    assert kept.probabilities is not None
    for i, a in enumerate(kept.assignments):
        column = [t.id for t in kept.themes].index(a.theme_id)
        assert kept.probabilities[i, column] == 1.0


def test_a_theme_that_only_touches_an_old_one_does_not_take_its_id() -> None:
    previous = {f"a{i}": "inductive_01" for i in range(10)}
    now = _result({"inductive_01": ["a0", *(f"n{i}" for i in range(9))]}, [])
    statements = [_statement(a.statement_id) for a in now.assignments]
    kept = keep_theme_ids(now, statements, previous)
    assert {a.theme_id for a in kept.assignments} == {"inductive_02"}


def test_without_a_previous_run_nothing_changes() -> None:
    now = _result({"inductive_01": ["a", "b"], "inductive_02": ["c"]}, ["x"])
    statements = [_statement(a.statement_id) for a in now.assignments]
    assert keep_theme_ids(now, statements, {}) is now


WEB_PAGES = PROJECT_ROOT / "tests" / "data" / "webpages"


@pytest.mark.slow
def test_adding_a_document_leaves_the_theme_ids_of_unchanged_statements(
    sample_statements: dict[str, tuple[Statement, ...]],
    encode: Encode,
    config: Config,
    abbreviations: frozenset[str],
    gazetteer: Gazetteer,
) -> None:
    """The sample corpus with three news pages on a new journal system (a topic the codebook
    lacks, so an inductive theme), then one more document of IT complaints, which joins that
    theme: the theme grows, and the statements it had keep their id. (The renumbering case, a
    new larger cluster coming first, is the hand-made test above.)"""
    codebook_path = config.resolve(config.themes.codebook)
    codebook = parse_codebook(codebook_path.read_text(encoding="utf-8"), str(codebook_path))
    stopwords = load_stopwords(config.resolve(config.stopwords_extra).read_text(encoding="utf-8"))
    codebook_vectors = encode(codebook.texts)
    pages: list[Statement] = []
    for path in sorted(WEB_PAGES.glob("*.html")):
        document = extract_document(path.name, path.read_bytes(), config.limits)
        found = segment_document(document, config.segment, abbreviations)
        pages += attribute_regions(document, found, gazetteer)[0]
    it_lines = (PROJECT_ROOT / "tests" / "data" / "it_statements.txt").read_text(encoding="utf-8")
    added = extract_document("nytt_it.txt", it_lines.encode("utf-8"), config.limits)
    added_statements = attribute_regions(
        added, segment_document(added, config.segment, abbreviations), gazetteer
    )[0]
    before = [s for key in sorted(sample_statements) for s in sample_statements[key]] + pages
    after = before + list(added_statements)

    def themes(statements: list[Statement], previous: dict[str, str]) -> dict[str, str]:
        result = assign_themes(
            statements,
            encode([s.text for s in statements]),
            codebook,
            codebook_vectors,
            config.themes,
            stopwords,
        )
        kept = keep_theme_ids(result, statements, previous)
        return {a.statement_id: a.theme_id for a in kept.assignments}

    first = themes(before, {})
    second = themes(after, first)
    inductive = [sid for sid, theme in first.items() if theme.startswith(INDUCTIVE_PREFIX)]
    assert inductive, "the journal pages form an inductive theme"
    # HDBSCAN may drop a border statement to unassigned when the cluster grows; the ones it
    # keeps in an inductive theme (most of them) keep their id, not a renumbered one.
    still = [sid for sid in inductive if second[sid].startswith(INDUCTIVE_PREFIX)]
    assert len(still) * 2 > len(inductive), (first, second)
    assert [second[sid] for sid in still] == [first[sid] for sid in still]
    joined = {second[s.id] for s in added_statements} & {first[sid] for sid in inductive}
    assert joined, "the added document's statements join the theme (so its members changed)"
