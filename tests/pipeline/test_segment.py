"""Segmentation on the real sample documents."""

from __future__ import annotations

from pipeline.config import Config
from pipeline.records import Block, BlockKind, Document, Location, Polarity, Statement
from pipeline.segment import segment_document


def _find(statements: tuple[Statement, ...], text: str) -> list[Statement]:
    return [s for s in statements if s.text == text]


def test_table_row_gives_one_mojlighet_and_one_hinder_under_its_category(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    row = [s for s in sample_statements["000"] if s.location.line == 76]
    assert [(s.text, s.polarity, s.table_column) for s in row] == [
        ("Gemensamt intresse --> gemensamma möjligheter", Polarity.MOJLIGHET, "Möjligheter"),
        ("Nuläge", Polarity.HINDER, "Hinder"),
    ]
    assert all(s.heading_path[-1] == "Attraktionskraft" for s in row)


def test_hinder_only_cells_keep_their_column(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    (cell,) = _find(sample_statements["001"], "Takbeloppet styr lärosätena")
    assert cell.polarity is Polarity.HINDER
    assert cell.heading_path[-1] == "Finansiering"
    assert cell.location.line == 91


def test_polarity_from_heading_and_styrkor_svagheter(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    (bullet,) = _find(
        sample_statements["000"], "Tydlig karriärstege – tydligt hur man kan arbeta vidare"
    )
    assert bullet.polarity is Polarity.MOJLIGHET
    assert _find(sample_statements["004"], "Flexibilitet")[0].polarity is Polarity.STYRKA
    assert _find(sample_statements["004"], "Dubbelarbete")[0].polarity is Polarity.SVAGHET


def test_group_is_recorded_and_groups_are_siblings(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    (item,) = _find(sample_statements["000"], "Formaliserade uppdrag")
    assert item.group == "Grupp 4"
    assert "Grupp 3" not in item.heading_path
    joint = [s for s in sample_statements["000"] if "Gemensam diskussion" in s.heading_path]
    assert joint and all(s.group == "" for s in joint)
    (numbered,) = _find(sample_statements["001"], "Tydligt uppdrag/roller")
    assert numbered.group == "Grupp 1"


def test_abbreviations_never_split_a_sentence(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    texts = [s.text for s in sample_statements["003"]]
    assert (
        "Resonemang fördes om 1 repr. för respektive lärosäte och region samt 2-5 repr. "
        "för kommunerna." in texts
    )
    assert not any(t.endswith((" repr.", " bl.a.", " t.ex.", " ang.", " exv.")) for t in texts)
    prose = [s.text for s in sample_statements["001"] if s.location.line == 29]
    assert any(t.startswith("Fakta som behövs är t.ex. pensionsavgångar") for t in prose)


def test_prose_is_split_into_sentences(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    line7 = [s.text for s in sample_statements["002"] if s.location.line == 7]
    assert len(line7) >= 3
    assert [s.id for s in sample_statements["002"] if s.location.line == 7][:2] == [
        "002_324f8cb48e0e37e8.txt:7:1",
        "002_324f8cb48e0e37e8.txt:7:2",
    ]


def test_non_statements_are_dropped(sample_statements: dict[str, tuple[Statement, ...]]) -> None:
    all_texts = [s.text for group in sample_statements.values() for s in group]
    for junk in (
        "Fika",
        "Lunch",
        "09.30",
        "Möjligheter",
        "Grupp 1",
        "Nationella",
        "vårdkompetensrådet",
        "7 oktober",
        "1.",
        "Segment 2 – Hinder och möjligheter",
    ):
        assert junk not in all_texts, junk
    assert not any("<" in t and ">" in t and "ul" in t for t in all_texts)
    assert not any(set(t) <= set("-\t ") for t in all_texts)


def test_statement_ids_are_unique_and_inputs_untouched(
    documents: dict[str, Document], config: Config, abbreviations: frozenset[str]
) -> None:
    before = documents["003"]
    first = segment_document(before, config.segment, abbreviations)
    again = segment_document(before, config.segment, abbreviations)
    assert first == again
    assert len({s.id for s in first}) == len(first)
    assert documents["003"] is before


def test_boilerplate_needs_repetition_across_pages(config: Config) -> None:
    blocks: list[Block] = []
    for page in range(1, 5):
        blocks.append(Block(BlockKind.BREAK, "", Location(1, page)))
        blocks.append(Block(BlockKind.PARAGRAPH, "Region Exempel logga", Location(1, page)))
        blocks.append(Block(BlockKind.LIST_ITEM, f"Unik punkt {page}", Location(2, page)))
    document = Document("x.pptx", "0" * 64, "pptx", "binary", tuple(blocks))
    texts = [s.text for s in segment_document(document, config.segment, frozenset())]
    assert texts == ["Unik punkt 1", "Unik punkt 2", "Unik punkt 3", "Unik punkt 4"]
