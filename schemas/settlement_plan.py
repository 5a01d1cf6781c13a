"""Row rules for the settlement plans (source contract §5). One row = one municipality and year."""

import pandera.polars as pa
import polars as pl

from schemas import checks as c

EARLIEST_YEAR = 2015
FIGURES = ("anmodet", "vedtatt", "herav_ema")


def _at_least_zero(column: str) -> pl.Expr:
    return pl.col(column) >= 0


def _conflict_free(column: str) -> pl.Expr:
    """One (kommunenr, aar) twice in one file with different figures: which one the
    municipality meant is anyone's guess, so both rows are refused. Identical rows are a
    duplicate, counted once (flows/stage.py)."""
    figures = pl.struct([pl.col(f) for f in FIGURES])
    return figures.n_unique().over(column, "aar") == 1


SCHEMA = pa.DataFrameSchema(
    name="settlement_plan",
    columns={
        "kommunenr": pa.Column(
            pl.String,
            [
                c.municipality(),
                c.rule(
                    "plan_key_unique",
                    "the municipality and year occur twice in this file with different figures",
                    _conflict_free,
                ),
            ],
        ),
        "aar": pa.Column(
            pl.Int32,
            [
                c.rule(
                    "year_range",
                    f"aar must be a 4-digit year, {EARLIEST_YEAR} or later",
                    lambda col: pl.col(col).is_between(EARLIEST_YEAR, 9999),
                )
            ],
        ),
        "anmodet": pa.Column(pl.Int32, [c.rule("not_negative", "must be 0 or more", _at_least_zero)]),
        "vedtatt": pa.Column(pl.Int32, [c.rule("not_negative", "must be 0 or more", _at_least_zero)], nullable=True),
        "herav_ema": pa.Column(
            pl.Int32,
            [
                c.rule("not_negative", "must be 0 or more", _at_least_zero),
                c.rule(
                    "minors_within_decided",
                    "herav_ema (unaccompanied minors) must not exceed vedtatt, and must be "
                    "empty while vedtatt is empty",
                    lambda col: (
                        pl.col(col).is_null() | (pl.col("vedtatt").is_not_null() & (pl.col(col) <= pl.col("vedtatt")))
                    ),
                ),
            ],
            nullable=True,
        ),
    },
    strict=False,
)
