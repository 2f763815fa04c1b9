"""metadata.csv: every problem named with its line, the columns and regions allowed."""

from __future__ import annotations

import pytest

from pipeline.metadata import MetadataError, parse_metadata
from pipeline.records import Region

DOCS = ["a.txt", "sub/b.docx"]
SOURCE = "korpus/metadata.csv"


def _problems(text: str) -> list[str]:
    with pytest.raises(MetadataError) as excinfo:
        parse_metadata(text, SOURCE, DOCS)
    return [f"{p.where}: {p.what}" for p in excinfo.value.problems]


def test_rows_are_read_with_header_names_in_any_case() -> None:
    text = "Document,REGION , date,Meeting\na.txt,västra,2017-12-13,Dialogmöte\nsub/b.docx,,,\n"
    metadata = parse_metadata(text, SOURCE, DOCS)
    assert metadata["a.txt"].region is Region.VASTRA
    assert (metadata["a.txt"].date, metadata["a.txt"].meeting) == ("2017-12-13", "Dialogmöte")
    assert metadata["sub/b.docx"].region is None


def test_every_problem_is_listed_with_its_line() -> None:
    text = (
        "document,region,date\n"
        "a.txt,Gotland,2017-12-13\n"
        "\n"
        "c.txt,Södra,\n"
        "a.txt,Södra,\n"
        "sub/b.docx,,2017-02-30\n"
        ",Södra,\n"
    )
    assert _problems(text) == [
        f"{SOURCE}:2: region 'Gotland' is not a region; allowed: Norra, Mellansverige, "
        "Stockholm-Gotland, Västra, Sydöstra, Södra, Nationell (or empty: keep the detected one)",
        f"{SOURCE}:4: document 'c.txt' is not in the corpus folder — did you mean 'a.txt'?; "
        "corpus files: a.txt, sub/b.docx",
        f"{SOURCE}:5: document 'a.txt' is listed again (first on line 2)",
        f"{SOURCE}:6: date '2017-02-30' is not a date in the form YYYY-MM-DD (e.g. 2017-12-13)",
        f"{SOURCE}:7: empty document",
    ]


def test_header_problems() -> None:
    assert _problems("document,regon\na.txt,Södra\n") == [
        f"{SOURCE}:1: unknown column 'regon' — did you mean 'region'?; allowed: document, "
        "region, date, meeting"
    ]
    assert _problems("file,region\n") == [
        f"{SOURCE}:1: unknown column 'file'; allowed: document, region, date, meeting",
        f"{SOURCE}:1: no column 'document' (found: 'file', 'region'); the first row names the "
        "columns: document, region, date, meeting",
    ]
    assert _problems("document,region\na.txt,Södra,extra\n") == [
        f"{SOURCE}:2: 3 cells but the header has 2 columns"
    ]


def test_okand_is_no_analysts_region() -> None:
    # Okänd is what detection says when nothing places a document; an analyst names a region.
    assert _problems("document,region\na.txt,Okänd\n") == [
        f"{SOURCE}:2: region 'Okänd' is not a region; allowed: Norra, Mellansverige, "
        "Stockholm-Gotland, Västra, Sydöstra, Södra, Nationell (or empty: keep the detected one)"
    ]
