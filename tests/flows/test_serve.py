"""Scheduled runs for real: `prefect server start`, `temakarta serve` with a short interval in a
child process, `temakarta trigger`, and the errors without a server."""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = "004_77aaf0857291a2ba.txt"
STARTUP = 600.0  # seconds; generous, the test machine is shared

pytestmark = pytest.mark.slow


def _env(api_url: str | None, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    # PYTHONPATH: the flow runs the served process starts import this checkout's code.
    env |= {"PREFECT_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def _cli(
    *args: str, env: dict[str, str], timeout: float = STARTUP
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`prefect server start` on a free loopback port with its own PREFECT_HOME (SQLite);
    yields its API URL and stops it at the end."""
    home = tmp_path_factory.mktemp("server-home")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start",
         "--host", "127.0.0.1", "--port", str(port)],
        env=_env(None, home), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        assert server.poll() is None, (home / "server.log").read_text()
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
    else:
        pytest.fail(f"prefect server did not start: {(home / 'server.log').read_text()}")
    yield url
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    log.close()


def _deployments(url: str, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.post(
        f"{url}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}
    ).json()
    return found


def _flow_runs(url: str, deployment: str) -> list[dict[str, Any]]:
    found = _deployments(url, deployment)
    if not found:
        return []
    runs: list[dict[str, Any]] = httpx.post(
        f"{url}/flow_runs/filter",
        json={"flow_runs": {"deployment_id": {"any_": [found[0]["id"]]}}},
    ).json()
    return runs


@pytest.fixture(scope="module")
def served(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`temakarta serve` of a one-document corpus every 10 seconds, in a child process."""
    root = tmp_path_factory.mktemp("served")
    corpus, output = root / "corpus", root / "out"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / DOCUMENT, corpus / DOCUMENT)
    name = f"test-{uuid.uuid4().hex[:8]}"
    env = _env(prefect_server, root / "client-home")
    log = (root / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", str(corpus), "--output", str(output),
         "--interval", "10", "--name", name],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + STARTUP
    while not _deployments(prefect_server, name) and time.monotonic() < deadline:
        assert serve.poll() is None, (root / "serve.log").read_text()
        time.sleep(2)
    yield Served(prefect_server, name, output, env, root / "serve.log", serve)
    if serve.poll() is None:  # test_sigterm_stops_serve_and_its_runs stops it itself
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
    log.close()


@dataclass(frozen=True)
class Served:
    api_url: str
    name: str
    output: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]


def _children(pid: int) -> dict[int, str]:
    """The live child processes of `pid`: their command lines by pid (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # ended meanwhile
            continue
        # the fields after the command name (in parentheses): state, ppid, ...
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def _descendants(pid: int) -> set[int]:
    children = set(_children(pid))
    return children.union(*(_descendants(child) for child in children))


def _run_processes(pid: int) -> list[int]:
    """The flow-run processes of the serve process `pid` (Prefect spawns one per run)."""
    return [child for child, cmd in _children(pid).items() if "spawn_main" in cmd]


def test_trigger_runs_the_served_deployment_now(served: Served) -> None:
    triggered = _cli("trigger", served.name, "--wait", env=served.env, timeout=2 * STARTUP)
    assert triggered.returncode == 0, triggered.stdout + triggered.stderr + served.log.read_text()
    assert f"of temakarta-scheduled/{served.name}: Completed" in triggered.stdout
    latest = served.output / "latest"
    assert (latest / "manifest.json").is_file() and (latest / "changes.csv").is_file()
    missing = _cli("trigger", "no-such-deployment", env=served.env)
    assert missing.returncode == 3
    assert "no deployment temakarta-scheduled/no-such-deployment" in missing.stderr


@pytest.mark.skipif(
    sqlalchemy.__version__.startswith("2.1"),
    reason="Prefect 3.8.8's scheduler cannot insert scheduled runs with SQLAlchemy 2.1 "
    "(InvalidRequestError: Can't evaluate bulk DML statement); pyproject.toml pins "
    "sqlalchemy<2.1: reinstall (make) to run this test",
)
def test_the_served_deployment_runs_on_its_schedule_one_run_process_at_a_time(
    served: Served,
) -> None:
    # Every 10 seconds, and the first run (which loads the model) takes longer than that on
    # a 2-core machine: runs due meanwhile must wait for it, not each start a process of its
    # own (~300 MB) that waits for the output lock.
    deadline = time.monotonic() + 2 * STARTUP
    completed: list[dict[str, Any]] = []
    most = 0
    while time.monotonic() < deadline and len(completed) < 3:
        most = max(most, len(_run_processes(served.process.pid)))
        runs = _flow_runs(served.api_url, served.name)
        completed = [r for r in runs if r["state_type"] == "COMPLETED" and r["auto_scheduled"]]
        time.sleep(0.5)
    assert len(completed) >= 3, served.log.read_text()
    assert most == 1, f"{most} flow-run processes at once\n{served.log.read_text()}"
    assert (served.output / "latest" / "manifest.json").is_file()
    time.sleep(3)  # a finished run's process is gone (the last run may have started anew)
    assert len(_run_processes(served.process.pid)) <= 1


def test_sigterm_stops_serve_and_its_runs(served: Served) -> None:
    started = _cli("trigger", served.name, env=served.env)
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + STARTUP
    while not _run_processes(served.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    processes = _descendants(served.process.pid)
    assert _run_processes(served.process.pid), served.log.read_text()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=120) == 0, served.log.read_text()
    time.sleep(1)  # grandchildren (a run's reader forkserver) see their parent gone
    left = {pid for pid in processes if Path(f"/proc/{pid}").exists()}
    left = {pid for pid in left if "Z" not in (Path(f"/proc/{pid}") / "stat").read_text()}
    assert not left, f"still running after serve stopped: {left}\n{served.log.read_text()}"
    deployment = _deployments(served.api_url, served.name)[0]
    assert deployment["paused"], "the schedule is paused when serve stops"
    runs = _flow_runs(served.api_url, served.name)
    assert not [r for r in runs if r["state_type"] in ("RUNNING", "PENDING")], runs


def test_ctrl_c_stops_serve(prefect_server: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / DOCUMENT, corpus / DOCUMENT)
    name = f"test-{uuid.uuid4().hex[:8]}"
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", str(corpus), "--output",
         str(tmp_path / "out"), "--cron", "0 6 1 1 *", "--name", name],
        cwd=ROOT, env=_env(prefect_server, tmp_path / "home"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + STARTUP
    # Ctrl-C as soon as the deployment exists, while the runner may still be starting: that
    # moment once left the schedule unpaused.
    while not _deployments(prefect_server, name) and time.monotonic() < deadline:
        assert serve.poll() is None, serve.communicate()[0]
        time.sleep(0.05)
    serve.send_signal(signal.SIGINT)
    output, _ = serve.communicate(timeout=120)
    assert serve.returncode == 0, output
    assert "Traceback" not in output
    assert _deployments(prefect_server, name)[0]["paused"]


def test_serve_and_trigger_without_a_server_say_how_to_start_one(tmp_path: Path) -> None:
    unset = _cli("serve", str(ROOT / "corpus"), "--cron", "0 6 * * 1",
                 env=_env(None, tmp_path))  # fmt: skip
    assert unset.returncode == 3
    assert "PREFECT_API_URL is not set; start one with `prefect server start`" in unset.stderr
    nobody = _env("http://127.0.0.1:9/api", tmp_path)
    for args in (["serve", str(ROOT / "corpus"), "--interval", "60"], ["trigger", "x"]):
        result = _cli(*args, env=nobody)
        assert result.returncode == 3, result.stderr
        assert "PREFECT_API_URL=http://127.0.0.1:9/api: no Prefect server answers" in result.stderr
        assert "Traceback" not in result.stderr


def test_prefect_yaml_deploys_the_scheduled_flow() -> None:
    from flows.deploy import FLOW_NAME, scheduled_theme_map

    project = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    (deployment,) = project["deployments"]
    module, function = deployment["entrypoint"].split(":")
    assert module == scheduled_theme_map.fn.__module__
    assert function == scheduled_theme_map.fn.__name__
    assert scheduled_theme_map.name == FLOW_NAME
    assert set(deployment["parameters"]) == set(
        inspect.signature(scheduled_theme_map.fn).parameters
    )
    assert deployment["schedules"][0]["cron"] == "0 6 * * 1"
    assert deployment["work_pool"]["name"] == "temakarta"
