"""Audit only what changed: a suite whose table is identical to the one a published build
audited, under the same expectations, is carried rather than run again (issue 13).

Great Expectations costs ≈ 30 ms of Python per expectation, whatever the table's size:
≈ 3–4 s for the ≈ 100 expectations of a build, most of a load that brings nothing new
(a re-run, the file-arrival trigger on a file that was already there). Every expectation
in `warehouse.audit` reads its own table only and none depends on the order of rows, so
its result is a function of three things, and the suite's *audit key* is a digest of them:

- the table's content as a multiset of rows: its columns and types, its row count and
  the sum of its rows' 64-bit hashes (a sum, not an XOR: two copies of a row do not
  cancel out);
- the suite's expectations with every parameter (the as-of date, …); the row-count
  guard by its outcome (`_what_decides`);
- the audit's own code and the libraries that evaluate it (`audit.py`, the DuckDB patch,
  Great Expectations, DuckDB, duckdb-engine, SQLAlchemy).

The key also holds the as-of date: results are carried only between loads of one day. The
first load of each day (the nightly one, which also builds in full) audits every suite.
That bounds what a fingerprint cannot rule out: DuckDB's hash is fast, not cryptographic,
and a source that crafted a row to collide with the row it replaces could have a suite
carried over a table a full audit would refuse (a review built such a pair: rows that
passed no row rule of ours, in a table of two integers). A cryptographic digest of every
row (md5) cost 5 s at 300 000 persons, more than the audit it would spare.

`meta.audit_state` in the warehouse records, per suite, the key that passed, the build
that ran it and the build whose Data Docs page shows it. The candidate is a copy of the
published warehouse, so the state it starts from is the published build's. A carried
suite's page is copied into this build's folder with a line saying where it comes from,
so every build keeps a page per suite (the dashboard lists them by build); when that page
is gone (pruned, or a restored old build), the suite simply runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

import duckdb

from warehouse import ensure_state_table, rows_digest

_CODE = ("audit.py", "audit_state.py", "gx_duckdb.py", "gx_docs.py", "gx_templates.py")
_LIBRARIES = ("great_expectations", "duckdb", "duckdb_engine", "sqlalchemy")
_COLUMNS = ["suite", "audit_key", "audited_build_id", "page_build_id"]
BANNER_MARK = "data-pathways-carried"
_BANNER = re.compile(rf"<div {BANNER_MARK}[^>]*>.*?</div>", re.S)


@dataclass(frozen=True)
class SuiteState:
    audit_key: str
    audited_build_id: str  # the build whose audit ran these expectations on this content
    page_build_id: str  # the build whose Data Docs folder holds its page


@cache
def code_digest() -> str:
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _CODE:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    for library in _LIBRARIES:
        digest.update(f"{library}=={version(library)}\0".encode())
    return digest.hexdigest()


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, int]:
    """Columns, types and the multiset of rows of `table` (≈ 0.2 s for 1.9 M rows), and
    its row count."""
    schema, name = table.split(".")
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    count, digest = rows_digest(con, table)
    return json.dumps([columns, count, digest]), count


def _what_decides(expectation, rows: int) -> list:
    """An expectation (`warehouse.audit.Expect`) as far as its result depends on it. The
    row-count guard's minimum moves with every build that changes the published counts;
    its result is the count (in the fingerprint) against its bounds, so it is keyed by
    that outcome: a table that did not change is not audited again only because the
    build before it changed another count."""
    if expectation.kind == "ExpectTableRowCountToBeBetween":
        low, high = expectation.kwargs.get("min_value"), expectation.kwargs.get("max_value")
        return [expectation.kind, {"within": (low is None or rows >= low) and (high is None or rows <= high)}]
    return [expectation.kind, expectation.kwargs]


def audit_key(con: duckdb.DuckDBPyConnection, table: str, expectations: list, as_of: dt.date) -> str:
    """The digest a suite's result is a function of (see the module), and the as-of date."""
    fingerprint, rows = table_fingerprint(con, table)
    configs = [_what_decides(e, rows) for e in expectations]
    text = json.dumps([code_digest(), as_of.isoformat(), table, fingerprint, configs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """The state table (one of another shape, an earlier release's, is replaced: every suite runs)."""
    ensure_state_table(con, "meta.audit_state", dict.fromkeys(_COLUMNS, "varchar"))


def read(con: duckdb.DuckDBPyConnection) -> dict[str, SuiteState]:
    rows = con.execute(f"select {', '.join(_COLUMNS)} from meta.audit_state").fetchall()
    return {suite: SuiteState(*rest) for suite, *rest in rows}


def write(con: duckdb.DuckDBPyConnection, states: dict[str, SuiteState]) -> None:
    """Replace the state with this build's: only suites that passed (or were carried)."""
    con.execute("delete from meta.audit_state").fetchall()
    con.executemany(
        "insert into meta.audit_state values (?, ?, ?, ?)",
        [(suite, s.audit_key, s.audited_build_id, s.page_build_id) for suite, s in sorted(states.items())],
    )


def page_folder(docs_dir: Path, suite: str, build_id: str) -> Path:
    return docs_dir / "validations" / suite / build_id


def has_page(docs_dir: Path, suite: str, build_id: str) -> bool:
    return any(page_folder(docs_dir, suite, build_id).glob("*/*.html"))


def copy_page(docs_dir: Path, suite: str, state: SuiteState, build_id: str) -> None:
    """The page of the build that ran the suite, copied into this build's folder, with a
    line at the top saying so (GX's page still names the build that ran it)."""
    source = page_folder(docs_dir, suite, state.page_build_id)
    target = page_folder(docs_dir, suite, build_id)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    os.utime(target)  # copytree keeps the source's time, by which prune_reports would age this build
    banner = (
        f'<div {BANNER_MARK} style="padding:8px 16px;background:#fff3cd;border-bottom:1px solid #e0c97a">'
        f"Carried into build {build_id}: this table is identical to the one build "
        f"{state.audited_build_id} audited with the same expectations, so these are that audit's "
        f"results (not run again).</div>"
    )
    for html in target.glob("*/*.html"):
        text = _BANNER.sub("", html.read_text("utf-8", errors="replace"))  # a page carried before has one
        at = text.find(">", text.find("<body")) + 1 if "<body" in text else 0
        html.write_text(text[:at] + banner + text[at:], "utf-8")
