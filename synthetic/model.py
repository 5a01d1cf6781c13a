"""Simulate each person's true pathway, and the records each source system would hold.

The simulation decides what *happens* (settlement, programme, tuition, classes, work
training, work) and keeps two views of it:

- the **truth**: spells, milestones and school-place applications in the terms of the
  warehouse contract, cut at `DATA_END` (what has not happened yet is ongoing or waiting);
- the **source records**: the rows each of the four systems registers, which the writers
  turn into landing files (with their deliveries, duplicates and corrections).

Tests compare the warehouse with the truth, so the truth is built from the simulation's
own decisions, never from the files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

from flows import progress
from schemas.reference import municipalities, trondelag_codes
from synthetic import parameters as P

Date = dt.date


@dataclass
class Person:
    pid: str
    fnr: str
    sex: str
    birth_year: int
    country: str | None
    reason: str | None
    settlement_date: Date | None
    municipality: str | None


@dataclass
class Truth:
    persons: list[dict] = field(default_factory=list)
    spells: list[dict] = field(default_factory=list)
    milestones: list[dict] = field(default_factory=list)
    applications: list[dict] = field(default_factory=list)
    intro_transitions: list[dict] = field(default_factory=list)


@dataclass
class Records:
    intro: list[dict] = field(default_factory=list)
    adult_education: list[dict] = field(default_factory=list)
    combination: list[dict] = field(default_factory=list)  # one per pupil and school year
    tm_cases: list[dict] = field(default_factory=list)


def orgnr_with_control(base8: int) -> str | None:
    """Append the mod-11 control digit (weights 3,2,7,6,5,4,3,2); None if it would be 10."""
    digits = [int(d) for d in f"{base8:08d}"]
    remainder = sum(w * d for w, d in zip((3, 2, 7, 6, 5, 4, 3, 2), digits, strict=True)) % 11
    control = 0 if remainder == 0 else 11 - remainder
    return None if control == 10 else f"{base8:08d}{control}"


def make_orgnrs(start: int, count: int) -> list[str]:
    out: list[str] = []
    base = start
    while len(out) < count:
        if (number := orgnr_with_control(base)) is not None:
            out.append(number)
        base += 1013
    return out


def schools() -> list[dict]:
    """The school register of the synthetic county (fixed, independent of the seed)."""
    codes = trondelag_codes()
    names = {c: municipalities()[c]["municipality_name"] for c in codes}
    rows = []
    for (name, muni), orgnr in zip(
        P.COMBINATION_SCHOOLS, make_orgnrs(97400000, len(P.COMBINATION_SCHOOLS)), strict=True
    ):
        rows.append({"school_orgnr": orgnr, "school_name": name, "municipality_code": muni, "kind": "upper_secondary"})
    for code, orgnr in zip(codes, make_orgnrs(97600000, len(codes)), strict=True):
        rows.append(
            {
                "school_orgnr": orgnr,
                "school_name": f"{names[code]} voksenopplæring",
                "municipality_code": code,
                "kind": "adult_education",
            }
        )
    return rows


def national_id(rng: random.Random, birth: Date, d_number: bool = False) -> str:
    """A synthetic 11-digit number with valid control digits (used only to pseudonymise,
    and to plant privacy faults); never written to a landing file except as a fault."""
    from stdnum.no import fodselsnummer as fnr

    day = birth.day + (40 if d_number else 0)
    while True:
        individual = rng.randint(500, 749) if birth.year >= 2000 else rng.randint(0, 499)
        base = f"{day:02d}{birth.month:02d}{birth.year % 100:02d}{individual:03d}"
        k1 = fnr.calc_check_digit1(base)
        if k1 == "10" or len(k1) != 1:
            continue
        k2 = fnr.calc_check_digit2(base + k1)
        if len(k2) != 1:
            continue
        number = base + k1 + k2
        if fnr.is_valid(number):
            return number


def pseudonymise(number: str) -> str:
    return hmac.new(P.PSEUDONYMISATION_KEY, number.encode(), hashlib.sha256).hexdigest()


class County:
    """Runs the simulation for N persons with one seeded random generator."""

    def __init__(self, persons: int, seed: int):
        self.n = persons
        self.rng = random.Random(seed)
        self.truth = Truth()
        self.records = Records()
        self.schools = schools()
        self.combination_schools = [s for s in self.schools if s["kind"] == "upper_secondary"]
        self.adult_centres = {
            s["municipality_code"]: s["school_orgnr"] for s in self.schools if s["kind"] == "adult_education"
        }
        self.munis = list(trondelag_codes())
        self.muni_weights = [P.MUNICIPALITY_WEIGHTS.get(c, 1.0) for c in self.munis]
        self.case_seq = 0
        self.numbers: set[str] = set()  # two persons never share a national id (and so a pid)
        self.real_life: Counter = Counter()  # how many of each real-life case the county holds

    # -- small helpers ------------------------------------------------------------------
    def u(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def pick(self, weights: dict):
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    @staticmethod
    def next_school_start(after: Date) -> Date:
        start = Date(after.year, *P.SCHOOL_START)
        return start if start >= after else Date(after.year + 1, *P.SCHOOL_START)

    @staticmethod
    def seen(d: Date | None) -> bool:
        return d is not None and d <= P.DATA_END

    # -- truth ----------------------------------------------------------------------------
    def spell(
        self,
        person: Person,
        stage: str,
        source: str,
        start: Date,
        end: Date | None,
        end_type: str | None,
        reason: str | None = None,
        municipality: str | None = None,
        school: str | None = None,
        programme: str | None = None,
    ) -> None:
        if not self.seen(start):
            return
        if end is None or not self.seen(end):
            end, end_type, reason = None, "ongoing", None
        self.truth.spells.append(
            {
                "person_id": person.pid,
                "stage": stage,
                "source": source,
                "start_date": start,
                "end_date": end,
                "end_type": end_type,
                "end_reason": reason,
                "municipality_code": municipality,
                "school_orgnr": school,
                "programme": programme,
            }
        )

    def milestone(self, person: Person, stage: str, date: Date) -> None:
        if self.seen(date):
            self.truth.milestones.append({"person_id": person.pid, "stage": stage, "date": date})

    def application(
        self,
        person: Person,
        source: str,
        stage: str,
        school: str | None,
        municipality: str | None,
        applied: Date,
        offered: Date | None,
        started: Date | None,
        withdrawn: Date | None,
    ) -> None:
        if not self.seen(applied):
            return
        offered = offered if self.seen(offered) else None
        started = started if self.seen(started) else None
        withdrawn = withdrawn if self.seen(withdrawn) else None
        status = "started" if started else "withdrawn" if withdrawn else "waiting"
        self.truth.applications.append(
            {
                "person_id": person.pid,
                "source": source,
                "stage": stage,
                "school_orgnr": school,
                "municipality_code": municipality,
                "applied_date": applied,
                "offered_date": offered,
                "started_date": started,
                "status": status,
            }
        )

    # -- people ---------------------------------------------------------------------------
    def new_person(self, settled: bool, family_of: Person | None = None, age: int | None = None) -> Person:
        rng = self.rng
        if family_of is not None:
            assert age is not None, "the caller gives a family member's age"
            settlement, country, reason = family_of.settlement_date, family_of.country, family_of.reason
            muni, sex = family_of.municipality, "K" if self.chance(0.49) else "M"
        elif settled:
            years = list(P.SETTLEMENTS_BY_YEAR)
            year = rng.choices(years, weights=[P.SETTLEMENTS_BY_YEAR[y] for y in years])[0]
            settlement = Date(year, 1, 1) + dt.timedelta(days=self.u(0, 364))
            if settlement > P.DATA_END:
                settlement = P.DATA_END - dt.timedelta(days=self.u(0, 200))
            countries = P.COUNTRIES_FROM_2022 if year >= 2022 else P.COUNTRIES_BEFORE_2022
            country = self.pick(countries)
            if self.chance(P.SHARE_ELDERLY):
                age = self.u(*P.ELDERLY_AGE)
                self.real_life["elderly relatives (68+)"] += 1
            elif self.chance(P.SHARE_YOUTH_16_17):
                age = self.u(16, 17)
            else:
                low, high, _ = rng.choices(P.ADULT_AGE_GROUPS, weights=[g[2] for g in P.ADULT_AGE_GROUPS])[0]
                age = self.u(low, high)
            reason = "kollektiv_beskyttelse" if country == "UKR" else self.pick({"flukt": 0.8, "familie": 0.2})
            muni = self.rng.choices(self.munis, weights=self.muni_weights)[0]
            sex = "K" if self.chance(P.SHARE_WOMEN) else "M"
        else:
            settlement, country, reason, muni = None, None, None, None
            age = self.u(18, 40)
            sex = "K" if self.chance(0.45) else "M"
        ref = settlement or Date(2021, 1, 1)
        birth = Date(ref.year - age, 1, 1) + dt.timedelta(days=self.u(0, 364))
        number = national_id(rng, birth)
        while number in self.numbers:
            number = national_id(rng, birth)
        self.numbers.add(number)
        return Person(pseudonymise(number), number, sex, birth.year, country, reason, settlement, muni)

    def intro_event(self, person: Person, muni: str, event: str, date: Date, detail: str | None = None) -> None:
        if self.seen(date):
            self.records.intro.append(
                {
                    "deltaker_pid": person.pid,
                    "kommunenr": muni,
                    "hendelse": event,
                    "dato": date,
                    "kjonn": person.sex,
                    "fodselsaar": person.birth_year,
                    "landbakgrunn": person.country,
                    "innvandringsgrunn": person.reason,
                    "detalj": detail,
                }
            )

    def ae_event(
        self,
        person: Person,
        event: str,
        date: Date,
        level: str,
        school: str,
        muni: str,
        programme: str | None = None,
        result: str | None = None,
    ) -> None:
        if self.seen(date):
            self.records.adult_education.append(
                {
                    "event_id": self.uuid(),
                    "pid": person.pid,
                    "event": event,
                    "date": date,
                    "level": level,
                    "programme": programme,
                    "school_orgnr": school,
                    "municipality": muni,
                    "result": result,
                }
            )

    # -- pathways -------------------------------------------------------------------------
    def simulate(self) -> tuple[Truth, Records]:
        made = 0
        while made < self.n:
            progress.completed(made)
            settled = not self.chance(P.SHARE_TM_ONLY)
            person = self.new_person(settled)
            self.add_person(person, settled)
            made += 1
            if settled:
                self.settled_pathway(person)
                # children settle with their parent: same day, same municipality
                for _ in range(self.children_of(person)):
                    if made >= self.n:
                        break
                    child = self.new_person(True, family_of=person, age=self.u(*P.CHILD_AGE))
                    self.real_life["children settled with a parent"] += 1
                    if child.birth_year >= 2015:
                        self.real_life["children born 2015 or later"] += 1
                    self.add_person(child, True)
                    made += 1
                    self.settled_pathway(child)
            else:
                start = Date(2018, 6, 1) + dt.timedelta(days=self.u(0, (P.DATA_END - Date(2018, 6, 1)).days))
                self.tm_case(person, start, self.pick(P.TM_PATHS), self.rng.choice(self.munis))
        return self.truth, self.records

    def add_person(self, person: Person, settled: bool) -> None:
        self.truth.persons.append(
            {
                # The Trøndelag model delivers neither sex nor birth year.
                "person_id": person.pid,
                "sex": person.sex if settled else None,
                "birth_year": person.birth_year if settled else None,
                "country_background": person.country,
                "immigration_reason": person.reason,
                "settlement_date": person.settlement_date,
                "settlement_municipality_code": person.municipality,
            }
        )

    def children_of(self, adult: Person) -> int:
        """0–3 children for an adult of 22–50, averaging CHILDREN_PER_ADULT over all adults."""
        assert adult.settlement_date is not None, "children settle only with a settled adult"
        age = adult.settlement_date.year - adult.birth_year
        if not 22 <= age <= 50:
            return 0
        mean = P.CHILDREN_PER_ADULT * 1.4  # about 70 % of settled adults are 22–50
        return min(3, sum(self.chance(mean / 3) for _ in range(3)))

    def settled_pathway(self, p: Person) -> None:
        settle = p.settlement_date
        assert settle is not None and p.municipality is not None and p.country is not None, (
            "a settled person has a settlement date, municipality and country (new_person)"
        )
        self.intro_event(p, p.municipality, "bosatt", settle)
        self.milestone(p, "settlement", settle)
        age = settle.year - p.birth_year
        if age < 16 or age > 67:  # children and elderly relatives: settled, no programme
            return
        if 16 <= age <= 23:
            share = P.COMBINATION_SHARE_16_20 if age <= 20 else P.COMBINATION_SHARE_21_23
            if self.chance(share):
                self.combination_classes(p, settle)
        if age < 18:
            return
        if self.chance(P.NORWEGIAN_PARTICIPATION):
            self.norwegian(p, settle)
        if self.chance(P.PRIMARY_SHARE.get(p.country, P.PRIMARY_SHARE["default"])):
            self.primary(p, settle)
        if self.chance(P.INTRO_PARTICIPATION):
            start = settle + dt.timedelta(days=self.u(*P.INTRO_START_DAYS))
            self.intro(p, p.municipality, start, restart_allowed=True)

    def intro(self, p: Person, muni: str, start: Date, restart_allowed: bool, years: float | None = None) -> None:
        if years is None:
            years = self.rng.uniform(*(P.INTRO_YEARS_UKRAINE if p.country == "UKR" else P.INTRO_YEARS_OTHERS))
        end = start + dt.timedelta(days=int(years * 365))
        self.intro_event(p, muni, "startet", start)
        if self.chance(P.SHARE_LEAVE) and (end - start).days > 120:
            leave = start + dt.timedelta(days=self.u(30, (end - start).days // 2))
            days = self.u(*P.LEAVE_DAYS)
            self.intro_event(p, muni, "permisjon", leave)
            self.intro_event(p, muni, "gjenopptatt", leave + dt.timedelta(days=days))
            end += dt.timedelta(days=days)
        if self.chance(P.SHARE_INTERRUPTED):
            stop = start + dt.timedelta(days=int((end - start).days * self.rng.uniform(0.2, 0.9)))
            detail = self.pick(P.INTERRUPTION_DETAILS)
            end_type = "transferred" if detail == "flyttet" else "dropped_out"
            if detail == "flyttet" and restart_allowed and self.chance(P.SHARE_MOVERS_WHO_RESTART):
                new_muni = self.rng.choice([m for m in self.munis if m != muni])
                settled_again = stop + dt.timedelta(days=self.u(14, 60))
                new_start = settled_again + dt.timedelta(days=self.u(14, 60))
                # the old municipality may close its case only after the new start
                late = self.chance(P.SHARE_MOVE_REGISTERED_LATE)
                registered = new_start + dt.timedelta(days=self.u(1, 60)) if late else stop
                self.real_life["moves during the programme, restarted elsewhere"] += 1
                self.real_life["moves during the programme, old municipality closed the case after the new start"] += (
                    late
                )
                self.intro_event(p, muni, "avbrutt", registered, detail)
                self.spell(p, "intro", "intro", start, registered, end_type, detail, muni)
                self.truth_transition(p, start, None)
                self.intro_event(p, new_muni, "bosatt", settled_again)
                remaining = max(0.3, years - (stop - start).days / 365)
                self.intro(p, new_muni, new_start, False, remaining)
                return
            self.intro_event(p, muni, "avbrutt", stop, detail)
            self.spell(p, "intro", "intro", start, stop, end_type, detail, muni)
            self.truth_transition(p, start, None)
            if detail != "flyttet":
                self.after_intro(p, stop, muni, direct=None)
            return
        self.intro_event(p, muni, "fullfort", end)
        self.spell(p, "intro", "intro", start, end, "completed", None, muni)
        transition = self.pick(P.TRANSITIONS_UKRAINE if p.country == "UKR" else P.TRANSITIONS_OTHERS)
        if not self.seen(end):
            self.truth_transition(p, start, None)
            return
        self.intro_event(p, muni, "overgang", end, transition)
        self.truth_transition(p, start, transition)
        if self.chance(P.SHARE_MOVE_AFTER_PROGRAMME):  # settles again elsewhere later on
            self.real_life["moves after the programme"] += 1
            self.intro_event(
                p,
                self.rng.choice([m for m in self.munis if m != muni]),
                "bosatt",
                end + dt.timedelta(days=self.u(60, 1000)),
            )
        if transition in ("arbeid", "arbeid_og_utdanning"):
            self.spell(p, "work", "intro", end, None, None, municipality=muni)
        self.after_intro(p, end, muni, direct=transition)

    def truth_transition(self, p: Person, start: Date, transition: str | None) -> None:
        if self.seen(start):
            self.truth.intro_transitions.append(
                {"person_id": p.pid, "start_date": start, "direct_transition": transition}
            )

    def after_intro(self, p: Person, end: Date, muni: str, direct: str | None) -> None:
        """Education for those who go on to it, and for some of the rest a later job or
        school place, so the November-after indicator lands near SSB's figures."""
        if direct in ("utdanning", "arbeid_og_utdanning"):
            self.upper_secondary(p, end + dt.timedelta(days=self.u(0, 30)), muni)
            return
        if direct == "arbeid":
            return
        base = 0.5
        extra = max(0.0, (P.NOVEMBER_TARGET[p.sex] - base) / (1 - base))
        if self.chance(extra):
            mobilised = end + dt.timedelta(days=self.u(30, 120))
            if mobilised >= Date(2018, 6, 1) and self.chance(0.6):
                self.tm_case(p, mobilised, self.pick({"employed": 0.6, "apprenticeship": 0.4}), muni)
            else:
                self.upper_secondary(p, end + dt.timedelta(days=self.u(20, 120)), muni)
        elif self.chance(0.15) and end >= Date(2018, 6, 1):
            self.tm_case(p, end + dt.timedelta(days=self.u(60, 400)), self.pick(P.TM_PATHS), muni)

    def norwegian(self, p: Person, settle: Date) -> None:
        muni, school = p.municipality, self.adult_centres[p.municipality]
        assert muni is not None, "settled persons only (settled_pathway)"
        if self.chance(P.SHARE_NORWEGIAN_WITHIN_3_MONTHS):
            applied = settle + dt.timedelta(days=self.u(3, 20))
            offered = applied + dt.timedelta(days=self.u(3, 20))
            start = offered + dt.timedelta(days=self.u(3, 30))
        else:
            applied = settle + dt.timedelta(days=self.u(20, 120))
            offered = applied + dt.timedelta(days=self.u(40, 200))
            start = offered + dt.timedelta(days=self.u(5, 60))
        self.adult_course(
            p,
            "norwegian",
            school,
            muni,
            applied,
            offered,
            start,
            months=self.u(*P.NORWEGIAN_MONTHS),
            dropout=P.NORWEGIAN_DROPOUT,
            result=lambda: self.pick(P.CEFR_RESULTS),
        )

    def primary(self, p: Person, settle: Date) -> None:
        muni, school = p.municipality, self.adult_centres[p.municipality]
        assert muni is not None, "settled persons only (settled_pathway)"
        applied = settle + dt.timedelta(days=self.u(60, 300))
        start = self.next_school_start(applied + dt.timedelta(days=30))
        offered = start - dt.timedelta(days=self.u(20, 60))
        offered = max(offered, applied + dt.timedelta(days=1))
        self.adult_course(
            p,
            "primary",
            school,
            muni,
            applied,
            offered,
            start,
            months=self.u(10, 22),
            dropout=P.PRIMARY_DROPOUT,
            result=lambda: "grunnskolebevis",
        )

    def upper_secondary(self, p: Person, applied: Date, muni: str) -> None:
        school = self.rng.choice(self.combination_schools)["school_orgnr"]
        start = self.next_school_start(applied + dt.timedelta(days=30))
        offered = max(applied + dt.timedelta(days=1), start - dt.timedelta(days=self.u(20, 70)))
        programme = self.pick(P.PROGRAMME_WEIGHTS)
        outcome = self.pick(P.UPPER_SECONDARY_RESULTS)
        self.adult_course(
            p,
            "upper_secondary",
            school,
            muni,
            applied,
            offered,
            start,
            months=22,
            dropout=1.0 if outcome == "dropped_out" else 0.0,
            result=lambda: outcome,
            programme=programme,
        )

    def adult_course(
        self,
        p: Person,
        level: str,
        school: str,
        muni: str,
        applied: Date,
        offered: Date,
        start: Date,
        months: int,
        dropout: float,
        result,
        programme: str | None = None,
        may_withdraw: bool = True,
    ) -> None:
        stage = level
        self.ae_event(p, "applied", applied, level, school, muni, programme)
        if may_withdraw and self.chance(P.SHARE_APPLICATIONS_WITHDRAWN):
            withdrawn = applied + dt.timedelta(days=self.u(10, 60))
            if offered < withdrawn:
                self.ae_event(p, "offered", offered, level, school, muni, programme)
            self.ae_event(p, "withdrawn", withdrawn, level, school, muni, programme)
            self.application(
                p,
                "adult_education",
                stage,
                school,
                muni,
                applied,
                offered if offered < withdrawn else None,
                None,
                withdrawn,
            )
            if self.chance(P.SHARE_REAPPLY_AFTER_WITHDRAWAL):  # applies again later, and starts
                self.real_life["re-applications after a withdrawal (adult education)"] += 1
                again = withdrawn + dt.timedelta(days=self.u(60, 200))
                shift = again - applied
                self.adult_course(
                    p,
                    level,
                    school,
                    muni,
                    again,
                    max(offered + shift, again + dt.timedelta(days=1)),
                    start + shift,
                    months,
                    dropout,
                    result,
                    programme,
                    may_withdraw=False,
                )
            return
        self.ae_event(p, "offered", offered, level, school, muni, programme)
        self.ae_event(p, "started", start, level, school, muni, programme)
        self.application(p, "adult_education", stage, school, muni, applied, offered, start, None)
        end = start + dt.timedelta(days=int(months * 30.4))
        if self.chance(dropout):
            stop = start + dt.timedelta(days=self.u(20, max(21, (end - start).days - 10)))
            self.ae_event(p, "dropped_out", stop, level, school, muni, programme)
            self.spell(p, stage, "adult_education", start, stop, "dropped_out", None, muni, school, programme)
            return
        outcome = result()
        self.ae_event(p, "completed", end, level, school, muni, programme, outcome)
        self.spell(p, stage, "adult_education", start, end, "completed", outcome, muni, school, programme)
        if outcome == "fagbrev":
            self.milestone(p, "trade_certificate", end)

    def combination_classes(self, p: Person, settle: Date) -> None:
        """One application, one start; a pupil who stays is on the list of each school year
        with the same application and start date, status `Aktiv` until the last year."""
        local = [s for s in self.combination_schools if s["municipality_code"] == p.municipality]
        school = (local or [self.rng.choice(self.combination_schools)])[0]["school_orgnr"]
        applied = settle + dt.timedelta(days=self.u(14, 120))
        start = self.next_school_start(applied + dt.timedelta(days=21))
        if start.year - p.birth_year > 24:
            return
        years = 3 if self.chance(P.COMBINATION_THREE_YEARS) else 2 if self.chance(P.COMBINATION_TWO_YEARS) else 1
        while years > 1 and start.year + years - 1 - p.birth_year > 24:
            years -= 1
        withdrawn = applied + dt.timedelta(days=self.u(20, 60)) if self.chance(0.05) else None
        if withdrawn and withdrawn >= start:
            withdrawn = None
        status = self.pick(P.COMBINATION_OUTCOMES)
        last = Date(start.year + years - 1, *P.SCHOOL_START)
        end = Date(last.year + 1, *P.SCHOOL_END)
        if status == "Avbrutt":
            end = last + dt.timedelta(days=self.u(30, 280))
        pupil = {
            "pid": p.pid,
            "sex": p.sex,
            "birth_year": p.birth_year,
            "municipality": p.municipality,
            "school": school,
            "applied": applied,
            "start": start,
            "end": end,
            "status": status,
            "withdrawn": withdrawn,
        }
        if not withdrawn and years > 1:
            self.real_life[f"pupils on the combination-class lists of {years} school years"] += 1
        for year in range(1 if withdrawn else years):
            self.records.combination.append({**pupil, "school_year": start.year + year})
        self.combination_truth(p, pupil, start.year + (0 if withdrawn else years - 1))

    def combination_truth(self, p: Person, pupil: dict, last_year: int) -> None:
        """What the school says of the pupil on its newest list (snapshot semantics): the
        list of the pupil's last school year, or of the latest year listed by then."""
        from synthetic.writers import snapshot_dates

        for year in range(last_year, pupil["start"].year - 1, -1):
            dates = [d for d in snapshot_dates(year) if d >= pupil["applied"]]
            if dates:
                on = max(dates)
                break
        else:
            return
        if pupil["withdrawn"] and pupil["withdrawn"] <= on:
            return  # no longer on the list: gone without a trace, as the contract says
        started = pupil["start"] if pupil["start"] <= on else None
        ended = pupil["end"] if started and pupil["end"] <= on else None
        self.truth.applications.append(
            {
                "person_id": p.pid,
                "source": "combination_classes",
                "stage": "combination",
                "school_orgnr": pupil["school"],
                "municipality_code": p.municipality,
                "applied_date": pupil["applied"],
                "offered_date": None,
                "started_date": started,
                "status": "started" if started else "waiting",
            }
        )
        if started:
            end_types = {"Fullført": "completed", "Avbrutt": "dropped_out", "Overført Vg1": "transferred"}
            self.truth.spells.append(
                {
                    "person_id": p.pid,
                    "stage": "combination",
                    "source": "combination_classes",
                    "start_date": started,
                    "end_date": ended,
                    "end_type": end_types[pupil["status"]] if ended else "ongoing",
                    "end_reason": None,
                    "municipality_code": p.municipality,
                    "school_orgnr": pupil["school"],
                    "programme": None,
                }
            )

    def tm_case(self, p: Person, mobilised: Date, path: str, muni: str) -> None:
        if not self.seen(mobilised):
            return
        self.case_seq += 1
        case: dict = {
            "case_id": f"TM-{mobilised.year}-{self.case_seq:05d}",
            "pid": p.pid,
            "nav_office": muni,
            "mobilised_by": "OT" if (mobilised.year - (p.birth_year or 1990)) <= 24 and self.chance(0.6) else "NAV",
            "events": [],
        }
        self.records.tm_cases.append(case)
        ev = case["events"]

        def add(kind: str, date: Date, **extra) -> bool:
            if self.seen(date):
                ev.append({"type": kind, "date": date, **extra})
                return True
            return False

        add("mobilised", mobilised)
        wt_start = mobilised + dt.timedelta(days=self.u(14, 60))
        wt_end = wt_start + dt.timedelta(days=self.u(90, 180))
        add("work_training_started", wt_start)
        if path == "left":
            left = wt_start + dt.timedelta(days=self.u(10, (wt_end - wt_start).days - 1))
            reason = self.pick(P.TM_LEAVE_REASONS)
            add("left_programme", left, reason=reason)
            self.spell(
                p,
                "work_training",
                "trondelag_model",
                wt_start,
                left,
                "transferred" if reason == "moved" else "dropped_out",
                reason,
                muni,
            )
            return
        add("work_training_ended", wt_end)
        self.spell(p, "work_training", "trondelag_model", wt_start, wt_end, "completed", None, muni)
        programme = self.pick(dict.fromkeys(P.TM_TRADES, 1))
        trade = P.TM_TRADES[programme]
        if path == "employed":
            self.employed(p, add, wt_end + dt.timedelta(days=self.u(0, 60)), muni)
            return
        appr_start = wt_end + dt.timedelta(days=self.u(14, 90))
        if path == "school_then_apprenticeship":
            applied = wt_end + dt.timedelta(days=self.u(0, 30))
            school_start = self.next_school_start(applied + dt.timedelta(days=30))
            add("school_place_applied", applied)
            add("school_place_started", school_start)
            self.application(p, "trondelag_model", "upper_secondary", None, muni, applied, None, school_start, None)
            appr_start = school_start + dt.timedelta(days=self.u(300, 700))
            self.spell(p, "upper_secondary", "trondelag_model", school_start, appr_start, "transferred", None, muni)
        add("apprenticeship_started", appr_start, trade=trade)
        appr_end = appr_start + dt.timedelta(days=self.u(540, 730))
        if self.chance(P.TM_APPRENTICESHIP_PASS):
            add("trade_certificate_passed", appr_end, trade=trade)
            self.spell(p, "apprenticeship", "trondelag_model", appr_start, appr_end, "completed", None, muni)
            self.milestone(p, "trade_certificate", appr_end)
            self.employed(p, add, appr_end + dt.timedelta(days=self.u(0, 60)), muni)
        else:
            add("trade_certificate_failed", appr_end, trade=trade)
            add("apprenticeship_ended", appr_end)
            self.spell(p, "apprenticeship", "trondelag_model", appr_start, appr_end, "dropped_out", None, muni)
            if self.chance(0.5):
                add("left_programme", appr_end + dt.timedelta(days=self.u(30, 120)), reason="other")
            else:
                self.employed(p, add, appr_end + dt.timedelta(days=self.u(30, 200)), muni)

    def employed(self, p: Person, add, date: Date, muni: str) -> None:
        if add("employed", date, sector=self.rng.choice(P.TM_SECTORS)):
            self.spell(p, "work", "trondelag_model", date, None, None, municipality=muni)
