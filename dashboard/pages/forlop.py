"""Forløp: how people move between stages into work or out (Sankey), and the most common pathways."""
from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import ui


def render(filters) -> None:
    st.title("Forløp")
    st.caption("Trinnene hver person har vært på, i stigens rekkefølge fra bosetting til arbeid, og hvordan "
               "forløpet endte. Strømmer under 5 personer vises ikke, og heller ikke strømmer som ville la dem "
               "regnes ut.")
    flows = ui.query("flows", filters)
    if flows.height == 0:
        st.info("Ingen forløp i utvalget.")
        return
    visible = flows.filter(pl.col("persons").is_not_null() & (pl.col("persons") > 0)).sort("source", "target")
    nodes = sorted(set(visible["source"]) | set(visible["target"]), key=lambda s: list(ui.STAGE).index(s)
                   if s in ui.STAGE else 99)
    index = {n: i for i, n in enumerate(nodes)}
    fig = go.Figure(go.Sankey(
        node={"label": [ui.STAGE.get(n, n) for n in nodes], "pad": 18},
        link={"source": [index[s] for s in visible["source"]], "target": [index[t] for t in visible["target"]],
              "value": visible["persons"].to_list()}))
    fig.update_layout(height=520, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(fig, width="stretch")
    ui.table(ui.stage_label(visible, "source", "target"), "forlop_strommer", ["persons"],
             {"source": "Fra", "target": "Til", "persons": "Personer"})

    st.subheader("Vanligste forløp")
    variants = ui.query("pathway_variants", filters)
    variants = (variants.filter(pl.col("persons").is_not_null() & (pl.col("persons") > 0))
                .sort(["persons", "variant"], descending=[True, False]).head(15)).with_columns(
        pl.col("variant").map_elements(lambda v: " → ".join(ui.STAGE.get(s, s) for s in v.split(" → ")),
                                       return_dtype=pl.String))
    ui.table(variants, "forlop_varianter", ["persons"], {"variant": "Forløp", "persons": "Personer"})


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
