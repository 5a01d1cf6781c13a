"""The DuckDB warehouse: SQL models in layers, the runner that builds them, write–audit–publish."""

from __future__ import annotations

import hashlib
from typing import Any

# The stages of the pathway in their order (the warehouse contract's list): the audits check
# the published tables against it and the dashboard orders its figures by it.
STAGES = (
    "settlement",
    "intro",
    "norwegian",
    "primary",
    "combination",
    "upper_secondary",
    "work_training",
    "apprenticeship",
    "trade_certificate",
    "work",
)


def one_row(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    """A DuckDB `fetchone()` row that cannot be missing: an aggregate without `group by`
    (count, max, sum) always returns exactly one row."""
    assert row is not None, "an aggregate query returned no row"
    return row


def only_row(rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The single row of a `fetchall()`: unlike `fetchone()`, reading the whole result
    finishes it, and this DuckDB refuses a relation query (`con.sql`) on a connection
    whose previous result is still open."""
    assert len(rows) == 1, f"expected one row, got {len(rows)}"
    return rows[0]


_AS_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def letters(text: str) -> str:
    """A SHA-256 digest of `text` in letters only (hexadecimal with g–p for the digits):
    a run of digits kept in the warehouse could be mistaken for an identity number by a
    scan."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest().translate(_AS_LETTERS)
