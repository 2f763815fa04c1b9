"""Scheduled runs: the flow a deployment runs, `temakarta serve` and `temakarta trigger`.

A deployment's parameters are plain text (folders, an optional config file), so the flow reads
the config when it runs: an edit to models/config.yaml reaches the next scheduled run. It runs
the body of `theme_map`, so its flow run holds the logs and artifacts of the run.
`prefect.yaml` in the project root deploys the same flow to a work pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from prefect import flow, get_run_logger

from flows import io
from flows.theme_map import theme_map

FLOW_NAME = "temakarta-scheduled"
DEFAULT_DEPLOYMENT = "temakarta"


@flow(name=FLOW_NAME)
def scheduled_theme_map(
    corpus_dir: str, output_dir: str, config_path: str | None = None, force: bool = False
) -> str:
    """Run the theme map of `corpus_dir` into `output_dir` (config: `config_path`, default
    models/config.yaml); returns the run folder (the previous one when nothing changed)."""
    config = io.load_config(Path(config_path) if config_path else None)
    # The theme map's body runs inside this flow run (its tasks, logs and artifacts are this
    # run's): Prefect's validation of theme_map's parameters fails in a served flow run, where
    # the flow is loaded from its source and `Path` in theme_map's signature is not resolved.
    report = theme_map.fn(Path(corpus_dir), Path(output_dir), config, force=force)
    if report.unchanged_since:
        get_run_logger().info("unchanged since %s", report.unchanged_since)
    return str(report.run_dir)


@dataclass(frozen=True)
class Schedule:
    """When a served deployment runs: a cron line, or every `interval` seconds."""

    cron: str | None = None
    interval: float | None = None


def serve(
    corpus_dir: Path,
    output_dir: Path,
    schedule: Schedule,
    name: str = DEFAULT_DEPLOYMENT,
    config_path: Path | None = None,
) -> None:
    """Serve `scheduled_theme_map` as deployment `temakarta-scheduled/<name>` on the server in
    PREFECT_API_URL, running it on `schedule` until stopped (Ctrl-C, SIGTERM)."""
    parameters: dict[str, str] = {"corpus_dir": str(corpus_dir), "output_dir": str(output_dir)}
    if config_path is not None:
        parameters["config_path"] = str(config_path)
    from prefect.types.entrypoint import EntrypointType

    scheduled_theme_map.serve(
        name=name,
        # By module (flows.deploy), not by file: loading flows/deploy.py as a script puts
        # flows/ first on sys.path, where flows/io.py shadows the standard library's io.
        entrypoint_type=EntrypointType.MODULE_PATH,
        cron=schedule.cron,
        interval=schedule.interval,
        parameters=parameters,
        description=f"temakarta theme map of {corpus_dir} into {output_dir}",
        print_starting_message=True,
    )


def deployment_name(name: str) -> str:
    """`flow/deployment` as Prefect names deployments; a bare name is one of ours."""
    return name if "/" in name else f"{FLOW_NAME}/{name}"


def trigger(name: str, wait: bool) -> tuple[str, str]:
    """Start a run of deployment `name` now; with `wait`, until it ends. Returns the flow run's
    name and its state ("Scheduled" when not waiting)."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    # Called outside an event loop, Prefect's sync-compatible function returns the FlowRun.
    flow_run = cast(FlowRun, run_deployment(deployment_name(name), timeout=None if wait else 0))
    state = (flow_run.state.name if flow_run.state else None) or "unknown"
    return flow_run.name, state
