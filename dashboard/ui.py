"""What every page shares: the warehouse connection, cached queries, bokmål labels, and
`table`/`chart` helpers that only ever show or offer protected figures, in Norwegian.

Markers (the same on every page, explained under every table that has one):
- "<5": a count of fewer than 5 persons (0 included), hidden;
- ":" : a share hidden because a count behind it is under 5 (it would reveal that count);
- an empty cell: a median or percentile of a group too small to show (said in a sentence).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from typing import cast

import duckdb
import polars as pl
import streamlit as st

from dashboard import disclosure, labels, queries

STAGE = labels.STAGE
END_TYPE = labels.END_TYPE
TRANSITION = labels.TRANSITION
REASON = labels.IMMIGRATION_REASON
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


def query_person_level(name: str, role: str, scope: tuple[str, ...], *args):
    """A person-level query (the follow-up list): never cached, never through disclosure
    control (it is not an aggregate), and only with the logged-in user's own role and scope."""
    access = st.session_state["access"]
    if role != access.role or scope != access.scope:
        raise PermissionError("a person-level query outside the user's role or scope")
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        return getattr(queries, name)(con, role, scope, *args)


def freshness_notes(page: str) -> None:
    """A warning for every overdue delivery that feeds this page's figures, within the
    user's scope: «Tall fra Steinkjer mangler siden 3. oktober 2026 …». A missing delivery
    must never look like a drop-out without a warning beside it (issue 15)."""
    from flows.alerts import Overdue

    scope = st.session_state["access"].scope
    args = (scope, queries.PAGE_SOURCES.get(page, queries.ALL_SOURCES))
    found: object = _cached("overdue_deliveries", st.session_state["build_id"], str(warehouse_path()), args)
    notes = cast(list[dict], found)  # a list of dicts (not a frame): _cached passes it through
    for note in notes:
        st.warning(
            f"{Overdue(**note).sentence()}. Tallene herfra kan derfor være for lave, og personer kan se ut "
            "som de har falt fra uten å ha gjort det.",
            icon="⚠️",
        )


def stage_label(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).replace_strict(STAGE, default=pl.col(c)) for c in columns)


SMALL = "For få personer til å vise dette – velg flere år, en region eller færre filtre."


def _plain(column: str) -> bool:
    """Years and row numbers are written without a thousands separator."""
    return column.lower().endswith("år") or column.lower() in ("kull", "rad", "year", "end_year", "cohort_year")


def _is_statistic(column: str) -> bool:
    return column.startswith(("median", "p90"))


def _cell(value, column: str, counts: set, shares: set, for_screen: bool):
    """One value as shown (screen) or written (CSV): markers for hidden values, Norwegian
    numbers and dates."""
    if value is None:
        if column in counts:
            return disclosure.HIDDEN
        if column in shares:
            return disclosure.PROTECTED
        return ""
    if isinstance(value, bool):
        return "Ja" if value else "Nei"
    if isinstance(value, (dt.date, dt.datetime)):
        return labels.date(value)
    if isinstance(value, float):
        if value.is_integer():
            value = int(value)
        else:
            return labels.decimal(value, 1)
    if isinstance(value, int):
        return labels.integer(value) if for_screen and not _plain(column) else str(value)
    return str(value)


def _render(frame: pl.DataFrame, counts: set, shares: set, for_screen: bool) -> pl.DataFrame:
    return pl.DataFrame(
        {c: [_cell(v, c, counts, shares, for_screen) for v in frame[c].to_list()] for c in frame.columns},
        schema=dict.fromkeys(frame.columns, pl.String),
    )


def excel_bytes(frame: pl.DataFrame, sheet: str, counts: set, shares: set) -> bytes:
    """An Excel sheet with numbers as numbers, dates as dates, and the markers as text."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet_ = book.add_worksheet(sheet[:31])
    bold = book.add_format({"bold": True})
    date_format = book.add_format({"num_format": "dd.mm.yyyy"})
    for j, column in enumerate(frame.columns):
        sheet_.write_string(0, j, column, bold)
        sheet_.set_column(j, j, max(10, min(60, len(column) + 2)))
        for i, value in enumerate(frame[column].to_list(), start=1):
            if value is None or isinstance(value, bool):
                sheet_.write_string(i, j, _cell(value, column, counts, shares, False))
            elif isinstance(value, (int, float)):
                sheet_.write_number(i, j, value)
            elif isinstance(value, dt.datetime):
                sheet_.write_datetime(i, j, value.replace(tzinfo=None), date_format)
            elif isinstance(value, dt.date):
                sheet_.write_datetime(i, j, dt.datetime.combine(value, dt.time()), date_format)
            else:
                sheet_.write_string(i, j, str(value))
    book.close()
    return buffer.getvalue()


# A text cell Excel would run as a formula (=, +, -, @, tab, CR first): the user claims,
# file names and school names in a download come from outside. A number ("-3", "-1,5") is not one.
FORMULA = r"^[=+\-@\t\r]"
NUMBER = r"^-?[0-9][0-9 \u00a0.,]*%?$"


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV as Norwegian Excel reads it: `;` between fields, decimal comma, UTF-8 with BOM; a
    text cell that Excel would take for a formula is written with a leading apostrophe."""
    blanks = frame.with_columns(
        pl.when(pl.col(c) == "")
        .then(None)
        .when(pl.col(c).str.contains(FORMULA) & ~pl.col(c).str.contains(NUMBER))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, t in frame.schema.items()
        if t == pl.String
    )
    return blanks.write_csv(separator=";").encode("utf-8-sig")


def table(
    frame: pl.DataFrame,
    name: str,
    counts: list[str],
    rename: dict[str, str] | None = None,
    shares: list[str] | tuple[str, ...] = (),
    note: str | None = None,
) -> None:
    """Show a protected frame with CSV and Excel downloads of exactly what is shown.
    `counts` are counts of persons (hidden → "<5"), `shares` shares or percentages (hidden →
    ":"); a hidden median or percentile is an empty cell, explained under the table."""
    disclosure.assert_protected(frame, counts)
    rename = {k: v for k, v in (rename or {}).items() if k in frame.columns}
    counts_, shares_ = {rename.get(c, c) for c in counts}, {rename.get(c, c) for c in shares}
    named = frame.rename(rename)
    shown = _render(named, counts_, shares_, for_screen=False)
    # What this session was offered to download, exactly (the tests read it back).
    st.session_state.setdefault("offered_downloads", {})[name] = shown
    st.dataframe(_render(named, counts_, shares_, for_screen=True), hide_index=True, width="stretch")
    legend = []
    if any(named[c].null_count() for c in counts_ if c in named.columns):
        legend.append(f"«{disclosure.HIDDEN}»: færre enn 5 personer.")
    if any(named[c].null_count() for c in shares_ if c in named.columns):
        legend.append(f"«{disclosure.PROTECTED}»: andelen vises ikke fordi et av tallene bak den er under 5.")
    if any(named[c].null_count() for c in named.columns if _is_statistic(c) or "edian" in c or "persentil" in c):
        legend.append(
            "Tom celle: medianen vises bare for grupper på minst 5 personer, 90-persentilen for grupper på minst 10."
        )
    if note:
        legend.insert(0, note)
    if legend:
        st.caption(" ".join(legend))
    row = st.container(horizontal=True)
    row.download_button(
        "Last ned CSV", csv_bytes(shown), f"{name}.csv", "text/csv", key=f"csv-{name}", on_click="ignore"
    )  # no rerun: the page stays as it is
    row.download_button(
        "Last ned Excel",
        excel_bytes(named, name, counts_, shares_),
        f"{name}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"xlsx-{name}",
        on_click="ignore",
    )


def chart(fig, visible_values: int = 1) -> None:
    """A Plotly chart in Norwegian, or the sentence about too few persons when nothing in it
    could be shown (never an empty chart with axes from −1 to 1)."""
    if visible_values <= 0:
        st.info(SMALL)
        return
    st.plotly_chart(fig, width="stretch", config=labels.PLOTLY_CONFIG)


def number(value, unit: str = "", hidden: str = disclosure.HIDDEN) -> str:
    if value is None:
        return hidden
    return f"{labels.integer(value)}{unit}"


def percent(value) -> str:
    return disclosure.PROTECTED if value is None else labels.percent(value)
