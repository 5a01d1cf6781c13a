"""Bokmål for everything the dashboard shows: labels for every code in the warehouse,
one fixed colour per stage, Norwegian numbers and dates, and Plotly's Norwegian setup.

No Streamlit here, so the tests use the same functions the pages do (e.g. to check that no
raw code is left on a page).
"""

from __future__ import annotations

import datetime as dt
import math

STAGE = {
    "settlement": "Bosetting",
    "intro": "Introprogram",
    "norwegian": "Norskopplæring",
    "primary": "Grunnskole for voksne",
    "combination": "Kombinasjonsklasse",
    "upper_secondary": "Videregående",
    "work_training": "Arbeidstrening",
    "apprenticeship": "Læretid",
    "trade_certificate": "Fagbrev",
    "work": "Arbeid",
    # the Sankey's start and end nodes
    "unknown_settlement": "Ukjent bosetting",
    "dropped_out": "Avbrøt siste trinn",
    "ongoing": "Pågår fortsatt",
    "ended": "Uten nytt trinn",
}
# One colour per stage, the same on every page (colour-blind safe: Okabe–Ito plus greys).
STAGE_COLOR = {
    "settlement": "#999999",
    "intro": "#E69F00",
    "norwegian": "#56B4E9",
    "primary": "#009E73",
    "combination": "#F0E442",
    "upper_secondary": "#0072B2",
    "work_training": "#D55E00",
    "apprenticeship": "#CC79A7",
    "trade_certificate": "#882255",
    "work": "#117733",
    "unknown_settlement": "#DDDDDD",
    "dropped_out": "#444444",
    "ongoing": "#BBBBBB",
    "ended": "#88CCEE",
}
END_TYPE = {"completed": "Fullført", "dropped_out": "Avbrutt", "transferred": "Overført", "ongoing": "Pågår"}
TRANSITION = {
    "arbeid": "Arbeid",
    "utdanning": "Utdanning",
    "arbeid_og_utdanning": "Arbeid og utdanning",
    "arbeidsledig": "Arbeidsledig",
    "annet": "Annet",
    "ikke registrert": "Ikke registrert",
}
IMMIGRATION_REASON = {"flukt": "Flukt", "kollektiv_beskyttelse": "Kollektiv beskyttelse", "familie": "Familie"}
# Drop-out reasons, harmonised across sources (intro `detalj`, Trøndelag model `reason`).
DROPOUT_REASON = {
    "arbeid": "Fikk arbeid",
    "utdanning": "Begynte på utdanning",
    "helse": "Helse",
    "health": "Helse",
    "eget_onske": "Eget ønske",
    "no_contact": "Mistet kontakten",
    "annet": "Annet",
    "other": "Annet",
    "moved": "Flyttet",
    "flyttet": "Flyttet",
    "ikke oppgitt": "Ikke oppgitt",
}
WAIT_STATUS = {"started": "Startet", "waiting": "Venter", "withdrawn": "Trukket"}
# Udir's education programmes (vocational and general), by name.
PROGRAMME = {
    "BA": "Bygg- og anleggsteknikk",
    "EL": "Elektro og datateknologi",
    "FD": "Frisør, blomster, interiør og eksponeringsdesign",
    "HS": "Helse- og oppvekstfag",
    "IM": "Informasjonsteknologi og medieproduksjon",
    "NA": "Naturbruk",
    "RM": "Restaurant- og matfag",
    "SR": "Salg, service og reiseliv",
    "TP": "Teknologi- og industrifag",
    "ST": "Studiespesialisering",
    "–": "–",
}
SOURCE = {
    "intro": "Introprogrammet (kommunene)",
    "adult_education": "Voksenopplæringen",
    "combination_classes": "Kombinasjonsklasser (skolene)",
    "trondelag_model": "Trøndelagsmodellen",
    "settlement_plan": "Bosettingsplaner",
}
FILE_STATUS = {
    "loaded": "Lastet inn",
    "quarantined": "Avvist",
    "privacy_incident": "Avvist: personnummer",
    "superseded": "Erstattet av nyere fil",
}
RUN_OUTCOME = {
    "published": "Publisert",
    "published_with_files_refused": "Publisert, men filer avvist",
    "audit_failed": "Avvist av kontrollene – ikke publisert",
    "crashed": "Stoppet med feil – ikke publisert",
}
LANDING_KIND = {
    "symlink": "Lenke",
    "special_file": "Spesialfil",
    "subfolder": "Undermappe",
    "temporary_file": "Midlertidig fil",
    "hidden_file": "Skjult fil",
    "still_writing": "Fil som skrives",
    "miscased_folder": "Mappe med feil store/små bokstaver",
    "unknown_folder": "Ukjent mappe",
    "root_file": "Fil utenfor kildemappene",
}
LANDING_ACTION = {"refused": "Avvist", "waiting": "Venter til neste innlasting", "ignored": "Ikke lest"}
# Quarantine rules: what went wrong, in bokmål, and what to do about it.
RULE = {
    "date_after_delivery": (
        "Dato etter leveringsdatoen i filnavnet",
        "Rett datoen hos kilden, eller sjekk at filnavnet har riktig leveringsdato, og lever filen på nytt.",
    ),
    "date_range": ("Dato utenfor gyldig periode", "Rett datoen hos kilden og lever på nytt."),
    "date_format": ("Dato i ukjent format", "Be kilden bruke formatet ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ."),
    "date_order": ("Datoene kommer i feil rekkefølge", "Sjekk start- og sluttdato hos kilden."),
    "country_code": ("Ukjent landkode", "Landbakgrunn skal være en tre-bokstavs landkode (ISO 3166)."),
    "detail_for_event": ("Detalj passer ikke til hendelsen", "Sjekk kodelisten for hendelsen hos kilden."),
    "municipality_code": ("Ukjent kommunenummer", "Bruk kommunenummer fra 2024 (fire sifre)."),
    "missing_columns": ("Kolonner mangler", "Be kilden levere filen med alle kolonnene i kontrakten."),
    "encoding": ("Tegnsettet kan ikke leses", "Be kilden lagre filen som UTF-8."),
    "national_id": (
        "Fødselsnummer funnet",
        "Personvernavvik: meld avviket, slett filen fra mottaket og be kilden levere en ny fil med pseudonymer.",
    ),
    "file_name": ("Filnavnet følger ikke kontrakten", "Gi filen riktig navn og legg den i mottaket på nytt."),
    "code_in_set": ("Ukjent kode", "Sjekk kodelisten i kilde-kontrakten."),
    "result_for_level": ("Resultatet passer ikke til nivået", "Sjekk nivå og resultat hos kilden."),
    "unreadable": ("Filen kan ikke leses (skadet eller feil filtype)", "Be kilden levere filen på nytt."),
    "required": ("Påkrevd verdi mangler", "Fyll inn verdien hos kilden og lever på nytt."),
    "required_value": ("Påkrevd verdi mangler", "Fyll inn verdien hos kilden og lever på nytt."),
    "pid_format": (
        "Pseudonymet har feil format",
        "Pseudonymet skal være 64 heksadesimale tegn; sjekk pseudonymiseringen hos kilden.",
    ),
    "age_range": ("Alder utenfor gyldig område", "Sjekk fødselsåret hos kilden."),
    "json_syntax": ("Ugyldig JSON", "Be kilden levere filen på nytt (avbrutt eksport?)."),
    "short_row": (
        "Raden mangler felt",
        "Raden har færre felt enn overskriften (avbrutt eksport?): be kilden levere hele raden på nytt.",
    ),
    "uuid_format": ("Saksnummeret har feil format", "Sjekk eksporten fra Trøndelagsmodellen."),
    "orgnr": ("Ukjent organisasjonsnummer", "Sjekk skolens organisasjonsnummer (ni sifre)."),
    "duplicate": ("Dobbel rad", "Ingen handling nødvendig: raden er telt én gang."),
    "birth_year_range": ("Fødselsår utenfor gyldig område", "Sjekk fødselsåret hos kilden."),
    "integer_format": ("Ikke et heltall", "Skriv antallet som et helt tall uten mellomrom eller komma."),
    "not_negative": ("Negativt tall", "Antallet kan ikke være negativt: rett tallet og lever på nytt."),
    "year_range": ("Ugyldig år", "Året skal ha fire sifre og være 2015 eller senere."),
    "minors_within_decided": (
        "Flere enslige mindreårige enn vedtatt",
        "Herav enslige mindreårige kan ikke være større enn vedtatt, og skal være tomt til vedtaket er fattet.",
    ),
    "plan_key_unique": (
        "Kommune og år står to ganger",
        "Samme kommune og år står to ganger i filen med ulike tall: lever filen på nytt med én rad per kommune og år.",
    ),
    "status_dates": ("Status og datoer passer ikke sammen", "Sjekk status og datoer i elevlisten hos skolen."),
    "unexpected_value": ("Uventet verdi", "Sjekk verdien mot kilde-kontrakten."),
    "case_id_unique": ("Saksnummeret finnes flere ganger", "Sjekk eksporten fra Trøndelagsmodellen."),
    "too_many_columns": ("For mange kolonner", "Be kilden levere filen med kolonnene i kontrakten."),
    "too_deep": ("JSON-filen er for dypt nestet", "Be kilden levere filen på nytt i kontraktens format."),
    "year_format": ("Skoleåret i filnavnet har feil format", "Skriv skoleåret som ÅÅÅÅ-ÅÅÅÅ i filnavnet."),
    "schema": ("Filen følger ikke kontrakten", "Sjekk kolonnenavn og datatyper mot kilde-kontrakten."),
    "file_changed": ("Filen ble endret mens den ble lest", "Ingen handling: filen leses på nytt ved neste innlasting."),
    "duplicate_columns": ("Samme kolonne flere ganger", "Be kilden levere filen med hver kolonne én gang."),
    "delivery_date_in_future": (
        "Leveringsdato i framtiden",
        "Rett datoen i filnavnet og legg filen i mottaket på nytt.",
    ),
    "not_nullable": ("Påkrevd verdi mangler", "Fyll inn verdien hos kilden og lever på nytt."),
}
MONTH = [
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
]
# Words that must never appear on a page (raw codes and English), used by the tests.
FORBIDDEN_WORDS = [
    "eget_onske",
    "no_contact",
    "health",
    "privacy_incident",
    "quarantined",
    "superseded",
    "dropped_out",
    "upper_secondary",
    "work_training",
    "trondelag_model",
    "adult_education",
    "combination_classes",
    "audit_failed",
    "published",
    "crashed",
    "waiting",
    "started",
    "withdrawn",
    "completed",
    "ongoing",
    "transferred",
    "settlement",
    "None",
    "NaN",
    "null",
    "January",
    "February",
    "March",
    "April",
    "June",
    "July",
    "October",
    "December",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
    "Completed",
    "unknown_settlement",
]


def label(mapping: dict, value):
    """A code's label; an unknown code is shown as itself (never silently dropped)."""
    return mapping.get(value, value) if value is not None else None


CRASHED_AFTER_PUBLISHING = "Stoppet med feil etter publisering – den nye versjonen er publisert"


def run_outcome(record: dict) -> str | None:
    """A load attempt's result in words. A load that stopped after it published (a step
    after the rename failed, e.g. the follow-up alert) is `crashed` with `published: true`
    in load_runs.jsonl: its figures are out, so it must not read "not published"."""
    if record.get("outcome") == "crashed" and record.get("published"):
        return CRASHED_AFTER_PUBLISHING
    return label(RUN_OUTCOME, record.get("outcome"))


def rule_label(rule: str | None) -> str:
    return RULE.get(rule or "", (rule or "Ukjent regel", ""))[0]


def rule_action(rule: str | None) -> str:
    return RULE.get(rule or "", ("", "Se den tekniske meldingen; spør datateamet."))[1]


# -- numbers and dates ----------------------------------------------------------------------------
THIN = "\u00a0"  # a no-break space between thousands, as Norwegian typography wants


def integer(value) -> str:
    """12345 → '12 345'."""
    return f"{int(round(value)):,}".replace(",", THIN)


def decimal(value, digits: int = 1) -> str:
    """3.25 → '3,3' (decimal comma)."""
    return f"{value:,.{digits}f}".replace(",", "§").replace(".", ",").replace("§", THIN)


def percent(share, digits: int = 0) -> str:
    """0.734 → '73 %'."""
    return f"{decimal(share * 100, digits) if digits else integer(share * 100)}{THIN}%"


def date(value) -> str:
    """A date (or a timestamp, shown as its date) as 26.11.2026."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return f"{value:%d.%m.%Y}"


def moment(value) -> str:
    """A moment as Norwegians write it, in Norwegian time: 26.11.2026 kl. 03.44."""
    from zoneinfo import ZoneInfo

    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo("Europe/Oslo"))
        return f"{value:%d.%m.%Y} kl. {value:%H.%M}"
    return date(value)


def month(value: dt.date) -> str:
    return f"{MONTH[value.month - 1]} {value.year}"


def school_year(value: dt.date) -> str:
    """The school year a date belongs to: 1 August to 31 July, written 2025/26."""
    start = value.year if value.month >= 8 else value.year - 1
    return f"{start}/{str(start + 1)[2:]}"


def quarter(value: dt.date) -> str:
    return f"{value.year} K{(value.month - 1) // 3 + 1}"


# -- Plotly ---------------------------------------------------------------------------------------
def style(fig, *, x_years: bool = False, y_percent: bool = False, legend_title: str | None = None):
    """Norwegian number separators, whole years on year axes, readable defaults."""
    fig.update_layout(
        separators=f",{THIN}",
        font={"family": "Source Sans Pro, sans-serif", "size": 14},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hoverlabel={"namelength": -1},
        legend_title_text=legend_title,
    )
    if x_years:
        fig.update_xaxes(tickformat="d", dtick=1)
    if y_percent:
        fig.update_yaxes(range=[0, 100], ticksuffix=" %")
    return fig


PLOTLY_CONFIG = {"displaylogo": False, "locale": "no", "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
