"""Disclosure control for everything the dashboard shows or lets people download.

The method: the **cell-key method** of statistical offices' interactive tables (ABS
TableBuilder, Destatis/"Cell Key Method" of the German statistical offices), with a
perturbation table that rounds at random to base 5 (as Statistics Canada and Statistics
New Zealand publish census counts: "fixed random rounding").

1. **Record keys.** Every person has a fixed, secret random number, the record key
   (`dash.person_filter.record_key`: 52 bits of a keyed SHA-256 of the pid; the secret
   is kept in the warehouse, `meta.cell_key_secret`, and never shown).
2. **Cell keys.** Every count the dashboard publishes is a *cell*: a set of distinct
   persons. Its cell key is the sum of its persons' record keys modulo 2^52, computed in
   the same SQL as the count (`count(distinct person_id)`, `sum(distinct record_key)`).
   The same set of persons has the same cell key, whatever page, filter, cohort selection
   or build led to it.
3. **Perturbation table.** The published value is a fixed function of (true count, cell
   key), `perturb`:

   | true count n | published |
   |---|---|
   | 0–4 | hidden, shown as "<5" (0 too: see below) |
   | n ≥ 5, n = 5k | n |
   | n ≥ 5, n = 5k + r | 5k + 5 if cell key / 2^52 < r/5, else 5k (never below 5) |

   Rounding up with probability r/5 makes the published value unbiased; which way a cell
   goes is decided by its key alone, so it is the same every time the cell is shown.

Why no count of 1–4 persons can be worked out: every published count is a multiple of 5,
so every sum or difference of published counts (Alle − Kvinner − Menn, a region
minus its municipalities, a total minus its visible rows, one cohort selection minus an
overlapping one, the same quantity on two pages) is a multiple of 5 as well, never 1–4.
Totals are cells of their own (their own count and key), never sums of perturbed cells.
Interval reasoning does not pin one down either: a published p ≥ 5 says only that the true
count is somewhere in p−4 … p+4, "<5" that it is 0–4, and the same set of persons always
gives the same p, so asking again does not help. An empty group is shown as "<5" as well,
never as 0: if 0 were shown exactly, "<5" would mean 1–4, and a region shown as "<5" with
four municipalities shown as "<5" would say that each of them has exactly 1 person (the
attacker test found such cases when 0 was shown). A residual risk remains, as with every
bounded perturbation: when a total and all but one of its parts happen to sit at the far
ends of their rounding at once (e.g. a total of 16 published as 20 with three other parts
of exactly 4), interval reasoning can pin the last part; the attacker test looks for this
too. `tests/test_disclosure_attack.py` tries all of this
against the warehouse's true counts.

Derived figures:
- **Shares** are computed from published counts (`share`), never from true ones, and are
  hidden when the part or its complement is hidden (1–4 persons) or the whole is 0.
- **Medians** (and other statistics of a group's values) are hidden when the group has
  fewer than 5 persons, the 90th percentile when it has fewer than 10
  (`STATISTIC_MIN`); they are rounded to whole days.

Queries (`dashboard/queries.py`) return each count `c` with its cell key `c_key`;
`publish` turns such a frame into what may be shown and drops the keys. `display`
renders hidden counts as "<5" and hidden statistics as "–". `assert_protected` is the
last check before anything leaves the dashboard.
"""

from __future__ import annotations

import polars as pl

MIN_COUNT = 5
BASE = 5
HIDDEN = "<5"
NOT_SHOWN = "–"
# A share hidden because a count behind it (the part or the rest of the group) is under 5:
# showing it would reveal that count. Distinct from HIDDEN, which is a count under 5 itself.
PROTECTED = ":"
KEY_BITS = 52
KEY_MOD = 1 << KEY_BITS
KEY_SUFFIX = "_key"
# Statistics of a group's values: column prefix → the fewest persons it may be computed on.
STATISTIC_MIN = {"median": MIN_COUNT, "p90": 10}


def cell_sql(name: str = "persons", where: str | None = None, one_row_per_person: bool = False) -> str:
    """SQL select items for one cell: its true count of distinct persons and its cell key.
    Persons are counted by their record key, which is unique per person (the build's key
    test on dash.person_filter refuses a build where two persons share one), so both
    aggregates share one distinct set of integers (twice as fast as counting pids).
    `one_row_per_person`: the table's key test guarantees one row per person (e.g.
    dash.settlement_start), so the same count and key come without DISTINCT, about five
    times faster where a query holds several cells."""
    f = f" filter (where {where})" if where else ""
    if one_row_per_person:
        return (
            f"count(record_key){f} as {name}, coalesce(sum(record_key){f} % {KEY_MOD}, 0)::BIGINT as {name}{KEY_SUFFIX}"
        )
    return (
        f"count(distinct record_key){f} as {name}, "
        f"coalesce(sum(distinct record_key){f} % {KEY_MOD}, 0)::BIGINT as {name}{KEY_SUFFIX}"
    )


def complement_sql(whole: str, part: str, name: str) -> str:
    """The persons of `whole` not in `part` (a subset of it) as a cell of its own: its count
    and its cell key (keys add up, so the complement's key is the difference mod 2^52)."""
    return (
        f"{whole} - {part} as {name}, "
        f"({whole}{KEY_SUFFIX} - {part}{KEY_SUFFIX} + {KEY_MOD}) % {KEY_MOD} as {name}{KEY_SUFFIX}"
    )


def perturb(count: pl.Expr, key: pl.Expr) -> pl.Expr:
    """The perturbation table as an expression: (true count, cell key) → published count
    (null = hidden, shown as "<5")."""
    remainder = count % BASE
    up = (key.cast(pl.Float64) / KEY_MOD) < (remainder.cast(pl.Float64) / BASE)
    rounded = count - remainder + pl.when(up).then(BASE).otherwise(0)
    return pl.when(count < MIN_COUNT).then(None).otherwise(pl.max_horizontal(rounded, pl.lit(MIN_COUNT))).cast(pl.Int64)


def perturb_value(count: int, key: int) -> int | None:
    """The same table for one cell (used by the tests and the help page's example)."""
    return pl.select(perturb(pl.lit(count, pl.Int64), pl.lit(key, pl.Int64))).item()


def count_columns(frame: pl.DataFrame) -> list[str]:
    """The count columns of a query result: those that come with a cell key."""
    return [c for c in frame.columns if f"{c}{KEY_SUFFIX}" in frame.columns]


def publish(frame: pl.DataFrame, base: str = "persons") -> pl.DataFrame:
    """A query result (true counts with their cell keys) → what may be shown: every count
    perturbed, statistics of small groups hidden (their size is the true `base` count of the
    row) and rounded, cell keys dropped. Frames without cell keys are returned unchanged."""
    counts = count_columns(frame)
    if not counts:
        return frame
    hide_stats = []
    for column in frame.columns:
        minimum = next((m for prefix, m in STATISTIC_MIN.items() if column.startswith(prefix)), None)
        if minimum is not None:
            if base not in frame.columns:
                raise ValueError(f"statistic {column} needs the group's count {base}")
            hide_stats.append(
                pl.when(pl.col(base) >= minimum).then(pl.col(column).round(0)).otherwise(None).alias(column)
            )
    out = frame.with_columns(hide_stats) if hide_stats else frame
    out = out.with_columns(perturb(pl.col(c), pl.col(f"{c}{KEY_SUFFIX}")).alias(c) for c in counts)
    return out.drop([f"{c}{KEY_SUFFIX}" for c in counts])


def share(part: pl.Expr, whole: pl.Expr, complement: pl.Expr | None = None) -> pl.Expr:
    """A share from *published* counts; null when the part (or its complement) is hidden or
    the whole is 0 or hidden."""
    hidden = part.is_null() | whole.is_null() | (whole == 0)
    if complement is not None:
        hidden = hidden | complement.is_null()
    return pl.when(hidden).then(None).otherwise(pl.min_horizontal(part / whole, pl.lit(1.0)))


def pivot(
    frame: pl.DataFrame, index: str, columns: str, values: str, column_order: list[str] | None = None
) -> pl.DataFrame:
    """Published long counts → a cross table with the columns `column_order` (default: those
    present). A combination that is absent had no persons, which is shown like every count
    under 5: hidden (null)."""
    cols = column_order or sorted({str(v) for v in frame[columns].to_list()})
    rows = frame.select(index).unique().sort(index)
    long = frame.with_columns(pl.col(columns).cast(pl.String), pl.lit(True).alias("__present"))
    out = rows
    for c in cols:
        part = long.filter(pl.col(columns) == c).select(index, pl.col(values).alias(c), "__present")
        out = (
            out.join(part, on=index, how="left")
            .with_columns(
                pl.when(pl.col("__present").is_null()).then(None).otherwise(pl.col(c)).cast(pl.Int64).alias(c)
            )
            .drop("__present")
        )
    return out


def display(frame: pl.DataFrame, counts: list[str] | None = None) -> pl.DataFrame:
    """For tables shown on screen and downloaded: hidden counts read "<5", hidden
    statistics and shares "–"."""
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    counts = numeric if counts is None else counts
    return frame.with_columns(
        pl.col(c).cast(pl.String).fill_null(HIDDEN if c in counts else NOT_SHOWN) for c in numeric
    )


def is_publishable(value) -> bool:
    """A count that may be shown: hidden, or a multiple of 5 from 5 up (never 0–4)."""
    return value is None or (value >= MIN_COUNT and value % BASE == 0)


def assert_protected(frame: pl.DataFrame, count_columns: list[str]) -> None:
    """The last check before anything leaves the dashboard: every visible count is a
    perturbed (multiple-of-5, at least 5) count, and no cell key is left in the frame."""
    keys = [c for c in frame.columns if c.endswith(KEY_SUFFIX)]
    if keys:
        raise ValueError(f"cell keys must never leave the dashboard: {keys}")
    for c in count_columns:
        if c in frame.columns:
            bad = [v for v in frame[c].to_list() if not is_publishable(v)]
            if bad:
                raise ValueError(f"unprotected count in column {c}: {bad[:3]}")
