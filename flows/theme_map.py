"""The Prefect flow: a corpus folder → theme-by-region matrices.

extract (mapped per document) → segment → regions → labels → embed → themes → matrix → write.
Each task is a thin wrapper over one `pipeline` stage; this module only reads, writes and wires.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.utilities.annotations import quote

from flows import io
from flows.cache_store import CacheStore, cache_dir_for
from flows.embed_cache import count_uncached, encode_cached
from flows.extract_cache import cached_document, extract_through_cache
from flows.history import FINGERPRINT_KEY, fingerprint, last_fingerprint, last_run
from flows.output_lock import output_lock, sweep_stale
from flows.preflight import check_inputs
from flows.progress import EMBED, READ, NullProgress, Progress
from flows.statement_cache import Segmented, cached_statements, merge, store_statements
from flows.task_runners import MappedEmbedder
from pipeline.changes import changes_frame, changes_markdown, compare_runs
from pipeline.config import Config, CsvDialect
from pipeline.embed import SentenceTransformerEmbedder, Vectors, resolve_precision
from pipeline.extract import ExtractError, Furniture
from pipeline.labels import STAGE as LABELS_STAGE
from pipeline.labels import match_labels
from pipeline.matrix import (
    COL_DOCUMENT,
    COL_N_STATEMENTS,
    COL_TOTAL,
    ROW_N_STATEMENTS,
    Tables,
    build_tables,
)
from pipeline.records import Document, DocumentError, DocumentInfo, Statement
from pipeline.regions import attribute_regions
from pipeline.report import RunInfo, build_report, config_summary
from pipeline.segment import segment_document
from pipeline.theme_ids import keep_theme_ids
from pipeline.themes import ThemeResult, assign_themes

_T = TypeVar("_T")
_NO_DOCUMENT_HINT = "check the file opens in its own program; export it again if not"
_REPORT_HINT = "report this document to the temakarta maintainers"


def skipped_documents(errors: Sequence[DocumentError]) -> list[str]:
    """The documents a run skipped (rejected labels.csv rows skip no document), sorted."""
    return sorted({e.document for e in errors if e.stage != LABELS_STAGE})


@dataclass
class RunReport:
    """What a run did: where its outputs are and what went wrong (for the CLI's exit code)."""

    run_dir: Path
    n_documents: int
    n_statements: int
    errors: list[DocumentError] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    unchanged_since: str | None = None  # the run whose inputs these are (nothing was written)
    latest_moved: bool = True  # false when no document could be read


@task(name="cached-documents", cache_policy=NO_CACHE)
def cached_documents_task(
    files: Sequence[Path], corpus_dir: Path, config: Config, cache_dir: Path
) -> dict[Path, Document]:
    """The documents the cache store has from an earlier run (same bytes, reader version and
    limits), by path: these files are not read again."""
    store = CacheStore(cache_dir)
    found = {
        p: cached_document(p, p.relative_to(corpus_dir).as_posix(), config, store) for p in files
    }
    return {p: d for p, d in found.items() if d is not None}


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(
    path: Path,
    corpus_dir: Path,
    config: Config,
    cache_dir: Path,
    furniture: Furniture | None = None,
) -> Document | DocumentError:
    """One file → Document (stored in the cache store), or a DocumentError row (never raises
    for a bad file).

    The file is read in a child process with a hard time limit and a memory cap."""
    name = path.relative_to(corpus_dir).as_posix()
    try:
        return extract_through_cache(path, name, config, CacheStore(cache_dir), furniture)
    except ExtractError as exc:
        fix = exc.fix or _NO_DOCUMENT_HINT
        if exc.setting:
            fix += f", or raise {exc.setting} in {config.source}"
        error = DocumentError(name, "extract", exc.where, exc.what, fix)
    except Exception as exc:
        error = DocumentError(
            name, "extract", name, f"unexpected {type(exc).__name__}: {exc}", _NO_DOCUMENT_HINT
        )
    get_run_logger().warning("skipped %s: %s", name, error.message)
    return error


@task(name="segment", cache_policy=NO_CACHE)
def segment_task(
    documents: Sequence[Document], data: io.ProjectData
) -> tuple[dict[str, tuple[Statement, ...]], list[DocumentError]]:
    """Statements of every document (by document name); a failing document is reported."""
    return _per_document(
        documents,
        "segment",
        lambda d: segment_document(d, data.config.segment, data.abbreviations),
    )


@task(name="regions", cache_policy=NO_CACHE)
def regions_task(
    documents: Sequence[Document],
    statements: dict[str, tuple[Statement, ...]],
    data: io.ProjectData,
    known: Mapping[str, Segmented] | None = None,
    cache_dir: Path | None = None,
) -> tuple[list[Statement], list[DocumentInfo], list[DocumentError]]:
    """Statements with their region, in document order, and each document's own facts; those
    of the documents in `known` (from the cache store) are added as they are, and those of
    `documents` are kept in the store in `cache_dir` for the next run."""
    done, errors = _per_document(
        [d for d in documents if d.name in statements],
        "regions",
        lambda d: attribute_regions(
            d, statements[d.name], data.gazetteer, data.metadata.get(d.name)
        ),
    )
    if cache_dir is not None:
        store_statements(documents, done, data, CacheStore(cache_dir))
    with_regions, infos = merge(done, known or {})
    return with_regions, infos, errors


@task(name="cached-statements", cache_policy=NO_CACHE)
def cached_statements_task(
    documents: Sequence[Document], data: io.ProjectData, cache_dir: Path
) -> dict[str, Segmented]:
    """The statements and facts of the documents segmented before with the same inputs."""
    return cached_statements(documents, data, CacheStore(cache_dir))


def _per_document(
    documents: Sequence[Document], stage: str, work: Callable[[Document], _T]
) -> tuple[dict[str, _T], list[DocumentError]]:
    """Run `work` on each document; one that fails becomes an error row and the rest go on."""
    results: dict[str, _T] = {}
    errors: list[DocumentError] = []
    for document in documents:
        try:
            results[document.name] = work(document)
        except Exception as exc:
            errors.append(
                DocumentError(
                    document.name,
                    stage,
                    document.name,
                    f"{stage} failed: {type(exc).__name__}: {exc}",
                    _REPORT_HINT,
                )
            )
            get_run_logger().warning("skipped %s at %s: %s", document.name, stage, exc)
    return results, errors


@task(name="labels", cache_policy=NO_CACHE)
def labels_task(
    statements: Sequence[Statement], corpus_dir: Path, data: io.ProjectData
) -> tuple[dict[str, str], list[DocumentError]]:
    """The analyst's theme for each statement named in the corpus folder's `labels.csv` (none
    without the file); a row that cannot be used is reported and the others are used."""
    rows = io.load_labels(corpus_dir)
    if rows is None:
        return {}, []
    theme_ids = [theme.id for theme in data.codebook.themes]
    labels, errors = match_labels(rows, str(corpus_dir / io.LABELS_FILE), statements, theme_ids)
    for error in errors:
        get_run_logger().warning("label not used: %s", error.message)
    return labels, errors


@task(name="embed", cache_policy=NO_CACHE)
def embed_task(
    statements: Sequence[Statement],
    data: io.ProjectData,
    cache_dir: Path,
    progress: Progress,
    mapped: bool = False,
) -> tuple[Vectors, Vectors, str, int]:
    """(n, dim) float32 statement vectors and the codebook's, through the cache store, the
    content hash of the model that made them and how many distinct texts the model embedded
    (the rest came from the store) — for the manifest. `mapped`: the texts not in the store are
    embedded in batches mapped on the flow's task runner (Dask workers).

    The progress bar counts the texts not in the cache yet (statements and codebook examples)."""
    embedder = MappedEmbedder(data.config) if mapped else project_embedder(data.config)
    texts, codebook_texts = [s.text for s in statements], list(data.codebook.texts)
    uncached = count_uncached(texts + codebook_texts, embedder, cache_dir)
    get_run_logger().info("embedding %d new texts; the rest are in the cache store", uncached)
    progress.start(EMBED, uncached)

    def advance(n: int) -> None:
        progress.advance(EMBED, n)

    vectors = encode_cached(texts, embedder, cache_dir, advance)
    codebook_vectors = encode_cached(codebook_texts, embedder, cache_dir, advance)
    return vectors, codebook_vectors, embedder.content_hash, uncached


@task(name="themes", cache_policy=NO_CACHE)
def themes_task(
    statements: Sequence[Statement],
    vectors: Any,
    codebook_vectors: Any,
    data: io.ProjectData,
    labels: Mapping[str, str],
) -> ThemeResult:
    return assign_themes(
        statements,
        vectors,
        data.codebook,
        codebook_vectors,
        data.config.themes,
        data.stopwords,
        labels=labels,
    )


@task(name="matrix", cache_policy=NO_CACHE)
def matrix_task(
    statements: Sequence[Statement],
    result: ThemeResult,
    infos: Sequence[DocumentInfo],
    representatives: int,
) -> Tables:
    return build_tables(statements, result, infos, representatives)


@task(name="write-outputs", cache_policy=NO_CACHE)
def write_task(
    output_dir: Path,
    run_id: str,
    tables: Tables,
    errors: Sequence[DocumentError],
    manifest: dict[str, Any],
    summary: str,
    csv_dialect: CsvDialect = "comma",
    run_info: RunInfo | None = None,
    changes: Any = None,
    move_latest: bool = True,
) -> Path:
    report = build_report(tables, run_info) if run_info is not None else None
    run_dir = io.write_run(
        output_dir,
        run_id,
        tables,
        errors,
        manifest,
        summary,
        csv_dialect,
        report_html=report,
        changes=changes,
        move_latest=move_latest,
    )
    # What the Prefect UI shows of a run (a scheduled one has no terminal to print to).
    create_table_artifact(
        key="theme-region-counts",
        table=_artifact_rows(tables.counts),
        description=f"Statements per theme and region, run {run_id}",
    )
    create_table_artifact(
        key="theme-region-shares",
        table=_artifact_rows(tables.shares),
        description=f"Percent of each region's statements per theme, run {run_id}",
    )
    report_file = run_dir / io.REPORT_FILE
    create_link_artifact(
        key="theme-map-report",
        link=report_file.resolve().as_uri(),
        link_text=f"{report_file.name} of run {run_id}",
        description=f"The run's report: heatmap, statements per cell, themes. Run folder {run_dir}",
    )
    create_markdown_artifact(key="theme-map-summary", markdown=summary)
    return run_dir


def _artifact_rows(frame: Any) -> list[dict[str, Any]]:
    """A table's rows for a Prefect table artifact (string keys, no NaN, which JSON lacks)."""
    return [
        {str(k): None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


@flow(name="temakarta-theme-map", log_prints=True)
def theme_map(
    corpus_dir: Path,
    output_dir: Path,
    config: Config,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    force: bool = False,
    mapped_embedding: bool = False,
) -> RunReport:
    """Turn the documents in `corpus_dir` into theme-by-region CSVs under `output_dir/<run-id>/`.

    One run at a time per output folder (a second waits, `flows/output_lock.py`). When nothing
    the run reads changed since the last completed run it finishes at once, writing nothing
    (`force` reprocesses anyway). `progress` shows how far reading and embedding have come (the
    CLI passes bars on a terminal); a scheduled run shows none. `cache_dir` (--cache-dir)
    overrides the config's cache store location. `mapped_embedding`: embed in batches mapped on
    the task runner (with Dask, see flows/task_runners.py) instead of in the flow's process."""
    logger = get_run_logger()
    cache_dir = cache_dir_for(config, cache_dir)
    # Everything the run reads is checked first: a bad input stops it here (InputError),
    # before any document is read or the model is loaded.
    check_inputs(corpus_dir, output_dir, config)
    with output_lock(output_dir, logger.warning):
        swept = sweep_stale(output_dir, cache_dir)
        if swept:
            logger.info("removed what interrupted runs left: %s", ", ".join(map(str, swept)))
        files = io.corpus_files(corpus_dir)
        inputs, data_files = io.input_hashes(corpus_dir, files), io.data_file_hashes(config)
        current = fingerprint(inputs, data_files, config, project_embedder(config).content_hash)
        last = last_fingerprint(output_dir)
        if last is not None and last[1] == current and not force:
            logger.info(
                "unchanged since %s: the documents, labels, metadata, config, data files and "
                "model are those of that run; nothing written (--force reprocesses)",
                last[0],
            )
            return RunReport(output_dir / last[0], 0, 0, unchanged_since=last[0])
        run = _Inputs(corpus_dir, output_dir, config, cache_dir, files, inputs, data_files, current)
        return _process(run, progress or NullProgress(), mapped_embedding)


@dataclass(frozen=True)
class _Inputs:
    """What a run found before processing: its folders, config, files and their hashes."""

    corpus_dir: Path
    output_dir: Path
    config: Config
    cache_dir: Path
    files: list[Path]
    inputs: dict[str, str]
    data_files: dict[str, str]
    fingerprint: str


def _process(run: _Inputs, progress: Progress, mapped_embedding: bool) -> RunReport:
    """The stages, from reading the files to writing the run folder; `mapped_embedding` as in
    `theme_map`."""
    corpus_dir, config = run.corpus_dir, run.config
    timings: dict[str, float] = {}
    files = run.files
    data = io.load_project_data(config, corpus_dir)
    previous = last_run(run.output_dir)
    store_dir = run.cache_dir
    with _timed(timings, "extract"):
        cached = cached_documents_task(files, corpus_dir, config, store_dir)
        to_read = [p for p in files if p not in cached]
        get_run_logger().info(
            "reading %d documents, %d from the cache store", len(to_read), len(cached)
        )
        # Time and memory limits are enforced on the child process that reads each file:
        # a Prefect timeout cannot interrupt a task running in a worker thread.
        extracted = extract_task.map(
            to_read,
            corpus_dir=unmapped(corpus_dir),
            config=unmapped(config),
            cache_dir=unmapped(store_dir),
            furniture=unmapped(data.furniture),
        )
        progress.start(READ, len(files))
        if cached:
            progress.advance(READ, len(cached))
        for _ in as_completed(list(extracted)):
            progress.advance(READ)
        read = {
            path: _outcome(future, path, corpus_dir, config)
            for future, path in zip(extracted, to_read, strict=True)
        }
        outcomes = [cached[p] if p in cached else read[p] for p in files]
    documents = [o for o in outcomes if isinstance(o, Document)]
    errors = [o for o in outcomes if isinstance(o, DocumentError)]
    with _timed(timings, "segment"):
        known = cached_statements_task(_unwalked(documents), data, store_dir)
        fresh = [d for d in documents if d.name not in known]
        found, segment_errors = segment_task(_unwalked(fresh), data)
    with _timed(timings, "regions"):
        statements, infos, region_errors = regions_task(
            _unwalked(fresh), _unwalked(found), data, _unwalked(known), store_dir
        )
    with _timed(timings, "labels"):
        labels, label_errors = labels_task(_unwalked(statements), corpus_dir, data)
    errors += segment_errors + region_errors + label_errors
    with _timed(timings, "embed"):
        vectors, codebook_vectors, model_hash, n_embedded = embed_task(
            _unwalked(statements), data, store_dir, progress, mapped_embedding
        )
    with _timed(timings, "themes"):
        result = themes_task(
            _unwalked(statements), _unwalked(vectors), codebook_vectors, data, _unwalked(labels)
        )
        result = keep_theme_ids(result, statements, previous.theme_of if previous else {})
    with _timed(timings, "matrix"):
        tables = matrix_task(
            _unwalked(statements),
            _unwalked(result),
            _unwalked(infos),
            config.themes.representatives,
        )
        changes = compare_runs(
            previous, tables.counts, _statements_per_document(tables), run.inputs
        )
    run_id = io.new_run_id(run.inputs, run.data_files, config, run.output_dir)
    manifest = _manifest(
        run_id, corpus_dir, run.inputs, run.data_files, config, model_hash, result, timings, errors
    )
    manifest[FINGERPRINT_KEY] = run.fingerprint
    manifest["previous_run"] = changes.previous_run_id
    manifest["cache"] = {
        "dir": str(store_dir),
        "documents_read": len(to_read),
        "documents_from_cache": len(cached),
        "documents_segmented": len(fresh),
        "texts_embedded": n_embedded,
    }
    summary = _summary(run_id, tables, documents, errors, result, changes_markdown(changes))
    with _timed(timings, "write"):
        run_dir = write_task(
            run.output_dir,
            run_id,
            _unwalked(tables),
            _unwalked(errors),
            manifest,
            summary,
            config.outputs.csv_dialect,
            run_info=report_info(run_id, config, model_hash, errors),
            changes=changes_frame(changes),
            move_latest=bool(documents),
        )
    if not documents:
        get_run_logger().error(
            "no document could be read: %s written (see errors.csv), latest not moved", run_dir
        )
    return RunReport(
        run_dir, len(documents), len(statements), errors, timings, latest_moved=bool(documents)
    )


def _statements_per_document(tables: Tables) -> dict[str, int]:
    """Statements per document, from the documents table."""
    return {
        str(row[COL_DOCUMENT]): int(row[COL_N_STATEMENTS])
        for row in tables.documents.to_dict("records")
    }


def report_info(
    run_id: str, config: Config, model_hash: str, errors: Sequence[DocumentError]
) -> RunInfo:
    """The run facts report.html shows; its date is the UTC time in the run id (so the report
    depends on nothing but the run)."""
    try:
        date = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        date = ""
    return RunInfo(
        run_id=run_id,
        date=date,
        model=config.model.path,
        model_hash=model_hash,
        config=config_summary(config),
        errors=tuple(errors),
        per_cell=config.outputs.report_statements_per_cell,
    )


def _outcome(future: Any, path: Path, corpus_dir: Path, config: Config) -> Document | DocumentError:
    """A mapped extraction's result; a crashed or timed-out task becomes an error row."""
    state = future.wait() or future.state
    if state.is_completed():
        value: Document | DocumentError = future.result()
        return value
    name = path.relative_to(corpus_dir).as_posix()
    return DocumentError(
        name,
        "extract",
        name,
        f"extraction did not finish ({state.name}: {state.message})",
        f"split the document, or raise limits.timeout_seconds in {config.source}",
    )


def project_embedder(config: Config) -> SentenceTransformerEmbedder:
    """The embedder a run uses (the model, prompt, batch size and window of `config.model`);
    `temakarta review` takes the same one, so it reads the run's vectors from the cache."""
    return SentenceTransformerEmbedder(
        config.resolve(config.model.path),
        prompt=config.model.prompt,
        batch_size=config.model.batch_size,
        max_tokens=config.model.max_tokens,
        threads=config.model.threads,
        precision=config.model.precision,
    )


def _unwalked(value: _T) -> _T:
    """`value` as a task argument Prefect passes on without walking every object in it to look
    for futures (with a million statements that walk took minutes between one task's end and
    the next's start); typed as the value, which the task receives."""
    return cast(_T, quote(value))


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)


def _manifest(
    run_id: str,
    corpus_dir: Path,
    inputs: Mapping[str, str],
    data_files: Mapping[str, str],
    config: Config,
    model_hash: str,
    result: ThemeResult,
    timings: dict[str, float],
    errors: Sequence[DocumentError],
) -> dict[str, Any]:
    model_dir = config.resolve(config.model.path)
    return {
        "run_id": run_id,
        "corpus": str(corpus_dir),
        "inputs": dict(inputs),
        "data_files": dict(data_files),
        "config": config.model_dump(mode="json"),
        "model": {
            "path": str(model_dir),
            "content_sha256": model_hash,
            # what `model.precision` resolved to on this machine (auto: its CPU decides)
            "precision": resolve_precision(config.model.precision),
        },
        "classifier": result.classifier.summary() if result.classifier else None,
        "inductive_min_cohesion": result.min_cohesion,
        "versions": io.package_versions(),
        "stage_seconds": timings,
        "documents_skipped": len(skipped_documents(errors)),
        "label_rows_rejected": sum(e.stage == LABELS_STAGE for e in errors),
        "outputs": sorted(
            [
                *io.OUTPUT_FILES.values(),
                io.ERRORS_FILE,
                "summary.md",
                io.CHANGES_FILE,
                io.WORKBOOK_FILE,
                io.REPORT_FILE,
            ]
        ),
    }


def _summary(
    run_id: str,
    tables: Tables,
    documents: Sequence[Document],
    errors: Sequence[DocumentError],
    result: ThemeResult,
    changes: str = "",
) -> str:
    """summary.md (and the Prefect markdown artifact): what changed first, then the run."""
    counts = tables.counts
    totals = counts.loc[counts["theme_id"] == ROW_N_STATEMENTS].iloc[0]
    top = counts[~counts["theme_id"].str.startswith("N_")].sort_values(
        [COL_TOTAL, "theme_id"], ascending=[False, True]
    )
    skipped = len(skipped_documents(errors))
    lines = [
        f"# temakarta run {run_id}",
        "",
        *([changes] if changes else []),
        f"{len(documents)} documents read, {skipped} documents skipped, "
        f"{int(totals[COL_TOTAL])} statements, {len(result.themes)} themes.",
        "",
        "| theme | statements |",
        "|---|---|",
        *(f"| {row.theme_label} | {row[COL_TOTAL]} |" for _, row in top.iterrows()),
    ]
    if errors:
        lines += ["", "## Skipped documents", ""]
        lines += [f"- {e.document} ({e.stage}): {e.message} — {e.fix}" for e in errors]
    return "\n".join(lines) + "\n"
