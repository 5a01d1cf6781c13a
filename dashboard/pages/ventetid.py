"""Ventetid: waiting times for school places, for leaders."""
from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboard import disclosure, ui
from dashboard.queries import TOTAL

BUCKETS = ["under 1 mnd", "1–3 mnd", "3–6 mnd", "6–12 mnd", "over 1 år"]


def render(filters) -> None:
    st.title("Ventetid på skoleplass")
    st.caption("Fra søknad til oppstart. Kommunefilteret gjelder søkerens kommune.")
    by_school = ui.query("wait_by_school", filters).filter(pl.col("persons").is_null() | (pl.col("persons") > 0))
    st.subheader("Median og 90-persentil per skole, program og trinn (startede søknader)")
    ui.table(ui.stage_label(by_school, "stage"), "ventetid_skole", ["persons"],
             {"stage": "Trinn", "school": "Skole", "programme": "Program", "persons": "Personer",
              "median_days": "Median dager", "p90_days": "90-persentil dager"})

    st.subheader("Søknader som venter nå")
    waiting = ui.query("waiting_now", filters)
    if waiting.height:
        matrix = disclosure.pivot(waiting, "stage", "waited", "persons", [*BUCKETS, TOTAL])
        ui.table(ui.stage_label(matrix, "stage"), "ventetid_venter_na",
                 [c for c in matrix.columns if c != "stage"], {"stage": "Trinn"})
    else:
        st.info("Ingen søknader venter i utvalget.")

    threshold = st.slider("Terskel for lang ventetid (dager)", 30, 365, 90, step=15, key="v_threshold")
    longer = ui.query("share_waiting_longer", filters, threshold).with_columns(
        disclosure.share(pl.col("longer"), pl.col("persons"), pl.col("not_longer")).alias("share")
    ).drop("not_longer")
    ui.table(ui.stage_label(longer.with_columns((pl.col("share") * 100).round(0)), "stage"), "ventetid_terskel",
             ["persons", "longer"], {"stage": "Trinn", "persons": "Søkere", "longer": f"Ventet over {threshold} dager",
                                     "share": "Andel (%)"})

    st.subheader("Utvikling per søknadsmåned")
    trend = ui.query("wait_trend", filters)
    fig = px.line(trend.rename({"month": "Søknadsmåned", "median_days": "Median ventetid (dager)"}),
                  x="Søknadsmåned", y="Median ventetid (dager)", markers=True)
    st.plotly_chart(fig, width="stretch")
    ui.table(trend, "ventetid_trend", ["persons"],
             {"month": "Søknadsmåned", "persons": "Søkere", "median_days": "Median dager"})


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
