"""Oppfølging: the follow-up list for the follow-up service (issue 15), persons by pseudonym.

Who is on it and why is decided in the warehouse (`marts.follow_up`); this page shows the
part of it in the user's municipalities, and records every view and download in the
access log (dashboard/access_log.py) before anything is shown. Only the follow-up role
has the page in its menu, and the page itself refuses every other role (a typed address
ends here). The agency that holds the pseudonymisation key re-identifies in its own
systems: the dashboard never holds a name or a national identity number.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import access_log, labels, ui

REASON = {"dropped_out": "Avbrøt", "no_next_step": "Ingen ny aktivitet", "long_wait": "Venter på skoleplass"}
COLUMNS = {
    "pseudonym": "Pseudonym",
    "reason": "Hvorfor på listen",
    "stage": "Trinn",
    "event_date": "Dato",
    "detail": "Årsak eller resultat",
    "municipality_name": "Kommune",
    "school_name": "Skole",
    "days_since": "Dager siden",
    "listed_from": "På listen fra",
}
VIEWED = "follow_up_logged"  # the view already logged in this visit of the page (app.py clears it)


def _who() -> str:
    try:
        user = st.user.to_dict()
    except Exception:  # AppTest and old Streamlit: the access object's name
        user = {}
    return str(
        user.get("email")
        or user.get("preferred_username")
        or (f"sub:{user['sub']}" if user.get("sub") else "")
        or st.session_state["access"].name
    )


def _log(action: str, persons: int, shown: tuple[str, ...]) -> None:
    access = st.session_state["access"]
    access_log.append(_who(), access.role, shown, action, persons, st.session_state.get("build_id", ""))


def _shown(frame: pl.DataFrame) -> pl.DataFrame:
    detail = frame["detail"].to_list()
    return frame.with_columns(
        pl.col("reason").replace_strict(REASON, default=pl.col("reason")),
        pl.col("stage").replace_strict(labels.STAGE, default=pl.col("stage")),
        pl.Series("detail", [labels.DROPOUT_REASON.get(d, d) if d else "" for d in detail], dtype=pl.String),
        pl.col("school_name").fill_null(""),
    ).rename(COLUMNS)


def render(filters) -> None:
    access = st.session_state["access"]
    if access.role != "follow_up":  # not in this user's menu; a typed address ends here
        st.error("Denne siden er bare for oppfølgingstjenesten.")
        st.stop()
    st.title("Oppfølging")
    ui.freshness_notes("oppfolging")
    st.caption(
        "Personer i kommunene dine som kan ha falt mellom to stoler: de som har avbrutt et trinn, de som "
        "har avsluttet et trinn uten å ha begynt på noe nytt, og de som har ventet lenge på skoleplass. "
        "Personene vises med pseudonym; den som har nøkkelen finner dem igjen i egne systemer. Hver visning "
        "og nedlasting av listen blir logget."
    )
    reasons = st.multiselect(
        "Vis",
        list(REASON),
        format_func=lambda code: REASON.get(code, code),
        key="fu_reasons",
        placeholder="Alle grunner",
    )
    # the sidebar's municipality or region narrows the list (never widens it: the query
    # keeps the role's scope); the log names what was shown
    places = tuple(c for c in filters.municipalities if c in access.scope)
    shown_scope = places or access.scope
    frame = ui.query_person_level("follow_up_list", access.role, access.scope, tuple(sorted(reasons)), places)
    marker = (st.session_state.get("build_id"), shown_scope, tuple(sorted(reasons)))
    if st.session_state.get(VIEWED) != marker:  # logged before it is shown
        _log("view", frame.height, shown_scope)
        st.session_state[VIEWED] = marker
    cols = st.columns(3)
    for col, (code, title) in zip(cols, REASON.items(), strict=True):
        col.metric(title, labels.integer(frame.filter(pl.col("reason") == code).height))
    if frame.height == 0:
        st.info("Ingen personer på listen i utvalget.")
        return
    shown = _shown(frame)
    st.dataframe(shown, hide_index=True, width="stretch")
    st.download_button(
        "Last ned listen (CSV)",
        ui.csv_bytes(ui._render(shown, set(), set(), False)),
        "oppfolgingsliste.csv",
        "text/csv",
        key="fu_download",
        on_click=_log,
        args=("download", frame.height, shown_scope),
    )


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
