"""`pathways export` (issue 15): the loaded county's conformed events as OCEL 2.0 JSON and
Parquet, read back with PM4Py (the reference implementation of OCEL 2.0), which must
reproduce the dashboard's pathway variants (dash.person_variant: the stages in the order
a person first started them) exactly, the most common first."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import duckdb
import polars as pl
import pytest

from dashboard import disclosure, queries

LADDER = [
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
]


@pytest.fixture(scope="module")
def exported(loaded, tmp_path_factory):
    _, warehouse = loaded
    out = tmp_path_factory.mktemp("export") / "log"
    home = tmp_path_factory.mktemp("export-home")
    env = dict(os.environ, PATHWAYS_HOME=str(home))
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "export", "--warehouse", str(warehouse), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, warehouse, home


def _variants_from_ocel(path) -> pl.DataFrame:
    """Per person object: the stages in the order of their first start, from the events
    alone (a stage starts with `started`, the milestones with `settled` and `passed`, and
    work also with the intro programme's transition to work); ties in the ladder's order."""
    import pm4py

    ocel = pm4py.read_ocel2_json(str(path))
    relations = pl.from_pandas(ocel.relations).filter(pl.col("ocel:type") == "person")
    parts = pl.col("ocel:activity").str.split(" ")
    starts = relations.with_columns(parts.list.get(0).alias("stage"), parts.list.get(1).alias("what")).filter(
        pl.col("what").is_in(["started", "settled", "passed"]) | (pl.col("ocel:activity") == "work transition")
    )
    first = (
        starts.group_by("ocel:oid", "stage")
        .agg(pl.col("ocel:timestamp").min().alias("at"))
        .with_columns(pl.col("stage").replace_strict({s: i for i, s in enumerate(LADDER)}).alias("rank"))
    )
    per_person = (
        first.sort("ocel:oid", "at", "rank")
        .group_by("ocel:oid", maintain_order=True)
        .agg(pl.col("stage").str.join(" → ").alias("variant"))
    )
    types = pl.from_pandas(ocel.objects)["ocel:type"].value_counts()
    assert set(types["ocel:type"]) == {"person", "municipality", "school", "case"}
    return per_person.group_by("variant").len("persons")


def test_the_ocel_log_reproduces_the_dashboards_pathway_variants(exported):
    out, warehouse, home = exported
    from_log = _variants_from_ocel(out / "pathways.ocel.json")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        truth = con.sql("select variant, count(*)::uint32 as persons from dash.person_variant group by 1").pl()
        shown = disclosure.publish(queries.pathway_variants(con, queries.Filters(scope=queries.COUNTY)))
    assert from_log.sort("variant").equals(truth.sort("variant"))
    # the most common variants, in the order the dashboard lists them
    top = shown.sort(["persons", "variant"], descending=[True, False], nulls_last=True).head(10)["variant"]
    mine = from_log.sort(["persons", "variant"], descending=[True, False]).head(10)["variant"]
    assert top.to_list()[:5] == mine.to_list()[:5]


def test_the_parquet_tables_hold_the_same_log_readable_by_owner_and_group_only(exported):
    out, warehouse, home = exported
    events = pl.read_parquet(out / "events.parquet")
    relations = pl.read_parquet(out / "event_objects.parquet")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert events.height == con.execute("select count(*) from core.event").fetchone()[0]
    assert relations.filter(pl.col("qualifier") == "person").height == events.height
    assert relations.filter(pl.col("qualifier") == "case")["object_id"].str.starts_with("case:TM-").all()
    for name in ("pathways.ocel.json", "events.parquet", "objects.parquet", "event_objects.parquet"):
        assert stat.S_IMODE((out / name).stat().st_mode) & 0o007 == 0, name
    entry = (home / "access" / "follow_up.jsonl").read_text().splitlines()[-1]
    assert '"action": "export"' in entry and '"role": "data_staff"' in entry
