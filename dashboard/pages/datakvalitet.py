"""Datakvalitet: for data staff — builds, files loaded and refused, and the audit report."""
from __future__ import annotations

import streamlit as st

from dashboard import ui


def render(filters) -> None:
    role = st.session_state["access"].role
    if role != "data_staff":  # the page is not in this user's menu; a typed address ends here
        st.error("Denne siden er bare for datateamet.")
        st.stop()
    st.title("Datakvalitet")
    st.caption("Tallene her gjelder filer og rader, ikke personer. Detaljer per rad finnes i tabellen "
               "audit.quarantine i datavarehuset.")
    st.subheader("Siste bygg")
    st.dataframe(ui.query("recent_builds", role), hide_index=True, width="stretch")
    st.subheader("Filer per kilde og status")
    st.dataframe(ui.query("files_by_status", role), hide_index=True, width="stretch")
    st.subheader("Avviste filer")
    st.dataframe(ui.query("refused_files", role), hide_index=True, width="stretch")
    st.subheader("Annet i mottaksområdet ved siste innlasting")
    st.caption("Lenker og spesialfiler (avvist), filer som fortsatt skrives (venter til neste innlasting), "
               "og mapper eller filer utenfor kildemappene (ikke lest).")
    st.dataframe(ui.query("landing_anomalies", role), hide_index=True, width="stretch")
    st.subheader("Avviste rader per regel")
    st.dataframe(ui.query("quarantine_by_rule", role), hide_index=True, width="stretch")
    docs = ui.warehouse_path().parent / "data_docs" / "index.html"
    st.subheader("Revisjonsrapport (Great Expectations Data Docs)")
    if docs.exists():
        st.markdown(f"Rapporten for hvert bygg: [{docs}](file://{docs}) — åpne filen i en nettleser på "
                    "maskinen der datavarehuset ligger.")
    else:
        st.warning("Fant ingen revisjonsrapport ved siden av datavarehuset.")


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
