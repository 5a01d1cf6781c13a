"""Every SQL the dashboard runs. Parameterised (no filter value is ever pasted into SQL),
aggregated (no person-level row leaves this module), and free of Streamlit so the
benchmark and the tests call the same functions the pages do.

Each function takes an open read-only DuckDB connection, the shared `Filters` and
returns a Polars frame of counts and figures *before* disclosure control; the pages
pass every frame through `dashboard.disclosure` before showing or offering it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

STAGE_ORDER = ["settlement", "intro", "norwegian", "primary", "combination", "upper_secondary",
               "work_training", "apprenticeship", "trade_certificate", "work"]
AGE_GROUPS = {"16–25": (16, 25), "26–35": (26, 35), "36–45": (36, 45), "46–55": (46, 55), "56+": (56, 200)}


@dataclass(frozen=True)
class Filters:
    """The shared filters. Empty tuple / None means "all". Every `dash.*` serving table
    carries the person's filter attributes, so conditions apply to plain columns."""
    cohorts: tuple[int, ...] = ()
    municipalities: tuple[str, ...] = ()
    sex: str | None = None
    age_group: str | None = None
    country: str | None = None
    reason: str | None = None

    def where(self, place_column: str) -> tuple[str, list]:
        """WHERE conditions and their parameters; `place_column` is the municipality the
        page's geography filter applies to."""
        conds, params = [], []
        if self.cohorts:
            conds.append("list_contains(?::INTEGER[], cohort_year)")
            params.append(list(self.cohorts))
        if self.municipalities:
            conds.append(f"list_contains(?::VARCHAR[], {place_column})")
            params.append(list(self.municipalities))
        for column, value in (("sex", self.sex), ("age_group", self.age_group),
                              ("country_background", self.country), ("immigration_reason", self.reason)):
            if value:
                conds.append(f"{column} = ?")
                params.append(value)
        return " and ".join(conds) or "true", params


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """One parameterised query, its result as a Polars frame (through Arrow, no copy per row)."""
    return con.sql(sql, params=params or []).pl()


# -- shared -----------------------------------------------------------------------------------
def latest_build(con) -> dict:
    row = con.execute("select build_id, as_of, finished_at, files_loaded, events, persons, code_version "
                      "from meta.build order by finished_at desc limit 1").fetchone()
    keys = ["build_id", "as_of", "finished_at", "files_loaded", "events", "persons", "code_version"]
    return dict(zip(keys, row)) if row else {}


def filter_options(con) -> dict:
    return {
        "cohorts": [r[0] for r in con.execute("select distinct year(settlement_date) y from core.person "
                                              "where settlement_date is not null order by y").fetchall()],
        "countries": [r[0] for r in con.execute(
            "select country_background from core.person where country_background is not null "
            "group by 1 having count(*) >= 5 order by count(*) desc").fetchall()],
        "reasons": [r[0] for r in con.execute("select distinct immigration_reason from core.person "
                                              "where immigration_reason is not null order by 1").fetchall()],
    }


# -- Oversikt ---------------------------------------------------------------------------------
def persons_on_stage_now(con, f: Filters, as_of: dt.date) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select stage, count(distinct person_id) as persons from dash.spell
        where start_date <= ? and (end_date is null or end_date >= ?) and {where}
        group by 1""", [as_of, as_of, *params])


def ended_this_year(con, f: Filters, as_of: dt.date) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select end_type, count(distinct person_id) as persons from dash.spell
        where end_date between ? and ? and end_type in ('completed', 'dropped_out') and {where}
        group by 1""", [dt.date(as_of.year, 1, 1), dt.date(as_of.year, 12, 31), *params])


def waiting_summary(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select count(*) as applications, count(distinct person_id) as persons, median(wait_days) as median_wait_days
        from dash.wait where status = 'waiting' and {where}""", params)


def november_indicator(con, f: Filters) -> pl.DataFrame:
    """Share in work or education in November the year after, per end-year cohort."""
    where, params = f.where("municipality_code")
    return run(con, f"""
        select year(end_date) as end_year, count(distinct person_id) as persons,
               count(distinct person_id) filter (where in_work_or_education_nov_next_year) as in_work_or_education
        from dash.outcome where in_work_or_education_nov_next_year is not null and {where}
        group by 1 order by 1""", params)


# -- Forløp -------------------------------------------------------------------------------------
def flows(con, f: Filters) -> pl.DataFrame:
    """Moves between the stages people reached, in the ladder's order (see dash.person_step)."""
    where, params = f.where("settlement_municipality_code")
    return run(con, f"select source, target, count(*) as persons from dash.person_step where {where} group by all",
               params)


def pathway_variants(con, f: Filters, limit: int = 15) -> pl.DataFrame:
    """The most common sequences of stages, in the order people started them."""
    where, params = f.where("settlement_municipality_code")
    return run(con, f"""select variant, count(*) as persons from dash.person_variant where {where}
                        group by 1 order by persons desc, variant limit ?""", [*params, limit])


# -- Kohort ------------------------------------------------------------------------------------
def cohort_funnel(con, f: Filters, by_cohort: bool = True) -> pl.DataFrame:
    """Persons reaching each stage (per settlement cohort, or all selected cohorts together),
    with the median days from settlement to the first start on the stage."""
    where, params = f.where("settlement_municipality_code")
    cohort = "cohort_year" if by_cohort else "null::integer"
    return run(con, f"""
        select {cohort} as cohort_year, stage, count(*) as persons,
               median(days_from_settlement) filter (where stage <> 'settlement') as median_days
        from dash.person_stage where cohort_year is not null and {where}
        group by 1, 2 order by 1""", params)


# -- Frafall -------------------------------------------------------------------------------------
def dropout_by_stage_and_time(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select stage,
               case when days_on_stage < 91 then '0–3 mnd' when days_on_stage < 183 then '3–6 mnd'
                    when days_on_stage < 366 then '6–12 mnd' when days_on_stage < 731 then '1–2 år'
                    else 'over 2 år' end as time_on_stage,
               count(distinct person_id) as persons
        from dash.dropout where {where} group by all""", params)


def dropout_by_reason(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select stage, coalesce(reason, 'ikke oppgitt') as reason, count(distinct person_id) as persons
        from dash.dropout where {where} group by all""", params)


def dropout_trend(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select year(dropout_date) as year, stage, count(distinct person_id) as persons
        from dash.dropout where {where} group by all order by 1""", params)


# -- Ventetid ------------------------------------------------------------------------------------
def wait_by_school(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select stage, school_name as school, coalesce(programme, '–') as programme,
               count(distinct person_id) as persons,
               median(wait_days) as median_days, quantile_cont(wait_days, 0.9) as p90_days
        from dash.wait where status = 'started' and {where}
        group by all order by 1, 2, 3""", params)


def waiting_now(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select stage,
               case when wait_days < 31 then 'under 1 mnd' when wait_days < 92 then '1–3 mnd'
                    when wait_days < 183 then '3–6 mnd' when wait_days < 366 then '6–12 mnd'
                    else 'over 1 år' end as waited,
               count(distinct person_id) as persons
        from dash.wait where status = 'waiting' and {where} group by all""", params)


def share_waiting_longer(con, f: Filters, threshold_days: int) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select stage, count(distinct person_id) as persons,
               count(distinct person_id) filter (where wait_days > ?) as longer
        from dash.wait where status in ('started', 'waiting') and {where} group by 1 order by 1""",
               [threshold_days, *params])


def wait_trend(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select date_trunc('month', applied_date)::date as month, count(distinct person_id) as persons,
               median(wait_days) as median_days
        from dash.wait where status = 'started' and {where} group by 1 order by 1""", params)


# -- Introprogram --------------------------------------------------------------------------------
def intro_outcomes_by_municipality(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select municipality_name as municipality, end_type, count(distinct person_id) as persons
        from dash.outcome where {where} group by all""", params)


def direct_transition(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(con, f"""
        select coalesce(direct_transition, 'ikke registrert') as transition, count(distinct person_id) as persons
        from dash.outcome where end_type = 'completed' and {where} group by 1""", params)


# -- Datakvalitet ----------------------------------------------------------------------------------
def recent_builds(con, limit: int = 10) -> pl.DataFrame:
    return run(con, "select build_id, as_of, finished_at, files_loaded, events, persons, code_version "
                    "from meta.build order by finished_at desc limit ?", [limit])


def files_by_status(con) -> pl.DataFrame:
    return run(con, """select source, status, count(*) as files, sum(rows_read) as rows_read,
                              sum(rows_loaded) as rows_loaded, sum(rows_quarantined) as rows_quarantined,
                              sum(rows_duplicate) as rows_duplicate
                       from audit.file_log group by all order by 1, 2""")


def refused_files(con, limit: int = 50) -> pl.DataFrame:
    return run(con, """select file_name, source, status, first_seen_at, rows_read, message
                       from audit.file_log where status in ('quarantined', 'privacy_incident')
                       order by first_seen_at desc limit ?""", [limit])


def landing_anomalies(con) -> pl.DataFrame:
    """What the newest load found in the landing zone besides files it read (links, special
    files, folders, files still being written); empty for warehouses built before issue 10."""
    try:
        return run(con, """select path, kind, action, message from audit.landing_anomaly
                           where load_id = (select load_id from audit.load_run
                                            order by started_at desc limit 1)
                           order by action, path""")
    except duckdb.CatalogException:
        return pl.DataFrame(schema={"path": pl.String, "kind": pl.String, "action": pl.String,
                                    "message": pl.String})


def quarantine_by_rule(con) -> pl.DataFrame:
    return run(con, """select q.source, q.rule, count(*) as rows, count(distinct q.file_name) as files
                       from audit.quarantine q join audit.file_log f using (sha256, file_name)
                       where f.status not in ('quarantined', 'privacy_incident')
                       group by all order by rows desc""")


def municipality_choices(con) -> dict:
    """Trøndelag's municipalities and regions for the place filter."""
    rows = con.execute("select municipality_code, municipality_name, region from reference.municipality "
                       "where county_name = 'Trøndelag' order by municipality_name").fetchall()
    by_region: dict[str, list[str]] = {}
    for code, _, region in rows:
        if region:
            by_region.setdefault(region, []).append(code)
    return {"names": [r[1] for r in rows], "code_by_name": {r[1]: r[0] for r in rows},
            "regions": sorted(by_region), "by_region": by_region}
