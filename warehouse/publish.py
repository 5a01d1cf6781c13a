"""Write–audit–publish for the warehouse file.

Every load works on a *candidate* file beside the published one (a copy of it, so the
raw tables and books carry over). Only a candidate that passed its audits replaces the
published file, with an atomic rename: a reader that has the old file open keeps
reading the old file, and a new reader sees either the old or the new one, never half.
A candidate that failed is moved to `failed/` beside the warehouse for inspection.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from flows.settings import restrict


def candidate_path(published: Path, build_id: str) -> Path:
    """A new name per build: a process that had an earlier candidate open (DuckDB caches
    database instances by path) can never mistake it for this one."""
    return published.with_name(f"{published.stem}.{build_id}.candidate")


def start_candidate(published: Path, build_id: str) -> Path:
    """A fresh candidate: a copy of the published warehouse, or nothing if there is none yet.
    Candidates left behind by a run that died are removed."""
    published = Path(published)
    published.parent.mkdir(parents=True, exist_ok=True)
    for stale in published.parent.glob(f"{published.stem}.*.candidate*"):
        stale.unlink(missing_ok=True)
    candidate = candidate_path(published, build_id)
    if published.exists():
        shutil.copyfile(published, candidate)
        restrict(candidate)
    return candidate


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(candidate: Path, published: Path) -> None:
    """Atomically replace the published file with the (closed, checkpointed) candidate."""
    restrict(candidate)  # owner and the configured group only, before it becomes visible
    _fsync(candidate)
    os.replace(candidate, published)
    _fsync(published.parent)


def keep_aside(candidate: Path, published: Path, label: str = "failed") -> Path:
    """Move a refused candidate to `failed/<name>-<UTC time>.duckdb` for inspection."""
    folder = Path(published).parent / "failed"
    folder.mkdir(exist_ok=True)
    restrict(folder)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{Path(published).stem}-{label}-{stamp}.duckdb"
    shutil.move(candidate, target)
    restrict(target)
    return target


def prune_failed(published: Path, keep: int) -> list[Path]:
    """Keep only the newest `keep` refused candidates in `failed/` (each is a whole
    warehouse: kept forever they fill the disk). Returns the files removed."""
    folder = Path(published).parent / "failed"
    kept = sorted(folder.glob(f"{Path(published).stem}-*.duckdb"), key=lambda p: (p.stat().st_mtime, p.name))
    removed = kept[:max(0, len(kept) - max(0, keep))]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
