"""Every published table against the synthetic county's known truth, exactly.

The generator decides each person's pathway and records it in contract terms
(`_synthetic/truth_*.parquet`), independently of the files it writes; the pipeline only
sees the files (with faults, duplicates, snapshots and withdrawn registrations). The
marts must reproduce the truth row for row. Derived figures (waits, the November
indicator, funnel counts) are computed here in Polars from the truth, following the
contract's definitions, not by re-running the warehouse's SQL.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from tests.conftest import AS_OF

AS_OF_DATE = dt.date.fromisoformat(AS_OF)
EDUCATION_OR_WORK = ["work", "primary", "combination", "upper_secondary", "apprenticeship"]


@pytest.fixture(scope="module")
def truth(county):
    return {
        n: pl.read_parquet(county / "_synthetic" / f"truth_{n}.parquet")
        for n in ("persons", "spells", "milestones", "applications", "intro_transitions")
    }


@pytest.fixture(scope="module")
def wh(loaded):
    _, warehouse = loaded
    con = duckdb.connect(str(warehouse), read_only=True)
    yield lambda sql: con.sql(sql).pl()
    con.close()


def assert_same_rows(expected: pl.DataFrame, actual: pl.DataFrame, columns: list[str]) -> None:
    expected, actual = expected.select(columns), actual.select(columns).cast(expected.select(columns).schema)
    missing = expected.join(actual, on=columns, how="anti", nulls_equal=True)
    extra = actual.join(expected, on=columns, how="anti", nulls_equal=True)
    assert expected.height == actual.height and missing.height == 0 and extra.height == 0, (
        f"{expected.height} expected, {actual.height} published; missing:\n{missing.head()}\nextra:\n{extra.head()}"
    )


def test_stage_spells_match_the_truth_by_stage_and_end_type(truth, wh):
    columns = [
        "person_id",
        "stage",
        "source",
        "start_date",
        "end_date",
        "end_type",
        "end_reason",
        "municipality_code",
        "school_orgnr",
        "programme",
    ]
    spells = wh("select * from marts.stage_spell")
    assert_same_rows(truth["spells"], spells, columns)
    by_stage = {(s, e): n for s, e, n in truth["spells"].group_by("stage", "end_type").len().iter_rows()}
    assert {(s, e): n for s, e, n in spells.group_by("stage", "end_type").len().iter_rows()} == by_stage
    assert {e for _, e in by_stage} == {"completed", "dropped_out", "transferred", "ongoing"}


def test_each_application_and_its_wait_in_days(truth, wh):
    expected = truth["applications"].with_columns(
        pl.when(pl.col("status") == "started")
        .then((pl.col("started_date") - pl.col("applied_date")).dt.total_days())
        .when(pl.col("status") == "waiting")
        .then((pl.lit(AS_OF_DATE) - pl.col("applied_date")).dt.total_days())
        .otherwise(None)
        .cast(pl.Int64)
        .alias("wait_days")
    )
    columns = [
        "person_id",
        "source",
        "stage",
        "school_orgnr",
        "municipality_code",
        "applied_date",
        "offered_date",
        "started_date",
        "status",
        "wait_days",
    ]
    actual = wh("select * from marts.school_place_wait")
    assert_same_rows(expected, actual, columns)
    assert set(actual["status"]) == {"started", "waiting", "withdrawn"}
    assert set(actual["source"]) == {"adult_education", "combination_classes", "trondelag_model"}


def _november_indicator(spells: pl.DataFrame, intro: pl.DataFrame) -> pl.DataFrame:
    """In work or education on 30 November the year after the programme ended (contract)."""
    active = spells.filter(pl.col("stage").is_in(EDUCATION_OR_WORK))
    rows = []
    by_person = {k[0]: g for k, g in active.group_by("person_id")}
    for r in intro.iter_rows(named=True):
        value = None
        if r["end_date"] is not None:
            measured = dt.date(r["end_date"].year + 1, 11, 30)
            if measured <= AS_OF_DATE:
                mine = by_person.get(r["person_id"])
                value = (
                    mine is not None
                    and mine.filter(
                        (pl.col("start_date") <= measured)
                        & (pl.col("end_date").is_null() | (pl.col("end_date") >= measured))
                    ).height
                    > 0
                )
        rows.append({**r, "in_work_or_education_nov_next_year": value})
    return pl.DataFrame(rows, schema={**intro.schema, "in_work_or_education_nov_next_year": pl.Boolean})


def test_intro_outcomes_direct_transition_and_the_november_indicator(truth, wh):
    intro = (
        truth["spells"]
        .filter(pl.col("stage") == "intro")
        .join(truth["intro_transitions"], on=["person_id", "start_date"], how="left")
        .select("person_id", "municipality_code", "start_date", "end_date", "end_type", "direct_transition")
    )
    expected = _november_indicator(truth["spells"], intro)
    actual = wh("select * from marts.intro_outcome")
    assert_same_rows(expected, actual, expected.columns)
    measured = actual.filter(pl.col("in_work_or_education_nov_next_year").is_not_null())
    share = measured["in_work_or_education_nov_next_year"].mean()
    assert measured.height > 100 and 0.45 <= share <= 0.85, share  # near SSB's 65 %


def test_dropouts_by_stage(truth, wh):
    expected = (
        truth["spells"]
        .filter(pl.col("end_type") == "dropped_out")
        .select(
            "person_id",
            "stage",
            "source",
            pl.col("end_date").alias("dropout_date"),
            (pl.col("end_date") - pl.col("start_date")).dt.total_days().alias("days_on_stage"),
            pl.col("end_reason").alias("reason"),
            "municipality_code",
        )
    )
    actual = wh("select * from marts.dropout")
    assert_same_rows(expected, actual, expected.columns)
    assert actual["stage"].n_unique() >= 5


def test_funnel_counts_per_cohort_municipality_and_stage(truth, wh):
    persons = truth["persons"].select(
        "person_id",
        pl.col("settlement_date").dt.year().cast(pl.Int64).alias("cohort_year"),
        pl.col("settlement_municipality_code").alias("municipality_code"),
    )
    reached = pl.concat(
        [truth["spells"].select("person_id", "stage"), truth["milestones"].select("person_id", "stage")]
    ).unique()
    expected = (
        reached.join(persons, on="person_id")
        .group_by("cohort_year", "municipality_code", "stage")
        .agg(pl.col("person_id").n_unique().cast(pl.Int64).alias("persons"))
    )
    actual = wh("select * from marts.funnel")
    assert_same_rows(expected, actual, ["cohort_year", "municipality_code", "stage", "persons"])
    assert actual.filter(pl.col("cohort_year").is_null()).height > 0  # Trøndelag-model-only persons


def test_core_person_attributes_and_settlement(truth, wh):
    columns = [
        "person_id",
        "sex",
        "birth_year",
        "country_background",
        "immigration_reason",
        "settlement_date",
        "settlement_municipality_code",
    ]
    assert_same_rows(
        truth["persons"].with_columns(pl.col("birth_year").cast(pl.Int32)), wh("select * from core.person"), columns
    )


def test_core_event_keeps_one_row_per_distinct_event_with_lineage(wh):
    events = wh("select * from core.event")
    assert events.filter(pl.col("source_file").is_null()).height == 0
    assert set(events["source"]) == {"intro", "adult_education", "combination_classes", "trondelag_model"}
    assert set(events["stage"]) == {
        "settlement",
        "intro",
        "norwegian",
        "primary",
        "combination",
        "upper_secondary",
        "work_training",
        "apprenticeship",
        "trade_certificate",
        "work",
    }
    # withdrawn Trøndelag-model registrations are gone: every employed event has a work spell
    employed = events.filter((pl.col("source") == "trondelag_model") & (pl.col("stage") == "work"))
    spells = wh("select * from marts.stage_spell where stage = 'work' and source = 'trondelag_model'")
    assert employed.height == spells.height
