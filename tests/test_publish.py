"""Write–audit–publish: audits decide, the published warehouse changes only atomically."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import duckdb
import pytest

from flows.pipeline import AuditFailed, load
from tests import helpers as h

AS_OF = dt.date(2026, 11, 1)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _one(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _school_list(land: Path, date: str, pupils: int) -> None:
    rows = [h.pupil(pid=f"{i + 1:064x}") for i in range(pupils)]
    h.write_workbook(land, f"kombinasjon_{h.SCHOOL}_2023-2024_{date}.xlsx", rows)


def _failing(monkeypatch, target, name: str, error: Exception) -> None:
    """`target.name` raises `error` when called: a disk or a step that fails."""

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(target, name, broken)


DISK_FULL = OSError(errno.ENOSPC, "No space left on device")


def _newer_list(published) -> tuple[Path, Path, str]:
    """The published county with a newer school list delivered: (landing, warehouse, the
    published file's digest before the next load)."""
    land, warehouse = published
    before = _sha(warehouse)
    _school_list(land, "20240115", 120)
    return land, warehouse, before


@pytest.fixture()
def published(tmp_path, prefect_server):
    """A small published warehouse: one school's list of 120 pupils and some intro events."""
    land, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    _school_list(land, "20231001", 120)
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row(), h.intro_row(event="startet", date="01.04.2023")])
    summary = load(str(land), str(warehouse), AS_OF)
    assert summary.published
    return land, warehouse


def test_a_failed_audit_leaves_the_published_warehouse_byte_for_byte_unchanged(published):
    land, warehouse = published
    before = _sha(warehouse)
    _school_list(land, "20240115", 1)  # a school sends a list with one pupil instead of 120
    with pytest.raises(AuditFailed) as err:
        load(str(land), str(warehouse), AS_OF)
    message = str(err.value)
    assert "core.event" in message and "observed" in message  # says what collapsed
    assert _sha(warehouse) == before
    kept = list((warehouse.parent / "failed").glob("*.duckdb"))
    assert len(kept) == 1  # kept aside for inspection, with the reason inside
    assert _one(kept[0], "select outcome from audit.load_run order by started_at desc limit 1") == [("audit_failed",)]
    assert not list(warehouse.parent.glob("*.candidate*"))
    # the same load, forced, publishes
    summary = load(str(land), str(warehouse), AS_OF, force=True)
    assert summary.published and _sha(warehouse) != before
    assert _one(warehouse, "select count(*) from staging.stg_combination_classes") == [(1,)]
    assert _one(warehouse, "select count(*) from meta.build") == [(2,)]


def test_a_publish_that_fails_keeps_the_old_warehouse_and_the_candidate_to_look_at(published, monkeypatch):
    """The disk fails at the last step (the candidate's fsync before the replace): the
    published file stays as it was and the audited candidate is kept in failed/, not left
    for the next load to delete."""
    from warehouse import publish as publishing

    land, warehouse, before = _newer_list(published)
    _failing(monkeypatch, publishing, "_fsync", DISK_FULL)
    with pytest.raises(Exception, match="No space left"):
        load(str(land), str(warehouse), AS_OF)
    assert _sha(warehouse) == before
    assert not list(warehouse.parent.glob("*.candidate*"))
    kept = list((warehouse.parent / "failed").glob("*-error-*.duckdb"))
    assert len(kept) == 1
    assert _one(kept[0], "select count(*) from meta.build") == [(2,)]  # built and recorded, not published
    last = json.loads((warehouse.parent / "load_runs.jsonl").read_text().splitlines()[-1])
    assert last["outcome"] == "crashed"

    monkeypatch.undo()  # the disk is back: the next load publishes the same files
    assert load(str(land), str(warehouse), AS_OF).published
    assert _sha(warehouse) != before


def test_a_load_that_stops_before_its_build_leaves_no_candidate_behind(published, monkeypatch):
    """The candidate is copied in the background from the load's start (flows.pipeline.
    _load_locked): a load that stops before it uses the copy removes it."""
    import flows.pipeline as pipeline

    land, warehouse, before = _newer_list(published)
    # the last step before the copy is used
    _failing(monkeypatch, pipeline, "previous_counts", RuntimeError("stopped before the build"))
    with pytest.raises(RuntimeError, match="stopped before the build"):
        load(str(land), str(warehouse), AS_OF)
    assert _sha(warehouse) == before
    assert not list(warehouse.parent.glob("*.candidate*"))
    assert not (warehouse.parent / "failed").exists()


def test_a_copy_that_fails_half_way_leaves_no_candidate_behind(published, monkeypatch):
    """The candidate's copy fails after writing (the disk fills at its permissions step):
    the load stops with the error and the half-made copy goes, not left on a full disk."""
    from warehouse import publish as publishing

    land, warehouse, before = _newer_list(published)
    _failing(monkeypatch, publishing, "restrict", DISK_FULL)
    with pytest.raises(OSError, match="No space left"):
        load(str(land), str(warehouse), AS_OF)
    assert _sha(warehouse) == before
    assert not list(warehouse.parent.glob("*.candidate*"))


def test_a_failure_after_the_publish_is_logged_as_published(published, monkeypatch):
    """Pruning the kept builds fails after the new build replaced the old one: the new build
    stands, nothing is kept aside as refused, and the run log says it stopped after
    publishing."""
    from warehouse import publish as publishing

    land, warehouse, before = _newer_list(published)
    _failing(monkeypatch, publishing, "prune_builds", OSError("the builds folder could not be pruned"))
    with pytest.raises(OSError, match="could not be pruned"):
        load(str(land), str(warehouse), AS_OF)
    assert _sha(warehouse) != before  # published
    assert _one(warehouse, "select count(*) from meta.build") == [(2,)]
    assert not (warehouse.parent / "failed").exists()
    last = json.loads((warehouse.parent / "load_runs.jsonl").read_text().splitlines()[-1])
    assert last["outcome"] == "crashed" and "after publishing" in last["message"]


def test_a_reader_holding_the_old_file_keeps_working_during_a_publish(published, tmp_path):
    land, warehouse = published
    flag = tmp_path / "published.flag"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, pathlib, time
        con = duckdb.connect({str(warehouse)!r}, read_only=True)
        print(con.execute("select count(*) from core.event").fetchone()[0], flush=True)
        while not pathlib.Path({str(flag)!r}).exists():
            time.sleep(0.05)
        print(con.execute("select count(*) from core.event").fetchone()[0], flush=True)
        print(con.execute("select count(*) from marts.stage_spell").fetchone()[0], flush=True)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    first = int(reader.stdout.readline())
    h.write_intro(land, "intro_5001_20241231.csv", [h.intro_row(h.PID_B), h.intro_row(h.PID_C)])
    load(str(land), str(warehouse), AS_OF)
    flag.touch()
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert [int(x) for x in out.split()][0] == first  # still the old, complete file
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb; print(duckdb.connect({str(warehouse)!r}, "
            "read_only=True).execute('select count(*) from core.event').fetchone()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(fresh.stdout) == first + 2  # a new reader sees the new build


def test_every_build_gets_a_data_docs_report_and_a_meta_build_row(published):
    land, warehouse = published
    docs = warehouse.parent / "data_docs"
    index = (docs / "index.html").read_text()
    builds = _one(warehouse, "select build_id, as_of, files_loaded, events, persons, code_version from meta.build")
    assert len(builds) == 1
    build_id, as_of, files_loaded, events, persons, version = builds[0]
    assert (
        as_of == AS_OF
        and files_loaded == 2
        and events > 0
        and persons == 121
        and version.split("+")[0] == metadata.version("trondelag-pathways")
    )
    assert build_id in index
    suites = {p.name for p in (docs / "validations").iterdir()}
    assert {
        "core__person",
        "core__event",
        "marts__stage_spell",
        "marts__school_place_wait",
        "marts__intro_outcome",
        "marts__dropout",
        "marts__funnel",
        "audit__file_log",
    } <= suites


def test_building_twice_from_the_same_landing_zone_gives_identical_marts(county, prefect_server, loaded, tmp_path):
    _, first = loaded
    second = tmp_path / "again.duckdb"
    load(str(county), str(second), AS_OF)
    for table in (
        "core.person",
        "core.event",
        "marts.stage_spell",
        "marts.school_place_wait",
        "marts.intro_outcome",
        "marts.dropout",
        "marts.funnel",
    ):
        assert sorted(_one(first, f"select * from {table}"), key=repr) == sorted(
            _one(second, f"select * from {table}"), key=repr
        ), table


def test_the_run_summary_is_a_prefect_artifact(published):
    from prefect.artifacts import Artifact

    artifact = Artifact.get("pathways-load-summary")
    assert artifact is not None
    assert "published: yes" in artifact.data and "audit: passed" in artifact.data
