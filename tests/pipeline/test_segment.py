"""Segmentation on the real sample documents."""

from __future__ import annotations

from pipeline.config import Config
from pipeline.extract import extract_document
from pipeline.records import Block, BlockKind, Document, Location, Polarity, Statement
from pipeline.segment import segment_document


def _find(statements: tuple[Statement, ...], text: str) -> list[Statement]:
    return [s for s in statements if s.text == text]


def _segment_text(text: str, config: Config, abbreviations: frozenset[str]) -> list[Statement]:
    """Extract and segment a small plain-text document the way the corpus is read."""
    document = extract_document("anteckningar.txt", text.encode("utf-8"), config.limits)
    return list(segment_document(document, config.segment, abbreviations))


def _prose(text: str, config: Config, abbreviations: frozenset[str]) -> list[str]:
    """The sentences of one paragraph of prose."""
    block = Block(BlockKind.PARAGRAPH, text, Location(1))
    document = Document("x.txt", "0" * 64, "txt", "utf-8", (block,))
    return [s.text for s in segment_document(document, config.segment, abbreviations)]


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


ABBREVIATED_PROSE = (
    "Vi behöver fler yrkesgrupper, exv. Undersköterskor och sjuksköterskor. "
    "Nästa punkt gäller kartläggning. "
    "Flera aktörer, bl.a. Region Halland, ingår inte i RGS. "
    "Underlaget kommer t.ex. Från Socialstyrelsen och UKÄ. "
    "Frågan ang. VFU-platser lyftes av flera. "
    "Utbildningen tar ca. Tre år. "
    "Kommunerna efterfrågar statl. Stöd för kartläggning. "
    "Rådet består av 1 repr. Region Halland och 1 repr. Högskolan i Halmstad. "
    "Nästa möte hålls i mars."
)


def test_listed_abbreviations_before_a_capital_never_end_a_sentence(
    config: Config, abbreviations: frozenset[str]
) -> None:
    assert _prose(ABBREVIATED_PROSE, config, abbreviations) == [
        "Vi behöver fler yrkesgrupper, exv. Undersköterskor och sjuksköterskor.",
        "Nästa punkt gäller kartläggning.",
        "Flera aktörer, bl.a. Region Halland, ingår inte i RGS.",
        "Underlaget kommer t.ex. Från Socialstyrelsen och UKÄ.",
        "Frågan ang. VFU-platser lyftes av flera.",
        "Utbildningen tar ca. Tre år.",
        "Kommunerna efterfrågar statl. Stöd för kartläggning.",
        "Rådet består av 1 repr. Region Halland och 1 repr. Högskolan i Halmstad.",
        "Nästa möte hålls i mars.",
    ]
    # The list in models/abbreviations.txt is what holds these together: without it the
    # sentencizer ends a sentence at each of them (spaCy itself knows t.ex., bl.a. and ang.).
    unlisted = _prose(ABBREVIATED_PROSE, config, frozenset())
    assert unlisted != _prose(ABBREVIATED_PROSE, config, abbreviations)
    ends = {sentence.rsplit(" ", 1)[-1] for sentence in unlisted}
    assert {"exv.", "ca.", "statl.", "repr."} <= ends


def test_merged_sentences_are_verbatim_spans_of_the_paragraph(
    documents: dict[str, Document], sample_statements: dict[str, tuple[Statement, ...]]
) -> None:
    (merged,) = [s for s in sample_statements["001"] if s.id.endswith(":29:3")]
    assert merged.text == (
        "Hur kan vi bättre effektivisera utbildningen, ska vissa utbildningar styras till "
        "specifika städer? (nivåstrukturering av utbildning?)"
    )
    for key, statements in sample_statements.items():
        prose = {
            b.location: " ".join(b.text.split())
            for b in documents[key].blocks
            if b.kind in (BlockKind.PARAGRAPH, BlockKind.NOTE)
        }
        for statement in statements:
            if statement.location in prose:
                assert statement.text in prose[statement.location], statement.id


def test_formula_cells_are_kept_and_numbers_dates_and_rules_dropped(
    config: Config, sample_statements: dict[str, tuple[Statement, ...]]
) -> None:
    row = [s for s in sample_statements["001"] if s.location.line == 86]
    assert [(s.id, s.text, s.polarity) for s in row] == [
        ("001_aeb9084501ce30c8.txt:86:1", "1+1-->3", Polarity.MOJLIGHET),
        ("001_aeb9084501ce30c8.txt:86:2", "Oklarhet kring finansiering", Polarity.HINDER),
    ]
    cells = ["12", "3/10", "sid 4", "09.30", "10.00–12.00", "2020-12-16", "7 oktober", "-----"]
    cells += ["1.", "1+1-->3", "50 % -> 65 %", "2 + 2 = 5"]
    blocks = tuple(
        Block(BlockKind.LIST_ITEM, text, Location(line)) for line, text in enumerate(cells, 1)
    )
    document = Document("x.txt", "0" * 64, "txt", "utf-8", blocks)
    kept = [s.text for s in segment_document(document, config.segment, frozenset())]
    assert kept == ["1+1-->3", "50 % -> 65 %", "2 + 2 = 5"]


def test_wrapped_lines_are_part_of_their_statement(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    def at(key: str, line: int) -> list[str]:
        return [s.text for s in sample_statements[key] if s.location.line == line]

    # An unmarked line under an unfinished bullet is the bullet's second paragraph.
    assert at("004", 100) == [
        "Verksamhet med solidarisk finansiering via årliga överenskommelser Exempel: RCC, CSD, RCSO"
    ]
    assert at("004", 103)[0].endswith(
        "sjukvårdsregioner Vårdförlopp och övrig kunskapsstyrning, "
        "ex NPO processledare, kommun- och patientrepresentanter"
    )
    assert at("004", 105)[0].endswith(
        "i respektive region Exempel: kunskapsstyrning, "
        "ledarskapsprogram, RSL stab, samverkansgrupper"
    )
    # Lower-case lines are wrapped prose; the "*" line after them is a new item.
    assert at("004", 225) == ["Detta gjorde vi för att uppnå det enastående resultatet!"]
    assert at("001", 93) == [
        "Tillgängliggöra faktaunderlag (kval, kvant) vård/utbildning nationellt/regionalt"
    ]
    assert at("001", 95) == ["Faktaunderlag saknas"]
    # A lower-case dash "sub-item" under an unfinished item is the rest of its sentence.
    assert at("003", 363)[0].endswith("ser ut - vilka frågor ska hanteras var.")
    for key, line in (
        ("004", 101),
        ("004", 104),
        ("004", 106),
        ("004", 226),
        ("001", 94),
        ("003", 364),
    ):
        assert at(key, line) == [], (key, line)


REPEATED_DECK = """Sydöstra sjukvårdsregionen

Stärkt gemensamt arbete



Var vill vi vara om 2-6 år?

Tänkbara områden för stärkt samarbete:

- Långsiktig och hållbar arbetsfördelning (tillgänglighet, nivåstrukturering, högspecialiserad vård)
- Effektiva processer (inget dubbelarbete, digitalisering)
- Gemensamma investeringar



Övning: områden för stärkt samarbete

- 3 stationer
- 2 områden per bord



Var vill vi vara om 2-6 år?

Tänkbara områden för stärkt samarbete:

- Långsiktig och hållbar arbetsfördelning (tillgänglighet, nivåstrukturering, högspecialiserad vård)
- Effektiva processer (inget dubbelarbete, digitalisering)
- Gemensamma investeringar
"""


def test_a_slide_shown_twice_counts_once(config: Config, abbreviations: frozenset[str]) -> None:
    found = _segment_text(REPEATED_DECK, config, abbreviations)
    assert [(s.location.line, s.text) for s in found] == [
        (9, "Tänkbara områden för stärkt samarbete:"),
        (
            11,
            "Långsiktig och hållbar arbetsfördelning (tillgänglighet, nivåstrukturering, "
            "högspecialiserad vård)",
        ),
        (12, "Effektiva processer (inget dubbelarbete, digitalisering)"),
        (13, "Gemensamma investeringar"),
        (19, "3 stationer"),
        (20, "2 områden per bord"),
    ]
    assert found[1].heading_path == ("Var vill vi vara om 2-6 år?",)


GROUP_TABLES = """Stockholms sjukvårdsregion

Segment 2 – Hinder och möjligheter

Grupp 1

Möjligheter	Hinder
Gemensam målbild	Olika finansiering
Processer olika (alla nivåer)	Processer olika (alla nivåer)

Grupp 2

Möjligheter	Hinder
Gemensam målbild	Olika finansiering
"""


def test_same_words_in_another_group_or_column_are_kept(
    config: Config,
    abbreviations: frozenset[str],
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    found = _segment_text(GROUP_TABLES, config, abbreviations)
    assert [(s.group, s.polarity, s.text) for s in found] == [
        ("Grupp 1", Polarity.MOJLIGHET, "Gemensam målbild"),
        ("Grupp 1", Polarity.HINDER, "Olika finansiering"),
        ("Grupp 1", Polarity.MOJLIGHET, "Processer olika (alla nivåer)"),
        ("Grupp 1", Polarity.HINDER, "Processer olika (alla nivåer)"),
        ("Grupp 2", Polarity.MOJLIGHET, "Gemensam målbild"),
        ("Grupp 2", Polarity.HINDER, "Olika finansiering"),
    ]
    # The sample's Ledarskap table has the same word in both columns, and 001 has the same
    # cell under two table titles ("Tydliga roller", "Tydliga uppdrag").
    both = [(s.text, s.polarity) for s in sample_statements["000"] if s.location.line == 99]
    assert both == [("Komplexitet", Polarity.MOJLIGHET), ("Komplexitet", Polarity.HINDER)]
    twice = _find(sample_statements["001"], "Processer olika (alla nivåer)")
    assert [s.heading_path[-1] for s in twice] == ["Tydliga roller", "Tydliga uppdrag"]


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
