"""Warehouse migrations (issue 12): numbered, recorded, each applied once and whole, on
the candidate only; a warehouse built by the previous release is upgraded in place and
loads into with the same figures as a fresh build."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import duckdb
import pytest

from flows.pipeline import load_without_prefect
from tests import helpers as h
from warehouse.migrate import MigrationError, migrate, migrations

FIXTURE = Path(__file__).parent / "fixtures" / "previous-release.tar.gz"
AS_OF = dt.date(2026, 11, 1)
SHIPPED = [m.version for m in migrations()]


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _previous_release(tmp_path: Path) -> tuple[Path, Path]:
    """The kept warehouse of the previous release and the landing files it loaded."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path / "old", filter="data")
    land, warehouse = tmp_path / "old" / "landing", tmp_path / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.move(tmp_path / "old" / "warehouse.duckdb", warehouse)
    return land, warehouse


def test_the_fixture_is_small_and_really_from_before_migrations(tmp_path):
    assert FIXTURE.stat().st_size < 200_000
    _, warehouse = _previous_release(tmp_path)
    tables = {t for (t,) in _rows(warehouse, "select schema_name || '.' || table_name from duckdb_tables()")}
    assert "meta.schema_migrations" not in tables and "core.event" in tables
    columns = {
        c
        for (c,) in _rows(
            warehouse,
            "select column_name from duckdb_columns() where schema_name = 'audit' and table_name = 'load_run'",
        )
    }
    assert "code_version" not in columns  # so migration 0002 really has work to do


def test_a_new_warehouse_gets_every_migration_once(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert migrate(con) == SHIPPED
        assert migrate(con) == []  # recorded: never applied twice
        rows = con.execute(
            "select version, name, checksum, code_version from meta.schema_migrations order by version"
        ).fetchall()
    assert [r[0] for r in rows] == SHIPPED and SHIPPED[:2] == [1, 2]
    assert rows[0][1] == "baseline" and all(len(r[2]) == 64 and r[3] for r in rows)


def test_a_failing_migration_is_rolled_back_whole_and_not_recorded(tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    for m in migrations()[:1]:
        (folder / f"{m.version:04d}_{m.name}.sql").write_text(m.sql)
    (folder / "0002_broken.sql").write_text(
        "CREATE TABLE audit.half_done (a INTEGER);\nALTER TABLE audit.no_such_table ADD COLUMN b INTEGER;\n"
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        with pytest.raises(MigrationError, match="0002_broken failed"):
            migrate(con, folder)
        assert con.execute("select version from meta.schema_migrations").fetchall() == [(1,)]
        assert con.execute("select count(*) from duckdb_tables() where table_name = 'half_done'").fetchone() == (0,)


def _second_batch(land: Path) -> None:
    """Deliveries after the upgrade: new events, a repeated one, a newer export."""
    h.write_intro(
        land,
        "intro_5001_20240630.csv",
        [
            h.intro_row(event="fullfort", date="20.06.2024"),
            h.intro_row(
                h.PID_B, event="startet", date="02.05.2023", sex="M", year="1985", country="SYR", reason="familie"
            ),  # already delivered: a duplicate
            h.intro_row(h.PID_C, sex="M", year="2001", country="ERI", reason="flukt"),
        ],
    )
    h.write_tm(
        land,
        "tm_20240601.json",
        [
            h.tm_case(
                events=[
                    {"type": "mobilised", "date": "2023-01-09"},
                    {"type": "work_training_started", "date": "2023-02-01"},
                    {"type": "work_training_ended", "date": "2023-06-30"},
                ]
            )
        ],
        exported_at="2024-06-01T02:00:00+02:00",
    )


FIGURES = {
    "core.person": "select * from core.person",
    "core.event": "select * from core.event",
    "marts.stage_spell": "select * from marts.stage_spell",
    "marts.funnel": "select * from marts.funnel",
    "marts.intro_outcome": "select * from marts.intro_outcome",
    "marts.dropout": "select * from marts.dropout",
    "marts.school_place_wait": "select * from marts.school_place_wait",
    "audit.file_log": "select file_name, source, sha256, status, rows_read, rows_loaded, rows_quarantined, "
    "rows_duplicate, message, delivery_date from audit.file_log",
    "audit.quarantine": "select file_name, row_number, column_name, rule, message from audit.quarantine",
}


def test_a_warehouse_of_the_previous_release_is_upgraded_and_loads_with_the_same_figures(tmp_path):
    land, warehouse = _previous_release(tmp_path)
    old_builds = _rows(warehouse, "select build_id from meta.build")
    _second_batch(land)

    summary = load_without_prefect(str(land), str(warehouse), AS_OF)  # with the Great Expectations audits
    assert summary.published and summary.counts.files_loaded == 2, summary.audit_failures
    assert [v for (v,) in _rows(warehouse, "select version from meta.schema_migrations order by 1")] == SHIPPED
    runs = _rows(warehouse, "select load_id, code_version from audit.load_run order by started_at")
    assert runs[-1][0] == summary.load_id and runs[-1][1]  # written by name, into the migrated column
    assert all(code is None for _, code in runs[:-1])  # the old release's rows kept as they were
    assert _rows(warehouse, "select build_id from meta.build order by finished_at")[:-1] == old_builds

    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    assert load_without_prefect(str(land), str(fresh), AS_OF, audit=False).published
    for table, sql in FIGURES.items():
        upgraded, rebuilt = _rows(warehouse, sql + " order by all"), _rows(fresh, sql + " order by all")
        assert upgraded == rebuilt, table
    assert _rows(warehouse, "select count(*) from core.event")[0][0] > 0
    assert _rows(warehouse, "select count(*) from audit.quarantine")[0][0] >= 1


def test_a_warehouse_from_a_newer_release_is_refused_and_the_published_file_untouched(tmp_path):
    land, warehouse = _previous_release(tmp_path)
    with duckdb.connect(str(warehouse)) as con:  # as if a newer release had migrated it
        migrate(con)
        con.execute(
            "insert into meta.schema_migrations (version, name, checksum, applied_at) "
            "values (9999, 'from_the_future', 'x', now())"
        )
    before = _sha(warehouse)
    _second_batch(land)
    with pytest.raises(MigrationError, match="newer than this code"):
        load_without_prefect(str(land), str(warehouse), AS_OF, audit=False)
    assert _sha(warehouse) == before
    assert list((warehouse.parent / "failed").glob("*-error-*.duckdb"))  # the candidate, kept to look at
    last = json.loads((warehouse.parent / "load_runs.jsonl").read_text().splitlines()[-1])
    assert last["outcome"] == "crashed" and "MigrationError" in last["message"]
