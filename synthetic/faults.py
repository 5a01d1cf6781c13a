"""Plant faults of every kind the source contract names, and record each one.

Faults never change the truth: a faulty *row* is an extra copy of a real row with one
value broken (so it is quarantined and the original still loads), and a faulty *file* is
an extra file (a broken copy of a real delivery under a new name). Each planted fault is
written to `faults.json` with the file, row, column and the rule that must catch it, so
the tests can check every one was caught for the right reason.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from dataclasses import dataclass

from synthetic.model import national_id
from synthetic.writers import Delivery, intro_bytes, trondelag_model_bytes


@dataclass
class Fault:
    kind: str
    source: str
    file: str
    rule: str
    level: str = "row"  # "row" or "file"
    row: int | None = None
    column: str | None = None
    status: str = "loaded"  # the file's expected status in audit.file_log

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _bad_orgnr(orgnr: str) -> str:
    return orgnr[:8] + str((int(orgnr[8]) + 1) % 10)


# kind -> (source, column, rule, mutate(row, delivery) -> row)
ROW_FAULTS = {
    "intro_bad_date": ("intro", "dato", "date_format", lambda r, d: {**r, "dato": "31.02.2024"}),
    "intro_date_after_delivery": (
        "intro",
        "dato",
        "date_after_delivery",
        lambda r, d: {**r, "dato": d.options["delivery_date"] + dt.timedelta(days=10)},
    ),
    "intro_date_before_2010": (
        "intro",
        "dato",
        "date_range",
        lambda r, d: {**r, "hendelse": "bosatt", "detalj": None, "dato": dt.date(2009, 6, 15)},
    ),
    "intro_unknown_municipality": ("intro", "kommunenr", "municipality_code", lambda r, d: {**r, "kommunenr": "5099"}),
    "intro_unknown_event": (
        "intro",
        "hendelse",
        "code_in_set",
        lambda r, d: {**r, "hendelse": "sluttet", "detalj": None},
    ),
    "intro_bad_pid": (
        "intro",
        "deltaker_pid",
        "pid_format",
        lambda r, d: {**r, "deltaker_pid": r["deltaker_pid"][:40]},
    ),
    "intro_age_out_of_range": (
        "intro",
        "fodselsaar",
        "age_range",
        lambda r, d: {**r, "hendelse": "startet", "detalj": None, "fodselsaar": r["dato"].year - 15},
    ),
    "intro_unknown_country": ("intro", "landbakgrunn", "country_code", lambda r, d: {**r, "landbakgrunn": "XYZ"}),
    "intro_detail_missing": (
        "intro",
        "detalj",
        "detail_for_event",
        lambda r, d: {**r, "hendelse": "avbrutt", "detalj": None},
    ),
    "intro_missing_sex": ("intro", "kjonn", "required", lambda r, d: {**r, "kjonn": None}),
    "ae_bad_orgnr": (
        "adult_education",
        "school_orgnr",
        "orgnr",
        lambda r, d: {**r, "school_orgnr": _bad_orgnr(r["school_orgnr"])},
    ),
    "ae_bad_uuid": ("adult_education", "event_id", "uuid_format", lambda r, d: {**r, "event_id": "not-a-uuid"}),
    "ae_unknown_level": (
        "adult_education",
        "level",
        "code_in_set",
        lambda r, d: {**r, "level": "secondary", "programme": None, "event": "applied", "result": None},
    ),
    "ae_result_for_level": (
        "adult_education",
        "result",
        "result_for_level",
        lambda r, d: {**r, "event": "completed", "level": "norwegian", "programme": None, "result": "fagbrev"},
    ),
    "ae_bad_date": ("adult_education", "date", "date_format", lambda r, d: {**r, "date": "2024-13-01"}),
    "ae_truncated_line": ("adult_education", None, "json_syntax", None),
    "komb_bad_text_date": (
        "combination_classes",
        "soknadsdato",
        "date_format",
        lambda r, d: {**r, "Søknadsdato": "31.13.2023"},
    ),
    "komb_end_before_start": (
        "combination_classes",
        "sluttdato",
        "date_order",
        lambda r, d: {
            **r,
            "Status": "Fullført",
            "Startdato": d.options["delivery_date"] - dt.timedelta(days=30),
            "Sluttdato": d.options["delivery_date"] - dt.timedelta(days=40),
            "Søknadsdato": d.options["delivery_date"] - dt.timedelta(days=100),
            "Fødselsår": (d.options["delivery_date"] - dt.timedelta(days=30)).year - 18,
        },
    ),
    "komb_age_out_of_range": (
        "combination_classes",
        "fodselsaar",
        "age_range",
        lambda r, d: {
            **r,
            "Status": "Aktiv",
            "Sluttdato": None,
            "Søknadsdato": d.options["delivery_date"] - dt.timedelta(days=60),
            "Startdato": d.options["delivery_date"] - dt.timedelta(days=20),
            "Fødselsår": (d.options["delivery_date"].year - 27),
        },
    ),
    "komb_unknown_status": ("combination_classes", "status", "code_in_set", lambda r, d: {**r, "Status": "Sluttet"}),
    "komb_unknown_municipality": (
        "combination_classes",
        "bostedskommune",
        "municipality_code",
        lambda r, d: {**r, "Bostedskommune": "0000"},
    ),
    "tm_unknown_event": ("trondelag_model", "type", "code_in_set", None),
    "tm_missing_reason": ("trondelag_model", "reason", "required_value", None),
    "tm_bad_nav_office": ("trondelag_model", "nav_office", "municipality_code", None),
    "tm_bad_date": ("trondelag_model", "date", "date_format", None),
}


def plant(deliveries: list[Delivery], fault_rate: float, rng: random.Random) -> tuple[list[Delivery], list[Fault]]:
    faults: list[Fault] = []
    by_source: dict[str, list[Delivery]] = {}
    for d in deliveries:
        by_source.setdefault(d.source, []).append(d)
    total = {s: sum(len(d.rows) for d in ds) for s, ds in by_source.items()}
    kinds_per_source = {s: sum(1 for k in ROW_FAULTS.values() if k[0] == s) for s in by_source}
    tm_case_seq = 0
    originals = {id(d): len(d.rows) for d in deliveries}  # faults copy real rows, never earlier faults
    for kind, (source, column, rule, mutate) in ROW_FAULTS.items():
        if source not in by_source:
            continue
        count = max(1, round(fault_rate * total[source] / kinds_per_source[source]))
        for _ in range(count):
            d = rng.choice([x for x in by_source[source] if originals[id(x)]])
            if source == "trondelag_model":
                tm_case_seq += 1
                row = _tm_fault(kind, d, rng, tm_case_seq, originals[id(d)])
            else:
                base = copy.deepcopy(rng.choice(d.rows[: originals[id(d)]]))
                if (
                    source == "combination_classes"
                    and kind != "komb_end_before_start"
                    and kind != "komb_age_out_of_range"
                ):
                    base = {**base, "Status": "Venter", "Startdato": None, "Sluttdato": None}
                if kind == "ae_truncated_line":
                    text = json.dumps({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in base.items()})
                    row = {"_raw_line": text[: len(text) // 2]}
                else:
                    assert mutate is not None, "only ae_truncated_line has no mutate, handled above"
                    row = mutate(base, d)
                d.rows.append(row)
            number = _row_number(d)
            faults.append(Fault(kind, source, d.name, rule, "row", number, column))
    extra = _file_faults(by_source, rng, faults)
    return deliveries + extra, faults


def _row_number(d: Delivery) -> int:
    if d.source == "trondelag_model":
        return sum(len(c["events"]) for c in d.rows)
    if d.source == "adult_education":
        return len(d.rows)
    return len(d.rows) + 1  # header is row/line 1


def _tm_fault(kind: str, d: Delivery, rng: random.Random, seq: int, originals: int) -> dict:
    case = copy.deepcopy(rng.choice(d.rows[:originals]))
    event = copy.deepcopy(case["events"][0])
    event.pop("reason", None)
    if kind == "tm_unknown_event":
        event = {"type": "promoted", "date": event["date"]}
    elif kind == "tm_missing_reason":
        event = {"type": "left_programme", "date": event["date"]}
    elif kind == "tm_bad_nav_office":
        case["nav_office"] = "5099"
    elif kind == "tm_bad_date":
        event = {"type": event["type"], "date": "2023-02-30", **({"trade": event["trade"]} if "trade" in event else {})}
    new = {**case, "case_id": f"TM-FAULT-{seq:05d}", "events": [event]}
    d.rows.append(new)
    return new


def _new_name(existing: set[str], make) -> str:
    for shift in range(1, 400):
        name = make(shift)
        if name not in existing:
            existing.add(name)
            return name
    raise RuntimeError("no free file name")


def _file_faults(by_source: dict[str, list[Delivery]], rng: random.Random, faults: list[Fault]) -> list[Delivery]:
    out: list[Delivery] = []
    names = {d.name for ds in by_source.values() for d in ds}

    def later(d: Delivery, prefix: str, suffix: str) -> str:
        base = d.options["delivery_date"]
        return _new_name(names, lambda k: f"{prefix}{base + dt.timedelta(days=k):%Y%m%d}{suffix}")

    def add(d: Delivery, kind: str, rule: str, status: str = "quarantined", row=None, column=None) -> None:
        out.append(d)
        faults.append(Fault(kind, d.source, d.name, rule, "file", row, column, status))

    fnr = national_id(rng, dt.date(1990, 5, 17))  # a different number per source,
    fnr_school = national_id(rng, dt.date(1979, 11, 2))  # so a leak can be traced
    fnr_tm = national_id(rng, dt.date(2001, 8, 30))
    dnr = national_id(rng, dt.date(1985, 3, 9), d_number=True)

    if intro := [d for d in by_source.get("intro", []) if d.rows]:
        src = rng.choice(intro)
        muni = src.name.split("_")[1]
        cols = [c for c in src.options["columns"] if c != "dato"]
        d = Delivery("intro", later(src, f"intro_{muni}_", ".csv"), src.rows[:20], {**src.options, "columns": cols})
        add(d, "intro_missing_column", "missing_columns")
        d = Delivery("intro", later(src, f"intro_{muni}_", ".csv"), src.rows[:20], src.options)
        d.raw_bytes = (
            intro_bytes(Delivery("intro", d.name, d.rows, {**src.options, "encoding": "utf-8"}))
            .decode("utf-8")
            .encode("utf-16")
        )
        add(d, "intro_wrong_encoding_utf16", "encoding")
        d = Delivery("intro", later(src, f"intro_{muni}_", ".csv"), src.rows[:20], src.options)
        d.raw_bytes = (
            intro_bytes(Delivery("intro", d.name, d.rows, {**src.options, "encoding": "cp1252"})) + b"\x81\x8d\r\n"
        )
        add(d, "intro_wrong_encoding_bytes", "encoding")
        d = Delivery("intro", f"intro_{muni}_2024.csv", src.rows[:5], src.options)
        add(d, "intro_bad_file_name", "file_name")
        rows = [dict(r) for r in src.rows[:20]]
        target = min(3, len(rows) - 1)
        rows[target] = {**rows[target], "hendelse": "avbrutt", "detalj": f"annet {fnr}"}
        d = Delivery("intro", later(src, f"intro_{muni}_", ".csv"), rows, src.options)
        add(d, "intro_national_id", "national_id", "privacy_incident", target + 2, "detalj")

    if ae := [d for d in by_source.get("adult_education", []) if d.rows]:
        src = rng.choice(ae)
        rows = [dict(r) for r in src.rows[:10] if "_raw_line" not in r]
        rows[-1] = {**rows[-1], "pid": dnr}
        stamp = dt.datetime.combine(src.options["delivery_date"], dt.time(3, 17, 0))
        d = Delivery(
            "adult_education",
            _new_name(names, lambda k: f"vo_{stamp + dt.timedelta(days=k):%Y%m%dT%H%M%S}.jsonl"),
            rows,
            src.options,
        )
        add(d, "ae_national_id_d_number", "national_id", "privacy_incident", len(rows), "pid")

    if komb := [d for d in by_source.get("combination_classes", []) if d.rows]:
        src = rng.choice(komb)
        school, year = src.options["school"], src.options["year"]
        prefix = f"kombinasjon_{school}_{year}-{year + 1}_"
        d = Delivery("combination_classes", later(src, prefix, ".xlsx"), src.rows[:10], src.options)
        d.raw_bytes = b"PK\x03\x04 this is not really a workbook"
        add(d, "komb_corrupt_workbook", "unreadable")
        d = Delivery(
            "combination_classes", later(src, prefix, ".xlsx"), src.rows[:10], {**src.options, "sheet": "Ark1"}
        )
        add(d, "komb_missing_sheet", "unreadable")
        d = Delivery(
            "combination_classes",
            f"kombinasjon_{_bad(school)}_{year}-{year + 1}_{src.options['delivery_date']:%Y%m%d}.xlsx",
            src.rows[:10],
            src.options,
        )
        add(d, "komb_bad_orgnr_in_file_name", "file_name")
        rows = [dict(r) for r in src.rows[:10]]
        rows[0] = {**rows[0], "Merknad": f"Foresatt har fnr {fnr_school[:6]} {fnr_school[6:]}"}
        d = Delivery("combination_classes", later(src, prefix, ".xlsx"), rows, src.options)
        add(d, "komb_national_id_in_remark", "national_id", "privacy_incident", 2, "merknad")

    if tm := [d for d in by_source.get("trondelag_model", []) if d.rows]:
        src = rng.choice(tm)
        d = Delivery("trondelag_model", later(src, "tm_", ".json"), src.rows[:20], src.options)
        text = trondelag_model_bytes(d)
        d.raw_bytes = text[: len(text) * 2 // 3]
        add(d, "tm_truncated_json", "unreadable")
        cases = copy.deepcopy(src.rows[:5])
        cases[0]["events"][0]["note"] = f"ringt bruker, fnr {fnr_tm}"
        d = Delivery("trondelag_model", later(src, "tm_", ".json"), cases, src.options)
        add(d, "tm_national_id_in_unknown_field", "national_id", "privacy_incident", 1, "note")
    return out


def _bad(orgnr: str) -> str:
    return _bad_orgnr(orgnr)
