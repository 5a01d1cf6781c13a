"""Issue 15: the follow-up list, delivery freshness, the alert's text and the access log.

Cheap first: the two models are run in an in-memory DuckDB on hand-made input tables
(each rule a case), the alert's text and the access log directly. Then one hand-made
landing zone loaded twice (no Prefect, no Great Expectations: the models and their key
tests run as in every load): a municipality that delivered every month stops, and the
second load, a month and a half later, flags it in the summary, on Datakvalitet and on
the pages whose figures it affects (Streamlit's AppTest), and only for users whose
scope includes it. The list on the `loaded` county is checked against its own rules.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests import helpers as h
from warehouse import build as models

D = dt.date


def _run_model(con, name: str, as_of: D, days: int = 60, wait_days: int = 90) -> pl.DataFrame:
    models.load_reference(con)
    con.execute("set variable as_of = ?::date", [as_of])
    con.execute("set variable follow_up_days = ?::integer", [days])
    con.execute("set variable follow_up_wait_days = ?::integer", [wait_days])
    con.execute("create schema if not exists marts")
    con.execute(f"create or replace table {name} as {models.load_models()[name].sql}")
    return con.sql(f"select * from {name}").pl()


# -- delivery freshness -------------------------------------------------------------------------
def _file_log(con, files: list[tuple[str, str, D]]) -> None:
    con.execute("create schema if not exists audit")
    con.execute("create or replace table audit.file_log (file_name varchar, source varchar, delivery_date date)")
    con.executemany("insert into audit.file_log values (?, ?, ?)", files)


MONTHLY_STEINKJER = [(f"intro_5006_2026{m:02d}05.csv", "intro", D(2026, m, 5)) for m in range(1, 8)]
YEARLY_SCHOOL = [
    (f"kombinasjon_{h.SCHOOL}_{y - 1}-{y}_{y}0620.xlsx", "combination_classes", D(y, 6, 20)) for y in (2023, 2024, 2025)
]
SINGLE = [("intro_5001_20250101.csv", "intro", D(2025, 1, 1))]


def _freshness(as_of: D) -> dict[tuple[str, str], dict]:
    with duckdb.connect() as con:
        _file_log(
            con,
            MONTHLY_STEINKJER
            + YEARLY_SCHOOL
            + SINGLE
            + [
                ("vo_20260101T020000.jsonl", "adult_education", D(2026, 1, 1)),
                ("vo_20260701T020000.jsonl", "adult_education", D(2026, 7, 1)),
            ],
        )
        frame = _run_model(con, "marts.delivery_freshness", as_of)
    return {(r["source"], r["provider_code"]): r for r in frame.iter_rows(named=True)}


def test_a_monthly_municipality_is_flagged_only_once_its_rhythm_is_broken():
    on_time = _freshness(D(2026, 8, 1))[("intro", "5006")]
    assert on_time["usual_gap_days"] in (30, 31) and on_time["deliveries"] == 7
    assert on_time["provider_name"] == "Steinkjer" and on_time["municipality_code"] == "5006"
    assert not on_time["overdue"]
    assert not _freshness(D(2026, 8, 18))[("intro", "5006")]["overdue"]  # late, but within the grace
    late = _freshness(D(2026, 9, 1))[("intro", "5006")]
    assert late["overdue"] and late["last_delivery"] == D(2026, 7, 5) and late["days_late"] > 0


def test_a_yearly_source_is_not_flagged_monthly_and_a_single_delivery_has_no_rhythm():
    for as_of in (D(2025, 8, 1), D(2026, 1, 15), D(2026, 9, 1)):  # months after the June list: normal
        school = _freshness(as_of)[("combination_classes", h.SCHOOL)]
        assert school["usual_gap_days"] in (365, 366) and not school["overdue"], as_of
    assert _freshness(D(2027, 2, 1))[("combination_classes", h.SCHOOL)]["overdue"]  # a whole year missed
    single = _freshness(D(2026, 11, 1))[("intro", "5001")]
    assert single["deliveries"] == 1 and single["usual_gap_days"] is None and not single["overdue"]
    source = _freshness(D(2026, 11, 1))[("adult_education", "adult_education")]
    assert source["provider_kind"] == "source" and not source["overdue"]
    # a delivery dated after the build's reference date does not count yet
    assert _freshness(D(2026, 3, 1))[("intro", "5006")]["deliveries"] == 2


# -- the follow-up list's rules ---------------------------------------------------------------
SPELL_COLUMNS = "person_id, stage, source, start_date, end_date, end_type, end_reason, municipality_code, school_orgnr"


def _follow_up(
    spells: list[tuple], waits: list[tuple], as_of=D(2026, 11, 1), days: int = 60
) -> dict[tuple[str, str], dict]:
    with duckdb.connect() as con:
        con.execute("create schema marts")
        con.execute("""create table marts.stage_spell (person_id varchar, stage varchar, source varchar,
                       start_date date, end_date date, end_type varchar, end_reason varchar,
                       municipality_code varchar, school_orgnr varchar)""")
        con.execute("""create table marts.school_place_wait (person_id varchar, source varchar, stage varchar,
                       school_orgnr varchar, municipality_code varchar, applied_date date, status varchar,
                       wait_days integer)""")
        if spells:
            con.executemany(
                f"insert into marts.stage_spell ({SPELL_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?)", spells
            )
        if waits:
            con.executemany("insert into marts.school_place_wait values (?, ?, ?, ?, ?, ?, ?, ?)", waits)
        frame = _run_model(con, "marts.follow_up", as_of, days)
    return {(r["person_id"], r["reason"]): r for r in frame.iter_rows(named=True)}


def test_who_is_on_the_follow_up_list_and_who_is_not():
    CENTRE = h.CENTRE
    spells = [
        # a: dropped out of Norwegian in September, nothing since → on the list at once
        ("a", "norwegian", "adult_education", D(2026, 1, 5), D(2026, 9, 1), "dropped_out", None, "5006", CENTRE),
        # b: completed intro in July (>60 days), nothing since → no next step
        ("b", "intro", "intro", D(2024, 7, 1), D(2026, 7, 1), "completed", None, "5006", None),
        # c: completed in October (<60 days) → not yet
        ("c", "intro", "intro", D(2024, 7, 1), D(2026, 10, 1), "completed", None, "5006", None),
        # d: completed Norwegian, still on intro → followed there
        ("d", "norwegian", "adult_education", D(2025, 1, 1), D(2026, 3, 1), "completed", "B1", "5006", CENTRE),
        ("d", "intro", "intro", D(2025, 1, 1), None, "ongoing", None, "5006", None),
        # e: dropped out, then started again elsewhere → the drop-out is behind them; but the new
        # stage ended in June with nothing since → no next step, for the newer stage
        ("e", "intro", "intro", D(2024, 1, 1), D(2026, 2, 1), "dropped_out", "helse", "5006", None),
        ("e", "work_training", "trondelag_model", D(2026, 4, 1), D(2026, 6, 1), "completed", None, "5006", None),
        # f: completed, then applied for a school place after it → not on the list for the end
        (
            "f",
            "primary",
            "adult_education",
            D(2025, 1, 1),
            D(2026, 6, 1),
            "completed",
            "grunnskolebevis",
            "5001",
            CENTRE,
        ),
        # g: left a stage (moved) in May, nothing since → no next step (transferred counts as leaving)
        ("g", "intro", "intro", D(2024, 1, 1), D(2026, 5, 1), "transferred", "flyttet", "5001", None),
    ]
    waits = [
        ("f", "adult_education", "upper_secondary", h.SCHOOL, "5001", D(2026, 6, 15), "started", 30),
        # h: waiting since June: 139 days > 90 → long wait; i: waiting 31 days → not yet
        ("h", "combination_classes", "combination", h.SCHOOL, "5006", D(2026, 6, 15), "waiting", 139),
        ("i", "combination_classes", "combination", h.SCHOOL, "5006", D(2026, 10, 1), "waiting", 31),
    ]
    listed = _follow_up(spells, waits)
    assert set(listed) == {
        ("a", "dropped_out"),
        ("b", "no_next_step"),
        ("e", "no_next_step"),
        ("g", "no_next_step"),
        ("h", "long_wait"),
    }
    assert listed[("e", "no_next_step")]["stage"] == "work_training"
    a = listed[("a", "dropped_out")]
    assert (a["stage"], a["event_date"], a["days_since"], a["listed_from"]) == (
        "norwegian",
        D(2026, 9, 1),
        61,
        D(2026, 9, 1),
    )
    assert a["municipality_name"] == "Steinkjer" and a["school_orgnr"] == CENTRE
    b = listed[("b", "no_next_step")]
    assert b["listed_from"] == D(2026, 8, 30) and b["days_since"] == 123
    assert listed[("h", "long_wait")]["listed_from"] == D(2026, 9, 14)  # the first day past 90
    # the threshold is a setting: with 20 days, c (31 days ago) is on the list too
    assert ("c", "no_next_step") in _follow_up(spells, waits, days=20)


# -- a municipality stops delivering: two loads, the summary, the alert's record, the pages ----
def _pid(label: str) -> str:
    import hashlib

    return hashlib.sha256(label.encode()).hexdigest()


def _month_file(landing: Path, muni: str, month: int, dropout_of: str | None = None) -> None:
    """One month's delivery of a municipality: a person settled and started that month (and,
    optionally, another person's drop-out)."""
    pid, day = _pid(f"{muni}-{month}"), f"02.{month:02d}.2026"
    rows = [h.intro_row(pid, muni, "bosatt", day), h.intro_row(pid, muni, "startet", f"03.{month:02d}.2026")]
    if dropout_of:
        rows.append(h.intro_row(dropout_of, muni, "avbrutt", f"04.{month:02d}.2026", detail="helse"))
    h.write_intro(landing, f"intro_{muni}_2026{month:02d}05.csv", rows)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """Steinkjer (5006) and Trondheim (5001) deliver monthly from January; Steinkjer's last
    file is July's. Load 1 as of 1 August; load 2 as of 1 November with Trondheim's August to
    October files, October's with a new drop-out."""
    from flows.pipeline import load_without_prefect

    root = tmp_path_factory.mktemp("stopped")
    landing, warehouse = root / "landing", root / "wh" / "warehouse.duckdb"
    for month in range(1, 8):
        _month_file(landing, "5006", month, dropout_of=_pid("5006-1") if month == 7 else None)
        _month_file(landing, "5001", month)
    first = load_without_prefect(str(landing), str(warehouse), D(2026, 8, 1), audit=False)
    for month in (8, 9, 10):
        _month_file(landing, "5001", month, dropout_of=_pid("5001-2") if month == 10 else None)
    second = load_without_prefect(str(landing), str(warehouse), D(2026, 11, 1), audit=False)
    return first, second, warehouse


def test_the_second_load_warns_of_the_stopped_municipality_and_counts_only_what_is_new(stopped):
    first, second, warehouse = stopped
    assert first.published and second.published
    assert first.overdue == []
    assert second.overdue == [
        "Tall fra Steinkjer mangler siden 5. juli 2026 (introprogrammet, levert omtrent hver 31. dag)"
    ]
    assert "WARNING: 1 overdue deliveries" in second.as_markdown()
    assert "Tall fra Steinkjer mangler siden 5. juli 2026" in second.as_markdown()
    # Steinkjer's July drop-out was on the first build's list already: only Trondheim's is new
    assert second.new_follow_up == {"dropouts": 1, "crossed": 0, "newly_overdue": 1}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        build, dropouts, overdue, counts, text = con.execute(
            "select build_id, new_dropouts, overdue_deliveries, counts, message from audit.follow_up_alert "
            "order by created_at desc limit 1"
        ).fetchone()
        listed = con.execute("select person_id, reason, municipality_code from marts.follow_up order by 3").fetchall()
    assert (build, dropouts, overdue) == (second.load_id, 1, 1)
    assert json.loads(counts)["municipalities"] == [{"code": "5001", "name": "Trondheim", "dropouts": 1, "crossed": 0}]
    # the exact count is in the warehouse (data staff); the notification's text never says "1"
    assert text.startswith("Oppfølging: nye frafall eller nye personer over oppfølgingsfristen siden forrige bygg")
    assert "- Trondheim: færre enn 5 nye frafall" in text and "Tall fra Steinkjer mangler siden 5. juli 2026" in text
    assert "1 nye" not in text
    assert text.rstrip().endswith("/oppfolging")
    assert not re.search(r"[0-9a-f]{64}", text + counts), "no pseudonym in the alert"
    assert (_pid("5006-1"), "dropped_out", "5006") in listed and (_pid("5001-2"), "dropped_out", "5001") in listed


def test_the_comparison_with_the_published_build_counts_only_new_keys(stopped, tmp_path):
    """The candidate is compared with the published build attached beside it (in DuckDB
    since 0.8.0). The same build again (a nightly load with no new files): nothing new, no
    alert. A key that differs only by a missing value is new; a missing value in both
    builds is the same key, as it was when keys were compared as Python tuples."""
    import shutil

    from flows.alerts import compare

    _, _, warehouse = stopped
    candidate, published = tmp_path / "candidate.duckdb", tmp_path / "published.duckdb"
    shutil.copyfile(warehouse, candidate)
    again = compare(candidate, warehouse, "again", D(2026, 11, 1))
    assert not again.anything_new and len(again.overdue) == 1
    with duckdb.connect(str(candidate)) as con:
        con.execute("update marts.follow_up set source = null where person_id = ?", [_pid("5006-1")])
    changed = compare(candidate, warehouse, "changed", D(2026, 11, 1))
    assert (changed.new_dropouts, changed.new_crossed, changed.newly_overdue) == (1, 0, 0)
    assert [m[:3] for m in changed.by_municipality] == [("5006", "Steinkjer", 1)]
    shutil.copyfile(candidate, published)
    assert not compare(candidate, published, "same", D(2026, 11, 1)).anything_new
    assert compare(candidate, tmp_path / "none.duckdb", "first", D(2026, 11, 1)).new_dropouts == 0
    # a published build from before a key column existed is not comparable: nothing is new
    # (it would otherwise make everybody look new, or stop the load at its publish step)
    with duckdb.connect(str(published)) as con:
        con.execute("alter table marts.follow_up drop column source")
    older = compare(candidate, published, "older", D(2026, 11, 1))
    assert (older.new_dropouts, older.new_crossed, len(older.overdue)) == (0, 0, 1)


APP = str(Path(__file__).parent.parent / "dashboard" / "app.py")
ROLES = """
[users."leder@test.no"]
role = "leader"
[users."trondheim@test.no"]
role = "adviser"
municipalities = ["5001"]
[users."oppfolging.steinkjer@test.no"]
role = "follow_up"
municipalities = ["5006"]
[users."data@test.no"]
role = "data_staff"
"""


@pytest.fixture
def app_for(stopped, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _, _, warehouse = stopped
    roles = tmp_path / "roles.toml"
    roles.write_text(ROLES, encoding="utf-8")
    monkeypatch.setenv("PATHWAYS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("PATHWAYS_HOME", str(tmp_path / "home"))
    secrets = {
        "auth": {
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": "k" * 40,
            "client_id": "test",
            "client_secret": "test",
            "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
        },
        "pathways": {"roles_file": str(roles), "demo": False},
    }

    def open_(email: str, page: str = "oversikt") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.secrets = secrets
        at.user = {"is_logged_in": True, "email": email, "sub": f"sub-{email}", "name": email}
        at.run()
        if page != "oversikt":
            at.switch_page(f"pages/{page}.py")
            at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


def _notes(at) -> list[str]:
    return [w.value for w in at.warning if "mangler siden" in w.value]


def test_the_flag_appears_on_the_pages_it_affects_within_the_scope(app_for, tmp_path):
    note = "Tall fra Steinkjer mangler siden 5. juli 2026"
    for page in ("oversikt", "frafall", "introprogram"):
        assert any(note in n for n in _notes(app_for("leder@test.no", page))), page
    assert not _notes(app_for("leder@test.no", "ventetid")), "waiting times do not come from the intro files"
    assert not _notes(app_for("trondheim@test.no", "frafall")), "Steinkjer is outside Trondheim's scope"
    staff = app_for("data@test.no", "datakvalitet")
    assert any(note in w.value for w in staff.warning)
    follow = app_for("oppfolging.steinkjer@test.no", "oppfolging")
    assert any(note in n for n in _notes(follow))
    listed = follow.dataframe[0].value
    assert set(listed["Kommune"]) == {"Steinkjer"} and _pid("5006-1") in set(listed["Pseudonym"])
    assert _pid("5001-2") not in set(listed["Pseudonym"]), "Trondheim's drop-out is outside the scope"
    (entry,) = [
        json.loads(line) for line in (tmp_path / "home" / "access" / "follow_up.jsonl").read_text().splitlines()
    ]
    assert (entry["user"], entry["role"], entry["scope"], entry["action"]) == (
        "oppfolging.steinkjer@test.no",
        "follow_up",
        ["5006"],
        "view",
    )
    assert entry["persons"] == len(listed)


def test_the_list_query_is_for_the_follow_up_role_within_its_scope_only(stopped):
    from dashboard import queries

    _, _, warehouse = stopped
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for role in ("leader", "adviser", "data_staff"):
            with pytest.raises(PermissionError):
                queries.follow_up_list(con, role, queries.COUNTY)
        both = queries.follow_up_list(con, "follow_up", ("5001", "5006"))
        steinkjer = queries.follow_up_list(con, "follow_up", ("5001", "5006"), (), ("5006",))
        outside = queries.follow_up_list(con, "follow_up", ("5001",), (), ("5006",))  # a place outside: nothing
        county = queries.follow_up_list(con, "follow_up", queries.COUNTY)  # never the whole county
    assert set(both["municipality_name"]) == {"Steinkjer", "Trondheim"}
    assert set(steinkjer["municipality_name"]) == {"Steinkjer"} and steinkjer.height < both.height
    assert outside.height == 0 and county.height == 0


def test_the_access_log_only_grows_and_is_private(tmp_path):
    from dashboard import access_log

    path = tmp_path / "access" / "follow_up.jsonl"
    access_log.append("a@test.no", "follow_up", ("5006",), "view", 3, "b1", path=path)
    access_log.append("a@test.no", "follow_up", ("5006",), "download", 3, "b1", path=path)
    first = path.read_bytes()
    access_log.append("b@test.no", "follow_up", ("5001",), "view", 0, "b2", path=path)
    assert path.read_bytes().startswith(first), "earlier lines are never rewritten"
    assert [e["action"] for e in access_log.read(path=path)] == ["view", "download", "view"][::-1]
    assert path.stat().st_mode & 0o777 == 0o640 and path.parent.stat().st_mode & 0o777 == 0o750
    path.write_bytes(path.read_bytes() + b'{"cut short')  # a line cut by a full disk hides nothing else
    assert len(access_log.read(path=path)) == 3


def test_a_user_name_with_a_unicode_line_separator_neither_hides_its_entry_nor_forges_one(tmp_path):
    """str.splitlines takes U+2028, U+2029 and U+0085 for line ends: a claim holding one
    (a self-chosen preferred_username) used to cut its own entry in two, so that the
    download vanished from the log as Datakvalitet reads it."""
    from dashboard import access_log

    path = tmp_path / "access" / "follow_up.jsonl"
    fake = '{"at": "2026-01-01T00:00:00+00:00", "user": "innocent@test.no", "action": "download", "persons": 9}'
    for sep in ("\u2028", "\u2029", "\x85", "\r"):
        access_log.append(f"mallory@test.no{sep}{fake}{sep}", "follow_up", ("5006",), "download", 3, "b1", path=path)
    entries = access_log.read(path=path)
    assert len(entries) == 4 and all(e["user"].startswith("mallory@test.no") for e in entries)
    assert all(e["action"] == "download" and e["persons"] == 3 for e in entries)
    assert path.read_bytes().count(b"\n") == 4


def test_no_other_role_reaches_the_list_by_its_address_and_nothing_is_logged(app_for, stopped, tmp_path, monkeypatch):
    """The attack review: leader, adviser and data staff open the list's page directly. The
    page is not registered for them (Streamlit serves no such address), and the page itself
    refuses them even when run with their session."""
    from streamlit.testing.v1 import AppTest

    from dashboard import queries
    from dashboard.access import Access

    for email in ("leder@test.no", "trondheim@test.no", "data@test.no"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app_for(email, "oppfolging")
    page = str(Path(APP).parent / "pages" / "oppfolging.py")
    for access in (
        Access("leader", queries.COUNTY),
        Access("adviser", ("5006",)),
        Access("data_staff", queries.COUNTY),
    ):
        at = AppTest.from_file(page, default_timeout=60)
        at.session_state["access"] = access
        at.session_state["filters"] = queries.Filters(scope=access.scope)
        at.session_state["build_id"] = "b"
        at.run()
        assert [e.value for e in at.error] == ["Denne siden er bare for oppfølgingstjenesten."], access
        assert not at.dataframe, access
    assert not (tmp_path / "home" / "access" / "follow_up.jsonl").exists()
