"""Region attribution on the real sample documents and the gazetteer's spellings."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.metadata import parse_metadata
from pipeline.records import Document, Region, Statement
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
    assert all(counts[r] >= 10 for r in Region)


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
    ],
)
def test_gazetteer_spellings(gazetteer: Gazetteer, heading: str, region: Region) -> None:
    from pipeline.records import Block, BlockKind, Location

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
