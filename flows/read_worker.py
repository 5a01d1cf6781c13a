"""The read worker: a separate process that reads and validates landing files one by one.

Why a process: a hostile or broken file can make a parser allocate hundreds of
gigabytes and abort (calamine on a workbook whose only cell is at XFD1048576), recurse
without end, or run for hours. Inside the load's own process that kills the whole load;
here it kills (or stalls) only this worker, which the parent (`flows.isolation`) notices,
replaces, and turns into a quarantined file with a fixed, descriptive reason.

The worker imports the readers and validation once, warms Polars up, and only then sets
its address-space limit (RLIMIT_AS) to *its own footprint plus the configured memory*:
Polars' thread pool alone reserves ≈ 1 GB of address space, so an absolute limit would
mean a different amount of room on every machine.

Protocol (pickles over a socket, `multiprocessing.connection.Connection`):
parent → `(source, path, sha256)`; worker → `("ok", ValidatedFile)`,
`("oserror", errno name)` (transient: the parent retries), or `("refused", rule, message)`.
Messages are fixed texts: an exception's own text can quote a whole raw row.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
import sys
from multiprocessing.connection import Connection
from pathlib import Path

NESTED = "the document is nested too deeply to be read (more levels than the reader allows)"


def die_with_parent() -> None:
    """Linux: this process (a read worker, the audit process) gets SIGKILL when the load
    process dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _footprint() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _warm_up() -> None:
    """Start Polars' thread pool and Pandera's machinery before the limit is set, so the
    limit measures what a file costs, not what the libraries reserve once."""
    import polars as pl

    pl.DataFrame({"a": ["1", "2"]}).with_columns(pl.col("a").str.strip_chars()).group_by("a").len()


def read_one(source: str, path: str, sha256: str):
    """Read and validate one file: the very function the load ran in-process before."""
    from flows.sources import SOURCES
    from flows.validate import validate

    p = Path(path)
    info = os.lstat(p)
    if not stat.S_ISREG(info.st_mode):  # replaced by a link or a FIFO since discovery
        return ("refused", "not_a_regular_file", "not a regular file (a link, folder or special file): never opened")
    raw = SOURCES[source].read(p)
    return ("ok", validate(raw, source, sha256))


def handle(request, memory_text: str):
    source, path, sha256 = request
    try:
        return read_one(source, path, sha256)
    except RecursionError:
        return ("refused", "too_deep", NESTED)
    except MemoryError:
        return ("refused", "too_large", f"could not be read within {memory_text} of memory")
    except OSError as err:
        return ("oserror", errno.errorcode.get(err.errno or 0, type(err).__name__))
    except Exception as err:
        return ("refused", "unreadable", f"the file could not be read: the reader failed ({type(err).__name__})")


def main(fd: int, memory_mb: int) -> None:
    die_with_parent()
    conn = Connection(fd)
    import flows.validate  # noqa: F401  (the readers, schemas and privacy guard, once)

    _warm_up()
    sys.setrecursionlimit(5000)  # deep JSON fails as RecursionError well before the C stack is at risk
    if memory_mb > 0:
        limit = _footprint() + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    memory_text = f"{memory_mb / 1024:g} GB" if memory_mb >= 1024 else f"{memory_mb} MB"
    conn.send(("ready", os.getpid()))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        reply = handle(request, memory_text)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("refused", "too_large", f"could not be read within {memory_text} of memory"))
        del reply


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
    from flows.fast_exit import exit_now

    exit_now(0)  # the load waits for its workers to end: no teardown of Polars and Pandera
