"""First paint of report.html for a 10 k statement run in headless Chromium, and its size.

    OMP_NUM_THREADS=1 .venv/bin/python bench/report_paint.py [--n 10000] [--repeat 5]

The run: the sample corpus's statements, themed with the real model as in a run
(bench/_report_browser.py), replicated to `--n` statements with unique ids
`<document>:<line>:<n>` (the k-th copy adds 1000·k to n); each copy keeps its original's theme
assignment, so the matrix has the sample's proportions at 10 k scale. Probabilities are left out
(the uncertainty table is not in the report). The report is built by `pipeline.report` with the
flow's run facts and opened from a file:// URL, a fresh page each time; `first-paint` and
`first-contentful-paint` come from `performance.getEntriesByType('paint')` (the issue's goal:
under 1 s). Also timed: clicking the largest cell until its statements are listed (the
JSON blob is parsed on that first click).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._report_browser import chromium_page, sample_themes  # noqa: E402
from flows import io  # noqa: E402
from flows.theme_map import report_info  # noqa: E402
from pipeline.matrix import build_tables  # noqa: E402
from pipeline.records import Statement  # noqa: E402
from pipeline.report import build_report  # noqa: E402
from pipeline.themes import Assignment, ThemeResult  # noqa: E402

RUN_ID = "20171213T090000Z-paint10k"


def replicate(
    statements: list[Statement], result: ThemeResult, n: int
) -> tuple[list[Statement], ThemeResult]:
    by_id = {a.statement_id: a for a in result.assignments}
    out: list[Statement] = []
    assignments: list[Assignment] = []
    for i in range(n):
        copy, source = divmod(i, len(statements))
        original = statements[source]
        head, _, tail = original.id.rpartition(":")
        new_id = f"{head}:{int(tail) + 1000 * copy}"
        out.append(dataclasses.replace(original, id=new_id))
        assignments.append(dataclasses.replace(by_id[original.id], statement_id=new_id))
    return out, dataclasses.replace(result, assignments=tuple(assignments), probabilities=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = io.load_config()
    statements, infos, result, _, model_hash = sample_themes(config)
    many, many_result = replicate(statements, result, args.n)
    tables = build_tables(many, many_result, infos)
    html = build_report(tables, report_info(RUN_ID, config, model_hash, []))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / io.REPORT_FILE
        path.write_bytes(html.encode("utf-8"))
        size = path.stat().st_size
        paints: dict[str, list[float]] = {"first-paint": [], "first-contentful-paint": []}
        opens: list[float] = []
        counts = tables.counts.set_index("theme_id")
        regions = [c for c in counts.columns if c not in ("theme_label", "Totalt")]
        themes = [t for t in counts.index if not t.startswith("N_")]
        theme, region = max(((t, r) for t in themes for r in regions), key=lambda k: counts.loc[k])
        with chromium_page() as page:
            for _ in range(args.repeat):
                page.goto("about:blank")
                page.goto(path.as_uri(), wait_until="load")
                for entry in page.evaluate(
                    "() => performance.getEntriesByType('paint')"
                    ".map(e => ({name: e.name, start: e.startTime}))"
                ):
                    paints[entry["name"]].append(entry["start"])
                opens.append(
                    page.evaluate(
                        """([theme, region]) => {
                          const t0 = performance.now();
                          document.querySelector(
                            `td.cell[data-theme="${theme}"][data-region="${region}"]`).click();
                          document.getElementById('statement-rows').offsetHeight;
                          return performance.now() - t0;
                        }""",
                        [theme, region],
                    )
                )
    print(f"report.html for {args.n} statements: {size / 1e6:.2f} MB ({size} bytes)")
    for name, values in paints.items():
        print(
            f"{name}: median {statistics.median(values):.0f} ms over {len(values)} loads "
            f"(min {min(values):.0f}, max {max(values):.0f}); goal < 1000 ms"
        )
    print(
        f"open the largest cell ({theme} × {region}, {int(counts.loc[theme, region])} "
        f"statements, JSON parsed on first click): median {statistics.median(opens):.0f} ms"
    )


if __name__ == "__main__":
    main()
