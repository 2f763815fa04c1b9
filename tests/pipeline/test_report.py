"""report.html from hand-made tables: self-contained, safe JSON, deterministic, small."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from pipeline.config import Config
from pipeline.matrix import Tables, build_tables
from pipeline.records import DocumentError, DocumentInfo, Location, Polarity, Region, Statement
from pipeline.report import DATA_COLUMNS, RunInfo, build_report, config_summary
from pipeline.themes import Assignment, Theme, ThemeResult

HOSTILE = 'Mer </script><script>alert("x")</script> pengar <!-- & "VFU" <b>'


def _statement(i: int, region: Region, text: str, doc: str = "a.txt") -> Statement:
    polarity = (Polarity.HINDER, Polarity.MOJLIGHET, Polarity.NONE)[i % 3]
    return Statement(
        f"{doc}:{i}:1",
        doc,
        Location(i, page=i % 4 or None),
        text,
        heading_path=("Grupp 1", "Hinder"),
        region=region,
        polarity=polarity,
    )


def _tables(n: int = 6, text: str = "text {i}") -> Tables:
    regions = (Region.SODRA, Region.NORRA, Region.NATIONELL, Region.VASTRA)
    statements = [
        _statement(i, regions[i % 4], text.format(i=i), doc="ab"[i % 2] + ".txt")
        for i in range(1, n + 1)
    ]
    themes = ("finansiering", "roller", "ej_tilldelad")
    labels = {"finansiering": "Finansiering <&>", "roller": "Roller", "ej_tilldelad": "ej"}
    assignments = tuple(
        Assignment(s.id, themes[i % 3], labels[themes[i % 3]], 0.8, "codebook", confidence=0.61)
        for i, s in enumerate(statements)
    )
    result = ThemeResult(
        themes=(
            Theme("finansiering", labels["finansiering"], "codebook", ("medel",), 0, (HOSTILE,)),
            Theme("roller", "Roller", "codebook", ("roll", "mandat"), 0, ("Vem gör vad",)),
            Theme("ej_tilldelad", "ej", "unassigned", (), 0, ()),
        ),
        assignments=assignments,
        min_cohesion=0.86,
    )
    docs = [
        DocumentInfo("a.txt", "a" * 64, "txt", "utf-8", Region.SODRA, "title: Södra"),
        DocumentInfo("b.txt", "b" * 64, "docx", "", Region.NORRA, "default"),
    ]
    return build_tables(statements, result, docs)


INFO = RunInfo(
    run_id="20240101T120000Z-abcdef12",
    date="2024-01-01 12:00:00 UTC",
    model="models/e5-small-st",
    model_hash="f" * 64,
    config=(("seed", "1"), ("themes.example_weight", "12.0")),
    errors=(
        DocumentError("c.pdf", "extract", "c.pdf: file", "encrypted", "save it without a password"),
        DocumentError("labels.csv", "labels", "labels.csv: row 3", "no statement", "check it"),
    ),
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _blob(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert match, "no JSON blob"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_report_is_self_contained() -> None:
    html = build_report(_tables(), INFO)
    tags = _tags(html)
    assert not [t for t, _ in tags if t in {"link", "img", "iframe", "object", "embed"}]
    for tag, attrs in tags:
        for key in ("src", "href", "action"):
            assert attrs.get(key) is None, (tag, attrs)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html and "@font-face" not in html
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts == [{"type": "application/json", "id": "report-data"}, {}]
    assert html.startswith("<!DOCTYPE html>") and '<html lang="sv">' in html
    assert "@page{size:A4 landscape" in html


def test_json_blob_cannot_close_its_script_and_round_trips() -> None:
    tables = _tables(text=HOSTILE + " {i}")
    html = build_report(tables, INFO)
    blob_start = html.index('id="report-data">') + len('id="report-data">')
    blob = html[blob_start : html.index("</script>", blob_start)]
    assert "<\\/script>" in blob and "<!--" not in blob
    data = _blob(html)
    rows = data["rows"]
    assert isinstance(rows, list)
    assert data["columns"] == list(DATA_COLUMNS)
    texts = {row[DATA_COLUMNS.index("text")] for row in rows}
    assert texts == set(tables.statements["text"])
    # the only script end tags are the two real ones
    assert html.count("</script>") == 2
    # text in the page itself is escaped, never markup
    page = html.split('<script type="application/json"', 1)[0]
    assert "Finansiering &lt;&amp;&gt;" in page and "Finansiering <&>" not in page
    assert "&lt;/script&gt;" in page and "<b>" not in page


def test_blob_has_every_statement_in_reading_order_with_its_cell() -> None:
    tables = _tables(n=12)
    rows = _blob(build_report(tables, INFO))["rows"]
    assert isinstance(rows, list)
    ids = [row[0] for row in rows]
    assert ids == list(tables.statements["id"])
    by_id = tables.statements.set_index("id")
    for row in rows:
        record = dict(zip(DATA_COLUMNS, row, strict=True))
        source = by_id.loc[record["id"]]
        assert record["theme_id"] == source["theme_id"]
        assert record["region"] == source["region"]
        assert record["page"] == str(source["page"])
        assert record["confidence"] == pytest.approx(0.61)


def test_heatmap_cells_carry_the_counts_and_are_keyboard_reachable() -> None:
    tables = _tables(n=12)
    html = build_report(tables, INFO)
    cells = [attrs for tag, attrs in _tags(html) if tag == "td" and "data-theme" in attrs]
    counts = tables.counts.set_index("theme_id")
    assert len(cells) == 3 * 9  # themes × (six regions, Nationell, Okänd, Totalt)
    for attrs in cells:
        assert (
            int(str(attrs["data-count"])) == counts.loc[attrs["data-theme"], attrs["data-region"]]
        )
    assert [a["tabindex"] for a in cells].count("0") == 1
    assert {a["data-row"] for a in cells} == {"0", "1", "2"}
    # the footer rows
    assert '<th scope="row">N_statements</th>' in html
    assert '<th scope="row">N_documents</th>' in html


def test_run_facts_documents_and_skipped_files_are_shown() -> None:
    html = build_report(_tables(), INFO)
    for text in (
        "20240101T120000Z-abcdef12",
        "2024-01-01 12:00:00 UTC",
        "models/e5-small-st",
        "f" * 64,
        "themes.example_weight",
        "c.pdf: file: encrypted",
        "save it without a password",
        "Rader i labels.csv som inte användes (1)",
        "Filer som hoppades över (1)",
        "Lästa dokument (2)",
        "roll; mandat",
        "Vem gör vad",
    ):
        assert text in html, text


def test_report_is_deterministic() -> None:
    assert build_report(_tables(), INFO) == build_report(_tables(), INFO)
    reordered = RunInfo(**{**INFO.__dict__, "errors": tuple(reversed(INFO.errors))})
    assert build_report(_tables(), reordered) == build_report(_tables(), INFO)


def test_a_corpus_sized_report_stays_under_2_mb() -> None:
    words = "Det behövs tydligare roller mellan region och kommun i VFU-frågor"
    html = build_report(_tables(n=1500, text=words + " {i}"), INFO)
    assert len(html.encode("utf-8")) < 2_000_000


def test_a_large_cell_carries_a_sample_spread_over_it_in_reading_order() -> None:
    tables = _tables(n=3000)
    full = _blob(build_report(tables, RunInfo(**{**INFO.__dict__, "per_cell": 10**6})))["rows"]
    assert len(_blob(build_report(tables, INFO))["rows"]) == 12 * 200  # type: ignore[arg-type]
    capped = _blob(build_report(tables, RunInfo(**{**INFO.__dict__, "per_cell": 40})))["rows"]
    assert isinstance(full, list) and isinstance(capped, list) and len(full) == 3000
    theme, region = DATA_COLUMNS.index("theme_id"), DATA_COLUMNS.index("region")
    cells: dict[tuple[str, str], list[str]] = {}
    for row in full:
        cells.setdefault((row[theme], row[region]), []).append(row[0])
    kept: dict[tuple[str, str], list[str]] = {}
    for row in capped:
        kept.setdefault((row[theme], row[region]), []).append(row[0])
    assert kept.keys() == cells.keys()
    for cell, ids in cells.items():
        n = len(ids)
        assert n > 40 and kept[cell] == [ids[k * n // 40] for k in range(40)]
    assert [row[0] for row in capped] == [row[0] for row in full if row in capped]  # order kept
    assert len(build_report(tables, RunInfo(**{**INFO.__dict__, "per_cell": 40}))) < 200_000


def test_config_summary_flattens_the_config() -> None:
    pairs = dict(config_summary(Config()))
    assert pairs["model.path"] == "models/e5-small-st"
    assert pairs["themes.min_cohesion"] == ""
    assert "seed" in pairs and "limits.timeout_seconds" in pairs


def test_an_empty_run_still_renders() -> None:
    html = build_report(_tables(n=0), RunInfo(run_id="x"))
    assert "Inga: alla filer i korpusmappen lästes." in html
    assert _blob(html)["rows"] == []
