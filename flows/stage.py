"""Stage validated files into the warehouse's raw tables and keep the books.

For every file: its valid rows go into `raw.<source>` (minus duplicates), its rejected
rows into `audit.quarantine`, and one row into `audit.file_log` with
`rows_read = rows_loaded + rows_quarantined + rows_duplicate`. Then the statuses of
snapshot files are brought up to date (`superseded` once a newer delivery replaces them).

Duplicates, as the source contract defines them:
- intro: the event key (pid, event, date), within the file and against every earlier file;
- adult education: `event_id`, within the file and against every earlier file;
- combination classes and the Trøndelag model deliver snapshots, so an earlier file's rows
  are replaced, not duplicated: only a row repeated inside the same file is a duplicate
  (pupil + application date; case + identical event).
The first delivery wins: a later copy of a known event is counted, not loaded.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources

import duckdb
import polars as pl

from flows.sources.common import ROW
from flows.validate import STATUS_LOADED, ValidatedFile

RAW_TABLES = {
    "intro": "raw.intro_event",
    "adult_education": "raw.adult_education_event",
    "combination_classes": "raw.combination_class_row",
    "trondelag_model": "raw.trondelag_model_event",
}
# (key columns, whether earlier files count)
DUPLICATE_KEYS = {
    "intro": (["deltaker_pid", "hendelse", "dato"], True),
    "adult_education": (["event_id"], True),
    "combination_classes": (["elev_pid", "soknadsdato"], False),
    "trondelag_model": (["case_id", "type", "date", "trade", "sector", "reason"], False),
}


@dataclass
class StageCounts:
    files: int = 0
    files_loaded: int = 0
    files_refused: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(resources.files("warehouse").joinpath("ddl.sql").read_text("utf-8"))


def seen_files(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """(sha256, file name) -> status of every file already in the file log."""
    return {(sha, name): status for sha, name, status in
            con.execute("select sha256, file_name, status from audit.file_log").fetchall()}


def _lineage(v: ValidatedFile) -> pl.DataFrame:
    meta = v.meta
    frame = v.rows.rename({ROW: "row_number"}).with_columns(
        pl.lit(v.file_name).alias("source_file"),
        pl.lit(v.sha256).alias("source_sha256"),
        pl.lit(meta["delivery_date"], dtype=pl.Date).alias("delivery_date"),
    )
    if v.source == "combination_classes":
        frame = frame.with_columns(pl.lit(meta["school_orgnr"]).alias("school_orgnr"),
                                   pl.lit(meta["school_year"]).alias("school_year"))
    if v.source == "trondelag_model":
        frame = frame.with_columns(pl.lit(meta["exported_at"]).alias("exported_at"))
    return frame


def _insert_rows(con: duckdb.DuckDBPyConnection, v: ValidatedFile) -> tuple[int, int]:
    """Insert the file's valid rows; returns (loaded, duplicate)."""
    table = RAW_TABLES[v.source]
    batch = _lineage(v)
    if batch.height == 0:
        return 0, 0
    keys, across_files = DUPLICATE_KEYS[v.source]
    columns = [r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()]
    key_list = ", ".join(keys)
    earlier = (f"and not exists (select 1 from {table} t where "
               + " and ".join(f"t.{k} is not distinct from b.{k}" for k in keys) + ")") if across_files else ""
    con.register("batch_rows", batch.to_arrow())
    try:
        inserted = con.execute(f"""
            insert into {table} ({", ".join(columns)})
            select {", ".join(columns)} from batch_rows b
            where true {earlier}
            qualify row_number() over (partition by {key_list} order by row_number) = 1
        """).fetchone()[0]
    finally:
        con.unregister("batch_rows")
    return inserted, batch.height - inserted


def _snapshot_key(v: ValidatedFile) -> str | None:
    if v.source == "combination_classes" and "school_orgnr" in v.meta:
        return f"{v.meta['school_orgnr']}/{v.meta['school_year']}"
    return None


def stage(con: duckdb.DuckDBPyConnection, files: list[ValidatedFile], load_id: str) -> StageCounts:
    counts = StageCounts()
    now = dt.datetime.now(dt.timezone.utc)
    for v in files:
        loaded = duplicate = 0
        if v.status == STATUS_LOADED and v.rows is not None and v.copy_of:
            duplicate = v.rows.height  # the same bytes were loaded under another name
            counts.files_loaded += 1
        elif v.status == STATUS_LOADED and v.rows is not None:
            loaded, duplicate = _insert_rows(con, v)
            counts.files_loaded += 1
        else:
            counts.files_refused += 1
        quarantined = v.rows_quarantined
        message = v.message
        if v.copy_of:
            message = (message + "; " if message else "") + f"same content as {v.copy_of}, already loaded"
        elif duplicate:
            message = (message + "; " if message else "") + f"{duplicate} rows already delivered (duplicates)"
        con.execute(
            "insert into audit.file_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [v.file_name, v.source, v.sha256, now, v.status, v.rows_read, loaded, quarantined, duplicate,
             message, v.meta.get("delivery_date"), _snapshot_key(v), load_id])
        if v.quarantine:
            con.executemany(
                "insert into audit.quarantine values (?, ?, ?, ?, ?, ?, ?, ?)",
                [[v.file_name, p.row_number, p.column, p.rule, p.message, v.source, v.sha256, load_id]
                 for p in v.quarantine])
        counts.files += 1
        counts.rows_loaded += loaded
        counts.rows_quarantined += quarantined
        counts.rows_duplicate += duplicate
    mark_superseded(con)
    return counts


def mark_superseded(con: duckdb.DuckDBPyConnection) -> None:
    """A snapshot file is `superseded` once newer deliveries replace all it said.

    Combination classes: a newer loaded delivery for the same school and school year.
    Trøndelag model: every case in the file appears in a newer loaded export.
    Ties on delivery date go to the file seen later, then to the file name.
    """
    con.execute("""
        with newest as (
            select arg_max(sha256, delivery_date::varchar || first_seen_at::varchar || file_name) as sha256
            from audit.file_log
            where source = 'combination_classes' and status in ('loaded', 'superseded')
            group by snapshot_key
        )
        update audit.file_log set status = 'superseded'
        where source = 'combination_classes' and status = 'loaded'
          and sha256 not in (select sha256 from newest)
    """)
    con.execute("""
        with newest as (
            select arg_max(source_sha256, delivery_date::varchar || source_file) as sha256
            from raw.trondelag_model_event group by case_id
        )
        update audit.file_log set status = 'superseded'
        where source = 'trondelag_model' and status = 'loaded'
          and sha256 in (select source_sha256 from raw.trondelag_model_event)
          and sha256 not in (select sha256 from newest)
    """)
