"""The load flow end to end, on Prefect's engine with a temporary Prefect server."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
from stdnum.no import fodselsnummer

from flows.pipeline import load
from tests import helpers as h

AS_OF = dt.date(2026, 11, 1)


def _rows(warehouse: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def test_every_planted_fault_is_caught_with_its_reason(loaded, planted_faults):
    _, warehouse = loaded
    kinds = {f["kind"] for f in planted_faults}
    assert len(kinds) >= 30, "the generator plants every kind of fault"
    log = dict(_rows(warehouse, "select file_name, status from audit.file_log"))
    quarantine = {
        (f, r): (rule, col)
        for f, r, rule, col in _rows(warehouse, "select file_name, row_number, rule, column_name from audit.quarantine")
    }
    file_rules = {(f, rule) for f, rule in _rows(warehouse, "select file_name, rule from audit.quarantine")}
    for fault in planted_faults:
        if fault["level"] == "file":
            assert log.get(fault["file"]) == fault["status"], fault
            assert (fault["file"], fault["rule"]) in file_rules, fault
            if fault["row"] is not None:  # privacy incidents are recorded with row and column
                assert quarantine.get((fault["file"], fault["row"])) == (fault["rule"], fault["column"]), fault
        else:
            assert quarantine.get((fault["file"], fault["row"]), (None,))[0] == fault["rule"], fault


def test_nothing_is_quarantined_that_was_not_planted(loaded, planted_faults):
    _, warehouse = loaded
    planted_rows = {(f["file"], f["row"]) for f in planted_faults}
    planted_files = {f["file"] for f in planted_faults if f["level"] == "file"}
    unexpected = [
        r
        for r in _rows(warehouse, "select file_name, row_number, rule, message from audit.quarantine")
        if r[0] not in planted_files and (r[0], r[1]) not in planted_rows
    ]
    assert unexpected == []


def test_every_file_reconciles_and_every_landing_file_is_logged(loaded, county):
    summary, warehouse = loaded
    rows = _rows(
        warehouse,
        """select file_name, rows_read, rows_loaded, rows_quarantined, rows_duplicate, status
                               from audit.file_log""",
    )
    landing = {
        p.name
        for folder in ("intro", "adult_education", "combination_classes", "trondelag_model", "settlement_plan")
        for p in (county / folder).iterdir()
    }
    assert {r[0] for r in rows} == landing
    for name, read, loaded_, quarantined, duplicate, status in rows:
        assert read == loaded_ + quarantined + duplicate, name
        if status in ("quarantined", "privacy_incident"):
            assert loaded_ == 0 and quarantined == read, name
    per_source = dict(_rows(warehouse, "select source, sum(rows_loaded) from audit.file_log group by 1"))
    # event sources keep every delivered copy in raw; exactly one copy of each event is loaded
    for source, table, key in (
        ("intro", "raw.intro_event", "deltaker_pid, hendelse, dato"),
        ("adult_education", "raw.adult_education_event", "event_id"),
        ("combination_classes", "raw.combination_class_row", "*"),
        ("trondelag_model", "raw.trondelag_model_event", "*"),
        ("settlement_plan", "raw.settlement_plan_row", "source_file, kommunenr, aar"),
    ):
        assert (
            _rows(warehouse, f"select count(*) from (select distinct {key} from {table})")[0][0] == per_source[source]
        )
    quarantined_rows = _rows(
        warehouse,
        """select count(*) from (select distinct sha256, row_number
        from audit.quarantine q join audit.file_log f using (sha256, file_name) where f.status <> 'quarantined'
        and f.status <> 'privacy_incident')""",
    )[0][0]
    assert (
        quarantined_rows
        == _rows(
            warehouse,
            """select sum(rows_quarantined) from audit.file_log
        where status not in ('quarantined', 'privacy_incident')""",
        )[0][0]
    )
    assert summary.counts.rows_duplicate > 0  # the county resends events: they are counted, not loaded


def _planted_numbers(county: Path) -> set[str]:
    numbers = set()
    for path in county.rglob("*"):
        if path.is_file() and "_synthetic" not in path.parts:
            text = path.read_bytes().decode("utf-8", errors="ignore")
            for token in re.findall(r"\b\d{6} ?\d{5}\b", text):
                digits = token.replace(" ", "")
                if fodselsnummer.is_valid(digits):
                    numbers.add(digits)
    return numbers


def test_national_ids_appear_in_no_table_log_or_report(loaded, county, caplog):
    summary, warehouse = loaded
    numbers = _planted_numbers(county)
    assert len(numbers) >= 3, "the county plants national ids, D-numbers included"
    blob = Path(warehouse).read_bytes()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = con.execute("""select table_schema, table_name, column_name from information_schema.columns
                                 where data_type = 'VARCHAR'""").fetchall()
        for schema, table, column in columns:
            for number in numbers:
                hits = con.execute(
                    f"select count(*) from {schema}.{table} where replace(\"{column}\", ' ', '') like ?",
                    [f"%{number}%"],
                ).fetchone()[0]
                assert hits == 0, (schema, table, column)
    for number in numbers:
        assert number.encode() not in blob
        assert number not in summary.as_markdown()
        assert number not in caplog.text


def test_loading_the_same_landing_zone_twice_changes_nothing(county, prefect_server, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    load(str(county), str(warehouse), AS_OF)
    tables = [
        r[0]
        for r in _rows(
            warehouse,
            """select table_schema || '.' || table_name
        from information_schema.tables
        where table_name not in ('load_run', 'build', 'landing_anomaly', 'follow_up_alert', 'audit_state')""",
        )
    ]
    before = {t: sorted(_rows(warehouse, f"select * from {t}"), key=repr) for t in tables}
    second = load(str(county), str(warehouse), AS_OF)
    assert second.files_new == 0 and second.counts.rows_loaded == 0
    # nothing changed, so the suites were carried (warehouse/audit_state.py), except the three
    # that gained the drop guard (the first build had no earlier one to compare with)
    assert sorted(second.suites_run) == ["core.event", "core.person", "marts.stage_spell"], second.as_markdown()
    assert 50 < second.expectations_carried < second.expectations
    after = {t: sorted(_rows(warehouse, f"select * from {t}"), key=repr) for t in tables}
    assert before == after
    assert _rows(warehouse, "select count(*) from audit.load_run")[0][0] == 2
    # each build records what it announced to the follow-up service: the second, nothing
    assert _rows(
        warehouse,
        "select new_dropouts, new_crossed, message from audit.follow_up_alert order by created_at desc limit 1",
    ) == [(0, 0, "")]
    # what each load saw in the landing zone besides files (the generator's _synthetic/ folder)
    assert _rows(warehouse, "select count(distinct load_id), min(kind) from audit.landing_anomaly") == [
        (2, "unknown_folder")
    ]
    assert _rows(warehouse, "select count(*) from meta.build")[0][0] == 2  # one row per published build


def test_duplicates_across_files_are_counted_once(tmp_path, prefect_server):
    land = tmp_path / "landing"
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row(), h.intro_row(h.PID_B)])
    h.write_intro(land, "intro_5001_20241231.csv", [h.intro_row(), h.intro_row(h.PID_C)])  # resends PID_A
    same = h.ae_event(event_id="6f1c2d9e-3b4a-4c5d-8e7f-0a1b2c3d4e5f")
    h.write_jsonl(land, "vo_20240101T020000.jsonl", [same, h.ae_event(h.PID_B)])
    h.write_jsonl(land, "vo_20240701T020000.jsonl", [same, same])
    warehouse = tmp_path / "w.duckdb"
    load(str(land), str(warehouse), AS_OF)
    log = {
        r[0]: r[1:]
        for r in _rows(
            warehouse,
            """select file_name, rows_read, rows_loaded, rows_duplicate
                                                      from audit.file_log""",
        )
    }
    assert log["intro_5001_20241231.csv"] == (2, 1, 1)
    assert log["vo_20240701T020000.jsonl"] == (2, 0, 2)
    assert _rows(warehouse, "select count(*) from staging.stg_intro")[0][0] == 3
    assert _rows(warehouse, "select count(*) from staging.stg_adult_education")[0][0] == 2


@pytest.mark.parametrize("files_per_task", [1, 3])
def test_a_broken_file_never_stops_the_others_and_a_copy_is_logged(tmp_path, prefect_server, files_per_task):
    land = tmp_path / "landing"
    good = h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row()])
    (land / "intro" / "intro_5001_20240101.csv").write_bytes(b"\xff\xfe\x00garbage")
    (land / "intro" / "intro_5001_20240102.csv").write_bytes(good.read_bytes())  # same bytes, new name
    h.write_tm(land, "tm_20240301.json", [h.tm_case()]).write_text('{"exported_at": "2024-03-01T02:00', "utf-8")
    h.write_tm(land, "tm_20240302.json", [h.tm_case()], exported_at="2024-03-02T02:00:00+01:00")
    warehouse = tmp_path / "w.duckdb"
    summary = load(str(land), str(warehouse), AS_OF, files_per_task=files_per_task)
    status = dict(_rows(warehouse, "select file_name, status from audit.file_log"))
    assert status == {
        "intro_5001_20231231.csv": "loaded",
        "intro_5001_20240101.csv": "quarantined",
        "intro_5001_20240102.csv": "loaded",
        "tm_20240301.json": "quarantined",
        "tm_20240302.json": "loaded",
    }
    copy = _rows(
        warehouse,
        "select rows_loaded, rows_duplicate, message from audit.file_log where file_name = 'intro_5001_20240102.csv'",
    )[0]
    assert copy[:2] == (0, 1) and "intro_5001_20231231.csv" in copy[2]
    assert summary.published


def test_combination_snapshots_newest_delivery_wins_whatever_the_arrival_order(tmp_path, prefect_server):
    land, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    name = f"kombinasjon_{h.SCHOOL}_2023-2024_"
    h.write_workbook(land, name + "20231001.xlsx", [h.pupil(), h.pupil(h.PID_B)])
    load(str(land), str(warehouse), AS_OF)
    assert {r[0] for r in _rows(warehouse, "select person_id from staging.stg_combination_classes")} == {
        h.PID_A,
        h.PID_B,
    }
    # A newer list without PID_B: PID_B is no longer on the school's list that year.
    h.write_workbook(land, name + "20240620.xlsx", [h.pupil(end=dt.date(2024, 6, 20), status="Overført Vg1")])
    load(str(land), str(warehouse), AS_OF)
    assert _rows(warehouse, "select person_id, status from staging.stg_combination_classes") == [
        (h.PID_A, "Overført Vg1")
    ]
    # An older list that arrives late changes nothing and is superseded at once.
    h.write_workbook(land, name + "20240115.xlsx", [h.pupil(), h.pupil(h.PID_C)])
    load(str(land), str(warehouse), AS_OF)
    status = dict(_rows(warehouse, "select file_name, status from audit.file_log"))
    assert status == {
        name + "20231001.xlsx": "superseded",
        name + "20240620.xlsx": "loaded",
        name + "20240115.xlsx": "superseded",
    }
    assert _rows(warehouse, "select person_id from staging.stg_combination_classes") == [(h.PID_A,)]


def test_trondelag_model_newest_export_per_case_withdraws_missing_events(tmp_path, prefect_server):
    land, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    wrong = {"type": "employed", "date": "2023-02-10", "sector": "retail"}
    old_case = h.tm_case(events=[{"type": "mobilised", "date": "2023-01-09"}, wrong])
    other = h.tm_case(
        "TM-2020-00007",
        h.PID_B,
        events=[{"type": "mobilised", "date": "2020-01-09"}, {"type": "employed", "date": "2020-05-01"}],
    )
    h.write_tm(land, "tm_20230301.json", [old_case, other], exported_at="2023-03-01T02:00:00+01:00")
    h.write_tm(land, "tm_20240301.json", [h.tm_case()])  # the case again, without the wrong event
    load(str(land), str(warehouse), AS_OF)
    events = _rows(warehouse, "select case_id, event_type from staging.stg_trondelag_model order by all")
    assert events == [
        ("TM-2020-00007", "employed"),
        ("TM-2020-00007", "mobilised"),
        ("TM-2023-00001", "mobilised"),
        ("TM-2023-00001", "work_training_started"),
    ]
    # The old export still holds the only copy of the closed case, so it is not superseded.
    assert dict(_rows(warehouse, "select file_name, status from audit.file_log"))["tm_20230301.json"] == "loaded"


def test_a_changed_file_under_a_loaded_name_is_refused_not_loaded_twice(tmp_path, prefect_server):
    land, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    path = h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row()])
    load(str(land), str(warehouse), AS_OF)
    path.write_text(h.INTRO_HEADER + "\r\n" + h.intro_row(h.PID_B) + "\r\n", encoding="utf-8")
    load(str(land), str(warehouse), AS_OF)
    log = _rows(warehouse, "select status, rows_loaded, message from audit.file_log order by first_seen_at")
    assert [r[:2] for r in log] == [("loaded", 1), ("quarantined", 0)]
    assert "new file" in log[1][2]
    assert _rows(warehouse, "select rule from audit.quarantine") == [("file_changed",)]
    assert _rows(warehouse, "select count(*) from staging.stg_intro") == [(1,)]


def test_only_operating_system_errors_are_retried(prefect_server):
    """A locked file or a busy disk may pass on a second try; a bug will not."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from flows.pipeline import _transient

    calls = {"os": 0, "bug": 0}

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=_transient, cache_policy=NO_CACHE)
    def flaky(kind: str) -> str:
        calls[kind] += 1
        if kind == "os" and calls["os"] < 3:
            raise OSError("resource temporarily unavailable")
        if kind == "bug":
            raise ValueError("a bug")
        return "ok"

    @flow
    def run() -> tuple:
        ok = flaky("os")
        bug = flaky.submit("bug")
        bug.wait()
        return ok, bug.state.is_failed()

    assert run() == ("ok", True)
    assert calls == {"os": 3, "bug": 1}  # retried twice after OSError; the bug failed at once
