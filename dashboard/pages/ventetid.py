"""Ventetid: waiting times for school places, per school year and stage, for leaders."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboard import disclosure, labels, ui
from dashboard.queries import STAGE_ORDER, TOTAL

BUCKETS = ["under 1 mnd", "1–3 mnd", "3–6 mnd", "6–12 mnd", "over 1 år"]


def _school_year(start: int) -> str:
    return f"{start}/{str(start + 1)[2:]}"


def _stage_sorted(frame: pl.DataFrame, column: str = "stage") -> pl.DataFrame:
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    return frame.with_columns(pl.col(column).replace_strict(order, default=99).alias("_o")).sort("_o").drop("_o")


def render(filters) -> None:
    st.title("Ventetid på skoleplass")
    ui.freshness_notes("ventetid")
    st.caption(
        "Ventetid er dagene fra søknad til oppstart. Skoleåret regnes fra 1. august til 31. juli, etter "
        "søknadsdatoen. Kommunefilteret gjelder søkerens kommune."
    )
    threshold = st.slider("Terskel for lang ventetid (dager)", 30, 365, 90, step=15, key="v_threshold")

    st.subheader("Dette skoleåret mot i fjor, per trinn")
    years = (
        ui.query("wait_by_school_year", filters, threshold)
        .with_columns(disclosure.share(pl.col("longer"), pl.col("applicants"), pl.col("not_longer")).alias("share"))
        .drop("not_longer")
    )
    if years.height == 0:
        st.info(ui.SMALL)
    else:
        latest = years["school_year"].max()
        recent = years.filter(pl.col("school_year") >= latest - 1).with_columns(
            pl.col("school_year").map_elements(_school_year, return_dtype=pl.String).alias("Skoleår")
        )
        shown = _stage_sorted(recent.filter(pl.col("median_days").is_not_null()))
        stage_names = [labels.STAGE[s] for s in STAGE_ORDER if s in set(shown["stage"])]
        fig = px.bar(
            ui.stage_label(shown, "stage").rename({"stage": "Trinn", "median_days": "Median dager"}),
            x="Trinn",
            y="Median dager",
            color="Skoleår",
            barmode="group",
            category_orders={"Skoleår": [_school_year(latest - 1), _school_year(latest)], "Trinn": stage_names},
            color_discrete_map={_school_year(latest - 1): "#bbbbbb", _school_year(latest): "#0072B2"},
        )
        fig.update_traces(hovertemplate="%{x}, skoleåret %{fullData.name}: median %{y} dager<extra></extra>")
        fig.update_layout(yaxis_title="Median ventetid (dager), startede søknader")
        ui.chart(labels.style(fig, legend_title="Skoleår"), shown.height)
        over = _stage_sorted(recent.filter(pl.col("share").is_not_null()))
        fig = px.bar(
            ui.stage_label(over.with_columns((pl.col("share") * 100).round(0)), "stage").rename(
                {"stage": "Trinn", "share": "Andel"}
            ),
            x="Trinn",
            y="Andel",
            color="Skoleår",
            barmode="group",
            category_orders={"Skoleår": [_school_year(latest - 1), _school_year(latest)], "Trinn": stage_names},
            color_discrete_map={_school_year(latest - 1): "#bbbbbb", _school_year(latest): "#D55E00"},
        )
        fig.update_traces(
            hovertemplate="%{x}, skoleåret %{fullData.name}: %{y} % ventet over " + f"{threshold} dager<extra></extra>"
        )
        fig.update_layout(yaxis_title=f"Andel som ventet over {threshold} dager (%)")
        ui.chart(labels.style(fig, y_percent=True, legend_title="Skoleår"), over.height)
        st.caption(
            f"Skoleåret {_school_year(latest)} er ikke over: søknader som fortsatt venter er ikke med i "
            "medianen, men de teller med i andelen over terskelen med ventetiden så langt."
        )
        order = {s: i for i, s in enumerate(STAGE_ORDER)}
        table = years.with_columns((pl.col("share") * 100).round(0).cast(pl.Int64)).sort(
            [pl.col("stage").replace_strict(order, default=99), pl.col("school_year")], descending=[False, True]
        )
        table = table.with_columns(pl.col("school_year").map_elements(_school_year, return_dtype=pl.String))
        ui.table(
            ui.stage_label(
                table.select("stage", "school_year", "persons", "median_days", "applicants", "longer", "share"), "stage"
            ),
            "ventetid_skolear",
            ["persons", "applicants", "longer"],
            {
                "stage": "Trinn",
                "school_year": "Skoleår",
                "persons": "Startet (personer)",
                "median_days": "Median dager",
                "applicants": "Søkere (startet eller venter)",
                "longer": f"Ventet over {threshold} dager",
                "share": f"Andel over {threshold} dager (%)",
            },
            shares=["share"],
        )

    st.subheader("Søknader som venter nå")
    waiting_total = ui.query("waiting_summary", filters)
    st.metric(
        "Personer som venter på skoleplass nå",
        ui.number(waiting_total["persons"][0]),
        help="Samme tall som på Oversikt.",
    )
    waiting = ui.query("waiting_now", filters)
    if waiting.height:
        matrix = _stage_sorted(disclosure.pivot(waiting, "stage", "waited", "persons", [*BUCKETS, TOTAL]))
        ui.table(
            ui.stage_label(matrix, "stage"),
            "ventetid_venter_na",
            [c for c in matrix.columns if c != "stage"],
            {"stage": "Trinn"},
            note="Personer etter hvor lenge søknaden har ventet så langt.",
        )
    else:
        st.info("Ingen søknader venter i utvalget.")

    st.subheader("Utvikling per kvartal")
    st.caption(
        "Median ventetid for søknader som har startet, etter kvartalet de ble sendt, per trinn "
        "(kvartaler fordi månedene har for få søknader)."
    )
    trend = ui.query("wait_trend", filters).with_columns(
        pl.col("quarter").map_elements(labels.quarter, return_dtype=pl.String).alias("Kvartal")
    )
    points = trend.filter(pl.col("median_days").is_not_null())
    stages = [s for s in STAGE_ORDER if s in set(points["stage"])]
    fig = px.line(
        ui.stage_label(points, "stage").rename({"stage": "Trinn", "median_days": "Median dager"}),
        x="Kvartal",
        y="Median dager",
        color="Trinn",
        markers=True,
        category_orders={"Kvartal": sorted(set(points["Kvartal"])), "Trinn": [labels.STAGE[s] for s in stages]},
        color_discrete_map={labels.STAGE[s]: labels.STAGE_COLOR[s] for s in stages},
    )
    fig.update_traces(hovertemplate="%{fullData.name}, %{x}: median %{y} dager<extra></extra>")
    ui.chart(labels.style(fig, legend_title="Trinn"), points.height)
    ui.table(
        ui.stage_label(trend.select("stage", "Kvartal", "persons", "median_days"), "stage"),
        "ventetid_trend",
        ["persons"],
        {"stage": "Trinn", "persons": "Startet (personer)", "median_days": "Median dager"},
    )

    st.subheader("Per skole og utdanningsprogram")
    st.caption("Søknader som har startet, alle år.")
    by_school = ui.query("wait_by_school", filters).with_columns(
        pl.col("programme").replace_strict(labels.PROGRAMME, default=pl.col("programme"))
    )
    ui.table(
        ui.stage_label(by_school, "stage"),
        "ventetid_skole",
        ["persons"],
        {
            "stage": "Trinn",
            "school": "Skole",
            "programme": "Utdanningsprogram",
            "persons": "Personer",
            "median_days": "Median dager",
            "p90_days": "90-persentil dager",
        },
    )


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
