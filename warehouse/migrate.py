"""Versioned migrations of the tables the loader owns (raw.*, audit.*, meta.*).

Why: the warehouse lives for years and is upgraded in place. The models (staging → dash)
are rebuilt by every load, but the raw tables and the books are kept from load to load,
so a change to them must be applied to warehouses that already exist, once, in order.

- A migration is `warehouse/migrations/NNNN_<what>.sql`; NNNN is its version. Once
  released, a migration is never edited: a change is the next number.
- `meta.schema_migrations` records each applied version (with the file's SHA-256 and the
  code version that applied it), so each runs exactly once per warehouse.
- Migrations run on the *candidate* (a copy of the published file, `warehouse.publish`),
  before staging: a migration that fails leaves the published warehouse untouched, the
  load ends as crashed and the candidate is kept in `failed/` to look at.
- Each migration runs in its own transaction with its record: it is applied whole or not
  at all.
- A warehouse migrated by a newer release (a version this code does not know) is
  refused rather than written by code that does not understand it.
- Bookkeeping inserts name their columns (flows/stage.py, flows/pipeline.py), so a column
  added by a migration never shifts a value into the wrong column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The warehouse could not be brought to this code's schema (nothing was published)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def migrations(folder: Path | None = None) -> list[Migration]:
    """The migrations shipped with this code (or in `folder`), by version."""
    root = resources.files("warehouse").joinpath("migrations") if folder is None else Path(folder)
    found = []
    for entry in root.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migrations share a version number")
    return found


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists meta")
    con.execute("""create table if not exists meta.schema_migrations (
        version integer primary key, name varchar not null, checksum varchar not null,
        applied_at timestamptz not null, code_version varchar)""")


def applied(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Versions applied to this warehouse (empty for one built before migrations)."""
    try:
        return [v for (v,) in con.execute("select version from meta.schema_migrations order by version").fetchall()]
    except duckdb.CatalogException:
        return []


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    versions = applied(con)
    return versions[-1] if versions else None


def migrate(con: duckdb.DuckDBPyConnection, folder: Path | None = None) -> list[int]:
    """Apply every migration this warehouse lacks, in order; returns the versions applied."""
    from warehouse.build import code_version

    known = migrations(folder)
    _ensure_table(con)
    done = set(applied(con))
    newest = max((m.version for m in known), default=0)
    if done and max(done) > newest:
        raise MigrationError(
            f"the warehouse has schema version {max(done)}, newer than this code knows "
            f"({newest}): run the newer release, or restore a build made by this one"
        )
    ran = []
    for m in known:
        if m.version in done:
            continue
        con.execute("begin transaction")
        try:
            con.execute(m.sql)
            con.execute(
                "insert into meta.schema_migrations (version, name, checksum, applied_at, code_version) "
                "values (?, ?, ?, ?, ?)",
                [m.version, m.name, m.checksum, dt.datetime.now(dt.UTC), code_version()],
            )
            con.execute("commit")
        except duckdb.Error as err:
            con.execute("rollback")
            # the type only: a database error's text may quote a stored value
            raise MigrationError(
                f"migration {m.version:04d}_{m.name} failed ({type(err).__name__}); nothing was published"
            ) from None
        ran.append(m.version)
    return ran
