"""The incremental build (warehouse/incremental.py) against the full build it stands in for.

After every load here, the published warehouse is copied and built again in full from
the same raw rows; every model table must be identical (EXCEPT ALL both ways). Each case
is one a person-by-person rebuild could get wrong: the persons a load changes are not
always the persons in its files.

Loads run the real readers, Pandera, staging, SQL models and key tests
(`load_without_prefect`, as tests/test_properties.py); the served path through Prefect is
tested at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from flows.config import current as current_settings
from flows.pipeline import load, load_without_prefect
from flows.stage import reconcile
from tests.helpers import (
    CENTRE,
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
from warehouse import build as b
from warehouse import incremental

AS_OF = dt.date(2026, 11, 1)
E1 = "6f1c2d9e-5a4b-4c3d-8e2f-000000000001"  # an adult-education event id (a UUID, as the contract says)


def model_tables() -> list[str]:
    return [*b.load_models(), b.FORECAST]


BOOKS = "select file_name, sha256, status, rows_loaded, rows_duplicate from audit.file_log"


def differences(warehouse: Path, as_of: dt.date, tmp: Path) -> dict[str, tuple[int, int]]:
    """Tables of the warehouse that differ from a full build of the same raw rows, and the
    books (audit.file_log) from books settled for every source after it:
    {table: (rows only in the warehouse, rows only in the full build)}."""
    full = tmp / f"full-{warehouse.stem}.duckdb"
    shutil.copyfile(warehouse, full)
    settings = current_settings()
    with duckdb.connect(str(full)) as con:
        outcome = incremental.build(
            con, as_of, settings.follow_up_days, settings.follow_up_wait_days, incremental=False
        )
        assert outcome.mode == "full" and outcome.to_settle is None
        reconcile(con, "full")
        con.execute(f"attach '{warehouse}' as built (read_only)")
        found = {}
        for table in [*model_tables(), "audit.file_log"]:
            mine = (
                BOOKS.replace("audit.", "built.audit.") if table == "audit.file_log" else f"select * from built.{table}"
            )
            theirs = BOOKS if table == "audit.file_log" else f"select * from {table}"
            only_built = con.execute(f"select count(*) from ({mine} except all {theirs})").fetchall()[0][0]
            only_full = con.execute(f"select count(*) from ({theirs} except all {mine})").fetchall()[0][0]
            if only_built or only_full:
                found[table] = (only_built, only_full)
    full.unlink()
    return found


class County:
    """A landing zone and a warehouse, loaded step by step; after each load the warehouse
    must equal a full build."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.landing = tmp / "landing"
        self.warehouse = tmp / "warehouse.duckdb"
        self.landing.mkdir()

    def load(self, as_of: dt.date = AS_OF) -> str:
        summary = load_without_prefect(str(self.landing), str(self.warehouse), as_of, audit=False)
        assert summary.published, summary.audit_failures
        assert differences(self.warehouse, as_of, self.tmp) == {}, summary.build
        return summary.build

    def rows(self, sql: str, *params) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()


def persons(build: str) -> int:
    assert build.startswith("incremental ("), build
    return int(build.removeprefix("incremental (").split(" ")[0])


@pytest.fixture
def small_county(tmp_path) -> County:
    c = County(tmp_path)
    write_intro(
        c.landing,
        "intro_5001_20230401.csv",
        [
            intro_row(PID_A, "5001", "bosatt", "15.03.2023"),
            intro_row(PID_A, "5001", "startet", "20.03.2023"),
            intro_row(PID_B, "5001", "bosatt", "01.02.2023"),
        ],
    )
    write_jsonl(c.landing, "vo_20230501T020000.jsonl", [ae_event(PID_B, "applied", "2023-04-20", event_id=E1)])
    write_tm(c.landing, "tm_20240301.json", [tm_case("TM-1", PID_C)])
    assert c.load().startswith("full (no earlier build"), "the first build has nothing to start from"
    return c


def test_a_new_file_rebuilds_its_persons_only_and_equals_a_full_build(small_county):
    write_intro(small_county.landing, "intro_5035_20240101.csv", [intro_row(PID_A, "5035", "bosatt", "01.12.2023")])
    build = small_county.load()
    assert persons(build) == 1 and "stg_intro" in build
    # the person who moved has both settlements; the others are as they were
    assert small_county.rows(
        "select count(*) from staging.stg_intro where person_id = ? and event = 'bosatt'", PID_A
    ) == [(2,)]


def test_the_aggregates_are_kept_only_while_nothing_they_read_changed(small_county, tmp_path):
    """Nothing new: nobody rebuilt, the aggregates and the forecast kept. Each case after it
    changes one thing the aggregates read, and must rebuild them (one county for all four:
    each load is compared with a full build by County.load)."""
    kept = "incremental (0 persons; no source changed; nothing else changed: aggregates kept)"
    assert small_county.load() == kept

    # the file log is read by a mart directly, not through staging: a row there and nothing
    # else (no staged row, no person) must still rebuild them
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(small_county.warehouse, copy)
    settings = current_settings()
    with duckdb.connect(str(copy)) as con:
        con.execute("""insert into audit.file_log (file_name, source, sha256, status, delivery_date)
                       values ('intro_5035_20240101.csv', 'intro', 'x', 'quarantined', date '2024-01-01')""")
        outcome = incremental.build(con, AS_OF, settings.follow_up_days, settings.follow_up_wait_days)
        assert outcome.describe() == "incremental (0 persons; no source changed)"
        assert con.execute("select count(*) from marts.delivery_freshness where provider_code = '5035'").fetchall() == [
            (1,)
        ]

    # a later delivery repeats an event: the books (audit.file_log) move its row to the
    # duplicates after the build; the next load, with nothing new, must not take that for
    # a change and rebuild everything again (found in review)
    write_intro(small_county.landing, "intro_5001_20240101.csv", [intro_row(PID_A, "5001", "bosatt", "15.03.2023")])
    assert "aggregates kept" not in small_county.load()
    assert small_county.rows(
        "select rows_loaded, rows_duplicate from audit.file_log where file_name = 'intro_5001_20240101.csv'"
    ) == [(0, 1)]
    assert small_county.load() == kept

    # every row of a new municipality's file refused: no person and no staged row change, but
    # the file log does, and delivery freshness counts refused files (the provider delivers)
    write_intro(small_county.landing, "intro_5035_20240101.csv", [intro_row(PID_A, "5035", "bosatt", "31.02.2023")])
    assert "aggregates kept" not in small_county.load()
    assert small_county.rows("select deliveries from marts.delivery_freshness where provider_code = '5035'") == [(1,)]


def test_a_staging_row_of_nobody_is_refused_as_a_full_build_would(small_county):
    """A row without a person cannot be replaced person by person: the incremental build
    replaces the whole staging table, so the key test refuses the build as it would a full
    one (found in review: the row was silently left out). Validation never lets such a row
    in; here it is written into the raw table by hand."""
    from flows.pipeline import AuditFailed

    with duckdb.connect(str(small_county.warehouse)) as con:
        con.execute("insert into raw.intro_event select * replace (null as deltaker_pid) from raw.intro_event limit 1")
    write_intro(small_county.landing, "intro_5035_20240101.csv", [intro_row(PID_A, "5035", "bosatt", "01.12.2023")])
    with pytest.raises(AuditFailed, match="stg_intro"):
        load_without_prefect(str(small_county.landing), str(small_county.warehouse), AS_OF, audit=False)


def test_a_file_in_the_wrong_order_moves_an_event_to_the_copy_delivered_first(small_county):
    # an older delivery (dated before the loaded one) arrives late with the same start in
    # another municipality: by the contract the first delivery decides, so the start moves
    write_intro(small_county.landing, "intro_5006_20230325.csv", [intro_row(PID_A, "5006", "startet", "20.03.2023")])
    build = small_county.load()
    assert persons(build) == 1
    assert small_county.rows(
        "select municipality_code from staging.stg_intro where person_id = ? and event = 'startet'", PID_A
    ) == [("5006",)]


def test_an_event_delivered_again_in_an_earlier_export_moves_to_that_export(small_county):
    # a late export dated before the loaded one holds the same event E1 of B: the first
    # delivery counts, so B's event now comes from the late file (B is rebuilt, nobody else)
    write_jsonl(
        small_county.landing, "vo_20230425T020000.jsonl", [ae_event(PID_B, "applied", "2023-04-20", event_id=E1)]
    )
    build = small_county.load()
    assert persons(build) == 1
    assert small_county.rows("select person_id, source_file from staging.stg_adult_education") == [
        (PID_B, "vo_20230425T020000.jsonl")
    ]


def test_an_event_delivered_first_under_another_person_touches_both(small_county):
    # a late export dated before the loaded one holds E1 under person A: the first delivery
    # counts, so E1 was A's all along and B loses it, although B is in no new file
    write_jsonl(
        small_county.landing, "vo_20230425T020000.jsonl", [ae_event(PID_A, "applied", "2023-04-20", event_id=E1)]
    )
    assert persons(small_county.load()) == 2
    assert small_county.rows("select person_id from staging.stg_adult_education") == [(PID_A,)]
    assert small_county.rows("select count(*) from marts.school_place_wait where person_id = ?", PID_B) == [(0,)]


def test_a_newer_class_list_that_drops_a_pupil_touches_the_pupil_it_does_not_list(small_county):
    write_workbook(small_county.landing, f"kombinasjon_{SCHOOL}_2023-2024_20230901.xlsx", [pupil(PID_A), pupil(PID_B)])
    assert persons(small_county.load()) == 2
    # the school's newer list for the same school year no longer has B
    write_workbook(small_county.landing, f"kombinasjon_{SCHOOL}_2023-2024_20231001.xlsx", [pupil(PID_A)])
    build = small_county.load()
    assert persons(build) == 2, "B dropped; A's row now comes from the newer list (its source_file)"
    assert small_county.rows("select person_id from staging.stg_combination_classes") == [(PID_A,)]
    assert small_county.rows(
        "select count(*) from marts.school_place_wait where source = 'combination_classes' and person_id = ?", PID_B
    ) == [(0,)]


def test_an_export_that_no_longer_lists_a_case_withdraws_it_for_a_person_in_no_new_row(small_county):
    # TM-1 (person C) is open; a newer export must list it, and lists only another case
    write_tm(
        small_county.landing, "tm_20240401.json", [tm_case("TM-2", PID_A)], exported_at="2024-04-01T02:00:00+01:00"
    )
    build = small_county.load()
    assert persons(build) == 2, "A is new, C's case was withdrawn"
    assert small_county.rows("select distinct person_id from marts.stage_spell where source = 'trondelag_model'") == [
        (PID_A,)
    ]


def test_a_case_moved_to_another_person_touches_both(small_county):
    # the newest export of TM-1 names person B (a registration corrected to another person)
    write_tm(
        small_county.landing, "tm_20240401.json", [tm_case("TM-1", PID_B)], exported_at="2024-04-01T02:00:00+01:00"
    )
    build = small_county.load()
    assert persons(build) == 2
    assert small_county.rows("select distinct person_id from staging.stg_trondelag_model") == [(PID_B,)]


def test_persons_who_share_a_case_are_rebuilt_together(small_county):
    """The models read a Trøndelag-model case as a whole (a drop-out belongs to the stage
    the case was on), so whoever shares a case with a touched person is touched too.

    The readers refuse a case listed twice under two persons, so no delivery can bring
    this about today; the rows are put into raw directly, as a reader with other rules
    would, to show the build does not depend on that rule."""
    events = [
        {"type": "mobilised", "date": "2023-01-09"},
        {"type": "left_programme", "date": "2023-04-01", "reason": "other"},
    ]
    write_tm(
        small_county.landing,
        "tm_20240401.json",
        [tm_case("TM-1", PID_C, events=events)],
        exported_at="2024-04-01T02:00:00+01:00",
    )
    small_county.load()
    left = "select stage from core.event where person_id = ? and event_type = 'left_programme'"
    assert small_county.rows(left, PID_C) == [("work_training",)]
    with duckdb.connect(str(small_county.warehouse)) as con:  # B's part of TM-1: an application in March
        con.execute(f"""
            insert into raw.trondelag_model_event
            select * replace (
                '{PID_B}' as pid, 'school_place_applied' as type, date '2023-03-01' as date,
                event_index + 100 as event_index, row_number + 100 as row_number)
            from raw.trondelag_model_event
            where case_id = 'TM-1' and type = 'mobilised' and source_file = 'tm_20240401.json'""")
    build = small_county.load()  # equal to a full build: C was rebuilt although only B's rows are new
    assert persons(build) == 2, build
    assert small_county.rows(left, PID_C) == [("upper_secondary",)], (
        "C's drop-out now belongs to the stage B's row opened"
    )


def test_a_settlement_plan_rebuilds_the_forecast_and_nobody(small_county):
    folder = small_county.landing / "settlement_plan"
    folder.mkdir()
    (folder / "bosetting_20240115.csv").write_text(
        "kommunenr;aar;anmodet;vedtatt;herav_ema\r\n5001;2024;40;35;2\r\n", encoding="utf-8"
    )
    build = small_county.load()
    assert build == "incremental (0 persons; no source changed)", build
    assert small_county.rows("select count(*) from marts.settlement_plan") == [(1,)]


def test_a_new_date_other_settings_or_other_code_build_in_full(small_county, monkeypatch):
    assert small_county.load(dt.date(2026, 11, 2)).startswith("full (a new as-of date")
    monkeypatch.setenv("PATHWAYS_FOLLOW_UP_DAYS", "30")
    assert small_county.load(dt.date(2026, 11, 2)) == "full (the follow-up settings changed)"
    with duckdb.connect(str(small_county.warehouse)) as con:  # as if built by another release
        con.execute("update meta.build_state set code_digest = 'other'")
    assert small_county.load(dt.date(2026, 11, 2)) == "full (the models or the build code changed)"
    monkeypatch.setenv("PATHWAYS_INCREMENTAL_BUILD", "false")
    assert small_county.load(dt.date(2026, 11, 2)) == "full (incremental builds are switched off)"
    monkeypatch.delenv("PATHWAYS_INCREMENTAL_BUILD")
    assert persons(small_county.load(dt.date(2026, 11, 2))) == 0


def test_a_model_that_reads_an_aggregate_cannot_be_rebuilt_per_person(small_county):
    """A `grain: person` model reading a table not kept per person would silently read
    only part of it; the build refuses that and builds in full."""
    models = b.load_models()
    models["dash.wait"].depends_on.add("marts.funnel")
    with duckdb.connect(str(small_county.warehouse)) as con:
        b.prepare(con, AS_OF)  # the build's variables, as a build sets them
        reason = incremental.why_full(con, models, AS_OF, (60, 90))
    assert reason == "dash.wait reads marts.funnel, which is not kept per person"


def test_every_person_model_declares_its_grain_and_every_source_model_its_source():
    """The header lines the incremental build relies on, checked against the tables: a
    model with persons downstream of staging is rebuilt per person, every staging model
    with persons names its source."""
    models = b.load_models()
    for name, model in models.items():
        if name.startswith("staging.") and name not in ("staging.stg_delivery", "staging.stg_settlement_plan"):
            assert model.source, name
    non_person = {"marts.delivery_freshness", "marts.funnel", "marts.settlement_plan"}
    for name, model in models.items():
        if not name.startswith("staging."):
            assert (model.grain == "person") == (name not in non_person), name


def test_a_served_load_reports_its_build_in_the_summary_and_the_run_log(prefect_server, tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write_intro(landing, "intro_5001_20230401.csv", [intro_row(PID_A, "5001", "bosatt", "15.03.2023")])
    first = load(str(landing), str(warehouse), AS_OF)
    write_intro(landing, "intro_5001_20230501.csv", [intro_row(PID_B, "5001", "bosatt", "15.04.2023")])
    second = load(str(landing), str(warehouse), AS_OF)
    assert first.build.startswith("full") and second.build == "incremental (1 person; stg_intro)"
    assert "- build: incremental (1 person; stg_intro)" in second.as_markdown()
    runs = [json.loads(line) for line in (tmp_path / "load_runs.jsonl").read_text().splitlines()]
    assert [r["build"] for r in runs] == [first.build, second.build]
    assert differences(warehouse, AS_OF, tmp_path) == {}


def _forecast_county(loaded, county, tmp_path) -> tuple[Path, Path]:
    """A copy of the synthetic county (enough intakes for a forecast) and its warehouse,
    and one new intro file: three persons settled in October 2026."""
    _, published = loaded
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    shutil.copytree(county, landing)
    shutil.copyfile(published, warehouse)
    rows = [intro_row(pid, "5001", "bosatt", f"{10 + n}.10.2026") for n, pid in enumerate((PID_A, PID_B, PID_C))]
    write_intro(landing, "intro_5001_20261025.csv", rows)
    return landing, warehouse


def test_a_new_file_gives_the_forecast_a_full_build_would(loaded, county, tmp_path):
    landing, warehouse = _forecast_county(loaded, county, tmp_path)
    summary = load_without_prefect(str(landing), str(warehouse), AS_OF, audit=False)
    assert summary.build == "incremental (3 persons; stg_intro)"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        backtest, ahead = con.execute(
            "select count(*) filter (actual_applications is not null), count(*) filter (actual_applications is null) "
            "from marts.school_place_forecast"
        ).fetchall()[0]
    assert backtest > 0 and ahead > 0, "the county is large enough for a forecast and its backtest"
    assert differences(warehouse, AS_OF, tmp_path) == {}


def test_the_forecast_fits_again_only_what_the_new_data_can_change(loaded, county, tmp_path):
    """A forecast made on a past cutoff sees only data dated before it: a file of
    October 2026 cannot change the backtest, which is taken from the last build. Shown
    by marking the last build's backtest: the mark survives, the forecast ahead is new."""
    landing, warehouse = _forecast_county(loaded, county, tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        made = con.execute("select cutoff, digest, unit_rows from meta.forecast_made").fetchall()
        con.execute("delete from meta.forecast_made")
        for cutoff, digest, text in made:
            rows = json.loads(text)
            for row in rows:
                row["expected_applications"] = 999.5 if cutoff < dt.date(2026, 8, 1) else 888.5
            con.execute("insert into meta.forecast_made values (?, ?, ?)", [cutoff, digest, json.dumps(rows)])
    summary = load_without_prefect(str(landing), str(warehouse), AS_OF, audit=False)
    assert summary.build == "incremental (3 persons; stg_intro)"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marks = dict(
            con.execute(
                "select actual_applications is null, list(distinct expected_applications in (999.5, 888.5)) "
                "from marts.school_place_forecast group by all"
            ).fetchall()
        )
    assert marks == {False: [True], True: [False]}, "backtest reused, the forecast ahead fitted again"


def test_a_new_cell_key_secret_builds_in_full(small_county):
    """Every person's record key comes from the secret (dash.person_filter): a new secret
    (the cure for a key collision, warehouse/build.py) must reach every person at once."""
    with duckdb.connect(str(small_county.warehouse)) as con:
        con.execute("delete from meta.cell_key_secret")
        con.execute("insert into meta.cell_key_secret values (?, now()::timestamp)", ["Q" * 48])
    write_intro(small_county.landing, "intro_5001_20240101.csv", [intro_row(PID_A, "5001", "bosatt", "01.12.2023")])
    assert small_county.load() == "full (the cell-key secret changed)"
    assert small_county.load() == "incremental (0 persons; no source changed; nothing else changed: aggregates kept)"


def test_the_code_digest_covers_the_build_code_and_the_libraries(tmp_path, monkeypatch):
    """A release that changes how the tables are computed, in the build's own code or in a
    library that computes them, builds in full: the other persons' rows were computed
    by the code before it."""
    from importlib import resources

    before = incremental.code_digest()
    copies = {name: tmp_path / name for name in ("warehouse", "flows")}
    for name, copy in copies.items():
        shutil.copytree(Path(str(resources.files(name))), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(incremental.resources, "files", lambda name: copies[name])
    assert incremental.code_digest() == before, "the copy digests like the package"
    with open(copies["warehouse"] / "forecast.py", "a", encoding="utf-8") as code:
        code.write("\n# another way to forecast\n")
    changed = incremental.code_digest()
    assert changed != before
    # the books: a source whose staging did not change keeps what the last build settled
    with open(copies["flows"] / "stage.py", "a", encoding="utf-8") as code:
        code.write("\n# another way to settle the books\n")
    assert incremental.code_digest() != changed
    monkeypatch.undo()
    monkeypatch.setattr(incremental, "version", lambda name: "9.9" if name == "duckdb" else "1.0")
    assert incremental.code_digest() != before


def _pid(i: int) -> str:
    import hashlib

    return hashlib.sha256(f"person-{i}".encode()).hexdigest()


def test_ties_inside_a_person_are_decided_the_same_way_every_build(tmp_path):
    """Found by an attack on the incremental build: where a person's rows tie (two courses
    of one level starting and ending the same day at two schools, two records of one file
    and date), a model that picked one by an order with ties gave what the rows' physical
    order happened to give, so two full builds of the same rows differed. Every such pick
    now has a total order: the first full load and a second full build are identical, and
    so is the incremental build after a new file for some of them."""
    from synthetic.model import make_orgnrs

    other = make_orgnrs(97600000, 2)[1]
    c = County(tmp_path)
    events, intro = [], []
    for i in range(3000):
        p, q = _pid(i), _pid(3000 + i)
        for school, muni in ((CENTRE, "5001"), (other, "5035")):
            events += [
                ae_event(p, "started", "2023-04-01", school=school, muni=muni),
                ae_event(p, "completed", "2023-09-01", school=school, muni=muni, result="B1"),
                ae_event(q, "applied", "2023-04-01", school=school, muni=muni),
            ]
        intro += [
            intro_row(p, "5001", "bosatt", "01.01.2023", sex="K"),
            intro_row(p, "5001", "startet", "01.01.2023", sex="M", year="1991"),
        ]
    write_jsonl(c.landing, "vo_20231001T020000.jsonl", events)
    write_intro(c.landing, "intro_5001_20230201.csv", intro)
    c.load()  # a full build, compared with a second full build
    touched = [_pid(i) for i in range(40)] + [_pid(3000 + i) for i in range(40)]
    write_intro(c.landing, "intro_5035_20240101.csv", [intro_row(p, "5035", "bosatt", "01.12.2023") for p in touched])
    assert persons(c.load()) == 80
