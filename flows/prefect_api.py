"""The Prefect server a command talks to: the one in `PREFECT_API_URL`, or a temporary one.

Without `PREFECT_API_URL`, `temakarta run` starts a temporary server itself (what Prefect's
ephemeral mode does, on a free loopback port, without the UI) so it can make the server die with
it: the server process is started with `PR_SET_PDEATHSIG`, so the kernel kills it when the
process that started it dies, `kill -9` included. Prefect's own ephemeral server is stopped only
by an `atexit` hook, which a killed process never runs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import httpx

_PR_SET_PDEATHSIG = 1
SERVER_HINT = (
    "start one with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api "
    "(see the README, 'Scheduled runs')"
)


class ServerError(Exception):
    """No Prefect server to talk to (not configured, not answering, or not startable)."""


def configured_api_url() -> str | None:
    """`PREFECT_API_URL` as Prefect sees it (environment, profile or temporary settings)."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def check_reachable(api_url: str, timeout: float = 30.0) -> None:
    """Raise `ServerError` unless the Prefect API at `api_url` answers its health check."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ServerError(
            f"PREFECT_API_URL={api_url}: no Prefect server answers ({type(exc).__name__}: "
            f"{exc}); {SERVER_HINT}, or unset PREFECT_API_URL for a temporary server"
        ) from exc


@contextmanager
def prefect_api(startup_timeout: float = 120.0) -> Iterator[str]:
    """The API URL to use for one command: `PREFECT_API_URL` when set (checked to answer),
    else a temporary server that lives as long as this block, or this process."""
    url = configured_api_url()
    if url:
        check_reachable(url)
        yield url
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_server(startup_timeout) as url, temporary_settings({PREFECT_API_URL: url}):
        yield url


@contextmanager
def temporary_server(startup_timeout: float = 120.0) -> Iterator[str]:
    """A Prefect API server (SQLite in PREFECT_HOME, no UI) on a free loopback port, killed by
    the kernel if this process dies; yields its API URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        # As Prefect starts its ephemeral server: no UI, no background services.
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    env.pop("PREFECT_API_URL", None)
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_die_with(os.getpid()),
        )
        try:
            _wait_healthy(process, url, startup_timeout, log)
            yield url
        finally:
            _drain_prefect_workers()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _drain_prefect_workers() -> None:
    """Send the logs and events Prefect still holds to the server before it stops (Prefect's
    own exit hooks run later, when the server is gone)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=5)


def _free_port() -> int:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            return port
    except OSError as exc:
        raise ServerError(
            f"cannot listen on the loopback interface 127.0.0.1 for a temporary Prefect server "
            f"({exc}); bring up the loopback interface, or {SERVER_HINT}"
        ) from exc


def _wait_healthy(
    process: subprocess.Popen[bytes], url: str, timeout: float, log: IO[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the temporary Prefect server exited with code {process.returncode} before it "
                f"answered ({_tail(log)}); {SERVER_HINT}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServerError(
        f"the temporary Prefect server on {url} did not answer within {timeout:.0f} s "
        f"({_tail(log)}); {SERVER_HINT}"
    )


def _tail(log: IO[bytes]) -> str:
    """The last lines the server wrote (its log file), for an error message."""
    log.seek(0)
    text = log.read().decode("utf-8", "replace").strip()
    return " / ".join(text.splitlines()[-3:]) or "no output"


def _die_with(parent: int) -> Callable[[], None]:
    """A `preexec_fn` that has the kernel SIGKILL the child when `parent` dies (Linux).

    PDEATHSIG fires when the thread that forked the child exits, so start the server from the
    main thread (the CLI does). libc is loaded before the fork: the child only calls prctl."""
    libc = ctypes.CDLL(None, use_errno=True)

    def set_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: go now
            os._exit(1)

    return set_death_signal
