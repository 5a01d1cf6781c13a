"""Adult education: `adult_education/vo_<YYYYMMDDTHHMMSS>.jsonl`.

UTF-8 JSON Lines, one event per line. A line that is not a JSON object is a row
problem (the other lines load); row numbers are line numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl

from flows.sources.common import (
    ROW,
    FileNameError,
    Problem,
    RawFile,
    json_text,
    missing_columns,
    parse_dates,
    read_bytes,
    tidy_text,
)
from schemas.privacy import decoded_fallback

NAME = "adult_education"
FOLDER = "adult_education"
FILE_NAME = re.compile(r"^vo_(?P<stamp>\d{8}T\d{6})\.jsonl$")
COLUMNS = ["event_id", "pid", "event", "date", "level", "programme", "school_orgnr", "municipality", "result"]
REQUIRED = [c for c in COLUMNS if c not in ("programme", "result")]
FREE_TEXT: list[str] = []
DATE_COLUMNS = ["date"]


def file_meta(name: str) -> dict:
    m = FILE_NAME.match(name)
    if not m:
        raise FileNameError("file name must be vo_<YYYYMMDDTHHMMSS>.jsonl")
    try:
        exported = dt.datetime.strptime(m["stamp"], "%Y%m%dT%H%M%S")
    except ValueError as err:
        raise FileNameError("the time stamp in the file name is not a real date and time") from err
    return {"delivery_date": exported.date(), "exported_at": exported}


def read(path: Path) -> RawFile:
    raw = RawFile(path, format="jsonl")
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raw.text = decoded_fallback(data)  # still shown to the privacy guard
        raw.file_problems.append(
            Problem("encoding", f"JSON Lines must be UTF-8: undecodable byte at offset {err.start}")
        )
        return raw
    raw.text = text
    try:
        raw.meta = file_meta(path.name)
    except FileNameError as err:
        raw.file_problems.append(Problem("file_name", str(err)))
        return raw
    raw.encoding = "utf-8"
    records: list[dict] = []
    rows: list[int] = []
    present: set[str] = set()
    # Numbers stay text: a 5 000-digit "number" is a bad value, not a crash. One decoder per
    # file: `json.loads(line, parse_int=str)` builds a new one for every line, which was half
    # of the parsing (3.7 → 2.0 s for the 906 665 lines of a 300 000-person county).
    decoder = json.JSONDecoder(parse_int=str)
    # "\n" only (as JSON Lines defines, and as the privacy guard numbers lines): splitlines()
    # would also break a line at a U+2028 inside a JSON string
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = decoder.decode(line)
        except json.JSONDecodeError as err:  # its message is fixed text, but the position is all we keep
            raw.row_problems.append(
                Problem("json_syntax", f"line is not valid JSON (syntax error at column {err.colno})", number)
            )
            continue
        except RecursionError:
            raw.row_problems.append(Problem("json_syntax", "line is nested too deeply to be read", number))
            continue
        if not isinstance(obj, dict):
            raw.row_problems.append(Problem("json_syntax", "line is not a JSON object", number))
            continue
        # Only the contract's fields become columns (unknown keys were seen by the guard in
        # the text): a file with a new key on every line stays linear, not lines × keys.
        present.update(k for k in COLUMNS if k in obj)
        records.append({k: json_text(obj.get(k)) for k in COLUMNS})
        rows.append(number)
    schema = dict.fromkeys(COLUMNS, pl.String)
    frame = pl.DataFrame(records, schema=schema) if records else pl.DataFrame(schema=schema)
    frame = frame.with_columns(pl.Series(ROW, rows, dtype=pl.Int64))
    if records and (problem := missing_columns(frame.select(sorted(present)), REQUIRED)):
        raw.file_problems.append(problem)
    raw.frame = tidy_text(frame)
    return raw


def typed(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    return parse_dates(frame, DATE_COLUMNS, ["%Y-%m-%d"])
