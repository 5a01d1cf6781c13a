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
    """The estimator from counts per month (`month`, `events`, `censored`), in plain Python
    over the few hundred months of a curve (the same floating-point steps as a cumulative
    product in Polars, without its per-operation cost)."""
    rows = sorted(counts.select("month", "events", "censored").rows())
    at_risk = sum(events + censored for _, events, censored in rows)
    out = []
    survival = 1.0
    for month, events, censored in rows:
        survival *= 1 - events / at_risk
        out.append((month, at_risk, events, censored, survival))
        at_risk -= events + censored
    return pl.DataFrame(
        out,
        schema={
            "month": pl.Int64,
            "at_risk": pl.Int64,
            "reached": pl.Int64,
            "censored": pl.Int64,
            "survival": pl.Float64,
        },
        orient="row",
    )


def _coarsened(table: pl.DataFrame) -> pl.DataFrame:
    """Month (0 up to the last month shown) and the survival the page may show then: the true
    estimate at the months where a step of at least MIN_EVENTS persons completes, carried
    forward in between. (In plain Python: a curve has at most a few hundred months, and a
    page computes a dozen curves, where Polars' per-operation cost would dominate.)"""
    rows = table.select("month", "at_risk", "reached", "survival").rows()
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
    return pl.DataFrame(
        {"month": list(range(last + 1)), "survival": survival}, schema={"month": pl.Int64, "survival": pl.Float64}
    )


def shown_curve(table: pl.DataFrame) -> pl.DataFrame:
    """What may be shown of a curve: month and share reached (whole percent), from month 0 up
    to the last month before the risk set first drops under MIN_AT_RISK, with steps of at
    least MIN_EVENTS persons (see the module's docstring)."""
    return _share_reached(_coarsened(table))


def _share_reached(curve: pl.DataFrame) -> pl.DataFrame:
    return curve.select("month", ((1 - pl.col("survival")) * 100).round(0).alias("share_reached"))


def summary(table: pl.DataFrame) -> dict:
    """The median in months (the first month where the shown curve's survival is 0.5 or less;
    None when the shown curve does not get there) and the share reached after 1, 2 and 3
    years (whole percent; None where the curve is not shown that far). Both from the curve as
    shown, so they can reveal nothing it does not."""
    curve = _coarsened(table)
    survival = curve["survival"].to_list()  # index = month
    out: dict = {"median_months": next((month for month, value in enumerate(survival) if value <= 0.5), None)}
    shown = _share_reached(curve)["share_reached"].to_list()  # as shown_curve, from the one coarsened curve
    for years in YEARS:
        out[f"share_{years}y"] = float(shown[12 * years]) if 12 * years < len(shown) else None
    return out
