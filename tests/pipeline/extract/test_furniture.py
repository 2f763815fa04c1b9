"""Web pages keep their content and drop their furniture (models/furniture.yaml).

The pages are saved Swedish web pages written for these tests in the style of the regions' and
agencies' sites: tests/data/webpages/ (four news pages) and tests/data/webpages/furniture/
(a page with a cookie dialog, skip link, breadcrumbs, share links and a contact block of
headings; a page of bare <div>s with class names only; an agency page with a link menu outside
<nav> and contact people as paragraphs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from extract_builders import mutated
from hypothesis import HealthCheck, given, settings

from pipeline.config import Config, LimitsConfig
from pipeline.extract import (
    ExtractError,
    Furniture,
    FurnitureError,
    extract_document,
    parse_furniture,
)
from pipeline.records import Document, Region, Statement
from pipeline.regions import Gazetteer, attribute_regions
from pipeline.segment import segment_document

PAGES = Path(__file__).resolve().parents[2] / "data" / "webpages"

# Words that only furniture carries on these pages: none may survive in a statement.
FURNITURE_MARKS = (
    "Läs mer", "Läs hela", "Visa alla", "Senast uppdaterad", "Pressmeddelande", "Nyhet •",
    "Publicerad", "kakor", "cookies", "Godkänn", "Dela", "Facebook", "LinkedIn", "Skriv ut",
    "Telefon", "Tel.", "Växel", "@", "©", "Copyright", "Startsida", "Du är här", "Hoppa till",
    "Lättläst", "In English", "Meny", "Sarah Lindqvist", "Johan Ek", "Anna Berg", "Per Holm",
    "Utvecklingsledare", "Kommunikatör", "Box 517", "Postadress", "Var den här sidan",
    "Följ oss", "Tillgänglighetsredogörelse", "Endast nödvändiga",
)  # fmt: skip

# Every content sentence of each page (by its start), the date it was published and its region.
CONTENT: dict[str, tuple[tuple[str, ...], str, Region]] = {
    "region_jkpg_vfu.html": (
        (
            "Regionen tar emot fler sjuksköterskestudenter",
            "Fler handledare utbildas under våren.",
            "Kommunerna och regionen delar på kostnaden",
            "Ett regionalt vårdkompetensråd samordnar",
            "Målet är att fler studenter ska vilja stanna",
        ),
        "2023-01-20",
        Region.SYDOSTRA,  # only its <title> says "Region Jönköpings län"
    ),
    "region_kalmar_journal.html": (
        (
            "Din journal flyttas över",
            "Ja, journalen går att läsa via e-tjänsten",
            "Inloggningen till journalsystemet sker med e-legitimation.",
            "Journalsystemet stänger för underhåll",
        ),
        "2022-09-12",
        Region.SYDOSTRA,
    ),
    "region_ost_journalsystem.html": (
        (
            "Det nya journalsystemet införs",
            "Journalsystemet ersätter tre äldre system.",
            "Personalen får utbildning i journalsystemet",
            "Journalsystemet ska göra det lättare att dela journalen",
            "Under de första veckorna",
        ),
        "2022-05-03",
        Region.SYDOSTRA,
    ),
    "region_ost_vaccination.html": (
        (
            "Vaccinationen mot säsongsinfluensa startar",
            "Personer över 65 år erbjuds",
            "Boka tid via e-tjänsten",
            "Journalsystemet skickar en påminnelse",
        ),
        "2022-10-01",
        Region.SYDOSTRA,
    ),
    "furniture/region_halland_vfu.html": (
        (
            "Region Halland och Högskolan i Halmstad utökar",
            "Samarbetet sker inom Södra sjukvårdsregionen",
            "Studenterna får en fast handledare",
            "Vårdcentralerna i Laholm och Hylte",
            "Fyrtio nya platser inom slutenvården",
            "Tolv platser inom primärvården.",
            "En gemensam introduktionsdag",
            "Bristen på sjuksköterskor är stor",
            "Fler platser gör det lättare att rekrytera",
        ),
        "2023-05-04",  # article:published_time, not the update date at the foot of the page
        Region.SODRA,
    ),
    "furniture/sahlgrenska_nyhet.html": (
        (
            "Sahlgrenska Universitetssjukhuset startar",
            "Programmet omfattar intensivvård",
            "Under utbildningen arbetar deltagarna",
            "Ansökan görs via chefen",
            "Urvalet sker i samråd med Västra Götalandsregionens",
            "Första omgången startar i augusti",
        ),
        "2024-02-12",
        Region.VASTRA,
    ),
    "furniture/nationell_kartlaggning.html": (
        (
            "Socialstyrelsen har kartlagt",
            "Resultatet visar stora skillnader",
            "Nästan alla regioner saknar",
            "Samverkan med lärosätena fungerar bäst",
            "Uppföljningen av hur många som stannar",
            "Myndigheten rekommenderar en nationell samordning",
        ),
        "2023-11-20",
        Region.NATIONELL,
    ),
}


@pytest.fixture(scope="module")
def furniture(config: Config) -> Furniture:
    path = config.resolve(config.furniture)
    return parse_furniture(path.read_text(encoding="utf-8"), str(path))


def _read(
    name: str,
    furniture: Furniture | None,
    config: Config,
    abbreviations: frozenset[str],
    gazetteer: Gazetteer,
) -> tuple[Document, tuple[Statement, ...], str]:
    data = (PAGES / name).read_bytes()
    document = extract_document(Path(name).name, data, config.limits, furniture)
    found = segment_document(document, config.segment, abbreviations)
    statements, info = attribute_regions(document, found, gazetteer)
    return document, statements, info.date


@pytest.mark.parametrize("name", sorted(CONTENT))
def test_a_page_keeps_its_content_and_drops_its_furniture(
    name: str,
    furniture: Furniture,
    config: Config,
    abbreviations: frozenset[str],
    gazetteer: Gazetteer,
) -> None:
    starts, date, region = CONTENT[name]
    document, statements, found_date = _read(name, furniture, config, abbreviations, gazetteer)
    texts = [s.text for s in statements]
    for start in starts:
        assert sum(t.startswith(start) for t in texts) == 1, (start, texts)
    assert len(texts) == len(starts), texts  # nothing else: no furniture statement left
    for statement in statements:
        for mark in FURNITURE_MARKS:
            assert mark not in statement.text, (mark, statement.text)
            assert all(mark not in h for h in statement.heading_path), statement.heading_path
    assert document.n_dropped > 0
    assert found_date == date
    assert {s.region for s in statements} == {region}


@pytest.mark.parametrize("name", sorted(CONTENT))
def test_furniture_rules_only_take_away(
    name: str,
    furniture: Furniture,
    config: Config,
    abbreviations: frozenset[str],
    gazetteer: Gazetteer,
) -> None:
    # Read without the rules, the page gives every statement read with them, and more.
    with_rules = _read(name, furniture, config, abbreviations, gazetteer)[1]
    without = _read(name, None, config, abbreviations, gazetteer)[1]
    assert {s.text for s in with_rules} < {s.text for s in without}
    assert without[0].document == with_rules[0].document


def test_a_contact_block_of_short_headings_nests_nothing(
    furniture: Furniture, config: Config, abbreviations: frozenset[str], gazetteer: Gazetteer
) -> None:
    # "Kontakt" > "Sarah Lindqvist" > "Utvecklingsledare…" read as nested headings would file
    # the phone number and e-mail address under a person; dropped, they file nothing.
    name = "furniture/region_halland_vfu.html"
    without = _read(name, None, config, abbreviations, gazetteer)[1]
    assert any(s.heading_path[:2] == ("Kontakt", "Sarah Lindqvist") for s in without)
    statements = _read(name, furniture, config, abbreviations, gazetteer)[1]
    assert not any("Kontakt" in s.heading_path for s in statements)
    assert max(len(s.heading_path) for s in statements) == 1  # a section under the title


def test_publication_date_order(furniture: Furniture, config: Config) -> None:
    def published(head: str, body: str) -> str:
        page = f"<html lang='sv'><head>{head}</head><body><h1>Nyhet</h1>{body}</body></html>"
        return extract_document("p.html", page.encode(), config.limits, furniture).published

    body = "<p>Vården i regionen får nya resurser för att korta köerna under hösten.</p>"
    updated = "<p>Senast uppdaterad <time datetime='2024-03-01'>1 mars 2024</time></p>"
    assert published("", body + updated) == ""  # an update date is no publication date
    assert published("", "<p>Publicerad 4 maj 2023</p>" + body + updated) == "2023-05-04"
    assert published("", "<p><time datetime='2022-01-31T10:00'>31 jan</time></p>" + body) == (
        "2022-01-31"
    )
    meta = "<meta name='dcterms.date' content='2021-12-24'>"
    assert published(meta, "<p>Publicerad 4 maj 2023</p>" + body) == "2021-12-24"


def test_a_list_of_content_is_not_a_menu(furniture: Furniture, config: Config) -> None:
    # Only a list whose every item is one link and nothing else is taken for a menu.
    items = "".join(
        f"<li><a href='/{n}'>{text}</a>{tail}</li>"
        for n, (text, tail) in enumerate(
            [
                ("Handledarutbildning", " ges två gånger per termin för alla yrkesgrupper."),
                ("Studentmottagning", " samordnas av utbildningsenheten i varje region."),
                ("Introduktion", " för nya studenter sker första veckan."),
            ]
        )
    )
    page = f"<html lang='sv'><body><h1>Praktik</h1><ul>{items}</ul></body></html>"
    document = extract_document("p.html", page.encode(), config.limits, furniture)
    assert len(document.blocks) == 4 and document.n_dropped == 0


def test_an_article_header_keeps_its_title(furniture: Furniture, config: Config) -> None:
    page = (
        "<html lang='sv'><body><header><p>Logotyp</p></header><article><header>"
        "<h1>Ny vårdcentral öppnar i Hylte</h1><p>Ingress om den nya vårdcentralen och dess "
        "personal.</p></header><p>Vårdcentralen har plats för fyratusen listade patienter."
        "</p></article></body></html>"
    )
    document = extract_document("p.html", page.encode(), config.limits, furniture)
    assert document.blocks[0].text == "Ny vårdcentral öppnar i Hylte"
    assert document.n_dropped == 1  # the page header's logo line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("elements:\n  tagz: [nav]\n", "elements.tagz"),
        ("lines: ['läs (mer']\n", r"lines\[0\]: 'läs \(mer' is not a regular expression"),
        ("lines: [\n", "not valid YAML"),
        ("contact:\n  max_words: 0\n", "contact.max_words"),
    ],
)
def test_a_bad_furniture_file_says_where(text: str, message: str) -> None:
    with pytest.raises(FurnitureError, match=message) as caught:
        parse_furniture(text, "models/furniture.yaml")
    assert str(caught.value).startswith("models/furniture.yaml:")
    assert all(p.fix for p in caught.value.problems)


def test_mutated_pages_give_a_document_or_an_extract_error(furniture: Furniture) -> None:
    # Byte flips, truncations and insertions into a saved page, read with the furniture rules.
    original = (PAGES / "furniture" / "region_halland_vfu.html").read_bytes()
    limits = LimitsConfig(timeout_seconds=20)

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(original))
    def run(data: bytes) -> None:
        try:
            document = extract_document("fuzz.html", data, limits, furniture)
        except ExtractError as exc:
            assert str(exc).startswith("fuzz.html: "), exc
        else:
            assert document.n_dropped >= 0

    run()


def test_classes_of_the_page_container_drop_nothing(furniture: Furniture, config: Config) -> None:
    # Publishing systems class <body> and <main> by layout ("has-sidebar", "nav-fixed").
    page = (
        "<html lang='sv' class='cookies-not-set'><body class='page has-sidebar nav-fixed'>"
        "<main class='main-menu-open'><h1>Handledning</h1><p>Handledarna får två dagars "
        "utbildning innan studenterna kommer.</p></main></body></html>"
    )
    document = extract_document("p.html", page.encode(), config.limits, furniture)
    assert [b.text for b in document.blocks] == [
        "Handledning",
        "Handledarna får två dagars utbildning innan studenterna kommer.",
    ]
    assert document.n_dropped == 0
