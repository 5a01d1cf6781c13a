"""`marts.school_place_forecast`: combination-class applications at the next intakes.

Why a Python step and not a SQL model: the 80 % prediction interval comes from a
maintained statistics library (statsmodels' count models and their predictive
distribution), not from a formula written here. It runs in `warehouse.build.build`
right after the SQL models, on the same candidate warehouse.

The model, per unit (each region of `reference.municipality`, and `Trøndelag`):

- **Intake T** is the August start of year T. An application belongs to the intake whose
  application year it falls in: applied 1 August T−1 … 31 July T (the Ventetid page's
  school year, by its second year). Applications are counted as distinct persons (a person
  who applies twice for one intake needs one place), by the applicant's home municipality.
- **Plans**: P(Y) = the settlements planned for year Y in the unit's municipalities: the
  council's decision where there is one, IMDi's request while undecided, from the newest
  delivery dated before the forecast is made. A year with no plan delivered yet takes
  the newest earlier year's figure (carried forward).
- **Timing**: applicants for intake T settled in year T−1 or T; w = the share of
  past applicants who settled in the year before their intake.
- **Age mix**: y = the share of settled persons aged 16–24 at settlement in the unit.
- **Exposure** X(T) = y · (w · P(T−1) + (1 − w) · P(T)): the young people the plans bring
  into intake T's application year.
- **Share who apply**: applications(T) ~ NegativeBinomial(mean = exp(b) · X(T)),
  fitted by maximum likelihood (statsmodels `NegativeBinomial`, offset log X) on the unit's
  own past intakes (each region, and the county, has its own share); exp(b) is the share of
  those young people who apply. Poisson where the negative binomial cannot be fitted (too
  few intakes, or no over-dispersion to estimate).
- The expected value is the predictive mean, `low_80`/`high_80` the 10th and 90th
  percentiles of the fitted predictive distribution (`results.get_distribution`). The
  interval leaves out the uncertainty of b itself: with few intakes it is too narrow,
  which the backtest shows.

**Backtest**: for every past intake whose application year has ended by `as_of`, the
forecast made on 1 August T−1 (the day its application year opened) from data dated
before that day only: applications, settlements, and plan deliveries dated before it.
`forecast_unit_rows` filters every input by that cutoff itself, so no caller can leak a
later fact into a past forecast (tests/test_targets.py changes every later fact and
checks that the backtest does not move).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from functools import partial

import duckdb
import polars as pl

from warehouse import letters

COUNTY = "Trøndelag"
LOW, HIGH = 0.10, 0.90  # the 80 % prediction interval
MIN_INTAKES = 3  # fewest past intakes a forecast is fitted on
YOUTH = (16, 24)  # combination classes: newly arrived aged 16–24
COLUMNS = {
    "intake_year": pl.Int32,
    "region": pl.String,
    "expected_applications": pl.Float64,
    "low_80": pl.Int64,
    "high_80": pl.Int64,
    "method": pl.String,
    "actual_applications": pl.Int64,
    "forecast_made_on": pl.Date,
}


@dataclass
class Inputs:
    """Everything the forecast reads, with the dates that decide when each fact was known."""

    applications: pl.DataFrame  # person_id, municipality_code, applied_date
    persons: pl.DataFrame  # person_id, settlement_date, settlement_municipality_code, birth_year
    plans: pl.DataFrame  # municipality_code, year, requested, decided, delivery_date, delivery_order
    regions: dict[str, str]  # municipality code -> region (Trøndelag's municipalities)


# What the forecast reads.
APPLICATIONS_SQL = """
    select person_id, municipality_code, applied_date from marts.school_place_wait
    where source = 'combination_classes'"""
PERSONS_SQL = """
    select person_id, settlement_date, settlement_municipality_code, birth_year from core.person
    where settlement_date is not null"""
PLANS_SQL = """
    select municipality_code, year, requested, decided, delivery_date, delivery_order
    from staging.stg_settlement_plan"""
REGIONS_SQL = """
    select municipality_code, region from reference.municipality
    where county_name = 'Trøndelag' and region is not null"""


def read_inputs(con: duckdb.DuckDBPyConnection) -> Inputs:
    return Inputs(
        con.sql(APPLICATIONS_SQL).pl(),
        con.sql(PERSONS_SQL).pl(),
        con.sql(PLANS_SQL).pl(),
        dict(con.execute(REGIONS_SQL).fetchall()),
    )


def intake_of(date: pl.Expr) -> pl.Expr:
    """The intake an application is for: applied 1 August T−1 … 31 July T → T."""
    return (date.dt.year() + pl.when(date.dt.month() >= 8).then(1).otherwise(0)).cast(pl.Int32)


def opens(intake: int) -> dt.date:
    """The first day of intake T's application year, when its forecast is made."""
    return dt.date(intake - 1, 8, 1)


def next_intakes(as_of: dt.date) -> list[int]:
    """The next two intakes whose August start is after as_of."""
    first = as_of.year + 1 if as_of >= dt.date(as_of.year, 8, 1) else as_of.year
    return [first, first + 1]


def _units(regions: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {COUNTY: set(regions)}
    for code, region in regions.items():
        out.setdefault(region, set()).add(code)
    return out


def _plan_totals(plans: pl.DataFrame, codes: set[str], cutoff: dt.date) -> dict[int, float]:
    """Planned settlements per year in these municipalities, from deliveries dated before
    the cutoff (the newest of them wins per municipality and year)."""
    known = plans.filter((pl.col("delivery_date") < cutoff) & pl.col("municipality_code").is_in(sorted(codes)))
    if known.height == 0:
        return {}
    newest = known.sort("delivery_order").group_by("municipality_code", "year").last()
    totals = newest.group_by("year").agg(pl.coalesce("decided", "requested").sum().alias("planned"))
    return {int(y): float(p) for y, p in totals.iter_rows()}


def _planned(totals: dict[int, float], year: int) -> float | None:
    """The plan for a year, or the newest earlier year's when none has been delivered yet."""
    earlier = [y for y in totals if y <= year]
    return totals[max(earlier)] if earlier else None


def _history(inputs: Inputs, cutoff: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Applications and settlements dated before the cutoff, with their region."""
    region = pl.col("code").replace_strict(inputs.regions, default=None)
    apps = (
        inputs.applications.filter(pl.col("applied_date") < cutoff)
        .with_columns(intake_of(pl.col("applied_date")).alias("intake"), pl.col("municipality_code").alias("code"))
        .with_columns(region.alias("region"))
        .filter(pl.col("region").is_not_null())
    )
    persons = (
        inputs.persons.filter(pl.col("settlement_date") < cutoff)
        .with_columns(pl.col("settlement_municipality_code").alias("code"))
        .with_columns(region.alias("region"))
        .filter(pl.col("region").is_not_null())
    )
    return apps, persons


def _fit(actual: list[int], exposure: list[float]):
    """The share-who-apply model on past intakes: negative binomial where it can be
    fitted, else Poisson; (results, method) or None."""
    import numpy as np
    from statsmodels.discrete.discrete_model import NegativeBinomial, Poisson  # not statsmodels.api: 0.7 s less

    y = np.asarray(actual, dtype=float)
    exog = np.ones((len(y), 1))
    offset = np.log(np.asarray(exposure, dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; convergence is checked below
        try:
            nb = NegativeBinomial(y, exog, offset=offset).fit(disp=0, maxiter=200)
            alpha = float(nb.params[-1])
            if nb.mle_retvals.get("converged") and math.isfinite(alpha) and 1e-6 < alpha < 50:
                return nb, "negbin-plan-exposure"
        except Exception:  # a failed fit falls back to Poisson
            pass
        try:
            poisson = Poisson(y, exog, offset=offset).fit(disp=0, maxiter=200)
            return poisson, "poisson-plan-exposure"
        except Exception:  # a failed Poisson fit: no forecast for this unit
            return None


def _exposure(totals: dict[int, float], youth: float, weight: float, intake: int) -> float | None:
    """X(T) = youth share · (w · P(T−1) + (1 − w) · P(T)); None without any plan."""
    last, this = _planned(totals, intake - 1), _planned(totals, intake)
    if last is None and this is None:
        return None
    before = last if last is not None else (this or 0.0)
    value = youth * (weight * before + (1 - weight) * (this or 0.0))
    return value if value > 0 else None


def forecast_unit_rows(inputs: Inputs, targets: list[int], cutoff: dt.date) -> list[dict]:
    """Forecasts for the target intakes, made on `cutoff` from data dated before it only.

    Returns one row per (target intake, unit) that could be forecast."""
    import numpy as np

    apps, persons = _history(inputs, cutoff)
    if apps.height == 0 or persons.height == 0:
        return []
    # Complete past intakes: their application year ended before the cutoff; the first,
    # possibly partial, intake of the data is left out.
    complete = sorted({int(t) for t in apps["intake"].unique() if opens(int(t) + 1) <= cutoff})[1:]
    # timing: share of past applicants who settled in the year before their intake
    timed = (
        apps.filter(pl.col("intake").is_in(complete))
        .join(inputs.persons.select("person_id", "settlement_date"), on="person_id", how="inner")
        .filter(pl.col("settlement_date") < cutoff)
        .with_columns((pl.col("intake") - pl.col("settlement_date").dt.year()).alias("lag"))
    )
    before = timed.filter(pl.col("lag") >= 1).height
    weight = before / timed.height if timed.height else 0.5
    rows = []
    for unit, codes in sorted(_units(inputs.regions).items()):
        mine = persons.filter(pl.col("code").is_in(sorted(codes)))
        if mine.height == 0:
            continue
        age = pl.col("settlement_date").dt.year() - pl.col("birth_year")
        youth = mine.filter(age.is_between(*YOUTH)).height / mine.height
        totals = _plan_totals(inputs.plans, codes, cutoff)
        exposure = partial(_exposure, totals, youth, weight)
        counts = (
            apps.filter(pl.col("code").is_in(sorted(codes)))
            .group_by("intake")
            .agg(pl.col("person_id").n_unique().alias("n"))
        )
        by_intake = {int(t): int(n) for t, n in counts.iter_rows()}
        train = [(by_intake.get(t, 0), exposure(t)) for t in complete]
        known = [(n, x) for n, x in train if x is not None]
        if len(known) < MIN_INTAKES:
            continue
        fitted = _fit([n for n, _ in known], [x for _, x in known])
        if fitted is None:
            continue
        results, method = fitted
        for target in targets:
            x = exposure(target)
            if x is None:
                continue
            distribution = results.get_distribution(exog=np.ones((1, 1)), offset=np.log([x]))
            rows.append(
                {
                    "intake_year": target,
                    "region": unit,
                    "expected_applications": round(float(np.ravel(distribution.mean())[0]), 1),
                    "low_80": int(np.ravel(distribution.ppf(LOW))[0]),
                    "high_80": int(np.ravel(distribution.ppf(HIGH))[0]),
                    "method": method,
                    "forecast_made_on": cutoff,
                }
            )
    return rows


def actual_applications(inputs: Inputs) -> dict[tuple[int, str], int]:
    """Distinct applicants per intake and unit, as the warehouse knows them now."""
    region = pl.col("municipality_code").replace_strict(inputs.regions, default=None)
    apps = inputs.applications.with_columns(
        intake_of(pl.col("applied_date")).alias("intake"), region.alias("region")
    ).filter(pl.col("region").is_not_null())
    out = {
        (int(t), r): int(n)
        for t, r, n in apps.group_by("intake", "region").agg(pl.col("person_id").n_unique()).iter_rows()
    }
    out.update(
        {(int(t), COUNTY): int(n) for t, n in apps.group_by("intake").agg(pl.col("person_id").n_unique()).iter_rows()}
    )
    return out


def _made_before(inputs: Inputs, cutoff: dt.date, targets: list[int]) -> str:
    """A digest of what a forecast made on `cutoff` may see: the inputs dated before it."""
    parts = [cutoff.isoformat(), ",".join(map(str, targets)), repr(sorted(inputs.regions.items()))]
    for frame, column in (
        (inputs.applications, "applied_date"),
        (inputs.persons, "settlement_date"),
        (inputs.plans, "delivery_date"),
    ):
        row_hashes = frame.filter(pl.col(column) < cutoff).hash_rows(seed=0).sort()
        parts.append(f"{row_hashes.len()}:{hashlib.sha256(row_hashes.to_numpy().tobytes()).hexdigest()}")
    return letters("|".join(parts))


def forecast_frame(
    inputs: Inputs, as_of: dt.date, known: dict[tuple[dt.date, str], list[dict]] | None = None
) -> tuple[pl.DataFrame, dict[tuple[dt.date, str], list[dict]]]:
    """Backtest rows for every past intake whose application year has ended by as_of, and
    forecasts for the next two intakes (made with everything dated up to as_of).

    Each forecast is made on a cutoff from what is dated before it, so one made on a past
    cutoff only changes when data dated before it arrive: `known` ({(cutoff, digest of
    what it saw): rows}) lets the incremental build reuse those instead of fitting again.
    Returns the frame and the rows per (cutoff, digest), for the next build."""
    actual = actual_applications(inputs)
    made: dict[tuple[dt.date, str], list[dict]] = {}

    def unit_rows(targets: list[int], cutoff: dt.date) -> list[dict]:
        key = (cutoff, _made_before(inputs, cutoff, targets))
        rows = known.get(key) if known is not None else None
        made[key] = rows if rows is not None else forecast_unit_rows(inputs, targets, cutoff)
        return made[key]

    rows = []
    intakes = sorted({t for t, _ in actual})
    for intake in intakes:
        if opens(intake + 1) > as_of + dt.timedelta(days=1):
            continue  # its application year has not ended: no actual number yet
        for row in unit_rows([intake], opens(intake)):
            rows.append({**row, "actual_applications": actual.get((intake, row["region"]), 0)})
    for row in unit_rows(next_intakes(as_of), as_of + dt.timedelta(days=1)):
        rows.append({**row, "actual_applications": None})
    return pl.DataFrame(rows, schema=COLUMNS).sort("intake_year", "region"), made


def _known(con: duckdb.DuckDBPyConnection) -> dict[tuple[dt.date, str], list[dict]]:
    rows = con.execute("select cutoff, digest, unit_rows from meta.forecast_made").fetchall()
    return {
        (cutoff, digest): [
            {**r, "forecast_made_on": dt.date.fromisoformat(r["forecast_made_on"])} for r in json.loads(text)
        ]
        for cutoff, digest, text in rows
    }


def build(con: duckdb.DuckDBPyConnection, as_of: dt.date, reuse: bool = False) -> None:
    """Create marts.school_place_forecast in the (candidate) warehouse. `reuse`: take the
    forecasts whose inputs are unchanged from the last build (`meta.forecast_made`) rather
    than fitting them again; a full build fits everything."""
    con.execute("create schema if not exists meta")
    con.execute("create table if not exists meta.forecast_made (cutoff date, digest varchar, unit_rows varchar)")
    frame, made = forecast_frame(read_inputs(con), as_of, _known(con) if reuse else None)
    con.execute("delete from meta.forecast_made").fetchall()
    con.executemany(
        "insert into meta.forecast_made (cutoff, digest, unit_rows) values (?, ?, ?)",
        [(cutoff, digest, json.dumps(rows, default=str)) for (cutoff, digest), rows in made.items()],
    )
    con.register("forecast_rows", frame.to_arrow())
    try:
        con.execute("""create or replace table marts.school_place_forecast as
                       select intake_year, region, expected_applications, low_80, high_80, method,
                              actual_applications
                       from forecast_rows order by intake_year, region""")
    finally:
        con.unregister("forecast_rows")


def backtest_mape(con: duckdb.DuckDBPyConnection, region: str = COUNTY) -> float | None:
    """Mean absolute percentage error of the backtest rows of one unit (intakes with at
    least one application)."""
    rows = con.execute(
        """select avg(abs(expected_applications - actual_applications) / actual_applications)
                          from marts.school_place_forecast
                          where region = ? and actual_applications > 0""",
        [region],
    ).fetchall()
    return None if not rows or rows[0][0] is None else float(rows[0][0])
