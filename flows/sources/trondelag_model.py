"""The Trøndelag model: `trondelag_model/tm_<YYYYMMDD>.json`.

One UTF-8 JSON document `{"exported_at": ..., "cases": [{..., "events": [...]}]}`. It is
flattened to one row per event carrying its case's fields; row numbers count events in
document order (1 = the first event of the first case), and messages name the case id.
A document that does not parse (e.g. truncated) is a file problem: nothing can be trusted.
Unknown fields are not read into the frame; the privacy guard sees them in the text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl

from flows.sources.common import (
    FileNameError,
    Problem,
    RawFile,
    json_text,
    parse_dates,
    parse_yyyymmdd,
    read_bytes,
    tidy_text,
    with_row_numbers,
)
from schemas.privacy import decoded_fallback

NAME = "trondelag_model"
FOLDER = "trondelag_model"
FILE_NAME = re.compile(r"^tm_(?P<date>\d{8})\.json$")
CASE_FIELDS = ["case_id", "pid", "nav_office", "mobilised_by"]
EVENT_FIELDS = ["type", "date", "trade", "sector", "reason"]
# case_index: the position of the case in the document, so that a case id occurring
# twice in one export can be told apart from two events of one case.
COLUMNS = CASE_FIELDS + ["case_index", "event_index"] + EVENT_FIELDS
FREE_TEXT: list[str] = []
DATE_COLUMNS = ["date"]


def file_meta(name: str) -> dict:
    m = FILE_NAME.match(name)
    if not m:
        raise FileNameError("file name must be tm_<YYYYMMDD>.json")
    return {"delivery_date": parse_yyyymmdd(m["date"])}


def read(path: Path) -> RawFile:
    raw = RawFile(path, format="json")
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raw.text = decoded_fallback(data)  # still shown to the privacy guard
        raw.file_problems.append(
            Problem("encoding", f"the JSON document must be UTF-8: undecodable byte at offset {err.start}")
        )
        return raw
    raw.text = text
    try:
        raw.meta = file_meta(path.name)
        # numbers stay text: a 5 000-digit "number" is a bad value, not a crash
        doc = json.loads(text, parse_int=str)
    except FileNameError as err:
        raw.file_problems.append(Problem("file_name", str(err)))
        return raw
    except json.JSONDecodeError as err:
        raw.file_problems.append(
            Problem(
                "unreadable", f"not a complete JSON document (syntax error at line {err.lineno}, column {err.colno})"
            )
        )
        return raw
    except RecursionError:
        raw.file_problems.append(Problem("too_deep", "the document is nested too deeply to be read"))
        return raw
    raw.encoding = "utf-8"
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raw.file_problems.append(Problem("missing_columns", "the document must be an object with a list 'cases'"))
        return raw
    try:
        exported_at = dt.datetime.fromisoformat(str(doc.get("exported_at")))
    except ValueError:
        raw.file_problems.append(Problem("missing_columns", "'exported_at' is missing or not an ISO date-time"))
        return raw
    raw.meta["exported_at"] = exported_at
    try:
        records = _flatten(doc["cases"])
    except RecursionError:  # a value nested too deeply to be turned into text
        raw.file_problems.append(Problem("too_deep", "the document is nested too deeply to be read"))
        return raw
    schema = dict.fromkeys(COLUMNS, pl.String)
    frame = pl.DataFrame(records, schema=schema) if records else pl.DataFrame(schema=schema)
    raw.frame = tidy_text(with_row_numbers(frame, first=1))
    return raw


def _flatten(cases: list) -> list[dict]:
    """One record per event with its case's fields. Only the contract's fields become
    columns (unknown ones were seen by the privacy guard in the text)."""
    records: list[dict] = []
    for case_index, case in enumerate(cases):
        case = case if isinstance(case, dict) else {}
        base = {k: json_text(case.get(k)) for k in CASE_FIELDS}
        events = case.get("events") if isinstance(case.get("events"), list) else []
        # A case without events still counts as one (invalid) row, so it is quarantined, not lost.
        for index, event in enumerate(events or [{}]):
            event = event if isinstance(event, dict) else {"type": json_text(event)}
            records.append(
                {
                    **base,
                    "case_index": str(case_index),
                    "event_index": str(index),
                    **{k: json_text(event.get(k)) for k in EVENT_FIELDS},
                }
            )
    return records


def typed(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = parse_dates(frame, DATE_COLUMNS, ["%Y-%m-%d"])
    return frame.with_columns(pl.col("case_index").cast(pl.Int32), pl.col("event_index").cast(pl.Int32)), problems
