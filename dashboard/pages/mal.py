"""Mål: what leaders are held to. Start of Norwegian tuition (and the introduction
programme) within three months of settlement against the law's 100 %, the Norwegian
level reached (B1 or above), and time from settlement to work or education as
Kaplan–Meier curves; women and men side by side wherever a figure meets a target."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import disclosure, labels, ui
from dashboard.queries import COUNTY, TOTAL

SEX_LABEL = {"K": "Kvinner", "M": "Menn", TOTAL: "Alle", "ukjent": "Ukjent"}
SEX_COLOR = {"Kvinner": "#CC79A7", "Menn": "#0072B2", "Alle": "#444444"}
START_KIND = {"Norskopplæring": "norwegian", "Introduksjonsprogrammet": "intro"}
OUTCOME = {"Arbeid": "work", "Arbeid eller utdanning": "work_or_education"}
CEFR = ["A1", "A2", "B1", "B2", "C1"]
NORWEGIAN_BY = {"Bosettingskull": "cohort_year", "Kommune": "municipality", "Kjønn": "sex", "Landbakgrunn": "country"}
TARGET = 100


def _pct(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns((pl.col(c) * 100).round(0).cast(pl.Int64) for c in columns)


def _start_frame(name: str, filters, kind: str) -> pl.DataFrame:
    frame = ui.query(name, filters, kind)
    return frame.with_columns(
        disclosure.share(pl.col("within"), pl.col("decided"), pl.col("not_within")).alias("share"),
        pl.col("sex").replace_strict(SEX_LABEL, default=pl.col("sex")).alias("sex"),
    )


START_LABELS = {
    "cohort_year": "Kull",
    "municipality_name": "Kommune",
    "sex": "Kjønn",
    "decided": "Bosatt, fristen passert eller startet",
    "within": "Startet innen 3 mnd",
    "share": "Andel innen 3 mnd (%)",
    "persons": "Startet (personer)",
    "median_days": "Median dager til start",
    "waiting": "Venter fortsatt etter 3 mnd",
}


def start_section(filters) -> None:
    st.header("Oppstart innen tre måneder")
    what = st.radio("Oppstart i", list(START_KIND), horizontal=True, key="m_start")
    kind = START_KIND[what]
    st.caption(
        f"Loven sier at {what.lower()} skal starte innen tre måneder etter bosetting; målet er 100 %. "
        "Tre måneder regnes i kalendermåneder (bosatt 30. november: fristen er 28. eller 29. februar). "
        "Bare personer som var 18–67 år ved bosetting, og bare de som har startet eller har passert fristen "
        "(de som nylig er bosatt og ennå ikke har startet, er ikke med i andelen). Kommunen er "
        "bosettingskommunen. «Venter fortsatt» er personer som ikke har startet, og der fristen har gått ut."
    )
    cohorts = _start_frame("start_within_by_cohort", filters, kind)
    if cohorts.height == 0:
        st.info(ui.SMALL)
        return
    st.subheader("Andel per bosettingskull, kvinner og menn")
    fig = go.Figure()
    for sex in ("Kvinner", "Menn"):
        mine = cohorts.filter((pl.col("sex") == sex) & pl.col("share").is_not_null())
        fig.add_bar(
            x=mine["cohort_year"].to_list(),
            y=(mine["share"] * 100).round(0).to_list(),
            name=sex,
            marker_color=SEX_COLOR[sex],
            hovertemplate="%{x}: %{y} %<extra>" + sex + "</extra>",
        )
    everyone = cohorts.filter((pl.col("sex") == "Alle") & pl.col("share").is_not_null())
    fig.add_scatter(
        x=everyone["cohort_year"].to_list(),
        y=(everyone["share"] * 100).round(0).to_list(),
        mode="lines+markers",
        name="Alle",
        line={"color": SEX_COLOR["Alle"]},
        hovertemplate="%{x}: %{y} %<extra>Alle</extra>",
    )
    fig.add_hline(y=TARGET, line_dash="dash", annotation_text="Mål 100 %")
    fig.update_layout(barmode="group", xaxis_title="Bosettingskull", yaxis_title="Startet innen 3 måneder (%)")
    visible = cohorts.filter(pl.col("share").is_not_null()).height
    ui.chart(labels.style(fig, x_years=True, y_percent=True, legend_title="Kjønn"), visible)
    ui.table(
        _pct(cohorts, "share").select(
            "cohort_year", "sex", "decided", "within", "share", "persons", "median_days", "waiting"
        ),
        f"mal_oppstart_{kind}_kull",
        ["decided", "within", "persons", "waiting"],
        START_LABELS,
        shares=["share"],
    )

    st.subheader("Per kommune (valgte kull samlet)")
    places = _start_frame("start_within_by_municipality", filters, kind)
    if places.height:
        wide = places.filter(pl.col("sex") == "Alle").select(
            "municipality_name", "decided", "within", "share", "persons", "median_days", "waiting"
        )
        for sex in ("Kvinner", "Menn"):
            wide = wide.join(
                places.filter(pl.col("sex") == sex).select("municipality_name", pl.col("share").alias(f"share_{sex}")),
                on="municipality_name",
                how="left",
            )
        wide = _pct(wide, "share", "share_Kvinner", "share_Menn").sort("municipality_name")
        ui.table(
            wide,
            f"mal_oppstart_{kind}_kommune",
            ["decided", "within", "persons", "waiting"],
            {
                **START_LABELS,
                "share": "Andel alle (%)",
                "share_Kvinner": "Andel kvinner (%)",
                "share_Menn": "Andel menn (%)",
            },
            shares=["share", "share_Kvinner", "share_Menn"],
        )


def norwegian_section(filters) -> None:
    st.header("Norsknivå")
    st.caption(
        "Personer som har fullført et norskkurs, etter det høyeste nivået de har fullført (CEFR A1–C1). "
        "B1 eller høyere er det mange arbeidsgivere krever. Kommunen er kommunen der kurset ble tatt."
    )
    choice = st.radio("Fordelt på", list(NORWEGIAN_BY), horizontal=True, key="m_norsk_by")
    by = NORWEGIAN_BY[choice]

    def named(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.with_columns(pl.col("grp").replace_strict(SEX_LABEL, default=pl.col("grp"))) if by == "sex" else frame
        )

    b1 = named(ui.query("norwegian_b1", filters, by)).with_columns(
        disclosure.share(pl.col("b1"), pl.col("persons"), pl.col("below_b1")).alias("share")
    )
    if b1.height == 0:
        st.info(ui.SMALL)
        return
    shown = b1.filter(pl.col("share").is_not_null())
    fig = go.Figure(
        go.Bar(
            x=shown["grp"].to_list(),
            y=(shown["share"] * 100).round(0).to_list(),
            marker_color="#56B4E9",
            hovertemplate="%{x}: %{y} % B1 eller høyere<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title=choice, yaxis_title="B1 eller høyere (%)")
    fig.update_xaxes(type="category")
    ui.chart(labels.style(fig, y_percent=True), shown.height)
    ui.table(
        _pct(b1, "share").select("grp", "persons", "b1", "share"),
        f"mal_norsk_b1_{by}",
        ["persons", "b1"],
        {
            "grp": choice,
            "persons": "Fullført norskkurs (personer)",
            "b1": "B1 eller høyere",
            "share": "Andel B1 eller høyere (%)",
        },
        shares=["share"],
    )
    levels = named(ui.query("norwegian_levels", filters, by))
    matrix = disclosure.pivot(levels, "grp", "cefr_level", "persons", [*CEFR, TOTAL])
    ui.table(
        matrix, f"mal_norsk_niva_{by}", [*CEFR, TOTAL], {"grp": choice}, note="Personer etter høyeste fullførte nivå."
    )
    if by != "sex":
        st.markdown("**Kvinner og menn**")
        gap = named(ui.query("norwegian_b1", filters, "sex")).with_columns(
            disclosure.share(pl.col("b1"), pl.col("persons"), pl.col("below_b1")).alias("share")
        )
        ui.table(
            _pct(gap, "share").select("grp", "persons", "b1", "share"),
            "mal_norsk_b1_kjonn",
            ["persons", "b1"],
            {
                "grp": "Kjønn",
                "persons": "Fullført norskkurs (personer)",
                "b1": "B1 eller høyere",
                "share": "Andel B1 eller høyere (%)",
            },
            shares=["share"],
        )


def _groups(filters) -> dict:
    choices = ui.query_unscoped("municipality_choices")
    regions = [
        r for r in choices["regions"] if filters.scope == COUNTY or set(choices["by_region"][r]) <= set(filters.scope)
    ]
    dimension = st.radio(
        "Sammenlign",
        ["Kvinner og menn", "To regioner"] if len(regions) >= 2 else ["Kvinner og menn"],
        horizontal=True,
        key="m_compare",
    )
    if dimension == "Kvinner og menn":
        return {"Kvinner": dataclasses.replace(filters, sex="K"), "Menn": dataclasses.replace(filters, sex="M")}
    a = st.selectbox("Region A", regions, index=0, key="m_a")
    b = st.selectbox("Region B", regions, index=min(1, len(regions) - 1), key="m_b")
    return {
        a: dataclasses.replace(filters, municipalities=tuple(choices["by_region"][a])),
        b + (" " if b == a else ""): dataclasses.replace(filters, municipalities=tuple(choices["by_region"][b])),
    }


def outcome_section(filters) -> None:
    st.header("Tid fra bosetting til arbeid")
    what = st.radio("Utfall", list(OUTCOME), horizontal=True, key="m_outcome")
    outcome = OUTCOME[what]
    st.caption(
        f"Kaplan–Meier-kurver: andelen som har kommet i {what.lower()}, etter antall hele måneder siden "
        "bosetting. Personer som ennå ikke har kommet dit, telles med så lenge vi har sett dem (til "
        "datadatoen) og går så ut av beregningen. Kurven vises bare så langt minst 5 personer fortsatt er "
        "med; andelene er avrundet til hele prosent. Personer som var 16–67 år ved bosetting. "
        "Utdanning er grunnskole, kombinasjonsklasse, videregående og læretid."
    )
    groups = _groups(filters)
    fig = go.Figure()
    curves, visible = {}, 0
    for (label, group), color in zip(groups.items(), ("#CC79A7", "#0072B2"), strict=True):
        curve = ui.query("time_to_outcome_curve", group, outcome)
        curves[label.strip() or label] = curve
        visible += curve.height
        fig.add_scatter(
            x=curve["month"].to_list(),
            y=curve["share_reached"].to_list(),
            mode="lines",
            line={"shape": "hv", "color": color},
            name=label,
            hovertemplate="%{x} måneder: %{y} %<extra>" + label + "</extra>",
        )
    fig.update_layout(xaxis_title="Måneder siden bosetting", yaxis_title=f"Andel i {what.lower()} (%)")
    fig.update_xaxes(dtick=12)
    ui.chart(labels.style(fig, y_percent=True, legend_title=None), visible)

    columns = st.columns(len(groups))
    for column, (label, group) in zip(columns, groups.items(), strict=True):
        with column:
            st.markdown(f"**{label}**")
            summary = ui.query("time_to_outcome_by_cohort", group, outcome).filter(pl.col("cohort") == TOTAL)
            at_risk = ui.query("time_to_outcome_at_risk", group, outcome)
            row = summary.row(0, named=True) if summary.height else {}
            st.metric(
                "Median tid (måneder)",
                ui.number(row.get("median_months"), hidden=disclosure.NOT_SHOWN),
                help="Når halvparten har kommet dit. «–»: kurven kommer ikke dit med minst 5 personer igjen.",
            )
            risk = at_risk.with_columns(pl.col("years").cast(pl.String) + " år")
            ui.table(
                risk,
                f"mal_tid_{outcome}_risiko_{label.strip().lower().replace(' ', '_')}",
                ["persons"],
                {"years": "Etter", "persons": "Fortsatt med (ikke nådd, fortsatt observert)"},
            )

    st.subheader("Per bosettingskull")
    by_cohort = ui.query("time_to_outcome_by_cohort", filters, outcome).with_columns(
        pl.col("cohort").replace(TOTAL, "Alle valgte")
    )
    ui.table(
        by_cohort,
        f"mal_tid_{outcome}_kull",
        ["persons"],
        {
            "cohort": "Kull",
            "persons": "Personer",
            "median_months": "Median måneder",
            "share_1y": "Andel etter 1 år (%)",
            "share_2y": "Andel etter 2 år (%)",
            "share_3y": "Andel etter 3 år (%)",
        },
        shares=["share_1y", "share_2y", "share_3y"],
        note="Tom celle eller «:»: kurven når ikke så langt med minst 5 personer igjen.",
    )
    wide = None
    for label, curve in curves.items():
        part = curve.rename({"share_reached": label})
        wide = part if wide is None else wide.join(part, on="month", how="full", coalesce=True)
    if wide is not None and wide.height:
        st.markdown("**Kurvene som tabell**")
        ui.table(
            wide.sort("month"),
            f"mal_tid_{outcome}_kurve",
            [],
            {"month": "Måneder"},
            shares=[c for c in wide.columns if c != "month"],
            note="Andel som har nådd utfallet (%), per hele måned siden bosetting.",
        )


def render(filters) -> None:
    st.title("Mål")
    st.caption(
        "Det kommunene og fylket måles på: oppstart innen tre måneder, norsknivå og tid til arbeid. "
        "Kvinner og menn vises side om side der et tall sammenlignes med et mål."
    )
    start_section(filters)
    norwegian_section(filters)
    outcome_section(filters)


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
