"""`temakarta evaluate LABELS.csv [RUN_DIR]`: score a run's themes against gold labels.

Reads the labels file and the run's statements.csv (and themes.csv, for the codebook ids) with
the csv module, scores them with `pipeline.evaluate`, prints the report and, with `--json`,
writes the metrics as JSON. A missing file or bad columns exit 3 with a one-line message.
The bootstrap's seed is `--seed`, else the `seed` of the config the run was made with (its
manifest.json), else the project's default seed.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from pipeline.config import PROJECT_ROOT
from pipeline.evaluate import (
    DEFAULT_SEED,
    Evaluation,
    EvaluationError,
    Table,
    evaluate,
)
from pipeline.evaluation_report import render_report

DEFAULT_RUN_DIR = PROJECT_ROOT / "outputs" / "latest"
MANIFEST_FILE = "manifest.json"
STATEMENTS_FILE = "statements.csv"
THEMES_FILE = "themes.csv"
_EXIT_OK, _EXIT_USAGE = 0, 3


def read_table(path: Path) -> Table:
    """A CSV file (UTF-8, BOM allowed; `,` or, as Swedish Excel and `--csv-dialect excel-sv`
    write it, `;`) as a `Table`; errors say which file and how to fix it."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = handle.readline()
            handle.seek(0)
            delimiter = ";" if header.count(";") > header.count(",") else ","
            reader = csv.DictReader(handle, delimiter=delimiter)
            fields = list(reader.fieldnames or ())
            rows = tuple({c.strip(): row.get(c) or "" for c in fields} for row in reader)
    except UnicodeDecodeError as exc:
        raise EvaluationError(
            str(path), f"not UTF-8 text ({exc.reason})", "save it as UTF-8 CSV"
        ) from exc
    except csv.Error as exc:
        raise EvaluationError(str(path), f"not a readable CSV ({exc})", "save it as CSV") from exc
    return Table(str(path), tuple(c.strip() for c in fields), rows)


def codebook_ids(run_dir: Path) -> tuple[str, ...] | None:
    """The run's codebook theme ids from themes.csv (origin "codebook"); None without it."""
    path = run_dir / THEMES_FILE
    if not path.is_file():
        return None
    table = read_table(path)
    if "theme_id" not in table.columns or "origin" not in table.columns:
        raise EvaluationError(
            str(path),
            f"columns found: {', '.join(table.columns) or '(none)'}; expected theme_id, origin",
            "give a run folder written by `temakarta run`",
        )
    return tuple(r["theme_id"] for r in table.rows if r.get("origin") == "codebook")


def run_seed(run_dir: Path) -> int:
    """The `seed` of the config the run was made with (its manifest), else DEFAULT_SEED."""
    try:
        manifest = json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        seed = manifest["config"]["seed"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_SEED
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else DEFAULT_SEED


def evaluate_run(labels_path: Path, run_dir: Path, *, seed: int = DEFAULT_SEED) -> Evaluation:
    """Read the labels and the run folder and score them."""
    if not labels_path.is_file():
        raise EvaluationError(str(labels_path), "labels file not found", "check the path")
    statements = run_dir / STATEMENTS_FILE
    if not statements.is_file():
        raise EvaluationError(
            str(run_dir),
            f"no {STATEMENTS_FILE} in this folder",
            "give a run folder such as outputs/latest, or run `temakarta run` first",
        )
    return evaluate(
        read_table(labels_path), read_table(statements), codebook_ids(run_dir), seed=seed
    )


def main(
    labels_path: Path,
    run_dir: Path = DEFAULT_RUN_DIR,
    *,
    json_path: Path | None = None,
    seed: int | None = None,
) -> int:
    """Print the report (and write `json_path`); returns the exit code."""
    try:
        evaluation = evaluate_run(
            labels_path, run_dir, seed=run_seed(run_dir) if seed is None else seed
        )
    except (EvaluationError, OSError) as exc:
        print(f"temakarta evaluate: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    print(render_report(evaluation), end="")
    if json_path is not None:
        text = json.dumps(evaluation.as_dict(), ensure_ascii=False, indent=2) + "\n"
        try:
            json_path.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"temakarta evaluate: {json_path}: cannot write ({exc})", file=sys.stderr)
            return _EXIT_USAGE
    return _EXIT_OK
