"""Kaplan–Meier curves of time from settlement to work (or to work or education), in
whole months, with the disclosure rules for curves.

Why computed here and not with a survival library: the estimator is a product over the
months of (1 − reached / at risk), a few lines over counts the warehouse already groups;
the tests check it against `lifelines` on the same data (tests/test_targets.py).

A curve is a table of counts too (who is at risk, who reached the outcome when), so:

- time is in whole months (`dash.time_to_outcome`), never days;
- a month's point is shown only where at least `MIN_AT_RISK` persons are still at risk
  (true count), and the curve stops at the first month that has fewer: past it, each step
  would be one or two persons; it also stops before a month after which fewer than
  `MIN_AT_RISK` of those at risk have not reached the outcome (the complement of a step);
- a step (a drop of the curve) is shown only once at least `MIN_EVENTS` persons have
  reached the outcome since the step before; until then the curve stays flat. Otherwise a
  step's size with the persons at risk beside it gives away that one or two persons reached
  work in that month (1 − 6/7 at 7 at risk is a step of one person);
- the share reached is rounded to whole percent, and the median and the shares after 1, 2
  and 3 years are read off this coarsened curve, never off the exact one;
- the persons at risk that the page shows beside the curve are cells of the cell-key
  method (queries.time_to_outcome_at_risk), perturbed like every other count.

Censoring: a person who has not reached the outcome by as_of counts as at risk up to and
including their last whole month, then leaves the risk set (lifelines' convention: at a
month where some reach the outcome and others are censored, the censored count as at risk).
"""

from __future__ import annotations

import polars as pl

MIN_AT_RISK = 5
MIN_EVENTS = 5
YEARS = (1, 2, 3)


def kaplan_meier(months: pl.Series, reached: pl.Series) -> pl.DataFrame:
    """The estimator on raw durations: month, at_risk, reached, censored, survival
    (the share not yet reached just after the month)."""
    data = pl.DataFrame({"month": months.cast(pl.Int64), "reached": reached.cast(pl.Boolean)})
    return kaplan_meier_counts(
        data.group_by("month").agg(
            pl.col("reached").sum().cast(pl.Int64).alias("events"),
            (~pl.col("reached")).sum().cast(pl.Int64).alias("censored"),
        )
    )


def kaplan_meier_counts(counts: pl.DataFrame) -> pl.DataFrame:
    """The estimator from counts per month (`month`, `events`, `censored`)."""
    return pl.DataFrame(
        estimate(counts.select("month", "events", "censored").rows()),
        schema={
            "month": pl.Int64,
            "at_risk": pl.Int64,
            "reached": pl.Int64,
            "censored": pl.Int64,
            "survival": pl.Float64,
        },
        orient="row",
    )


def estimate(counts: list[tuple[int, int, int]]) -> list[tuple[int, int, int, int, float]]:
    """(month, at risk, reached, censored, survival) from (month, events, censored), in plain
    Python over the few hundred months of a curve (the same floating-point steps as a
    cumulative product in Polars, without its per-operation cost: a page computes a dozen
    curves)."""
    rows = sorted(counts)
    at_risk = sum(events + censored for _, events, censored in rows)
    out = []
    survival = 1.0
    for month, events, censored in rows:
        survival *= 1 - events / at_risk
        out.append((month, at_risk, events, censored, survival))
        at_risk -= events + censored
    return out


def _coarsened(table: pl.DataFrame) -> list[float]:
    return _coarsened_rows(table.select("month", "at_risk", "reached", "censored", "survival").rows())


def _coarsened_rows(estimated: list[tuple[int, int, int, int, float]]) -> list[float]:
    """The survival the page may show at each month from 0 up to the last month shown (the
    list's index is the month): the true estimate at the months where a step of at least
    MIN_EVENTS persons completes, carried forward in between. `estimated`: rows of `estimate`."""
    rows = [(month, at_risk, reached, survival) for month, at_risk, reached, _, survival in estimated]
    # The risk set of a month with nobody reaching or leaving is that of the next month that
    # has someone: so the curve ends at the last month with a record whose risk set is large
    # enough (risk sets only shrink, so every earlier month's is too).
    last = max((month for month, at_risk, _, _ in rows if at_risk >= MIN_AT_RISK), default=-1)
    # Nor may the curve show a month after which fewer than MIN_AT_RISK of those at risk have
    # not reached the outcome: its share with the persons at risk beside it tells how few did
    # not (7 at risk, 5 reach work: a step to 71 % says that 2 did not). It ends the month before.
    few_left = [month for month, at_risk, reached, _ in rows if at_risk - reached < MIN_AT_RISK]
    if few_left:
        last = min(last, min(few_left) - 1)
    released: dict[int, float] = {}
    pending = 0
    for month, _, reached, value in sorted(rows):
        if month > last:
            break
        pending += reached
        if pending >= MIN_EVENTS:
            released[month] = value
            pending = 0
    survival, current = [], 1.0
    for month in range(last + 1):
        current = released.get(month, current)
        survival.append(current)
    return survival


def shown_curve(table: pl.DataFrame) -> pl.DataFrame:
    """What may be shown of a curve: month and share reached (whole percent), from month 0 up
    to the last month before the risk set first drops under MIN_AT_RISK, with steps of at
    least MIN_EVENTS persons (see the module's docstring)."""
    survival = _coarsened(table)
    return pl.DataFrame({"month": list(range(len(survival))), "share_reached": _share_reached(survival)}).cast(
        {"month": pl.Int64, "share_reached": pl.Float64}
    )


def _share_reached(survival: list[float]) -> pl.Series:
    return ((1 - pl.Series(survival, dtype=pl.Float64)) * 100).round(0)


def summary(table: pl.DataFrame) -> dict:
    """The median in months (the first month where the shown curve's survival is 0.5 or less;
    None when the shown curve does not get there) and the share reached after 1, 2 and 3
    years (whole percent; None where the curve is not shown that far). Both from the curve as
    shown, so they can reveal nothing it does not."""
    return summary_of(table.select("month", "at_risk", "reached", "censored", "survival").rows())


def summary_of(estimated: list[tuple[int, int, int, int, float]]) -> dict:
    """`summary` of the rows of `estimate` (no frame: a page summarises a curve per cohort)."""
    survival = _coarsened_rows(estimated)  # index = month
    out: dict = {"median_months": next((month for month, value in enumerate(survival) if value <= 0.5), None)}
    at = [12 * years for years in YEARS if 12 * years < len(survival)]
    shown = dict(zip(at, _share_reached([survival[m] for m in at]).to_list(), strict=True))  # as shown_curve
    for years in YEARS:
        out[f"share_{years}y"] = float(shown[12 * years]) if 12 * years in shown else None
    return out
