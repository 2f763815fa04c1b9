"""Read each document in a child process of its own: a hard time limit and a memory cap.

The readers check `limits.timeout_seconds` themselves between pages, but one pathological page,
table or XML part can still spin inside a parser, a C library (pdfium, lxml) can crash, and a
decompression the limits did not foresee can eat the machine's memory. None of that may sink a
run, so every document is read in a short-lived process that is

* killed when it runs past `limits.timeout_seconds` (plus `GRACE_SECONDS`, so that the reader's
  own deadline, which names the page, fires first);
* capped at `limits.max_memory_mb` of address space on top of what it starts with (RLIMIT_AS;
  Tesseract, started by the OCR reader, inherits the cap);
* reported, never propagated, when it crashes.

Legacy and OpenDocument files are converted by LibreOffice (`flows/convert.py`) inside that
process, so the conversion is bound by the same limits.

Children are forked from a forkserver that has the readers imported already, so a document costs
milliseconds of start-up, and at most one child per core runs at a time, so a run's extraction
needs at most cores × max_memory_mb of memory.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Generic, TypeVar

from flows.convert import soffice_convert
from pipeline.config import LimitsConfig
from pipeline.extract import ExtractError, Furniture, check_size, extract_document
from pipeline.records import Document

_T = TypeVar("_T")

GRACE_SECONDS = 5.0
_PRELOAD = [
    "pipeline.extract", "pdfplumber", "pypdfium2", "docx", "pptx", "bs4", "lxml.html",
    "flows.reader_preload",
]  # fmt: skip
# Prefect maps extraction over a thread pool wider than the machine: one child per core.
_SLOTS = threading.BoundedSemaphore(max(1, len(os.sched_getaffinity(0))))
_CONTEXT_LOCK = threading.Lock()
_context: Any = None


class ChildTimeout(RuntimeError):
    """The child ran past its time limit and was killed."""


class ChildCrashed(RuntimeError):
    """The child ended without a result (a signal or a non-zero exit); the message says how."""


@dataclass(frozen=True)
class Isolated(Generic[_T]):
    """A child's result and its peak resident memory (MB; pages it shares with the forkserver,
    the preloaded readers and language models, included)."""

    value: _T
    peak_rss_mb: float


def run_isolated(
    target: Callable[..., _T], args: tuple[Any, ...], *, timeout: float, max_memory_mb: int
) -> Isolated[_T]:
    """`target(*args)` in a child process that may add `max_memory_mb` of address space to what
    it starts with and may run `timeout` seconds.

    `target`, its arguments and its result must pickle. An exception raised by `target` is
    raised here again (MemoryError when the cap was hit in Python code); ChildTimeout when the
    child was killed for time; ChildCrashed when it died without an answer.
    """
    context = _forkserver()
    with _SLOTS:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(
            target=_child, args=(sender, target, args, max_memory_mb << 20), daemon=True
        )
        child.start()
        sender.close()  # the child holds its own copy: EOF here means the child is gone
        try:
            if not wait([receiver], timeout):
                raise ChildTimeout(f"did not finish within {timeout:g} seconds and was stopped")
            try:
                status, payload, peak_rss_mb = receiver.recv()
            except EOFError:
                child.join()
                raise ChildCrashed(_describe_exit(child.exitcode)) from None
        finally:
            receiver.close()
            if child.is_alive():
                child.kill()
            child.join()
            child.close()
    if status == "raised":
        raise payload
    return Isolated(payload, peak_rss_mb)


def extract_file(
    path: Path, name: str, limits: LimitsConfig, furniture: Furniture | None = None
) -> Document:
    """`extract_document` on the file at `path`, in a child process (see the module docstring).

    Raises ExtractError ('<name>: <where>: <what>; <fix>') for every failure, the child's time
    limit and crashes included. A file over `limits.max_file_bytes` is refused unread.
    """
    check_size(name, path.stat().st_size, limits)
    try:
        return run_isolated(
            _read_and_extract,
            (path, name, limits, furniture),
            timeout=limits.timeout_seconds + GRACE_SECONDS,
            max_memory_mb=limits.max_memory_mb,
        ).value
    except ChildTimeout as exc:
        raise ExtractError(
            f"{name}: whole document", f"reading {exc}", "split the file", "limits.timeout_seconds"
        ) from exc
    except ChildCrashed as exc:
        raise ExtractError(
            f"{name}: whole document",
            f"the reader stopped abnormally ({exc}), as it does on damaged files and on files "
            f"that need more than limits.max_memory_mb ({limits.max_memory_mb} MB)",
            "export the file again from its original program",
            "limits.max_memory_mb",
        ) from exc
    except MemoryError as exc:
        raise ExtractError(
            f"{name}: whole document",
            f"reading needs more than limits.max_memory_mb ({limits.max_memory_mb} MB)",
            "split the file",
            "limits.max_memory_mb",
        ) from exc


def _read_and_extract(
    path: Path, name: str, limits: LimitsConfig, furniture: Furniture | None
) -> Document:
    """Runs in the child: read the file and extract it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(
            f"{name}: file",
            f"cannot be read ({exc.strerror or exc})",
            "check that the file is not locked or access-restricted, or copy it into the corpus "
            "folder again",
        ) from exc
    # LibreOffice, for legacy and OpenDocument files, runs here too: under this process's
    # memory cap, and stopped within its time limit.
    return extract_document(name, data, limits, furniture, convert=soffice_convert)


def _child(
    sender: Connection, target: Callable[..., Any], args: tuple[Any, ...], max_bytes: int
) -> None:
    # The cap is on what the reader adds: the child starts with the forkserver's address space
    # (libraries, language models), which it shares copy-on-write and does not pay for again.
    limit = _address_space_bytes() + max_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        outcome: tuple[str, Any] = ("ok", target(*args))
    except BaseException as exc:
        outcome = ("raised", exc)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        sender.send((*outcome, peak_rss_mb))
    except Exception as exc:  # an unpicklable result or exception
        sender.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}"), peak_rss_mb))
    sender.close()


def _address_space_bytes() -> int:
    """This process's current virtual memory size (the first field of /proc/self/statm)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _forkserver() -> Any:
    """The forkserver context, its server preloading the readers (started on first use)."""
    global _context
    with _CONTEXT_LOCK:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _context = context
        return _context
