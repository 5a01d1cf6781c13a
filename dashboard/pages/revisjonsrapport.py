"""Revisjonsrapport: the audit report (Great Expectations Data Docs) of every build, served
by the dashboard behind its login, styles bundled (see dashboard/datadocs.py)."""

from __future__ import annotations

import polars as pl
import streamlit as st
import streamlit.components.v1 as components

from dashboard import datadocs, labels, ui

SUITE = {
    "core__event": "Hendelser (core.event)",
    "core__person": "Personer (core.person)",
    "audit__file_log": "Filer (audit.file_log)",
}


def _suite(name: str) -> str:
    return SUITE.get(name, name.replace("__", "."))


def render(filters) -> None:
    role = st.session_state["access"].role
    if role != "data_staff":  # the page is not in this user's menu; a typed address ends here
        st.error("Denne siden er bare for datateamet.")
        st.stop()
    st.title("Revisjonsrapport")
    st.caption(
        "Hvert bygg av datavarehuset kontrolleres (Great Expectations) før det publiseres. Her er "
        "kontrollene for hvert bygg og hver tabell. Selve rapporten er på engelsk."
    )
    warehouse = ui.warehouse_path()
    builds = datadocs.builds(warehouse, ui.query("recent_builds", role, 1000).to_dicts())
    with_pages = [b for b in builds if b["pages"]]
    if not with_pages:
        st.warning("Fant ingen revisjonsrapport ved siden av datavarehuset (mappen data_docs).")
        return
    overview = pl.DataFrame(
        [
            {
                "Bygg": b["build_id"],
                "Ferdig": labels.moment(b["finished_at"]) or "ikke publisert",
                "Data per": labels.date(b["as_of"]),
                "Tabeller kontrollert": b["pages"],
                "Kontroller som feilet": b["failed"],
            }
            for b in builds
        ]
    )
    ui.table(
        overview,
        "revisjonsrapport_bygg",
        [],
        note="Alle bygg med rapport på disk, nyeste først. Bygg som ikke ble publisert står som «ikke publisert».",
    )
    names = {
        b["build_id"]: f"{b['build_id']} – {labels.moment(b['finished_at']) or 'ikke publisert'}" for b in with_pages
    }
    build_id = st.selectbox("Bygg", list(names), format_func=names.__getitem__, key="dd_build")
    # failed checks first, then the published tables (core, marts) before the audit tables
    pages = sorted(
        (p for p in datadocs.pages(warehouse) if p.build_id == build_id),
        key=lambda p: (p.success is not False, p.suite.startswith("audit"), p.suite),
    )
    status = {True: "✔ bestått", False: "✘ feilet", None: "ukjent"}
    page = st.selectbox(
        "Tabell", pages, key=f"dd_page_{build_id}", format_func=lambda p: f"{_suite(p.suite)} – {status[p.success]}"
    )
    components.html(datadocs.self_contained(page, warehouse), height=900, scrolling=True)


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
