"""Every parameter of the synthetic county, in one place, with where it comes from.

The figures are rounded from public statistics so the demo and the tests look like
Trøndelag; they are not a forecast. Sources (as of 2024–2025):

[IMDi-bos]  IMDi, "Bosetting av flyktninger" — refugees settled per year, national and by
            county: ~11k (2015), ~15k (2016), ~11k (2017), then 5k–6k a year until 2021,
            ~35k (2022), ~38k (2023), ~25k (2024), lower in 2025. Trøndelag takes ≈ 9 %.
[SSB-intro] SSB, table 12284 / "Introduksjonsordningen" 2024: 56 % women among
            participants; age 18–25 17 %, 26–35 30 %, 36–45 33 %, 46–55 17 %, 56+ 3 %;
            Ukrainians ≈ 70 % of 2024 participants.
[SSB-out]   SSB, "Tidligere deltakere i introduksjonsordningen" (indicator: in work or
            education in November the year after): ≈ 65 % overall, men 73 %, women 59 %.
[IMDi-res]  IMDi, "Resultater fra introduksjonsprogrammet": about half go directly to work
            or education when they leave; Ukrainians 45 % directly to work, others 23 %.
[IMDi-no]   IMDi / Kompetanse Norge: about half start Norwegian tuition within three months
            of settlement.
[TFK-komb]  Trøndelag fylkeskommune: combination classes for newly arrived 16–24 year olds
            at about a dozen upper secondary schools; admission once a year (August).
[TM]        Trøndelagsmodellen (NAV Trøndelag and Trøndelag fylkeskommune): mobilisation by
            NAV or the follow-up service (OT), work training, school place or
            apprenticeship, trade certificate, work.
[IMDi-fam]  IMDi, "Bosatte flyktninger etter alder": about one in three refugees settled in
            2015–2024 were under 18; most came with their families.
[SSB-flytt] SSB, "Flytting blant flyktninger" (bosettingskohorter): about one in eight
            refugees lives in another municipality five years after settlement; moves are
            most common in the first two years (during the programme).
[Udir-komb] Udir, "Kombinasjonsklasser": pupils may stay up to two (in some counties three)
            school years before upper secondary.
[Udir]      Udir programme codes for vocational/general programmes (BA, EL, FD, HS, IM, NA,
            RM, SR, TP, ST).
"""

from __future__ import annotations

import datetime as dt

# The last day any source has delivered data for: no delivery is dated after it.
DATA_END = dt.date(2026, 10, 31)
SETTLEMENT_YEARS = range(2015, 2026)

# Relative settlement volume per year (IMDi-bos, national figures in thousands; the
# county follows the national curve). Peak after 2022 (Ukraine).
SETTLEMENTS_BY_YEAR = {
    2015: 11,
    2016: 15,
    2017: 11,
    2018: 5,
    2019: 5,
    2020: 4,
    2021: 6,
    2022: 35,
    2023: 38,
    2024: 25,
    2025: 12,
}

# Country background by period (SSB-intro: ≈ 70 % Ukrainians among 2024 participants).
COUNTRIES_BEFORE_2022 = {"SYR": 0.45, "ERI": 0.22, "AFG": 0.15, "COD": 0.10, "SOM": 0.08}
COUNTRIES_FROM_2022 = {"UKR": 0.72, "SYR": 0.10, "AFG": 0.07, "ERI": 0.06, "COD": 0.05}

SHARE_WOMEN = 0.56  # SSB-intro

# Age at settlement for adults (SSB-intro 2024), as (low, high, share).
ADULT_AGE_GROUPS = [(18, 25, 0.17), (26, 35, 0.30), (36, 45, 0.33), (46, 55, 0.17), (56, 62, 0.03)]
# Share of settled persons who are 16–17 (youth, no introduction programme yet).
SHARE_YOUTH_16_17 = 0.06
# Children settled with their families [IMDi-fam]: they are settled persons (a `bosatt`
# in the intro file, with their birth year) but have no programme. Each settled adult
# brings this many children on average (Poisson-like: 0–3), same date and municipality.
CHILDREN_PER_ADULT = 0.45
CHILD_AGE = (0, 15)
# Elderly relatives settled with the family (no programme; some born before 1940).
SHARE_ELDERLY = 0.015
ELDERLY_AGE = (68, 92)

# Relative weight of each Trøndelag municipality as a place of settlement (roughly
# population; Trondheim about 40 %). Codes missing here get weight 1.
MUNICIPALITY_WEIGHTS = {
    "5001": 40,
    "5035": 5,
    "5037": 4,
    "5038": 3,
    "5006": 4,
    "5007": 3,
    "5028": 3,
    "5059": 4,
    "5031": 3,
    "5054": 2,
    "5060": 2,
    "5057": 2,
    "5021": 1.5,
    "5025": 1.5,
}

# Introduction programme (IMDi-res, SSB-intro).
INTRO_PARTICIPATION = 0.93  # adults settled who start the programme
INTRO_START_DAYS = (7, 90)  # start after settlement
INTRO_YEARS_UKRAINE = (0.8, 1.2)  # kollektiv beskyttelse: about one year
INTRO_YEARS_OTHERS = (1.5, 3.0)
SHARE_LEAVE = 0.12  # some leave (parental leave, illness) during the programme
LEAVE_DAYS = (60, 300)
SHARE_INTERRUPTED = 0.18
INTERRUPTION_DETAILS = {
    "flyttet": 0.30,
    "arbeid": 0.25,
    "utdanning": 0.10,
    "helse": 0.15,
    "eget_onske": 0.10,
    "annet": 0.10,
}
SHARE_MOVERS_WHO_RESTART = 0.5  # moved within the county and started again
# The old municipality often closes the case only after the new one has started the
# programme: its `avbrutt` is then dated after the new `startet`.
SHARE_MOVE_REGISTERED_LATE = 0.35
# Moves after the programme [SSB-flytt]: with the moves during the programme (≈ 5 % of
# participants) about one in eight has moved within five years.
SHARE_MOVE_AFTER_PROGRAMME = 0.07
TRANSITIONS_UKRAINE = {
    "arbeid": 0.40,
    "arbeid_og_utdanning": 0.05,
    "utdanning": 0.08,
    "arbeidsledig": 0.30,
    "annet": 0.17,
}  # 45 % directly to work
TRANSITIONS_OTHERS = {
    "arbeid": 0.20,
    "arbeid_og_utdanning": 0.03,
    "utdanning": 0.25,
    "arbeidsledig": 0.30,
    "annet": 0.22,
}  # 23 % directly to work
# In work or education in November the year after (SSB-out): targets by sex, reached by
# giving some of those without a direct transition a later job (via the Trøndelag model)
# or an education spell.
NOVEMBER_TARGET = {"M": 0.73, "K": 0.59}

# Norwegian tuition (IMDi-no).
NORWEGIAN_PARTICIPATION = 0.92
SHARE_NORWEGIAN_WITHIN_3_MONTHS = 0.5
NORWEGIAN_MONTHS = (6, 24)
NORWEGIAN_DROPOUT = 0.12
CEFR_RESULTS = {"A1": 0.08, "A2": 0.32, "B1": 0.38, "B2": 0.18, "C1": 0.04}
SHARE_APPLICATIONS_WITHDRAWN = 0.03
SHARE_REAPPLY_AFTER_WITHDRAWAL = 0.5  # a withdrawn applicant applies again and starts

# Primary school for adults: more common for those with little schooling.
PRIMARY_SHARE = {"UKR": 0.03, "default": 0.22}
PRIMARY_DROPOUT = 0.25

# Upper secondary for adults [Udir].
PROGRAMME_WEIGHTS = {
    "HS": 0.30,
    "ST": 0.15,
    "BA": 0.10,
    "EL": 0.10,
    "TP": 0.10,
    "RM": 0.10,
    "SR": 0.05,
    "IM": 0.05,
    "FD": 0.03,
    "NA": 0.02,
}
UPPER_SECONDARY_RESULTS = {"vitnemal": 0.30, "fagbrev": 0.40, "kompetansebevis": 0.10, "dropped_out": 0.20}

# Combination classes [TFK-komb]: the ~12 schools, start mid-August, once a year.
COMBINATION_SCHOOLS = [  # (name, municipality)
    ("Thora Storm vgs", "5001"),
    ("Charlottenlund vgs", "5001"),
    ("Heimdal vgs", "5001"),
    ("Byåsen vgs", "5001"),
    ("Ole Vig vgs", "5035"),
    ("Levanger vgs", "5037"),
    ("Verdal vgs", "5038"),
    ("Steinkjer vgs", "5006"),
    ("Olav Duun vgs", "5007"),
    ("Orkdal vgs", "5059"),
    ("Røros vgs", "5025"),
    ("Fosen vgs", "5054"),
]
COMBINATION_SHARE_16_20 = 0.75
COMBINATION_SHARE_21_23 = 0.30
COMBINATION_TWO_YEARS = 0.30  # [Udir-komb] on the lists of two school years
COMBINATION_THREE_YEARS = 0.08  # ... and of three
COMBINATION_OUTCOMES = {"Overført Vg1": 0.50, "Fullført": 0.30, "Avbrutt": 0.20}
SCHOOL_START = (8, 18)  # month, day
SCHOOL_END = (6, 20)

# Trøndelag model [TM].
SHARE_TM_ONLY = 0.08  # persons mobilised with no settlement/intro record
TM_PATHS = {"school_then_apprenticeship": 0.30, "apprenticeship": 0.35, "employed": 0.20, "left": 0.15}
TM_APPRENTICESHIP_PASS = 0.75
TM_LEAVE_REASONS = {"moved": 0.20, "health": 0.30, "no_contact": 0.35, "other": 0.15}
TM_TRADES = {
    "HS": "Helsefagarbeider",
    "BA": "Tømrer",
    "EL": "Elektriker",
    "TP": "Industrimekaniker",
    "RM": "Kokk",
    "SR": "Salgsmedarbeider",
    "IM": "IKT-servicemedarbeider",
}
TM_SECTORS = ["health", "construction", "industry", "hospitality", "retail", "services"]
SHARE_TM_CORRECTED = 0.05  # cases where an early export holds an event later withdrawn
SHARE_TM_RENUMBERED = 0.05  # earlier exports list a case's events in another order
# A second case opened in error for a person (with a wrong left_programme); later exports
# still list it, but with dates the contract refuses, so all its rows are quarantined and
# the wrong left_programme of the early export must not come back.
SHARE_TM_REGISTERED_IN_ERROR = 0.03

# Deliveries: how often each source sends files (kept coarse so a test county stays
# small in files; the pipeline does not care how often files arrive).
INTRO_DELIVERY_EVERY_YEARS = 2  # each municipality, 31 December every N years + DATA_END
INTRO_REDELIVERED = 0.05  # share of an earlier file's events sent again
INTRO_ENCODINGS = {"utf-8": 0.5, "utf-8-sig": 0.2, "cp1252": 0.3}
ADULT_EDUCATION_EXPORT_MONTHS = 6  # one export every N months
ADULT_EDUCATION_REDELIVERED = 0.03
COMBINATION_TEXT_DATE_SCHOOLS = 4  # schools that type dates as text
TM_EXPORTS = [dt.date(y, 3, 1) for y in range(2019, 2027)] + [DATA_END]
TM_KEEP_CLOSED_MONTHS = 24

PSEUDONYMISATION_KEY = b"synthetic-county-not-a-secret"

# Settlement plans [IMDi-bos; IMDi, "Anmodning og vedtak"]: IMDi asks each municipality in
# June of the year before (anmodning) and the council decides by December (vedtak).
# Councils decide about what they then settle; in some years many decided fewer than
# IMDi asked (2016–2017 after the 2015 peak, 2023–2024 after the Ukraine peak).
PLAN_YEARS = range(2015, 2028)
PLAN_REQUEST_DELIVERY = (6, 15)  # month, day of the year before: requests (some decided)
PLAN_DECISION_DELIVERY = (12, 15)  # ... and the decisions
PLAN_DECIDED_EARLY = 0.2  # share of municipalities that have decided by June
PLAN_DECIDED_NOISE = (0.92, 1.08)  # decided / settled
PLAN_YEARS_DECIDED_BELOW_REQUEST = {2016: (1.15, 1.5), 2017: (1.1, 1.4), 2023: (1.15, 1.5), 2024: (1.1, 1.35)}
PLAN_MINORS_SHARE = {2015: 0.08, 2016: 0.06, 2017: 0.03, "default": 0.015}
# The synthetic county simulates settlements up to 2025 only; its plans for later years
# continue from 2025's level (IMDi expects fewer arrivals).
PLAN_AFTER_SIMULATION = {2026: 0.8, 2027: 0.7}
