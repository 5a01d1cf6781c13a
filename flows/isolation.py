"""Read and validate each landing file in a worker process with memory and time limits.

A poison file (a parser that aborts, allocates without bound, recurses or never ends)
must cost the load one quarantined file, never the load itself or another file. So the
reading runs in `flows.read_worker` processes, and this module hands them one file at a
time:

- a worker handles one file at a time, so when it dies (abort, out of memory, killed by
  the time limit) exactly that file is refused, with a fixed reason; the worker is
  replaced and the other files never notice;
- workers are reused (importing Polars, Pandera and the schemas costs ≈ 2 s; a file
  then costs only the pickling of its frame) and replaced when a file left them holding
  more than `RECYCLE_RSS_MB` of memory, or after `tasks_per_worker` files (1 000). A
  worker's resident memory stays flat over a delivery (≈ 230–320 MB over 500 files of
  the 300 000-person county); replacing every 100 files, as until 0.8.0, spent ≈ 2 s of
  a core per 100 files on importing again;
- at most `workers` files are read at once, whatever the number of Prefect threads: on
  a 2-core, 8 GB machine two workers of 2 GB each, plus the load process, fit.

Limits come from the configuration (pathways.toml `[limits]`, or the environment;
documented in the runbook), with defaults for a 2-core 8 GB machine: `PATHWAYS_READ_MEMORY_MB` (2048, on top of the worker's own
footprint), `PATHWAYS_READ_TIMEOUT_S` (120), `PATHWAYS_READ_WORKERS` (by cores and
memory), `PATHWAYS_MAX_FILE_MB` (1024: larger files are refused unread).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECYCLE_RSS_MB = 1024  # a worker holding more after a file (a large file's buffers) is replaced
START_TIMEOUT_S = 120  # importing the libraries on a busy 2-core machine


def _physical_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError):
        return 8192


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048
    timeout_s: float = 120.0
    max_file_mb: int = 1024
    workers: int = 2
    tasks_per_worker: int = 1000

    @classmethod
    def from_env(cls) -> Limits:
        """From the configuration (pathways.toml, overridden by the PATHWAYS_* variables)."""
        from flows.config import current

        settings = current()
        memory = settings.read_memory_mb
        # each worker may use `memory` plus ≈ 1 GB of its own; leave room for the load itself
        by_memory = max(1, _physical_memory_mb() // (memory + 1024 + 1024))
        workers = settings.read_workers or max(1, min(os.cpu_count() or 1, by_memory))
        return cls(
            memory, settings.read_timeout_s, settings.max_file_mb, max(1, workers), settings.read_tasks_per_worker
        )

    @property
    def memory_text(self) -> str:
        return f"{self.memory_mb / 1024:g} GB" if self.memory_mb >= 1024 else f"{self.memory_mb} MB"

    @property
    def within(self) -> str:
        return f"could not be read within {self.memory_text} / {self.timeout_s:g} s"


class WorkerUnavailable(RuntimeError):
    """A worker could not be started at all: the machine's problem, not the file's."""


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen
    conn: Connection
    tasks: int = 0

    def resident_mb(self) -> float:
        """The worker's resident memory now (0 when it cannot be read: it is replaced then
        only by count)."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return 0.0

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.conn.close()


@dataclass
class ReadPool:
    """At most `limits.workers` files read at once, each in a worker of its own."""

    limits: Limits = field(default_factory=Limits.from_env)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.limits.workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._early: Future[_Worker] | None = None  # a worker started ahead (`prestart`)
        self.started = 0  # workers started (a benchmark and tests read it)

    def _spawn(self) -> _Worker:
        # Started from a thread that lives as long as this process: a worker asks the kernel to
        # kill it when its parent dies (PR_SET_PDEATHSIG), and for Linux the parent is the
        # *thread* that started it. Started from a Prefect task's thread, a worker was killed
        # when the load's task runner ended, so no worker outlived its load.
        return _SPAWNER.submit(self._start_worker).result()

    def _start_worker(self) -> _Worker:
        parent, child = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        try:
            # stderr is discarded: a native library's panic message may quote data
            process = subprocess.Popen(
                [sys.executable, "-m", "flows.read_worker", str(child.fileno()), str(self.limits.memory_mb)],
                pass_fds=[child.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=str(ROOT),
            )
        finally:
            child.close()
        worker = _Worker(process, Connection(parent.detach()))
        if not worker.conn.poll(START_TIMEOUT_S):
            worker.stop(kill=True)
            raise WorkerUnavailable("a read worker did not start")
        try:
            worker.conn.recv()
        except EOFError as err:
            worker.stop(kill=True)
            raise WorkerUnavailable("a read worker died while starting") from err
        with self._lock:
            self._all.add(worker)
            self.started += 1
        return worker

    def prestart(self) -> None:
        """Start one worker now, in the background, unless the pool has one: the ≈ 2 s a
        worker takes to import the readers then overlap with what the load does first
        (a one-off command imports Great Expectations meanwhile, on the other core) instead
        of delaying its first file. The first file takes this worker when it is ready."""
        with self._lock:
            if self._idle or self._all or self._early is not None:
                return
            self._early = _SPAWNER.submit(self._start_worker)

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            early, self._early = self._early, None
        if early is not None:
            try:
                return early.result()
            except WorkerUnavailable:
                pass  # started again below, where a second failure is reported
        return self._spawn()

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy and worker.tasks < self.limits.tasks_per_worker and worker.resident_mb() < RECYCLE_RSS_MB:
            with self._lock:
                self._idle.append(worker)
            return
        with self._lock:
            self._all.discard(worker)
        worker.stop(kill=not healthy)

    def _live_worker_with(self, request: tuple) -> _Worker:
        """A worker that has accepted `request`. A worker found dead before it got the file
        (killed while idle, e.g. by the kernel's out-of-memory killer) is replaced: only a
        death after the file was handed over is blamed on the file."""
        for _ in range(3):
            worker = self._take()
            if worker.process.poll() is None:
                try:
                    worker.conn.send(request)
                    worker.tasks += 1
                    return worker
                except OSError:
                    pass
            self._release(worker, healthy=False)
        raise WorkerUnavailable("read workers die before they are given a file")

    def run(self, source: str, path: Path, sha256: str) -> tuple:
        """One file through a worker: `("ok", ValidatedFile)`, `("oserror", name)` or
        `("refused", rule, message)`. Waiting for a free worker does not count against
        the time limit."""
        with self._slots:
            worker = self._live_worker_with((source, os.path.abspath(path), sha256))
            healthy = False
            try:
                if not worker.conn.poll(self.limits.timeout_s):
                    return ("refused", "too_slow", f"{self.limits.within} (stopped after {self.limits.timeout_s:g} s)")
                reply = worker.conn.recv()
                healthy = True
                return reply
            except (EOFError, OSError):  # the worker died on this file: abort, out of memory, a crash
                return ("refused", "too_large", f"{self.limits.within} (the reader ran out of memory or crashed)")
            finally:
                self._release(worker, healthy)

    def stop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._all.difference_update(idle)
        for worker in idle:
            worker.stop()

    def close(self) -> None:
        with self._lock:
            early, self._early = self._early, None
        if early is not None:  # wait for it, or it would join the pool after it was closed
            try:
                early.result()
            except Exception:  # it did not start: nothing to stop
                pass
        with self._lock:
            workers, self._all, self._idle = list(self._all), set(), []
        for worker in workers:
            worker.stop()


_SPAWNER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="read-worker-spawner")
_pool: ReadPool | None = None
_pool_lock = threading.Lock()
# Workers are kept this long after the last load in this process ends, so that loads run one
# after another in one process (tests, benchmarks, a Python session) do not each pay the ≈ 2 s
# start of a worker. A one-off `pathways load` exits at once and stops them at exit.
IDLE_S = 60.0
_idle_stop: threading.Timer | None = None
_pool_env: tuple = ()


def _environment() -> tuple:
    """What a worker was started with that can change between loads: the PATHWAYS_*
    settings (limits, configuration file, home). A pool started under other settings is
    replaced rather than reused."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PATHWAYS_")))


def pool() -> ReadPool:
    """The process's read pool, started on first use (limits read from the environment then)."""
    global _pool, _pool_env
    with _pool_lock:
        if _pool is None:
            _pool, _pool_env = ReadPool(), _environment()
        return _pool


def stop_idle() -> None:
    """Stop the pool's idle workers now (a big load, done reading); the next file starts one."""
    with _pool_lock:
        current = _pool
    if current is not None:
        current.stop_idle()


def prestart() -> None:
    """Start a read worker ahead of the first file (see `ReadPool.prestart`); not into a
    pool the coming load will replace (`in_use`), where it would only be waited for and stopped."""
    with _pool_lock:
        if _stale_locked():
            return
    pool().prestart()


def _stale_locked() -> bool:
    """Whether the pool was started under other settings and no load holds it (`_pool_lock` held)."""
    return _users == 0 and _pool is not None and (_pool_env != _environment() or _pool.limits != Limits.from_env())


_users = 0


@contextmanager
def in_use():
    """A load holds the pool while it runs. Two loads in one process share it; when the
    last one ends its workers are kept `IDLE_S` seconds for the next load, and a load that
    starts under other settings than the pool's gets a fresh pool."""
    global _users, _pool, _idle_stop
    stale = None
    with _pool_lock:
        if _idle_stop is not None:
            _idle_stop.cancel()
            _idle_stop = None
        if _stale_locked():
            stale, _pool = _pool, None
        _users += 1
    if stale is not None:
        stale.close()
    try:
        yield
    finally:
        with _pool_lock:
            _users -= 1
            if _users == 0:
                _idle_stop = threading.Timer(IDLE_S, _stop_when_idle)
                _idle_stop.daemon = True
                _idle_stop.start()


def _stop_when_idle() -> None:
    """The idle timer: detach the pool in the same locked step that sees no load holding it
    (a load starting just then gets a fresh pool, never one being closed under it)."""
    global _pool
    with _pool_lock:
        if _users != 0:
            return
        current, _pool = _pool, None
    if current is not None:
        current.close()


def shutdown() -> None:
    """Stop every worker (idle after the last load; also at exit). The next load starts a
    fresh pool."""
    global _pool
    with _pool_lock:
        current, _pool = _pool, None
    if current is not None:
        current.close()


atexit.register(shutdown)
