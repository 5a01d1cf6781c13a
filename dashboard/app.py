"""Trøndelag pathways dashboard: navigation and the filters every page shares.

Run with `pathways dashboard --warehouse FILE` (or `streamlit run dashboard/app.py` with
PATHWAYS_WAREHOUSE set). Reads the published warehouse read-only and shows aggregates only.
"""
from __future__ import annotations

import streamlit as st

from dashboard import queries, ui

st.set_page_config(page_title="Kvalifiseringsløp i Trøndelag", page_icon="🧭", layout="wide")

if not ui.warehouse_path().exists():
    st.error(f"Fant ikke datavarehuset {ui.warehouse_path()}. Kjør `pathways load` først.")
    st.stop()

build = ui.current_build()
st.session_state["build_id"] = build.get("build_id", "")
st.session_state["as_of"] = build.get("as_of")
options = ui.query("filter_options")
municipalities = ui.query("municipality_choices")


def sidebar_filters() -> queries.Filters:
    """The shared filters; their widget keys keep them set when moving between pages."""
    sb = st.sidebar
    sb.header("Utvalg")
    cohorts = sb.multiselect("Bosettingskull (år)", options["cohorts"], key="f_cohorts",
                             placeholder="Alle år", help="Året personen ble bosatt.")
    places = ["Hele Trøndelag"] + [f"Region: {r}" for r in municipalities["regions"]] + municipalities["names"]
    place = sb.selectbox("Kommune eller region", places, key="f_place")
    sex = sb.selectbox("Kjønn", ["Alle", "Kvinner", "Menn"], key="f_sex")
    age = sb.selectbox("Aldersgruppe ved bosetting", ["Alle", *queries.AGE_GROUPS], key="f_age")
    country = sb.selectbox("Landbakgrunn", ["Alle", *options["countries"]], key="f_country")
    reason = sb.selectbox("Innvandringsgrunn", ["Alle", *[ui.REASON.get(r, r) for r in options["reasons"]]],
                          key="f_reason")
    codes: tuple[str, ...] = ()
    if place.startswith("Region: "):
        codes = tuple(municipalities["by_region"][place.removeprefix("Region: ")])
    elif place != "Hele Trøndelag":
        codes = (municipalities["code_by_name"][place],)
    reasons = {v: k for k, v in ui.REASON.items()}
    return queries.Filters(
        cohorts=tuple(sorted(cohorts)), municipalities=codes,
        sex={"Kvinner": "K", "Menn": "M"}.get(sex), age_group=None if age == "Alle" else age,
        country=None if country == "Alle" else country, reason=None if reason == "Alle" else reasons.get(reason, reason))


st.session_state["filters"] = sidebar_filters()
st.sidebar.caption(f"Data per {build['as_of']:%d.%m.%Y} · bygg {build.get('build_id')}. "
                   "Tall under 5 vises ikke (<5).")

PAGES = [("oversikt", "Oversikt"), ("forlop", "Forløp"), ("kohort", "Kohort"), ("frafall", "Frafall"),
         ("ventetid", "Ventetid"), ("introprogram", "Introprogram"), ("datakvalitet", "Datakvalitet")]
pages = [st.Page(f"pages/{name}.py", title=title, url_path=name, default=name == "oversikt") for name, title in PAGES]
st.navigation(pages).run()
