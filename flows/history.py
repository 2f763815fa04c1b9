"""The previous completed run of an output folder, and the fingerprint that says whether a new
run would differ from it.

The last completed run is the one `<output>/latest` points at (a run that read no document does
not move it). Its manifest holds the fingerprint; its CSVs give what `changes.csv` and the
theme ids compare with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from flows import io
from pipeline.changes import RunSnapshot, count_cells
from pipeline.config import Config
from pipeline.matrix import COL_DOCUMENT, COL_ID, COL_N_STATEMENTS, COL_THEME_ID

FINGERPRINT_KEY = "fingerprint"


def fingerprint(
    inputs: Mapping[str, str], data_files: Mapping[str, str], config: Config, model_hash: str
) -> str:
    """sha256 over everything a run's outputs depend on: the corpus files with metadata.csv and
    labels.csv (`io.input_hashes`), the data files (`io.data_file_hashes`), the config, the
    model's content hash and temakarta's version."""
    payload = {
        "inputs": dict(inputs),
        "data_files": dict(data_files),
        "config": config.model_dump(mode="json"),
        "model": model_hash,
        "temakarta": io.package_versions()["temakarta"],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def latest_run_dir(output_dir: Path) -> Path | None:
    """The folder `<output>/latest` points at, None when there is no completed run."""
    latest = output_dir / "latest"
    if not latest.exists():
        return None
    return latest.resolve()


def last_fingerprint(output_dir: Path) -> tuple[str, str] | None:
    """(run id, fingerprint) of the last completed run (fingerprint "" for a run from before
    fingerprints), None when there is none. Reads the manifest only: this is the fast path of
    a run whose inputs did not change."""
    run_dir = latest_run_dir(output_dir)
    if run_dir is None:
        return None
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(manifest.get("run_id", run_dir.name)), str(manifest.get(FINGERPRINT_KEY, ""))


def last_run(output_dir: Path) -> RunSnapshot | None:
    """The last completed run of `output_dir`, None when there is none or its files are not
    readable as a run (then the next run compares with nothing and reprocesses)."""
    run_dir = latest_run_dir(output_dir)
    if run_dir is None:
        return None
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        counts, labels = count_cells(io.read_run_csv(run_dir / io.OUTPUT_FILES["counts"]))
        documents = io.read_run_csv(run_dir / io.OUTPUT_FILES["documents"])
        statements = io.read_run_csv(run_dir / io.OUTPUT_FILES["statements"])
        return RunSnapshot(
            run_id=str(manifest.get("run_id", run_dir.name)),
            fingerprint=str(manifest.get(FINGERPRINT_KEY, "")),
            inputs=dict(manifest.get("inputs", {})),
            counts=counts,
            labels=labels,
            statements_per_document={
                row[COL_DOCUMENT]: int(row[COL_N_STATEMENTS]) for row in documents
            },
            theme_of={row[COL_ID]: row[COL_THEME_ID] for row in statements},
        )
    except (OSError, ValueError, KeyError):
        return None
