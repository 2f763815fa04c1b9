"""Region attribution on the real sample documents and the gazetteer's spellings."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pipeline.metadata import parse_metadata
from pipeline.records import (
    SIX_REGIONS,
    Block,
    BlockKind,
    Document,
    Location,
    Region,
    Statement,
)
from pipeline.regions import (
    DocumentMetadata,
    Gazetteer,
    GazetteerError,
    attribute_regions,
    parse_gazetteer,
)


def _region_of(statements: tuple[Statement, ...], text_start: str) -> Region:
    (match,) = [s for s in statements if s.text.startswith(text_start)]
    return match.region


def test_single_region_documents(sample_statements: dict[str, tuple[Statement, ...]]) -> None:
    assert {s.region for s in sample_statements["000"]} == {Region.SODRA}
    assert {s.region for s in sample_statements["001"]} == {Region.STOCKHOLM_GOTLAND}
    assert {s.region for s in sample_statements["002"]} == {Region.NATIONELL}
    assert {s.region for s in sample_statements["004"]} == {Region.SYDOSTRA}


# (statement start, region) for every region section of the 2020 deck, including the
# continuation slides that do not repeat the region in their title.
SECTIONS_003 = [
    ("Ca 897 500 invånare", Region.NORRA),
    ("Ca 2 124 000 invånare", Region.MELLANSVERIGE),
    ("Ca 2 445 000 invånare", Region.STOCKHOLM_GOTLAND),
    ("Ca 1 926 000 invånare", Region.VASTRA),
    ("Ca 1 075 000 invånare", Region.SYDOSTRA),
    ("Ca 1 884 000 invånare", Region.SODRA),
    ("Högt deltagande med bra representation", Region.NATIONELL),
    ("Regional samverkansgrupp (RGS)", Region.VASTRA),
    ("Hur det regionala vårdkompetensrådet ska hantera", Region.VASTRA),
    ("HR-direktör i Västra Götalandsregionen", Region.VASTRA),
    ("Kommunerna deltar inte i dagsläget", Region.SYDOSTRA),
    ("Dimensionering av AT och BT", Region.SYDOSTRA),
    ("6 av 7 regioner", Region.MELLANSVERIGE),
    ("Utmaning med 80 självstyrande kommuner", Region.MELLANSVERIGE),
    ("Önskemål om att inkludera andra yrkesgrupper", Region.MELLANSVERIGE),
    ("Utbildningsråd lyfts fram", Region.STOCKHOLM_GOTLAND),
    ("Delegera tydliga uppdrag", Region.STOCKHOLM_GOTLAND),
    ("FUI-rådet och NUSS", Region.NORRA),
    ("Praktiskt stöd med mallar", Region.NORRA),
    ("Inför mötet har en sammanställning", Region.SODRA),
    ("Frågan diskuterades inte i detta möte", Region.SODRA),
    ("Governo, som även deltagit", Region.NATIONELL),
]


@pytest.mark.parametrize(("start", "region"), SECTIONS_003)
def test_slide_deck_sections_are_attributed_to_their_region(
    sample_statements: dict[str, tuple[Statement, ...]], start: str, region: Region
) -> None:
    assert _region_of(sample_statements["003"], start) is region


def test_every_region_appears_in_the_deck(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    counts = Counter(s.region for s in sample_statements["003"])
    assert all(counts[r] >= 10 for r in (*SIX_REGIONS, Region.NATIONELL))
    assert counts[Region.OKAND] == 0  # every slide is placed by its title or the deck's


@pytest.mark.parametrize(
    ("heading", "region"),
    [
        ("Stockholms sjukvårdsregion", Region.STOCKHOLM_GOTLAND),
        ("Stockholm-Gotlandsregionen", Region.STOCKHOLM_GOTLAND),
        ("Stockholm-Gotlandssjukvårdsregion", Region.STOCKHOLM_GOTLAND),
        ("Uppsala-Örebroregionen", Region.MELLANSVERIGE),
        ("Workshop i Västerås", Region.MELLANSVERIGE),
        ("Samverkan inom SÖSR", Region.SYDOSTRA),
        ("Linköping, 3 maj 2019", Region.SYDOSTRA),
        ("Umeå", Region.NORRA),
        ("Göteborg 12 mars", Region.VASTRA),
        ("Malmö, 13 december 2017", Region.SODRA),
        ("Region Jämtland Härjedalen", Region.NORRA),
        ("Region Kronoberg", Region.SODRA),
        ("Sex sjukvårdsregioner besökta", Region.NATIONELL),
        ("Umeå och Malmö", Region.NATIONELL),
        # genitives
        ("Region Stockholms arbete med kompetensförsörjning", Region.STOCKHOLM_GOTLAND),
        ("Göteborgs stads äldreomsorg", Region.VASTRA),
        ("Samarbetet med Linköpings universitet", Region.SYDOSTRA),
        ("Uppsalas utbildningsplatser", Region.MELLANSVERIGE),
        ("Skånes kommuner", Region.SODRA),
        ("Region Västerbottens VFU-samordnare", Region.NORRA),
        ("VGR:s kompetensråd", Region.VASTRA),
        ("Kalmar läns primärvård", Region.SYDOSTRA),
        # university hospitals and the regions' own bodies
        ("Besök på Sahlgrenska universitetssjukhuset", Region.VASTRA),
        ("Karolinska universitetssjukhuset", Region.STOCKHOLM_GOTLAND),
        ("Karolinska Institutets sjuksköterskeprogram", Region.STOCKHOLM_GOTLAND),
        ("Akademiska sjukhuset", Region.MELLANSVERIGE),
        ("SUS:s akutmottagning", Region.SODRA),
        ("Norrlands universitetssjukhus", Region.NORRA),
        ("Universitetssjukhuset i Linköping", Region.SYDOSTRA),
        ("Örebro universitetssjukhus", Region.MELLANSVERIGE),
        ("Lunds universitet och Malmö universitet", Region.SODRA),
        # Halland: Region Halland and southern Halland in Södra, northern Halland in Västra
        ("Region Halland", Region.SODRA),
        ("Hallands sjukhus Halmstad", Region.SODRA),
        ("Närsjukvården i Kungsbacka", Region.VASTRA),
        # a body in Skåne, not the sydöstra sjukvårdsregion
        ("Sydöstra Skånes samarbetskommitté", Region.SODRA),
        ("Sydöstra", Region.SYDOSTRA),
        # explicit national scope
        ("Socialstyrelsens uppdrag", Region.NATIONELL),
        ("Uppdrag från regeringen", Region.NATIONELL),
        ("Nationell samordning av utbildningsplatser", Region.NATIONELL),
    ],
)
def test_gazetteer_spellings(gazetteer: Gazetteer, heading: str, region: Region) -> None:
    document = Document(
        "x.txt",
        "0" * 64,
        "txt",
        "utf-8",
        (
            Block(BlockKind.HEADING, "Anteckningar", Location(1), level=1),
            Block(BlockKind.HEADING, heading, Location(2), level=2),
            Block(BlockKind.LIST_ITEM, "En punkt", Location(3)),
        ),
    )
    statement = Statement("x.txt:3:1", "x.txt", Location(3), "En punkt", heading_path=(heading,))
    (result,), _ = attribute_regions(document, [statement], gazetteer)
    assert result.region is region
    assert result.region_source == f"heading: {heading}"


def test_metadata_overrides_detection_and_sets_date(
    documents: dict[str, Document],
    sample_statements: dict[str, tuple[Statement, ...]],
    gazetteer: Gazetteer,
) -> None:
    metadata = parse_metadata(
        "document,region,date,meeting\n000_cc70e5e80d086de1.txt,Västra,2017-12-14,Dialogmöte\n",
        "corpus/metadata.csv",
        ["000_cc70e5e80d086de1.txt"],
    )
    statements, info = attribute_regions(
        documents["000"], sample_statements["000"], gazetteer, metadata["000_cc70e5e80d086de1.txt"]
    )
    assert {s.region for s in statements} == {Region.VASTRA}
    assert {s.region_source for s in statements} == {"metadata"}
    assert (info.region, info.date, info.meeting) == (Region.VASTRA, "2017-12-14", "Dialogmöte")


def test_document_dates(documents: dict[str, Document], gazetteer: Gazetteer) -> None:
    dates = {key: attribute_regions(doc, [], gazetteer)[1].date for key, doc in documents.items()}
    assert dates == {
        "000": "2017-12-13",
        "001": "2017-12-12",
        "002": "2017-12-21",
        "003": "2020-12-16",
        "004": "2022-06-01",
    }


@pytest.mark.parametrize(
    "heading",
    [
        "Akademiska utbildningar i vården",  # the adjective, not Akademiska sjukhuset
        "Lunden vid sjukhuset",  # no genitive of "Lund" beyond "Lunds"
        "Nationella vårdkompetensrådet",  # the logo on regional slides
    ],
)
def test_words_that_are_no_region(gazetteer: Gazetteer, heading: str) -> None:
    document = _document((Block(BlockKind.HEADING, heading, Location(1), level=2),))
    statement = Statement("x.txt:2:1", "x.txt", Location(2), "En punkt", heading_path=(heading,))
    (result,), info = attribute_regions(document, [statement], gazetteer)
    assert (result.region, result.region_source) == (Region.OKAND, "no evidence")
    assert info.region is Region.OKAND


def _document(blocks: tuple[Block, ...], **fields: Any) -> Document:
    return Document("x.txt", "0" * 64, "txt", "utf-8", blocks, **fields)


def test_no_evidence_is_okand_and_national_evidence_is_nationell(gazetteer: Gazetteer) -> None:
    # Sentences of the kind that web pages and meeting notes carry without naming a place.
    unplaced = _document(
        (
            Block(BlockKind.HEADING, "Minnesanteckningar", Location(1), level=1),
            Block(
                BlockKind.PARAGRAPH, "Gruppen diskuterade handledarnas arbetsvillkor.", Location(2)
            ),
        )
    )
    national = _document(
        (
            Block(BlockKind.HEADING, "Minnesanteckningar", Location(1), level=1),
            Block(
                BlockKind.PARAGRAPH,
                "Bristen på specialistsjuksköterskor gäller hela landet, enligt Socialstyrelsen.",
                Location(2),
            ),
        )
    )
    assert attribute_regions(unplaced, [], gazetteer)[1].region_source == "no evidence"
    assert attribute_regions(unplaced, [], gazetteer)[1].region is Region.OKAND
    info = attribute_regions(national, [], gazetteer)[1]
    assert (info.region, info.region_source) == (
        Region.NATIONELL,
        "mentions: national 2, regions 0",
    )


def test_the_sample_corpus_has_no_unplaced_statement(
    sample_statements: dict[str, tuple[Statement, ...]],
) -> None:
    # Every sample document names its region or national scope somewhere.
    assert not [s.id for doc in sample_statements.values() for s in doc if s.region is Region.OKAND]


def test_a_stated_publication_date_wins_and_an_update_date_never_counts(
    gazetteer: Gazetteer,
) -> None:
    blocks = (
        Block(BlockKind.HEADING, "Minnesanteckningar", Location(1), level=1),
        Block(BlockKind.PARAGRAPH, "Senast uppdaterad 2023-06-01", Location(2)),
        Block(BlockKind.PARAGRAPH, "Mötet hölls den 4 maj 2023 i Malmö.", Location(3)),
    )
    assert attribute_regions(_document(blocks), [], gazetteer)[1].date == "2023-05-04"
    stated = _document(blocks, published="2023-04-28")
    assert attribute_regions(stated, [], gazetteer)[1].date == "2023-04-28"


def test_a_web_page_title_places_its_statements(gazetteer: Gazetteer) -> None:
    page = Document(
        "p.html",
        "0" * 64,
        "html",
        "utf-8",
        (
            Block(BlockKind.HEADING, "Fler studenter får praktik", Location(1), level=1),
            Block(BlockKind.PARAGRAPH, "Fler handledare utbildas under våren.", Location(2)),
        ),
        title="Fler studenter får praktik - Region Jönköpings län",
    )
    statement = Statement(
        "p.html:2:1", "p.html", Location(2), "Fler handledare utbildas under våren."
    )
    (result,), info = attribute_regions(page, [statement], gazetteer)
    assert result.region is Region.SYDOSTRA
    assert info.region_source == "title: Fler studenter får praktik - Region Jönköpings län"


def test_bad_gazetteer_says_where() -> None:
    with pytest.raises(GazetteerError, match=r"g.yaml:2: regions.Östra: unknown region; allowed"):
        parse_gazetteer("regions:\n  Östra:\n    names: [x]\n", "g.yaml")
    assert DocumentMetadata().region is None


def test_a_group_given_as_a_string_is_an_error_not_letters() -> None:
    with pytest.raises(GazetteerError) as excinfo:
        parse_gazetteer("regions:\n  Södra:\n    names: Skåne\n", "g.yaml")
    [problem] = excinfo.value.problems
    assert problem.where == "g.yaml:3"
    assert problem.what == "regions.Södra.names: Input should be a valid list (got 'Skåne')"
    assert 'names: ["region skåne"' in problem.fix


def test_a_bad_pattern_names_its_line() -> None:
    with pytest.raises(GazetteerError) as excinfo:
        parse_gazetteer("regions:\n  Södra:\n    names: [malmö, '(lund']\n", "g.yaml")
    [problem] = excinfo.value.problems
    assert problem.where == "g.yaml:3"
    assert problem.what.startswith("regions.Södra.names[1]: '(lund' is not a regular expression")
