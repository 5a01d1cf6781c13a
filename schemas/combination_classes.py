"""Row rules for combination classes (source contract §3).

Beyond the contract's column rules, the dates must agree with `Status` (decided here,
documented in docs/decisions.md): `Venter` has no start date, `Aktiv` a start date and no
end date, and a finished status (`Fullført`, `Avbrutt`, `Overført Vg1`) both dates; a
start before the application is as impossible as an end before the start.
"""

import pandera.polars as pa
import polars as pl

from schemas import checks as c

STATUSES = ("Venter", "Aktiv", "Fullført", "Avbrutt", "Overført Vg1")
FINISHED = ("Fullført", "Avbrutt", "Overført Vg1")

_status, _start, _end = pl.col("status"), pl.col("startdato"), pl.col("sluttdato")


def _dates_fit_status(column: str) -> pl.Expr:
    return (
        pl.when(_status == "Venter")
        .then(_start.is_null() & _end.is_null())
        .when(_status == "Aktiv")
        .then(_start.is_not_null() & _end.is_null())
        .when(_status.is_in(FINISHED))
        .then(_start.is_not_null() & _end.is_not_null())
        .otherwise(True)
    )


SCHEMA = pa.DataFrameSchema(
    name="combination_classes",
    columns={
        "elev_pid": pa.Column(pl.String, [c.pid()]),
        "kjonn": pa.Column(pl.String, [c.one_of(("M", "K"))]),
        "fodselsaar": pa.Column(
            pl.Int32,
            [
                c.age_between(16, 24, "fodselsaar", "startdato", label=" on the start date"),
                c.birth_year_plausible("fodselsaar", "soknadsdato"),
            ],
        ),
        "bostedskommune": pa.Column(pl.String, [c.municipality()]),
        "soknadsdato": pa.Column(pl.Date, c.date_checks()),
        "startdato": pa.Column(
            pl.Date,
            c.date_checks() + [c.not_before("soknadsdato", "start date is before the application date")],
            nullable=True,
        ),
        "sluttdato": pa.Column(pl.Date, c.date_checks() + [c.not_before("startdato")], nullable=True),
        "status": pa.Column(
            pl.String,
            [
                c.one_of(STATUSES),
                c.rule(
                    "status_dates",
                    "dates do not fit the status (Venter: no start; Aktiv: start, no end; "
                    "Fullført/Avbrutt/Overført Vg1: start and end)",
                    _dates_fit_status,
                ),
            ],
        ),
    },
    strict=False,
)
