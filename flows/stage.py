"""Stage validated files into the warehouse's raw tables and keep the books.

For every file: its valid rows go into `raw.<source>`, its rejected rows into
`audit.quarantine`, and one row into `audit.file_log` with
`rows_read = rows_loaded + rows_quarantined + rows_duplicate`.

Which copy of an event counts is *not* decided here but in the staging models, from the
order of deliveries (`staging.stg_delivery`: the delivery date in the file name, then
when the file arrived). So a late delivery dated earlier than files already loaded
still wins as the first delivery, whatever order the files arrive in. After the build,
`reconcile` brings the books in line with that decision:

- intro and adult education: every valid row is kept in raw; the copy in the earliest
  delivery (then the lowest row number) is *loaded*, every other copy of the same event
  (pid + event + date; `event_id`) is a *duplicate*;
- settlement plans: the newest delivery for a (kommunenr, aar) wins; an older file's
  rows are replaced, not duplicated, and a file is `superseded` once newer deliveries
  hold every municipality and year it held; a row repeated inside one file is a duplicate;
- combination classes and the Trøndelag model deliver snapshots, so an earlier file's
  rows are replaced, not duplicated: only a row repeated inside the same file is a
  duplicate (pupil + application date; case + identical event), and a file is
  `superseded` once newer deliveries replace everything it said.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from flows.sources.common import ROW
from flows.validate import STATUS_LOADED, ValidatedFile
from warehouse import one_row

RAW_TABLES = {
    "intro": "raw.intro_event",
    "adult_education": "raw.adult_education_event",
    "combination_classes": "raw.combination_class_row",
    "trondelag_model": "raw.trondelag_model_event",
    "settlement_plan": "raw.settlement_plan_row",
}
# Event keys of the sources whose events count once across all files (the winner is
# chosen in staging, by delivery order).
EVENT_KEYS = {
    "intro": ["deltaker_pid", "hendelse", "dato"],
    "adult_education": ["event_id"],
}
# Keys of a row repeated inside one snapshot file.
SNAPSHOT_KEYS = {
    "combination_classes": ["elev_pid", "soknadsdato"],
    "trondelag_model": ["case_id", "type", "date", "trade", "sector", "reason"],
    # the same municipality, year and figures twice in one plan file (different figures
    # for one municipality and year are refused by the schema)
    "settlement_plan": ["kommunenr", "aar", "anmodet", "vedtatt", "herav_ema"],
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
    """Bring the (candidate) warehouse to this code's schema: the numbered migrations it
    lacks (warehouse/migrate.py); a no-op once it is there."""
    from warehouse.migrate import migrate

    migrate(con)


def seen_files(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """(sha256, file name) -> status of every file already in the file log."""
    return {
        (sha, name): status
        for sha, name, status in con.execute("select sha256, file_name, status from audit.file_log").fetchall()
    }


def _lineage(v: ValidatedFile) -> pl.DataFrame:
    meta = v.meta
    assert v.rows is not None, "only loaded files with rows are staged (see stage)"
    frame = v.rows.rename({ROW: "row_number"}).with_columns(
        pl.lit(v.file_name).alias("source_file"),
        pl.lit(v.sha256).alias("source_sha256"),
        pl.lit(meta["delivery_date"], dtype=pl.Date).alias("delivery_date"),
    )
    if v.source == "combination_classes":
        frame = frame.with_columns(
            pl.lit(meta["school_orgnr"]).alias("school_orgnr"), pl.lit(meta["school_year"]).alias("school_year")
        )
    if v.source == "trondelag_model":
        frame = frame.with_columns(pl.lit(meta["exported_at"]).alias("exported_at"))
    return frame


def _kept_rows(v: ValidatedFile) -> tuple[pl.DataFrame, int]:
    """The file's valid rows to store, and how many are duplicates inside a snapshot file.

    Event sources keep every valid row (the books are settled by `reconcile`); a snapshot
    file keeps the first of rows repeated inside it (by row number)."""
    batch = _lineage(v)
    if v.source in SNAPSHOT_KEYS and batch.height:
        kept = batch.sort("row_number").unique(subset=SNAPSHOT_KEYS[v.source], keep="first", maintain_order=True)
        return kept, batch.height - kept.height
    return batch, 0


def _by_schema(frames: list[pl.DataFrame]) -> list[list[pl.DataFrame]]:
    """Frames grouped by identical column types, one insert per group. Valid files of one
    source can differ (an all-empty column, an export time with or without a UTC offset),
    and Polars cannot always combine such frames, while DuckDB casts each insert to the
    table's own types: so frames are only concatenated where nothing needs casting."""
    groups: dict[tuple, list[pl.DataFrame]] = {}
    for frame in frames:
        groups.setdefault(tuple(frame.schema.items()), []).append(frame)
    return list(groups.values())


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """One insert for many files' rows, by column name (the table's own columns). Arrow's
    string views are Polars' own string layout: handed to DuckDB without a copy (the default
    conversion copied every string of a county's first load, ≈ 0.5 GB at 300 000 persons)."""
    columns = [r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()]
    con.register("batch_rows", frame.to_arrow(compat_level=pl.CompatLevel.newest()))
    try:
        con.execute(f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from batch_rows")
    finally:
        con.unregister("batch_rows")


def _insert_cases(con: duckdb.DuckDBPyConnection, v: ValidatedFile) -> None:
    """Every case the export lists, also one whose rows were all quarantined."""
    cases = [c for c in v.meta.get("cases", []) if isinstance(c, str)]
    if not cases:
        return
    con.execute(
        """
        insert into raw.trondelag_model_case (case_id, source_file, source_sha256, delivery_date)
        select distinct case_id, ?, ?, ?::date from unnest(?::varchar[]) t(case_id)
    """,
        [v.file_name, v.sha256, v.meta.get("delivery_date"), cases],
    )


def _snapshot_key(v: ValidatedFile) -> str | None:
    if v.source == "combination_classes" and "school_orgnr" in v.meta:
        return f"{v.meta['school_orgnr']}/{v.meta['school_year']}"
    return None


FILE_LOG_COLUMNS = [
    "file_name",
    "source",
    "sha256",
    "first_seen_at",
    "status",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "rows_duplicate",
    "message",
    "delivery_date",
    "snapshot_key",
    "load_id",
    "arrived_at",
]
QUARANTINE_COLUMNS = ["file_name", "row_number", "column_name", "rule", "message", "source", "sha256", "load_id"]


def stage(con: duckdb.DuckDBPyConnection, files: list[ValidatedFile], load_id: str) -> StageCounts:
    """Store every file's rows and books in one transaction, one insert per table.

    Why batched: DuckDB commits every statement on its own by default, and a statement per
    file (rows, log line, quarantine) cost ≈ 30 ms each; a county's first load of ~500
    files spent 15 s here (issue 13). One transaction also means a stage step that fails
    half-way leaves no half-staged file behind."""
    counts = StageCounts()
    now = dt.datetime.now(dt.UTC)
    rows: dict[str, list[pl.DataFrame]] = {}
    log, quarantine = [], []
    for v in files:
        loaded = duplicate = 0
        # The same bytes under a second name are staged like any delivery: which copy
        # counts is decided by delivery order in staging, not by which arrived first.
        if v.status == STATUS_LOADED and v.rows is not None:
            kept, duplicate = _kept_rows(v)
            loaded = kept.height
            if loaded:
                rows.setdefault(v.source, []).append(kept)
            counts.files_loaded += 1
        else:
            counts.files_refused += 1
        message = v.message
        if v.copy_of:
            message = (message + "; " if message else "") + f"same content as {v.copy_of}"
        log.append(
            [
                v.file_name,
                v.source,
                v.sha256,
                now,
                v.status,
                v.rows_read,
                loaded,
                v.rows_quarantined,
                duplicate,
                message,
                v.meta.get("delivery_date"),
                _snapshot_key(v),
                load_id,
                v.meta.get("arrived_at"),
            ]
        )
        quarantine += [
            [v.file_name, p.row_number, p.column, p.rule, p.message, v.source, v.sha256, load_id]
            for p in v.quarantine or []
        ]
        counts.files += 1
        counts.rows_loaded += loaded
        counts.rows_quarantined += v.rows_quarantined
        counts.rows_duplicate += duplicate
    con.execute("begin transaction")
    try:
        for source, frames in rows.items():
            for same_types in _by_schema(frames):
                _insert_frame(con, RAW_TABLES[source], pl.concat(same_types, rechunk=False))
        for v in files:
            if v.source == "trondelag_model" and v.status == STATUS_LOADED and v.rows is not None:
                _insert_cases(con, v)
        _insert_table(con, "audit.file_log", FILE_LOG_COLUMNS, log)
        _insert_table(con, "audit.quarantine", QUARANTINE_COLUMNS, quarantine)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return counts


def _insert_table(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[list]) -> None:
    """Bookkeeping rows in one insert, by column name (a column added later never shifts a value)."""
    if not rows:
        return
    types = dict(con.execute(f"select column_name, column_type from (describe {table})").fetchall())
    frame = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    con.register("book_rows", frame.to_arrow())
    try:
        con.execute(
            f"insert into {table} ({', '.join(columns)}) "
            f"select {', '.join(f'{c}::{types[c]}' for c in columns)} from book_rows"
        )
    finally:
        con.unregister("book_rows")


def reconcile(con: duckdb.DuckDBPyConnection, load_id: str, sources: set[str] | None = None) -> tuple[int, int]:
    """Settle the books with the staging models' decisions (run after the build).

    Returns (rows loaded, rows duplicate) of this load's files. A late delivery dated
    earlier than files already loaded moves rows of those files from loaded to duplicate.
    `sources`: only these sources' files (the incremental build says whose raw rows or
    deliveries changed; None: every source)."""
    for source, keys in EVENT_KEYS.items():
        if sources is not None and source not in sources:
            continue
        table = RAW_TABLES[source]
        partition = ", ".join(f"r.{k}" for k in keys)
        con.execute(f"""
            with ranked as (
                select r.source_file, r.source_sha256,
                       row_number() over (partition by {partition} order by d.delivery_order, r.row_number) = 1 as wins
                from {table} r
                join staging.stg_delivery d on d.sha256 = r.source_sha256 and d.file_name = r.source_file
            ),
            per_file as (
                select source_file, source_sha256, count(*) filter (where wins) as winners
                from ranked group by all
            )
            update audit.file_log f
            set rows_loaded = coalesce(p.winners, 0),
                rows_duplicate = f.rows_read - f.rows_quarantined - coalesce(p.winners, 0)
            from (select f2.file_name, f2.sha256, p.winners
                  from audit.file_log f2
                  left join per_file p on p.source_file = f2.file_name and p.source_sha256 = f2.sha256
                  where f2.source = '{source}' and f2.status = 'loaded') p
            where f.file_name = p.file_name and f.sha256 = p.sha256 and f.status = 'loaded'
        """)
    mark_superseded(con)
    return one_row(
        con.execute(
            """select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_duplicate), 0)
                          from audit.file_log where load_id = ?""",
            [load_id],
        ).fetchone()
    )


def mark_superseded(con: duckdb.DuckDBPyConnection) -> None:
    """A snapshot file is `superseded` once newer deliveries replace all it said.

    Combination classes: a newer delivery for the same school and school year.
    Trøndelag model: every case the export lists is listed by a newer export.
    Settlement plans: every (kommunenr, aar) the file holds is held by a newer delivery.
    "Newer" is the delivery order of `staging.stg_delivery`.
    """
    con.execute("""
        with rows as (
            select distinct p.kommunenr, p.aar, d.file_name, d.sha256, d.delivery_order
            from raw.settlement_plan_row p
            join staging.stg_delivery d on d.sha256 = p.source_sha256 and d.file_name = p.source_file
        ),
        newest as (
            select kommunenr, aar, max(delivery_order) as newest_order from rows group by all
        ),
        still_in_force as (
            select distinct r.file_name, r.sha256
            from rows r join newest n using (kommunenr, aar)
            where r.delivery_order = n.newest_order
        )
        update audit.file_log set status = 'superseded'
        where source = 'settlement_plan' and status = 'loaded'
          and (file_name, sha256) in (select file_name, sha256 from rows)
          and (file_name, sha256) not in (select file_name, sha256 from still_in_force)
    """)
    con.execute("""
        update audit.file_log set status = 'superseded'
        where source = 'combination_classes' and status = 'loaded'
          and (file_name, sha256) in (select file_name, sha256 from staging.stg_delivery
                                      where source = 'combination_classes' and not newest_of_snapshot)
    """)
    con.execute("""
        with listed as (
            select c.case_id, d.file_name, d.sha256, d.delivery_order
            from raw.trondelag_model_case c
            join staging.stg_delivery d on d.sha256 = c.source_sha256 and d.file_name = c.source_file
        ),
        newest as (
            select distinct arg_max(file_name, delivery_order) as file_name, arg_max(sha256, delivery_order) as sha256
            from listed group by case_id
        )
        update audit.file_log set status = 'superseded'
        where source = 'trondelag_model' and status = 'loaded'
          and (file_name, sha256) in (select file_name, sha256 from listed)
          and (file_name, sha256) not in (select file_name, sha256 from newest)
    """)
