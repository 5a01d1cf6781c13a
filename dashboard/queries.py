"""Every SQL the dashboard runs. Parameterised (no filter value is ever pasted into SQL),
aggregated (no person-level row leaves this module), and free of Streamlit so the
benchmark and the tests call the same functions the pages do.

Each function takes an open read-only DuckDB connection, the shared `Filters` and
returns a Polars frame of counts and figures *before* disclosure control: every count of
persons `c` comes with its cell key `c_key` (`disclosure.cell_sql`), and a total is a cell
of its own (a row whose category is `TOTAL`), never a sum of other cells.
`dashboard.ui.query` passes every frame through `disclosure.publish` before a page sees it.

**Scope is enforced here**: `Filters.scope` (the municipalities the logged-in user may
see, or `COUNTY`) is part of every person query's WHERE clause, whatever the other
filters say; a `Filters` without a scope sees nothing. The data-staff queries
(Datakvalitet) refuse any other role.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from dashboard.disclosure import KEY_MOD, KEY_SUFFIX, cell_sql, complement_sql
from warehouse import STAGES

STAGE_ORDER = list(STAGES)
AGE_GROUPS = {"16–25": (16, 25), "26–35": (26, 35), "36–45": (36, 45), "46–55": (46, 55), "56+": (56, 200)}
TOTAL = "Totalt"
COUNTY = ("*",)  # scope of the whole county (leaders, data staff)
ROLES = ("leader", "adviser", "data_staff", "follow_up")


@dataclass(frozen=True)
class Filters:
    """The shared filters. Empty tuple / None means "all". Every `dash.*` serving table
    carries the person's filter attributes, so conditions apply to plain columns.

    `scope` is not a filter the user chooses: it is what the user's role allows
    (`COUNTY`, or a tuple of municipality codes); empty means nothing."""

    scope: tuple[str, ...] = ()
    cohorts: tuple[int, ...] = ()
    municipalities: tuple[str, ...] = ()
    sex: str | None = None
    age_group: str | None = None
    country: str | None = None
    reason: str | None = None

    def where(self, place_column: str) -> tuple[str, list]:
        """WHERE conditions and their parameters; `place_column` is the municipality the
        page's geography filter applies to."""
        conds: list[str] = []
        params: list = []
        if self.scope != COUNTY:
            if not self.scope:
                return "false", []
            conds.append(f"list_contains(?::VARCHAR[], {place_column})")
            params.append(list(self.scope))
        if self.cohorts:
            conds.append("list_contains(?::INTEGER[], cohort_year)")
            params.append(list(self.cohorts))
        if self.municipalities:
            conds.append(f"list_contains(?::VARCHAR[], {place_column})")
            params.append(list(self.municipalities))
        for column, value in (
            ("sex", self.sex),
            ("age_group", self.age_group),
            ("country_background", self.country),
            ("immigration_reason", self.reason),
        ):
            if value:
                conds.append(f"{column} = ?")
                params.append(value)
        return " and ".join(conds) or "true", params


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """One parameterised query, its result as a Polars frame (through Arrow, no copy per row)."""
    return con.sql(sql, params=params or []).pl()


# -- shared -----------------------------------------------------------------------------------
def latest_build(con) -> dict:
    row = con.execute(
        "select build_id, as_of, finished_at, files_loaded, events, persons, code_version "
        "from meta.build order by finished_at desc limit 1"
    ).fetchall()
    row = row[0] if row else None
    keys = ["build_id", "as_of", "finished_at", "files_loaded", "events", "persons", "code_version"]
    return dict(zip(keys, row, strict=True)) if row else {}


def filter_options(con) -> dict:
    return {
        "cohorts": [
            r[0]
            for r in con.execute(
                "select distinct year(settlement_date) y from core.person where settlement_date is not null order by y"
            ).fetchall()
        ],
        "countries": [
            r[0]
            for r in con.execute(
                "select country_background from core.person where country_background is not null "
                "group by 1 having count(*) >= 5 order by count(*) desc"
            ).fetchall()
        ],
        "reasons": [
            r[0]
            for r in con.execute(
                "select distinct immigration_reason from core.person where immigration_reason is not null order by 1"
            ).fetchall()
        ],
    }


# -- Oversikt ---------------------------------------------------------------------------------
def persons_on_stage_now(con, f: Filters, as_of: dt.date) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select stage, {cell_sql()} from dash.spell
        where start_date <= ? and (end_date is null or end_date >= ?) and {where}
        group by 1""",
        [as_of, as_of, *params],
    )


def ended_this_year(con, f: Filters, as_of: dt.date) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select end_type, {cell_sql()} from dash.spell
        where end_date between ? and ? and end_type in ('completed', 'dropped_out') and {where}
        group by 1""",
        [dt.date(as_of.year, 1, 1), dt.date(as_of.year, 12, 31), *params],
    )


def waiting_summary(con, f: Filters) -> pl.DataFrame:
    """Persons waiting for a school place now, and the median days their applications have waited."""
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select {cell_sql()}, median(wait_days) as median_wait_days
        from dash.wait where status = 'waiting' and {where}""",
        params,
    )


def november_indicator(con, f: Filters) -> pl.DataFrame:
    """Persons in work or education in November the year after, per end-year cohort: the
    whole, the part and its complement, each a cell of its own."""
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select *, {complement_sql("persons", "in_work_or_education", "not_in_work_or_education")} from (
            select year(end_date) as end_year, {cell_sql()},
                   {cell_sql("in_work_or_education", "in_work_or_education_nov_next_year")}
            from dash.outcome where in_work_or_education_nov_next_year is not null and {where}
            group by 1) order by 1""",
        params,
    )


# -- Forløp -------------------------------------------------------------------------------------
def flows(con, f: Filters) -> pl.DataFrame:
    """Moves between the stages people reached, in the ladder's order (see dash.person_step),
    and for persons with no settlement on record a start node of their own
    (`unknown_settlement` → their first stage), so no flow comes out of nowhere."""
    where, params = f.where("settlement_municipality_code")
    # one row per person and move (dash.person_step is unique on (person_id, source),
    # dash.person_unsettled_start on person_id), so the cells need no DISTINCT
    return run(
        con,
        f"""
        select source, target, {cell_sql(one_row_per_person=True)} from (
            select source, target, record_key from dash.person_step where {where}
            union all
            select 'unknown_settlement', first_stage, record_key from dash.person_unsettled_start where {where})
        group by all""",
        [*params, *params],
    )


def flow_nodes(con, f: Filters) -> pl.DataFrame:
    """Each node of the Sankey as a cell of its own: persons who reached the stage (as on
    Kohort, but with persons of unknown settlement), persons of unknown settlement, and
    persons whose pathway ended in each end node. A node's size in the chart is the sum of
    its visible flows; its label is this count."""
    where, params = f.where("settlement_municipality_code")
    # one row per person in each group (dash.person_stage is unique on (person_id, stage), a
    # person has at most one end move): no DISTINCT needed
    cell = cell_sql(one_row_per_person=True)
    return run(
        con,
        f"""
        select stage as node, {cell} from dash.person_stage where {where} group by 1
        union all
        select 'unknown_settlement', {cell} from dash.person_unsettled_start where {where}
        union all
        select target, {cell} from dash.person_step
        where target in ('dropped_out', 'ongoing', 'ended') and {where} group by 1""",
        [*params, *params, *params],
    )


def pathway_variants(con, f: Filters) -> pl.DataFrame:
    """Every sequence of stages, in the order people started them (the page shows the
    most common by their published counts)."""
    where, params = f.where("settlement_municipality_code")
    return run(
        con,
        f"""select variant, {cell_sql(one_row_per_person=True)} from dash.person_variant where {where}
                        group by 1""",  # dash.person_variant: one row per person (its key test)
        params,
    )


# -- Kohort ------------------------------------------------------------------------------------
def cohort_funnel(con, f: Filters, by_cohort: bool = True) -> pl.DataFrame:
    """Persons reaching each stage (per settlement cohort, or all selected cohorts together),
    with the median days from settlement to the first start on the stage."""
    where, params = f.where("settlement_municipality_code")
    cohort = "cohort_year" if by_cohort else "null::integer"
    # every group is of one stage, and dash.person_stage has one row per person and stage
    # (its key test): counted without DISTINCT
    return run(
        con,
        f"""
        select {cohort} as cohort_year, stage, {cell_sql(one_row_per_person=True)},
               median(days_from_settlement) filter (where stage <> 'settlement') as median_days
        from dash.person_stage where cohort_year is not null and {where}
        group by 1, 2 order by 1""",
        params,
    )


# -- Frafall -------------------------------------------------------------------------------------
def _with_total(
    sql_rows: str, row: str, column: str, params: list, one_row_per_person: bool = False
) -> tuple[str, list]:
    """Cells per (row, column) plus each row's total as a cell of its own (column = TOTAL),
    in one pass (grouping sets). `one_row_per_person`: `sql_rows` holds each person at most
    once (see `cell_sql`)."""
    return (
        f"""select {row}, if(grouping({column}) = 1, '{TOTAL}', {column}::VARCHAR) as {column},
                   {cell_sql(one_row_per_person=one_row_per_person)}
                from ({sql_rows}) group by grouping sets (({row}, {column}), ({row}))""",
        params,
    )


def dropout_by_stage_and_time(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        *_with_total(
            f"""
        select stage, record_key,
               case when days_on_stage < 91 then '0–3 mnd' when days_on_stage < 183 then '3–6 mnd'
                    when days_on_stage < 366 then '6–12 mnd' when days_on_stage < 731 then '1–2 år'
                    else 'over 2 år' end as time_on_stage
        from dash.dropout where {where}""",
            "stage",
            "time_on_stage",
            params,
        ),
    )


# Drop-out reasons harmonised across sources before counting (one cell per reason).
REASON_SQL = """case reason when 'health' then 'helse' when 'other' then 'annet' when 'moved' then 'flyttet'
                else coalesce(reason, 'ikke oppgitt') end"""


def dropout_by_reason(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        *_with_total(
            f"""
        select stage, record_key, {REASON_SQL} as reason
        from dash.dropout where {where}""",
            "stage",
            "reason",
            params,
        ),
    )


def dropout_trend(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        *_with_total(
            f"""
        select year(dropout_date) as year, record_key, stage
        from dash.dropout where {where}""",
            "year",
            "stage",
            params,
        ),
    )


# -- Ventetid ------------------------------------------------------------------------------------
def wait_by_school(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select stage, school_name as school, coalesce(programme, '–') as programme, {cell_sql()},
               median(wait_days) as median_days, quantile_cont(wait_days, 0.9) as p90_days
        from dash.wait where status = 'started' and {where}
        group by all order by 1, 2, 3""",
        params,
    )


def waiting_now(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        *_with_total(
            f"""
        select stage, record_key,
               case when wait_days < 31 then 'under 1 mnd' when wait_days < 92 then '1–3 mnd'
                    when wait_days < 183 then '3–6 mnd' when wait_days < 366 then '6–12 mnd'
                    else 'over 1 år' end as waited
        from dash.wait where status = 'waiting' and {where}""",
            "stage",
            "waited",
            params,
        ),
    )


def share_waiting_longer(con, f: Filters, threshold_days: int) -> pl.DataFrame:
    """Applicants, those who waited longer than the threshold and those who did not (a
    person with several applications counts where their longest wait puts them)."""
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select *, {complement_sql("persons", "longer", "not_longer")} from (
            select stage, {cell_sql()}, {cell_sql("longer", "wait_days > ?")}
            from dash.wait where status in ('started', 'waiting') and {where} group by 1) order by 1""",
        [threshold_days, threshold_days, *params],
    )  # the threshold appears in both aggregates


SCHOOL_YEAR_SQL = "(year(applied_date) - if(month(applied_date) < 8, 1, 0))"


def wait_by_school_year(con, f: Filters, threshold_days: int = 90) -> pl.DataFrame:
    """Per stage and school year of the application (1 August–31 July, by its first year):
    persons whose application started (`persons`, the base of the median) and the median
    days they waited; applicants who started or are waiting, those of them who waited
    longer than the threshold (so far, for those still waiting) and the rest."""
    where, params = f.where("municipality_code")
    # Each applicant once per stage and school year first (whether any application of theirs
    # started, whether any waited longer), so the three cells count without DISTINCT (2× faster
    # at 300 000 persons); the median is of the started applications, as before.
    return run(
        con,
        f"""
        with applications as (
            select stage, {SCHOOL_YEAR_SQL} as school_year, record_key, status, wait_days
            from dash.wait where status in ('started', 'waiting') and {where}
        ),

        medians as (
            select stage, school_year, median(wait_days) filter (where status = 'started') as median_days
            from applications group by 1, 2
        ),

        applicants as (
            select stage, school_year, record_key,
                   bool_or(status = 'started') as started, bool_or(wait_days > ?) as longer
            from applications group by 1, 2, 3
        )

        select *, {complement_sql("applicants", "longer", "not_longer")} from (
            select stage, school_year,
                   {cell_sql("persons", "started", True)}, any_value(median_days) as median_days,
                   {cell_sql("applicants", None, True)}, {cell_sql("longer", "longer", True)}
            from applicants join medians using (stage, school_year) group by 1, 2)
        order by 1, 2""",
        [*params, threshold_days],
    )


def wait_trend(con, f: Filters) -> pl.DataFrame:
    """Started applications per quarter of application and stage, with the median wait."""
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select stage, date_trunc('quarter', applied_date)::date as quarter, {cell_sql()},
               median(wait_days) as median_days
        from dash.wait where status = 'started' and {where} group by 1, 2 order by 1, 2""",
        params,
    )


# -- Introprogram --------------------------------------------------------------------------------
def intro_outcomes_by_municipality(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        *_with_total(
            f"""
        select municipality_name as municipality, record_key, end_type
        from dash.outcome where {where}""",
            "municipality",
            "end_type",
            params,
        ),
    )


def direct_transition(con, f: Filters) -> pl.DataFrame:
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select coalesce(direct_transition, 'ikke registrert') as transition, {cell_sql()}
        from dash.outcome where end_type = 'completed' and {where} group by 1
        union all
        select '{TOTAL}', {cell_sql()} from dash.outcome where end_type = 'completed' and {where}""",
        [*params, *params],
    )


def november_by_municipality(con, f: Filters) -> pl.DataFrame:
    """The national indicator per municipality of the programme and end year (whole, part
    and complement, each a cell)."""
    where, params = f.where("municipality_code")
    return run(
        con,
        f"""
        select *, {complement_sql("persons", "in_work_or_education", "not_in_work_or_education")} from (
            select municipality_name as municipality, year(end_date) as end_year, {cell_sql()},
                   {cell_sql("in_work_or_education", "in_work_or_education_nov_next_year")}
            from dash.outcome where in_work_or_education_nov_next_year is not null and {where}
            group by 1, 2) order by 1, 2""",
        params,
    )


# -- Mål ------------------------------------------------------------------------------------------
START_KINDS = ("norwegian", "intro")  # the start the three-month rule is about
OUTCOMES = ("work", "work_or_education")  # the Kaplan–Meier outcomes
# Who the targets are about: the three-month rule concerns those with the right and duty
# to the programme and tuition (18–67 at settlement); the curves to work also youth from 16.
START_AGES = "age_at_settlement between 18 and 67"
OUTCOME_AGES = "age_at_settlement between 16 and 67"


def _start_cells(kind: str) -> str:
    if kind not in START_KINDS:
        raise ValueError(f"unknown start {kind}")
    # dash.settlement_start has one row per person (its key test)
    return (
        f"{cell_sql('decided', f'{kind}_within_3_months is not null', True)}, "
        f"{cell_sql('within', f'{kind}_within_3_months', True)}, "
        f"{cell_sql('persons', f'{kind}_start_date is not null', True)}, "
        f"median(days_to_{kind}) as median_days, "
        f"{cell_sql('waiting', f'{kind}_waiting_past_deadline', True)}"
    )


def _start_within(con, f: Filters, kind: str, row: str) -> pl.DataFrame:
    """Per `row` and sex (and all together, sex = TOTAL): settled persons whose deadline has
    passed or who started (`decided`), those who started within three months and the rest,
    those who started at all (the base of the median days to start), and those still
    waiting past the deadline on as_of."""
    where, params = f.where("settlement_municipality_code")
    return run(
        con,
        f"""
        select *, {complement_sql("decided", "within", "not_within")} from (
            select {row}, if(grouping(sex) = 1, '{TOTAL}', coalesce(sex, 'ukjent')) as sex, {_start_cells(kind)}
            from dash.settlement_start where {START_AGES} and {where}
            group by grouping sets (({row}, sex), ({row})))
        order by 1, 2""",
        params,
    )


def start_within_by_cohort(con, f: Filters, kind: str = "norwegian") -> pl.DataFrame:
    return _start_within(con, f, kind, "cohort_year")


def start_within_by_municipality(con, f: Filters, kind: str = "norwegian") -> pl.DataFrame:
    return _start_within(con, f, kind, "municipality_name")


NORWEGIAN_BY = {
    "cohort_year": "cohort_year",
    "municipality": "municipality_name",
    "sex": "sex",
    "country": "country_background",
}


OTHER_COUNTRIES = "andre land"
# The countries the dashboard names: those of at least 5 persons in the county, as in the
# country filter (filter_options). A rarer country is "andre land": its own row would say
# that 1–4 persons from it are in the county (the filter leaves it out for that reason).
LISTED_COUNTRIES = (
    "select country_background from core.person where country_background is not null group by 1 having count(*) >= 5"
)


def _norwegian_groups(by: str) -> tuple[str, str]:
    """The group expression of a `NORWEGIAN_BY` choice, and the groups always shown (a
    row for every listed country, so that a country's row never appears only when someone
    from it is in the selection: an empty row is "<5" like any other)."""
    group = NORWEGIAN_BY[by]
    if by != "country":
        return f"coalesce({group}::VARCHAR, 'ukjent')", "select null::VARCHAR as grp where false"
    expr = f"""case when {group} is null then 'ukjent'
                    when {group} in ({LISTED_COUNTRIES}) then {group} else '{OTHER_COUNTRIES}' end"""
    return expr, f"{LISTED_COUNTRIES} union select '{OTHER_COUNTRIES}'"


def norwegian_levels(con, f: Filters, by: str = "cohort_year") -> pl.DataFrame:
    """Persons who completed a Norwegian course, by their highest CEFR level (and TOTAL),
    per group (`NORWEGIAN_BY`); the course's municipality is the place filtered on."""
    where, params = f.where("municipality_code")
    group, always = _norwegian_groups(by)
    # dash.norwegian_level has one row per person (its key test), and each joins one group
    # once: the cells count without DISTINCT (25 → 13 ms at 300 000 persons)
    return run(
        con,
        *_with_total(
            f"""
        select g.grp, n.record_key, n.cefr_level
        from (select distinct grp from (select {group} as grp from dash.norwegian_level where {where}
                                        union all {always})) g
        left join (select {group} as grp, record_key, cefr_level
                   from dash.norwegian_level where {where}) n using (grp)""",
            "grp",
            "cefr_level",
            params * 2,
            one_row_per_person=True,
        ),
    )


def norwegian_b1(con, f: Filters, by: str = "cohort_year") -> pl.DataFrame:
    """Per group: persons who completed a Norwegian course, those at B1 or above and the rest."""
    where, params = f.where("municipality_code")
    group, always = _norwegian_groups(by)
    return run(
        con,
        f"""
        select *, {complement_sql("persons", "b1", "below_b1")} from (
            select g.grp, {cell_sql(one_row_per_person=True)}, {cell_sql("b1", "b1_or_above", True)}
            from (select distinct grp from (select {group} as grp from dash.norwegian_level where {where}
                                            union all {always})) g
            left join (select {group} as grp, record_key, b1_or_above
                       from dash.norwegian_level where {where}) n using (grp)
            group by 1) order by 1""",
        params * 2,
    )


def _month_counts(con, f: Filters, outcome: str, by_cohort: bool) -> pl.DataFrame:
    """Per month since settlement (and per cohort, `by_cohort`, with TOTAL for all of them):
    the persons (count and key sum, mod KEY_MOD), those who reached the outcome that month
    and those censored then. One scan serves a curve, its cohorts' cells and the persons at
    risk: dash.time_to_outcome has one row per person, so cells add up over months."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome}")
    where, params = f.where("settlement_municipality_code")
    cohort = f"if(grouping(cohort_year) = 1, '{TOTAL}', cohort_year::VARCHAR)" if by_cohort else f"'{TOTAL}'"
    sets = "grouping sets ((cohort_year, month), (month))" if by_cohort else "month"
    return run(
        con,
        f"""
        select {cohort} as cohort, months_to_{outcome} as month, {cell_sql(one_row_per_person=True)},
               count(*) filter (where reached_{outcome})::BIGINT as events,
               count(*) filter (where not reached_{outcome})::BIGINT as censored
        from dash.time_to_outcome where {OUTCOME_AGES} and {where}
        group by {sets}""",
        params,
    )


def _cells_of(rows: list[tuple[int, int]]) -> tuple[int, int]:
    """The cell of the persons of several month rows: counts add up, keys add up mod KEY_MOD."""
    return sum(n for n, _ in rows), sum(k for _, k in rows) % KEY_MOD


def time_to_outcome_curve(con, f: Filters, outcome: str = "work") -> pl.DataFrame:
    """The Kaplan–Meier curve as it may be shown (dashboard.survival.shown_curve): month and
    share reached in whole percent, only as far as at least 5 are at risk."""
    from dashboard import survival

    counts = _month_counts(con, f, outcome, by_cohort=False)
    return survival.shown_curve(survival.kaplan_meier_counts(counts))


def time_to_outcome_by_cohort(con, f: Filters, outcome: str = "work") -> pl.DataFrame:
    """Per cohort (and all selected together, cohort TOTAL): persons (a cell), the median
    months and the share reached after 1, 2 and 3 years, from each group's own curve."""
    from dashboard import survival

    counts = _month_counts(con, f, outcome, by_cohort=True)
    by: dict[str, list[tuple]] = {}
    for row in counts.select("cohort", "month", "persons", f"persons{KEY_SUFFIX}", "events", "censored").rows():
        by.setdefault(row[0], []).append(row[1:])
    by = by or {TOTAL: []}  # nobody selected: the total's cell is an empty one, as a count over no rows
    cells, rows = [], []
    for cohort, months in by.items():
        persons, key = _cells_of([(n, k) for _, n, k, _, _ in months])
        cells.append({"cohort": cohort, "persons": persons, f"persons{KEY_SUFFIX}": key})
        estimate = survival.estimate([(month, events, censored) for month, _, _, events, censored in months])
        rows.append({"cohort": cohort, **survival.summary_of(estimate)})
    cell_frame = pl.DataFrame(
        cells, schema={"cohort": pl.String, "persons": pl.Int64, f"persons{KEY_SUFFIX}": pl.Int64}
    )
    stats = pl.DataFrame(
        rows,
        schema={
            "cohort": pl.String,
            "median_months": pl.Int64,
            "share_1y": pl.Float64,
            "share_2y": pl.Float64,
            "share_3y": pl.Float64,
        },
    )
    order = pl.when(pl.col("cohort") == TOTAL).then(pl.lit("9999")).otherwise(pl.col("cohort"))
    return cell_frame.join(stats, on="cohort", how="left").sort(order)


def time_to_outcome_at_risk(con, f: Filters, outcome: str = "work") -> pl.DataFrame:
    """Persons still at risk (not yet reached, still observed) after 0, 1, 2 and 3 years: cells."""
    counts = _month_counts(con, f, outcome, by_cohort=False)
    rows = counts.select("month", "persons", f"persons{KEY_SUFFIX}").rows()
    out = []
    for years in (0, 1, 2, 3):
        persons, key = _cells_of([(n, k) for month, n, k in rows if month >= 12 * years])
        out.append({"years": years, "persons": persons, f"persons{KEY_SUFFIX}": key})
    return pl.DataFrame(out, schema={"years": pl.Int32, "persons": pl.Int64, f"persons{KEY_SUFFIX}": pl.Int64})


# -- Planlegging ----------------------------------------------------------------------------------
def _regions_in_scope(con, f: Filters) -> list[str] | None:
    """None for the whole county; else the regions wholly inside the user's scope."""
    if f.scope == COUNTY:
        return None
    rows = con.execute("""select region, list(municipality_code) from reference.municipality
                          where county_name = 'Trøndelag' and region is not null group by 1""").fetchall()
    return [r for r, codes in rows if f.scope and set(codes) <= set(f.scope)]


def school_place_forecast(con, f: Filters) -> pl.DataFrame:
    """The forecast and its backtest (model figures, not counts of persons: the actual
    numbers they are compared with come from `forecast_actuals`, as cells)."""
    regions = _regions_in_scope(con, f)
    if regions is not None and not regions:
        return run(con, "select * exclude (actual_applications) from marts.school_place_forecast where false")
    where = "true" if regions is None else "list_contains(?::VARCHAR[], region)"
    return run(
        con,
        f"""select intake_year, region, expected_applications, low_80, high_80, method
                        from marts.school_place_forecast where {where} order by 1, 2""",
        [] if regions is None else [regions],
    )


INTAKE_SQL = "(year(applied_date) + if(month(applied_date) >= 8, 1, 0))"


def forecast_actuals(con, f: Filters) -> pl.DataFrame:
    """Applicants for combination classes per intake and region of their home municipality,
    and for the county (region 'Trøndelag'): the actual numbers of the backtest, as cells."""
    from warehouse.forecast import COUNTY as COUNTY_NAME

    where, params = Filters(scope=f.scope).where("w.municipality_code")  # the forecast is for everyone
    return run(
        con,
        f"""
        select {INTAKE_SQL} as intake_year, if(grouping(m.region) = 1, '{COUNTY_NAME}', m.region) as region,
               {cell_sql("applicants")}
        from dash.wait w join reference.municipality m on m.municipality_code = w.municipality_code
        where w.source = 'combination_classes' and m.county_name = 'Trøndelag' and m.region is not null and {where}
        group by grouping sets ((1, m.region), (1)) order by 1, 2""",
        params,
    )


def settlement_plans_by_region(con, f: Filters) -> pl.DataFrame:
    """The plans in force per region and year: requested, decided (municipalities still
    undecided are counted), unaccompanied minors. Plan figures, not counts of persons."""
    where, params = Filters(scope=f.scope).where("p.municipality_code")  # plans have no persons to filter
    return run(
        con,
        f"""
        select p.year, m.region, sum(p.requested)::BIGINT as requested, sum(p.decided)::BIGINT as decided,
               count(*) filter (where p.decided is null) as undecided_municipalities,
               sum(p.unaccompanied_minors)::BIGINT as unaccompanied_minors
        from marts.settlement_plan p join reference.municipality m using (municipality_code)
        where m.county_name = 'Trøndelag' and {where} group by all order by 1, 2""",
        params,
    )


# What each page asks for (the differencing attacker in the tests runs all of them).
PAGE_QUERIES = {
    "oversikt": ["persons_on_stage_now", "ended_this_year", "waiting_summary", "november_indicator"],
    "forlop": ["flows", "flow_nodes", "pathway_variants"],
    "kohort": ["cohort_funnel"],
    "frafall": ["dropout_by_stage_and_time", "dropout_by_reason", "dropout_trend"],
    "ventetid": ["wait_by_school", "waiting_summary", "waiting_now", "wait_by_school_year", "wait_trend"],
    "introprogram": [
        "intro_outcomes_by_municipality",
        "direct_transition",
        "november_indicator",
        "november_by_municipality",
    ],
    "mal": [
        "start_within_by_cohort",
        "start_within_by_municipality",
        "norwegian_levels",
        "norwegian_b1",
        "time_to_outcome_by_cohort",
        "time_to_outcome_at_risk",
    ],
    "planlegging": ["forecast_actuals"],
}


# -- Datakvalitet ----------------------------------------------------------------------------------
def require_data_staff(role: str) -> None:
    """File and build details are for data staff only."""
    if role != "data_staff":
        raise PermissionError("Datakvalitet is for data staff only")


def recent_builds(con, role: str, limit: int = 10) -> pl.DataFrame:
    require_data_staff(role)
    return run(
        con,
        "select build_id, as_of, finished_at, files_loaded, events, persons, code_version "
        "from meta.build order by finished_at desc limit ?",
        [limit],
    )


def files_by_status(con, role: str) -> pl.DataFrame:
    require_data_staff(role)
    return run(
        con,
        """select source, status, count(*) as files, sum(rows_read) as rows_read,
                              sum(rows_loaded) as rows_loaded, sum(rows_quarantined) as rows_quarantined,
                              sum(rows_duplicate) as rows_duplicate
                       from audit.file_log group by all order by 1, 2""",
    )


def refused_files(con, role: str, limit: int = 50) -> pl.DataFrame:
    require_data_staff(role)
    return run(
        con,
        """select file_name, source, status, first_seen_at, rows_read, message
                       from audit.file_log where status in ('quarantined', 'privacy_incident')
                       order by first_seen_at desc limit ?""",
        [limit],
    )


def landing_anomalies(con, role: str) -> pl.DataFrame:
    """What the newest load found in the landing zone besides files it read (links, special
    files, folders, files still being written); empty for warehouses built before issue 10."""
    require_data_staff(role)
    try:
        return run(
            con,
            """select path, kind, action, message from audit.landing_anomaly
                           where load_id = (select load_id from audit.load_run
                                            order by started_at desc limit 1)
                           order by action, path""",
        )
    except duckdb.CatalogException:
        return pl.DataFrame(schema={"path": pl.String, "kind": pl.String, "action": pl.String, "message": pl.String})


def quarantine_by_rule(con, role: str) -> pl.DataFrame:
    require_data_staff(role)
    return run(
        con,
        """select q.source, q.rule, count(*) as rows, count(distinct q.file_name) as files
                       from audit.quarantine q join audit.file_log f using (sha256, file_name)
                       where f.status not in ('quarantined', 'privacy_incident')
                       group by all order by rows desc""",
    )


def files_newest_first(con, role: str, limit: int = 500) -> pl.DataFrame:
    """Every landing file, the newest arrivals (last night's) first."""
    require_data_staff(role)
    return run(
        con,
        """select first_seen_at, file_name, source, status, rows_read, rows_loaded,
                              rows_quarantined, rows_duplicate, message
                       from audit.file_log order by first_seen_at desc, file_name limit ?""",
        [limit],
    )


def quarantined_rows(con, role: str, file_name: str, limit: int = 1000) -> pl.DataFrame:
    """A file's quarantined rows (row number, column, rule, message: never a row's values)."""
    require_data_staff(role)
    return run(
        con,
        """select row_number, column_name, rule, message from audit.quarantine
                       where file_name = ? order by row_number nulls first, column_name limit ?""",
        [file_name, limit],
    )


def source_freshness(con) -> pl.DataFrame:
    """Per source: the newest file loaded and the newest event in it (not about persons)."""
    return run(
        con,
        """
        select f.source, max(f.first_seen_at) as last_file, e.last_event
        from audit.file_log f
        left join (select source, max(event_date) as last_event from core.event group by 1) e using (source)
        where f.status = 'loaded' group by f.source, e.last_event order by 1""",
    )


def delivery_freshness(con, role: str) -> pl.DataFrame:
    """Every source and provider that has delivered, with its rhythm (Datakvalitet)."""
    require_data_staff(role)
    try:
        return run(
            con,
            """select source, provider_kind, provider_code, provider_name, deliveries, last_delivery,
                                  usual_gap_days, expected_by, overdue, days_late
                           from marts.delivery_freshness order by overdue desc, source, provider_name""",
        )
    except duckdb.CatalogException:
        return pl.DataFrame()


# Which sources the figures of each page come from (a missing delivery from one of them
# makes the page's figures too low: the page says so, issue 15).
ALL_SOURCES = ("intro", "adult_education", "combination_classes", "trondelag_model")
PAGE_SOURCES = {
    "oversikt": ALL_SOURCES,
    "forlop": ALL_SOURCES,
    "kohort": ALL_SOURCES,
    "frafall": ALL_SOURCES,
    "ventetid": ("adult_education", "combination_classes", "trondelag_model"),
    "introprogram": ("intro",),
    "oppfolging": ALL_SOURCES,
}


def overdue_deliveries(con, scope: tuple[str, ...], sources: tuple[str, ...]) -> list[dict]:
    """Overdue providers whose files feed these sources, within the scope: a municipality's
    own deliveries, the schools in it, and sources delivered for the whole county. Not
    about persons (files and dates), so every role sees the notes of its scope."""
    try:
        rows = con.execute(
            """
            select source, provider_kind, provider_code, provider_name, municipality_code, last_delivery,
                   usual_gap_days
            from marts.delivery_freshness
            where overdue and list_contains(?::VARCHAR[], source)
              and (? or provider_kind = 'source' or list_contains(?::VARCHAR[], municipality_code))
            order by source, provider_name""",
            [list(sources), scope == COUNTY, list(scope)],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    keys = [
        "source",
        "provider_kind",
        "provider_code",
        "provider_name",
        "municipality_code",
        "last_delivery",
        "usual_gap_days",
    ]
    return [dict(zip(keys, r, strict=True)) for r in rows]


# -- Oppfølging (the follow-up role only; person-level, by pseudonym) --------------------------
def require_follow_up(role: str) -> None:
    """The follow-up list names persons (by pseudonym): for the follow-up role only."""
    if role != "follow_up":
        raise PermissionError("the follow-up list is for the follow-up role only")


def follow_up_list(
    con, role: str, scope: tuple[str, ...], reasons: tuple[str, ...] = (), places: tuple[str, ...] = ()
) -> pl.DataFrame:
    """The follow-up list within the role's municipalities (never the whole county: the
    role is always given municipalities), narrowed to `places` (the sidebar's municipality
    or region) and `reasons` when given, newest first."""
    require_follow_up(role)
    if not scope or scope == COUNTY:
        scope = ("",)  # nothing
    conditions, params = ["list_contains(?::VARCHAR[], municipality_code)"], [list(scope)]
    for column, values in (("reason", reasons), ("municipality_code", places)):
        if values:
            conditions.append(f"list_contains(?::VARCHAR[], {column})")
            params.append(list(values))
    return run(
        con,
        f"""
        select person_id as pseudonym, reason, stage, event_date, detail, municipality_name, school_name,
               days_since, listed_from
        from marts.follow_up
        where {" and ".join(conditions)}
        order by listed_from desc, days_since, municipality_name, pseudonym""",
        params,
    )


def municipality_choices(con) -> dict:
    """Trøndelag's municipalities and regions for the place filter."""
    rows = con.execute(
        "select municipality_code, municipality_name, region from reference.municipality "
        "where county_name = 'Trøndelag' order by municipality_name"
    ).fetchall()
    by_region: dict[str, list[str]] = {}
    for code, _, region in rows:
        if region:
            by_region.setdefault(region, []).append(code)
    return {
        "names": [r[1] for r in rows],
        "code_by_name": {r[1]: r[0] for r in rows},
        "regions": sorted(by_region),
        "by_region": by_region,
    }
