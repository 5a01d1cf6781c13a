"""Combination classes: `combination_classes/kombinasjon_<orgnr>_<YYYY-YYYY>_<YYYYMMDD>.xlsx`.

Excel workbook, sheet `Elever`, header in row 1, one row per pupil for the school year.
Every column is read as text: calamine infers types from the first rows and would turn
later *text* dates (`dd.mm.yyyy`, typed by some schools) into nulls without a word. Real
date cells arrive as `yyyy-mm-dd 00:00:00`; both forms are parsed. Row numbers are the
spreadsheet's row numbers. `Merknad` is free text: scanned by the privacy guard, then dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from flows.sources.common import (
    MAX_COLUMNS,
    FileNameError,
    Problem,
    RawFile,
    column_problem,
    missing_columns,
    parse_dates,
    parse_year,
    parse_yyyymmdd,
    tidy_text,
    unreserved,
    with_row_numbers,
)
from schemas.checks import orgnr_valid

NAME = "combination_classes"
FOLDER = "combination_classes"
FILE_NAME = re.compile(r"^kombinasjon_(?P<orgnr>\d{9})_(?P<y1>\d{4})-(?P<y2>\d{4})_(?P<date>\d{8})\.xlsx$")
SHEET = "Elever"
HEADERS = {  # header in the workbook -> column name in the pipeline
    "Elev-pid": "elev_pid",
    "Kjønn": "kjonn",
    "Fødselsår": "fodselsaar",
    "Bostedskommune": "bostedskommune",
    "Søknadsdato": "soknadsdato",
    "Startdato": "startdato",
    "Sluttdato": "sluttdato",
    "Status": "status",
    "Merknad": "merknad",
}
COLUMNS = [c for c in HEADERS.values() if c != "merknad"]
FREE_TEXT = ["merknad"]
DATE_COLUMNS = ["soknadsdato", "startdato", "sluttdato"]
DATE_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d.%m.%Y"]


def file_meta(name: str) -> dict:
    m = FILE_NAME.match(name)
    if not m:
        raise FileNameError("file name must be kombinasjon_<school orgnr>_<YYYY-YYYY>_<YYYYMMDD>.xlsx")
    if int(m["y2"]) != int(m["y1"]) + 1:
        raise FileNameError("the school year in the file name is not two consecutive years")
    if not pl.select(orgnr_valid(pl.lit(m["orgnr"]))).item():
        raise FileNameError(
            "the school orgnr in the file name is not a valid organisation number (mod-11 control digit)"
        )
    return {
        "delivery_date": parse_yyyymmdd(m["date"]),
        "school_orgnr": m["orgnr"],
        "school_year": f"{m['y1']}-{m['y2']}",
    }


def _original(column: str, columns: set[str]) -> str:
    base, _, suffix = column.rpartition("_")
    return base if suffix.isdigit() and base in columns else column


def read(path: Path) -> RawFile:
    # The privacy guard reads every other sheet and every sheet name of `path` itself.
    raw = RawFile(path, format="xlsx")
    try:
        raw.meta = file_meta(path.name)
    except FileNameError as err:
        raw.file_problems.append(Problem("file_name", str(err)))
        return raw
    try:
        frame = pl.read_excel(path, sheet_name=SHEET, engine="calamine", infer_schema_length=0)
    except Exception:
        raw.file_problems.append(Problem("unreadable", f"not a readable workbook with a sheet '{SHEET}'"))
        return raw
    if len(frame.columns) > MAX_COLUMNS:
        raw.file_problems.append(
            Problem(
                "too_many_columns", f"the file has {len(frame.columns)} columns; at most {MAX_COLUMNS} are accepted"
            )
        )
        return raw
    # fastexcel renames a repeated header `Status` to `Status_1`: undo that to see the repeat
    delivered = set(frame.columns)
    names = [
        unreserved(HEADERS.get(_original(c, delivered).strip(), _original(c, delivered).strip())) for c in frame.columns
    ]
    if problem := column_problem(names, list(HEADERS.values())):
        raw.file_problems.append(problem)
        return raw
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    frame = frame.with_columns(pl.col(c).cast(pl.String) for c in frame.columns)
    if problem := missing_columns(frame, COLUMNS):
        raw.file_problems.append(problem)
    raw.encoding = "xlsx"
    raw.frame = tidy_text(with_row_numbers(frame, first=2))
    return raw


def typed(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = parse_dates(frame, DATE_COLUMNS, DATE_FORMATS)
    frame, year_problems = parse_year(frame, "fodselsaar")
    return frame, problems + year_problems
