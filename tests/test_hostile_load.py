"""Hostile landing zones through the real flow (Prefect engine, read workers, DuckDB files).

Issue 10: poison files never stop, hang or crash a load; every landing entry is
accounted for; a transient read error is retried and, if it persists over loads,
refused; one file's failure never touches another's result, grouped or not.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import duckdb
import pytest

import flows.pipeline as pipeline
from flows.pipeline import load
from tests import corpus
from tests import helpers as h

AS_OF = dt.date(2026, 11, 1)
CASE = corpus.CASE_BY_ID


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _age_everything(land: Path) -> None:
    """Make every file look delivered an hour ago (the scan leaves fresh files for later)."""
    old = time.time() - 3600
    for path in land.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (old, old))


def hostile_landing(land: Path) -> dict[str, str]:
    """Good files of all four sources mixed with poison; returns file name -> expected status."""
    poison = {
        "combination_classes:one cell at XFD1048576 (calamine asks for 512 GB)": "quarantined",
        "intro:duplicated header": "quarantined",
        "intro:10 000 extra columns": "quarantined",
        "intro:file name with a byte that is not UTF-8": "quarantined",
        "adult_education:a line nested 50 000 deep": "loaded",
    }
    names = {}
    for case_id, status in poison.items():
        path = CASE[case_id].build(land)
        if path.name == "intro_5001_20240101.csv":  # several intro cases share the corpus's default name
            path = path.rename(path.with_name(f"intro_5001_2024010{len(names) + 3}.csv"))
        if path.name == "vo_20240101T020000.jsonl":
            path = path.rename(path.with_name("vo_20240105T020000.jsonl"))
        if "XFD" in case_id:
            path = path.rename(path.with_name(f"kombinasjon_{h.SCHOOL}_2024-2025_20240901.xlsx"))
        names[path.name] = status
    # the good files after the poison (the corpus builders use default names)
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row(), h.intro_row(h.PID_B)])
    h.write_intro(land, "intro_5001_20240102.csv", [h.intro_row(), h.intro_row(h.PID_C)])  # one duplicate
    h.write_jsonl(land, "vo_20240101T020000.jsonl", [h.ae_event()])
    h.write_workbook(land, f"kombinasjon_{h.SCHOOL}_2023-2024_20231001.xlsx", [h.pupil(), h.pupil(h.PID_B)])
    h.write_tm(land, "tm_20240301.json", [h.tm_case()])
    os.symlink("/etc/passwd", land / "intro" / "intro_5001_20240201.csv")
    os.mkfifo(land / "adult_education" / "vo_20240201T020000.jsonl")
    (land / "intro" / "old").mkdir()
    (land / "Intro").mkdir()
    (land / "notes.txt").write_text("hello")
    _age_everything(land)
    h.write_intro(land, "intro_5001_20240301.csv", [h.intro_row(h.PID_C)])  # still being written
    return names


@pytest.mark.parametrize("files_per_task", [1, 4])
def test_a_hostile_landing_zone_loads_the_good_files_and_accounts_for_every_entry(
    tmp_path, prefect_server, monkeypatch, files_per_task
):
    monkeypatch.setenv("PATHWAYS_SETTLE_SECONDS", "5")
    land, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    poison = hostile_landing(land)
    started = time.monotonic()
    summary = load(str(land), str(warehouse), AS_OF, files_per_task=files_per_task)
    assert summary.published
    assert time.monotonic() - started < 240  # the poison costs seconds, never the 120 s limit
    log = {
        r[0]: r[1:]
        for r in _rows(
            warehouse,
            """select file_name, status, rows_read, rows_loaded,
        rows_quarantined, rows_duplicate, message from audit.file_log""",
        )
    }
    for name in (
        "intro_5001_20231231.csv",
        "intro_5001_20240102.csv",
        "vo_20240101T020000.jsonl",
        f"kombinasjon_{h.SCHOOL}_2023-2024_20231001.xlsx",
        "tm_20240301.json",
    ):
        assert log[name][0] == "loaded", name
    for name, status in poison.items():
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        assert log[shown][0] == status, (shown, log[shown])
    assert "intro_5001_2024\\xff0101.csv" in log  # recorded under an escaped name
    assert "could not be read within 2 GB / 120 s" in log[f"kombinasjon_{h.SCHOOL}_2024-2025_20240901.xlsx"][5]
    for name, (_status, read, loaded_, quarantined, duplicate, _) in log.items():
        assert read == loaded_ + quarantined + duplicate, name
    assert log["intro_5001_20240102.csv"][1:5] == (2, 1, 0, 1)
    anomalies = {r[0]: r[1:] for r in _rows(warehouse, "select path, kind, action from audit.landing_anomaly")}
    assert anomalies == {
        "intro/intro_5001_20240201.csv": ("symlink", "refused"),
        "adult_education/vo_20240201T020000.jsonl": ("special_file", "refused"),
        "intro/old": ("subfolder", "ignored"),
        "Intro": ("miscased_folder", "ignored"),
        "notes.txt": ("root_file", "ignored"),
        "intro/intro_5001_20240301.csv": ("still_writing", "waiting"),
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:  # what Datakvalitet shows
        from dashboard.queries import landing_anomalies

        assert {r[0]: r[1:3] for r in landing_anomalies(con, "data_staff").iter_rows()} == anomalies
    text = summary.as_markdown()
    assert "intro/intro_5001_20240301.csv (still_writing)" in text and "left for a later load" in text
    assert not summary.all_files_accounted_cleanly
    blob = warehouse.read_bytes()
    assert b"root:x:0:0" not in blob  # the link was never followed
    # the next load reads only the file that was still being written, and loads it
    _age_everything(land)
    again = load(str(land), str(warehouse), AS_OF, files_per_task=files_per_task)
    assert again.files_new == 1 and again.counts.files_loaded == 1
    assert _rows(warehouse, "select status from audit.file_log where file_name = 'intro_5001_20240301.csv'") == [
        ("loaded",)
    ]
    assert ("intro/intro_5001_20240301.csv",) not in _rows(
        warehouse, f"select path from audit.landing_anomaly where load_id = '{again.load_id}'"
    )


@pytest.mark.parametrize("files_per_task", [1, 3])
def test_a_transient_read_error_is_retried_and_refused_after_three_loads(
    tmp_path, prefect_server, monkeypatch, files_per_task
):
    land, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row()])
    h.write_intro(land, "intro_5001_20240101.csv", [h.intro_row(h.PID_B)])  # the disk fails on this one
    h.write_intro(land, "intro_5001_20240102.csv", [h.intro_row(h.PID_C)])
    real, calls = pipeline.read_file, []

    def flaky(file):
        if file.name == "intro_5001_20240101.csv":
            calls.append(file.name)
            raise OSError(5, "Input/output error")
        return real(file)

    monkeypatch.setattr(pipeline, "read_file", flaky)
    monkeypatch.setattr(pipeline, "RETRY_DELAYS", [0, 0])
    monkeypatch.setattr(
        pipeline, "read_and_validate", pipeline.read_and_validate.with_options(retry_delay_seconds=[0, 0])
    )
    for attempt in (1, 2):
        summary = load(str(land), str(warehouse), AS_OF, files_per_task=files_per_task)
        if attempt == 1:
            assert summary.counts.files_loaded == 2  # the others loaded at once
        assert summary.files_unreadable == ["intro_5001_20240101.csv"] and summary.published
        assert len(calls) == 3 * attempt  # the first try and Prefect's two retries, every load
        assert _rows(warehouse, "select file_name, failures from audit.read_failure") == [
            ("intro_5001_20240101.csv", attempt)
        ]
        assert "intro_5001_20240101.csv" not in {r[0] for r in _rows(warehouse, "select file_name from audit.file_log")}
    third = load(str(land), str(warehouse), AS_OF, files_per_task=files_per_task)
    assert third.files_unreadable == [] and third.files_refused == ["intro_5001_20240101.csv"]
    row = _rows(
        warehouse, "select status, rows_read, message from audit.file_log where file_name = 'intro_5001_20240101.csv'"
    )
    assert row == [("quarantined", 0, "could not be read in 3 loads in a row (an operating-system error each time)")]
    assert _rows(warehouse, "select count(*) from audit.read_failure") == [(0,)]
    load(str(land), str(warehouse), AS_OF, files_per_task=files_per_task)
    assert len(calls) == 9  # refused is final: never read again


@pytest.mark.parametrize("files_per_task", [1, 3])
def test_a_bug_on_one_file_refuses_that_file_only(tmp_path, prefect_server, monkeypatch, files_per_task, caplog):
    """Not an operating-system error: refused at once with the error's type (never its
    text), not retried forever; the other files of its group load."""
    land, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    for day, pid in ((1, h.PID_A), (2, h.PID_B), (3, h.PID_C)):
        h.write_intro(land, f"intro_5001_2024010{day}.csv", [h.intro_row(pid)])
    real = pipeline.read_file

    def buggy(file):
        if file.name == "intro_5001_20240102.csv":
            raise ValueError(f"{h.PID_B} leaked into an error message")
        return real(file)

    monkeypatch.setattr(pipeline, "read_file", buggy)
    summary = load(str(land), str(warehouse), AS_OF, files_per_task=files_per_task)
    log = dict(_rows(warehouse, "select file_name, status from audit.file_log"))
    assert log == {
        "intro_5001_20240101.csv": "loaded",
        "intro_5001_20240102.csv": "quarantined",
        "intro_5001_20240103.csv": "loaded",
    }
    message = _rows(warehouse, "select message from audit.file_log where status = 'quarantined'")[0][0]
    assert "ValueError" in message and h.PID_B not in message
    assert summary.files_refused == ["intro_5001_20240102.csv"] and summary.files_unreadable == []
    assert h.PID_B not in caplog.text  # the error's text reached no log (Prefect logs failed tasks' errors)


def test_load_runs_gets_a_line_for_a_crash_inside_the_flow(tmp_path, prefect_server, monkeypatch):
    land, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row()])

    def broken(*args):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(pipeline.models, "build", broken)
    with pytest.raises(RuntimeError):
        load(str(land), str(warehouse), AS_OF)
    [line] = (warehouse.parent / "load_runs.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["outcome"] == "crashed" and record["message"] == "the load stopped: RuntimeError"
    assert len(list((warehouse.parent / "failed").glob("*.duckdb"))) == 1  # the broken candidate, kept aside
    assert not warehouse.exists()


def test_failed_keeps_only_the_newest_candidates(tmp_path):
    from warehouse.publish import keep_aside, prune_failed

    published = tmp_path / "w.duckdb"
    kept = []
    for i in range(7):
        candidate = tmp_path / f"w.{i}.candidate"
        candidate.write_bytes(b"x" * 10)
        kept.append(keep_aside(candidate, published))
        os.utime(kept[-1], (1000 + i, 1000 + i))
        prune_failed(published, 5)
    assert sorted((tmp_path / "failed").iterdir()) == sorted(kept[-5:])
    assert prune_failed(published, 0) and not list((tmp_path / "failed").iterdir())
