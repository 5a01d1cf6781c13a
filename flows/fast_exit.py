"""End a process without tearing its modules down one by one.

Why: a load's process has imported Prefect, Polars, Pandera, DuckDB and Great
Expectations (with pandas, SciPy and SQLAlchemy). When it returns from its work,
CPython's finalisation frees every module and object in turn: measured on the 2-core
machine, ≈ 1.8 s after a load whose real work was done, on the clock of every one-off
`pathways load` (and of the supervising command waiting for it). Nothing of value
happens in that teardown: what must happen at exit (Prefect's log and event queues
drained, the temporary Prefect server stopped, temporary folders removed, logging
flushed) is registered with `atexit`, and runs here first.

This is what `multiprocessing` does for its own children (`os._exit` after its exit
functions), and what the forked runs of `pathways serve` already get.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def exit_now(code: object = 0) -> None:
    """Exit with `code` as `sys.exit` would, but skip the interpreter's teardown.

    In order, as the interpreter does: `threading._shutdown` (the thread pools' exit hooks,
    then wait for the non-daemon threads), the `atexit` functions; then flush stdout and
    stderr and `os._exit`. (Joining the threads without those hooks would wait forever
    for idle thread-pool workers.)"""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    status = _status(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # a full disk, a closed pipe
            if status == 0:
                status = 120  # what the interpreter exits with when its final flush fails
    os._exit(status)


def _status(code: object) -> int:
    """The exit status `sys.exit(code)` gives: None is 0, an int itself, anything else is
    printed to stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except (OSError, ValueError):
        pass
    return 1
