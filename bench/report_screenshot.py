"""docs/report.png: the sample corpus's report.html in headless Chromium, for the README.

    .venv/bin/python bench/report_screenshot.py [--out docs/report.png]

Builds the sample run exactly as tests/flows/test_report_browser.py does (bench/_report_browser.py:
real model, the flow's run facts, `flows.io.write_run` into a temporary folder), opens the
report in Debian's Chromium, opens the largest cell of the heatmap and saves the top of the page.
The PNG is reduced to a 256-colour palette (octree: keeps the small polarity swatches
true) so it stays small enough to commit (< 300 KB).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import Counter
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._report_browser import chromium_page, open_report, screenshot, write_sample_run  # noqa: E402

HEIGHT = 1500  # px of the page: the heatmap and the top of the statements panel
LIMIT = 300_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = write_sample_run(Path(tmp))
        with (run_dir / "statements.csv").open(encoding="utf-8", newline="") as handle:
            sizes = Counter((r["theme_id"], r["region"]) for r in csv.DictReader(handle))
        theme, region = min(sizes, key=lambda k: (-sizes[k], k))
        raw = Path(tmp) / "report.png"
        with chromium_page() as page:
            open_report(page, run_dir)
            cell = f'#heatmap td.cell[data-theme="{theme}"][data-region="{region}"]'
            screenshot(page, raw, cell=cell, height=HEIGHT)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(raw) as image:
            image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(
                args.out, optimize=True
            )
    size = args.out.stat().st_size
    print(f"{args.out}: {size / 1000:.0f} KB (cell {theme} × {region})")
    if size >= LIMIT:
        raise SystemExit(f"{args.out} is {size} bytes; keep it under {LIMIT}")


if __name__ == "__main__":
    main()
