"""Every SQL the dashboard runs. Parameterised (no filter value is ever pasted into SQL),
aggregated (no person-level row leaves this module), and free of Streamlit so the
benchmark and the tests call the same functions the pages do.

Each function takes an open read-only DuckDB connection, the shared `Filters` and
returns a Polars frame of counts and figures *before* disclosure control; the pages
pass every frame through `dashboard.disclosure` before showing or offering it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import polars as pl

STAGE_ORDER = ["settlement", "intro", "norwegian", "primary", "combination", "upper_secondary",
               "work_training", "apprenticeship", "trade_certificate", "work"]
AGE_GROUPS = {"16–25": (16, 25), "26–35": (26, 35), "36–45": (36, 45), "46–55": (46, 55), "56+": (56, 200)}


@dataclass(frozen=True)
class Filters:
    """The shared filters. Empty tuple / None means "all"."""
    cohorts: tuple[int, ...] = ()
    municipalities: tuple[str, ...] = ()
    sex: str | None = None
    age_group: str | None = None
    country: str | None = None
    reason: str | None = None

    def person_clause(self, alias: str = "p") -> tuple[str, list]:
        """WHERE conditions on core.person (settlement cohort and person attributes)."""
        conds, params = [], []
        if self.cohorts:
            conds.append(f"list_contains(?::INTEGER[], year({alias}.settlement_date))")
            params.append(list(self.cohorts))
        if self.sex:
            conds.append(f"{alias}.sex = ?")
            params.append(self.sex)
        if self.age_group:
            low, high = AGE_GROUPS[self.age_group]
            conds.append(f"year({alias}.settlement_date) - {alias}.birth_year between ? and ?")
            params += [low, high]
        if self.country:
            conds.append(f"{alias}.country_background = ?")
            params.append(self.country)
        if self.reason:
            conds.append(f"{alias}.immigration_reason = ?")
            params.append(self.reason)
        return (" and ".join(conds) or "true"), params

    def place_clause(self, column: str) -> tuple[str, list]:
        if not self.municipalities:
            return "true", []
        return f"list_contains(?::VARCHAR[], {column})", [list(self.municipalities)]

    def where(self, place_column: str, alias: str = "p") -> tuple[str, list]:
        person, p1 = self.person_clause(alias)
        place, p2 = self.place_clause(place_column)
        return f"({person}) and ({place})", p1 + p2


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """One parameterised query, its result as a Polars frame (through Arrow, no copy per row)."""
    return pl.from_arrow(con.execute(sql, params or []).to_arrow_table())


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
    where, params = f.where("s.municipality_code")
    return run(con, f"""
        select s.stage, count(distinct s.person_id) as persons
        from marts.stage_spell s join core.person p using (person_id)
        where s.start_date <= ? and (s.end_date is null or s.end_date >= ?) and {where}
        group by 1""", [as_of, as_of, *params])


def ended_this_year(con, f: Filters, as_of: dt.date) -> pl.DataFrame:
    where, params = f.where("s.municipality_code")
    return run(con, f"""
        select s.end_type, count(distinct s.person_id) as persons
        from marts.stage_spell s join core.person p using (person_id)
        where year(s.end_date) = ? and s.end_type in ('completed', 'dropped_out') and {where}
        group by 1""", [as_of.year, *params])


def waiting_summary(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("w.municipality_code")
    return run(con, f"""
        select count(*) as applications, count(distinct w.person_id) as persons,
               median(w.wait_days) as median_wait_days
        from marts.school_place_wait w join core.person p using (person_id)
        where w.status = 'waiting' and {where}""", params)


def november_indicator(con, f: Filters) -> pl.DataFrame:
    """Share in work or education in November the year after, per end-year cohort."""
    where, params = f.where("o.municipality_code")
    return run(con, f"""
        select year(o.end_date) as end_year,
               count(distinct o.person_id) as persons,
               count(distinct o.person_id) filter (where o.in_work_or_education_nov_next_year) as in_work_or_education
        from marts.intro_outcome o join core.person p using (person_id)
        where o.in_work_or_education_nov_next_year is not null and {where}
        group by 1 order by 1""", params)


# -- Forløp -------------------------------------------------------------------------------------
_PATHS = """
    with spells as (
        select s.person_id, s.stage, min(s.start_date) as first_start,
               arg_max(s.end_type, s.start_date) as last_end_type
        from marts.stage_spell s join core.person p using (person_id)
        where {where}
        group by 1, 2
    ),
    settled as (
        select p.person_id, 'settlement' as stage, p.settlement_date as first_start, 'completed' as last_end_type
        from core.person p where p.settlement_date is not null and {where_person}
    ),
    steps as (
        select *, row_number() over (partition by person_id order by first_start, stage) as step
        from (select * from spells union all select * from settled)
    )
"""


def flows(con, f: Filters) -> pl.DataFrame:
    """Person moves from one stage to the next (by first start); the last stage flows on
    to "dropped out", "ongoing" or stays (work)."""
    where, params = f.where("p.settlement_municipality_code")
    person, pparams = f.person_clause()
    place, plparams = f.place_clause("p.settlement_municipality_code")
    return run(con, _PATHS.format(where=where, where_person=f"({person}) and ({place})") + """
        select a.stage as source, coalesce(b.stage,
               case when a.stage = 'work' then null
                    when a.last_end_type = 'dropped_out' then 'dropped_out'
                    when a.last_end_type = 'ongoing' then 'ongoing' else 'ended' end) as target,
               count(*) as persons
        from steps a left join steps b on b.person_id = a.person_id and b.step = a.step + 1
        group by all having target is not null""", params + pparams + plparams)


def pathway_variants(con, f: Filters, limit: int = 15) -> pl.DataFrame:
    where, params = f.where("p.settlement_municipality_code")
    person, pparams = f.person_clause()
    place, plparams = f.place_clause("p.settlement_municipality_code")
    return run(con, _PATHS.format(where=where, where_person=f"({person}) and ({place})") + """
        select variant, count(*) as persons from (
            select person_id, string_agg(stage, ' → ' order by step) as variant from steps group by 1)
        group by 1 order by persons desc limit ?""", params + pparams + plparams + [limit])


# -- Kohort ------------------------------------------------------------------------------------
def cohort_funnel(con, f: Filters, by_cohort: bool = True) -> pl.DataFrame:
    """Persons reaching each stage (per settlement cohort, or all selected cohorts together),
    with the median days from settlement to the first start on the stage."""
    where, params = f.where("p.settlement_municipality_code")
    cohort = "year(p.settlement_date)" if by_cohort else "null::integer"
    return run(con, f"""
        with reached as (
            select person_id, stage, min(start_date) as first_date from marts.stage_spell group by 1, 2
            union all
            select person_id, stage, min(event_date) from core.event
            where (stage = 'settlement' and event_type = 'settled') or (stage = 'trade_certificate' and event_type = 'passed')
            group by 1, 2
        )
        select {cohort} as cohort_year, r.stage, count(distinct r.person_id) as persons,
               median(r.first_date - p.settlement_date) filter (where r.stage <> 'settlement') as median_days
        from reached r join core.person p using (person_id)
        where p.settlement_date is not null and {where}
        group by 1, 2 order by 1""", params)


# -- Frafall -------------------------------------------------------------------------------------
def dropout_by_stage_and_time(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("d.municipality_code")
    return run(con, f"""
        select d.stage,
               case when d.days_on_stage < 91 then '0–3 mnd' when d.days_on_stage < 183 then '3–6 mnd'
                    when d.days_on_stage < 366 then '6–12 mnd' when d.days_on_stage < 731 then '1–2 år'
                    else 'over 2 år' end as time_on_stage,
               count(distinct d.person_id) as persons
        from marts.dropout d left join core.person p using (person_id)
        where {where} group by all""", params)


def dropout_by_reason(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("d.municipality_code")
    return run(con, f"""
        select d.stage, coalesce(d.reason, 'ikke oppgitt') as reason, count(distinct d.person_id) as persons
        from marts.dropout d left join core.person p using (person_id)
        where {where} group by all""", params)


def dropout_trend(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("d.municipality_code")
    return run(con, f"""
        select year(d.dropout_date) as year, d.stage, count(distinct d.person_id) as persons
        from marts.dropout d left join core.person p using (person_id)
        where {where} group by all order by 1""", params)


# -- Ventetid ------------------------------------------------------------------------------------
def wait_by_school(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("w.municipality_code")
    return run(con, f"""
        select w.stage, coalesce(s.school_name, w.school_orgnr, 'Trøndelagsmodellen') as school,
               coalesce(w.programme, '–') as programme, count(distinct w.person_id) as persons,
               median(w.wait_days) as median_days, quantile_cont(w.wait_days, 0.9) as p90_days
        from marts.school_place_wait w left join core.person p using (person_id)
        left join reference.school s on s.school_orgnr = w.school_orgnr
        where w.status = 'started' and {where}
        group by all order by 1, 2, 3""", params)


def waiting_now(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("w.municipality_code")
    return run(con, f"""
        select w.stage,
               case when w.wait_days < 31 then 'under 1 mnd' when w.wait_days < 92 then '1–3 mnd'
                    when w.wait_days < 183 then '3–6 mnd' when w.wait_days < 366 then '6–12 mnd'
                    else 'over 1 år' end as waited,
               count(distinct w.person_id) as persons
        from marts.school_place_wait w left join core.person p using (person_id)
        where w.status = 'waiting' and {where} group by all""", params)


def share_waiting_longer(con, f: Filters, threshold_days: int) -> pl.DataFrame:
    where, params = f.where("w.municipality_code")
    return run(con, f"""
        select w.stage, count(distinct w.person_id) as persons,
               count(distinct w.person_id) filter (where w.wait_days > ?) as longer
        from marts.school_place_wait w left join core.person p using (person_id)
        where w.status in ('started', 'waiting') and {where} group by 1 order by 1""", [threshold_days, *params])


def wait_trend(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("w.municipality_code")
    return run(con, f"""
        select date_trunc('month', w.applied_date)::date as month, count(distinct w.person_id) as persons,
               median(w.wait_days) as median_days
        from marts.school_place_wait w left join core.person p using (person_id)
        where w.status = 'started' and {where} group by 1 order by 1""", params)


# -- Introprogram --------------------------------------------------------------------------------
def intro_outcomes_by_municipality(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("o.municipality_code")
    return run(con, f"""
        select coalesce(m.municipality_name, o.municipality_code) as municipality, o.end_type,
               count(distinct o.person_id) as persons
        from marts.intro_outcome o join core.person p using (person_id)
        left join reference.municipality m on m.municipality_code = o.municipality_code
        where {where} group by all""", params)


def direct_transition(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("o.municipality_code")
    return run(con, f"""
        select coalesce(o.direct_transition, 'ikke registrert') as transition, count(distinct o.person_id) as persons
        from marts.intro_outcome o join core.person p using (person_id)
        where o.end_type = 'completed' and {where} group by 1""", params)


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
