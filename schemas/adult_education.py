"""Row rules for adult education (source contract §2)."""

import pandera.polars as pa
import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from schemas import checks as c

EVENTS = ("applied", "offered", "started", "completed", "dropped_out", "withdrawn")
LEVELS = ("norwegian", "primary", "upper_secondary")
PROGRAMMES = ("BA", "EL", "FD", "HS", "IM", "NA", "RM", "SR", "TP", "ST")
RESULTS = {
    "norwegian": ("A1", "A2", "B1", "B2", "C1"),
    "primary": ("grunnskolebevis",),
    "upper_secondary": ("vitnemal", "fagbrev", "kompetansebevis"),
}

_level, _event = pl.col("level"), pl.col("event")
_upper = _level == "upper_secondary"
_completed = _event == "completed"


def _result_fits_level(column: str) -> pl.Expr:
    result = pl.col(column)
    expr: Then | ChainedThen = pl.when(~_completed).then(True)
    for level, allowed in RESULTS.items():
        expr = expr.when(_level == level).then(result.is_in(allowed))
    return expr.otherwise(True)


SCHEMA = pa.DataFrameSchema(
    name="adult_education",
    columns={
        "event_id": pa.Column(pl.String, [c.uuid()]),
        "pid": pa.Column(pl.String, [c.pid()]),
        "event": pa.Column(pl.String, [c.one_of(EVENTS)]),
        "date": pa.Column(pl.Date, c.date_checks()),
        "level": pa.Column(pl.String, [c.one_of(LEVELS)]),
        "programme": pa.Column(
            pl.String,
            [
                c.required_when(_upper, "for level upper_secondary"),
                c.empty_unless(_upper, "unless level is upper_secondary"),
                c.one_of(PROGRAMMES),
            ],
            nullable=True,
        ),
        "school_orgnr": pa.Column(pl.String, [c.orgnr()]),
        "municipality": pa.Column(pl.String, [c.municipality()]),
        "result": pa.Column(
            pl.String,
            [
                c.required_when(_completed, "for event completed"),
                c.empty_unless(_completed, "unless event is completed"),
                c.rule(
                    "result_for_level",
                    "result does not fit the level (CEFR for norwegian, "
                    "grunnskolebevis for primary, vitnemal/fagbrev/kompetansebevis for upper_secondary)",
                    _result_fits_level,
                ),
            ],
            nullable=True,
        ),
    },
    strict=False,
)
