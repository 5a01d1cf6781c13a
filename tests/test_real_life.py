"""Hand-made deliveries of the pathways real counties send every week (issue 8).

Each test is a small landing zone written by hand, in the sources' real formats, loaded
through the real pipeline (readers, Pandera, staging, SQL models, and, where a test says
the build must be *published*, the Great Expectations audits). None of these cases is
derived from the synthetic county: they are the cases the county's own rules would not
think of — a person who moves, a child, a pupil over two school years, a corrected
export whose rows are all bad, a file in the wrong order.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import duckdb
import pytest

from flows.pipeline import load_without_prefect
from tests.helpers import (
    PID_A,
    PID_B,
    PID_C,
    SCHOOL,
    ae_event,
    intro_row,
    pupil,
    tm_case,
    write_intro,
    write_jsonl,
    write_tm,
    write_workbook,
)

AS_OF = dt.date(2026, 11, 1)


def load(landing: Path, warehouse: Path, as_of: dt.date = AS_OF, audit: bool = False):
    return load_without_prefect(str(landing), str(warehouse), as_of, audit=audit)


def rows(warehouse: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _mover_files(landing: Path, order: tuple[str, str]) -> None:
    old = [
        intro_row(PID_A, "5001", "bosatt", "10.01.2023"),
        intro_row(PID_A, "5001", "startet", "01.02.2023"),
        # the old municipality closes the case after the new one has started it
        intro_row(PID_A, "5001", "avbrutt", "01.09.2023", detail="flyttet"),
    ]
    new = [
        intro_row(PID_A, "5035", "bosatt", "01.08.2023"),
        intro_row(PID_A, "5035", "startet", "15.08.2023"),
        intro_row(PID_A, "5035", "fullfort", "15.08.2024"),
        intro_row(PID_A, "5035", "overgang", "15.08.2024", detail="arbeid"),
    ]
    files = {"old": ("intro_5001_20231231.csv", old), "new": ("intro_5035_20241231.csv", new)}
    for key in order:
        name, content = files[key]
        write_intro(landing, name, content)


@pytest.mark.parametrize("order", [("old", "new"), ("new", "old")])
def test_a_person_who_moves_has_a_spell_in_each_municipality_whatever_the_file_order(tmp_path, order):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    # the two municipalities' files arrive in separate loads, in either order
    first, second = order
    _mover_files(landing, (first,))
    load(landing, warehouse)
    _mover_files(landing, (second,))
    load(landing, warehouse)
    spells = rows(
        warehouse,
        "select municipality_code, start_date, end_date, end_type, end_reason "
        "from marts.stage_spell where stage = 'intro' order by start_date",
    )
    assert spells == [
        ("5001", dt.date(2023, 2, 1), dt.date(2023, 9, 1), "transferred", "flyttet"),
        ("5035", dt.date(2023, 8, 15), dt.date(2024, 8, 15), "completed", None),
    ]
    outcome = rows(
        warehouse,
        "select municipality_code, end_type, direct_transition, in_work_or_education_nov_next_year "
        "from marts.intro_outcome order by start_date",
    )
    # the indicator follows the person: in work on 30 November 2024, whatever spell it is measured from
    assert outcome == [("5001", "transferred", None, True), ("5035", "completed", "arbeid", True)]
    # settled first in 5001: the earliest bosatt
    assert rows(warehouse, "select settlement_date, settlement_municipality_code from core.person") == [
        (dt.date(2023, 1, 10), "5001")
    ]


def test_children_and_the_very_old_are_settled_persons_and_the_build_is_published(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_intro(
        landing,
        "intro_5001_20241231.csv",
        [
            intro_row(PID_A, "5001", "bosatt", "10.01.2023", year=1988),
            intro_row(PID_B, "5001", "bosatt", "10.01.2023", year=2015),  # a child settled with the family
            intro_row(PID_C, "5001", "bosatt", "10.01.2023", year=1936),  # a grandparent
        ],
    )
    summary = load(landing, warehouse, audit=True)
    assert summary.published and not summary.audit_failures
    assert rows(warehouse, "select birth_year from core.person order by birth_year") == [(1936,), (1988,), (2015,)]
    assert rows(warehouse, "select persons from marts.funnel where stage = 'settlement'") == [(3,)]


def test_a_birth_year_after_the_record_or_before_1900_is_a_row_error_not_a_refused_build(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_intro(
        landing,
        "intro_5001_20241231.csv",
        [
            intro_row(PID_A, "5001", "bosatt", "10.01.2023", year=2030),
            intro_row(PID_B, "5001", "bosatt", "10.01.2023", year=1890),
            intro_row(PID_C, "5001", "bosatt", "10.01.2023", year=1990),
        ],
    )
    summary = load(landing, warehouse, audit=True)
    assert summary.published
    assert rows(warehouse, "select row_number, rule from audit.quarantine order by row_number") == [
        (2, "birth_year_range"),
        (3, "birth_year_range"),
    ]


def test_a_pupil_on_the_lists_of_two_school_years_is_one_application_and_one_spell(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    applied, start = dt.date(2023, 3, 1), dt.date(2023, 8, 18)
    write_workbook(
        landing,
        f"kombinasjon_{SCHOOL}_2023-2024_20240620.xlsx",
        [pupil(PID_A, applied=applied, start=start, status="Aktiv")],
    )
    write_workbook(
        landing,
        f"kombinasjon_{SCHOOL}_2024-2025_20250620.xlsx",
        [pupil(PID_A, applied=applied, start=start, end=dt.date(2025, 6, 20), status="Fullført")],
    )
    summary = load(landing, warehouse, audit=True)
    assert summary.published, summary.audit_failures
    assert rows(warehouse, "select start_date, end_date, end_type from marts.stage_spell") == [
        (start, dt.date(2025, 6, 20), "completed")
    ]
    assert rows(warehouse, "select applied_date, started_date, status, wait_days from marts.school_place_wait") == [
        (applied, start, "started", (start - applied).days)
    ]
    # both lists are each school year's newest: neither is superseded
    assert rows(warehouse, "select count(*) from audit.file_log where status = 'loaded'") == [(2,)]


def test_a_pupil_over_three_years_takes_status_and_end_from_the_newest_school_year(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    applied, start = dt.date(2022, 3, 1), dt.date(2022, 8, 18)
    # delivered newest year first
    write_workbook(
        landing,
        f"kombinasjon_{SCHOOL}_2024-2025_20250620.xlsx",
        [pupil(PID_A, year=2004, applied=applied, start=start, end=dt.date(2024, 11, 1), status="Avbrutt")],
    )
    write_workbook(
        landing,
        f"kombinasjon_{SCHOOL}_2022-2023_20230620.xlsx",
        [pupil(PID_A, year=2004, applied=applied, start=start, status="Aktiv")],
    )
    write_workbook(
        landing,
        f"kombinasjon_{SCHOOL}_2023-2024_20240620.xlsx",
        [pupil(PID_A, year=2004, applied=applied, start=start, status="Aktiv")],
    )
    load(landing, warehouse)
    assert rows(warehouse, "select end_date, end_type from marts.stage_spell") == [
        (dt.date(2024, 11, 1), "dropped_out")
    ]
    assert rows(warehouse, "select dropout_date, days_on_stage from marts.dropout") == [
        (dt.date(2024, 11, 1), (dt.date(2024, 11, 1) - start).days)
    ]


def test_the_newest_export_of_a_case_wins_even_when_all_its_rows_are_quarantined(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_tm(
        landing,
        "tm_20240301.json",
        [
            tm_case(
                "TM-2023-00001",
                PID_A,
                events=[
                    {"type": "mobilised", "date": "2023-01-09"},
                    {"type": "work_training_started", "date": "2023-02-01"},
                    {"type": "left_programme", "date": "2023-06-01", "reason": "health"},  # a registration error
                ],
            )
        ],
        exported_at="2024-03-01T02:00:00+01:00",
    )
    load(landing, warehouse)
    assert rows(warehouse, "select count(*) from marts.dropout") == [(1,)]
    # the correction: the case again, but every row of it breaks a rule (dates not ISO)
    write_tm(
        landing,
        "tm_20250301.json",
        [
            tm_case(
                "TM-2023-00001",
                PID_A,
                events=[
                    {"type": "mobilised", "date": "09.01.2023"},
                    {"type": "work_training_started", "date": "01.02.2023"},
                ],
            )
        ],
        exported_at="2025-03-01T02:00:00+01:00",
    )
    load(landing, warehouse)
    assert rows(warehouse, "select count(*) from audit.quarantine where file_name = 'tm_20250301.json'") == [(2,)]
    assert rows(warehouse, "select count(*) from marts.dropout") == [(0,)]
    assert rows(warehouse, "select count(*) from marts.stage_spell") == [(0,)]
    assert rows(warehouse, "select file_name, status from audit.file_log order by file_name") == [
        ("tm_20240301.json", "superseded"),
        ("tm_20250301.json", "loaded"),
    ]


def test_a_case_id_twice_in_one_export_is_a_row_error_for_both_and_the_build_is_published(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_tm(
        landing,
        "tm_20240301.json",
        [
            tm_case("TM-2023-00001", PID_A),
            tm_case("TM-2023-00001", PID_B, events=[{"type": "mobilised", "date": "2023-03-01"}]),
            tm_case("TM-2023-00002", PID_C),
        ],
    )
    summary = load(landing, warehouse, audit=True)
    assert summary.published, summary.audit_failures
    assert rows(warehouse, "select row_number, rule from audit.quarantine order by row_number") == [
        (1, "case_id_unique"),
        (2, "case_id_unique"),
        (3, "case_id_unique"),
    ]
    assert rows(warehouse, "select distinct person_id from core.event") == [(PID_C,)]


def test_an_application_then_another_then_left_programme_is_withdrawn_not_waiting_forever(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_tm(
        landing,
        "tm_20250301.json",
        [
            tm_case(
                "TM-2023-00001",
                PID_A,
                events=[
                    {"type": "mobilised", "date": "2023-01-09"},
                    {"type": "school_place_applied", "date": "2023-03-01"},
                    {"type": "school_place_applied", "date": "2024-03-01"},
                    {"type": "left_programme", "date": "2024-05-01", "reason": "no_contact"},
                ],
            )
        ],
        exported_at="2025-03-01T02:00:00+01:00",
    )
    load(landing, warehouse)
    assert rows(warehouse, "select applied_date, status, wait_days from marts.school_place_wait order by 1") == [
        (dt.date(2023, 3, 1), "withdrawn", None),
        (dt.date(2024, 3, 1), "withdrawn", None),
    ]


def test_a_re_application_after_a_withdrawal_and_one_replacing_a_pending_one(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_jsonl(
        landing,
        "vo_20250101T020000.jsonl",
        [
            ae_event(PID_A, "applied", "2023-04-01"),
            ae_event(PID_A, "withdrawn", "2023-05-01"),
            ae_event(PID_A, "applied", "2023-09-01"),
            ae_event(PID_A, "started", "2023-10-01"),
            ae_event(PID_B, "applied", "2023-04-01"),  # never answered ...
            ae_event(PID_B, "applied", "2024-02-01"),  # ... applied again
            ae_event(PID_B, "offered", "2024-03-01"),
            ae_event(PID_B, "started", "2024-04-01"),
        ],
    )
    load(landing, warehouse)
    assert rows(
        warehouse,
        "select person_id = ?, applied_date, status, wait_days from marts.school_place_wait order by 1 desc, 2",
        [PID_A],
    ) == [
        (True, dt.date(2023, 4, 1), "withdrawn", None),
        (True, dt.date(2023, 9, 1), "started", 30),
        (False, dt.date(2023, 4, 1), "withdrawn", None),
        (False, dt.date(2024, 2, 1), "started", 60),
    ]


def test_a_build_as_of_a_date_before_some_events_shows_the_pathways_as_they_stood_then(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_intro(
        landing,
        "intro_5001_20251231.csv",
        [
            intro_row(PID_A, "5001", "bosatt", "10.01.2023"),
            intro_row(PID_A, "5001", "startet", "01.02.2023"),
            intro_row(PID_A, "5001", "fullfort", "01.02.2025"),
            intro_row(PID_B, "5001", "bosatt", "10.01.2025"),  # settled after as_of
        ],
    )
    write_workbook(
        landing,
        f"kombinasjon_{SCHOOL}_2024-2025_20250620.xlsx",
        [
            pupil(
                PID_C,
                year=2007,
                applied=dt.date(2024, 3, 1),
                start=dt.date(2024, 8, 18),
                end=dt.date(2025, 6, 20),
                status="Fullført",
            ),
            pupil(PID_B, year=2007, applied=dt.date(2025, 3, 1), start=None, status="Venter"),
        ],
    )
    write_tm(
        landing,
        "tm_20250301.json",
        [
            tm_case(
                "TM-2023-00001",
                PID_C,
                events=[
                    {"type": "mobilised", "date": "2024-01-09"},
                    {"type": "school_place_applied", "date": "2024-02-01"},
                    {"type": "school_place_started", "date": "2025-08-15"},
                ],
            )
        ],
        exported_at="2025-03-01T02:00:00+01:00",
    )
    summary = load(landing, warehouse, as_of=dt.date(2024, 12, 31), audit=True)
    assert summary.published, summary.audit_failures
    assert rows(warehouse, "select stage, source, end_date, end_type from marts.stage_spell order by stage") == [
        ("combination", "combination_classes", None, "ongoing"),
        ("intro", "intro", None, "ongoing"),
    ]
    assert rows(warehouse, "select source, status, wait_days from marts.school_place_wait order by source") == [
        ("combination_classes", "started", (dt.date(2024, 8, 18) - dt.date(2024, 3, 1)).days),
        ("trondelag_model", "waiting", (dt.date(2024, 12, 31) - dt.date(2024, 2, 1)).days),
    ]
    assert rows(
        warehouse, "select max(event_date) <= date '2024-12-31', count(distinct person_id) from core.event"
    ) == [(True, 2)]
    assert rows(warehouse, "select count(*) from core.person where person_id = ?", [PID_B]) == [(0,)]


def _first_delivery_files(landing: Path, which: str) -> None:
    if which == "older":  # delivered 2023-12-31 by 5001
        write_intro(landing, "intro_5001_20231231.csv", [intro_row(PID_A, "5001", "bosatt", "10.01.2023")])
    else:  # the same event, delivered a year later, by 1103 (file name sorts first)
        write_intro(
            landing,
            "intro_1103_20241231.csv",
            [intro_row(PID_A, "1103", "bosatt", "10.01.2023"), intro_row(PID_B, "1103", "bosatt", "10.06.2024")],
        )


@pytest.mark.parametrize("arrival", [("older", "newer"), ("newer", "older"), ("together",)])
def test_the_first_delivery_is_decided_by_the_delivery_date_not_the_file_name_or_arrival(tmp_path, arrival):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    if arrival == ("together",):
        _first_delivery_files(landing, "newer")
        _first_delivery_files(landing, "older")
        load(landing, warehouse)
    else:
        for which in arrival:
            _first_delivery_files(landing, which)
            load(landing, warehouse)
    assert rows(warehouse, "select settlement_municipality_code from core.person where person_id = ?", [PID_A]) == [
        ("5001",)
    ]
    assert rows(warehouse, "select source_file from core.event where person_id = ?", [PID_A]) == [
        ("intro_5001_20231231.csv",)
    ]
    # the books follow: the later delivery's copy is the duplicate, whichever arrived first
    assert rows(
        warehouse, "select file_name, rows_read, rows_loaded, rows_duplicate from audit.file_log order by file_name"
    ) == [("intro_1103_20241231.csv", 2, 1, 1), ("intro_5001_20231231.csv", 1, 1, 0)]


def test_files_with_the_same_delivery_date_are_ordered_by_arrival(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    # same delivery date; the file that arrived first sorts last by name: arrival decides
    write_intro(landing, "intro_5035_20241231.csv", [intro_row(PID_A, "5035", "bosatt", "10.01.2023", year=1991)])
    time.sleep(0.05)
    write_intro(landing, "intro_5001_20241231.csv", [intro_row(PID_A, "5001", "bosatt", "10.01.2023", year=1990)])
    load(landing, warehouse)
    assert rows(warehouse, "select settlement_municipality_code, birth_year from core.person") == [("5035", 1991)]


def test_a_delivery_date_in_the_future_is_refused_and_never_becomes_the_newest_delivery(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    future = dt.date.today() + dt.timedelta(days=400)
    write_tm(
        landing,
        f"tm_{future:%Y%m%d}.json",
        [
            tm_case(
                "TM-2023-00001",
                PID_A,
                events=[
                    {"type": "mobilised", "date": "2023-01-09"},
                    {"type": "left_programme", "date": "2023-02-01", "reason": "health"},
                ],
            )
        ],
        exported_at=f"{future.isoformat()}T02:00:00+01:00",
    )
    write_tm(
        landing,
        "tm_20250301.json",
        [
            tm_case(
                "TM-2023-00001",
                PID_A,
                events=[
                    {"type": "mobilised", "date": "2023-01-09"},
                    {"type": "work_training_started", "date": "2023-02-01"},
                ],
            )
        ],
        exported_at="2025-03-01T02:00:00+01:00",
    )
    load(landing, warehouse)
    assert rows(warehouse, "select file_name, status from audit.file_log order by file_name") == [
        ("tm_20250301.json", "loaded"),
        (f"tm_{future:%Y%m%d}.json", "quarantined"),
    ]
    assert rows(warehouse, "select rule from audit.quarantine") == [("delivery_date_in_future",)]
    assert rows(warehouse, "select stage, end_type from marts.stage_spell") == [("work_training", "ongoing")]


def test_a_build_as_of_an_earlier_date_than_the_published_one_is_not_refused_by_the_row_count_guard(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    people = [f"{i:064x}" for i in range(1, 61)]
    write_intro(
        landing,
        "intro_5001_20251231.csv",
        [intro_row(p, "5001", "bosatt", f"{1 + i % 28:02d}.0{1 + i % 9}.{2022 + i % 3}") for i, p in enumerate(people)]
        + [intro_row(p, "5001", "startet", f"{1 + i % 28:02d}.1{i % 3}.{2022 + i % 3}") for i, p in enumerate(people)],
    )
    assert load(landing, warehouse, audit=True).published
    earlier = load(landing, warehouse, as_of=dt.date(2023, 1, 31), audit=True)
    assert earlier.published, earlier.audit_failures
    assert rows(warehouse, "select max(event_date) <= date '2023-01-31' from core.event") == [(True,)]


def test_an_end_and_a_restart_on_the_same_day_are_two_spells_and_no_end_is_lost(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_intro(
        landing,
        "intro_5001_20241231.csv",
        [
            intro_row(PID_A, "5001", "startet", "01.02.2023"),
            intro_row(PID_A, "5001", "avbrutt", "01.06.2023", detail="helse"),
            intro_row(PID_A, "5001", "startet", "01.06.2023"),
            intro_row(PID_A, "5001", "fullfort", "01.06.2024"),
            intro_row(PID_B, "5001", "startet", "01.03.2023"),
            intro_row(PID_B, "5001", "fullfort", "01.03.2023"),
        ],
    )
    write_jsonl(
        landing,
        "vo_20241231T020000.jsonl",
        [  # completed A2 and started B1 the same day
            ae_event(PID_A, "started", "2023-01-09"),
            ae_event(PID_A, "completed", "2023-06-01", result="A2"),
            ae_event(PID_A, "started", "2023-06-01"),
            ae_event(PID_A, "completed", "2024-06-01", result="B1"),
        ],
    )
    write_tm(
        landing,
        "tm_20250301.json",
        [
            tm_case(
                "TM-2023-00001",
                PID_C,
                events=[
                    {"type": "work_training_started", "date": "2023-02-01"},
                    {"type": "work_training_ended", "date": "2023-06-01"},
                    {"type": "work_training_started", "date": "2023-06-01"},
                    {"type": "left_programme", "date": "2024-01-15", "reason": "no_contact"},
                ],
            )
        ],
        exported_at="2025-03-01T02:00:00+01:00",
    )
    load(landing, warehouse)
    spells = rows(
        warehouse,
        "select person_id, stage, start_date, end_date, end_type, end_reason "
        "from marts.stage_spell order by person_id, stage, start_date",
    )
    d = dt.date
    assert sorted(spells) == sorted(
        [
            (PID_A, "intro", d(2023, 2, 1), d(2023, 6, 1), "dropped_out", "helse"),
            (PID_A, "intro", d(2023, 6, 1), d(2024, 6, 1), "completed", None),
            (PID_B, "intro", d(2023, 3, 1), d(2023, 3, 1), "completed", None),  # a one-day spell
            (PID_A, "norwegian", d(2023, 1, 9), d(2023, 6, 1), "completed", "A2"),
            (PID_A, "norwegian", d(2023, 6, 1), d(2024, 6, 1), "completed", "B1"),
            (PID_C, "work_training", d(2023, 2, 1), d(2023, 6, 1), "completed", None),
            (PID_C, "work_training", d(2023, 6, 1), d(2024, 1, 15), "dropped_out", "no_contact"),
        ]
    )


def test_an_open_case_missing_from_a_newer_export_was_withdrawn_and_does_not_hide_its_renumbered_successor(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    opened = [{"type": "mobilised", "date": "2023-01-09"}, {"type": "work_training_started", "date": "2023-02-01"}]
    write_tm(
        landing,
        "tm_20240301.json",
        [
            tm_case("TM-2023-00001", PID_A, events=opened),
            tm_case(
                "TM-2020-00009",
                PID_B,
                events=[  # closed long ago
                    {"type": "mobilised", "date": "2020-01-09"},
                    {"type": "employed", "date": "2020-03-01", "sector": "health"},
                ],
            ),
        ],
        exported_at="2024-03-01T02:00:00+01:00",
    )
    write_tm(
        landing,
        "tm_20250301.json",
        [tm_case("TM-2024-00077", PID_A, events=opened + [{"type": "work_training_ended", "date": "2023-06-01"}])],
        exported_at="2025-03-01T02:00:00+01:00",
    )
    load(landing, warehouse)
    assert rows(
        warehouse, "select person_id = ?, stage, end_date, end_type from marts.stage_spell order by 1 desc", [PID_A]
    ) == [
        (True, "work_training", dt.date(2023, 6, 1), "completed"),
        (False, "work", None, "ongoing"),
    ]  # a case closed > 24 months ago may drop out
    assert rows(
        warehouse, "select count(*) from core.event where person_id = ? and event_type = 'mobilised'", [PID_A]
    ) == [(1,)]


def test_exports_with_and_without_a_utc_offset_load_together(tmp_path):
    """Review finding: two valid Trøndelag-model exports, one stamped with an offset and
    one without, in the same load. Staging batches files per table; a batch that Polars
    cannot combine must never stop the load (it stopped every load, every night)."""
    landing = tmp_path / "landing"
    write_tm(landing, "tm_20240301.json", [tm_case()], exported_at="2024-03-01T02:00:00+01:00")
    write_tm(
        landing,
        "tm_20240302.json",
        [tm_case(), tm_case(case_id="TM-2023-00002", pid=PID_B)],
        exported_at="2024-03-02T02:00:00",
    )
    summary = load(landing, tmp_path / "wh" / "warehouse.duckdb")
    assert summary.counts.files_loaded == 2 and summary.counts.files_refused == 0
    with duckdb.connect(str(tmp_path / "wh" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(distinct person_id) from core.person").fetchone()[0] == 2
