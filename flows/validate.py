"""Validate one read file: privacy guard → drop free text → type → Pandera schema.

The privacy guard runs first, over every place of the file (`schemas.privacy.scan_file`),
before any other verdict: a file that holds a national id is a privacy incident even if
it is also unreadable or badly named. Messages describe what is wrong and never quote a
value or a parser's error text (a rejected value may be personal data in the wrong field).

Hands the stage step a `ValidatedFile`: the rows that passed (typed, contract columns
only), one quarantine record per rejected row, and the file's verdict. Nothing here
touches the warehouse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import import_module

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from flows.sources import SOURCES
from flows.sources.common import ROW, Problem, RawFile
from schemas.checks import DELIVERY
from schemas.privacy import Finding, describe, redact, safe_name, scan_file

SCHEMAS = {name: import_module(f"schemas.{name}").SCHEMA for name in SOURCES}
STATUS_LOADED, STATUS_QUARANTINED, STATUS_PRIVACY = "loaded", "quarantined", "privacy_incident"


@dataclass
class ValidatedFile:
    source: str
    file_name: str
    sha256: str
    status: str
    rows_read: int
    rows: pl.DataFrame | None = None  # typed, valid rows: contract columns + _row
    quarantine: list[Problem] = field(default_factory=list)  # one per rejected row (or one per file)
    message: str = ""
    meta: dict = field(default_factory=dict)
    copy_of: str | None = None  # same bytes already loaded under this name

    @property
    def rows_quarantined(self) -> int:
        if self.status != STATUS_LOADED:
            return self.rows_read
        return len({p.row_number for p in self.quarantine})


def refuse(raw: RawFile, source: str, sha256: str, status: str, problems: list[Problem]) -> ValidatedFile:
    first = problems[0]
    message = first.message if len(problems) == 1 else f"{first.message} (and {len(problems) - 1} more)"
    return ValidatedFile(
        source,
        safe_name(raw.path.name),
        sha256,
        status,
        raw.rows_read,
        quarantine=problems,
        message=redact(message),
        meta=raw.meta,
    )


def changed_file(v: ValidatedFile) -> ValidatedFile:
    """A file whose name was loaded before with other content: the contract says delivered
    files never change, so the new bytes are refused rather than loaded beside the old."""
    problem = Problem(
        "file_changed",
        "a file with this name was already loaded with different content; "
        "deliver a correction as a new file (with a new delivery date)",
    )
    return ValidatedFile(
        v.source,
        v.file_name,
        v.sha256,
        STATUS_QUARANTINED,
        v.rows_read,
        quarantine=[problem],
        message=problem.message,
        meta=v.meta,
    )


def screen(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> bool:
    """Whether the file passes its schema, decided in one pass over the frame.

    Why: Pandera's Polars backend runs every data check (and every non-nullable column)
    as a query of its own: ≈ 40 passes per file. For the many clean files of a delivery
    that was ≈ 45 % of what the read workers did. Here Pandera checks the schema level
    (columns and types: a LazyFrame is validated at schema depth), and one `select`
    evaluates the very expressions the checks hold (`schemas.checks.rule`), treated as
    Pandera treats them: null results pass, and a non-nullable column fails on null (or
    NaN, for floats). True only when everything passes; otherwise (or when the schema
    holds a check or option the screen does not know, such as a column default that Pandera
    fills in before its checks) the caller runs Pandera in full,
    which alone names the failures. `tests/test_schemas.py` holds the two to agreement."""
    exprs: list[pl.Expr] = []
    if schema.checks or schema.unique or schema.coerce or schema.add_missing_columns or schema.drop_invalid_rows:
        return False
    types = frame.schema
    for name, column in schema.columns.items():
        if column.regex or column.unique or column.coerce or column.default is not None or name not in types:
            return False
        if not column.nullable:
            present = pl.col(name).is_not_null()
            if types[name].is_float():
                present = present & pl.col(name).is_not_nan()
            exprs.append(present.all())
        for check in column.checks:
            valid_rows = getattr(check, "valid_rows", None)
            if valid_rows is None or check.element_wise or not check.ignore_na:
                return False
            exprs.append(valid_rows(name).fill_null(True).all())
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            schema.validate(frame.lazy(), lazy=True)
    except (pa.errors.SchemaErrors, pa.errors.SchemaError):
        return False
    if not exprs:
        return True
    try:
        passed = frame.lazy().select(e.alias(f"check_{i}") for i, e in enumerate(exprs)).collect().row(0)
    except pl.exceptions.PolarsError:  # a check Polars cannot evaluate here: Pandera records it as failed
        return False
    return all(value is True for value in passed)


def _schema_problems(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> tuple[list[Problem], list[Problem]]:
    """Run the schema lazily (all failures at once); split into row and file problems.
    A file that passes the one-pass `screen` needs no more."""
    if screen(frame, schema):
        return [], []
    try:
        schema.validate(frame, lazy=True)
        return [], []
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    rows, files = [], []
    row_numbers = frame[ROW]
    for index, column, check, value in cases.select("index", "column", "check", "failure_case").iter_rows():
        if index is None:  # schema-level: dtype or missing column (the check names a rule, never a value)
            name = check.split("(", 1)[0]
            files.append(Problem("schema", f"{column}: fails the schema rule {name}", None, column))
            continue
        if check == "not_nullable":
            rule, text = "required", "value is missing"
        elif ": " in check:
            rule, text = check.split(": ", 1)
        else:
            rule, text = check, f"fails {check.split('(', 1)[0]}"
        # describe the value (length, kinds of characters), never quote it
        shown = f": {describe(value)}" if isinstance(value, str) and rule != "required" else ""
        rows.append(Problem(rule, f"{column}: {text}{shown}", int(row_numbers[index]), column))
    return rows, files


def _one_per_row(problems: list[Problem]) -> list[Problem]:
    """The contract keeps one quarantine row per rejected row: the first problem names the
    column and rule; the message lists every problem of the row."""
    by_row: dict[int | None, list[Problem]] = {}
    seen_cells: set[tuple[int | None, str | None]] = set()
    for p in problems:  # a value that did not parse is not also reported as missing
        if (p.row_number, p.column) in seen_cells and p.column is not None:
            continue
        seen_cells.add((p.row_number, p.column))
        by_row.setdefault(p.row_number, []).append(p)
    merged = []
    for row, items in sorted(by_row.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        seen = list(dict.fromkeys(p.message for p in items))
        merged.append(Problem(items[0].rule, "; ".join(seen), row, items[0].column))
    return merged


def _arrival(raw: RawFile) -> dict:
    """When the file arrived in the landing zone: its inode change time, which copying or
    moving a file into the folder sets (a preserved modification time would not). Orders
    deliveries that carry the same delivery date and were first seen by the same load."""
    try:
        stat = raw.path.stat()
    except OSError:
        return {}
    return {"arrived_at": dt.datetime.fromtimestamp(stat.st_ctime_ns / 1e9, dt.UTC)}


PLACES = {
    "file name": "the file name",
    "field": "this field",
    "column header": "a column header",
    "JSON key": "a JSON key",
    "line": "this line",
    "document": "the document",
    "sheet name": "the name of a sheet",
    "sheet": "a cell of another sheet",
}


def privacy_problems(findings: list[Finding]) -> list[Problem]:
    """One problem per place; the message says where, never what."""
    out = []
    for f in dict.fromkeys(findings):
        where = PLACES.get(f.place, f.place)
        prefix = f"{f.column}: " if f.column else ""
        out.append(
            Problem(
                "national_id",
                f"{prefix}a national identity number was found in {where}; "
                "the whole file is refused as a privacy incident",
                f.row,
                f.column,
            )
        )
    return out


def guard(raw: RawFile, source: str) -> list[Problem]:
    """The privacy guard over every place of the file (see schemas.privacy)."""
    findings = scan_file(
        raw.path.name,
        raw.format,
        text=raw.text,
        frame=raw.frame,
        path=raw.path,
        sheet=getattr(SOURCES[source], "SHEET", None),
    )
    return privacy_problems(findings)


def typed_for_schema(raw: RawFile, source: str) -> tuple[pl.DataFrame, list[Problem]]:
    """The frame the schema checks: row number, the contract's columns typed (values that
    do not parse become problems and nulls), and the file's delivery date."""
    reader = SOURCES[source]
    assert raw.frame is not None, "a file without a frame is refused before it is typed"
    frame = raw.frame.select([ROW, *reader.COLUMNS])  # free text and unknown columns end here
    frame, parse_problems = reader.typed(frame)
    return frame.with_columns(pl.lit(raw.delivery_date, dtype=pl.Date).alias(DELIVERY)), parse_problems


def validate(raw: RawFile, source: str, sha256: str) -> ValidatedFile:
    if problems := guard(raw, source):
        return refuse(raw, source, sha256, STATUS_PRIVACY, problems)
    raw.text = None  # the guard has seen it; nothing else needs the text
    if raw.file_problems or raw.frame is None:
        problems = raw.file_problems or [Problem("unreadable", "the file could not be read")]
        return refuse(raw, source, sha256, STATUS_QUARANTINED, problems)

    if raw.delivery_date is not None and raw.delivery_date > dt.date.today() + dt.timedelta(days=1):
        # a typo in the name (2042 for 2024) would make the file the newest delivery for ever
        return refuse(
            raw,
            source,
            sha256,
            STATUS_QUARANTINED,
            [
                Problem(
                    "delivery_date_in_future",
                    "the delivery date in the file name is in the future: deliver the file "
                    "again under its real delivery date",
                )
            ],
        )
    raw.meta.update(_arrival(raw))
    if source == "trondelag_model" and "case_id" in raw.frame.columns:
        # every case the export lists, also one whose rows will all be quarantined
        raw.meta["cases"] = raw.frame["case_id"].drop_nulls().unique().sort().to_list()
    frame, parse_problems = typed_for_schema(raw, source)
    row_problems, file_problems = _schema_problems(frame, SCHEMAS[source])
    if file_problems:
        return refuse(raw, source, sha256, STATUS_QUARANTINED, file_problems)

    quarantine = _one_per_row(raw.row_problems + parse_problems + row_problems)
    bad_rows = pl.DataFrame({ROW: [p.row_number for p in quarantine]}, schema={ROW: pl.Int64})
    rows = frame.join(bad_rows, on=ROW, how="anti").drop(DELIVERY)
    result = ValidatedFile(
        source,
        safe_name(raw.path.name),
        sha256,
        STATUS_LOADED,
        raw.rows_read,
        rows=rows,
        quarantine=quarantine,
        meta=raw.meta,
    )
    if quarantine:
        result.message = f"{len(quarantine)} of {raw.rows_read} rows quarantined"
    return result


def read_and_validate_file(source: str, path, sha256: str) -> ValidatedFile:
    """Read and validate one landing file. An error is raised again without its text (a
    parser's or library's message may quote the file's content, and the path may hold a
    national id), so Prefect's records and the logs keep only its kind; an operating-system
    error stays an OSError, so the flow still retries it."""
    try:
        return validate(SOURCES[source].read(path), source, sha256)
    except OSError as err:
        raise OSError(err.errno, err.strerror) from None
    except Exception as err:
        raise RuntimeError(
            f"{type(err).__name__} while reading or validating the file (details withheld: they may quote the file)"
        ) from None
