"""Introduction programme: `intro/intro_<municipality>_<YYYYMMDD>.csv`.

`;`-separated CSV in UTF-8 (with or without BOM) or Windows-1252, dates `dd.mm.yyyy`,
one row per event. Row numbers are line numbers in the file (the header is line 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from flows.sources.common import (
    FileNameError,
    Problem,
    RawFile,
    decode_text,
    parse_dates,
    parse_year,
    parse_yyyymmdd,
    read_semicolon_csv,
    set_aside_short_rows,
    tidy_text,
    with_row_numbers,
)

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
    raw, frame = read_semicolon_csv(path, decode_text, file_meta, COLUMNS, COLUMNS)
    if frame is not None:
        raw.frame = tidy_text(set_aside_short_rows(raw, with_row_numbers(frame, first=2)))
    return raw


def typed(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    frame, problems = parse_dates(frame, DATE_COLUMNS, ["%d.%m.%Y"])
    frame, year_problems = parse_year(frame, "fodselsaar")
    return frame, problems + year_problems
