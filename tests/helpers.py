"""Small builders for hand-made landing files used by focused tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter

from synthetic.model import make_orgnrs

PID_A = hashlib.sha256(b"a").hexdigest()
PID_B = hashlib.sha256(b"b").hexdigest()
PID_C = hashlib.sha256(b"c").hexdigest()
SCHOOL = make_orgnrs(97400000, 1)[0]
CENTRE = make_orgnrs(97600000, 1)[0]

INTRO_HEADER = "deltaker_pid;kommunenr;hendelse;dato;kjonn;fodselsaar;landbakgrunn;innvandringsgrunn;detalj"


def intro_row(
    pid=PID_A,
    muni="5001",
    event="bosatt",
    date="15.03.2023",
    sex="K",
    year="1990",
    country="UKR",
    reason="kollektiv_beskyttelse",
    detail="",
) -> str:
    return ";".join([pid, muni, event, date, sex, str(year), country, reason, detail])


def write_intro(folder: Path, name: str, rows: list[str], encoding: str = "utf-8", header: str = INTRO_HEADER) -> Path:
    path = folder / "intro" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    return path


def ae_event(
    pid=PID_A,
    event="applied",
    date="2023-04-01",
    level="norwegian",
    programme=None,
    school=CENTRE,
    muni="5001",
    result=None,
    event_id=None,
) -> dict:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "pid": pid,
        "event": event,
        "date": date,
        "level": level,
        "programme": programme,
        "school_orgnr": school,
        "municipality": muni,
        "result": result,
    }


def write_jsonl(folder: Path, name: str, events: list, raw_lines: Sequence[str] = ()) -> Path:
    path = folder / "adult_education" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(e, ensure_ascii=False) for e in events] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


HEADERS = [
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


def pupil(
    pid=PID_A,
    sex="M",
    year=2006,
    muni="5001",
    applied=dt.date(2023, 3, 1),
    start=dt.date(2023, 8, 18),
    end=None,
    status="Aktiv",
    remark="",
) -> list:
    return [pid, sex, year, muni, applied, start, end, status, remark]


def write_workbook(
    folder: Path,
    name: str,
    rows: list[list],
    text_dates_from: int | None = None,
    sheet: str = "Elever",
    headers=HEADERS,
) -> Path:
    """Rows as in the contract; dates as real Excel dates, or as typed text from row N on."""
    path = folder / "combination_classes" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet(sheet)
    fmt = book.add_format({"num_format": "dd.mm.yyyy"})
    for c, h in enumerate(headers):
        ws.write_string(0, c, h)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, dt.date):
                if text_dates_from is not None and r >= text_dates_from:
                    ws.write_string(r, c, value.strftime("%d.%m.%Y"))
                else:
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), fmt)
            elif isinstance(value, int):
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, str(value))
    book.close()
    return path


def tm_case(case_id="TM-2023-00001", pid=PID_A, office="5001", by="NAV", events=None) -> dict:
    return {
        "case_id": case_id,
        "pid": pid,
        "nav_office": office,
        "mobilised_by": by,
        "events": events
        or [{"type": "mobilised", "date": "2023-01-09"}, {"type": "work_training_started", "date": "2023-02-01"}],
    }


def write_tm(folder: Path, name: str, cases: list[dict], exported_at="2024-03-01T02:00:00+01:00") -> Path:
    path = folder / "trondelag_model" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exported_at": exported_at, "cases": cases}, ensure_ascii=False), encoding="utf-8")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
