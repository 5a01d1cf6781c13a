"""Write–audit–publish for the warehouse file.

Every load works on a *candidate* file beside the published one (a copy of it, so the
raw tables and books carry over). Only a candidate that passed its audits replaces the
published file, with an atomic rename: a reader that has the old file open keeps
reading the old file, and a new reader sees either the old or the new one, never half.
A candidate that failed is moved to `failed/` beside the warehouse for inspection.

**Kept builds.** Each published build is also kept in `builds/` beside the warehouse
(`<name>-<UTC time>-<build id>.duckdb`, the newest `keep_builds`), so staff can put one
back with `pathways restore BUILD_ID` instead of copying files by hand. A kept build is a
*hard link* to the file it published: keeping the current build costs no disk space and
no copy (a load already copies the whole warehouse once, into its candidate); an older
build costs its own size once a newer one has replaced it. That is safe because nothing
ever writes a published file in place (every change is a new candidate, renamed over
it); anyone who opens the published warehouse must open it read-only.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass
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


def publish(candidate: Path, published: Path, build_id: str | None = None, keep_builds: int = 0) -> None:
    """Atomically replace the published file with the (closed, checkpointed) candidate;
    with a build id and `keep_builds` > 0, keep it in builds/ (then prune to the newest)."""
    restrict(candidate)  # owner and the configured group only, before it becomes visible
    _fsync(candidate)
    kept = None
    if build_id and keep_builds > 0 and BUILD_ID.match(build_id):  # ids are uuid hex
        kept = _keep_build(candidate, published, build_id)
    try:
        os.replace(candidate, published)
    except BaseException:
        if kept is not None:
            kept.unlink(missing_ok=True)  # never keep a build that was not published
        raise
    _fsync(published.parent)
    if build_id:
        prune_builds(published, keep_builds)  # also when keep_builds was lowered (0: none kept)


BUILD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def builds_folder(published: Path) -> Path:
    return Path(published).parent / "builds"


def _keep_build(candidate: Path, published: Path, build_id: str) -> Path:
    folder = builds_folder(published)
    folder.mkdir(exist_ok=True)
    restrict(folder)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{Path(published).stem}-{stamp}-{build_id}.duckdb"
    try:
        os.link(candidate, target)
    except OSError:  # a file system without hard links: a copy
        shutil.copyfile(candidate, target)
        restrict(target)
    return target


@dataclass(frozen=True)
class KeptBuild:
    build_id: str
    path: Path
    kept_at: dt.datetime


def kept_builds(published: Path) -> list[KeptBuild]:
    """The kept builds of this warehouse, oldest first."""
    stem = Path(published).stem
    pattern = re.compile(rf"^{re.escape(stem)}-(\d{{8}}T\d{{12}}Z)-([A-Za-z0-9_-]{{1,64}})\.duckdb$")
    out = []
    folder = builds_folder(published)
    for path in folder.iterdir() if folder.is_dir() else []:
        m = pattern.match(path.name)
        if m and path.is_file() and not path.is_symlink():
            at = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)
            out.append(KeptBuild(m.group(2), path, at))
    return sorted(out, key=lambda b: (b.kept_at, b.path.name))


def prune_builds(published: Path, keep: int) -> list[Path]:
    """Keep only the newest `keep` builds in builds/. Returns the files removed."""
    builds = kept_builds(published)
    removed = [b.path for b in builds[: max(0, len(builds) - max(0, keep))]]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


class RestoreError(RuntimeError):
    """A build cannot be restored (unknown id, a load running, a damaged file)."""


def restore(published: Path, build_id: str) -> KeptBuild:
    """Put kept build `build_id` back as the published warehouse, atomically.

    Under the same lock as a load (a load never runs while a restore does, nor the
    other way round). The kept file is checked first: it must open and its last
    `meta.build` row must be this build. It is copied to a temporary name beside the
    published file and renamed over it, so a reader sees the old or the restored file,
    never half; the kept build stays in builds/. The next load loads only the files
    the restored warehouse has not seen."""
    import duckdb

    published = Path(published).resolve()
    if not BUILD_ID.match(build_id or ""):
        raise RestoreError("a build id is letters, digits, '-' and '_' only (see `pathways restore --list`)")
    matches = [b for b in kept_builds(published) if b.build_id == build_id]
    if not matches:
        known = ", ".join(b.build_id for b in reversed(kept_builds(published))) or "none"
        raise RestoreError(f"no kept build {build_id} beside {published.name} (kept builds, newest first: {known})")
    build = matches[-1]
    lock = published.with_name(published.name + ".lock")
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RestoreError("a load of this warehouse is running: restore when it has finished") from None
        try:
            with duckdb.connect(str(build.path), read_only=True) as con:
                last = con.execute("select build_id from meta.build order by finished_at desc limit 1").fetchone()
        except duckdb.Error as err:
            raise RestoreError(
                f"the kept build {build_id} cannot be opened ({type(err).__name__}): not restored"
            ) from None
        if last is None or last[0] != build_id:
            raise RestoreError(f"the kept file for {build_id} holds another build: not restored")
        temporary = published.with_name(f".{published.name}.restore-{build_id}")
        shutil.copyfile(build.path, temporary)  # a copy: the kept build stays as it was
        restrict(temporary)
        _fsync(temporary)
        os.replace(temporary, published)
        _fsync(published.parent)
        # the trail: `pathways status` and whoever reads load_runs.jsonl see the restore
        runs = published.parent / "load_runs.jsonl"
        with open(runs, "a", encoding="utf-8") as out:
            out.write(
                json.dumps(
                    {
                        "at": dt.datetime.now(dt.UTC).isoformat(),
                        "outcome": "restored",
                        "build_id": build_id,
                        "message": f"build {build_id} restored",
                    }
                )
                + "\n"
            )
        restrict(runs)
    return build


def keep_aside(candidate: Path, published: Path, label: str = "failed") -> Path:
    """Move a refused candidate to `failed/<name>-<UTC time>.duckdb` for inspection."""
    folder = Path(published).parent / "failed"
    folder.mkdir(exist_ok=True)
    restrict(folder)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{Path(published).stem}-{label}-{stamp}.duckdb"
    shutil.move(candidate, target)
    restrict(target)
    return target


def prune_failed(published: Path, keep: int) -> list[Path]:
    """Keep only the newest `keep` refused candidates in `failed/` (each is a whole
    warehouse: kept forever they fill the disk). Returns the files removed."""
    folder = Path(published).parent / "failed"
    kept = sorted(folder.glob(f"{Path(published).stem}-*.duckdb"), key=lambda p: (p.stat().st_mtime, p.name))
    removed = kept[: max(0, len(kept) - max(0, keep))]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
