"""The privacy corpus: one landing file per (spelling, place) of a national identity number.

Every file holds one number of its own (so a leak can be traced to its file) written in
one of the spellings the source contract lists, in one of the places it lists. Apart
from the number each file is a valid delivery, so the only reason to refuse it is the
number. `stdnum.no.fodselsnummer` is the reference for every number used.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter
from stdnum.no import fodselsnummer

from synthetic.model import national_id
from tests import helpers as h

SPELLINGS = {
    "plain": lambda n: n,
    "run into letters": lambda n: f"fnr{n}",
    "run into a prefix": lambda n: f"TM{n}",
    "run into underscores": lambda n: f"ref_{n}_x",
    "split by a space": lambda n: f"{n[:6]} {n[6:]}",
    "split by a no-break space": lambda n: f"{n[:6]}\u00a0{n[6:]}",
    "split by a dot": lambda n: f"{n[:6]}.{n[6:]}",
    "split by a dash": lambda n: f"{n[:6]}-{n[6:]}",
    "split in three": lambda n: f"{n[:2]}.{n[2:4]}.{n[4:6]} {n[6:]}",
    "an Excel float": lambda n: f"{n}.0",
    "scientific notation": lambda n: f"{n[0]}.{n[1:]}E+10",
    "leading zero lost": lambda n: n[1:],
}


@dataclass
class Case:
    file: Path
    source: str
    spelling: str
    place: str
    number: str  # the 11 digits
    written: str  # as written in the file


class Numbers:
    """Distinct valid numbers; those for `leading zero lost` start with 0 (days 1–9)."""

    def __init__(self, seed: int = 2024):
        self.rng = random.Random(seed)
        self.used: set[str] = set()

    def next(self, leading_zero: bool = False, d_number: bool = False) -> str:
        while True:
            day = self.rng.randint(1, 9) if leading_zero else self.rng.randint(10, 28)
            birth = dt.date(self.rng.randint(1950, 2005), self.rng.randint(1, 12), day)
            n = national_id(self.rng, birth, d_number=d_number)
            if n not in self.used and fodselsnummer.is_valid(n) and (n[0] == "0") == leading_zero:
                self.used.add(n)
                return n


def _intro(folder: Path, name: str, header: str = h.INTRO_HEADER, rows: list[str] | None = None) -> Path:
    rows = rows if rows is not None else [h.intro_row(), h.intro_row(h.PID_B, event="startet", date="01.04.2023")]
    return h.write_intro(folder, name, rows, header=header)


def build(folder: Path) -> list[Case]:
    """Write the corpus under `folder` (a landing root); one Case per file."""
    nums = Numbers()
    cases: list[Case] = []
    day = iter(range(1, 10_000))

    def intro_name() -> str:
        return f"intro_5001_{dt.date(2024, 1, 1) + dt.timedelta(days=next(day)):%Y%m%d}.csv"

    def number_for(spelling: str) -> str:
        return nums.next(leading_zero=spelling == "leading zero lost")

    # every spelling in an intro field the contract names (detalj), in a code column
    # (kommunenr), and in a column the contract does not name
    for spelling, write in SPELLINGS.items():
        for place in ("contract field", "code column", "unknown column"):
            n = number_for(spelling)
            w = write(n)
            if place == "contract field":
                rows = [h.intro_row(), h.intro_row(h.PID_B, event="avbrutt", detail=f"annet {w}")]
                path = _intro(folder, intro_name(), rows=rows)
            elif place == "code column":
                path = _intro(folder, intro_name(), rows=[h.intro_row(), h.intro_row(h.PID_B, muni=w)])
            else:
                rows = [h.intro_row() + ";", h.intro_row(h.PID_B) + f";{w}"]
                path = _intro(folder, intro_name(), header=h.INTRO_HEADER + ";kommentar", rows=rows)
            cases.append(Case(path, "intro", spelling, place, n, w))

    def add(source: str, place: str, path: Path, n: str, w: str, spelling: str = "plain") -> None:
        cases.append(Case(path, source, spelling, place, n, w))

    # -- intro: the other places ------------------------------------------------------------------
    n = nums.next()
    add(
        "intro",
        "header",
        _intro(
            folder,
            intro_name(),
            header=h.INTRO_HEADER + f";{n}",
            rows=[h.intro_row() + ";", h.intro_row(h.PID_B) + ";"],
        ),
        n,
        n,
    )
    n = nums.next()
    add(
        "intro",
        "column without a header",
        _intro(
            folder,
            intro_name(),
            header=h.INTRO_HEADER + ";",
            rows=[h.intro_row() + ";", h.intro_row(h.PID_B) + f";{n}"],
        ),
        n,
        n,
    )
    n = nums.next()
    add(
        "intro",
        "column starting with _",
        _intro(
            folder,
            intro_name(),
            header=h.INTRO_HEADER + ";_intern",
            rows=[h.intro_row() + ";x", h.intro_row(h.PID_B) + f";{n}"],
        ),
        n,
        n,
    )
    n = nums.next()
    add(
        "intro",
        "line that fails to parse",
        _intro(folder, intro_name(), rows=[h.intro_row(), f'"{n};;;', h.intro_row(h.PID_B)]),
        n,
        n,
    )
    n = nums.next()
    w = f"intro_5001_{n}.csv"
    add("intro", "file name", _intro(folder, w), n, n)
    n = nums.next(leading_zero=True)
    w = f"intro_5001_{n[:6]} {n[6:]}.csv"
    add("intro", "file name", _intro(folder, w), n, f"{n[:6]} {n[6:]}", "split by a space")
    n = nums.next()
    w = f"fnr{n}_intro_5001_20240101.csv"
    add("intro", "file name", _intro(folder, w), n, n, "run into letters")

    # -- adult education (JSON Lines) ---------------------------------------------------------------
    stamps = iter(dt.datetime(2024, 2, 1, 3, 0) + dt.timedelta(minutes=k) for k in range(10_000))

    def jsonl(events=None, raw_lines=()) -> Path:
        events = events if events is not None else [h.ae_event(), h.ae_event(h.PID_B, event="offered")]
        return h.write_jsonl(folder, f"vo_{next(stamps):%Y%m%dT%H%M%S}.jsonl", events, raw_lines)

    n = nums.next(d_number=True)
    add("adult_education", "contract field (D-number)", jsonl([h.ae_event(), h.ae_event(pid=n)]), n, n)
    n = nums.next()
    add("adult_education", "JSON key", jsonl([h.ae_event(), {**h.ae_event(h.PID_B), f"fnr_{n}": "x"}]), n, n)
    n = nums.next()
    add("adult_education", "unknown field", jsonl([h.ae_event(), {**h.ae_event(h.PID_B), "merknad": f"fnr {n}"}]), n, n)
    n = nums.next()
    add(
        "adult_education",
        "nested object",
        jsonl([h.ae_event(), {**h.ae_event(h.PID_B), "extra": {"ids": [int(n)]}}]),
        n,
        n,
    )
    n = nums.next()
    add("adult_education", "line that fails to parse", jsonl(raw_lines=[f'{{"pid": "{n}", broken']), n, n)
    n = nums.next()
    escaped = "".join(f"\\u{ord(c):04x}" for c in n)
    add(
        "adult_education",
        "JSON unicode escapes",
        jsonl(raw_lines=[json.dumps(h.ae_event(h.PID_C))[:-1] + f', "note": "{escaped}"}}']),
        n,
        escaped,
    )
    n = nums.next()
    add(
        "adult_education",
        "number as a JSON number",
        jsonl([h.ae_event(), {**h.ae_event(h.PID_B), "municipality": int(n)}]),
        n,
        n,
    )

    # -- Trøndelag model (JSON document) -------------------------------------------------------------
    tm_days = iter(dt.date(2024, 3, 1) + dt.timedelta(days=k) for k in range(10_000))

    def tm(cases_, **extra) -> Path:
        path = h.write_tm(folder, f"tm_{next(tm_days):%Y%m%d}.json", cases_)
        if extra:
            doc = json.loads(path.read_text())
            doc.update(extra)
            path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        return path

    n = nums.next()
    add("trondelag_model", "case_id", tm([h.tm_case(case_id=f"TM{n}")]), n, f"TM{n}", "run into a prefix")
    n = nums.next()
    add(
        "trondelag_model",
        "sector",
        tm(
            [
                h.tm_case(
                    events=[
                        {"type": "mobilised", "date": "2023-01-09"},
                        {"type": "employed", "date": "2023-03-01", "sector": f"fnr{n}"},
                    ]
                )
            ]
        ),
        n,
        f"fnr{n}",
        "run into letters",
    )
    n = nums.next()
    add(
        "trondelag_model",
        "trade",
        tm(
            [
                h.tm_case(
                    events=[{"type": "apprenticeship_started", "date": "2023-08-15", "trade": f"{n[:6]}\u00a0{n[6:]}"}]
                )
            ]
        ),
        n,
        f"{n[:6]}\u00a0{n[6:]}",
        "split by a no-break space",
    )
    n = nums.next()
    add("trondelag_model", "unknown top-level key", tm([h.tm_case()], kontakt=n), n, n)
    n = nums.next()
    add("trondelag_model", "JSON key of a case", tm([{**h.tm_case(), n: True}]), n, n)
    n = nums.next()
    path = tm([h.tm_case()])
    path.write_text(path.read_text()[:-2] + f', "x": "{n}"', encoding="utf-8")  # truncated document
    add("trondelag_model", "document that fails to parse", path, n, n)

    # -- combination classes (workbooks) ------------------------------------------------------------
    book_days = iter(dt.date(2023, 10, 1) + dt.timedelta(days=k) for k in range(10_000))

    def book(rows=None, headers=h.HEADERS, extra=None, sheet="Elever", numbers=None) -> Path:
        name = f"kombinasjon_{h.SCHOOL}_2023-2024_{next(book_days):%Y%m%d}.xlsx"
        path = h.write_workbook(folder, name, rows or [h.pupil(), h.pupil(h.PID_B)], sheet=sheet, headers=headers)
        if extra or numbers:  # rewrite with an extra sheet / numeric cells
            rows = rows or [h.pupil(), h.pupil(h.PID_B)]
            wb = xlsxwriter.Workbook(str(path))
            ws = wb.add_worksheet(sheet)
            for c, head in enumerate(headers):
                ws.write_string(0, c, head)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row):
                    if isinstance(value, dt.date):
                        ws.write_datetime(
                            r, c, dt.datetime.combine(value, dt.time()), wb.add_format({"num_format": "dd.mm.yyyy"})
                        )
                    elif value not in (None, ""):
                        ws.write(r, c, value)
            for (r, c), value in (numbers or {}).items():
                ws.write_number(r, c, value)
            if extra:
                name2, cell = extra
                ws2 = wb.add_worksheet(name2)
                ws2.write_string(0, 0, "notat")
                if cell is not None:
                    ws2.write(1, 0, cell)
            wb.close()
        return path

    n = nums.next()
    add(
        "combination_classes",
        "Merknad (free text)",
        book([h.pupil(), h.pupil(h.PID_B, remark=f"foresatt {n[:6]} {n[6:]}")]),
        n,
        f"{n[:6]} {n[6:]}",
        "split by a space",
    )
    n = nums.next()
    add(
        "combination_classes",
        "Excel number in a contract column",
        book(numbers={(2, 3): float(n)}),
        n,
        n,
        "an Excel float",
    )
    n = nums.next(leading_zero=True)
    add(
        "combination_classes",
        "Excel number, leading zero lost",
        book(numbers={(2, 2): float(int(n))}),
        n,
        n[1:],
        "leading zero lost",
    )
    n = nums.next()
    add("combination_classes", "header", book(headers=h.HEADERS + [n]), n, n)
    n = nums.next()
    add(
        "combination_classes",
        "column without a header",
        book(rows=[h.pupil() + [""], h.pupil(h.PID_B) + [n]], headers=h.HEADERS + [""]),
        n,
        n,
    )
    n = nums.next()
    add(
        "combination_classes",
        "column starting with _",
        book(rows=[h.pupil() + [""], h.pupil(h.PID_B) + [n]], headers=h.HEADERS + ["_id"]),
        n,
        n,
    )
    n = nums.next()
    add("combination_classes", "another sheet", book(extra=("Notater", n)), n, n)
    n = nums.next()
    add("combination_classes", "another sheet (number cell)", book(extra=("Notater", float(n))), n, n, "an Excel float")
    n = nums.next()
    add("combination_classes", "sheet name", book(extra=(f"Elev {n}", None)), n, n)
    n = nums.next()
    add(
        "combination_classes",
        "file name",
        h.write_workbook(folder, f"kombinasjon_{h.SCHOOL}_2023-2024_20231001_{n}.xlsx", [h.pupil()]),
        n,
        n,
    )
    return cases


def spelled_forms(case: Case) -> set[bytes]:
    """Byte strings that would betray the case's number in any record (UTF-8 and UTF-16)."""
    texts = {
        case.number,
        case.written,
        case.number[1:] if case.number.startswith("0") else case.number,
        f"{case.number[:6]} {case.number[6:]}",
    }
    out = set()
    for t in texts:
        out |= {t.encode("utf-8"), t.encode("utf-16-le")}
    return out
