"""Settlement plans: `settlement_plan/bosetting_<YYYYMMDD>.csv` (source contract §5).

IMDi's requests (`anmodet`) and the municipal councils' decisions (`vedtatt`) per
municipality and year: no person data, but the privacy guard still reads the whole file
(a national id typed into a cell refuses it like any other source). UTF-8 with or
without BOM, `;`, one header row, columns in any order; `herav_ema` may be left out.
Row numbers are line numbers in the file (the header is line 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from flows.sources.common import (
    ROW,
    FileNameError,
    Problem,
    RawFile,
    parse_yyyymmdd,
    read_semicolon_csv,
    set_aside_short_rows,
    tidy_text,
    with_row_numbers,
)
from schemas.privacy import describe

NAME = "settlement_plan"
FOLDER = "settlement_plan"
FILE_NAME = re.compile(r"^bosetting_(?P<date>\d{8})\.csv$")
COLUMNS = ["kommunenr", "aar", "anmodet", "vedtatt", "herav_ema"]
REQUIRED = ["kommunenr", "aar", "anmodet", "vedtatt"]  # herav_ema is optional (contract)
FREE_TEXT: list[str] = []
INTEGER_COLUMNS = ["aar", "anmodet", "vedtatt", "herav_ema"]


def file_meta(name: str) -> dict:
    m = FILE_NAME.match(name)
    if not m:
        raise FileNameError("file name must be bosetting_<YYYYMMDD>.csv")
    return {"delivery_date": parse_yyyymmdd(m["date"])}


def _decode(data: bytes) -> tuple[str, str]:
    """UTF-8 only (the contract says so), with or without BOM. A Windows-1252 file is
    refused with a reason rather than guessed: the plans are few and easily re-exported."""
    if b"\x00" in data:
        raise UnicodeError("the file contains NUL bytes: it is not UTF-8 text (UTF-16?)")
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as err:
        raise UnicodeError(f"the file is not UTF-8 (undecodable byte at offset {err.start})") from None


def read(path: Path) -> RawFile:
    raw, frame = read_semicolon_csv(path, _decode, file_meta, COLUMNS, REQUIRED)
    if frame is not None:
        frame = set_aside_short_rows(raw, with_row_numbers(frame, first=2))
        if "herav_ema" not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("herav_ema"))
        raw.frame = tidy_text(frame)
    return raw


def typed(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    """Whole numbers as integers; a value that is not one (`12,5`, `tolv`) is a row problem.
    A minus sign is read (so `-3` reaches the schema's rule "≥ 0" with its own message)."""
    problems: list[Problem] = []
    parsed = []
    for column in INTEGER_COLUMNS:
        text = pl.col(column)
        expr = pl.when(text.str.contains(r"^-?\d{1,9}$")).then(text.cast(pl.Int32, strict=False))
        bad = frame.filter(text.is_not_null() & expr.is_null())
        problems += [
            Problem("integer_format", f"{column}: not a whole number: {describe(v)}", r, column)
            for r, v in zip(bad[ROW], bad[column], strict=True)
        ]
        parsed.append(expr.alias(column))
    return frame.with_columns(parsed), problems
