"""Progress bars for people at a terminal, and silence for everyone else.

A first load of a county takes a minute or two, and generating a large synthetic county
longer; without a bar data staff see only Prefect's task lines and cannot tell a slow step
from a stuck one. The bar goes to stderr, so stdout stays parseable, and it is shown only
when stderr is a terminal (`PATHWAYS_PROGRESS=always` forces it, e.g. for a CI log;
`never` turns it off), never with `--quiet`. It names steps and counts only: no file
names and no persons, like every other line the pipeline writes.

Code that does the work only calls `step()` and `advance()`; both do nothing unless a
command opened the bar with `shown()`, so the flows run unchanged under Prefect workers,
in tests and in the dashboard.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_bar: Any = None  # a rich.progress.Progress while a command shows one
_task: Any = None  # the current step's task id in that bar


def wanted() -> bool:
    """Whether this process should draw a bar (see the module's docstring)."""
    mode = os.environ.get("PATHWAYS_PROGRESS", "auto").lower()
    if mode == "never" or os.environ.get("PATHWAYS_QUIET") == "1":
        return False
    return mode == "always" or sys.stderr.isatty()


@contextmanager
def shown(transient: bool = False) -> Iterator[None]:
    """Show a bar on stderr while the block runs (nested calls share the outer bar)."""
    global _bar, _task
    if _bar is not None or not wanted():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    forced = os.environ.get("PATHWAYS_PROGRESS", "").lower() == "always"
    console = Console(stderr=True, force_terminal=forced or None)
    # Lines printed meanwhile go above the bar when stdout is the same terminal; when stdout is
    # a file or a pipe (a benchmark's figures), they go there untouched.
    same_terminal = sys.stdout.isatty()
    bar = Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
        redirect_stdout=same_terminal,
        redirect_stderr=same_terminal,
    )
    with bar:
        _bar, _task = bar, None
        try:
            yield
            _finish_current()
        finally:
            _bar, _task = None, None


def _finish_current() -> None:
    if _bar is not None and _task is not None:
        task = _bar.tasks[-1]
        _bar.update(
            _task,
            total=task.total if task.total is not None else task.completed or 1,
            completed=task.total if task.total is not None else task.completed or 1,
        )


def step(description: str, total: int | None = None) -> None:
    """Start the next line of the bar; the line before is marked done."""
    global _task
    with _lock:
        if _bar is None:
            return
        _finish_current()
        _task = _bar.add_task(description, total=total)


def set_total(total: int) -> None:
    """The current step's size, once it is known (e.g. the files found)."""
    with _lock:
        if _bar is not None and _task is not None:
            _bar.update(_task, total=total)


def completed(n: int) -> None:
    """n units of the current step are done so far."""
    with _lock:
        if _bar is not None and _task is not None:
            _bar.update(_task, completed=n)


def advance(n: int = 1) -> None:
    """n more units of the current step are done (thread-safe: read tasks run in threads)."""
    with _lock:
        if _bar is not None and _task is not None:
            _bar.advance(_task, n)
