"""Checks shared by the per-source schemas.

Every check is a Pandera `Check` built from a vectorised Polars expression (one pass over
the column, no Python per row), named `"<rule>: <message>"` so a failure becomes a
quarantine row with a stable rule id and a message a data officer can act on.
`python-stdnum` is the reference for the organisation-number rule: the tests compare
this expression with `stdnum.no.orgnr` on many values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandera.polars as pa
import polars as pl

from schemas.reference import country_codes, municipality_codes

EARLIEST_DATE = dt.date(2010, 1, 1)
PID_PATTERN = r"^[0-9a-f]{64}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Column added by validation, never part of a source's own columns.
DELIVERY = "_delivery_date"


def rule(name: str, message: str, expr: Callable[[str], pl.Expr]) -> pa.Check:
    """A check whose failures read `name: message`; `expr(column)` is true for valid rows.

    Null values pass (nullability is a separate, explicit rule per column), so the
    expression is wrapped to treat null results as valid rather than relying on Pandera's
    implicit null handling.
    """

    def check(data) -> pl.LazyFrame:
        return data.lazyframe.select(expr(data.key).fill_null(True))

    made = pa.Check(check, error=f"{name}: {message}")
    # the same expression, for the one-pass screen of a whole file (flows.validate.screen)
    made.valid_rows = expr  # type: ignore[attr-defined]
    return made


def pid() -> pa.Check:
    return rule("pid_format", "not a 64-character hex pid", lambda c: pl.col(c).str.contains(PID_PATTERN))


def uuid() -> pa.Check:
    return rule("uuid_format", "not a UUID", lambda c: pl.col(c).str.contains(UUID_PATTERN))


def municipality() -> pa.Check:
    codes = sorted(municipality_codes())
    return rule("municipality_code", "not a municipality code of the 2024 structure", lambda c: pl.col(c).is_in(codes))


def country() -> pa.Check:
    codes = sorted(country_codes())
    return rule("country_code", "not an ISO 3166-1 alpha-3 country code", lambda c: pl.col(c).is_in(codes))


def one_of(values: list[str] | tuple[str, ...]) -> pa.Check:
    allowed = [str(v) for v in values]
    return rule("code_in_set", f"must be one of {', '.join(values)}", lambda c: pl.col(c).is_in(allowed))


def orgnr_valid(col: pl.Expr) -> pl.Expr:
    """9 digits with a valid mod-11 control digit (weights 3,2,7,6,5,4,3,2), as stdnum.no.orgnr."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    digit = lambda i: col.str.slice(i, 1).cast(pl.Int32, strict=False)  # noqa: E731
    total = sum(w * digit(i) for i, w in enumerate(weights))
    remainder = total % 11
    control = pl.when(remainder == 0).then(0).otherwise(11 - remainder)
    return col.str.contains(r"^\d{9}$") & (control != 10) & (control == digit(8))


def orgnr() -> pa.Check:
    return rule(
        "orgnr", "not a valid 9-digit organisation number (mod-11 control digit)", lambda c: orgnr_valid(pl.col(c))
    )


def date_range() -> pa.Check:
    return rule("date_range", f"date is before {EARLIEST_DATE.isoformat()}", lambda c: pl.col(c) >= EARLIEST_DATE)


def not_after_delivery() -> pa.Check:
    return rule(
        "date_after_delivery", "date is after the delivery date of the file", lambda c: pl.col(c) <= pl.col(DELIVERY)
    )


def date_checks() -> list[pa.Check]:
    return [date_range(), not_after_delivery()]


def not_before(other: str, what: str = "end date is before start date") -> pa.Check:
    return rule("date_order", what, lambda c: pl.col(c) >= pl.col(other))


def age_between(
    low: int, high: int, birth_year: str, at: str, when: pl.Expr | None = None, label: str = ""
) -> pa.Check:
    """Age (year difference) at the date column `at`, checked on the birth-year column."""

    def expr(c: str) -> pl.Expr:
        age = pl.col(at).dt.year() - pl.col(birth_year)
        ok = age.is_between(low, high)
        return ok if when is None else (~when | ok)

    return rule("age_range", f"age must be {low}–{high}{label}", expr)


EARLIEST_BIRTH_YEAR = 1900


def birth_year_plausible(birth_year: str, at: str) -> pa.Check:
    """Persons of any age are valid (children settle with their families), but nobody is
    born before 1900 or after the date of their own record."""

    def expr(c: str) -> pl.Expr:
        return pl.col(birth_year).is_between(EARLIEST_BIRTH_YEAR, pl.col(at).dt.year())

    return rule(
        "birth_year_range",
        f"birth year must be {EARLIEST_BIRTH_YEAR} or later and not after the year of the record",
        expr,
    )


def required_when(condition: pl.Expr, description: str) -> pa.Check:
    return rule("required_value", f"required {description}", lambda c: ~condition | pl.col(c).is_not_null())


def empty_unless(condition: pl.Expr, description: str) -> pa.Check:
    return rule("unexpected_value", f"must be empty {description}", lambda c: condition | pl.col(c).is_null())
