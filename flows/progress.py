"""Progress a person can follow: bars for reading documents and embedding statements.

The flow reports to a `Progress`. The CLI passes a `RichProgress` when it runs on a terminal and a
`NullProgress` otherwise (output piped or redirected, or `--quiet`); a scheduled run, which has no
CLI, gets `NullProgress`. The Prefect log lines stay: the bars are drawn on the console of Prefect's
own console log handler, so each log line prints above the bars instead of through them.
"""

from __future__ import annotations

import logging
from typing import IO, Protocol, runtime_checkable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBars
from rich.theme import Theme

READ = "read"
EMBED = "embed"
DESCRIPTIONS = {READ: "reading documents", EMBED: "embedding statements"}


@runtime_checkable
class Progress(Protocol):
    """Where a run reports how far it has come, one bar per stage."""

    def start(self, stage: str, total: int) -> None:
        """Begin `stage` (READ, EMBED), which will count up to `total` items."""
        ...

    def advance(self, stage: str, n: int = 1) -> None:
        """`n` more items of `stage` are done."""
        ...

    def close(self) -> None:
        """Stop drawing (the bars stay on screen as they were)."""
        ...


class NullProgress:
    """Shows nothing: for scheduled runs, redirected output and `--quiet`."""

    # No __dict__: Prefect records a flow parameter it cannot encode as "<NullProgress>".
    __slots__ = ()

    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
    """Rich progress bars with counts, elapsed time and an ETA, one line per stage.

    Without a `console`, the bars use the console of Prefect's console log handler (or stderr),
    looked up when the first stage starts, that is once the flow has set up its logging."""

    __slots__ = ("_bars", "_console", "_pushed_theme", "_tasks")

    def __init__(self, console: Console | None = None) -> None:
        self._console = console
        self._bars: RichBars | None = None
        self._tasks: dict[str, TaskID] = {}
        self._pushed_theme: Console | None = None

    def start(self, stage: str, total: int) -> None:
        bars = self._started()
        description = DESCRIPTIONS.get(stage, stage)
        if stage in self._tasks:
            bars.reset(self._tasks[stage], total=total, description=description)
        else:
            self._tasks[stage] = bars.add_task(description, total=total)
        bars.update(self._tasks[stage], completed=0)  # 0 of 0 (all cached) counts as finished

    def advance(self, stage: str, n: int = 1) -> None:
        if self._bars is not None and stage in self._tasks:
            self._bars.advance(self._tasks[stage], n)

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
        if self._pushed_theme is not None:
            self._pushed_theme.pop_theme()
            self._pushed_theme = None

    def _started(self) -> RichBars:
        if self._bars is None:
            console = self._console or self._prefect_console()
            self._bars = RichBars(
                TextColumn("{task.description:<22}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
            )
            self._bars.start()
        return self._bars

    def _prefect_console(self) -> Console:
        """The console Prefect logs to, given the bar styles its own theme leaves out."""
        for handler in _handlers(logging.getLogger("prefect.flow_runs")):
            console = getattr(handler, "console", None)
            if isinstance(console, Console):
                from rich.default_styles import DEFAULT_STYLES

                bar_styles = {
                    name: style
                    for name, style in DEFAULT_STYLES.items()
                    if name.startswith(("progress.", "bar."))
                }
                console.push_theme(Theme(bar_styles))  # adds to Prefect's styles, until close()
                self._pushed_theme = console
                return console
        return Console(stderr=True)


def _handlers(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record of `logger` reaches (its own, then its parents')."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        found += current.handlers
        current = current.parent if current.propagate else None
    return found


def choose_progress(quiet: bool, stdout: IO[str], stderr: IO[str]) -> Progress:
    """Bars only for a person at a terminal: none with `--quiet` or when either stream is not
    a TTY (piped, redirected to a file, run by cron or CI)."""
    if quiet or not (_is_tty(stdout) and _is_tty(stderr)):
        return NullProgress()
    return RichProgress()


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
