"""Fast page tests with Streamlit's AppTest: every page renders, and on a small group
nothing shown or offered for download is a count of 1–4."""
from __future__ import annotations

import os

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

APP = str(__import__("pathlib").Path(__file__).parent.parent / "dashboard" / "app.py")
PAGES = ["oversikt", "forlop", "kohort", "frafall", "ventetid", "introprogram", "datakvalitet"]
COUNT_WORDS = ("persons", "Personer", "Søkere", "Totalt", "I arbeid", "Ventet over", "Fullført", "Avbrutt",
               "Overført", "Pågår")


@pytest.fixture(scope="module")
def app_env(loaded):
    _, warehouse = loaded
    os.environ["PATHWAYS_WAREHOUSE"] = str(warehouse)
    yield


def _open(page: str, place: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if place:  # the shared filter, as if chosen in the sidebar before opening the page
        at.session_state["f_place"] = place
    at.run()
    if page != "oversikt":
        at.switch_page(f"pages/{page}.py")
        at.run()
    return at


def _small_counts(frame: pl.DataFrame) -> list[tuple[str, str]]:
    bad = []
    for column in frame.columns:
        if not any(w.lower() in column.lower() for w in COUNT_WORDS) and not column.endswith(("mnd", "år")):
            continue
        for value in frame[column].cast(pl.String).to_list():
            if value is not None and value.isdigit() and 1 <= int(value) <= 4:
                bad.append((column, value))
    return bad


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exceptions(app_env, page):
    at = _open(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value


@pytest.mark.parametrize("page", [p for p in PAGES if p != "datakvalitet"])
def test_small_groups_are_hidden_on_screen_and_in_downloads(app_env, page):
    at = _open(page, place="Region: Gauldal og Røros")  # a small region: many groups under 5
    assert not at.exception, [e.value for e in at.exception]
    assert set(at.session_state["filters"].municipalities) == {"5025", "5026", "5027"}
    offered = at.session_state["offered_downloads"] if "offered_downloads" in at.session_state else {}
    assert offered, "every page offers its tables for download"
    hidden_somewhere = False
    for name, frame in offered.items():
        assert _small_counts(frame) == [], name
        hidden_somewhere |= any("<5" in str(v) for c in frame.columns for v in frame[c].to_list())
    for df in at.dataframe:
        shown = pl.from_pandas(df.value) if not isinstance(df.value, pl.DataFrame) else df.value
        assert _small_counts(shown) == []
    for metric in at.metric:
        value = metric.value.replace(" ", "")
        assert not (value.isdigit() and 1 <= int(value) <= 4), metric.label
    if page in ("frafall", "introprogram", "kohort", "ventetid"):
        assert hidden_somewhere, "a small region must show some hidden cells"
