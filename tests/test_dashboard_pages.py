"""Fast page tests with Streamlit's AppTest (the user is set directly, as `st.user` would be
after a login; the real login is in tests/test_dashboard_login.py): every page renders, what
is shown or offered for download is protected, each role sees its scope and pages, and
without configuration or a role nobody sees anything."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import disclosure, queries

APP = str(Path(__file__).parent.parent / "dashboard" / "app.py")
PAGES = ["oversikt", "forlop", "kohort", "frafall", "ventetid", "introprogram", "om_tallene"]
COUNT_WORDS = (
    "persons",
    "Personer",
    "Søkere",
    "Totalt",
    "I arbeid",
    "Ventet over",
    "Fullført",
    "Avbrutt",
    "Overført",
    "Pågår",
)
ROLES = """
[users."leder@test.no"]
role = "leader"
[users."steinkjer@test.no"]
role = "adviser"
municipalities = ["5006"]
[users."gauldal@test.no"]
role = "adviser"
regions = ["Gauldal og Røros"]
[users."data@test.no"]
role = "data_staff"
[users."tom@test.no"]
role = "adviser"
"""


@pytest.fixture(scope="module")
def app_env(loaded, tmp_path_factory):
    _, warehouse = loaded
    os.environ["PATHWAYS_WAREHOUSE"] = str(warehouse)
    roles = tmp_path_factory.mktemp("roles") / "roles.toml"
    roles.write_text(ROLES, encoding="utf-8")
    yield {
        "auth": {
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": "k" * 40,
            "client_id": "test",
            "client_secret": "test",
            "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
        },
        "pathways": {"roles_file": str(roles), "demo": False},
    }
    # PATHWAYS_WAREHOUSE is also the loads' `[paths] warehouse`: a later test's load in this
    # worker would otherwise write into this warehouse
    os.environ.pop("PATHWAYS_WAREHOUSE", None)


def _open(secrets: dict, email: str | None, page: str = "oversikt", place: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets = secrets
    at.user = (
        {"is_logged_in": True, "email": email, "sub": f"sub-{email}", "name": email}
        if email
        else {"is_logged_in": False}
    )
    if place:  # the shared filter, as if chosen in the sidebar before opening the page
        at.session_state["f_place"] = place
    at.run()
    if page != "oversikt":
        at.switch_page(f"pages/{page}.py")
        at.run()
    return at


def _bad_counts(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """Counts that are neither hidden nor a multiple of 5 from 5 up."""
    bad = []
    for column in frame.columns:
        if column.lower() in ("avslutningsår", "år", "kull"):  # labels, not counts
            continue
        if not any(w.lower() in column.lower() for w in COUNT_WORDS) and not column.endswith(("mnd", "år")):
            continue
        for value in frame[column].cast(pl.String).to_list():
            if value is not None and value.isdigit() and not disclosure.is_publishable(int(value)):
                bad.append((column, value))
    return bad


@pytest.mark.parametrize("page", [*PAGES, "datakvalitet", "revisjonsrapport"])
def test_page_renders_for_data_staff(app_env, page):
    at = _open(app_env, "data@test.no", page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value not in ("Ingen tilgang", "Logg inn")


@pytest.mark.parametrize("page", [p for p in PAGES if p != "om_tallene"])
def test_counts_on_screen_and_in_downloads_are_protected(app_env, page):
    at = _open(app_env, "gauldal@test.no", page)  # a small region: many groups under 5
    assert not at.exception, [e.value for e in at.exception]
    assert set(at.session_state["filters"].scope) == {"5025", "5026", "5027"}
    # AppTest's session state has no .get()
    offered = at.session_state["offered_downloads"] if "offered_downloads" in at.session_state else {}  # noqa: SIM401
    assert offered, "every page offers its tables for download"
    hidden_somewhere = False
    for name, frame in offered.items():
        assert _bad_counts(frame) == [], name
        hidden_somewhere |= any("<5" in str(v) for c in frame.columns for v in frame[c].to_list())
    for df in at.dataframe:
        shown = pl.from_pandas(df.value) if not isinstance(df.value, pl.DataFrame) else df.value
        assert _bad_counts(shown) == []
    for metric in at.metric:
        value = metric.value.replace(" ", "").replace("\u00a0", "")
        assert not (value.isdigit() and not disclosure.is_publishable(int(value))), metric.label
    if page in ("frafall", "introprogram", "kohort", "ventetid"):
        assert hidden_somewhere, "a small region must show some hidden cells"


def _small_place_and_cohort(warehouse) -> tuple[str, int]:
    """A municipality with few settled persons (but some) and its largest cohort."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        name, year = con.execute("""
            with per as (
                select m.municipality_name as name, year(p.settlement_date) as y, count(*) as n
                from core.person p
                join reference.municipality m on m.municipality_code = p.settlement_municipality_code
                where p.settlement_date is not null group by all),
            total as (select name, sum(n) as t from per group by 1)
            select name, y from per join total using (name) where t >= 5
            order by t, n desc, name, y limit 1""").fetchone()
    return name, year


@pytest.mark.parametrize("page", ["kohort", "frafall", "ventetid", "introprogram", "forlop"])
def test_a_small_municipality_and_cohort_get_a_sentence_not_an_empty_chart(app_env, loaded, page):
    import json

    name, year = _small_place_and_cohort(loaded[1])
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets = app_env
    at.user = {"is_logged_in": True, "email": "leder@test.no", "sub": "sub-leder", "name": "Leder"}
    at.session_state["f_place"] = name
    at.session_state["f_cohorts"] = [year]
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["filters"].cohorts == (year,)
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        points = sum(len(t.get("x") or t.get("y") or t.get("link", {}).get("value") or []) for t in spec["data"])
        assert points > 0, f"an empty chart on {page}"
    sentences = [i.value for i in at.info]
    assert at.get("plotly_chart") or any("For få personer" in s for s in sentences), page


def test_an_adviser_sees_only_their_municipality(app_env, loaded):
    at = _open(app_env, "steinkjer@test.no")
    assert at.sidebar.selectbox(key="f_place").options == ["Hele mitt område", "Steinkjer"]
    at.switch_page("pages/introprogram.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.session_state["offered_downloads"]["intro_resultat"]
    assert set(table["Kommune"].to_list()) == {"Steinkjer"}
    assert at.session_state["filters"].scope == ("5006",)
    _cannot_open_datakvalitet(at)


def test_a_leader_sees_the_county_and_no_datakvalitet(app_env):
    at = _open(app_env, "leder@test.no")
    assert at.sidebar.selectbox(key="f_place").options[0] == "Hele Trøndelag"
    at.switch_page("pages/introprogram.py")
    at.run()
    assert not at.exception
    assert at.session_state["filters"].scope == queries.COUNTY
    assert len(set(at.session_state["offered_downloads"]["intro_resultat"]["Kommune"])) > 10
    _cannot_open_datakvalitet(at)


def _cannot_open_datakvalitet(at: AppTest) -> None:
    """The page is not registered for this role; forced open, it stops before any query."""
    try:
        at.switch_page("pages/datakvalitet.py")
    except ValueError as err:
        assert "Could not find a navigation page" in str(err)
        return
    at.run()
    assert "Datakvalitet" not in [t.value for t in at.title]
    assert not any(d.value.shape[0] and "files" in d.value.columns for d in at.dataframe)


@pytest.mark.parametrize("email", ["ukjent@test.no", "tom@test.no"])  # not in the file; adviser without scope
def test_an_unknown_user_sees_only_a_polite_message(app_env, email):
    at = _open(app_env, email)
    assert [t.value for t in at.title] == ["Ingen tilgang"]
    assert "ikke fått tilgang" in at.markdown[0].value
    assert not at.dataframe and not at.metric and not at.sidebar.selectbox
    assert "offered_downloads" not in at.session_state and "filters" not in at.session_state


def test_without_login_configuration_nobody_gets_in(app_env):
    for email in ("leder@test.no", None):
        at = _open({}, email)
        assert [t.value for t in at.title] == ["Kvalifiseringsløp i Trøndelag"]
        assert "ikke satt opp" in at.markdown[0].value
        assert not at.dataframe and not at.metric and not at.button


def test_a_logged_out_visitor_sees_only_the_login_button(app_env):
    at = _open(app_env, None)
    assert [b.label for b in at.button] == ["Logg inn"]
    assert not at.dataframe and not at.metric and not at.sidebar.selectbox


def test_scope_is_enforced_in_the_queries_whatever_the_filters_say(loaded):
    _, warehouse = loaded
    with duckdb.connect(str(warehouse), read_only=True) as con:
        trondheim = queries.Filters(scope=queries.COUNTY, municipalities=("5001",))
        outside = queries.Filters(scope=("5006",), municipalities=("5001",))  # asks for Trondheim
        assert queries.intro_outcomes_by_municipality(con, trondheim)["persons"].sum() > 0
        assert queries.intro_outcomes_by_municipality(con, outside).height == 0
        assert queries.flows(con, queries.Filters()).height == 0  # no scope: nothing
        for fn in (queries.recent_builds, queries.files_by_status, queries.refused_files, queries.quarantine_by_rule):
            with pytest.raises(PermissionError):
                fn(con, "adviser")
            assert isinstance(fn(con, "data_staff"), pl.DataFrame)
