"""The DuckDB warehouse: SQL models in layers, the runner that builds them, write–audit–publish."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

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


def rows_digest(
    con: duckdb.DuckDBPyConnection, table: str, where: str = "", params: list | None = None
) -> tuple[int, str]:
    """A table's rows as a multiset: its row count and the sum of its rows' 64-bit hashes (a
    sum, not an XOR: two copies of a row do not cancel out). The alias is one no column has:
    with `t`, a column named t would be hashed instead of the row."""
    count, digest = only_row(
        con.execute(
            f"select count(*), sum(hash(__row))::varchar from {table} as __row {where}", params or []
        ).fetchall()
    )
    return count, str(digest)


def ensure_state_table(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> None:
    """Create a `meta` state table kept from build to build; one of another shape (an
    earlier release's) is dropped first, so its caller starts afresh."""
    schema, name = table.split(".")
    con.execute(f"create schema if not exists {schema}")
    found = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]
    if found and found != list(columns):
        con.execute(f"drop table {table}")
    con.execute(f"create table if not exists {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
