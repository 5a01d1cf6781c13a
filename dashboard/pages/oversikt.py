"""Oversikt: headline figures for leaders and advisers, each saying what it counts."""

from __future__ import annotations

import dataclasses

import polars as pl
import streamlit as st

from dashboard import disclosure, labels, ui
from dashboard.queries import STAGE_ORDER


def render(filters) -> None:
    as_of = st.session_state["as_of"]
    build = ui.current_build()
    st.title("Oversikt")
    ui.freshness_notes("oversikt")
    st.caption(f"Data per {labels.date(as_of)} · sist oppdatert {labels.date(build['finished_at'])}")

    st.subheader(f"Personer på hvert trinn nå ({labels.date(as_of)})")
    st.caption(
        "Personer med et pågående forløp på trinnet den dagen. En person kan være på flere trinn samtidig "
        "(for eksempel introprogram og norskopplæring). Kommunefilteret gjelder kommunen forløpet hører til."
    )
    now = ui.query("persons_on_stage_now", filters, as_of)
    cols = st.columns(4)
    by_stage = dict(zip(now["stage"], now["persons"], strict=True))
    for i, stage in enumerate(s for s in STAGE_ORDER if s not in ("settlement", "trade_certificate")):
        cols[i % 4].metric(
            f"{labels.STAGE[stage]} nå",
            ui.number(by_stage.get(stage)),
            help="Personer med et pågående forløp på trinnet i dag. «<5»: færre enn 5.",
        )

    st.subheader(f"Forløp som ble avsluttet i {as_of.year}")
    st.caption(
        f"Personer som fullførte eller avbrøt minst ett trinn mellom 1. januar og {labels.date(as_of)} "
        "(alle trinn unntatt arbeid, som ikke har en sluttdato). En person som både fullførte ett trinn og "
        "avbrøt et annet, telles i begge."
    )
    ended = ui.query("ended_this_year", filters, as_of)
    ended_by = dict(zip(ended["end_type"], ended["persons"], strict=True))
    a, b = st.columns(2)
    a.metric("Fullførte et trinn", ui.number(ended_by.get("completed")))
    b.metric("Avbrøt et trinn (frafall)", ui.number(ended_by.get("dropped_out")))

    st.subheader("Venter på skoleplass nå")
    st.caption(
        "Personer med en søknad om skoleplass som verken har startet eller er trukket. Ventetiden er "
        "medianen av hvor lenge søknadene deres har ventet *så langt*; ventetiden for dem som har fått "
        "plass står på siden Ventetid."
    )
    waiting = ui.query("waiting_summary", filters)
    c, d = st.columns(2)
    c.metric("Personer som venter på skoleplass", ui.number(waiting["persons"][0]))
    median = waiting["median_wait_days"][0]
    if median is None:
        d.metric("Har ventet så langt (median)", "–")
        d.caption("Medianen vises bare når minst 5 personer venter.")
    else:
        d.metric("Har ventet så langt (median)", f"{labels.integer(median)} dager")

    st.subheader("I arbeid eller utdanning i november året etter introprogrammet")
    st.caption(
        "Personer som avsluttet introprogrammet, og andelen av dem som var i arbeid eller utdanning "
        "30. november året etter (det nasjonale målet er 70 %). Per kommune: se Introprogram."
    )
    nov = (
        ui.query("november_indicator", filters)
        .with_columns(
            disclosure.share(
                pl.col("in_work_or_education"), pl.col("persons"), pl.col("not_in_work_or_education")
            ).alias("share")
        )
        .drop("not_in_work_or_education")
    )
    latest = nov.filter(pl.col("share").is_not_null()).tail(1)
    if latest.height:
        share = latest["share"][0]
        points = round((share - ui.NATIONAL_GOAL) * 100)
        st.metric(
            f"Avsluttet i {latest['end_year'][0]}",
            ui.percent(share),
            delta=f"{'+' if points > 0 else ''}{points} prosentpoeng mot målet på 70 %",
        )
        # women and men side by side (issue 14), the same end year, each a cell of its own
        for column, (code, label) in zip(st.columns(2), (("K", "Kvinner"), ("M", "Menn")), strict=True):
            part = ui.query("november_indicator", dataclasses.replace(filters, sex=code)).filter(
                pl.col("end_year") == latest["end_year"][0]
            )
            value = (
                part.select(
                    disclosure.share(
                        pl.col("in_work_or_education"), pl.col("persons"), pl.col("not_in_work_or_education")
                    )
                ).item()
                if part.height
                else None
            )
            column.metric(f"{label}, avsluttet i {latest['end_year'][0]}", ui.percent(value))
    else:
        st.info(ui.SMALL)
    ui.table(
        nov.with_columns((pl.col("share") * 100).round(0).cast(pl.Int64)),
        "oversikt_november",
        ["persons", "in_work_or_education"],
        {
            "end_year": "Avslutningsår",
            "persons": "Personer",
            "in_work_or_education": "I arbeid/utdanning",
            "share": "Andel (%)",
        },
        shares=["share"],
    )


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
