"""Served loads start warm: every run is forked from a process that imported the load once.

Why: `pathways serve` runs each load (nightly or on file arrival) as a fresh process, so
each spent ≈ 5–6 s importing Prefect, Polars, Pandera, Great Expectations and statsmodels
before it read its first file: for a delivery of one small file, most of the run (issue
13's profile). Prefect's runner starts a flow it holds in memory (`Runner.add_flow`) with
`multiprocessing` in its "spawn" mode: a new interpreter. Python's "forkserver" mode is
made for this case: one small, single-threaded server process imports the modules named
in `set_forkserver_preload` once, and each new process is a fork of it. The run is still a
process of its own, isolated, cancelled and killed as before (same exit codes, same
control channel); it only starts with its imports done.

Prefect's runner asks for `multiprocessing.get_context("spawn")` in
`prefect.flow_engine.run_flow_in_subprocess`; `enable()` gives that one module a
`multiprocessing` whose "spawn" context is the fork server's, and changes nothing else.
Prefect resets its own threads and services in a forked child (`os.register_at_fork`), and
the server imports only: it never starts a thread, opens a database or runs a query, so
nothing a fork cannot copy exists in it. Settings are read when used (`flows.config`), and
the run's environment is set by Prefect in the child, so a fork sees the same settings a
fresh process would.

The read workers are not forked from it: they must die with their run (PR_SET_PDEATHSIG
names the run as their parent), so they stay fresh processes, started ahead of the first
file (`flows.isolation.prestart`).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

# Imported once by the fork server: the load and everything it imports on the way (the
# modules a load imports lazily are named too).
PRELOAD = ["flows.warm_preload"]


class _ForkServerForSpawn:
    """`multiprocessing` as one module sees it, with the fork server's context for "spawn"."""

    def __init__(self, context: Any):
        self._context = context

    def get_context(self, method: str | None = None) -> Any:
        return self._context if method == "spawn" else multiprocessing.get_context(method)

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


def enable() -> None:
    """Start the fork server now (it imports while serving starts) and let Prefect's runner
    start runs from it. Call once, in the serving process, after its environment is set."""
    import prefect.flow_engine

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # the server imports Great Expectations
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    from multiprocessing import forkserver

    forkserver.ensure_running()
    prefect.flow_engine.multiprocessing = _ForkServerForSpawn(context)  # type: ignore[assignment]


def enabled() -> bool:
    import prefect.flow_engine

    return isinstance(prefect.flow_engine.multiprocessing, _ForkServerForSpawn)
