"""report.html of a real run of the sample corpus, in a real headless browser.

The run is built as `temakarta run` builds it (real model, pipeline stages, the flow's run facts,
`flows.io.write_run`) by bench/_report_browser.py, which bench/report_screenshot.py also uses to
make docs/report.png. Chromium is Debian's `chromium` (deps/apt.txt) driven by Playwright.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="/usr/bin/chromium not installed: `make system-deps` installs Debian's chromium "
        "from deps/apt.txt",
    ),
]


@pytest.fixture(scope="module")
def helper(sample_run: ModuleType) -> ModuleType:
    return sample_run


@pytest.fixture(scope="module")
def run_dir(helper: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = helper.write_sample_run(tmp_path_factory.mktemp("outputs"))
    return path


@pytest.fixture(scope="module")
def statements(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "statements.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def page(helper: ModuleType, run_dir: Path) -> Iterator[Any]:
    requests: list[str] = []
    problems: list[str] = []
    with helper.chromium_page(requests) as page:
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        helper.open_report(page, run_dir)
        yield page
        assert not problems, problems
    assert requests, "no request recorded at all: the recorder is not working"
    assert all(url.startswith("file://") for url in requests), requests
    assert not [url for url in requests if url.startswith(("http:", "https:"))]


def _listed(page: Any) -> list[str]:
    page.wait_for_selector("#panel:not([hidden])")
    ids: list[str] = page.eval_on_selector_all(
        "#statement-rows tr", "rows => rows.map(r => r.dataset.id)"
    )
    return ids


def _cell_ids(statements: list[dict[str, str]], theme: str, region: str) -> list[str]:
    return [
        s["id"]
        for s in statements
        if s["theme_id"] == theme and (region == "Totalt" or s["region"] == region)
    ]


def _largest_cell(statements: list[dict[str, str]]) -> tuple[str, str]:
    sizes: dict[tuple[str, str], int] = {}
    for s in statements:
        key = (s["theme_id"], s["region"])
        sizes[key] = sizes.get(key, 0) + 1
    return min(sizes, key=lambda k: (-sizes[k], k))


def test_report_is_small_and_written_with_the_run(run_dir: Path) -> None:
    report = run_dir / "report.html"
    assert 0 < report.stat().st_size < 2_000_000


def test_click_lists_exactly_the_cells_statements(
    page: Any, statements: list[dict[str, str]], run_dir: Path
) -> None:
    theme, region = _largest_cell(statements)
    page.click(f'#heatmap td.cell[data-theme="{theme}"][data-region="{region}"]')
    expected = _cell_ids(statements, theme, region)
    assert len(expected) >= 2
    assert _listed(page) == expected
    assert page.inner_text("#panel-count") == f"{len(expected)} påståenden"
    # the polarity split in the panel header is the cell's row of theme_region_polarity.csv
    with (run_dir / "theme_region_polarity.csv").open(encoding="utf-8", newline="") as handle:
        row = next(
            r for r in csv.DictReader(handle) if (r["theme_id"], r["region"]) == (theme, region)
        )
    legend = page.inner_text("#panel-pol")
    for name in ("Möjlighet", "Hinder", "Styrka", "Svaghet", "ingen"):
        assert f"{name} {row[name]}" in legend
    # each listed row shows its document, line and method
    first = next(s for s in statements if s["id"] == expected[0])
    cells = page.eval_on_selector_all(
        "#statement-rows tr:first-child td", "tds => tds.map(td => td.textContent)"
    )
    assert cells[0] == first["text"] and cells[1] == first["document"]
    assert cells[3] == first["line"] and cells[4] == first["heading_path"]
    assert cells[6].startswith(first["method"] + " (")
    # the Totalt column lists the whole theme
    page.click(f'#heatmap td.cell[data-theme="{theme}"][data-region="Totalt"]')
    assert _listed(page) == _cell_ids(statements, theme, "Totalt")


def test_a_large_cell_lists_a_spread_sample_and_says_how_many_it_has(
    helper: ModuleType, statements: list[dict[str, str]], tmp_path: Path
) -> None:
    from flows import io

    config = io.load_config()
    outputs = config.outputs.model_copy(update={"report_statements_per_cell": 3})
    capped = helper.write_sample_run(tmp_path, config.model_copy(update={"outputs": outputs}))
    theme, region = _largest_cell(statements)
    expected = _cell_ids(statements, theme, region)
    assert len(expected) > 3
    with helper.chromium_page() as page:
        helper.open_report(page, capped)
        page.click(f'#heatmap td.cell[data-theme="{theme}"][data-region="{region}"]')
        n = len(expected)
        assert _listed(page) == [expected[k * n // 3] for k in range(3)]
        assert page.inner_text("#panel-count") == (
            f"3 påståenden (ett urval av {n}: alla finns i statements.csv)"
        )
        page.fill("#search", "zzqxj-inget-sådant")
        assert page.inner_text("#panel-count") == (
            f"0 av 3 påståenden (ett urval av {n}: alla finns i statements.csv)"
        )
    with (capped / "statements.csv").open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(statements)  # the CSV has them all


def test_keyboard_moves_between_cells_and_enter_opens_one(
    page: Any, statements: list[dict[str, str]]
) -> None:
    page.focus('#heatmap td.cell[tabindex="0"]')
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowLeft"):
        page.keyboard.press(key)
    active = page.evaluate(
        "() => [document.activeElement.dataset.row, document.activeElement.dataset.col,"
        " document.activeElement.dataset.theme, document.activeElement.dataset.region]"
    )
    assert active[:2] == ["1", "1"]
    page.keyboard.press("Enter")
    assert _listed(page) == _cell_ids(statements, active[2], active[3])
    page.keyboard.press("Escape")
    assert page.is_hidden("#panel")


def test_search_filters_the_listed_statements(page: Any, statements: list[dict[str, str]]) -> None:
    theme, region = _largest_cell(statements)
    page.click(f'#heatmap td.cell[data-theme="{theme}"][data-region="{region}"]')
    expected = _cell_ids(statements, theme, region)
    by_id = {s["id"]: s for s in statements}
    word = max(by_id[expected[0]]["text"].split(), key=len).lower()
    page.fill("#search", word.upper())
    shown = _listed(page)
    matching = [
        i
        for i in expected
        if word
        in " ".join(by_id[i][k] for k in ("text", "document", "heading_path", "polarity")).lower()
    ]
    assert shown == matching and 1 <= len(shown) <= len(expected)
    assert page.inner_text("#panel-count") == f"{len(shown)} av {len(expected)} påståenden"
    page.fill("#search", "zzqxj-inget-sådant")
    assert _listed(page) == []


def test_toggle_to_counts_and_back(page: Any) -> None:
    cell = '#heatmap td.cell[data-row="0"][data-col="0"]'
    assert "%" in page.inner_text(cell)
    page.click("#show-counts")
    assert page.evaluate("() => document.body.classList.contains('show-counts')")
    assert page.get_attribute("#show-counts", "aria-pressed") == "true"
    assert page.inner_text(cell).strip() == page.get_attribute(cell, "data-count")
    page.click("#show-shares")
    assert "%" in page.inner_text(cell)


def test_print_view_fits_a4_landscape(page: Any) -> None:
    # A4 landscape less 10 mm margins: 277 mm ≈ 1047 CSS px
    page.set_viewport_size({"width": 1047, "height": 740})
    page.emulate_media(media="print")
    width = page.evaluate("() => document.getElementById('heatmap').scrollWidth")
    assert width <= 1047
    assert page.is_hidden("#show-counts")


def test_screenshot(page: Any, tmp_path: Path, helper: ModuleType) -> None:
    path = tmp_path / "report.png"
    png = helper.screenshot(page, path)
    assert path.is_file() and path.stat().st_size > 10_000
    assert png[:8] == b"\x89PNG\r\n\x1a\n" == path.read_bytes()[:8]
