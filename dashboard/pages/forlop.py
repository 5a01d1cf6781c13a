"""Forløp: how people move between the stages they reached into work or out (Sankey), and
the most common pathways."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import labels, ui

NODE_ORDER = [
    "unknown_settlement",
    *[s for s in labels.STAGE if s not in ("unknown_settlement", "dropped_out", "ongoing", "ended")],
    "ended",
    "ongoing",
    "dropped_out",
]


def render(filters) -> None:
    st.title("Forløp")
    ui.freshness_notes("forlop")
    st.caption(
        "Trinnene hver person har vært på, i rekkefølgen fra bosetting til arbeid, og hvordan det siste "
        "trinnet endte. Hver person telles én gang per trinn. Tallet ved hvert trinn er antall personer "
        "som har vært på trinnet (det samme som på Kohort for personer med kjent bosetting); personer "
        "uten registrert bosetting starter i «Ukjent bosetting». Kommunefilteret gjelder "
        "bosettingskommunen."
    )
    flows = ui.query("flows", filters)
    if flows.height == 0:
        st.info(ui.SMALL)
        return
    node_frame = ui.query("flow_nodes", filters)
    nodes_count = dict(zip(node_frame["node"], node_frame["persons"], strict=True))
    visible = flows.filter(pl.col("persons").is_not_null()).sort("source", "target")
    nodes = sorted(
        set(visible["source"]) | set(visible["target"]), key=lambda s: NODE_ORDER.index(s) if s in NODE_ORDER else 99
    )
    index = {n: i for i, n in enumerate(nodes)}
    node_labels = [f"{labels.STAGE.get(n, n)}: {ui.number(nodes_count.get(n))}" for n in nodes]
    colours = [labels.STAGE_COLOR.get(n, "#999999") for n in nodes]
    fig = go.Figure(
        go.Sankey(
            valueformat=",d",
            node={
                "label": node_labels,
                "pad": 18,
                "color": colours,
                "hovertemplate": "%{label} personer<extra></extra>",
            },
            link={
                "source": [index[s] for s in visible["source"]],
                "target": [index[t] for t in visible["target"]],
                "value": visible["persons"].to_list(),
                "color": [_fade(labels.STAGE_COLOR.get(s, "#999999")) for s in visible["source"]],
                "customdata": [
                    f"{labels.STAGE.get(s, s)} → {labels.STAGE.get(t, t)}"
                    for s, t in zip(visible["source"], visible["target"], strict=True)
                ],
                "hovertemplate": "%{customdata}: %{value} personer<extra></extra>",
            },
        )
    )
    fig.update_layout(height=560)
    ui.chart(labels.style(fig), visible.height)
    st.caption(
        "«Uten nytt trinn»: personer som fullførte det siste trinnet sitt eller flyttet, og ikke er "
        "registrert på noe trinn etter det – også bosatte som aldri startet på et trinn (for eksempel barn "
        "og eldre). «Pågår fortsatt»: det siste trinnet pågår. «Avbrøt siste trinn»: personer som avbrøt det siste trinnet "
        "sitt – ikke alle som har avbrutt et trinn (se Frafall, som også teller dem som gikk videre). "
        "Strømmer under 5 personer er utelatt fra figuren, så en boks kan se litt mindre ut enn tallet "
        "sitt."
    )
    ordered = (
        node_frame.with_columns(
            pl.col("node").replace_strict({n: i for i, n in enumerate(NODE_ORDER)}, default=99).alias("o")
        )
        .sort("o")
        .drop("o")
    )
    ui.table(
        ui.stage_label(ordered, "node"),
        "forlop_trinn",
        ["persons"],
        {"node": "Trinn", "persons": "Personer"},
        note="Personer som har vært på hvert trinn (tallene i figuren).",
    )
    ui.table(
        ui.stage_label(flows, "source", "target"),
        "forlop_strommer",
        ["persons"],
        {"source": "Fra", "target": "Til", "persons": "Personer"},
    )

    st.subheader("Vanligste forløp")
    st.caption("Trinnene i den rekkefølgen personen startet dem. Personer per forløp, de 15 vanligste.")
    variants = ui.query("pathway_variants", filters)
    variants = (
        variants.filter(pl.col("persons").is_not_null()).sort(["persons", "variant"], descending=[True, False]).head(15)
    ).with_columns(
        pl.col("variant").map_elements(
            lambda v: " → ".join(labels.STAGE.get(s, s) for s in v.split(" → ")), return_dtype=pl.String
        )
    )
    if variants.height:
        ui.table(variants, "forlop_varianter", ["persons"], {"variant": "Forløp", "persons": "Personer"})
    else:
        st.info(ui.SMALL)


def _fade(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.45)"


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
