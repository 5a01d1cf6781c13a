"""Row rules for the Trøndelag model (source contract §4). One row = one event of a case."""

import pandera.polars as pa
import polars as pl

from schemas import checks as c

EVENT_TYPES = (
    "mobilised",
    "work_training_started",
    "work_training_ended",
    "school_place_applied",
    "school_place_started",
    "apprenticeship_started",
    "apprenticeship_ended",
    "trade_certificate_passed",
    "trade_certificate_failed",
    "employed",
    "left_programme",
)
LEAVE_REASONS = ("moved", "health", "no_contact", "other")
TRADE_EVENTS = ("apprenticeship_started", "trade_certificate_passed", "trade_certificate_failed")

_type = pl.col("type")
_left = _type == "left_programme"

SCHEMA = pa.DataFrameSchema(
    name="trondelag_model",
    columns={
        "case_id": pa.Column(
            pl.String,
            [
                c.rule(
                    "case_id_unique",
                    "the case id occurs in more than one case of this export",
                    lambda col: pl.col("case_index").n_unique().over(col) == 1,
                )
            ],
        ),
        "case_index": pa.Column(pl.Int32),
        "pid": pa.Column(pl.String, [c.pid()]),
        "nav_office": pa.Column(pl.String, [c.municipality()]),
        "mobilised_by": pa.Column(pl.String, [c.one_of(("NAV", "OT"))]),
        "event_index": pa.Column(pl.Int32),
        "type": pa.Column(pl.String, [c.one_of(EVENT_TYPES)]),
        "date": pa.Column(pl.Date, c.date_checks()),
        "trade": pa.Column(
            pl.String,
            [c.required_when(_type.is_in(TRADE_EVENTS), "for apprenticeship and trade certificate events")],
            nullable=True,
        ),
        "sector": pa.Column(pl.String, nullable=True),
        "reason": pa.Column(
            pl.String,
            [
                c.required_when(_left, "for left_programme"),
                c.empty_unless(_left, "unless the event is left_programme"),
                c.one_of(LEAVE_REASONS),
            ],
            nullable=True,
        ),
    },
    strict=False,
)
