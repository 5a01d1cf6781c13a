"""Kohort: for the selected settlement cohorts, the share of settled persons who reached
each stage (not a funnel: people take different routes, so a later stage can be larger
than an earlier one), time from settlement, and two groups side by side."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import disclosure, labels, ui
from dashboard.queries import COUNTY, STAGE_ORDER

LABELS = {
    "stage": "Trinn",
    "persons": "Personer",
    "share_of_settled": "Andel av bosatte (%)",
    "median_days": "Median dager fra bosetting",
}


def _reached(filters) -> pl.DataFrame:
    """Persons who reached each stage (all selected cohorts together) and their share of the settled."""
    frame = ui.query("cohort_funnel", filters, False).drop("cohort_year")
    frame = frame.with_columns(
        pl.col("stage").replace_strict({s: i for i, s in enumerate(STAGE_ORDER)}, default=99).alias("order")
    ).sort("order")
    settled = frame.filter(pl.col("stage") == "settlement")["persons"]
    settled_value = settled[0] if settled.len() else None
    # shares from the published counts only (null when either is hidden); never above 100 %
    frame = frame.with_columns(
        disclosure.share(pl.col("persons"), pl.lit(settled_value, pl.Int64)).alias("share_of_settled")
    )
    return (
        frame.drop("order")
        .with_columns((pl.col("share_of_settled") * 100).round(0).cast(pl.Int64))
        .select("stage", "persons", "share_of_settled", "median_days")
    )


def render(filters) -> None:
    st.title("Kohort")
    ui.freshness_notes("kohort")
    st.caption(
        "Personer som er bosatt i de valgte årene (bosettingskull), og hvor mange av dem som har vært på "
        "hvert trinn – uansett rekkefølge. Folk går ulike veier (ikke alle skal gjennom alle trinn), så "
        "dette er ikke en trakt: et senere trinn kan ha flere personer enn et tidligere. Personer uten "
        "registrert bosetting er ikke med her (de står som «Ukjent bosetting» på Forløp)."
    )
    reached = _reached(filters)
    if reached.height == 0 or reached["persons"].is_null().all():
        st.info(ui.SMALL)
        return
    bars = reached.filter((pl.col("stage") != "settlement") & pl.col("share_of_settled").is_not_null())
    fig = go.Figure(
        go.Bar(
            x=[labels.STAGE[s] for s in bars["stage"]],
            y=bars["share_of_settled"].to_list(),
            marker_color=[labels.STAGE_COLOR[s] for s in bars["stage"]],
            text=[f"{v} %" for v in bars["share_of_settled"]],
            textposition="outside",
            customdata=[ui.number(v) for v in bars["persons"]],
            hovertemplate="%{x}: %{y} % av de bosatte (%{customdata} personer)<extra></extra>",
        )
    )
    fig.update_layout(height=440, yaxis_title="Andel av de bosatte (%)", xaxis_title=None, showlegend=False)
    ui.chart(labels.style(fig, y_percent=True), bars.height)
    ui.table(ui.stage_label(reached, "stage"), "kohort_trakt", ["persons"], LABELS, shares=["share_of_settled"])

    cohort = ui.query("cohort_funnel", filters)
    if cohort.height:
        st.subheader("Per bosettingskull")
        st.caption("Personer som har vært på trinnet, per år de ble bosatt. Yngre kull har hatt kortere tid.")
        stages = [s for s in STAGE_ORDER if s in set(cohort["stage"])]
        matrix = disclosure.pivot(cohort, "cohort_year", "stage", "persons", stages)
        ui.table(
            matrix.rename({s: labels.STAGE[s] for s in stages}),
            "kohort_per_kull",
            [labels.STAGE[s] for s in stages],
            {"cohort_year": "Kull"},
        )

    st.subheader("Sammenlign to grupper")
    choices = ui.query_unscoped("municipality_choices")
    scope = set(filters.scope)
    regions = [
        r
        for r in choices["regions"]  # only regions wholly inside the user's scope
        if filters.scope == COUNTY or set(choices["by_region"][r]) <= scope
    ]
    dimension = st.radio(
        "Sammenlign etter", ["Kjønn", "Region"] if len(regions) >= 2 else ["Kjønn"], horizontal=True, key="k_compare"
    )
    if dimension == "Kjønn":
        groups = {"Kvinner": dataclasses.replace(filters, sex="K"), "Menn": dataclasses.replace(filters, sex="M")}
    else:
        a = st.selectbox("Gruppe A", regions, index=0, key="k_a")
        b = st.selectbox("Gruppe B", regions, index=min(1, len(regions) - 1), key="k_b")
        groups = {
            a: dataclasses.replace(filters, municipalities=tuple(choices["by_region"][a])),
            b + (" " if b == a else ""): dataclasses.replace(filters, municipalities=tuple(choices["by_region"][b])),
        }
    columns = st.columns(2)
    for column, (label, group) in zip(columns, groups.items(), strict=True):
        with column:
            st.markdown(f"**{label}**")
            ui.table(
                ui.stage_label(_reached(group), "stage"),
                f"kohort_{label.strip().replace(' ', '_').lower()}",
                ["persons"],
                LABELS,
                shares=["share_of_settled"],
            )


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
