"""Trøndelag pathways dashboard: login, navigation and the filters every page shares.

Run with `pathways dashboard --warehouse FILE --config dashboard.toml` (see README,
"Login and roles"). Reads the published warehouse read-only and shows aggregates only.

Nobody sees anything before logging in with the identity provider configured in the
`[auth]` section of the secrets that `pathways dashboard` generates; without that
configuration nobody gets in at all. What a logged-in user sees is their role's scope
(`dashboard/access.py`), enforced in every query (`dashboard/queries.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import streamlit as st

from dashboard import access as acl
from dashboard import queries, ui

st.set_page_config(page_title="Kvalifiseringsløp i Trøndelag", page_icon="🧭", layout="wide")


def _secrets() -> tuple[bool, dict]:
    """(login configured, the [pathways] settings); missing secrets mean not configured."""
    try:
        auth = st.secrets.get("auth", {})
        settings = dict(st.secrets.get("pathways", {}))
    except Exception:  # no secrets file at all
        return False, {}
    configured = bool(auth) and all(
        auth.get(k) for k in ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
    )
    return configured, settings


CONFIGURED, SETTINGS = _secrets()
DEMO = bool(SETTINGS.get("demo"))
if DEMO:
    st.warning(
        "**DEMO** – syntetiske data og testbrukere fra en lokal innloggingstjeneste. "
        "Ingen tall her gjelder virkelige personer."
    )


def _closed(title: str, body: str, logout: bool = False) -> NoReturn:
    """A page with a message and nothing else; the only page such a user can reach."""

    def page() -> None:
        st.title(title)
        st.markdown(body)
        if logout:
            st.button("Logg ut", on_click=st.logout, key="logout_closed")

    st.navigation([st.Page(page, title=title, url_path="tilgang")], position="hidden").run()
    st.stop()


if not CONFIGURED:
    _closed(
        "Kvalifiseringsløp i Trøndelag",
        "Innloggingen er ikke satt opp, så dashbordet er stengt. Ingen får tilgang uten innlogging.\n\n"
        "Driftsansvarlig: start dashbordet med `pathways dashboard --config …` (se README, "
        "«Innlogging og roller»).",
    )

if not st.user.is_logged_in:

    def login_page() -> None:
        st.title("Kvalifiseringsløp i Trøndelag")
        st.markdown(
            "Dashbordet viser tall om kvalifiseringsløp for flyktninger i Trøndelag. "
            "Logg inn med brukeren din i fylkeskommunen eller kommunen."
        )
        st.button("Logg inn", on_click=st.login, type="primary", key="login")

    st.navigation([st.Page(login_page, title="Logg inn", url_path="logg-inn")], position="hidden").run()
    st.stop()

if not ui.warehouse_path().exists():
    _closed("Kvalifiseringsløp i Trøndelag", "Fant ikke datavarehuset. Kjør `pathways load` først.", logout=True)

municipalities = ui.query_unscoped("municipality_choices")
try:
    roles = acl.load_roles(Path(SETTINGS.get("roles_file", "")))
except acl.RolesError:
    roles = {}
resolved = acl.resolve(st.user.to_dict(), roles, municipalities)
if resolved is None:
    _closed(
        "Ingen tilgang",
        "Hei! Du er logget inn, men brukeren din har ikke fått tilgang til dette dashbordet ennå.\n\n"
        "Ta kontakt med fylkeskommunens team for integrering og kvalifisering, så hjelper vi deg. "
        "Oppgi e-postadressen du logget inn med.",
        logout=True,
    )
access = resolved  # an Access from here on: _closed stops the script
st.session_state["access"] = access

build = ui.current_build()
st.session_state["build_id"] = build.get("build_id", "")
st.session_state["as_of"] = build.get("as_of")
options = ui.query_unscoped("filter_options")


def place_choices() -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The places this user may choose, each with its municipality codes."""
    everything = "Hele Trøndelag" if access.whole_county else "Hele mitt område"
    choices: dict[str, tuple[str, ...]] = {everything: ()}
    allowed = None if access.whole_county else set(access.scope)
    for region in municipalities["regions"]:
        codes = tuple(municipalities["by_region"][region])
        if allowed is None or set(codes) <= allowed:
            choices[f"Region: {region}"] = codes
    for name in municipalities["names"]:
        code = municipalities["code_by_name"][name]
        if allowed is None or code in allowed:
            choices[name] = (code,)
    return list(choices), choices


def sidebar_filters() -> queries.Filters:
    """The shared filters; their widget keys keep them set when moving between pages."""
    sb = st.sidebar
    sb.header("Utvalg")
    cohorts = sb.multiselect(
        "Bosettingskull (år)",
        options["cohorts"],
        key="f_cohorts",
        placeholder="Alle år",
        help="Året personen ble bosatt.",
    )
    names, codes_by_place = place_choices()
    if st.session_state.get("f_place") not in names:
        st.session_state.pop("f_place", None)
    place = sb.selectbox("Kommune eller region", names, key="f_place")
    sex = sb.selectbox("Kjønn", ["Alle", "Kvinner", "Menn"], key="f_sex")
    age = sb.selectbox("Aldersgruppe ved bosetting", ["Alle", *queries.AGE_GROUPS], key="f_age")
    country = sb.selectbox("Landbakgrunn", ["Alle", *options["countries"]], key="f_country")
    reason = sb.selectbox(
        "Innvandringsgrunn", ["Alle", *[ui.REASON.get(r, r) for r in options["reasons"]]], key="f_reason"
    )
    reasons = {v: k for k, v in ui.REASON.items()}
    return queries.Filters(
        scope=access.scope,
        cohorts=tuple(sorted(cohorts)),
        municipalities=codes_by_place.get(place, ()),
        sex={"Kvinner": "K", "Menn": "M"}.get(sex),
        age_group=None if age == "Alle" else age,
        country=None if country == "Alle" else country,
        reason=None if reason == "Alle" else reasons.get(reason, reason),
    )


st.session_state["filters"] = sidebar_filters()
st.sidebar.caption(
    f"Data per {build['as_of']:%d.%m.%Y}. Alle tall om personer er avrundet til et "
    "multiplum av 5. «<5»: færre enn 5 personer. «:»: andel skjult fordi et tall bak den er under 5. "
    "Se «Om tallene»."
)
st.sidebar.divider()
st.sidebar.caption(
    f"Innlogget som {access.name or 'ukjent navn'} ({acl.ROLE_LABEL[access.role]}{', demo' if DEMO else ''})"
)
st.sidebar.button("Logg ut", on_click=st.logout, key="logout")

PAGES = [
    ("oversikt", "Oversikt"),
    ("forlop", "Forløp"),
    ("kohort", "Kohort"),
    ("frafall", "Frafall"),
    ("ventetid", "Ventetid"),
    ("introprogram", "Introprogram"),
    ("mal", "Mål"),
    ("planlegging", "Planlegging"),
    ("om_tallene", "Om tallene"),
]
if access.role == "data_staff":
    PAGES += [("datakvalitet", "Datakvalitet"), ("revisjonsrapport", "Revisjonsrapport")]
if access.role == "follow_up":  # person-level: this role only, never in anyone else's menu
    PAGES.insert(0, ("oppfolging", "Oppfølging"))
pages = [
    st.Page(f"pages/{name}.py", title=title, url_path=name.replace("_", "-"), default=name == "oversikt")
    for name, title in PAGES
]
current = st.navigation(pages)
if current.url_path != "oppfolging":
    st.session_state.pop("follow_up_logged", None)  # coming back to the list is a new view
current.run()
