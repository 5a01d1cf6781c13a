"""Validated files handed from reading workers to the one build step, through files.

When reading is spread over a work pool (`pathways deploy --spread-reading`), each
`pathways-read` run reads and validates a group of files on whichever worker takes it,
and leaves one result per file in the load's spool folder beside the warehouse
(`spool/<load id>/<group>/`): the valid rows as Parquet, everything else (status,
counts, quarantined rows' reasons, file metadata) as JSON. The load that asked for them
stages them as if it had read them itself, then removes the folder. The spool holds the
same pseudonymised rows as the warehouse beside it, with the same permissions.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from flows.sources.common import Problem
from flows.validate import ValidatedFile


def _encode(value):
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot spool a {type(value).__name__}")


def _decode(obj: dict):
    if "$datetime" in obj:
        return dt.datetime.fromisoformat(obj["$datetime"])
    if "$date" in obj:
        return dt.date.fromisoformat(obj["$date"])
    return obj


def write_one(folder: Path, index: int, result: ValidatedFile | None, transient: str | None) -> None:
    """One file's outcome: its result, or the name of the operating-system error that
    kept it from being read this time (retried at the next load)."""
    folder.mkdir(parents=True, exist_ok=True)
    record: dict = {"transient": transient}
    if result is not None:
        record["result"] = {
            "source": result.source,
            "file_name": result.file_name,
            "sha256": result.sha256,
            "status": result.status,
            "rows_read": result.rows_read,
            "message": result.message,
            "meta": result.meta,
            "copy_of": result.copy_of,
            "has_rows": result.rows is not None,
            "quarantine": [[p.rule, p.message, p.row_number, p.column] for p in result.quarantine],
        }
        if result.rows is not None:
            result.rows.write_parquet(folder / f"{index}.parquet")
    tmp = folder / f"{index}.json.tmp"
    tmp.write_text(json.dumps(record, default=_encode), "utf-8")
    tmp.rename(folder / f"{index}.json")  # complete, or absent


def write_manifest(folder: Path, files: list[dict]) -> None:
    """The files a read run must read (written by the load). File names may hold bytes
    that are not text: JSON keeps them as escaped surrogates, and they come back as the
    same name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(files), "utf-8")


def read_manifest(folder: Path) -> list[dict]:
    return json.loads((folder / "manifest.json").read_text("utf-8"))


class SpoolError(ValueError):
    """A spooled result that does not belong to the file it was read for."""


def read_one(folder: Path, index: int, expect=None) -> tuple[ValidatedFile | None, str | None]:
    """The outcome `write_one` left; a missing one reads as a transient failure. With
    `expect` (the LandingFile it was read for), a result for another file or of the wrong
    shape is refused as not read (tried again at the next load)."""
    path = folder / f"{index}.json"
    if not path.exists():
        return None, "NotSpooled"
    record = json.loads(path.read_text("utf-8"), object_hook=_decode)
    data = record.get("result")
    if data is None:
        return None, str(record.get("transient") or "NotSpooled")
    if expect is not None and (
        data.get("sha256") != expect.sha256
        or data.get("source") != expect.source
        or not isinstance(data.get("rows_read"), int)
        or not isinstance(data.get("meta"), dict)
        or not isinstance(data.get("quarantine"), list)
    ):
        return None, "SpoolMismatch"
    rows = pl.read_parquet(folder / f"{index}.parquet") if data["has_rows"] else None
    problems = [Problem(rule, message, row, column) for rule, message, row, column in data["quarantine"]]
    return ValidatedFile(
        data["source"],
        data["file_name"],
        data["sha256"],
        data["status"],
        data["rows_read"],
        rows,
        problems,
        data["message"],
        data["meta"],
        data["copy_of"],
    ), record.get("transient")
