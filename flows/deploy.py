"""Scheduled runs: the flow a deployment runs, `temakarta serve` and `temakarta trigger`.

A deployment's parameters are plain text (folders, an optional config file), so the flow reads
the config when it runs: an edit to models/config.yaml reaches the next scheduled run. It runs
the body of `theme_map`, so its flow run holds the logs and artifacts of the run.
`prefect.yaml` in the project root deploys the same flow to a work pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.runner import Runner

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
    PREFECT_API_URL, running it on `schedule` until stopped (Ctrl-C, SIGTERM: the run in
    progress is cancelled, its process ended, the schedule paused; then this returns)."""
    from prefect.types.entrypoint import EntrypointType

    parameters: dict[str, str] = {"corpus_dir": str(corpus_dir), "output_dir": str(output_dir)}
    if config_path is not None:
        parameters["config_path"] = str(config_path)
    # One flow run at a time: each run is a process of its own (~300 MB before it loads the
    # model) and runs into one output folder, so a run that starts while another is going
    # would only wait for the output lock. Runs due meanwhile start when the slot frees.
    runner = _Runner(name=name, limit=1, pause_on_shutdown=True)
    # From here on a stop signal is the runner's: `add_flow` already creates the deployment,
    # and a Ctrl-C in it must still end in a paused schedule, not a traceback.
    previous = {sig: signal.signal(sig, runner.handle_sigterm) for sig in _STOP_SIGNALS}
    try:
        runner.add_flow(
            scheduled_theme_map,
            name=name,
            # By module (flows.deploy), not by file: loading flows/deploy.py as a script puts
            # flows/ first on sys.path, where flows/io.py shadows the standard library's io.
            entrypoint_type=EntrypointType.MODULE_PATH,
            cron=schedule.cron,
            interval=schedule.interval,
            parameters=parameters,
            description=f"temakarta theme map of {corpus_dir} into {output_dir}",
        )
        print(
            f"Serving deployment {FLOW_NAME}/{name} (one run at a time); run it now with "
            f"`temakarta trigger {name}`; stop with Ctrl-C or SIGTERM.",
            flush=True,
        )
        asyncio.run(runner.serve_until_stopped())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _end_children()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STARTUP_GRACE = 60.0  # seconds a stop signal waits for the runner to finish starting


class _Runner(Runner):
    """Prefect's runner, stopped cleanly by SIGTERM and SIGINT, whenever they come.

    Prefect 3.8's own SIGTERM handler calls the coroutine `stop()` without awaiting it and
    raises SystemExit into the event loop, whose shutdown then waits forever on the threads
    joining the flow-run processes: the processes were never told to end."""

    _stop_requested = False
    _stop: asyncio.Event | None = None
    _stop_loop: asyncio.AbstractEventLoop | None = None

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """The handler of SIGTERM and SIGINT (`Runner.start` installs it for SIGTERM)."""
        if self._stop_requested:
            return  # already stopping; a second Ctrl-C must not start another shutdown
        self._stop_requested = True
        self._logger.info("stopping: cancelling the run in progress and pausing the schedule")
        if self._stop_loop is not None and self._stop is not None:
            # From a signal handler: wake the loop (it may be waiting in select) to stop.
            self._stop_loop.call_soon_threadsafe(self._stop.set)

    async def serve_until_stopped(self) -> None:
        """Run `start()` until a stop signal; then cancel the runs in progress (their processes
        end), pause the schedule and stop. A signal during start-up waits for the runner to be
        up (at most `_STARTUP_GRACE` seconds), else just stops."""
        self._stop = asyncio.Event()
        loop = self._stop_loop = asyncio.get_running_loop()
        if self._stop_requested:  # a signal before the loop ran
            self._stop.set()
        serving = asyncio.ensure_future(self.start())
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        # Start-up registers the deployment before the runner counts as started: cancelling
        # it then left a deployment whose schedule nothing would pause (seen on a loaded CI
        # machine, Ctrl-C a moment after the deployment appeared).
        deadline = loop.time() + _STARTUP_GRACE
        while not self.started and not serving.done() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if not serving.done():
            if self.started:
                await self.astop()
            else:
                serving.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


def _end_children(grace: float = 10.0) -> None:
    """End the flow-run processes the runner leaves (SIGTERM, then SIGKILL after `grace`)."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(grace)
        if child.is_alive():
            child.kill()
            child.join()


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
