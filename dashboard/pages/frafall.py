"""Frafall: where people drop out — by stage, time on stage and reason, and the trend."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import disclosure, ui
from dashboard.queries import STAGE_ORDER, TOTAL

TIME_ORDER = ["0–3 mnd", "3–6 mnd", "6–12 mnd", "1–2 år", "over 2 år"]


def render(filters) -> None:
    st.title("Frafall")
    st.caption("Forløp som endte med avbrudd. Kommunefilteret gjelder kommunen der forløpet hørte til.")
    by_time = ui.query("dropout_by_stage_and_time", filters)
    if by_time.height == 0:
        st.info("Ingen avbrudd i utvalget.")
        return
    matrix = disclosure.pivot(by_time, "stage", "time_on_stage", "persons", [*TIME_ORDER, TOTAL])
    chart = matrix.drop("Totalt").unpivot(index="stage", variable_name="Tid på trinnet", value_name="Personer")
    fig = px.bar(ui.stage_label(chart, "stage").rename({"stage": "Trinn"}), x="Trinn", y="Personer",
                 color="Tid på trinnet", barmode="stack", category_orders={"Tid på trinnet": TIME_ORDER})
    st.plotly_chart(fig, width="stretch")
    counts = [c for c in matrix.columns if c != "stage"]
    ui.table(ui.stage_label(matrix, "stage"), "frafall_tid", counts, {"stage": "Trinn"})

    st.subheader("Årsak")
    reasons = ui.query("dropout_by_reason", filters)
    reason_order = sorted(set(reasons["reason"]) - {TOTAL}) + [TOTAL]
    reason_matrix = disclosure.pivot(reasons, "stage", "reason", "persons", reason_order)
    ui.table(ui.stage_label(reason_matrix, "stage"), "frafall_arsak",
             [c for c in reason_matrix.columns if c != "stage"], {"stage": "Trinn"})

    st.subheader("Utvikling over tid")
    trend = ui.query("dropout_trend", filters)
    stage_order = [s for s in STAGE_ORDER if s in set(trend["stage"])] + [TOTAL]
    trend_matrix = disclosure.pivot(trend, "year", "stage", "persons", stage_order)
    long = trend_matrix.drop("Totalt").unpivot(index="year", variable_name="stage", value_name="persons")
    fig = px.line(ui.stage_label(long, "stage").rename({"year": "År", "stage": "Trinn", "persons": "Personer"}),
                  x="År", y="Personer", color="Trinn", markers=True)
    st.plotly_chart(fig, width="stretch")
    ui.table(trend_matrix.rename({s: ui.STAGE.get(s, s) for s in trend_matrix.columns}), "frafall_trend",
             [ui.STAGE.get(c, c) for c in trend_matrix.columns if c != "year"], {"year": "År"})


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
