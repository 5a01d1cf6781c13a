"""Introprogram: outcomes per municipality, the national 70 % goal per municipality (this
year against last) and for women and men side by side, and direct transitions."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import disclosure, labels, ui
from dashboard.queries import TOTAL

NOV_LABELS = {
    "end_year": "Avslutningsår",
    "persons": "Personer",
    "in_work_or_education": "I arbeid/utdanning",
    "share": "Andel (%)",
}


def _with_share(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        disclosure.share(pl.col("in_work_or_education"), pl.col("persons"), pl.col("not_in_work_or_education")).alias(
            "share"
        )
    ).drop("not_in_work_or_education")


def _women_and_men(filters) -> None:
    """The 70 % goal for women and men side by side (issue 14: the strategy notes that
    women's results are far weaker); each sex is a cell of its own, as on every page."""
    st.markdown("**Kvinner og menn**")
    parts = [
        _with_share(ui.query("november_indicator", dataclasses.replace(filters, sex=code))).with_columns(
            pl.lit(label).alias("sex")
        )
        for code, label in (("K", "Kvinner"), ("M", "Menn"))
    ]
    both = pl.concat(parts).sort("end_year", "sex")
    fig = go.Figure()
    for label, color in (("Kvinner", "#CC79A7"), ("Menn", "#0072B2")):
        mine = both.filter((pl.col("sex") == label) & pl.col("share").is_not_null())
        fig.add_bar(
            x=mine["end_year"].to_list(),
            y=(mine["share"] * 100).round(0).to_list(),
            name=label,
            marker_color=color,
            hovertemplate="Avsluttet i %{x}: %{y} %<extra>" + label + "</extra>",
        )
    fig.add_hline(y=ui.NATIONAL_GOAL * 100, line_dash="dash", annotation_text="Nasjonalt mål 70 %")
    fig.update_layout(barmode="group", xaxis_title="Avslutningsår", yaxis_title="Andel i arbeid eller utdanning (%)")
    ui.chart(
        labels.style(fig, x_years=True, y_percent=True, legend_title="Kjønn"),
        both.filter(pl.col("share").is_not_null()).height,
    )
    ui.table(
        both.with_columns((pl.col("share") * 100).round(0).cast(pl.Int64)).select(
            "end_year", "sex", "persons", "in_work_or_education", "share"
        ),
        "intro_november_kjonn",
        ["persons", "in_work_or_education"],
        {**NOV_LABELS, "sex": "Kjønn"},
        shares=["share"],
    )


def render(filters) -> None:
    st.title("Introduksjonsprogrammet")
    ui.freshness_notes("introprogram")
    st.subheader("Målet: 70 % i arbeid eller utdanning i november året etter")
    st.caption(
        "Andelen av dem som avsluttet introprogrammet et år, som var i arbeid eller utdanning 30. november "
        "året etter (det nasjonale målet er 70 %). Kommunen er kommunen der programmet ble avsluttet."
    )
    by_place = _with_share(ui.query("november_by_municipality", filters))
    if by_place.height == 0:
        st.info(ui.SMALL)
    else:
        latest = by_place["end_year"].max()
        assert isinstance(latest, int), "end_year is year(end_date), never null here, and there are rows"
        this = by_place.filter(pl.col("end_year") == latest).select("municipality", "persons", "share")
        last = by_place.filter(pl.col("end_year") == latest - 1).select(
            "municipality", pl.col("persons").alias("persons_last"), pl.col("share").alias("share_last")
        )
        ranked = this.join(last, on="municipality", how="full", coalesce=True).sort(
            ["share", "municipality"], descending=[True, False], nulls_last=True
        )
        shown = ranked.filter(pl.col("share").is_not_null())
        fig = go.Figure()
        fig.add_bar(
            y=shown["municipality"].to_list(),
            x=(shown["share"] * 100).round(0).to_list(),
            orientation="h",
            name=f"Avsluttet i {latest}",
            marker_color=["#117733" if v >= ui.NATIONAL_GOAL else "#D55E00" for v in shown["share"]],
            hovertemplate="%{y}: %{x} %<extra>" + f"avsluttet i {latest}</extra>",
        )
        before = shown.filter(pl.col("share_last").is_not_null())
        fig.add_scatter(
            y=before["municipality"].to_list(),
            x=(before["share_last"] * 100).round(0).to_list(),
            mode="markers",
            name=f"Avsluttet i {latest - 1}",
            marker={"symbol": "line-ns-open", "size": 18, "color": "#222222", "line": {"width": 3}},
            hovertemplate="%{y}: %{x} %<extra>" + f"avsluttet i {latest - 1}</extra>",
        )
        fig.add_vline(x=ui.NATIONAL_GOAL * 100, line_dash="dash", annotation_text="Nasjonalt mål 70 %")
        fig.update_layout(
            height=max(260, 34 * shown.height + 80),
            xaxis_title="Andel i arbeid eller utdanning (%)",
            yaxis={"autorange": "reversed"},
            legend={"orientation": "h", "y": -0.15},
        )
        fig.update_xaxes(range=[0, 100], ticksuffix=" %")
        ui.chart(labels.style(fig), shown.height)
        hidden = ranked.height - shown.height
        if hidden:
            st.caption(f"{hidden} kommuner har for få personer til at andelen kan vises; de står i tabellen.")
        table = ranked.with_columns(
            (pl.col("share") * 100).round(0).cast(pl.Int64), (pl.col("share_last") * 100).round(0).cast(pl.Int64)
        )
        ui.table(
            table,
            "intro_mal_kommune",
            ["persons", "persons_last"],
            {
                "municipality": "Kommune",
                "persons": f"Avsluttet i {latest}",
                "share": f"Andel {latest} (%)",
                "persons_last": f"Avsluttet i {latest - 1}",
                "share_last": f"Andel {latest - 1} (%)",
            },
            shares=["share", "share_last"],
        )

    st.subheader("Hele utvalget, per avslutningsår")
    nov = _with_share(ui.query("november_indicator", filters))
    points = nov.filter(pl.col("share").is_not_null())
    fig = go.Figure(
        go.Bar(
            x=points["end_year"].to_list(),
            y=(points["share"] * 100).round(0).to_list(),
            marker_color="#117733",
            hovertemplate="Avsluttet i %{x}: %{y} %<extra></extra>",
        )
    )
    fig.add_hline(y=ui.NATIONAL_GOAL * 100, line_dash="dash", annotation_text="Nasjonalt mål 70 %")
    fig.update_layout(xaxis_title="Avslutningsår", yaxis_title="Andel i arbeid eller utdanning (%)")
    ui.chart(labels.style(fig, x_years=True, y_percent=True), points.height)
    ui.table(
        nov.with_columns((pl.col("share") * 100).round(0).cast(pl.Int64)),
        "intro_november",
        ["persons", "in_work_or_education"],
        NOV_LABELS,
        shares=["share"],
    )
    _women_and_men(filters)

    st.subheader("Resultat per kommune")
    st.caption(
        "Personer per kommune etter hvordan introprogrammet endte (det siste programmet i kommunen). "
        "«Overført»: flyttet og fortsatte i en annen kommune. «Totalt» er personer, telt én gang."
    )
    outcomes = ui.query("intro_outcomes_by_municipality", filters)
    if outcomes.height == 0:
        st.info(ui.SMALL)
    else:
        outcomes = outcomes.with_columns(pl.col("end_type").replace_strict(labels.END_TYPE, default=pl.col("end_type")))
        matrix = disclosure.pivot(outcomes, "municipality", "end_type", "persons", [*labels.END_TYPE.values(), TOTAL])
        ui.table(
            matrix, "intro_resultat", [c for c in matrix.columns if c != "municipality"], {"municipality": "Kommune"}
        )

    st.subheader("Direkte overgang etter fullført program")
    st.caption("Hva personer som fullførte programmet gikk direkte til, slik kommunen registrerte det.")
    transition = ui.query("direct_transition", filters).with_columns(
        pl.col("transition").replace_strict(labels.TRANSITION, default=pl.col("transition"))
    )
    bars = transition.filter(pl.col("persons").is_not_null() & (pl.col("transition") != TOTAL))
    fig = go.Figure(
        go.Bar(
            x=bars["transition"].to_list(),
            y=bars["persons"].to_list(),
            marker_color="#0072B2",
            hovertemplate="%{x}: %{y} personer<extra></extra>",
        )
    )
    fig.update_layout(yaxis_title="Personer", xaxis_title=None)
    ui.chart(labels.style(fig), bars.height)
    ui.table(transition, "intro_overgang", ["persons"], {"transition": "Overgang", "persons": "Personer"})


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
