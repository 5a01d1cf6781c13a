"""The four marts of issue 14 against the synthetic county's truth, hand-made edge cases
of the three-month rule and the survival times through a real load, the Kaplan–Meier
curves against `lifelines`, and a backtest that would fail if a later fact leaked into a
past forecast."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import polars as pl
import pytest
from dateutil.relativedelta import relativedelta

from tests.conftest import AS_OF
from tests.helpers import CENTRE, PID_A, PID_B, PID_C, ae_event, intro_row, write_intro, write_jsonl
from tests.test_marts import assert_same_rows

AS_OF_DATE = dt.date.fromisoformat(AS_OF)
EDUCATION_OR_WORK = ["work", "primary", "combination", "upper_secondary", "apprenticeship"]


@pytest.fixture(scope="module")
def truth(county):
    names = ("persons", "spells", "applications", "settlement_plan")
    return {n: pl.read_parquet(county / "_synthetic" / f"truth_{n}.parquet") for n in names}


@pytest.fixture(scope="module")
def con(loaded):
    _, warehouse = loaded
    with duckdb.connect(str(warehouse), read_only=True) as c:
        yield c


def _first_start(spells: pl.DataFrame, persons: pl.DataFrame, stages: list[str], name: str) -> pl.DataFrame:
    return (
        spells.filter(pl.col("stage").is_in(stages))
        .join(persons.select("person_id", "settlement_date"), on="person_id")
        .filter(pl.col("start_date") >= pl.col("settlement_date"))
        .group_by("person_id")
        .agg(pl.col("start_date").min().alias(name))
    )


def test_settlement_plan_is_the_newest_delivery_per_municipality_and_year(truth, con):
    actual = con.sql("select * from marts.settlement_plan").pl()
    expected = truth["settlement_plan"]
    assert_same_rows(expected, actual, expected.columns)
    assert actual.filter(pl.col("decided") < pl.col("requested")).height > 20  # decisions below requests
    assert actual["source_file"].n_unique() > 10


def test_settlement_start_matches_the_truth(truth, con):
    persons = truth["persons"].filter(pl.col("settlement_date").is_not_null())
    intro = _first_start(truth["spells"], persons, ["intro"], "intro_start_date")
    norwegian = _first_start(truth["spells"], persons, ["norwegian"], "norwegian_start_date")
    rows = []
    for r in (
        persons.join(intro, on="person_id", how="left")
        .join(norwegian, on="person_id", how="left")
        .iter_rows(named=True)
    ):
        deadline = r["settlement_date"] + relativedelta(months=3)
        row = {
            "person_id": r["person_id"],
            "settlement_date": r["settlement_date"],
            "settlement_municipality_code": r["settlement_municipality_code"],
        }
        for kind in ("intro", "norwegian"):
            start = r[f"{kind}_start_date"]
            row[f"{kind}_start_date"] = start
            row[f"days_to_{kind}"] = None if start is None else (start - r["settlement_date"]).days
            row[f"{kind}_within_3_months"] = (
                start <= deadline if start is not None else None if deadline > AS_OF_DATE else False
            )
        rows.append(row)
    expected = pl.DataFrame(rows, infer_schema_length=None)
    actual = con.sql("select * from marts.settlement_start").pl()
    assert_same_rows(expected, actual, expected.columns)
    assert actual.columns == [
        "person_id",
        "settlement_date",
        "settlement_municipality_code",
        "intro_start_date",
        "norwegian_start_date",
        "days_to_intro",
        "days_to_norwegian",
        "intro_within_3_months",
        "norwegian_within_3_months",
    ]  # the contract's columns
    share = actual.filter(pl.col("norwegian_start_date").is_not_null())["norwegian_within_3_months"].mean()
    assert 0.2 < share < 0.8  # about half start Norwegian within three months [IMDi-no]


def test_time_to_outcome_matches_the_truth(truth, con):
    persons = truth["persons"].filter(pl.col("settlement_date").is_not_null())
    work = _first_start(truth["spells"], persons, ["work"], "work_date")
    either = _first_start(truth["spells"], persons, EDUCATION_OR_WORK, "work_or_education_date")
    age = pl.col("settlement_date").dt.year() - pl.col("birth_year")
    expected = (
        persons.join(work, on="person_id", how="left")
        .join(either, on="person_id", how="left")
        .select(
            "person_id",
            pl.col("settlement_date").dt.year().alias("cohort_year"),
            "settlement_municipality_code",
            "sex",
            pl.when(pl.col("birth_year").is_null())
            .then(None)
            .when(age <= 25)
            .then(pl.lit("16–25"))
            .when(age <= 35)
            .then(pl.lit("26–35"))
            .when(age <= 45)
            .then(pl.lit("36–45"))
            .when(age <= 55)
            .then(pl.lit("46–55"))
            .otherwise(pl.lit("56+"))
            .alias("age_group"),
            "country_background",
            "work_date",
            "work_or_education_date",
            *[
                (pl.coalesce(f"{o}_date", pl.lit(AS_OF_DATE)) - pl.col("settlement_date"))
                .dt.total_days()
                .alias(f"days_to_{o}")
                for o in ("work", "work_or_education")
            ],
            *[pl.col(f"{o}_date").is_not_null().alias(f"reached_{o}") for o in ("work", "work_or_education")],
        )
    )
    actual = con.sql("select * from marts.time_to_outcome").pl()
    assert actual.columns == expected.columns
    assert_same_rows(expected, actual, expected.columns)
    assert 0 < actual["reached_work"].mean() < actual["reached_work_or_education"].mean() < 1


def test_three_month_rule_and_survival_times_on_hand_made_files(tmp_path):
    """Calendar months (31 January → 30 April, 30 November → 29 February), a start before
    settlement, a person settled twice, a pending deadline with no start, no start at all."""
    from flows.pipeline import load_without_prefect

    pid_d, pid_e, pid_f, pid_g = (f"{c * 64}" for c in "def1")
    rows = [
        # A: settled 31.01.2024; Norwegian on the deadline (30.04), intro a day after it; work from overgang
        intro_row(PID_A, date="31.01.2024"),
        intro_row(PID_A, event="startet", date="01.05.2024"),
        intro_row(PID_A, event="fullfort", date="01.10.2024"),
        intro_row(PID_A, event="overgang", date="01.10.2024", detail="arbeid"),
        # B: settled 30.11.2023; Norwegian on 29.02.2024 (leap year: the deadline), intro on 01.03.2024
        intro_row(PID_B, date="30.11.2023"),
        intro_row(PID_B, event="startet", date="01.03.2024"),
        # C: an intro start before settlement is not counted, and none after it
        intro_row(PID_C, event="startet", date="10.01.2024"),
        intro_row(PID_C, date="01.02.2024"),
        # D: settled in 5001, moved and settled again in 5006, started there
        intro_row(pid_d, date="01.03.2023"),
        intro_row(pid_d, muni="5006", date="01.09.2023"),
        intro_row(pid_d, muni="5006", event="startet", date="01.10.2023"),
        # E: settled 15.10.2024, deadline 15.01.2025 after as_of, no start yet
        intro_row(pid_e, date="15.10.2024"),
        # F: settled 10.01.2024, nothing since
        intro_row(pid_f, date="10.01.2024"),
        # G: settled 15.10.2024 and started Norwegian on 01.11.2024: decided although the deadline is ahead
        intro_row(pid_g, date="15.10.2024"),
    ]
    landing = tmp_path / "landing"
    write_intro(landing, "intro_5001_20241231.csv", [r for r in rows if ";5006;" not in r])
    write_intro(landing, "intro_5006_20241231.csv", [r for r in rows if ";5006;" in r])
    write_jsonl(
        landing,
        "vo_20241231T020000.jsonl",
        [
            ae_event(PID_A, "started", "2024-04-30"),
            ae_event(PID_B, "started", "2024-02-29"),
            ae_event(pid_g, "started", "2024-11-01"),
            ae_event(PID_C, "started", "2024-01-15", level="primary", school=CENTRE),
        ],
    )
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    summary = load_without_prefect(str(landing), str(warehouse), dt.date(2024, 12, 31), audit=False)
    assert summary.published and not summary.counts.rows_quarantined
    with duckdb.connect(str(warehouse), read_only=True) as c:
        start = {
            r[0]: r[1:]
            for r in c.execute("""
            select person_id, settlement_date, settlement_municipality_code, intro_start_date, days_to_intro,
                   intro_within_3_months, norwegian_start_date, days_to_norwegian, norwegian_within_3_months
            from marts.settlement_start""").fetchall()
        }
        outcome = {
            r[0]: r[1:]
            for r in c.execute("""
            select person_id, work_date, days_to_work, reached_work, work_or_education_date,
                   days_to_work_or_education, reached_work_or_education from marts.time_to_outcome""").fetchall()
        }
    d = dt.date
    assert start[PID_A] == (d(2024, 1, 31), "5001", d(2024, 5, 1), 91, False, d(2024, 4, 30), 90, True)
    assert start[PID_B] == (d(2023, 11, 30), "5001", d(2024, 3, 1), 92, False, d(2024, 2, 29), 91, True)
    assert start[PID_C] == (d(2024, 2, 1), "5001", None, None, False, None, None, False)
    assert start[pid_d] == (d(2023, 3, 1), "5001", d(2023, 10, 1), 214, False, None, None, False)
    assert start[pid_e] == (d(2024, 10, 15), "5001", None, None, None, None, None, None)
    assert start[pid_f] == (d(2024, 1, 10), "5001", None, None, False, None, None, False)
    assert start[pid_g] == (d(2024, 10, 15), "5001", None, None, None, d(2024, 11, 1), 17, True)
    assert outcome[PID_A] == (d(2024, 10, 1), 244, True, d(2024, 10, 1), 244, True)
    assert outcome[pid_f] == (None, 356, False, None, 356, False)  # censored at as_of
    assert outcome[PID_C] == (None, 334, False, None, 334, False)  # primary began before settlement


# -- Kaplan–Meier against lifelines ------------------------------------------------------------
@pytest.mark.parametrize("outcome", ["work", "work_or_education"])
def test_kaplan_meier_matches_lifelines_on_the_county(con, outcome):
    from lifelines import KaplanMeierFitter

    from dashboard import queries, survival

    data = con.sql(f"""select sex, months_to_{outcome} as month, reached_{outcome} as reached
                       from dash.time_to_outcome where {queries.OUTCOME_AGES}""").pl()
    for group in (data, data.filter(pl.col("sex") == "K"), data.filter(pl.col("sex") == "M")):
        ours = survival.kaplan_meier(group["month"], group["reached"])
        fitter = KaplanMeierFitter().fit(group["month"].to_numpy(), group["reached"].to_numpy())
        theirs = fitter.survival_function_["KM_estimate"]
        table = fitter.event_table
        for month, at_risk, survival_ in ours.select("month", "at_risk", "survival").iter_rows():
            assert survival_ == pytest.approx(float(theirs.loc[month]), abs=1e-12)
            assert at_risk == int(table.loc[month, "at_risk"])
        median = None if fitter.median_survival_time_ == float("inf") else int(fitter.median_survival_time_)
        ours_median = survival.summary(ours)["median_months"]
        # read off the shown curve, whose steps wait for 5 persons: never before the exact median,
        # and at a month where lifelines' estimate is at or under one half too
        assert ours_median is None or (median is not None and ours_median >= median)
        if ours_median is not None:
            assert float(fitter.survival_function_at_times(ours_median).iloc[0]) <= 0.5
    # the page's curve: lifelines' estimate in whole percent, only while at least 5 are at risk,
    # and each step a drop by at least 5 persons who reached the outcome since the step before
    curve = queries.time_to_outcome_curve(con, queries.Filters(scope=queries.COUNTY), outcome)
    fitter = KaplanMeierFitter().fit(data["month"].to_numpy(), data["reached"].to_numpy())
    risk, events = fitter.event_table["at_risk"], fitter.event_table["observed"]
    assert curve.height > 24
    previous_step, previous_share = -1, 0.0
    for month, shown in curve.iter_rows():
        assert risk[risk.index >= month].iloc[0] >= survival.MIN_AT_RISK
        if shown != previous_share:  # a step: lifelines' estimate at that month, after ≥ 5 events
            assert shown == round((1 - float(fitter.survival_function_at_times(month).iloc[0])) * 100)
            assert events[(events.index > previous_step) & (events.index <= month)].sum() >= survival.MIN_EVENTS
            previous_step, previous_share = month, shown
    after = risk[risk.index > curve["month"].max()]
    assert after.empty or after.iloc[0] < survival.MIN_AT_RISK


def test_a_curve_stops_where_fewer_than_five_are_at_risk():
    from dashboard import survival

    months = pl.Series([0, 1, 1, 2, 3, 3, 5, 8, 9, 12])
    reached = pl.Series([True, True, False, True, True, False, True, False, True, True])
    table = survival.kaplan_meier(months, reached)
    curve = survival.shown_curve(table)
    assert curve["month"].to_list() == [0, 1, 2, 3]  # month 5 has 4 at risk (5, 8, 9, 12)
    # 4 persons reached the outcome by month 3 (S = 9/10·8/9·6/7·5/6): fewer than 5, no step yet
    assert curve["share_reached"].to_list() == [0.0, 0.0, 0.0, 0.0]
    assert survival.summary(table) == {"median_months": None, "share_1y": None, "share_2y": None, "share_3y": None}


def test_a_step_of_the_curve_waits_for_five_persons():
    """The attack: seven at risk and one reaches work that month. A step of 1 − 6/7 beside the
    (perturbed) persons at risk tells that one person did; the step waits until five have."""
    from dashboard import survival

    # 30 persons: one reaches the outcome in each of months 1–7, two in month 9, the rest are
    # censored at month 20
    months = pl.Series([1, 2, 3, 4, 5, 6, 7, 9, 9] + [20] * 21)
    reached = pl.Series([True] * 9 + [False] * 21)
    table = survival.kaplan_meier(months, reached)
    curve = dict(survival.shown_curve(table).iter_rows())
    assert [curve[m] for m in range(5)] == [0.0] * 5  # 4 persons by month 4: nothing shown
    assert curve[5] == 17.0 and curve[6] == curve[7] == curve[8] == 17.0  # 5 by month 5: S = 25/30
    assert curve[9] == curve[20] == 17.0  # 4 more (months 6, 7, 9, 9): under 5, no second step
    assert survival.summary(table) == {"median_months": None, "share_1y": 17.0, "share_2y": None, "share_3y": None}
    # one more person in month 10 makes five since the last step: the exact estimate is shown then
    table = survival.kaplan_meier(
        pl.Series([*months.to_list()[:9], 10, *[20] * 20]), pl.Series([True] * 10 + [False] * 20)
    )
    curve = dict(survival.shown_curve(table).iter_rows())
    assert curve[9] == 17.0 and curve[10] == round((1 - 20 / 30) * 100)


# -- the forecast --------------------------------------------------------------------------------
def test_forecast_rows_and_actual_numbers_match_the_truth(truth, con):
    from warehouse import forecast

    regions = dict(
        con.execute(
            "select municipality_code, region from reference.municipality "
            "where county_name = 'Trøndelag' and region is not null"
        ).fetchall()
    )
    apps = (
        truth["applications"]
        .filter(pl.col("source") == "combination_classes")
        .with_columns(
            (pl.col("applied_date").dt.year() + (pl.col("applied_date").dt.month() >= 8).cast(pl.Int32)).alias(
                "intake"
            ),
            pl.col("municipality_code").replace_strict(regions, default=None).alias("region"),
        )
        .filter(pl.col("region").is_not_null())
    )
    expected = {
        (t, r): n for t, r, n in apps.group_by("intake", "region").agg(pl.col("person_id").n_unique()).iter_rows()
    }
    expected.update(
        {(t, forecast.COUNTY): n for t, n in apps.group_by("intake").agg(pl.col("person_id").n_unique()).iter_rows()}
    )
    mart = con.sql("select * from marts.school_place_forecast").pl()
    assert mart.columns == [
        "intake_year",
        "region",
        "expected_applications",
        "low_80",
        "high_80",
        "method",
        "actual_applications",
    ]
    backtest = mart.filter(pl.col("actual_applications").is_not_null())
    assert backtest.height >= 10 and set(backtest["region"]) >= {forecast.COUNTY}
    for intake, region, actual in backtest.select("intake_year", "region", "actual_applications").iter_rows():
        assert actual == expected.get((intake, region), 0), (intake, region)
        assert dt.date(intake, 7, 31) <= AS_OF_DATE
    upcoming = mart.filter(pl.col("actual_applications").is_null())
    assert sorted(set(upcoming["intake_year"])) == forecast.next_intakes(AS_OF_DATE) == [2027, 2028]
    assert forecast.COUNTY in set(upcoming["region"]) and set(upcoming["region"]) <= set(regions.values()) | {
        forecast.COUNTY
    }
    assert (upcoming["low_80"] <= upcoming["high_80"]).all()
    assert forecast.backtest_mape(con) is not None


def _later_facts_changed(inputs, cutoff: dt.date):
    """Every fact dated on or after the cutoff made different: more applicants, more
    settlements, plans delivered later multiplied by ten."""
    apps = inputs.applications
    late = apps.filter(pl.col("applied_date") >= cutoff)
    copies = pl.concat([late.with_columns((pl.col("person_id") + f"-copy{i}").alias("person_id")) for i in range(4)])
    persons = inputs.persons
    late_persons = persons.filter(pl.col("settlement_date") >= cutoff)
    plans = inputs.plans.with_columns(
        pl.when(pl.col("delivery_date") >= cutoff).then(pl.col(c) * 10).otherwise(pl.col(c)).alias(c)
        for c in ("requested", "decided")
    )
    return dataclasses.replace(
        inputs,
        applications=pl.concat([apps, copies]),
        persons=pl.concat([persons, late_persons.with_columns((pl.col("person_id") + "-copy").alias("person_id"))]),
        plans=plans,
    )


def test_the_backtest_uses_no_fact_dated_after_the_day_the_forecast_is_made(con):
    """For each past intake, the mart's backtest row is what the forecast gives from data
    before 1 August the year before; changing every later fact must not move it. The same
    change does move a forecast made later, so the test would see a leak."""
    from warehouse import forecast

    inputs = forecast.read_inputs(con)
    mart = con.sql("select * from marts.school_place_forecast where actual_applications is not null").pl()
    intakes = sorted(set(mart["intake_year"]))
    assert len(intakes) >= 4
    for intake in intakes[-3:]:
        cutoff = forecast.opens(intake)
        made = forecast.forecast_unit_rows(inputs, [intake], cutoff)
        changed = forecast.forecast_unit_rows(_later_facts_changed(inputs, cutoff), [intake], cutoff)
        assert made == changed and made
        published = mart.filter(pl.col("intake_year") == intake).drop("actual_applications").sort("region")
        assert published.to_dicts() == [
            {k: v for k, v in r.items() if k != "forecast_made_on"} for r in sorted(made, key=lambda r: r["region"])
        ]
        later = forecast.opens(intake + 1)
        assert forecast.forecast_unit_rows(
            _later_facts_changed(inputs, cutoff), [intake], later
        ) != forecast.forecast_unit_rows(inputs, [intake], later)
