"""Planlegging: how many will apply for a combination-class place at the next two
intakes, per region and for the county, with an 80 % prediction interval, the backtest
(the forecast each past intake would have had, next to what came) and its mean absolute
percentage error, and the settlement plans the forecast rests on."""

from __future__ import annotations

from typing import cast

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import labels, queries, ui
from warehouse.forecast import COUNTY

METHOD = {"negbin-plan-exposure": "Negativ binomisk modell", "poisson-plan-exposure": "Poisson-modell"}


def _with_actuals(forecast: pl.DataFrame, actuals: pl.DataFrame) -> pl.DataFrame:
    """Forecast rows with the published (perturbed) actual number and the error against it."""
    joined = forecast.join(
        actuals.select(pl.col("intake_year").cast(pl.Int64), "region", "applicants"),
        on=["intake_year", "region"],
        how="left",
    )
    return joined.with_columns(
        pl.when(pl.col("applicants").is_not_null() & (pl.col("applicants") > 0))
        .then(((pl.col("expected_applications") - pl.col("applicants")).abs() / pl.col("applicants") * 100).round(0))
        .alias("error_pct")
    )


def mape(rows: pl.DataFrame) -> float | None:
    """Mean absolute percentage error over backtest rows whose actual number is shown."""
    errors = rows["error_pct"].drop_nulls()
    return None if errors.len() == 0 else float(cast(float, errors.mean()))


def render(filters) -> None:
    st.title("Planlegging av skoleplasser")
    st.caption(
        "Prognose for søkere til kombinasjonsklasse ved de neste to inntakene (skolestart i august), per "
        "region og for hele fylket. Den bygger på bosettingsplanene (IMDis anmodning og kommunenes vedtak), "
        "hvor stor andel av de bosatte som er 16–24 år, hvor mange av dem som søker, og når de søker. "
        "En søker hører til inntaket etter søknadsåret: søkt 1. august–31. juli. Filtrene i sidepanelet "
        "(utenom tilgangen din) gjelder ikke prognosen: den gjelder alle."
    )
    scoped = queries.Filters(scope=filters.scope)
    forecast = ui.query("school_place_forecast", scoped).with_columns(pl.col("intake_year").cast(pl.Int64))
    if forecast.height == 0:
        st.info(
            "Ingen prognose for regionene du har tilgang til (for lite historikk, eller ingen hel region "
            "i tilgangen din)."
        )
        return
    actuals = ui.query("forecast_actuals", scoped)
    rows = _with_actuals(forecast, actuals)
    # the forecasts are the two newest intakes; every earlier row is a backtest
    upcoming = rows.filter(pl.col("intake_year") >= pl.col("intake_year").max() - 1)

    st.subheader("De neste to inntakene")
    regions = sorted(set(rows["region"]) - {COUNTY}) + ([COUNTY] if COUNTY in set(rows["region"]) else [])
    fig = go.Figure()
    for year, color in zip(sorted(set(upcoming["intake_year"])), ("#0072B2", "#56B4E9"), strict=False):
        mine = upcoming.filter(pl.col("intake_year") == year).filter(pl.col("region") != COUNTY)
        fig.add_bar(
            x=mine["region"].to_list(),
            y=mine["expected_applications"].round(0).to_list(),
            name=str(year),
            marker_color=color,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (mine["high_80"] - mine["expected_applications"]).to_list(),
                "arrayminus": (mine["expected_applications"] - mine["low_80"]).to_list(),
            },
            hovertemplate="%{x}, inntak " + str(year) + ": %{y} forventet<extra></extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="Forventede søkere", xaxis_title=None)
    ui.chart(labels.style(fig, legend_title="Inntak"), upcoming.height)
    table = upcoming.with_columns(
        pl.col("expected_applications").round(0).cast(pl.Int64),
        pl.col("method").replace_strict(METHOD, default=pl.col("method")),
    )
    ui.table(
        table.select("intake_year", "region", "expected_applications", "low_80", "high_80", "method"),
        "planlegging_prognose",
        [],
        {
            "intake_year": "Inntak (år)",
            "region": "Region",
            "expected_applications": "Forventede søkere",
            "low_80": "Nedre grense (80 %)",
            "high_80": "Øvre grense (80 %)",
            "method": "Metode",
        },
        note="Prognosen er en modellberegning, ikke en telling av personer. Med 80 % sannsynlighet ligger "
        "antallet søkere mellom nedre og øvre grense (når modellen stemmer).",
    )

    st.subheader("Hvor godt har prognosen truffet før?")
    region = st.selectbox("Region", regions, index=len(regions) - 1, key="p_region")
    past = rows.filter((pl.col("region") == region) & (pl.col("intake_year") < upcoming["intake_year"].min()))
    error = mape(past)
    st.metric(
        f"Gjennomsnittlig prosentavvik (MAPE), {region}",
        "–" if error is None else f"{labels.integer(round(error))} %",
        help="Gjennomsnittet av |prognose − faktisk| / faktisk over tidligere inntak, der prognosen er laget "
        "1. august året før inntaket med bare data fra før den datoen. Regnet mot de publiserte "
        "(avrundede) faktiske tallene; inntak med færre enn 5 søkere er ikke med.",
    )
    if past.height:
        fig = go.Figure()
        fig.add_scatter(
            x=past["intake_year"].to_list(),
            y=past["high_80"].to_list(),
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
        )
        fig.add_scatter(
            x=past["intake_year"].to_list(),
            y=past["low_80"].to_list(),
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(0,114,178,0.15)",
            name="80 % intervall",
            hoverinfo="skip",
        )
        fig.add_scatter(
            x=past["intake_year"].to_list(),
            y=past["expected_applications"].round(0).to_list(),
            mode="lines+markers",
            name="Prognose",
            line={"color": "#0072B2"},
            hovertemplate="Inntak %{x}: prognose %{y}<extra></extra>",
        )
        shown = past.filter(pl.col("applicants").is_not_null())
        fig.add_scatter(
            x=shown["intake_year"].to_list(),
            y=shown["applicants"].to_list(),
            mode="markers",
            name="Faktisk",
            marker={"color": "#D55E00", "size": 10},
            hovertemplate="Inntak %{x}: faktisk %{y}<extra></extra>",
        )
        fig.update_layout(xaxis_title="Inntak", yaxis_title="Søkere")
        ui.chart(labels.style(fig, x_years=True), past.height)
        ui.table(
            past.with_columns(
                pl.col("expected_applications").round(0).cast(pl.Int64), pl.col("error_pct").cast(pl.Int64)
            ).select("intake_year", "expected_applications", "low_80", "high_80", "applicants", "error_pct"),
            f"planlegging_etterprove_{region.lower().replace(' ', '_')}",
            ["applicants"],
            {
                "intake_year": "Inntak (år)",
                "expected_applications": "Prognose",
                "low_80": "Nedre (80 %)",
                "high_80": "Øvre (80 %)",
                "applicants": "Faktiske søkere",
                "error_pct": "Avvik (%)",
            },
            shares=["error_pct"],
        )

    st.subheader("Bosettingsplanene prognosen bygger på")
    st.caption(
        "Summen per region og år av IMDis anmodning og kommunenes vedtak (nyeste levering gjelder). "
        "Der en kommune ikke har vedtatt ennå, bruker prognosen anmodningen. Planer er vedtak, ikke "
        "tellinger av personer."
    )
    plans = ui.query("settlement_plans_by_region", scoped)
    recent = plans.filter(pl.col("year") >= pl.col("year").max() - 4) if plans.height else plans
    totals = plans.group_by("year").agg(pl.col("requested").sum(), pl.col("decided").sum()).sort("year")
    if totals.height:
        fig = go.Figure()
        fig.add_bar(x=totals["year"].to_list(), y=totals["requested"].to_list(), name="Anmodet", marker_color="#BBBBBB")
        fig.add_bar(x=totals["year"].to_list(), y=totals["decided"].to_list(), name="Vedtatt", marker_color="#009E73")
        fig.update_layout(barmode="group", xaxis_title="Bosettingsår", yaxis_title="Flyktninger")
        ui.chart(labels.style(fig, x_years=True), totals.height)
    ui.table(
        recent,
        "planlegging_bosettingsplaner",
        [],
        {
            "year": "År",
            "region": "Region",
            "requested": "Anmodet",
            "decided": "Vedtatt",
            "undecided_municipalities": "Kommuner uten vedtak",
            "unaccompanied_minors": "Herav enslige mindreårige",
        },
    )


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
