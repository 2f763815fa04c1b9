"""The sample corpus's run and its report.html in headless Chromium: shared by
tests/flows/test_report_browser.py, bench/report_screenshot.py and bench/report_paint.py.

The run is built as `temakarta run` builds it (the pipeline stages with the real model, the
flow's `report_info`, written by `flows.io.write_run`), without a Prefect server. Chromium is
Debian's (`deps/apt.txt`), driven by Playwright for Python through `executable_path`; Playwright's
own browser download is never used. The flags keep Chromium from calling home, which this
machine's closed network refuses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

from flows import io
from flows.embed_cache import encode_cached
from flows.theme_map import project_embedder, report_info
from pipeline.config import PROJECT_ROOT, Config
from pipeline.extract import extract_document
from pipeline.matrix import Tables, build_tables
from pipeline.records import DocumentInfo, Statement
from pipeline.regions import attribute_regions
from pipeline.report import build_report
from pipeline.segment import segment_document
from pipeline.themes import ThemeResult, assign_themes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
SAMPLE_RUN_ID = "20171213T090000Z-sample"  # fixed, so the report is the same on every machine
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def sample_themes(
    config: Config,
) -> tuple[list[Statement], list[DocumentInfo], ThemeResult, Any, str]:
    """The sample corpus's statements, document facts and themes (real model), the statement
    vectors, and the model's content hash."""
    data = io.load_project_data(config, PROJECT_ROOT / "corpus")
    statements: list[Statement] = []
    infos: list[DocumentInfo] = []
    for path in io.corpus_files(PROJECT_ROOT / "corpus"):
        document = extract_document(path.name, path.read_bytes(), config.limits)
        found = segment_document(document, config.segment, data.abbreviations)
        with_regions, info = attribute_regions(document, found, data.gazetteer)
        statements += with_regions
        infos.append(info)
    embedder = project_embedder(config)
    vectors = encode_cached([s.text for s in statements], embedder)
    codebook_vectors = encode_cached(list(data.codebook.texts), embedder)
    result = assign_themes(
        statements, vectors, data.codebook, codebook_vectors, config.themes, data.stopwords
    )
    return statements, infos, result, vectors, embedder.content_hash


def write_sample_run(output_dir: Path, config: Config | None = None) -> Path:
    """Write the sample corpus's run folder (report.html included) under `output_dir`."""
    config = config or io.load_config()
    statements, infos, result, _, model_hash = sample_themes(config)
    tables = build_tables(statements, result, infos)
    return write_tables(output_dir, tables, config, model_hash)


def write_tables(
    output_dir: Path, tables: Tables, config: Config, model_hash: str, run_id: str = SAMPLE_RUN_ID
) -> Path:
    report = build_report(tables, report_info(run_id, config, model_hash, []))
    return io.write_run(output_dir, run_id, tables, [], {}, "", report_html=report)


@contextmanager
def chromium_page(requests: list[str] | None = None) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium; every request URL goes to `requests`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            if requests is not None:
                page.on("request", lambda request: requests.append(request.url))
            yield page
        finally:
            browser.close()


def open_report(page: Any, run_dir: Path) -> None:
    page.goto((run_dir / io.REPORT_FILE).resolve().as_uri())
    page.wait_for_selector("#heatmap td.cell")


def screenshot(page: Any, path: Path, cell: str = "#heatmap td.cell", height: int = 0) -> bytes:
    """Open the first matching cell's statements and save a PNG of the top of the page: the
    viewport, or the first `height` pixels of the whole page."""
    page.click(cell)
    page.wait_for_selector("#statement-rows tr")
    page.evaluate("() => window.scrollTo(0, 0)")
    if height:
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
        png: bytes = page.screenshot(path=str(path), full_page=True, clip=clip)
    else:
        png = page.screenshot(path=str(path))
    return png
