"""`temakarta run` as real processes: killed with SIGKILL at each stage, and two at once.

Every process a run starts (its temporary Prefect server, the forkserver and readers) inherits
a marker in its environment, so the test can tell that none outlives a killed run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flows.output_lock import output_lock

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = "004_77aaf0857291a2ba.txt"
MARK = "TEMAKARTA_TEST_RUN"
STARTUP = 600.0  # seconds; generous, the test machine is shared
RUN_FILES = ("manifest.json", "statements.csv", "changes.csv", "report.html", "summary.md")

pytestmark = pytest.mark.slow


@dataclass
class _Run:
    """A `temakarta run` child process and what it printed so far."""

    process: subprocess.Popen[str]
    marker: str
    lines: list[str] = field(default_factory=list)

    def printed(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


def _start(corpus: Path, output: Path, home: Path, *extra: str) -> _Run:
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PREFECT_HOME": str(home), MARK: marker, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", str(corpus), "--output", str(output),
         "--quiet", *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    run = _Run(process, marker)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            run.lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return run


def _marked(marker: str) -> list[str]:
    """Command lines of the live processes that carry `marker` in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"{MARK}={marker}".encode() in environ:
            found.append(f"{entry.name}: {cmdline}")
    return found


def _wait_for(condition: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return False


def _staging(output: Path) -> list[Path]:
    return [p for p in output.iterdir() if p.name.startswith(".2") and p.is_dir()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A one-document corpus, an output folder with one complete run, a Prefect home."""
    root = tmp_path_factory.mktemp("safety")
    corpus, output, home = root / "corpus", root / "out", root / "prefect"
    corpus.mkdir()
    home.mkdir()
    shutil.copy(ROOT / "corpus" / DOCUMENT, corpus / DOCUMENT)
    run = _start(corpus, output, home)
    assert run.process.wait(timeout=STARTUP) == 0, "".join(run.lines)
    return corpus, output, home


STAGES: dict[str, Callable[[_Run, Path], bool]] = {
    # The temporary Prefect server is up (its process carries the marker).
    "server": lambda run, _: any("uvicorn" in c for c in _marked(run.marker)),
    # A document read (each kill test has an empty cache store, so the run reads).
    "extract": lambda run, _: run.printed("Task run 'extract"),
    "embed": lambda run, _: run.printed("Task run 'labels"),
    # The run folder is being written (its staging folder exists).
    "write": lambda _, output: bool(_staging(output)),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_kill_9_at_any_stage_leaves_latest_complete_and_no_process(
    setup: tuple[Path, Path, Path], stage: str, tmp_path: Path
) -> None:
    corpus, output, home = setup
    before = (output / "latest").resolve()
    # An empty cache store of its own, so the run really reads and embeds (a rerun with the
    # shared store would take the document and its vectors from it and never reach those stages).
    run = _start(corpus, output, home, "--force", "--cache-dir", str(tmp_path / "cache"))
    _wait_for(lambda: STAGES[stage](run, output) or run.process.poll() is not None, STARTUP)
    assert STAGES[stage](run, output), f"never reached {stage}: {''.join(run.lines)}"
    run.process.send_signal(signal.SIGKILL)
    run.process.wait()
    gone = _wait_for(lambda: not _marked(run.marker), 60, poll=0.5)
    assert gone, f"left running after kill -9 at {stage}: {_marked(run.marker)}"
    latest = (output / "latest").resolve()
    # latest is the run before, or (killed after the rename) the complete new one.
    assert latest == before or all((latest / name).is_file() for name in RUN_FILES)
    for name in RUN_FILES:
        assert (latest / name).is_file(), name


def test_the_next_run_sweeps_what_killed_runs_left(setup: tuple[Path, Path, Path]) -> None:
    corpus, output, home = setup
    stale = output / ".20260101T000000Z-abcdef12.abcd1234"  # as a killed run leaves it
    stale.mkdir()
    (stale / "statements.csv").write_text("id\n", encoding="utf-8")
    run = _start(corpus, output, home)
    assert run.process.wait(timeout=STARTUP) == 0, "".join(run.lines)
    assert _staging(output) == []
    assert run.printed("removed what interrupted runs left")


def test_two_runs_on_one_output_folder_both_complete_one_after_the_other(
    setup: tuple[Path, Path, Path],
) -> None:
    """Both wait while the folder is locked (here by the test), then run one after the other
    and both complete, in two run folders."""
    corpus, output, home = setup
    before = {p.name for p in output.iterdir()}
    with output_lock(output, lambda _: None):
        runs = [_start(corpus, output, home, "--force") for _ in range(2)]
        waiting = _wait_for(
            lambda: all(run.printed("waiting for it to finish") for run in runs), 2 * STARTUP, 0.2
        )
        assert waiting, ["".join(run.lines) for run in runs]
    codes = [run.process.wait(timeout=2 * STARTUP) for run in runs]
    assert codes == [0, 0], ["".join(run.lines) for run in runs]
    new = sorted({p.name for p in output.iterdir()} - before)
    assert len(new) == 2, new  # two run folders, no collision on the run id
    for name in new:
        assert all((output / name / f).is_file() for f in RUN_FILES), name
    assert (output / "latest").resolve().name in new
