"""Introprogram: outcomes per municipality and the November indicator per end-year cohort."""
from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboard import disclosure, ui
from dashboard.queries import TOTAL


def render(filters) -> None:
    st.title("Introduksjonsprogrammet")
    outcomes = ui.query("intro_outcomes_by_municipality", filters)
    if outcomes.height == 0:
        st.info("Ingen introduksjonsprogram i utvalget.")
        return
    outcomes = outcomes.with_columns(pl.col("end_type").replace_strict(ui.END_TYPE, default=pl.col("end_type")))
    matrix = disclosure.pivot(outcomes, "municipality", "end_type", "persons",
                              [*ui.END_TYPE.values(), TOTAL])
    st.subheader("Resultat per kommune")
    ui.table(matrix, "intro_resultat", [c for c in matrix.columns if c != "municipality"], {"municipality": "Kommune"})

    st.subheader("Direkte overgang etter fullført program")
    transition = ui.query("direct_transition", filters).with_columns(
        pl.col("transition").replace_strict(ui.TRANSITION, default=pl.col("transition")))
    fig = px.bar(transition.filter(pl.col("persons").is_not_null() & (pl.col("transition") != TOTAL)).rename(
        {"transition": "Overgang", "persons": "Personer"}), x="Overgang", y="Personer")
    st.plotly_chart(fig, width="stretch")
    ui.table(transition, "intro_overgang", ["persons"], {"transition": "Overgang", "persons": "Personer"})

    st.subheader("I arbeid eller utdanning i november året etter, per avslutningsår")
    nov = ui.query("november_indicator", filters).with_columns(
        disclosure.share(pl.col("in_work_or_education"), pl.col("persons"), pl.col("not_in_work_or_education"))
        .alias("share")).drop("not_in_work_or_education")
    fig = px.bar(nov.filter(pl.col("share").is_not_null()).with_columns((pl.col("share") * 100).alias("Andel (%)"))
                 .rename({"end_year": "Avslutningsår"}), x="Avslutningsår", y="Andel (%)")
    fig.add_hline(y=ui.NATIONAL_GOAL * 100, line_dash="dash", annotation_text="Nasjonalt mål 70 %")
    st.plotly_chart(fig, width="stretch")
    ui.table(nov.with_columns((pl.col("share") * 100).round(0)), "intro_november", ["persons", "in_work_or_education"],
             {"end_year": "Avslutningsår", "persons": "Personer", "in_work_or_education": "I arbeid/utdanning",
              "share": "Andel (%)"})


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
