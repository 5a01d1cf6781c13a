"""Build the SQL models in dependency order, inside DuckDB, and run their key tests.

A model is one `.sql` file under `models/<layer>/` holding one SELECT; the file name is
the table name and the folder its schema (`models/marts/funnel.sql` → `marts.funnel`).
Its header says what it is and which checks its keys must pass:

    -- description: One row per ...
    -- unique: person_id, stage, start_date
    -- not_null: person_id, stage

Three more header lines tell the incremental build (warehouse/incremental.py) what it may
rely on; a model without them is rebuilt whole:

    -- grain: person        one person's rows depend only on that person's rows upstream
    -- source: intro        (staging) the model reads this source's raw tables and deliveries
    -- shared_key: case_id  (staging) downstream models read rows with one case_id together,
                            whoever's they are

Dependencies are read from the SQL itself (`staging.x`, `core.x`, `marts.x`), so the order
is never written down twice. The reference date of the build is the DuckDB variable
`as_of` (`getvariable('as_of')` in SQL); the follow-up list's thresholds are the variables
`follow_up_days` and `follow_up_wait_days` (settings of the same names). The secret of the
dashboard's cell-key method is the variable `cell_key_secret` (see `ensure_cell_key_secret`).
One published table is built in Python after the SQL models: `marts.school_place_forecast`
(warehouse/forecast.py), because its prediction interval comes from a statistics library.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from importlib import resources

import duckdb

from warehouse import one_row

LAYERS = ("staging", "core", "marts", "dash")  # dash: serving tables for the dashboard
REF = re.compile(r"\b(staging|core|marts|dash)\.([a-z_][a-z0-9_]*)\b")


@dataclass
class Model:
    name: str  # schema.table
    sql: str
    description: str = ""
    unique: list[str] = field(default_factory=list)
    not_null: list[str] = field(default_factory=list)
    depends_on: set[str] = field(default_factory=set)
    grain: str = ""  # "person": rebuilt per person by the incremental build
    source: str = ""  # staging: the source whose raw tables and deliveries it reads
    shared_key: list[str] = field(default_factory=list)  # staging: read together across persons


def _header(sql: str, key: str) -> str:
    m = re.search(rf"^--\s*{key}:\s*(.+)$", sql, flags=re.MULTILINE)
    return m.group(1).strip() if m else ""


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def without_comments(sql: str) -> str:
    """The SQL without its `--` comments (where the headers and prose name other tables)."""
    return re.sub(r"--.*$", "", sql, flags=re.MULTILINE)


def load_models() -> dict[str, Model]:
    root = resources.files("warehouse").joinpath("models")
    models: dict[str, Model] = {}
    for layer in LAYERS:
        folder = root.joinpath(layer)
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".sql"):
                continue
            sql = entry.read_text("utf-8")
            name = f"{layer}.{entry.name[:-4]}"
            models[name] = Model(
                name,
                sql,
                _header(sql, "description"),
                _columns(_header(sql, "unique")),
                _columns(_header(sql, "not_null")),
                grain=_header(sql, "grain"),
                source=_header(sql, "source"),
                shared_key=_columns(_header(sql, "shared_key")),
            )
    for model in models.values():
        model.depends_on = {f"{s}.{t}" for s, t in REF.findall(without_comments(model.sql))} & set(models) - {
            model.name
        }
    return models


def build_order(models: dict[str, Model]) -> list[str]:
    return list(TopologicalSorter({n: m.depends_on for n, m in models.items()}).static_order())


REFERENCE_TABLES = {  # reference.<table> <- warehouse/reference/<file>
    "municipality": "municipalities.csv",
    "school": "schools.csv",
}


def load_reference(con: duckdb.DuckDBPyConnection) -> None:
    """Names of municipalities (2024 structure, regions) and schools, for readers of the marts.

    The school register shipped here is the synthetic county's; a county replaces
    `warehouse/reference/schools.csv` with its own (same columns)."""
    con.execute("create schema if not exists reference")
    for table, file_name in REFERENCE_TABLES.items():
        with resources.as_file(resources.files("warehouse").joinpath("reference", file_name)) as path:
            con.execute(
                f"create or replace table reference.{table} as "
                f"select * from read_csv(?, header = true, all_varchar = true)",
                [str(path)],
            )


def ensure_cell_key_secret(con: duckdb.DuckDBPyConnection) -> None:
    """The secret behind each person's record key (dash.person_filter.record_key), which the
    dashboard's disclosure control (cell-key method, dashboard/disclosure.py) sums per cell.

    Created once, at random, in `meta.cell_key_secret`, and kept from build to build (a
    candidate starts as a copy of the published warehouse), so a person keeps the same
    record key and the same group of persons is published with the same value in every
    build. Only letters, so no scan for identity numbers can mistake it for one. It is
    never shown: whoever can read it can read the person-level tables beside it anyway."""
    con.execute("create schema if not exists meta")
    con.execute("create table if not exists meta.cell_key_secret (secret varchar not null, created_at timestamp)")
    row = con.execute("select secret from meta.cell_key_secret order by created_at limit 1").fetchone()
    if row is None:
        secret = "".join(secrets.choice(string.ascii_letters) for _ in range(48))
        con.execute("insert into meta.cell_key_secret (secret, created_at) values (?, now()::timestamp)", [secret])
    else:
        secret = row[0]
    con.execute("set variable cell_key_secret = ?", [secret])


FORECAST = "marts.school_place_forecast"  # built in Python (warehouse/forecast.py)
FOLLOW_UP_DAYS = 60  # defaults of the settings follow_up_days, follow_up_wait_days
FOLLOW_UP_WAIT_DAYS = 90


def prepare(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    follow_up_days: int = FOLLOW_UP_DAYS,
    follow_up_wait_days: int = FOLLOW_UP_WAIT_DAYS,
) -> dict[str, Model]:
    """Reference tables, the build's variables and the cell-key secret: what every model
    may read besides other models. Returns the models."""
    load_reference(con)
    con.execute("set variable as_of = ?::date", [as_of])
    con.execute("set variable follow_up_days = ?::integer", [int(follow_up_days)])
    con.execute("set variable follow_up_wait_days = ?::integer", [int(follow_up_wait_days)])
    ensure_cell_key_secret(con)
    return load_models()


def create(con: duckdb.DuckDBPyConnection, model: Model, name: str | None = None) -> None:
    """(Re)create one model's table whole (as `name` when given)."""
    con.execute(f"create schema if not exists {model.name.split('.')[0]}")
    try:
        con.execute(f"create or replace table {name or model.name} as\n{model.sql}")
    except duckdb.Error as err:
        raise RuntimeError(f"model {model.name} failed to build: {err}") from err


def build(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    follow_up_days: int = FOLLOW_UP_DAYS,
    follow_up_wait_days: int = FOLLOW_UP_WAIT_DAYS,
) -> list[str]:
    """(Re)build every model as a table; returns the names in build order."""
    models = prepare(con, as_of, follow_up_days, follow_up_wait_days)
    order = build_order(models)
    for name in order:
        create(con, models[name])
    # The one model that is not SQL: its prediction interval comes from statsmodels.
    from warehouse import forecast

    forecast.build(con, as_of)
    return [*order, FORECAST]


def test_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Run each model's key tests; returns readable failures (empty when all pass).

    One scan per model: its row count, the number of distinct hashes of its key and a null
    count per not-null column. Equal keys have equal hashes, so as many distinct hashes as
    rows proves the key unique; only when it does not (duplicates, or in theory a hash
    collision) does the exact grouping run, and it decides (≈ 40 % of the audit's key tests
    at 300 000 persons, issue 13)."""
    failures = []
    for model in load_models().values():
        if not (model.unique or model.not_null):
            continue
        cols = ", ".join(model.unique)
        measures = ["count(*)", f"count(distinct hash({cols}))" if model.unique else "count(*)"]
        measures += [f"count(*) filter (where {col} is null)" for col in model.not_null]
        rows, hashes, *nulls = one_row(con.execute(f"select {', '.join(measures)} from {model.name}").fetchone())
        if hashes != rows:
            n = one_row(
                con.execute(
                    f"select count(*) from (select {cols} from {model.name} group by all having count(*) > 1)"
                ).fetchone()
            )[0]
            if n:
                failures.append(f"{model.name}: {n} duplicate keys on ({cols})")
        failures += [
            f"{model.name}: {n} rows with {col} null" for col, n in zip(model.not_null, nulls, strict=True) if n
        ]
    return failures


def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    try:
        text = version("trondelag-pathways")
    except PackageNotFoundError:
        text = "unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        if sha:
            text += f"+{sha}"
    except (OSError, subprocess.SubprocessError):
        pass
    return text
