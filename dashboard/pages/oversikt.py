"""Oversikt: headline figures for leaders and advisers."""
from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import disclosure, ui
from dashboard.queries import STAGE_ORDER


def render(filters) -> None:
    as_of = st.session_state["as_of"]
    build = ui.current_build()
    st.title("Oversikt")
    st.caption(f"Sist lastet {build['finished_at']:%d.%m.%Y %H:%M} · data per {as_of:%d.%m.%Y}")

    now = ui.query("persons_on_stage_now", filters, as_of)
    cols = st.columns(5)
    by_stage = dict(zip(now["stage"], now["persons"]))
    for i, stage in enumerate(s for s in STAGE_ORDER if s not in ("settlement", "trade_certificate")):
        cols[i % 5].metric(f"{ui.STAGE[stage]} nå", ui.number(by_stage.get(stage)), help="Personer på trinnet i dag")

    st.subheader(f"Avsluttet i {as_of.year}")
    ended = ui.query("ended_this_year", filters, as_of)
    ended_by = dict(zip(ended["end_type"], ended["persons"]))
    waiting = ui.query("waiting_summary", filters)
    a, b, c, d = st.columns(4)
    a.metric("Fullført", ui.number(ended_by.get("completed")))
    b.metric("Avbrutt (frafall)", ui.number(ended_by.get("dropped_out")))
    c.metric("Personer som venter på skoleplass", ui.number(waiting["persons"][0]))
    d.metric("Median ventetid (dager)", ui.number(waiting["median_wait_days"][0], hidden=disclosure.NOT_SHOWN))

    st.subheader("I arbeid eller utdanning i november året etter introprogrammet")
    nov = ui.query("november_indicator", filters).with_columns(
        disclosure.share(pl.col("in_work_or_education"), pl.col("persons"), pl.col("not_in_work_or_education"))
        .alias("share")).drop("not_in_work_or_education")
    latest = nov.filter(pl.col("share").is_not_null()).tail(1)
    if latest.height:
        share = latest["share"][0]
        st.metric(f"Avsluttet i {latest['end_year'][0]}", ui.percent(share),
                  delta=f"{(share - ui.NATIONAL_GOAL) * 100:+.0f} prosentpoeng mot nasjonalt mål på 70 %")
    else:
        st.info("For få personer i utvalget til å vise andelen.")
    ui.table(nov.with_columns((pl.col("share") * 100).round(0)), "oversikt_november", ["persons", "in_work_or_education"],
             {"end_year": "Avslutningsår", "persons": "Personer", "in_work_or_education": "I arbeid/utdanning",
              "share": "Andel (%)"})


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
