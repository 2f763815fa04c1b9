"""Check everything a run reads before it starts: a bad input costs seconds, not a run.

Public entry point: `check_inputs(corpus_dir, output_dir, config)`.

It loads and validates, in one pass that collects every problem: the corpus folder, the data
files of the catalogue (`pipeline/catalog.py`: codebook, gazetteer, web-page furniture, stop
words, abbreviations), the corpus's `metadata.csv` (columns, regions, dates, documents that
exist) and `labels.csv` (its header; its rows are matched to statements during the run, and a
row that cannot be used is an errors.csv row), the model folder (built, with its files), and
the output folder (it can be created and written, and its disk has room for the run folder:
`_room_needed`). Any problem raises `InputError` with all of them; the CLI prints them and
exits 3. Nothing is written but a probe file, removed at once, in the output folder. The stop
words file is read, not merged with spaCy's list: importing spaCy would take seconds, and the
file can only be unreadable, not malformed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from flows import io
from pipeline.catalog import LABELS_FILE, MODEL_FILES, data_paths, model_dir
from pipeline.config import Config
from pipeline.embed import HASH_FILE, bf16_refused
from pipeline.labels import header_problem
from pipeline.problems import InputError, Problem


def check_inputs(corpus_dir: Path, output_dir: Path, config: Config) -> None:
    """Everything the run reads, loaded and validated; InputError naming every problem."""
    if not corpus_dir.is_dir():
        raise InputError(
            Problem(str(corpus_dir), "not a folder", "give the folder that holds the documents")
        )
    problems: list[Problem] = []
    files = tuple(io.corpus_files(corpus_dir))
    paths = data_paths(config)
    _load(problems, paths["gazetteer"], config, lambda: io.load_gazetteer(config))
    _load(problems, paths["furniture"], config, lambda: io.load_furniture(config))
    _load(problems, paths["codebook"], config, lambda: io.load_codebook(config))
    _load(problems, paths["abbreviations"], config, lambda: io.load_abbreviations(config))
    _load(problems, paths["stopwords"], config, lambda: io.read_data_file(paths["stopwords"]))
    _load(problems, paths["vocabulary"], config, lambda: io.load_vocabulary(config))
    _load(
        problems, corpus_dir / io.METADATA_FILE, None, lambda: io.load_metadata(corpus_dir, files)
    )
    problems += _labels_problems(corpus_dir)
    problems += _model_problems(config)
    problems += _output_problems(output_dir, _room_needed(files, config))
    if problems:
        raise InputError(*problems)


def _load(
    problems: list[Problem], path: Path, config: Config | None, load: Callable[[], object]
) -> None:
    """Run `load()`; when it fails, add its problems to `problems`."""
    try:
        load()
    except InputError as exc:
        problems.extend(exc.problems)
    except (OSError, UnicodeDecodeError) as exc:
        reason = (
            f"not UTF-8 at byte {exc.start}"
            if isinstance(exc, UnicodeDecodeError)
            else (exc.strerror or type(exc).__name__)
        )
        fix = (
            f"check the path in {config.source}, or restore the file (git checkout models/)"
            if config is not None
            else "save the file as UTF-8"
        )
        problems.append(Problem(str(path), f"cannot read it ({reason})", fix))


def _labels_problems(corpus_dir: Path) -> list[Problem]:
    path = corpus_dir / LABELS_FILE
    try:
        rows = io.load_labels(corpus_dir)
    except OSError as exc:
        return [Problem(str(path), f"cannot read it ({exc.strerror})", "check its permissions")]
    problem = header_problem(rows[0] if rows else [], str(path)) if rows is not None else None
    return [problem] if problem is not None else []


def _model_problems(config: Config) -> list[Problem]:
    folder = model_dir(config)
    fix = (
        f"build it with `temakarta build-model` (it writes to model.path of {config.source}), "
        "or set model.path to a built model"
    )
    if not folder.is_dir():
        return [Problem(str(folder), "the embedding model folder does not exist", fix)]
    missing = [name for name in (*MODEL_FILES, HASH_FILE) if not (folder / name).is_file()]
    if missing:
        return [
            Problem(
                str(folder),
                f"not a built model: {', '.join(missing)} missing "
                f"(a model folder holds {', '.join((*MODEL_FILES, HASH_FILE))})",
                f"{fix}; `temakarta build-model --force` rebuilds it",
            )
        ]
    # torch is imported only for an explicit bfloat16 on a CPU without native bf16 flags.
    refused = config.model.precision == "bfloat16" and bf16_refused()
    if refused:
        return [
            Problem(
                config.source,
                f"model.precision is bfloat16, but torch's oneDNN refuses bf16 matrix products "
                f"on this CPU ({refused}; it lacks avx512_bf16 and amx_bf16)",
                "set model.precision: auto (bf16 only where the CPU has it) or float32",
            )
        ]
    return []


# A run folder is about 6 bytes per byte of plain text read (measured: 61 MB for a 11 MB .txt
# corpus of 100 k statements: statements.csv, report.html and the workbook each repeat every
# statement); office files and PDFs hold much less text than their size, so they count once.
_TEXT_SUFFIXES = frozenset({".txt", ".md", ".csv", ".html", ".htm"})
_BYTES_PER_TEXT_BYTE = 6
_MIN_FREE_BYTES = 64 * 2**20  # the run folder of a handful of documents, manifest, lock, temp


def _room_needed(files: tuple[Path, ...], config: Config) -> int:
    """Bytes the run folder will take, about (files over the size limit are skipped unread)."""
    need = _MIN_FREE_BYTES
    for path in files:
        try:
            size = min(path.stat().st_size, config.limits.max_file_bytes)
        except OSError:
            continue  # reported when the run reads it
        need += size * (_BYTES_PER_TEXT_BYTE if path.suffix.lower() in _TEXT_SUFFIXES else 1)
    return need


def _output_problems(output_dir: Path, need_bytes: int) -> list[Problem]:
    """The output folder can be created, a file written in it (a probe, removed), and its disk
    has `need_bytes` free."""
    fix = "give --output a folder you can write to, or change the folder's permissions"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".temakarta-probe-", dir=output_dir)
        os.close(handle)
        os.unlink(probe)
        free = shutil.disk_usage(output_dir).free
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return [Problem(str(output_dir), f"cannot write run folders here ({reason})", fix)]
    if free < need_bytes:
        return [
            Problem(
                str(output_dir),
                f"only {free / 2**20:,.0f} MB free on its disk; this run needs about "
                f"{need_bytes / 2**20:,.0f} MB for its run folder",
                "free some space (old run folders can go), or give --output a folder on "
                "another disk",
            )
        ]
    return []
