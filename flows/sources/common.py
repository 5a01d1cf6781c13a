"""What every reader hands to validation, and the text helpers they share.

A reader turns the bytes of one landing file into a frame where every cell is text,
plus the facts of the file itself (delivery date from the file name, ...). It knows
nothing of the warehouse. Problems that make the whole file unusable (unreadable,
wrong encoding, missing columns, bad file name) are *file problems*; problems found
on single records while reading (a JSON line that does not parse) are *row problems*.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from schemas.privacy import decoded_fallback, describe, redact

ROW = "_row"


@dataclass
class Problem:
    rule: str
    message: str
    row_number: int | None = None
    column: str | None = None

    def __post_init__(self) -> None:
        self.message = redact(self.message)


@dataclass
class RawFile:
    """One landing file as text cells. `frame` is None when the file could not be read."""

    path: Path
    frame: pl.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    file_problems: list[Problem] = field(default_factory=list)
    row_problems: list[Problem] = field(default_factory=list)
    encoding: str | None = None
    # For the privacy guard (schemas.privacy.scan_file): the format, and for text formats
    # the whole decoded text (every byte the load may store or show, also what did not parse).
    format: str = ""
    text: str | None = None

    @property
    def rows_read(self) -> int:
        n = 0 if self.frame is None else self.frame.height
        return n + len({p.row_number for p in self.row_problems})

    @property
    def delivery_date(self) -> dt.date | None:
        return self.meta.get("delivery_date")


class FileNameError(ValueError):
    pass


def read_bytes(path: Path) -> bytes:
    """The file's bytes. An operating-system error (retried by the flow) is raised again
    without the path: a file name may hold a national id, and Prefect records the error."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise OSError(err.errno, err.strerror) from None


def parse_yyyymmdd(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError as err:
        raise FileNameError("the date in the file name is not a real date (YYYYMMDD)") from err


def decode_text(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) or Windows-1252, as the contract allows. Raises on others."""
    if b"\x00" in data:
        raise UnicodeError("the file contains NUL bytes: it is not UTF-8 or Windows-1252 text (UTF-16?)")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as err:
        raise UnicodeError(
            f"the file is neither UTF-8 nor Windows-1252 (undecodable byte at offset {err.start})"
        ) from None


# More columns than any real export has: refused before the per-column work (privacy guard,
# trimming, schema) that costs seconds per thousand columns (issue 10: 10 000 columns took
# 3 minutes, 100 000 never finished).
MAX_COLUMNS = 500


def unreserved(name: str) -> str:
    """A delivered column or key named like the pipeline's own bookkeeping columns
    (`_row`, anything starting with `_`) is renamed, so it can neither collide with them
    nor slip past the privacy guard, which looks only at delivered columns."""
    return f"column {name}" if name.startswith("_") else name


def column_problem(names: list[str], contract: list[str]) -> Problem | None:
    """Too many columns, or a column named twice (after trimming and case folding where
    the reader folds): which of the two would count is anyone's guess, so the file is
    refused rather than loaded from the wrong one. Names only contract columns: an unknown
    header could itself be data."""
    if len(names) > MAX_COLUMNS:
        return Problem("too_many_columns", f"the file has {len(names)} columns; at most {MAX_COLUMNS} are accepted")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            shown = f"'{name}'" if name in contract else "an unknown column"
            return Problem("duplicate_columns", f"the header names {shown} more than once")
        seen.add(name)
    return None


def missing_columns(frame: pl.DataFrame, required: list[str]) -> Problem | None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        return Problem("missing_columns", f"required columns missing: {', '.join(missing)}")
    return None


def json_text(value) -> str | None:
    """A JSON value as the text cell readers hand on: objects and lists as JSON, null as null."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def tidy_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Trim every text cell; an empty cell is a missing value."""
    return frame.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in frame.columns if c != ROW
    )


FORMAT_NAMES = {"%d.%m.%Y": "dd.mm.yyyy", "%Y-%m-%d": "yyyy-mm-dd", "%Y-%m-%d %H:%M:%S": "an Excel date"}
FORMAT_SHAPES = {
    "%d.%m.%Y": r"^\d{2}\.\d{2}\.\d{4}$",
    "%Y-%m-%d": r"^\d{4}-\d{2}-\d{2}$",
    "%Y-%m-%d %H:%M:%S": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$",
}


def parse_dates(frame: pl.DataFrame, columns: list[str], formats: list[str]) -> tuple[pl.DataFrame, list[Problem]]:
    """Parse text dates trying each format; a value present but not a real date is a row problem.

    Parsing happens here, not in the schema (Pandera's coerce flags every row when formats
    are mixed). `31.02.2024` fails every format and is reported, never silently nulled.
    """
    problems: list[Problem] = []
    parsed = []
    for column in columns:
        text = pl.col(column)
        expr = pl.coalesce([text.str.strptime(pl.Date, fmt, strict=False, exact=True) for fmt in formats])
        parsed.append(expr.alias(column))
        bad = frame.filter(text.is_not_null() & expr.is_null())
        shape = pl.any_horizontal([text.str.contains(FORMAT_SHAPES[f]) for f in formats])
        shapes: pl.Series | list[bool] = bad.select(shape.alias("s"))["s"] if bad.height else []
        wanted = " or ".join(FORMAT_NAMES.get(f, f) for f in formats)
        for row, value, looks_like in zip(bad[ROW], bad[column], shapes, strict=True):
            what = (
                f"not a real calendar date ({wanted})" if looks_like else f"not a date in {wanted}: {describe(value)}"
            )
            problems.append(Problem("date_format", f"{column}: {what}", row, column))
    return frame.with_columns(parsed), problems


def parse_year(frame: pl.DataFrame, column: str) -> tuple[pl.DataFrame, list[Problem]]:
    """A 4-digit year; Excel may hand a number over as `2001.0`."""
    text = pl.col(column).str.replace(r"\.0$", "")
    expr = pl.when(text.str.contains(r"^\d{4}$")).then(text.cast(pl.Int32, strict=False))
    bad = frame.filter(pl.col(column).is_not_null() & expr.is_null())
    problems = [
        Problem("year_format", f"{column}: not a 4-digit year: {describe(v)}", r, column)
        for r, v in zip(bad[ROW], bad[column], strict=True)
    ]
    return frame.with_columns(expr.alias(column)), problems


def with_row_numbers(frame: pl.DataFrame, first: int) -> pl.DataFrame:
    return frame.with_row_index(ROW, offset=first).with_columns(pl.col(ROW).cast(pl.Int64))


def read_semicolon_csv(
    path: Path,
    decode: Callable[[bytes], tuple[str, str]],
    file_meta: Callable[[str], dict],
    columns: list[str],
    required: list[str],
) -> tuple[RawFile, pl.DataFrame | None]:
    """The shared first half of the `;`-separated CSV readers (intro, settlement plans):
    bytes → text (kept for the privacy guard, also when undecodable) → file name facts →
    header → frame with the contract's column names. Returns the raw file and the frame, or
    None once a file problem means there is nothing to read; a missing required column is
    recorded but the frame is still returned (the guard and the books see every row)."""
    raw = RawFile(path, format="csv")
    data = read_bytes(path)
    try:
        text, raw.encoding = decode(data)
    except UnicodeError as err:
        raw.text = decoded_fallback(data)  # still shown to the privacy guard
        raw.file_problems.append(Problem("encoding", str(err)))
        return raw, None
    raw.text = text
    try:
        raw.meta = file_meta(path.name)
    except FileNameError as err:
        raw.file_problems.append(Problem("file_name", str(err)))
        return raw, None
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=";"), [])
    if problem := column_problem([unreserved(c.strip().lower()) for c in header], columns):
        raw.file_problems.append(problem)
        return raw, None
    try:
        frame = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False, quote_char='"')
    except Exception:  # polars' several error types; their text can quote whole rows
        raw.file_problems.append(
            Problem(
                "unreadable",
                "not a readable ;-separated CSV (rows with more fields than the header, or an unbalanced quote)",
            )
        )
        return raw, None
    names = [unreserved(c.strip().lower()) for c in frame.columns]
    if problem := column_problem(names, columns):  # e.g. quoted headers the first look did not split
        raw.file_problems.append(problem)
        return raw, None
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    if problem := missing_columns(frame, required):
        raw.file_problems.append(problem)
    return raw, frame.with_columns(_short_rows(text, frame))


SHORT = "_fields_if_short"  # a record's number of fields when it has fewer than the header


def _short_rows(text: str, frame: pl.DataFrame) -> pl.Series:
    """Per record: its number of fields if it has at least one but fewer than the header,
    else null. Polars fills a short record's missing fields with nulls, and a missing
    trailing field reads as a value: an undecided settlement plan, an intro record with no
    end. Counted with Python's csv module (the same separator and quote); a blank line
    (no field) is left to the rules for missing values; if the two parsers disagree on the
    number of records, nothing is marked (the rows are checked as before). Without a quote
    character in the file a record is a line, and its separators are counted in Polars
    (a third of the csv module's time on a 16 MB intro file)."""
    width = frame.width
    widths: list[int]
    if '"' not in text:  # no quoting: a record is a line, its fields its separators + 1 (vectorised)
        lines = pl.Series(text.split("\n")[1:]).str.strip_suffix("\r")
        if text.endswith("\n"):
            lines = lines.head(-1)
        fields = pl.when(lines == "").then(0).otherwise(lines.str.count_matches(";", literal=True) + 1)
        widths = pl.select(fields).to_series().to_list()
    else:
        try:
            widths = [len(record) for record in csv.reader(io.StringIO(text), delimiter=";", quotechar='"')][1:]
        except csv.Error:  # e.g. a field longer than the csv module's limit
            widths = []
    marks = [n if 0 < n < width else None for n in widths] if len(widths) == frame.height else [None] * frame.height
    return pl.Series(SHORT, marks, dtype=pl.Int32)


def set_aside_short_rows(raw: RawFile, frame: pl.DataFrame) -> pl.DataFrame:
    """Move the numbered records that lack fields (`read_semicolon_csv`) to the row problems:
    each is quarantined with its reason, never loaded with a missing field read as empty."""
    short = frame.filter(pl.col(SHORT).is_not_null())
    raw.row_problems += [
        Problem(
            "short_row",
            f"the row has {n} fields, fewer than the header: a field is missing (deliver the row whole)",
            r,
        )
        for r, n in zip(short[ROW], short[SHORT], strict=True)
    ]
    return frame.filter(pl.col(SHORT).is_null()).drop(SHORT)
