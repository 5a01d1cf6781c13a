"""Make Great Expectations' SQL path work on DuckDB — the one place this is done.

The bug: GX opens a connection per metric query and closes it before fetching the
result; DuckDB then hands back nothing and every expectation fails with an IndexError in
`resolve_metric_bundle` (measured with great-expectations 1.24 and duckdb-engine 0.17;
see shared/notes.md). GX already keeps one persistent connection for the dialects listed
in the module-level tuple `_PERSISTED_CONNECTION_DIALECTS` (SQLite, SQL Server, ...);
adding `duckdb` there makes every result correct, and the SQL path is ~5x faster and
uses ~4x less memory than pulling tables into pandas.

A second quirk: GX drops the schema name when it reads column types of a *table* asset on
DuckDB, so the audits use *query* assets (`select * from marts.x`) instead.

`tests/test_audit.py` checks both directions: without the patch GX's results are wrong,
with it an expectation that must fail fails and one that must pass passes.
"""

from __future__ import annotations

from great_expectations.execution_engine import sqlalchemy_execution_engine as _engine


class _Dialect(str):
    """Quacks like GX's dialect enum where the tuple is read (`.value`, equality with str)."""

    @property
    def value(self) -> str:
        return str(self)


DUCKDB = _Dialect("duckdb")


def enable() -> None:
    if DUCKDB not in _engine._PERSISTED_CONNECTION_DIALECTS:
        # GX types the tuple as exactly its four GXSqlDialect members; adding one is the point
        _engine._PERSISTED_CONNECTION_DIALECTS = (  # type: ignore[assignment]
            *_engine._PERSISTED_CONNECTION_DIALECTS,
            DUCKDB,
        )


def disable() -> None:
    """Only for the test that shows why `enable` is needed."""
    _engine._PERSISTED_CONNECTION_DIALECTS = tuple(  # type: ignore[assignment]  # see enable
        d for d in _engine._PERSISTED_CONNECTION_DIALECTS if d is not DUCKDB
    )
