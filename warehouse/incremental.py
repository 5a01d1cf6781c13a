"""The incremental build: rebuild only the persons a load changed, when nothing else changed.

Why: a load of one new 20-row file rebuilt every model from every raw row: at 300 000
persons about 30 of its 47 seconds (issue 13). Data staff re-running a corrected file and
the file-arrival trigger pay that many times a day; the nightly load hardly notices.

When. Only when the warehouse the candidate was copied from was built
- as of the same date (so the first load of each day, the nightly one, builds in full),
- with the same follow-up settings (the SQL reads them),
- by the same models and build code (a digest of the model files, this package's build
  code, the reference tables, the migrations and the versions of the libraries that
  compute the tables; `code_digest`), and
- with the same cell-key secret (every person's record key depends on it).
Anything else, a missing table, or `[build] incremental = false`
(`PATHWAYS_INCREMENTAL_BUILD=false` for one command) builds in full. The outcome and its reason are in the load's summary.

How.
1. `staging.stg_delivery` and staging models without persons are rebuilt whole (small).
2. A source's staging model (`-- source:` in its header) is rebuilt only when what it reads
   changed: a digest of every row of its raw tables and of its source's deliveries (their
   order, which list is newest). The new table is compared with the old one person by
   person (a digest of each person's rows); persons whose rows differ are *touched*.
   Comparing what staging decided, rather than predicting it from the new file, is what
   makes this safe: a file in the wrong order that changes which copy is first, a school's
   newer list that drops a pupil, a Trøndelag export that withdraws a case it does not list,
   a copy delivered again under another person: each shows up as changed rows, and none of
   those rules is repeated here.
3. The touched persons are closed over the staging models' `-- shared_key:` columns: the
   models read a Trøndelag-model case as a whole, so whoever shares a case with a touched
   person (before or after the load) is touched too.
4. Each `-- grain: person` model, in build order, deletes the touched persons' rows and
   inserts them again from its own SQL, which then reads only the touched persons' rows
   upstream (small copies of the same names in scratch schemas, `_touched_<layer>`). The other
   models are aggregates over everyone and cheap: they are rebuilt whole. The forecast
   fits again only the forecasts whose inputs changed (warehouse/forecast.py).
5. When nobody is touched, no source's staging changed, and the staging models without
   persons and the other tables the models read (`OTHER_INPUTS`: the file log) hold the
   rows the last build found, the aggregates and the forecast are kept as they are: every
   input is the same, as is the as-of date, so they would come out the same (≈ 1.5 s at
   300 000 persons for a load that brings nothing new).
6. The load then settles the books (`flows.stage.reconcile`) of the sources whose staging
   model changed only (`Outcome.to_settle`): another source's raw rows and deliveries are
   as the last build settled them (release 0.8.1).

The guard: tests/test_incremental.py builds the same deliveries incrementally and in full
and requires every table, and the books, to be identical (a hand-made case for each rule above, and
Hypothesis); tests/test_properties.py compares deliveries split across loads (now
incremental) with one load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import version

import duckdb

from warehouse import build as b
from warehouse import ensure_state_table, letters, only_row, rows_digest

SCRATCH = "_touched"  # the touched persons; their rows per layer in _touched_<layer>
# Tables besides the models that models read (marts.delivery_freshness reads the file log);
# the reference tables are part of `code_digest`.
OTHER_INPUTS = ("audit.file_log",)
_RAW = re.compile(r"\braw\.([a-z_][a-z0-9_]*)\b")
_WAREHOUSE_CODE = ("__init__.py", "build.py", "incremental.py", "forecast.py")
# libraries whose results the tables hold (a new version may compute differently)
_LIBRARIES = ("duckdb", "polars", "statsmodels", "scipy", "numpy")


@dataclass
class Outcome:
    """How a build went: in full (and why) or incrementally (and for how many persons)."""

    mode: str  # "full" | "incremental"
    reason: str = ""  # why the build was full
    persons: int = 0  # incremental: persons rebuilt
    sources: list[str] = field(default_factory=list)  # incremental: staging models that changed
    aggregates_kept: bool = False  # incremental: nothing changed, so nothing was rebuilt
    # the sources whose books (flows.stage.reconcile) may have moved: None = every source (a
    # full build, or a changed staging model that does not say which source it reads)
    to_settle: set[str] | None = None

    def describe(self) -> str:
        if self.mode == "full":
            return f"full ({self.reason})"
        changed = ", ".join(s.removeprefix("staging.") for s in self.sources) or "no source changed"
        kept = "; nothing else changed: aggregates kept" if self.aggregates_kept else ""
        return f"incremental ({self.persons} person{'' if self.persons == 1 else 's'}; {changed}{kept})"


def code_digest() -> str:
    """A digest of everything that decides what the models hold besides the data: the
    model files, the build code, the reference tables, the migrations, and the code that
    settles the books (flows/stage.py)."""
    root = resources.files("warehouse")
    digest = hashlib.sha256()
    entries = [(name, root.joinpath(name)) for name in _WAREHOUSE_CODE]
    for folder in [*(("models", layer) for layer in b.LAYERS), ("reference",), ("migrations",)]:
        base = root.joinpath(*folder)
        entries += [("/".join([*folder, e.name]), e) for e in base.iterdir() if e.name.endswith((".sql", ".csv"))]
    # the books' code: a source whose staging did not change keeps the books the last build
    # settled (step 6), so new settling code must reach every source in a full build
    entries.append(("flows/stage.py", resources.files("flows").joinpath("stage.py")))
    for name, entry in sorted(entries, key=lambda e: e[0]):
        digest.update(name.encode("utf-8") + b"\0" + entry.read_bytes() + b"\0")
    for library in _LIBRARIES:
        digest.update(f"{library}=={version(library)}\0".encode())
    return letters(digest.hexdigest())


_STATE_COLUMNS = ["as_of", "follow_up_days", "follow_up_wait_days", "code_digest", "key_digest"]


def key_digest(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of the cell-key secret the build used (`getvariable('cell_key_secret')`,
    set by `build.prepare`): a new secret changes every person's record key."""
    return letters(str(only_row(con.execute("select getvariable('cell_key_secret')").fetchall())[0]))


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    """What the next build compares itself with (kept from build to build with the file).
    A state table of another shape (an earlier release's) is replaced: the build is full."""
    ensure_state_table(
        con,
        "meta.build_state",
        dict(zip(_STATE_COLUMNS, ["date", "integer", "integer", "varchar", "varchar"], strict=True)),
    )
    con.execute("create table if not exists meta.build_fingerprint (model varchar, fingerprint varchar)")


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute(
        "select table_schema || '.' || table_name, list(column_name) from information_schema.columns group by all"
    ).fetchall()
    return {name: set(columns) for name, columns in rows}


def why_full(
    con: duckdb.DuckDBPyConnection, models: dict[str, b.Model], as_of: dt.date, follow_up: tuple[int, int]
) -> str | None:
    """The reason this build must be full, or None when it may be incremental."""
    state = con.execute(
        "select as_of, follow_up_days, follow_up_wait_days, code_digest, key_digest from meta.build_state"
    ).fetchall()
    if len(state) != 1:
        return "no earlier build to start from"
    built_as_of, *built_follow_up, digest, key = state[0]
    if built_as_of != as_of:
        return f"a new as-of date ({built_as_of} before)"
    if tuple(built_follow_up) != follow_up:
        return "the follow-up settings changed"
    if digest != code_digest():
        return "the models or the build code changed"
    if key != key_digest(con):  # every record key changes (dash.person_filter)
        return "the cell-key secret changed"
    tables = _tables(con)
    missing = [name for name in [*models, b.FORECAST] if name not in tables]
    if missing:
        return f"{missing[0]} is missing"
    for model in models.values():
        if model.grain != "person":
            continue
        for upstream in model.depends_on:
            if "person_id" not in tables[upstream] or (
                not upstream.startswith("staging.") and models[upstream].grain != "person"
            ):
                return f"{model.name} reads {upstream}, which is not kept per person"
    return None


def source_fingerprint(con: duckdb.DuckDBPyConnection, model: b.Model) -> str | None:
    """A digest of what a source's staging model reads: every row of its raw tables and its
    source's deliveries (None when the model does not say which source it reads)."""
    if not model.source:
        return None
    parts = []
    for raw in sorted(set(_RAW.findall(b.without_comments(model.sql)))):
        count, digest = rows_digest(con, f"raw.{raw}")
        parts.append(f"{raw}:{count}:{digest}")
    count, digest = rows_digest(con, "staging.stg_delivery", "where source = ?", [model.source])
    parts.append(f"deliveries:{count}:{digest}")
    return letters("|".join(parts))


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A digest of a (small) table's rows, as a multiset."""
    count, digest = rows_digest(con, table)
    return letters(f"{count}:{digest}")


def remember_other_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """Record `OTHER_INPUTS` as the published warehouse will hold them: the load settles its
    books in `audit.file_log` after the build (flows.stage.reconcile), and the next build
    compares with this. The models do not read what the books change: every load in
    tests/test_incremental.py compares the published models with a full build of the
    published (settled) warehouse."""
    con.executemany(
        "update meta.build_fingerprint set fingerprint = ? where model = ?",
        [(table_fingerprint(con, table), table) for table in OTHER_INPUTS],
    )


def _fingerprints(con: duckdb.DuckDBPyConnection, models: dict[str, b.Model]) -> dict[str, str]:
    found = {name: source_fingerprint(con, m) for name, m in models.items() if name.startswith("staging.")}
    tables = _tables(con)
    found |= {
        name: table_fingerprint(con, name)
        for name in models
        if name.startswith("staging.") and "person_id" not in tables.get(name, {"person_id"})
    }
    found |= {table: table_fingerprint(con, table) for table in OTHER_INPUTS}
    return {name: fp for name, fp in found.items() if fp is not None}


def _record(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    follow_up: tuple[int, int],
    fingerprints: dict[str, str],
) -> None:
    con.execute("delete from meta.build_state").fetchall()
    con.execute(
        "insert into meta.build_state (as_of, follow_up_days, follow_up_wait_days, code_digest, key_digest) "
        "values (?, ?, ?, ?, ?)",
        [as_of, *follow_up, code_digest(), key_digest(con)],
    ).fetchall()
    con.execute("delete from meta.build_fingerprint").fetchall()
    con.executemany(
        "insert into meta.build_fingerprint (model, fingerprint) values (?, ?)", sorted(fingerprints.items())
    )


def build(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    follow_up_days: int = b.FOLLOW_UP_DAYS,
    follow_up_wait_days: int = b.FOLLOW_UP_WAIT_DAYS,
    incremental: bool = True,
) -> Outcome:
    """Build incrementally when the warehouse allows it (see the module), else in full."""
    ensure_state(con)
    follow_up = (int(follow_up_days), int(follow_up_wait_days))
    models = b.prepare(con, as_of, *follow_up)
    reason = why_full(con, models, as_of, follow_up) if incremental else "incremental builds are switched off"
    if reason is not None:
        b.build(con, as_of, *follow_up)
        _record(con, as_of, follow_up, _fingerprints(con, models))
        return Outcome("full", reason)
    fingerprints: dict[str, str] = {}
    outcome = _build_touched(con, models, as_of, fingerprints)
    _record(con, as_of, follow_up, fingerprints)
    return outcome


def _build_touched(
    con: duckdb.DuckDBPyConnection, models: dict[str, b.Model], as_of: dt.date, fingerprints: dict[str, str]
) -> Outcome:
    """The incremental build proper; fills in `fingerprints` for the next build."""
    from warehouse import forecast

    before = dict(con.execute("select model, fingerprint from meta.build_fingerprint").fetchall())
    order = b.build_order(models)
    staging = [n for n in order if n.startswith("staging.")]
    rest = [n for n in order if not n.startswith("staging.")]  # staging reads no other layer
    outcome = Outcome("incremental", to_settle=set())
    stale = []  # what changed besides the persons' rows: the aggregates must be rebuilt
    _drop_scratch(con)
    con.execute(f"create schema {SCRATCH}")
    con.execute(f"create table {SCRATCH}.persons (person_id varchar)")
    try:
        tables = _tables(con)
        for name in staging:
            model = models[name]
            if "person_id" not in tables[name]:
                b.create(con, model)
                fingerprints[name] = table_fingerprint(con, name)
                if fingerprints[name] != before.get(name):
                    stale.append(name)
                continue
            if model.shared_key:  # who shared a key before this load
                _remember_shared(con, model)
            fingerprint = source_fingerprint(con, model)
            if fingerprint is not None:
                fingerprints[name] = fingerprint
            if fingerprint is None or fingerprint != before.get(name):
                _rebuild_and_compare(con, model)
                outcome.sources.append(name)
                if model.source and outcome.to_settle is not None:
                    outcome.to_settle.add(model.source)  # its raw rows or deliveries changed
                else:
                    outcome.to_settle = None
                if model.shared_key:  # ... and after it
                    _remember_shared(con, model)
        outcome.persons = _close_over_shared_keys(con, [models[n] for n in staging if models[n].shared_key])
        for table in OTHER_INPUTS:
            fingerprints[table] = table_fingerprint(con, table)
            if fingerprints[table] != before.get(table):
                stale.append(table)
        if not (outcome.persons or outcome.sources or stale):
            outcome.aggregates_kept = True  # every input as the last build found it
            return outcome
        _copy_touched_staging(con, models, tables)
        for name in rest:
            model = models[name]
            if model.grain != "person":
                b.create(con, model)
            elif outcome.persons:
                _rebuild_persons(con, model)
        forecast.build(con, as_of, reuse=True)
    finally:
        _drop_scratch(con)
    return outcome


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    for layer in b.LAYERS:
        con.execute(f"drop schema if exists {SCRATCH}_{layer} cascade")
    con.execute(f"drop schema if exists {SCRATCH} cascade")


def _person_digests(table: str) -> str:
    return f"select person_id, sum(hash(__row)) as digest from {table} as __row group by person_id"


def _rebuild_and_compare(con: duckdb.DuckDBPyConnection, model: b.Model) -> None:
    """Build the staging model anew beside the old one; the persons whose rows differ are
    touched, and only their rows are replaced in the old table. Why not the whole table:
    the load ends with a checkpoint, which writes every new table to the file (the whole
    of staging.stg_intro, ≈ 0.5 s at 300 000 persons, for a file of a few hundred), while
    the new table, dropped before it, is never written. Every staging model's person_id is
    not null (its key test), so each row belongs to a person that can be matched."""
    schema, table = model.name.split(".")
    fresh = f"{schema}.{table}__next"
    changed = f"{SCRATCH}.changed_{table}"
    b.create(con, model, fresh)
    if only_row(con.execute(f"select count(*) from {fresh} where person_id is null").fetchall())[0]:
        # a row of nobody cannot be matched by person: the whole table is replaced, as a full
        # build would, and its key test (person_id not null) refuses the build
        con.execute(f"insert into {SCRATCH}.persons select distinct person_id from {fresh} where person_id is not null")
        con.execute(f"drop table {model.name}")
        con.execute(f"alter table {fresh} rename to {table}")
        return
    con.execute(f"""
        create table {changed} as
        select person_id
        from ({_person_digests(model.name)}) old
        full join ({_person_digests(fresh)}) new using (person_id)
        where old.digest is distinct from new.digest""")
    con.execute(f"insert into {SCRATCH}.persons select person_id from {changed}").fetchall()
    con.execute(f"delete from {model.name} where person_id in (select person_id from {changed})").fetchall()
    con.execute(
        f"insert into {model.name} by name select * from {fresh} where person_id in (select person_id from {changed})"
    ).fetchall()
    con.execute(f"drop table {fresh}")


def _remember_shared(con: duckdb.DuckDBPyConnection, model: b.Model) -> None:
    keys = ", ".join(model.shared_key)
    shared = f"{SCRATCH}.shared_{model.name.split('.')[1]}"
    con.execute(f"create table if not exists {shared} as select {keys}, person_id from {model.name} limit 0")
    con.execute(f"insert into {shared} select distinct {keys}, person_id from {model.name}").fetchall()


def _close_over_shared_keys(con: duckdb.DuckDBPyConnection, sharing: list[b.Model]) -> int:
    """Add whoever shares a key with a touched person until nobody is added; returns the
    number of touched persons."""
    con.execute(f"create table {SCRATCH}.touched as select distinct person_id from {SCRATCH}.persons").fetchall()
    added = True
    while added:
        added = False
        for model in sharing:
            shared = f"{SCRATCH}.shared_{model.name.split('.')[1]}"
            on = " and ".join(f"s.{k} = k.{k}" for k in model.shared_key)  # a null key shares nothing
            keys = ", ".join(model.shared_key)
            inserted = only_row(
                con.execute(f"""
                insert into {SCRATCH}.touched
                select distinct s.person_id
                from {shared} s
                inner join (
                    select distinct {keys} from {shared}
                    where person_id in (select person_id from {SCRATCH}.touched)
                ) k on {on}
                where s.person_id not in (select person_id from {SCRATCH}.touched)""").fetchall()
            )[0]
            added = added or inserted > 0
    return only_row(con.execute(f"select count(*) from {SCRATCH}.touched").fetchall())[0]


def _copy_touched_staging(con: duckdb.DuckDBPyConnection, models: dict[str, b.Model], tables: dict) -> None:
    """`_touched_staging.<table>`: the touched persons' rows of each staging table with
    persons, copied once (several models read each; the copies are small)."""
    for layer in b.LAYERS:
        con.execute(f"create schema {SCRATCH}_{layer}")
    for name in models:
        if name.startswith("staging.") and "person_id" in tables.get(name, ()):
            con.execute(
                f"create table {SCRATCH}_{name} as select * from {name} "
                f"where person_id in (select person_id from {SCRATCH}.touched)"
            )


def _rebuild_persons(con: duckdb.DuckDBPyConnection, model: b.Model) -> None:
    """Replace the touched persons' rows with what the model's SQL gives for them alone:
    it reads the touched rows upstream (`_touched_<layer>.<table>`), and its own become
    `_touched_<layer>.<table>` for the models downstream."""
    scoped = b.REF.sub(lambda m: f"{SCRATCH}_{m.group(1)}.{m.group(2)}", model.sql)
    try:
        con.execute(f"create table {SCRATCH}_{model.name} as select * from (\n{scoped}\n)")
        con.execute(f"delete from {model.name} where person_id in (select person_id from {SCRATCH}.touched)").fetchall()
        con.execute(f"insert into {model.name} select * from {SCRATCH}_{model.name}").fetchall()
    except duckdb.Error as err:
        raise RuntimeError(f"model {model.name} failed to build for the touched persons: {err}") from err
