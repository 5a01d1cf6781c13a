"""The audit of a one-off `pathways load` in a process of its own, started early.

Why: importing Great Expectations (and with it pandas, SciPy and SQLAlchemy) costs ≈ 5 s
of one core. A one-off load used to import it in a thread of its own process
(`audit.prefetch_great_expectations`), where the import competed for the one interpreter
lock with everything else the load did in Python: importing Prefect and Pandera,
staging, building, while the second core mostly waited. Here a process imports it on the
other core; when the build is done the load hands it the candidate and gets the
`AuditResult` back. The audit is the same function (`audit.run_audits`) on the same
files; the load keeps no connection to the candidate while it runs.

Measured on the 2-core machine, a one-off load of one new file into the 20 000-person
county: 15.6 and 16.9 s against 18.2 and 17.3 s with the thread (its build 3.8–4.2 s
against 5.9–6.2 s). A load with no new files gains nothing (little to build meanwhile)
and loses the ≈ 1 s a process costs to start: it keeps the thread. The process starts once
the files are read, so that its ≈ 300 MB do not add to the read workers' at the load's
peak (started at discovery, it raised the 300 000-person full load's peak 1.7 → 1.9 GB).
It imports in the idle scheduling class where it may leave it again, so that the import
takes no CPU from the build it overlaps (release 0.8.1; `_scheduled`).

Only the supervised child of a one-off `pathways load` with new files, run against a Prefect
server that is already running (`--in-process` beside `pathways serve`, or a configured
`PREFECT_API_URL`), uses it. A one-off command that starts its own temporary server imports
GX while that server starts (`flows.cli`), so its audit runs in the load's own process; the runs of `pathways
serve` start from a fork server that has imported GX already (`flows.warm`), and loads
run inside other programs (tests, a Python session) import it once and keep it.

Protocol (pickles over a socket, as `flows.read_worker`): worker → `("ready",)`; parent →
`(candidate, warehouse, build_id, as_of, previous, force, flags)`; worker → `("ok",
AuditResult)` or `("error", kind of exception)`. The kind only: an exception's text may
quote a value. The worker then ends.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from warehouse.audit import AuditResult

START_TIMEOUT_S = 120  # importing GX on a busy 2-core machine takes ≈ 5–10 s
IDLE, NORMAL = getattr(os, "SCHED_IDLE", None), getattr(os, "SCHED_OTHER", None)  # see _scheduled
_started: _AuditProcess | None = None
_lock = threading.Lock()


class AuditProcessFailed(RuntimeError):
    """The audit process ended without a result: the load stops, nothing is published."""


class _AuditProcess:
    def __init__(self) -> None:
        parent, child = socket.socketpair()
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(
            os.environ,
            GX_ANALYTICS_ENABLED="false",
            PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        )
        # stdout and stderr discarded, as the read workers': a library's message may quote data
        self.process = subprocess.Popen(
            [sys.executable, "-m", "warehouse.audit_process", str(child.fileno())],
            pass_fds=(child.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        child.close()
        self.conn = Connection(parent.detach())
        self._ready: bool | None = None

    def ready(self) -> bool:
        """Whether it has imported the audit and is alive (waits for it, at most
        `START_TIMEOUT_S`); False if it died or hung first."""
        if self._ready is None:
            _scheduled(NORMAL, self.process.pid)  # the load waits for it now: its full share
            try:
                self._ready = self.conn.poll(START_TIMEOUT_S) and self.conn.recv() == ("ready",)
            except (EOFError, OSError):
                self._ready = False
        return self._ready and self.process.poll() is None

    def run(self, request: tuple) -> AuditResult:
        try:
            self.conn.send(request)
            reply = self.conn.recv()
        except (EOFError, OSError):
            raise AuditProcessFailed("the audit process ended without a result (killed or out of memory)") from None
        finally:
            self.stop()
        if reply[0] == "ok":
            return reply[1]
        raise AuditProcessFailed(f"the audit failed: {reply[1]} (details withheld: they may quote the data)")

    def stop(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# Started from a thread that lives as long as the process: the audit process asks to be
# killed when its parent dies (PR_SET_PDEATHSIG), and for Linux the parent is the thread
# that started it (flows.isolation starts its read workers the same way).
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-process-spawner")


def start_ahead() -> bool:
    """Start the audit process now (once per load); True if it was started."""
    global _started
    with _lock:
        if _started is not None:
            return False
        _started = _SPAWNER.submit(_AuditProcess).result()
        return True


def take() -> _AuditProcess | None:
    """The process started ahead for this load, if any (it serves one audit)."""
    global _started
    with _lock:
        started, _started = _started, None
    return started


def run_audits(
    candidate: Path, warehouse: Path, build_id: str, as_of: dt.date, previous: dict[str, int], force: bool = False
) -> AuditResult:
    """`audit.run_audits`, in the process started ahead when there is one, else here."""
    started = take()
    if started is None or not started.ready():  # none, or it died or hung before it was given the candidate
        if started is not None:
            started.process.kill()
            started.stop()
        from warehouse.audit import run_audits as here

        return here(candidate, warehouse, build_id, as_of, previous, force)
    from flows.config import current_flags

    result = started.run((str(candidate), str(warehouse), build_id, as_of, previous, force, current_flags()))
    result.own_process = True
    return result


@atexit.register
def _kill_left_over() -> None:
    """A load that ended before its audit (refused files only, an error) stops the process."""
    left = take()
    if left is not None and left.process.poll() is None:
        left.process.kill()
        left.process.wait()


def may_leave_idle() -> bool:
    """Whether this process could move back from the idle scheduling class to the normal
    one at nice 0: the kernel allows it only with CAP_SYS_NICE or a nice limit
    (RLIMIT_NICE) of at least 20; an ordinary account has neither (limit 0) and neither
    does a container's root without CAP_SYS_NICE (found in review)."""
    try:
        import resource

        if resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20:  # RLIM_INFINITY is large too
            return True
    except (ImportError, AttributeError, OSError, ValueError):
        pass
    try:
        with open("/proc/self/status", "rb") as status:  # bytes: no codec to look up
            for line in status:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> 23 & 1)  # CAP_SYS_NICE is bit 23
    except (OSError, ValueError):
        pass
    return False


def _scheduled(policy: int | None, pid: int = 0) -> bool:
    """Put a process (0: this one) in a scheduling class (Linux). Why idle while importing: the
    import runs while the load builds, and on two cores it took CPU from DuckDB's threads
    (one new file into the 300 000-person county: build 4.4–5.2 s with the import idle
    against 5.2–5.8 s without, the command 9.9 against 10.9–13.1 s). An idle process runs
    only on a core nothing else wants, so it still overlaps the build where it can. It goes
    idle only where it may come back (`may_leave_idle`): the load moves it back as soon as
    it waits for it (on a busy machine an idle process might wait for a core indefinitely),
    and it moves itself back for the audit. Elsewhere it imports in the normal class, as
    before release 0.8.1."""
    if policy is None:
        return False
    try:
        os.sched_setscheduler(pid, policy, os.sched_param(0))
    except OSError:  # not Linux's classes, not allowed, or the process has ended
        return False
    return True


def main(fd: int) -> None:
    from flows.read_worker import die_with_parent

    die_with_parent()
    idle = may_leave_idle() and _scheduled(IDLE)  # the import takes only a core the load leaves
    conn = Connection(fd)
    from warehouse.audit import import_great_expectations
    from warehouse.audit import run_audits as here

    import_great_expectations()
    conn.send(("ready",))
    try:
        request = conn.recv()
    except EOFError:
        return
    if idle:
        _scheduled(NORMAL)  # the audit itself is the load's next step: its full share again
    candidate, warehouse, build_id, as_of, previous, force, flags = request
    from flows.config import set_flags

    set_flags(**flags)
    try:
        result = here(Path(candidate), Path(warehouse), build_id, as_of, previous, force)
    except Exception as err:
        conn.send(("error", type(err).__name__))
        return
    conn.send(("ok", result))


if __name__ == "__main__":
    main(int(sys.argv[1]))
    from flows.fast_exit import exit_now

    exit_now(0)
