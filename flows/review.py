"""`temakarta review`: the statements of a run an analyst should label next, as `review.csv`.

Reads the run folder's `statements.csv` and `manifest.json` (for the corpus folder and the
config), embeds the statements through the embedding cache (a run's statements are all cached,
so no model is loaded), picks them with `pipeline.review.select_for_review` and writes
`review.csv`: one row per statement, in reading order, with the run's proposed theme and its
confidence and an empty `theme` column, last, for the analyst. Saved as `labels.csv` in the corpus
folder (`pipeline.labels` ignores the extra columns and the rows left empty), the next run
assigns those statements the analyst's theme.

Not a Prefect flow: a quick interactive step between two runs, with nothing to orchestrate.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

from pydantic import ValidationError

from flows.cache_store import cache_dir_for
from flows.embed_cache import encode_cached
from flows.io import LABELS_FILE, load_codebook, read_run_csv
from flows.theme_map import project_embedder
from pipeline.config import Config
from pipeline.embed import ModelDirError
from pipeline.records import Location, Statement
from pipeline.review import select_for_review
from pipeline.themes import Assignment, Method

REVIEW_FILE = "review.csv"
REVIEW_COLUMNS = (
    "id", "document", "page", "line", "heading_path", "text", "proposed_theme", "confidence",
    "theme",
)  # fmt: skip
_NEEDED = ("id", "document", "page", "line", "heading_path", "text", "theme_id", "theme_label",
           "score", "method")  # fmt: skip
_METHODS = frozenset(get_args(Method))


class ReviewInputError(Exception):
    """The run folder cannot be reviewed; the message says which file and what to do."""


@dataclass(frozen=True)
class ReviewReport:
    """What `write_review` did. `confidence_known` is False for a run whose statements.csv has no
    confidence column (every statement then counts as equally uncertain)."""

    path: Path
    n_selected: int
    corpus_dir: Path
    theme_ids: tuple[str, ...]
    labels_exist: bool
    confidence_known: bool


def write_review(
    run_dir: Path, n: int, output: Path | None = None, cache_dir: Path | None = None
) -> ReviewReport:
    """Pick up to `n` statements of the run in `run_dir` and write them to `output` (default
    `run_dir/review.csv`; a folder gets a review.csv inside). Raises `ReviewInputError`."""
    if not run_dir.is_dir():
        raise ReviewInputError(f"{run_dir}: not a run folder; give a folder under outputs/")
    manifest = _manifest(run_dir / "manifest.json")
    config = _config(manifest, run_dir / "manifest.json")
    rows = _statement_rows(run_dir / "statements.csv")
    statements, assignments = _records(rows, run_dir / "statements.csv")
    confidence_known = bool(rows) and "confidence" in rows[0]
    try:
        embedder = project_embedder(config)
    except ModelDirError as exc:
        raise ReviewInputError(str(exc)) from exc
    # The run's own store (its manifest names it), so its vectors are read, not made again.
    run_cache = (manifest.get("cache") or {}).get("dir")
    store_dir = cache_dir or (Path(run_cache) if run_cache else cache_dir_for(config))
    vectors = encode_cached([s.text for s in statements], embedder, store_dir)
    picked = select_for_review(statements, assignments, vectors, n, config.seed)

    def reading_order(i: int) -> tuple[str, int, int, int]:
        location = statements[i].location
        return (statements[i].document, location.page or 0, location.line, i)

    target = output or run_dir / REVIEW_FILE
    if target.is_dir():
        target = target / REVIEW_FILE
    _write_atomic(target, _review_csv([rows[i] for i in sorted(picked, key=reading_order)]))
    corpus_dir = Path(str(manifest.get("corpus", "")))
    return ReviewReport(
        target,
        len(picked),
        corpus_dir,
        tuple(theme.id for theme in load_codebook(config).themes),
        (corpus_dir / LABELS_FILE).is_file(),
        confidence_known,
    )


def _manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewInputError(
            f"{path}: cannot read the run's manifest ({exc}); give a folder a temakarta run wrote"
        ) from exc
    if not isinstance(manifest, dict):
        raise ReviewInputError(f"{path}: not a temakarta manifest; give a run folder")
    return manifest


def _config(manifest: Mapping[str, Any], source: Path) -> Config:
    try:
        return Config.model_validate(manifest.get("config", {}))
    except ValidationError as exc:
        raise ReviewInputError(
            f"{source}: the run's config does not validate with this temakarta "
            f"({exc.error_count()} problems); run `temakarta run` again and review that run"
        ) from exc


def _statement_rows(path: Path) -> list[dict[str, str]]:
    try:
        rows = read_run_csv(path)  # either CSV dialect (--csv-dialect)
    except OSError as exc:
        raise ReviewInputError(f"{path}: cannot read ({exc}); give a run folder") from exc
    missing = [c for c in _NEEDED if rows and c not in rows[0]]
    if missing:
        raise ReviewInputError(
            f"{path}: missing column(s) {', '.join(missing)}; review a run written by this "
            "temakarta"
        )
    return rows


def _records(
    rows: Sequence[Mapping[str, str]], source: Path
) -> tuple[list[Statement], list[Assignment]]:
    """The statements and their assignments back from statements.csv rows."""
    statements: list[Statement] = []
    assignments: list[Assignment] = []
    for number, row in enumerate(rows, start=2):
        method = row["method"]
        try:
            if method not in _METHODS:
                raise ValueError(f"unknown method {method!r}")
            location = Location(int(row["line"]), int(row["page"]) if row["page"] else None)
            score, confidence = float(row["score"]), float(row.get("confidence") or 1.0)
        except ValueError as exc:
            raise ReviewInputError(
                f"{source}: line {number}: {exc}; review a run written by this temakarta"
            ) from exc
        heading = row["heading_path"]
        statements.append(
            Statement(
                id=row["id"],
                document=row["document"],
                location=location,
                text=row["text"],
                heading_path=tuple(heading.split(" > ")) if heading else (),
            )
        )
        assignments.append(
            Assignment(
                statement_id=row["id"],
                theme_id=row["theme_id"],
                theme_label=row["theme_label"],
                score=score,
                method=cast(Method, method),
                confidence=confidence,
            )
        )
    return statements, assignments


def _review_csv(rows: Sequence[Mapping[str, str]]) -> bytes:
    """review.csv: UTF-8 with a byte-order mark, so a spreadsheet shows å, ä and ö."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, REVIEW_COLUMNS, restval="", extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "proposed_theme": row["theme_id"], "theme": ""})
    return buffer.getvalue().encode("utf-8-sig")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
