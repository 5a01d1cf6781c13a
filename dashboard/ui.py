"""What every page shares: the warehouse connection, cached queries, bokmål labels, and
`table`/`metric` helpers that only ever show or offer protected figures."""
from __future__ import annotations

import io
import os
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from dashboard import disclosure, queries

STAGE = {"settlement": "Bosetting", "intro": "Introprogram", "norwegian": "Norskopplæring",
         "primary": "Grunnskole for voksne", "combination": "Kombinasjonsklasse",
         "upper_secondary": "Videregående", "work_training": "Arbeidstrening", "apprenticeship": "Læretid",
         "trade_certificate": "Fagbrev", "work": "Arbeid", "dropped_out": "Frafall", "ongoing": "Pågår",
         "ended": "Avsluttet"}
END_TYPE = {"completed": "Fullført", "dropped_out": "Avbrutt", "transferred": "Overført", "ongoing": "Pågår"}
TRANSITION = {"arbeid": "Arbeid", "utdanning": "Utdanning", "arbeid_og_utdanning": "Arbeid og utdanning",
              "arbeidsledig": "Arbeidsledig", "annet": "Annet", "ikke registrert": "Ikke registrert"}
REASON = {"flukt": "Flukt", "kollektiv_beskyttelse": "Kollektiv beskyttelse", "familie": "Familie"}
SEX = {"K": "Kvinner", "M": "Menn"}
NATIONAL_GOAL = 0.70


def warehouse_path() -> Path:
    return Path(os.environ.get("PATHWAYS_WAREHOUSE", "data/demo/warehouse.duckdb")).resolve()


def current_build() -> dict:
    """The published build, read fresh on every run (cheap), so a new build shows at once."""
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        return queries.latest_build(con)


@st.cache_data(show_spinner=False, max_entries=1000)
def _cached(name: str, build_id: str, path: str, args: tuple) -> pl.DataFrame:
    with duckdb.connect(path, read_only=True) as con:
        result = getattr(queries, name)(con, *args)
    # Counts of persons leave here only as published (perturbed) values, keys dropped.
    return disclosure.publish(result) if isinstance(result, pl.DataFrame) else result


def query(name: str, *args):
    """Run a function of dashboard.queries, cached per build and arguments. Every `Filters`
    passed must carry the logged-in user's scope (a page cannot widen it)."""
    scope = st.session_state["access"].scope
    for arg in args:
        if isinstance(arg, queries.Filters) and arg.scope != scope:
            raise PermissionError("a query outside the user's scope")
    return _cached(name, st.session_state["build_id"], str(warehouse_path()), args)


def query_unscoped(name: str, *args):
    """A query that is not about persons (the place list, filter choices)."""
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        build_id = queries.latest_build(con).get("build_id", "")
    return _cached(name, build_id, str(warehouse_path()), args)


def stage_label(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).replace_strict(STAGE, default=pl.col(c)) for c in columns)


def table(frame: pl.DataFrame, name: str, counts: list[str], rename: dict[str, str] | None = None) -> None:
    """Show a protected frame with CSV and Excel downloads of exactly what is shown."""
    disclosure.assert_protected(frame, counts)
    shown = disclosure.display(frame, counts)
    if rename:
        shown = shown.rename({k: v for k, v in rename.items() if k in shown.columns})
    # What this session was offered to download, exactly (the tests read it back).
    st.session_state.setdefault("offered_downloads", {})[name] = shown
    st.dataframe(shown, hide_index=True, width="stretch")
    left, right, _ = st.columns([1, 1, 4])
    left.download_button("Last ned CSV", shown.write_csv().encode("utf-8-sig"), f"{name}.csv", "text/csv",
                         key=f"csv-{name}", on_click="ignore")  # no rerun: the page stays as it is
    buffer = io.BytesIO()
    shown.write_excel(buffer, worksheet=name[:31])
    right.download_button("Last ned Excel", buffer.getvalue(), f"{name}.xlsx",
                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"xlsx-{name}",
                          on_click="ignore")


def number(value, unit: str = "", hidden: str = disclosure.HIDDEN) -> str:
    if value is None:
        return hidden
    if isinstance(value, float):
        return f"{value:,.0f}{unit}".replace(",", " ")
    return f"{value:,}{unit}".replace(",", " ")


def percent(value) -> str:
    return disclosure.NOT_SHOWN if value is None else f"{value * 100:.0f} %"
