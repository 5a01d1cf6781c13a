"""Small-cell protection for everything the dashboard shows or lets people download.

The rules (the product's privacy standard):

1. **Primary suppression** — no count under 5 is shown for any group of persons (1–4 are
   hidden; an empty group, 0, is shown, as official statistics do).
2. **Derived figures** — a share, median or percentile computed from fewer than 5 persons
   is hidden too, and a share whose complement is under 5 hides its count and itself
   (from "3 of 40" a reader could work out the 37, and from "37 of 40" the 3).
3. **Secondary suppression** — when a cell of a line that adds up to a total the reader
   can see is hidden, the smallest other cell of that line is hidden as well, repeated over
   rows and columns until no line has exactly one hidden cell. Then no hidden value can be
   worked out from a total.

Hidden values become null; `display` shows them as "<5". Every page passes its frames
through one of `protect_counts`, `protect_share`, `protect_groups` or `protect_matrix`
before showing or offering them, and `assert_protected` is the last check.
"""
from __future__ import annotations

import polars as pl

MIN_COUNT = 5
HIDDEN = "<5"


def _hide(column: str, condition: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(None).otherwise(pl.col(column)).alias(column)


def _small(expr: pl.Expr) -> pl.Expr:
    return expr.is_between(1, MIN_COUNT - 1)


def protect_counts(frame: pl.DataFrame, count: str, derived: list[str] | None = None) -> pl.DataFrame:
    """Groups that do not add up to a shown total (e.g. stages a person can all be on):
    hide counts under 5, and every figure in `derived` computed from them."""
    small = pl.col(count).is_null() | (pl.col(count) < MIN_COUNT)  # a base under 5 hides its figures
    return frame.with_columns([_hide(c, small) for c in (derived or [])] + [_hide(count, small)])


def protect_share(frame: pl.DataFrame, part: str, whole: str, share: str | None = None) -> pl.DataFrame:
    """A count out of a total (e.g. in work of those measured): hide the part (and the
    share) when the part, its complement or the total is under 5."""
    risky = (pl.col(whole) < MIN_COUNT) | _small(pl.col(part)) | _small(pl.col(whole) - pl.col(part))
    columns = [_hide(part, risky)] + ([_hide(share, risky)] if share else [])
    return frame.with_columns(columns).with_columns(_hide(whole, _small(pl.col(whole))))


def protect_groups(frame: pl.DataFrame, count: str, within: list[str],
                   derived: list[str] | None = None) -> pl.DataFrame:
    """Rows that add up to a total within each group of `within` (e.g. transitions of those
    who completed, per municipality): primary and secondary suppression per group."""
    indexed = frame.with_row_index("__i")
    hidden_rows: set[int] = set()
    for _, group in indexed.group_by(within, maintain_order=True):
        values = group[count].to_list()
        flags = [v is not None and 0 < v < MIN_COUNT for v in values]
        _add_partner(values, flags)
        hidden_rows.update(i for i, f in zip(group["__i"].to_list(), flags) if f)
    hide = pl.col("__i").is_in(sorted(hidden_rows))
    columns = [_hide(c, hide) for c in [count, *(derived or [])]]
    return indexed.with_columns(columns).drop("__i")


def protect_matrix(matrix: pl.DataFrame, index: str, totals: bool = True) -> pl.DataFrame:
    """A cross table (one row per `index` value, one count column per category):
    primary suppression, then secondary suppression over rows and columns until stable.
    With `totals`, a row total column is added (hidden itself if under 5)."""
    columns = [c for c in matrix.columns if c != index]
    grid = [[matrix[c][r] or 0 for c in columns] for r in range(matrix.height)]
    hidden = [[0 < v < MIN_COUNT for v in row] for row in grid]
    changed = True
    while changed:
        changed = False
        for r in range(len(grid)):
            changed |= _add_partner(grid[r], hidden[r])
        for c in range(len(columns)):
            flags = [hidden[r][c] for r in range(len(grid))]
            if _add_partner([grid[r][c] for r in range(len(grid))], flags):
                for r in range(len(grid)):
                    hidden[r][c] = flags[r]
                changed = True
    data = {index: matrix[index].to_list()}
    for c, name in enumerate(columns):
        data[name] = [None if hidden[r][c] else grid[r][c] for r in range(len(grid))]
    out = pl.DataFrame(data, schema={index: matrix.schema[index], **{c: pl.Int64 for c in columns}})
    if totals:
        out = out.with_columns(pl.Series("Totalt", [sum(row) if sum(row) >= MIN_COUNT else None for row in grid],
                                         dtype=pl.Int64))
    return out


def _add_partner(values: list, flags: list[bool]) -> bool:
    """If exactly one cell of a line is hidden, hide the smallest visible non-zero cell too."""
    if sum(flags) != 1:
        return False
    candidates = [(v, i) for i, v in enumerate(values) if not flags[i] and v]
    if not candidates:
        return False
    flags[min(candidates)[1]] = True
    return True


def pivot(frame: pl.DataFrame, index: str, columns: str, values: str) -> pl.DataFrame:
    """Long counts → a cross table with zeros for empty cells (ready for protect_matrix)."""
    wide = frame.pivot(on=columns, index=index, values=values, aggregate_function="sum").fill_null(0)
    return wide.sort(index)


def display(frame: pl.DataFrame) -> pl.DataFrame:
    """For tables shown on screen and downloaded: hidden numbers read "<5"."""
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    return frame.with_columns(pl.col(c).cast(pl.String).fill_null(HIDDEN) for c in numeric)


def assert_protected(frame: pl.DataFrame, count_columns: list[str]) -> None:
    """The last check before anything leaves the dashboard: no visible count is 1–4."""
    for c in count_columns:
        if c in frame.columns and frame.filter(pl.col(c).is_between(1, MIN_COUNT - 1)).height:
            raise ValueError(f"unprotected small count in column {c}")
