"""Turn the simulated records into deliveries, and deliveries into landing files.

A `Delivery` is one landing file before it is written: its rows in the source's own
shape. Planning the deliveries is where the sources' habits live: municipalities send
CSV files every other year and resend a few events; adult education exports twice a
year and repeats some events; schools send snapshots of their class lists; the
Trøndelag model exports every open case (and those closed in the last 24 months), and
some early exports hold registrations that later exports withdraw.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter

from schemas.reference import municipalities
from synthetic import parameters as P

INTRO_COLUMNS = [
    "deltaker_pid",
    "kommunenr",
    "hendelse",
    "dato",
    "kjonn",
    "fodselsaar",
    "landbakgrunn",
    "innvandringsgrunn",
    "detalj",
]
AE_FIELDS = ["event_id", "pid", "event", "date", "level", "programme", "school_orgnr", "municipality", "result"]
EXCEL_HEADERS = [
    "Elev-pid",
    "Kjønn",
    "Fødselsår",
    "Bostedskommune",
    "Søknadsdato",
    "Startdato",
    "Sluttdato",
    "Status",
    "Merknad",
]
REMARKS = [
    "",
    "",
    "",
    "Trenger tett oppfølging",
    "Byttet klasse i høst",
    "Søkt om forlenget rett",
    "Mye fravær i perioden",
    "Ønsker yrkesfag",
    "Tolk ved foreldresamtale",
]


@dataclass
class Delivery:
    source: str
    name: str
    rows: list[dict]
    options: dict = field(default_factory=dict)
    raw_bytes: bytes | None = None  # set for deliberately broken files

    @property
    def folder(self) -> str:
        return self.source


PLAN_COLUMNS = ["kommunenr", "aar", "anmodet", "vedtatt", "herav_ema"]


# -- planning ------------------------------------------------------------------------------
def plan_intro(records: list[dict], rng: random.Random) -> list[Delivery]:
    by_muni: dict[str, list[dict]] = {}
    for r in records:
        by_muni.setdefault(r["kommunenr"], []).append(r)
    schedule = [dt.date(y, 12, 31) for y in range(2016, P.DATA_END.year, P.INTRO_DELIVERY_EVERY_YEARS)]
    schedule.append(P.DATA_END)
    out = []
    for muni in sorted(by_muni):
        events = sorted(by_muni[muni], key=lambda r: (r["dato"], r["deltaker_pid"], r["hendelse"]))
        encoding = rng.choices(list(P.INTRO_ENCODINGS), weights=list(P.INTRO_ENCODINGS.values()))[0]
        order = INTRO_COLUMNS[:]
        rng.shuffle(order)  # "all required, in any order"
        previous: list[dict] = []
        start = dt.date(2010, 1, 1)
        for delivery in schedule:
            window = [e for e in events if start < e["dato"] <= delivery]
            resent = [e for e in previous if rng.random() < P.INTRO_REDELIVERED]
            if window or resent:
                out.append(
                    Delivery(
                        "intro",
                        f"intro_{muni}_{delivery:%Y%m%d}.csv",
                        resent + window,
                        {"encoding": encoding, "columns": order, "delivery_date": delivery},
                    )
                )
            previous, start = window, delivery
    return out


def plan_adult_education(records: list[dict], rng: random.Random) -> list[Delivery]:
    exports = []
    y, m = 2015, 7
    while dt.datetime(y, m, 1, 2) <= dt.datetime.combine(P.DATA_END, dt.time()):
        exports.append(dt.datetime(y, m, 1, 2, 0, 0))
        m += P.ADULT_EDUCATION_EXPORT_MONTHS
        y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    exports.append(dt.datetime.combine(P.DATA_END, dt.time(23, 0, 0)))
    events = sorted(records, key=lambda r: (r["date"], r["event_id"]))
    out: list[Delivery] = []
    previous: list[dict] = []
    start = dt.date(2010, 1, 1)
    for i, export in enumerate(exports):
        last = i == len(exports) - 1
        end = export.date()
        window = [e for e in events if start <= e["date"] and (e["date"] <= end if last else e["date"] < end)]
        resent = [e for e in previous if rng.random() < P.ADULT_EDUCATION_REDELIVERED]
        if window or resent:
            out.append(
                Delivery("adult_education", f"vo_{export:%Y%m%dT%H%M%S}.jsonl", resent + window, {"delivery_date": end})
            )
        previous, start = window, end
    return out


def snapshot_dates(school_year: int) -> list[dt.date]:
    final = dt.date(school_year + 1, *P.SCHOOL_END)
    recent = final > P.DATA_END - dt.timedelta(days=400)
    dates = (
        [dt.date(school_year - 1, 10, 1), dt.date(school_year, 3, 1), dt.date(school_year, 9, 15), final]
        if recent
        else [final]
    )
    return [d for d in dates if d <= P.DATA_END]


def snapshot_rows(pupils: list[dict], on: dt.date, rng: random.Random) -> list[dict]:
    """The class list as a school would export it on date `on`."""
    rows = []
    for p in pupils:
        if p["applied"] > on or (p["withdrawn"] and p["withdrawn"] <= on):
            continue
        if p["start"] > on:
            status, start, end = "Venter", None, None
        elif p["end"] > on:
            status, start, end = "Aktiv", p["start"], None
        else:
            status, start, end = p["status"], p["start"], p["end"]
        rows.append(
            {
                "Elev-pid": p["pid"],
                "Kjønn": p["sex"],
                "Fødselsår": p["birth_year"],
                "Bostedskommune": p["municipality"],
                "Søknadsdato": p["applied"],
                "Startdato": start,
                "Sluttdato": end,
                "Status": status,
                "Merknad": rng.choice(REMARKS),
            }
        )
    return rows


def plan_combination(records: list[dict], schools: list[dict], rng: random.Random) -> list[Delivery]:
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in records:
        groups.setdefault((r["school"], r["school_year"]), []).append(r)
    orgnrs = [s["school_orgnr"] for s in schools if s["kind"] == "upper_secondary"]
    text_dates = set(orgnrs[: P.COMBINATION_TEXT_DATE_SCHOOLS])
    mixed = orgnrs[P.COMBINATION_TEXT_DATE_SCHOOLS]  # real dates first, then typed text further down
    out = []
    for (school, year), pupils in sorted(groups.items()):
        pupils.sort(key=lambda p: (p["applied"], p["pid"]))
        for on in snapshot_dates(year):
            rows = snapshot_rows(pupils, on, rng)
            if rows:
                mode = "text" if school in text_dates else "mixed" if school == mixed else "real"
                out.append(
                    Delivery(
                        "combination_classes",
                        f"kombinasjon_{school}_{year}-{year + 1}_{on:%Y%m%d}.xlsx",
                        rows,
                        {"dates": mode, "delivery_date": on, "school": school, "year": year},
                    )
                )
    return out


def plan_trondelag_model(cases: list[dict], rng: random.Random, real_life=None) -> list[Delivery]:
    exports = [d for d in P.TM_EXPORTS if d <= P.DATA_END]
    keep = dt.timedelta(days=int(P.TM_KEEP_CLOSED_MONTHS * 30.44))
    included: dict[str, list[int]] = {}
    per_export: list[list[dict]] = [[] for _ in exports]
    for case in cases:
        for i, on in enumerate(exports):
            events = [e for e in case["events"] if e["date"] <= on]
            if not events:
                continue
            closing = [e["date"] for e in events if e["type"] in ("employed", "left_programme")]
            if closing and closing[0] < on - keep:
                continue
            per_export[i].append({**case, "events": events})
            included.setdefault(case["case_id"], []).append(i)
    # Corrections: an early export holds a registration that later exports no longer have.
    for case_id, indices in included.items():
        if len(indices) > 1 and rng.random() < P.SHARE_TM_CORRECTED:
            i = rng.choice(indices[:-1])
            for case in per_export[i]:
                if case["case_id"] == case_id:
                    first = case["events"][0]["date"]
                    wrong = first + dt.timedelta(days=rng.randint(1, max(1, (exports[i] - first).days)))
                    case["events"] = case["events"] + [
                        {"type": "employed", "date": min(wrong, exports[i]), "sector": "services"}
                    ]
            if real_life is not None:
                real_life["Trøndelag-model cases with a registration withdrawn by a later export"] += 1
    # Renumbered: earlier exports list some cases' events in another order.
    for case_id, indices in included.items():
        if len(indices) > 1 and rng.random() < P.SHARE_TM_RENUMBERED:
            if real_life is not None:
                real_life["Trøndelag-model cases renumbered between exports"] += 1
            for i in indices[:-1]:
                for case in per_export[i]:
                    if case["case_id"] == case_id:
                        case["events"] = list(reversed(case["events"]))
    # Registered in error: a second case for the person, with a wrong left_programme, in
    # one export; later exports still list it, with dates the contract refuses.
    wrong_cases: dict[int, list[str]] = {}
    for case_id, indices in included.items():
        if len(indices) > 1 and rng.random() < P.SHARE_TM_REGISTERED_IN_ERROR:
            real = next(c for c in per_export[indices[0]] if c["case_id"] == case_id)
            if real_life is not None:
                real_life["Trøndelag-model cases registered in error (all rows quarantined later)"] += 1
            opened = real["events"][0]["date"]
            left = min(opened + dt.timedelta(days=rng.randint(5, 30)), exports[indices[0]])
            events = [
                {"type": "mobilised", "date": opened},
                {"type": "left_programme", "date": left, "reason": "other"},
            ]
            wrong = {**real, "case_id": f"{case_id}-E", "events": events}
            per_export[indices[0]].append(wrong)
            for i in indices[1:]:
                per_export[i].append(
                    {**wrong, "events": [{**e, "date": e["date"].strftime("%d.%m.%Y")} for e in events]}
                )
                wrong_cases.setdefault(i, []).append(wrong["case_id"])
    return [
        Delivery(
            "trondelag_model",
            f"tm_{on:%Y%m%d}.json",
            per_export[i],
            {
                "delivery_date": on,
                "exported_at": f"{on.isoformat()}T02:00:00+01:00",
                "quarantined_cases": wrong_cases.get(i, []),
            },
        )
        for i, on in enumerate(exports)
        if per_export[i]
    ]


def expected_quarantine(d: Delivery) -> list[tuple[int, str]]:
    """(row number, case id) of the rows of cases a source listed with refused values."""
    wanted, out, row = set(d.options.get("quarantined_cases", [])), [], 0
    for case in d.rows:
        for _ in case["events"] or [None]:
            row += 1
            if case["case_id"] in wanted:
                out.append((row, case["case_id"]))
    return out


# -- writing ---------------------------------------------------------------------------------
def _ddmmyyyy(value) -> str:
    if value is None:
        return ""
    return value.strftime("%d.%m.%Y") if isinstance(value, dt.date) else str(value)


def intro_bytes(d: Delivery) -> bytes:
    buffer = io.StringIO()
    columns = d.options.get("columns", INTRO_COLUMNS) + ["kommunenavn"]
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    names = municipalities()
    for r in d.rows:
        row = dict(r)
        row["kommunenavn"] = names.get(r["kommunenr"], {}).get("municipality_name", "")
        writer.writerow([_ddmmyyyy(row.get(c)) if c != "fodselsaar" else row.get(c, "") for c in columns])
    encoding = d.options.get("encoding", "utf-8")
    text = buffer.getvalue()
    return text.encode("utf-8-sig") if encoding == "utf-8-sig" else text.encode(encoding)


def adult_education_bytes(d: Delivery) -> bytes:
    lines = []
    for r in d.rows:
        if "_raw_line" in r:
            lines.append(r["_raw_line"])
            continue
        lines.append(
            json.dumps({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()}, ensure_ascii=False)
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_workbook(path: Path, d: Delivery, sheet: str = "Elever") -> None:
    book = xlsxwriter.Workbook(str(path))
    delivered = d.options.get("delivery_date", P.DATA_END)
    book.set_properties({"created": dt.datetime.combine(delivered, dt.time(6, 0))})  # reproducible bytes
    ws = book.add_worksheet(sheet)
    date_format = book.add_format({"num_format": "dd.mm.yyyy"})
    for col, header in enumerate(EXCEL_HEADERS):
        ws.write_string(0, col, header)
    mode = d.options.get("dates", "real")
    for i, r in enumerate(d.rows, start=1):
        for col, header in enumerate(EXCEL_HEADERS):
            value = r.get(header)
            if value is None or value == "":
                continue
            if isinstance(value, dt.date):
                as_text = mode == "text" or (mode == "mixed" and i % 3 == 0)
                if as_text:
                    ws.write_string(i, col, value.strftime("%d.%m.%Y"))
                else:
                    ws.write_datetime(i, col, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, int):
                ws.write_number(i, col, value)
            else:
                ws.write_string(i, col, str(value))
    book.close()


def trondelag_model_bytes(d: Delivery) -> bytes:
    def event(e: dict) -> dict:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in e.items()}

    doc = {
        "exported_at": d.options["exported_at"],
        "cases": [
            {**{k: v for k, v in c.items() if k != "events"}, "events": [event(e) for e in c["events"]]} for c in d.rows
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def plan_settlement(persons: list[dict], rng: random.Random) -> list[Delivery]:
    """IMDi's requests and the councils' decisions per Trøndelag municipality and year,
    from what the county really settled (decisions near it, requests above it in some
    years): a requests file each June (a few municipalities have decided already), the
    decisions each December, and one correction of a decision the next spring. The 2016
    requests come without the optional `herav_ema` column."""
    codes = sorted(c for c, row in municipalities().items() if row["county_name"] == "Trøndelag")
    settled: dict[tuple[str, int], int] = {}
    for p in persons:
        if p["settlement_date"] is not None:
            key = (p["settlement_municipality_code"], p["settlement_date"].year)
            settled[key] = settled.get(key, 0) + 1
    last = max(P.SETTLEMENT_YEARS)
    out = []
    for year in P.PLAN_YEARS:
        requests: list[dict[str, Any]] = []
        decisions: list[dict[str, Any]] = []
        for code in codes:
            base = settled.get((code, min(year, last)), 0) * P.PLAN_AFTER_SIMULATION.get(year, 1.0)
            decided = max(0, round(base * rng.uniform(*P.PLAN_DECIDED_NOISE)))
            factor = P.PLAN_YEARS_DECIDED_BELOW_REQUEST.get(year)
            requested = round(decided * rng.uniform(*factor)) + rng.randint(0, 3) if factor else decided
            share = P.PLAN_MINORS_SHARE.get(year, P.PLAN_MINORS_SHARE["default"])
            minors = min(decided, round(decided * rng.uniform(0, 2 * share)))
            early = rng.random() < P.PLAN_DECIDED_EARLY
            requests.append(
                {
                    "kommunenr": code,
                    "aar": year,
                    "anmodet": requested,
                    "vedtatt": decided if early else None,
                    "herav_ema": minors if early else None,
                }
            )
            decisions.append(
                {"kommunenr": code, "aar": year, "anmodet": requested, "vedtatt": decided, "herav_ema": minors}
            )
        asked_on = dt.date(year - 1, *P.PLAN_REQUEST_DELIVERY)
        decided_on = dt.date(year - 1, *P.PLAN_DECISION_DELIVERY)
        columns = [c for c in PLAN_COLUMNS if not (year == 2016 and c == "herav_ema")]
        for on, rows in ((asked_on, requests), (decided_on, decisions)):
            if on <= P.DATA_END:
                out.append(
                    Delivery(
                        "settlement_plan",
                        f"bosetting_{on:%Y%m%d}.csv",
                        rows,
                        {"delivery_date": on, "columns": columns if rows is requests else PLAN_COLUMNS},
                    )
                )
        corrected_on = dt.date(year, 3, 1)
        revisable = [d for d in decisions if d["vedtatt"] and d["vedtatt"] > 5]
        if corrected_on <= P.DATA_END and year in (2019, 2023) and revisable:  # a council revised its decision
            row = dict(rng.choice(revisable))
            row["vedtatt"] = max(row["herav_ema"] or 0, row["vedtatt"] - rng.randint(1, 5))
            out.append(
                Delivery(
                    "settlement_plan",
                    f"bosetting_{corrected_on:%Y%m%d}.csv",
                    [row],
                    {"delivery_date": corrected_on, "columns": PLAN_COLUMNS},
                )
            )
    return out


def settlement_plan_bytes(d: Delivery) -> bytes:
    buffer = io.StringIO()
    columns = d.options.get("columns", PLAN_COLUMNS)
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    for r in d.rows:
        writer.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return buffer.getvalue().encode("utf-8")


def settlement_plan_truth(deliveries: list[Delivery]) -> list[dict]:
    """marts.settlement_plan as the contract defines it: the newest delivery per
    municipality and year (delivery dates are unique here)."""
    newest: dict[tuple[str, int], dict] = {}
    for d in sorted((d for d in deliveries if d.source == "settlement_plan"), key=lambda d: d.options["delivery_date"]):
        for r in d.rows:
            newest[(r["kommunenr"], r["aar"])] = {
                "municipality_code": r["kommunenr"],
                "year": r["aar"],
                "requested": r["anmodet"],
                "decided": r["vedtatt"],
                "unaccompanied_minors": r.get("herav_ema"),
                "source_file": d.name,
            }
    return [newest[k] for k in sorted(newest)]


def write(d: Delivery, root: Path) -> Path:
    folder = root / d.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / d.name
    if d.raw_bytes is not None:
        path.write_bytes(d.raw_bytes)
    elif d.source == "intro":
        path.write_bytes(intro_bytes(d))
    elif d.source == "adult_education":
        path.write_bytes(adult_education_bytes(d))
    elif d.source == "combination_classes":
        write_workbook(path, d, d.options.get("sheet", "Elever"))
    elif d.source == "settlement_plan":
        path.write_bytes(settlement_plan_bytes(d))
    else:
        path.write_bytes(trondelag_model_bytes(d))
    return path
