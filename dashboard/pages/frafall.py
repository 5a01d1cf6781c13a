"""Frafall: where people drop out — by stage, time on stage and reason, and the trend."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboard import disclosure, labels, ui
from dashboard.queries import STAGE_ORDER, TOTAL

TIME_ORDER = ["0–3 mnd", "3–6 mnd", "6–12 mnd", "1–2 år", "over 2 år"]
TIME_COLOURS = ["#fde0c5", "#facba6", "#f59e72", "#e8603c", "#b83d26"]


def render(filters) -> None:
    st.title("Frafall")
    ui.freshness_notes("frafall")
    st.caption(
        "Personer som har avbrutt et trinn minst én gang – også de som senere gikk videre til et annet "
        "trinn eller begynte på nytt. Derfor er tallene større enn «Avbrøt siste trinn» på Forløp, som "
        "bare teller dem som avbrøt det siste trinnet sitt. Kommunefilteret gjelder kommunen der forløpet "
        "hørte til. «Totalt» er personer på trinnet, telt én gang selv om de avbrøt flere ganger."
    )
    by_time = ui.query("dropout_by_stage_and_time", filters)
    if by_time.height == 0:
        st.info(ui.SMALL)
        return
    stage_order = [s for s in STAGE_ORDER if s in set(by_time["stage"])]
    matrix = disclosure.pivot(by_time, "stage", "time_on_stage", "persons", [*TIME_ORDER, TOTAL])
    matrix = (
        matrix.with_columns(
            pl.col("stage").replace_strict({s: i for i, s in enumerate(stage_order)}, default=99).alias("o")
        )
        .sort("o")
        .drop("o")
    )
    chart = matrix.drop(TOTAL).unpivot(index="stage", variable_name="Tid på trinnet", value_name="Personer")
    chart = chart.filter(pl.col("Personer").is_not_null())
    fig = px.bar(
        ui.stage_label(chart, "stage").rename({"stage": "Trinn"}),
        x="Trinn",
        y="Personer",
        color="Tid på trinnet",
        barmode="stack",
        category_orders={"Tid på trinnet": TIME_ORDER, "Trinn": [labels.STAGE[s] for s in stage_order]},
        color_discrete_sequence=TIME_COLOURS,
    )
    fig.update_traces(hovertemplate="%{x}, %{fullData.name} på trinnet: %{y} personer<extra></extra>")
    st.subheader("Avbrudd etter trinn og hvor lenge personen hadde vært på trinnet")
    ui.chart(labels.style(fig, legend_title="Tid på trinnet"), chart.height)
    ui.table(
        ui.stage_label(matrix, "stage"), "frafall_tid", [c for c in matrix.columns if c != "stage"], {"stage": "Trinn"}
    )

    st.subheader("Årsak")
    st.caption(
        "Årsakene slik kildene oppgir dem, slått sammen på tvers av kilder (for eksempel «helse» fra "
        "kommunene og fra Trøndelagsmodellen). Voksenopplæringen og skolene oppgir ingen årsak."
    )
    reasons = ui.query("dropout_by_reason", filters).with_columns(
        pl.col("reason").replace_strict(labels.DROPOUT_REASON, default=pl.col("reason"))
    )
    reason_order = sorted(set(reasons["reason"]) - {TOTAL, "Ikke oppgitt"})
    reason_order += ["Ikke oppgitt"] if "Ikke oppgitt" in set(reasons["reason"]) else []
    reason_matrix = disclosure.pivot(reasons, "stage", "reason", "persons", [*reason_order, TOTAL])
    ui.table(
        ui.stage_label(reason_matrix, "stage"),
        "frafall_arsak",
        [c for c in reason_matrix.columns if c != "stage"],
        {"stage": "Trinn"},
    )

    st.subheader("Utvikling over tid")
    st.caption("Personer som avbrøt trinnet, etter året de avbrøt.")
    trend = ui.query("dropout_trend", filters)
    stages = [s for s in STAGE_ORDER if s in set(trend["stage"])]
    trend_matrix = disclosure.pivot(trend, "year", "stage", "persons", [*stages, TOTAL])
    long = trend_matrix.drop(TOTAL).unpivot(index="year", variable_name="stage", value_name="persons")
    long = long.filter(pl.col("persons").is_not_null())
    fig = px.line(
        ui.stage_label(long, "stage").rename({"year": "År", "stage": "Trinn", "persons": "Personer"}),
        x="År",
        y="Personer",
        color="Trinn",
        markers=True,
        color_discrete_map={labels.STAGE[s]: labels.STAGE_COLOR[s] for s in stages},
        category_orders={"Trinn": [labels.STAGE[s] for s in stages]},
    )
    fig.update_traces(hovertemplate="%{fullData.name} %{x}: %{y} personer<extra></extra>")
    ui.chart(labels.style(fig, x_years=True, legend_title="Trinn"), long.height)
    ui.table(
        trend_matrix.rename({s: labels.STAGE.get(s, s) for s in trend_matrix.columns}),
        "frafall_trend",
        [labels.STAGE.get(c, c) for c in trend_matrix.columns if c != "year"],
        {"year": "År"},
    )


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
