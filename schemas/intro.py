"""Row rules for the introduction programme (source contract §1)."""

import pandera.polars as pa
import polars as pl

from schemas import checks as c

EVENTS = ("bosatt", "startet", "permisjon", "gjenopptatt", "avbrutt", "fullfort", "overgang")
INTERRUPTION_DETAILS = ("flyttet", "arbeid", "utdanning", "helse", "eget_onske", "annet")
TRANSITION_DETAILS = ("arbeid", "utdanning", "arbeid_og_utdanning", "arbeidsledig", "annet")
REASONS = ("flukt", "kollektiv_beskyttelse", "familie")

_event = pl.col("hendelse")


def _detail_fits_event(column: str) -> pl.Expr:
    detail = pl.col(column)
    return (
        pl.when(_event == "avbrutt")
        .then(detail.is_in(INTERRUPTION_DETAILS).fill_null(False))
        .when(_event == "overgang")
        .then(detail.is_in(TRANSITION_DETAILS).fill_null(False))
        .otherwise(detail.is_null())
    )


SCHEMA = pa.DataFrameSchema(
    name="intro",
    columns={
        "deltaker_pid": pa.Column(pl.String, [c.pid()]),
        "kommunenr": pa.Column(pl.String, [c.municipality()]),
        "hendelse": pa.Column(pl.String, [c.one_of(EVENTS)]),
        "dato": pa.Column(pl.Date, c.date_checks()),
        "kjonn": pa.Column(pl.String, [c.one_of(("M", "K"))]),
        "fodselsaar": pa.Column(
            pl.Int32,
            [
                c.age_between(
                    18, 67, "fodselsaar", "dato", when=_event == "startet", label=" when the programme starts"
                ),
                c.birth_year_plausible("fodselsaar", "dato"),
            ],
        ),
        "landbakgrunn": pa.Column(pl.String, [c.country()]),
        "innvandringsgrunn": pa.Column(pl.String, [c.one_of(REASONS)]),
        "detalj": pa.Column(
            pl.String,
            [
                c.rule(
                    "detail_for_event",
                    f"detalj must be one of {', '.join(INTERRUPTION_DETAILS)} for avbrutt, "
                    f"one of {', '.join(TRANSITION_DETAILS)} for overgang, and empty otherwise",
                    _detail_fits_event,
                )
            ],
            nullable=True,
        ),
    },
    strict=False,
)
