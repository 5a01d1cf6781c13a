"""The national-identity-number guard.

The contract: if any field of a file holds an 11-digit Norwegian national identity
number or D-number with valid control digits, the whole file is refused as a privacy
incident, recorded with file, row and column, and the number itself is written nowhere.

Finding candidates is vectorised (a regex over every text column); only the few cells
that hold an 11-digit token are checked with `python-stdnum` (which validates the two
mod-11 control digits and the birth date, and understands D-numbers). A token must stand
alone (word boundaries), so a 64-character hex person key that happens to contain eleven
digits in a row is not mistaken for one.
"""
from __future__ import annotations

import re

import polars as pl
from stdnum.no import fodselsnummer

# 11 digits, optionally written as 6 + 5 with a space or dash.
CANDIDATE = r"\b\d{6}[ -]?\d{5}\b"
_candidate = re.compile(CANDIDATE)
_digits_11 = re.compile(r"\d{11}")


def is_national_id(token: str) -> bool:
    digits = re.sub(r"\D", "", token)
    return len(digits) == 11 and fodselsnummer.is_valid(digits)


def contains_national_id(text: str) -> bool:
    return any(is_national_id(m.group()) for m in _candidate.finditer(text))


def find_national_ids(frame: pl.DataFrame, row_column: str = "_row") -> list[tuple[int | None, str]]:
    """(row number, column) of every cell that holds a valid national id. Never the value."""
    hits: list[tuple[int | None, str]] = []
    for column in frame.columns:
        if column.startswith("_") or frame.schema[column] != pl.String:
            continue
        suspects = frame.filter(pl.col(column).str.contains(CANDIDATE))
        for row, value in zip(suspects[row_column], suspects[column]):
            if contains_national_id(value):
                hits.append((row, column))
    return hits


def redact(text: str) -> str:
    """Blank out any 11-digit run in a message before it is stored or logged."""
    return _digits_11.sub("[redacted]", _candidate.sub("[redacted]", text))
