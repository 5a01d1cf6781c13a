"""Reading and validating spread over a work pool's workers; the build stays single.

A county's first load, or the whole country's, reads hundreds of files. With
`pathways deploy --spread-reading`, the load splits its new files into groups (balanced
by size) and asks the `pathways-read/read-files` deployment to read each group: the runs
go to whichever workers poll the pool, each reads its files in its own read workers (the
same isolation as at home) and leaves the results in the spool (`flows.spool`). The
load waits for all of them, then stages, builds, audits and publishes alone: one writer.

A group whose run fails (a worker lost, a machine down) costs nothing but time: its
files count as not read this time and are tried again at the next load, like a file
that hit an operating-system error.
"""

from __future__ import annotations

import contextvars
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

from prefect import flow

from flows import spool
from flows.landing import LandingFile
from flows.settings import check_paths
from flows.validate import ValidatedFile

DEPLOYMENT_ENV = "PATHWAYS_READ_DEPLOYMENT"  # e.g. pathways-read/read-files, set by `pathways deploy`
GROUPS_ENV = "PATHWAYS_READ_GROUPS"  # groups (read runs) per load, default 4
TIMEOUT_ENV = "PATHWAYS_READ_REMOTE_TIMEOUT_S"  # how long a load waits for its read runs, default 3600
DEPLOYMENT_NAME = "read-files"


def deployment() -> str | None:
    return os.environ.get(DEPLOYMENT_ENV) or None


def spool_folder(published: Path, load_id: str) -> Path:
    return published.parent / "spool" / load_id


def _inside(path: Path, root: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise PermissionError("refused: a file to read lies outside the landing root")
    return resolved


@flow(name="pathways-read", log_prints=True)
def read_files(landing: str, warehouse: str, spool_dir: str) -> int:
    """Read and validate the group of landing files listed in the spool folder's
    manifest; leave each result beside it.

    The file names travel in the manifest, not in the run's parameters: Prefect keeps
    parameters in its database and shows them in its UI, and a delivered file's name may
    hold a number that looks like a national identity number (or bytes that are not text).
    Paths are checked as in the load (roots); every file must lie inside the landing folder
    and the spool inside the warehouse's folder."""
    from flows.deploy import enforce_pool_roots
    from flows.pipeline import read_with_retries

    enforce_pool_roots()
    landing_path, published = check_paths(landing, warehouse)
    folder = _inside(Path(spool_dir), published.parent / "spool")
    manifest = spool.read_manifest(folder)
    for index, item in enumerate(manifest):
        file = LandingFile(
            item["source"], _inside(landing_path / item["relpath"], landing_path), item["sha256"], int(item["size"])
        )
        result, transient = read_with_retries(file)
        spool.write_one(folder, index, result, transient)
    return len(manifest)


def groups(items: list[LandingFile], count: int) -> list[list[LandingFile]]:
    """`count` groups of about equal bytes (largest first, each to the lightest group)."""
    bins: list[list[LandingFile]] = [[] for _ in range(max(1, min(count, len(items))))]
    sizes = [0] * len(bins)
    for item in sorted(items, key=lambda f: f.size, reverse=True):
        lightest = sizes.index(min(sizes))
        bins[lightest].append(item)
        sizes[lightest] += item.size
    return [b for b in bins if b]


REMOTE_FAILED = "RemoteReadFailed"  # the group's run failed: its files wait for the next load, uncounted


def read_remotely(
    items: list[LandingFile], landing: Path, published: Path, load_id: str, logger
) -> list[tuple[LandingFile, ValidatedFile | None, str | None]]:
    """(file, result, transient error) per file, in the order given, read by the pool.

    A group whose run does not complete (failed, crashed, no worker within the time
    limit, or the API refused it) gives REMOTE_FAILED for its files: not read this time,
    tried again at the next load, and never counted against the file."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from flows.settings import restrict

    name = deployment()
    assert name is not None, "the load reads remotely only when a deployment is configured"
    count = int(os.environ.get(GROUPS_ENV, 4))
    timeout = float(os.environ.get(TIMEOUT_ENV, 3600))
    parts = groups(items, count)
    # the load holds the warehouse lock: whatever is in the spool is left by a load that died
    shutil.rmtree(published.parent / "spool", ignore_errors=True)
    root = spool_folder(published, load_id)

    def run(index: int, part: list[LandingFile]):
        folder = root / str(index)
        spool.write_manifest(
            folder,
            [
                {
                    "source": f.source,
                    "relpath": os.fsdecode(f.path.resolve().relative_to(landing)),
                    "sha256": f.sha256,
                    "size": f.size,
                }
                for f in part
            ],
        )
        restrict(root, recursive=True)
        params = {"landing": str(landing), "warehouse": str(published), "spool_dir": str(folder)}
        try:
            # sync context: Prefect's dual sync/async API returns the FlowRun, not a coroutine
            state = cast(FlowRun, run_deployment(name, parameters=params, timeout=timeout, poll_interval=1)).state
        except Exception as err:
            logger.error("the read run for group %d could not be started (%s)", index, type(err).__name__)
            state = None
        if state is None or not state.is_completed():
            logger.error(
                "the read run for group %d (%d files) did not complete: its files are tried again at the next load",
                index,
                len(part),
            )
            return {id(f): (None, REMOTE_FAILED) for f in part}
        return {id(f): spool.read_one(folder, i, expect=f) for i, f in enumerate(part)}

    try:
        outcome: dict = {}
        # each thread runs in a copy of this flow run's context, so the read runs are its
        # subflows (linked in the UI, cancelled with it)
        contexts = [contextvars.copy_context() for _ in parts]
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            futures = [
                pool.submit(ctx.run, run, i, part) for i, (ctx, part) in enumerate(zip(contexts, parts, strict=True))
            ]
            for future in futures:
                outcome.update(future.result())
        logger.info("%d files read in %d groups on the work pool", len(items), len(parts))
        return [(f, *outcome[id(f)]) for f in items]
    finally:
        shutil.rmtree(root, ignore_errors=True)
