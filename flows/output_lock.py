"""One run at a time per output folder, and the mess a killed run left swept away.

A run holds an exclusive `flock` on `<output>/.temakarta.lock` from its first look at the folder
(fingerprint, previous run) to moving `latest`. A second run on the same folder *waits* for it
(saying so once, with the holder's process id) rather than failing: a scheduled run that
overlaps a manual one still happens, and then finds its inputs unchanged if they are. The kernel
drops the lock when its holder dies, `kill -9` included, so a dead run never blocks the next.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".temakarta.lock"
_RUN_ID = r"\d{8}T\d{6}Z-[0-9a-f]{8}(?:-\d+)?"
_STAGING_RE = re.compile(rf"^\.{_RUN_ID}\.[^.]+$")  # tempfile.mkdtemp(prefix=".RUNID.")
_LATEST_LINK_RE = re.compile(rf"^\.latest\.{_RUN_ID}$")
STALE_TMP_SECONDS = 60.0  # a 0-byte temp file this old has no live writer (writes take ms)


@contextmanager
def output_lock(output_dir: Path, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the output folder's lock (creating the folder); `on_wait` gets one message when
    another run holds it and this one waits."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(encoding="utf-8").strip() or "another process"
            on_wait(
                f"{output_dir}: another temakarta run ({holder}) is writing here; waiting for "
                f"it to finish (stop it, or give this run another --output, not to wait)"
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def sweep_stale(output_dir: Path, cache_dir: Path | None = None) -> list[Path]:
    """Remove what killed runs left: staging folders `.RUNID.xxxx` and `.latest.RUNID` links in
    `output_dir` (call with the lock held: no live run has them), and 0-byte `*.tmp` files older
    than `STALE_TMP_SECONDS` there and in `cache_dir`. Returns what was removed, sorted."""
    removed: list[Path] = []
    if output_dir.is_dir():
        for path in output_dir.iterdir():
            if _LATEST_LINK_RE.match(path.name) and path.is_symlink():
                path.unlink()
                removed.append(path)
            elif _STAGING_RE.match(path.name) and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    now = time.time()
    for folder in (output_dir, cache_dir):
        if folder is None or not folder.is_dir():
            continue
        for path in folder.glob("*.tmp"):
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if info.st_size == 0 and now - info.st_mtime > STALE_TMP_SECONDS:
                path.unlink(missing_ok=True)
                removed.append(path)
    return sorted(removed)


def user_umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting and restoring."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
