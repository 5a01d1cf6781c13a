"""Frafall: where people drop out — by stage, time on stage and reason, and the trend."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import disclosure, ui

TIME_ORDER = ["0–3 mnd", "3–6 mnd", "6–12 mnd", "1–2 år", "over 2 år"]


def render(filters) -> None:
    st.title("Frafall")
    st.caption("Forløp som endte med avbrudd. Kommunefilteret gjelder kommunen der forløpet hørte til.")
    by_time = ui.query("dropout_by_stage_and_time", filters)
    if by_time.height == 0:
        st.info("Ingen avbrudd i utvalget.")
        return
    matrix = disclosure.protect_matrix(disclosure.pivot(by_time, "stage", "time_on_stage", "persons"), "stage")
    matrix = matrix.select("stage", *[c for c in TIME_ORDER if c in matrix.columns], "Totalt")
    chart = matrix.drop("Totalt").unpivot(index="stage", variable_name="Tid på trinnet", value_name="Personer")
    fig = px.bar(ui.stage_label(chart, "stage").rename({"stage": "Trinn"}), x="Trinn", y="Personer",
                 color="Tid på trinnet", barmode="stack", category_orders={"Tid på trinnet": TIME_ORDER})
    st.plotly_chart(fig, width="stretch")
    counts = [c for c in matrix.columns if c != "stage"]
    ui.table(ui.stage_label(matrix, "stage"), "frafall_tid", counts, {"stage": "Trinn"})

    st.subheader("Årsak")
    reasons = ui.query("dropout_by_reason", filters)
    reason_matrix = disclosure.protect_matrix(disclosure.pivot(reasons, "stage", "reason", "persons"), "stage")
    ui.table(ui.stage_label(reason_matrix, "stage"), "frafall_arsak",
             [c for c in reason_matrix.columns if c != "stage"], {"stage": "Trinn"})

    st.subheader("Utvikling over tid")
    trend = ui.query("dropout_trend", filters)
    trend_matrix = disclosure.protect_matrix(disclosure.pivot(trend, "year", "stage", "persons"), "year")
    long = trend_matrix.drop("Totalt").unpivot(index="year", variable_name="stage", value_name="persons")
    fig = px.line(ui.stage_label(long, "stage").rename({"year": "År", "stage": "Trinn", "persons": "Personer"}),
                  x="År", y="Personer", color="Trinn", markers=True)
    st.plotly_chart(fig, width="stretch")
    ui.table(trend_matrix.rename({s: ui.STAGE.get(s, s) for s in trend_matrix.columns}), "frafall_trend",
             [ui.STAGE.get(c, c) for c in trend_matrix.columns if c != "year"], {"year": "År"})


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
