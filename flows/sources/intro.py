"""Introduction programme: `intro/intro_<municipality>_<YYYYMMDD>.csv`.

`;`-separated CSV in UTF-8 (with or without BOM) or Windows-1252, dates `dd.mm.yyyy`,
one row per event. Row numbers are line numbers in the file (the header is line 1).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl

from flows.sources.common import (
    FileNameError,
    Problem,
    RawFile,
    column_problem,
    decode_text,
    missing_columns,
    parse_dates,
    parse_year,
    parse_yyyymmdd,
    read_bytes,
    tidy_text,
    unreserved,
    with_row_numbers,
)
from schemas.privacy import decoded_fallback

NAME = "intro"
FOLDER = "intro"
FILE_NAME = re.compile(r"^intro_(?P<municipality>\d{4})_(?P<date>\d{8})\.csv$")
COLUMNS = [
    "deltaker_pid",
    "kommunenr",
    "hendelse",
    "dato",
    "kjonn",
    "fodselsaar",
    "landbakgrunn",
    "innvandringsgrunn",
    "detalj",
]
FREE_TEXT: list[str] = []
DATE_COLUMNS = ["dato"]


def file_meta(name: str) -> dict:
    m = FILE_NAME.match(name)
    if not m:
        raise FileNameError("file name must be intro_<municipality code>_<YYYYMMDD>.csv")
    return {"delivery_date": parse_yyyymmdd(m["date"]), "municipality_code": m["municipality"]}


def read(path: Path) -> RawFile:
    raw = RawFile(path, format="csv")
    data = read_bytes(path)
    try:
        text, raw.encoding = decode_text(data)
    except UnicodeError as err:
        raw.text = decoded_fallback(data)  # still shown to the privacy guard
        raw.file_problems.append(Problem("encoding", str(err)))
        return raw
    raw.text = text
    try:
        raw.meta = file_meta(path.name)
    except FileNameError as err:
        raw.file_problems.append(Problem("file_name", str(err)))
        return raw
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=";"), [])
    if problem := column_problem([unreserved(c.strip().lower()) for c in header], COLUMNS):
        raw.file_problems.append(problem)
        return raw
    try:
        frame = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False, quote_char='"')
    except Exception:
        raw.file_problems.append(
            Problem(
                "unreadable",
                "not a readable ;-separated CSV (rows with more fields than the header, or an unbalanced quote)",
            )
        )
        return raw
    names = [unreserved(c.strip().lower()) for c in frame.columns]
    if problem := column_problem(names, COLUMNS):  # e.g. quoted headers the first look did not split
        raw.file_problems.append(problem)
        return raw
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    if problem := missing_columns(frame, COLUMNS):
        raw.file_problems.append(problem)
    raw.frame = tidy_text(with_row_numbers(frame, first=2))
    return raw


def typed(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = parse_dates(frame, DATE_COLUMNS, ["%d.%m.%Y"])
    frame, year_problems = parse_year(frame, "fodselsaar")
    return frame, problems + year_problems
