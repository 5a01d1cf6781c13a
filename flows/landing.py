"""Scan the landing zone: every entry is either a file to read or an anomaly to report.

The landing root holds one folder per source. Every entry met on the way is accounted
for (issue 10): a regular file in a source folder is a `LandingFile` (recognised by its
SHA-256); anything else becomes an `Anomaly` with a kind and an action, named in the run
summary and stored in `audit.landing_anomaly`:

| kind | where | action |
|---|---|---|
| `symlink` | anywhere | refused: links are never followed (one could point out of the landing root) |
| `special_file` | anywhere | refused: a FIFO, socket or device is never opened (a FIFO would hang the read) |
| `still_writing` | source folder | waiting: modified within the last `SETTLE_SECONDS`, or changed while it was hashed |
| `temporary_file` | source folder | ignored: `.part`/`.tmp`/… names and Office `~$` lock files |
| `hidden_file` | source folder | ignored: names starting with a dot |
| `subfolder` | source folder | ignored: sub-folders are not read |
| `miscased_folder` | root | ignored: e.g. `Intro/` for `intro/` |
| `unknown_folder` | root | ignored: not a source folder |
| `root_file` | root | ignored: files belong in a source folder |
| `unreadable_entry` | anywhere | waiting: the entry could not even be inspected (permissions, I/O error) |

Nothing is opened before `lstat` says it is a regular file, and a file is opened with
`O_NOFOLLOW | O_NONBLOCK` and checked again, so a link or FIFO swapped in meanwhile is
never followed or waited on. Files are returned in a deterministic order — source, then
name — so "first delivered wins" does not depend on the file system.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from flows.sources import SOURCES
from schemas.privacy import safe_name

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
SETTLE_SECONDS = 5.0  # default; PATHWAYS_SETTLE_SECONDS overrides it (read at each scan)
# 11 digits (or 10, a lost leading zero), possibly split by a space, dot, dash or no-break space
_ID_LIKE = re.compile(r"(?<!\d)\d{6}[ .\-\u00a0]?\d{4,5}(?!\d)")

REFUSED, WAITING, IGNORED = "refused", "waiting", "ignored"


def display_name(name: str) -> str:
    """The name as it may be stored and shown: bytes that are not UTF-8 (kept by Python as
    surrogate escapes, which DuckDB, JSON and the logs reject) become `\\xNN`, and anything
    that could be a national identity number is masked. Deterministic, so the same file
    keeps the same name from load to load."""
    escaped = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    # the guard's own mask (every spelling of a valid number), then anything id-like
    return _ID_LIKE.sub(lambda m: "#" * len(m.group()), safe_name(escaped))


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path
    sha256: str
    size: int = 0

    @property
    def name(self) -> str:
        return display_name(self.path.name)


@dataclass(frozen=True)
class Anomaly:
    path: str  # relative to the landing root, as `display_name` shows it
    kind: str
    action: str  # refused | waiting | ignored
    message: str


@dataclass
class Landing:
    files: list[LandingFile] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)

    def by_action(self, action: str) -> list[Anomaly]:
        return [a for a in self.anomalies if a.action == action]


MESSAGES = {
    "symlink": (REFUSED, "a symbolic link: links are never followed, deliver the file itself"),
    "special_file": (REFUSED, "not a regular file (FIFO, socket or device): never opened"),
    "still_writing": (WAITING, "still being written (changed within the last seconds): left for a later load"),
    "temporary_file": (IGNORED, "a temporary name (a copy in progress or an Office lock file): not read"),
    "hidden_file": (IGNORED, "a hidden file: not read"),
    "subfolder": (IGNORED, "a sub-folder inside a source folder: its contents are not read"),
    "miscased_folder": (
        IGNORED,
        "a folder whose name differs from a source folder only in upper/lower case: not read, rename it",
    ),
    "unknown_folder": (IGNORED, "not a source folder: not read"),
    "root_file": (IGNORED, "a file directly in the landing root: files belong in a source folder"),
    "unreadable_entry": (WAITING, "could not be inspected (permissions or an I/O error): tried again next load"),
}


def _anomaly(root: Path, path: Path, kind: str) -> Anomaly:
    action, message = MESSAGES[kind]
    relative = "/".join(display_name(part) for part in path.relative_to(root).parts)
    return Anomaly(relative, kind, action, message)


def sha256_of(path: Path) -> str:
    """Hash a regular file without following a link or blocking on a FIFO. An error is
    raised again without the path: the name may hold a national id."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise IsADirectoryError("not a regular file")
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        if err.filename is None:
            raise
        raise type(err)(err.errno, err.strerror) from None
    return digest.hexdigest()


def is_candidate(path: Path) -> bool:
    """A regular file (not a link) whose name is not a temporary one."""
    name = path.name
    return (
        not path.is_symlink()
        and path.is_file()
        and not name.startswith((".", "~$"))
        and not name.endswith(IGNORED_SUFFIXES)
    )


def _kind_of_entry(info: os.stat_result) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return "symlink"
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return "special_file"
    return None


def _scan_folder(root: Path, folder: Path, source: str, out: Landing, now: float, settle: float) -> None:
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        try:
            info = path.lstat()
        except OSError:
            out.anomalies.append(_anomaly(root, path, "unreadable_entry"))
            continue
        name = path.name
        kind = _kind_of_entry(info)
        if kind is None:
            if stat.S_ISDIR(info.st_mode):
                kind = "subfolder"
            elif name.startswith("~$") or name.endswith(IGNORED_SUFFIXES):
                kind = "temporary_file"
            elif name.startswith("."):
                kind = "hidden_file"
            elif abs(now - info.st_mtime) < settle:  # a far-future time (a sender's clock) is not "now"
                kind = "still_writing"
        if kind:
            out.anomalies.append(_anomaly(root, path, kind))
            continue
        try:
            digest = sha256_of(path)
            after = path.lstat()
        except IsADirectoryError:
            out.anomalies.append(_anomaly(root, path, "special_file"))
            continue
        except OSError as err:
            if err.errno == getattr(os, "ELOOP", -1):  # swapped for a link since lstat
                out.anomalies.append(_anomaly(root, path, "symlink"))
            else:
                out.anomalies.append(_anomaly(root, path, "unreadable_entry"))
            continue
        if (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
            out.anomalies.append(_anomaly(root, path, "still_writing"))
            continue
        out.files.append(LandingFile(source, path, digest, info.st_size))


def scan(root: Path, settle_seconds: float | None = None) -> Landing:
    """Every entry of the landing zone, as files to read and anomalies to report."""
    root = Path(root)
    if settle_seconds is None:
        from flows.config import current

        settle = current().settle_seconds  # pathways.toml [limits], or PATHWAYS_SETTLE_SECONDS
    else:
        settle = settle_seconds
    now = time.time()
    out = Landing()
    folders = {m.FOLDER: name for name, m in SOURCES.items()}
    lowered = {f.lower() for f in folders}
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        try:
            info = path.lstat()
        except OSError:
            out.anomalies.append(_anomaly(root, path, "unreadable_entry"))
            continue
        kind = _kind_of_entry(info)
        if kind is None and stat.S_ISDIR(info.st_mode):
            if path.name in folders:
                continue
            kind = "miscased_folder" if path.name.lower() in lowered else "unknown_folder"
        elif kind is None:
            kind = "root_file"
        out.anomalies.append(_anomaly(root, path, kind))
    for folder_name, source in folders.items():
        folder = root / folder_name
        if folder.is_dir() and not folder.is_symlink():
            _scan_folder(root, folder, source, out, now, settle)
    order = list(SOURCES)
    out.files.sort(key=lambda f: (order.index(f.source), f.path.name))
    return out


def discover(root: Path, settle_seconds: float | None = None) -> list[LandingFile]:
    """The files to read (anomalies left out): for the benchmark and tools."""
    return scan(root, settle_seconds).files
