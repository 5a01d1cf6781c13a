"""The dashboard's figures agree with each other and speak Norwegian (issue 11), on the county
loaded once by the session fixture: the Sankey's nodes add up, the same quantity is the same
published number wherever it appears, downloads are what Norwegian Excel reads, and the audit
report of every build is served self-contained."""

from __future__ import annotations

import datetime as dt
import io
import re

import duckdb
import polars as pl
import pytest

from dashboard import datadocs, disclosure, labels, queries, ui

COUNTY = queries.Filters(scope=queries.COUNTY)


@pytest.fixture(scope="module")
def con(loaded):
    _, warehouse = loaded
    with duckdb.connect(str(warehouse), read_only=True) as c:
        yield c


def _true(frame: pl.DataFrame, key: str) -> dict:
    return dict(zip(frame[key], frame["persons"], strict=True))


def test_every_sankey_node_adds_up(con):
    """Into each stage flow exactly the persons who reached it, and out of it as many (work
    is an end in itself); no flow comes out of nowhere (true counts, before rounding)."""
    flows = queries.flows(con, COUNTY)
    nodes = _true(queries.flow_nodes(con, COUNTY), "node")
    inflow = _true(flows.group_by("target").agg(pl.col("persons").sum()), "target")
    outflow = _true(flows.group_by("source").agg(pl.col("persons").sum()), "source")
    assert nodes.get("unknown_settlement", 0) > 0, "the test county has persons with no settlement"
    for stage in queries.STAGE_ORDER:
        if stage not in nodes:
            continue
        if stage != "settlement":
            assert inflow.get(stage, 0) == nodes[stage], stage
        else:
            assert stage not in inflow
        if stage != "work":
            assert outflow.get(stage, 0) == nodes[stage], stage
    assert outflow["unknown_settlement"] == nodes["unknown_settlement"]
    for end in ("dropped_out", "ongoing", "ended"):
        assert inflow.get(end, 0) == nodes.get(end, 0), end


def test_the_same_quantity_is_the_same_published_number_on_every_page(con):
    published = lambda name, *a: disclosure.publish(getattr(queries, name)(con, COUNTY, *a))  # noqa: E731
    kohort = _true(published("cohort_funnel", False), "stage")
    forlop = _true(published("flow_nodes"), "node")
    assert kohort["settlement"] is not None and kohort["settlement"] == forlop["settlement"]
    # Oversikt and Ventetid show the persons waiting from one query; Oversikt and Introprogram the indicator
    assert (
        "waiting_summary" in queries.PAGE_QUERIES["oversikt"] and "waiting_summary" in queries.PAGE_QUERIES["ventetid"]
    )
    nov = published("november_indicator")
    by_place = published("november_by_municipality")
    assert nov.height and by_place.height
    # a municipality's indicator never exceeds the county's persons for the same year
    joined = by_place.group_by("end_year").agg(pl.col("persons").max()).join(nov, on="end_year", suffix="_county")
    assert (joined["persons"].fill_null(0) <= joined["persons_county"].fill_null(10**9)).all()


def test_norwegian_levels_count_each_person_once_as_distinct_counting_would(con):
    """*Mål*'s Norwegian levels count without DISTINCT because dash.norwegian_level holds a
    person once: every cell (true count and cell key) must equal what counting distinct
    persons gives, per group and level and per group's total, for every grouping."""
    from dashboard.disclosure import KEY_MOD

    for by, column in queries.NORWEGIAN_BY.items():
        if by == "country":
            continue  # its groups fold rare countries together: checked through the total below
        cells = queries.norwegian_levels(con, COUNTY, by)
        expected = con.execute(
            f"""select coalesce({column}::VARCHAR, 'ukjent') as grp, coalesce(cefr_level, '{queries.TOTAL}'),
                       count(distinct record_key), sum(distinct record_key) % {KEY_MOD}
                from dash.norwegian_level group by grouping sets ((1, cefr_level), (1))"""
        ).fetchall()
        got = cells.filter(pl.col("persons") > 0).select("grp", "cefr_level", "persons", "persons_key").rows()
        assert sorted(got) == sorted(expected), by
    totals = queries.norwegian_levels(con, COUNTY, "country").filter(pl.col("cefr_level") == queries.TOTAL)
    everyone = con.execute("select count(distinct record_key) from dash.norwegian_level").fetchall()[0][0]
    assert totals["persons"].sum() == everyone > 0


def test_shares_of_the_settled_never_exceed_100_percent(con):
    frame = disclosure.publish(queries.cohort_funnel(con, COUNTY, False))
    settled = frame.filter(pl.col("stage") == "settlement")["persons"][0]
    shares = frame.select(disclosure.share(pl.col("persons"), pl.lit(settled, pl.Int64)).alias("s"))["s"]
    assert shares.drop_nulls().len() > 3 and shares.drop_nulls().max() <= 1.0


def test_drop_out_reasons_are_harmonised_and_all_have_a_label(con):
    reasons = set(queries.dropout_by_reason(con, COUNTY)["reason"]) - {queries.TOTAL}
    assert "health" not in reasons and "other" not in reasons
    assert reasons <= set(labels.DROPOUT_REASON), reasons - set(labels.DROPOUT_REASON)


def test_every_code_in_the_warehouse_has_a_bokmal_label(con):
    def codes(sql):
        return {r[0] for r in con.execute(sql).fetchall() if r[0] is not None}

    assert codes("select distinct stage from marts.stage_spell") <= set(labels.STAGE)
    assert codes("select distinct programme from marts.school_place_wait") <= set(labels.PROGRAMME)
    assert codes("select distinct status from audit.file_log") <= set(labels.FILE_STATUS)
    assert codes("select distinct source from audit.file_log") <= set(labels.SOURCE)
    assert codes("select distinct rule from audit.quarantine") <= set(labels.RULE)
    assert codes("select distinct end_type from marts.stage_spell") <= set(labels.END_TYPE)
    assert codes("select distinct direct_transition from marts.intro_outcome") <= set(labels.TRANSITION)


def test_wait_per_school_year_has_its_median_only_for_groups_of_five(con):
    frame = disclosure.publish(queries.wait_by_school_year(con, COUNTY, 90))
    assert frame.height and frame["school_year"].n_unique() >= 2
    raw = queries.wait_by_school_year(con, COUNTY, 90)
    small = raw.filter(pl.col("persons") < 5).select("stage", "school_year")
    hidden = frame.join(small, on=["stage", "school_year"])
    assert hidden["median_days"].is_null().all()
    for c in ("persons", "applicants", "longer"):
        assert all(disclosure.is_publishable(v) for v in frame[c].to_list())


def test_norwegian_numbers_dates_and_school_years():
    assert labels.integer(12345) == "12\u00a0345"
    assert labels.decimal(360.20000000000005) == "360,2"
    assert labels.percent(0.734) == "73\u00a0%"
    assert labels.date(dt.datetime(2015, 1, 1, 0, 0)) == "01.01.2015"
    assert (
        labels.school_year(dt.date(2025, 8, 1)) == "2025/26" and labels.school_year(dt.date(2025, 7, 31)) == "2024/25"
    )
    assert labels.quarter(dt.date(2024, 5, 3)) == "2024 K2"
    assert labels.moment(dt.datetime(2026, 7, 1, 0, 30, tzinfo=dt.UTC)) == "01.07.2026 kl. 02.30"


def test_downloads_are_what_norwegian_excel_reads():
    frame = pl.DataFrame(
        {
            "Trinn": ["Introprogram", "Læretid"],
            "Personer": [1005, None],
            "Andel (%)": [73, None],
            "Median dager": [170.0, None],
            "Dato": [dt.date(2024, 1, 31), None],
        }
    )
    shown = ui._render(frame, {"Personer"}, {"Andel (%)"}, for_screen=False)
    text = ui.csv_bytes(shown)
    assert text.startswith("\ufeff".encode())
    lines = text.decode("utf-8-sig").splitlines()
    assert lines[0] == "Trinn;Personer;Andel (%);Median dager;Dato"
    assert lines[1] == "Introprogram;1005;73;170;31.01.2024"
    assert lines[2] == "Læretid;<5;:;;"
    screen = ui._render(frame, {"Personer"}, {"Andel (%)"}, for_screen=True)
    assert screen["Personer"][0] == "1\u00a0005"
    book = pl.read_excel(io.BytesIO(ui.excel_bytes(frame, "test", {"Personer"}, {"Andel (%)"})))
    assert book["Median dager"].dtype.is_numeric() and book["Median dager"][0] == 170
    assert book["Trinn"].to_list() == ["Introprogram", "Læretid"]
    # the cells themselves: a number is a number cell, a marker a text cell
    import zipfile

    with zipfile.ZipFile(io.BytesIO(ui.excel_bytes(frame, "test", {"Personer"}, {"Andel (%)"}))) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<c r="B2"[^>]*><v>1005</v>', xml) and 't="s"' not in re.search(r'<c r="B2"[^>]*>', xml)[0]
    assert 't="s"' in re.search(r'<c r="B3"[^>]*>', xml)[0]


def test_the_audit_report_of_every_build_is_served_self_contained(loaded, con):
    _, warehouse = loaded
    pages = datadocs.pages(warehouse)
    assert pages, "the load writes Data Docs beside the warehouse"
    build_id = queries.latest_build(con)["build_id"]
    builds = datadocs.builds(warehouse, queries.recent_builds(con, "data_staff").to_dicts())
    assert builds[0]["build_id"] == build_id and builds[0]["pages"] == len([p for p in pages if p.build_id == build_id])
    assert all(p.success is not None for p in pages)
    html = datadocs.self_contained(pages[0], warehouse)
    assert not re.search(r"<(link|script)\b[^>]*(href|src)=\"https?://", html)
    assert not re.search(r"<script\b", html) and "data-pathways-local" in html
    assert "border-collapse" in html  # our stylesheet
    assert "ge-" in html and "<table" in html  # the report itself
    assert not re.search(r"href=\"(?!#)", html)  # no link leaves the page
