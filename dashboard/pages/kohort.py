"""Kohort: for each settlement cohort, persons reaching each stage, conversion and time
between stages; two groups side by side."""
from __future__ import annotations

import dataclasses

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import disclosure, ui
from dashboard.queries import COUNTY, STAGE_ORDER

LABELS = {"stage": "Trinn", "persons": "Personer", "median_days": "Median dager fra bosetting",
          "share_of_settled": "Andel av bosatte (%)", "from_previous": "Overgang fra forrige trinn (%)"}


def _funnel(filters) -> pl.DataFrame:
    frame = ui.query("cohort_funnel", filters, False).drop("cohort_year")
    frame = frame.with_columns(pl.col("stage").replace_strict({s: i for i, s in enumerate(STAGE_ORDER)},
                                                             default=99).alias("order")).sort("order")
    settled = frame.filter(pl.col("stage") == "settlement")["persons"]
    settled_value = settled[0] if settled.len() else None
    # shares and conversions from the published counts only (null when either is hidden)
    previous = pl.col("persons").shift(1)
    frame = frame.with_columns(
        disclosure.share(pl.col("persons"), pl.lit(settled_value, pl.Int64)).alias("share_of_settled"),
        pl.when(pl.col("persons").is_null() | previous.is_null() | (previous == 0)).then(None)
        .otherwise(pl.col("persons") / previous).alias("from_previous"))
    return frame.drop("order").with_columns((pl.col("share_of_settled") * 100).round(0),
                                            (pl.col("from_previous") * 100).round(0))


def render(filters) -> None:
    st.title("Kohort")
    st.caption("Personer som har nådd hvert trinn, andel av de bosatte og median tid fra bosetting til første start.")
    cohort = ui.query("cohort_funnel", filters)
    funnel = _funnel(filters)
    fig = go.Figure(go.Funnel(y=[ui.STAGE[s] for s in funnel["stage"]],
                              x=[v or 0 for v in funnel["persons"]],
                              text=[ui.number(v) for v in funnel["persons"]], textinfo="text"))
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(fig, width="stretch")
    ui.table(ui.stage_label(funnel, "stage"), "kohort_trakt", ["persons"], LABELS)
    if cohort.height:
        st.subheader("Per bosettingskull")
        ui.table(ui.stage_label(cohort, "stage"), "kohort_per_kull", ["persons"],
                 {"cohort_year": "Kull", "stage": "Trinn", "persons": "Personer", "median_days": "Median dager"})

    st.subheader("Sammenlign to grupper")
    choices = ui.query_unscoped("municipality_choices")
    scope = set(filters.scope)
    regions = [r for r in choices["regions"]   # only regions wholly inside the user's scope
               if filters.scope == COUNTY or set(choices["by_region"][r]) <= scope]
    dimension = st.radio("Sammenlign etter", ["Kjønn", "Region"] if len(regions) >= 2 else ["Kjønn"],
                         horizontal=True, key="k_compare")
    if dimension == "Kjønn":
        groups = {"Kvinner": dataclasses.replace(filters, sex="K"), "Menn": dataclasses.replace(filters, sex="M")}
    else:
        a = st.selectbox("Gruppe A", regions, index=0, key="k_a")
        b = st.selectbox("Gruppe B", regions, index=min(1, len(regions) - 1), key="k_b")
        groups = {a: dataclasses.replace(filters, municipalities=tuple(choices["by_region"][a])),
                  b + (" " if b == a else ""): dataclasses.replace(filters, municipalities=tuple(choices["by_region"][b]))}
    columns = st.columns(2)
    for column, (label, group) in zip(columns, groups.items()):
        with column:
            st.markdown(f"**{label}**")
            ui.table(ui.stage_label(_funnel(group), "stage"),
                     f"kohort_{label.strip().replace(' ', '_').lower()}", ["persons"], LABELS)


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
