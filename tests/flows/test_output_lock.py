"""The output folder's lock and the sweep of what killed runs left (flows/output_lock.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flows.output_lock import LOCK_FILE, STALE_TMP_SECONDS, output_lock, sweep_stale, user_umask

_HOLD = """
import sys, time
from pathlib import Path
from flows.output_lock import output_lock
with output_lock(Path(sys.argv[1]), print):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    (Path(sys.argv[1]) / "holder-done").write_text("")
"""


def test_a_second_run_waits_for_the_lock_and_says_who_holds_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path), "3"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    messages: list[str] = []
    with output_lock(tmp_path, messages.append):
        # We got the lock only once the holder was through with it.
        assert (tmp_path / "holder-done").exists()
    assert len(messages) == 1
    assert f"another temakarta run (pid {holder.pid})" in messages[0]
    assert "waiting for it to finish" in messages[0]
    holder.wait()


def test_the_lock_of_a_killed_run_is_free(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path), "600"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    messages: list[str] = []
    with output_lock(tmp_path, messages.append):
        pass
    assert messages == []
    assert (tmp_path / LOCK_FILE).read_text(encoding="utf-8") == f"pid {os.getpid()}\n"


def test_sweep_removes_only_what_killed_runs_left(tmp_path: Path) -> None:
    output, cache = tmp_path / "out", tmp_path / "cache"
    output.mkdir()
    cache.mkdir()
    run = output / "20260101T000000Z-abcdef12"
    run.mkdir()
    staging = output / ".20260101T000001Z-abcdef12-2.k3j_x9ab"
    staging.mkdir()
    (staging / "statements.csv").write_text("id\n", encoding="utf-8")
    link = output / ".latest.20260101T000000Z-abcdef12"
    link.symlink_to(run.name)
    (output / "latest").symlink_to(run.name)
    (output / ".git").mkdir()  # someone's own hidden folder
    old = time.time() - STALE_TMP_SECONDS - 5
    stale = cache / "embeddings-0123.npz.abc.tmp"
    stale.write_bytes(b"")
    os.utime(stale, (old, old))
    fresh = cache / "embeddings-0123.npz.def.tmp"  # a live writer's, maybe
    fresh.write_bytes(b"")
    written = output / "x.tmp"
    written.write_bytes(b"data")
    os.utime(written, (old, old))
    removed = sweep_stale(output, cache)
    assert removed == sorted([staging, link, stale])
    assert run.is_dir() and (output / ".git").is_dir() and (output / "latest").is_symlink()
    assert fresh.exists() and written.exists()


def test_umask_is_read_without_changing_it() -> None:
    old = os.umask(0o027)
    try:
        assert user_umask() == 0o027
        assert user_umask() == 0o027
    finally:
        os.umask(old)
