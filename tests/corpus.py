"""The bad-input corpus: files a real landing zone will sooner or later contain.

Each `Case` builds one landing entry in its real format and states what the load must
make of it. `tests/test_bad_input.py` runs every case through the real read path (scan,
read worker with its limits, reader, validation) and asserts the outcome and the
reconciliation; `docs/bad-input-corpus.md` is rendered from this list
(`python -m tests.corpus` rewrites it; a test checks it is up to date).

Outcomes: `loaded` (with rows valid / quarantined), `quarantined` or `privacy_incident`
(the whole file refused, `rule` says why), and for entries that are not read at all the
landing scan's action: `refused`, `waiting` or `ignored` (`rule` is the anomaly kind).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from tests import helpers as h

NATIONAL_ID = "15019012317"  # synthetic, valid control digits (also used by the privacy tests)
TODAY = dt.date.today()


@dataclass(frozen=True)
class Case:
    source: str  # intro | adult_education | combination_classes | trondelag_model | landing
    kind: str  # what is wrong, in a few words
    build: Callable[[Path], Path]
    outcome: str  # loaded | quarantined | privacy_incident | refused | waiting | ignored
    rule: str | None = None
    rows_read: int | None = None
    rows_valid: int | None = None
    origin: str = "real"  # contract | issue | real (what real systems produce)

    @property
    def id(self) -> str:
        return f"{self.source}:{self.kind}"


# --- builders -----------------------------------------------------------------------------


def _intro(name="intro_5001_20240101.csv", rows=None, header=h.INTRO_HEADER, encoding="utf-8"):
    rows = [h.intro_row(), h.intro_row(h.PID_B)] if rows is None else rows
    return lambda land: h.write_intro(land, name, rows, encoding=encoding, header=header)


def _intro_bytes(data: bytes, name="intro_5001_20240101.csv"):
    def build(land: Path) -> Path:
        path = land / "intro" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return build


GOOD_CSV = ("\r\n".join([h.INTRO_HEADER, h.intro_row(), h.intro_row(h.PID_B)]) + "\r\n").encode()


def _jsonl(lines: list, name="vo_20240101T020000.jsonl"):
    """Lines: dicts (dumped) or raw strings."""

    def build(land: Path) -> Path:
        path = land / "adult_education" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        path.write_text(text + ("\n" if lines else ""), encoding="utf-8")
        return path

    return build


def _jsonl_bytes(data: bytes, name="vo_20240101T020000.jsonl"):
    def build(land: Path) -> Path:
        path = land / "adult_education" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return build


AE_OK = h.ae_event(event_id="0b0c8a0e-0000-4000-8000-000000000001")
AE_OK2 = h.ae_event(h.PID_B, event_id="0b0c8a0e-0000-4000-8000-000000000002")

BOOK = f"kombinasjon_{h.SCHOOL}_2023-2024_20240101.xlsx"


def _book(rows=None, headers=h.HEADERS, sheet="Elever", text_dates_from=None, name=BOOK):
    rows = [h.pupil(), h.pupil(h.PID_B)] if rows is None else rows
    return lambda land: h.write_workbook(
        land, name, rows, text_dates_from=text_dates_from, sheet=sheet, headers=headers
    )


def _book_custom(fill: Callable, name=BOOK):
    """A workbook written cell by cell: `fill(workbook, worksheet)` after the header row."""

    def build(land: Path) -> Path:
        path = land / "combination_classes" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        book = xlsxwriter.Workbook(str(path))
        ws = book.add_worksheet("Elever")
        for c, header in enumerate(h.HEADERS):
            ws.write_string(0, c, header)
        fill(book, ws)
        book.close()
        return path

    return build


def _pupil_cells(ws, row: int, pid=h.PID_A, fmt=None, status="Aktiv") -> None:
    for c, value in enumerate(h.pupil(pid, status=status)):
        if isinstance(value, dt.date):
            ws.write_datetime(row, c, dt.datetime.combine(value, dt.time()), fmt)
        elif isinstance(value, int):
            ws.write_number(row, c, value)
        elif value:
            ws.write_string(row, c, value)


def _far_cell(book, ws):
    """The issue's poison: one cell at XFD1048576, the last cell of a sheet (calamine
    sizes its grid from the dimension and asks for ≈ 512 GB)."""
    _pupil_cells(ws, 1, fmt=book.add_format({"num_format": "dd.mm.yyyy"}))
    ws.write_string(1048575, 16383, "x")


def _merged(book, ws):
    fmt = book.add_format({"num_format": "dd.mm.yyyy"})
    _pupil_cells(ws, 1, fmt=fmt)
    _pupil_cells(ws, 2, h.PID_B, fmt=fmt, status=None)
    ws.merge_range(1, 7, 2, 7, "Aktiv")  # Status merged over both pupils: only the first keeps it


def _formulas(book, ws):
    fmt = book.add_format({"num_format": "dd.mm.yyyy"})
    _pupil_cells(ws, 1, fmt=fmt)
    ws.write_formula(1, 2, "=2000+6", None, 2006)  # Fødselsår as a formula with its cached value
    ws.write_formula(1, 3, '="50"&"01"', None, "5001")


def _formula_no_cache(book, ws):
    fmt = book.add_format({"num_format": "dd.mm.yyyy"})
    _pupil_cells(ws, 1, fmt=fmt)
    ws.write_formula(1, 2, "=2000+6")  # no cached value: what a generator that never ran Excel writes


def _date_serials(book, ws):
    _pupil_cells(ws, 1)  # dates written as plain numbers (serials), no date format
    ws.write_number(1, 4, 44986)
    ws.write_number(1, 5, 45156)


def _float_years(book, ws):
    fmt = book.add_format({"num_format": "dd.mm.yyyy"})
    _pupil_cells(ws, 1, fmt=fmt)
    ws.write_number(1, 2, 2006.0)


def _many_book_columns(book, ws):
    fmt = book.add_format({"num_format": "dd.mm.yyyy"})
    for c in range(len(h.HEADERS), len(h.HEADERS) + 10_000):
        ws.write_string(0, c, f"x{c}")
    _pupil_cells(ws, 1, fmt=fmt)


def _huge_string_book(megabytes: int):
    """A small workbook (≈ 0.5 MB) whose one free-text cell unpacks to `megabytes` MB: the
    shared-strings part is rewritten with a huge string, streamed so the test stays small."""

    def build(land: Path) -> Path:
        seed = land / "seed.xlsx"
        h.write_workbook(land, BOOK, [h.pupil(remark="PLACEHOLDER")])
        source = land / "combination_classes" / BOOK
        source.rename(seed)
        with zipfile.ZipFile(seed) as zin, zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename != "xl/sharedStrings.xml":
                    zout.writestr(item, data)
                    continue
                head, tail = data.decode().split("PLACEHOLDER")
                with zout.open(item.filename, "w", force_zip64=True) as out:
                    out.write(head.encode())
                    chunk = b"A" * 2**20
                    for _ in range(megabytes):
                        out.write(chunk)
                    out.write(tail.encode())
        seed.unlink()
        return source

    return build


def _file(folder: str, name: str, data: bytes):
    def build(land: Path) -> Path:
        path = land / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return build


def _tm(cases=None, exported_at="2024-03-01T02:00:00+01:00", name="tm_20240301.json"):
    cases = [h.tm_case()] if cases is None else cases
    return lambda land: h.write_tm(land, name, cases, exported_at=exported_at)


def _tm_text(text: str, name="tm_20240301.json"):
    return _file("trondelag_model", name, text.encode("utf-8"))


def _tm_replace(old: str, new: str, cases=None):
    """A good export with one piece of its text replaced (for what json.dumps cannot write)."""

    def build(land: Path) -> Path:
        path = _tm(cases)(land)
        path.write_text(path.read_text("utf-8").replace(old, new, 1), "utf-8")
        return path

    return build


def _symlink(target: str, name="intro/intro_5001_20240101.csv"):
    def build(land: Path) -> Path:
        path = land / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        return path

    return build


def _fifo(name="intro/intro_5001_20240101.csv"):
    def build(land: Path) -> Path:
        path = land / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        return path

    return build


def _dir(name: str):
    def build(land: Path) -> Path:
        path = land / name
        path.mkdir(parents=True)
        (path / "intro_5001_20240101.csv").write_bytes(GOOD_CSV)
        return path

    return build


def _fresh(build_file: Callable[[Path], Path]):
    """A file modified just now: still being written by the sender."""

    def build(land: Path) -> Path:
        path = build_file(land)
        now = time.time()
        os.utime(path, (now, now))
        return path

    return build


def _old(build_file: Callable[[Path], Path]):
    def build(land: Path) -> Path:
        path = build_file(land)
        os.utime(path, (time.time() - 3600, time.time() - 3600))
        return path

    return build


WIDE_HEADER = h.INTRO_HEADER + "".join(f";extra{i}" for i in range(10_000))
WIDE_ROW = h.intro_row() + ";" * 10_000
FUTURE = (TODAY + dt.timedelta(days=400)).strftime("%d.%m.%Y")
DEEP = '{"a": ' * 50_000 + "1" + "}" * 50_000
BIG_NUMBER = "1" * 5000


# --- the corpus -----------------------------------------------------------------------------

CASES: list[Case] = [
    # intro: CSV
    Case("intro", "good file", _intro(), "loaded", None, 2, 2, "contract"),
    Case(
        "intro",
        "Windows-1252 encoding",
        _intro(encoding="cp1252", rows=[h.intro_row(), h.intro_row(h.PID_B)]),
        "loaded",
        None,
        2,
        2,
        "contract",
    ),
    Case("intro", "UTF-8 with BOM", _intro_bytes(b"\xef\xbb\xbf" + GOOD_CSV), "loaded", None, 2, 2, "contract"),
    Case(
        "intro",
        "mixed encodings (UTF-8 and Windows-1252 lines)",
        _intro_bytes(
            (h.INTRO_HEADER + ";kommunenavn\r\n" + h.intro_row() + ";Trøndelag\r\n").encode()
            + (h.intro_row(h.PID_B) + ";Trøndelag\r\n").encode("cp1252")
        ),
        "loaded",
        None,
        2,
        2,
    ),
    Case("intro", "UTF-16 encoding", _intro_bytes(GOOD_CSV.decode().encode("utf-16")), "quarantined", "encoding", 0, 0),
    Case("intro", "empty file (0 bytes)", _intro_bytes(b""), "quarantined", "unreadable", 0, 0),
    Case("intro", "only a header", _intro(rows=[]), "loaded", None, 0, 0),
    Case(
        "intro",
        "required column missing",
        _intro(header=h.INTRO_HEADER.replace(";detalj", ""), rows=[h.intro_row()[:-1]]),
        "quarantined",
        "missing_columns",
        1,
        0,
        "contract",
    ),
    Case(
        "intro",
        "duplicated header",
        _intro(header=h.INTRO_HEADER + ";kommunenr", rows=[h.intro_row() + ";5001"]),
        "quarantined",
        "duplicate_columns",
        0,
        0,
        "issue",
    ),
    Case(
        "intro",
        "header differing only in case and spaces",
        _intro(header=h.INTRO_HEADER + "; Kommunenr ", rows=[h.intro_row() + ";5001"]),
        "quarantined",
        "duplicate_columns",
        0,
        0,
    ),
    Case(
        "intro",
        "a `_row` column",
        _intro(header=h.INTRO_HEADER + ";_row", rows=[h.intro_row() + ";7"]),
        "loaded",
        None,
        1,
        1,
        "issue",
    ),
    Case(
        "intro",
        "10 000 extra columns",
        _intro(header=WIDE_HEADER, rows=[WIDE_ROW]),
        "quarantined",
        "too_many_columns",
        0,
        0,
        "issue",
    ),
    Case(
        "intro",
        "a 5 000-digit pid",
        _intro(rows=[h.intro_row(pid=BIG_NUMBER), h.intro_row(h.PID_B)]),
        "loaded",
        "pid_format",
        2,
        1,
        "issue",
    ),
    Case(
        "intro",
        "very long line (1 MB in an extra column)",
        _intro(header=h.INTRO_HEADER + ";note", rows=[h.intro_row() + ";" + "x" * 2**20, h.intro_row(h.PID_B) + ";"]),
        "loaded",
        None,
        2,
        2,
    ),
    Case(
        "intro",
        "control characters in a field",
        _intro(rows=[h.intro_row(event="bosatt\x07\x1b"), h.intro_row(h.PID_B)]),
        "loaded",
        "code_in_set",
        2,
        1,
    ),
    Case(
        "intro",
        "NUL bytes",
        _intro_bytes(GOOD_CSV.replace(b"bosatt", b"bos\x00att", 1)),
        "quarantined",
        "encoding",
        0,
        0,
    ),
    Case(
        "intro",
        "a row with too few fields",
        _intro(rows=[h.intro_row()[:-20], h.intro_row(h.PID_B)]),
        "loaded",
        "short_row",
        2,
        1,
    ),
    Case(
        "intro",
        "a row with too many fields",
        _intro(rows=[h.intro_row() + ";x;y", h.intro_row(h.PID_B)]),
        "quarantined",
        "unreadable",
        0,
        0,
    ),
    Case(
        "intro",
        "unbalanced quote",
        _intro(rows=['"' + h.intro_row(), h.intro_row(h.PID_B)]),
        "quarantined",
        "unreadable",
        0,
        0,
    ),
    Case(
        "intro",
        "comma instead of semicolon",
        _intro(header=h.INTRO_HEADER.replace(";", ","), rows=[h.intro_row().replace(";", ",")]),
        "quarantined",
        "missing_columns",
        1,
        0,
    ),
    Case(
        "intro", "Excel's `sep=;` first line", _intro_bytes(b"sep=;\r\n" + GOOD_CSV), "quarantined", "unreadable", 0, 0
    ),
    Case(
        "intro", "LF and CRLF line ends mixed", _intro_bytes(GOOD_CSV.replace(b"\r\n", b"\n", 1)), "loaded", None, 2, 2
    ),
    Case(
        "intro",
        "blank line in the middle",
        _intro(rows=[h.intro_row(), "", h.intro_row(h.PID_B)]),
        "loaded",
        "required",
        3,
        2,
    ),
    Case(
        "intro",
        "trailing semicolons (an empty extra column)",
        _intro(header=h.INTRO_HEADER + ";", rows=[h.intro_row() + ";", h.intro_row(h.PID_B) + ";"]),
        "loaded",
        None,
        2,
        2,
    ),
    Case(
        "intro",
        "quoted field with a line break",
        _intro(rows=[h.intro_row(detail='"a\r\nb"'), h.intro_row(h.PID_B)]),
        "loaded",
        "detail_for_event",
        2,
        1,
    ),
    Case(
        "intro",
        "impossible date (31.02.2024)",
        _intro(rows=[h.intro_row(date="31.02.2024"), h.intro_row(h.PID_B)]),
        "loaded",
        "date_format",
        2,
        1,
        "contract",
    ),
    Case(
        "intro",
        "date as an Excel serial number",
        _intro(rows=[h.intro_row(date="45000"), h.intro_row(h.PID_B)]),
        "loaded",
        "date_format",
        2,
        1,
    ),
    Case(
        "intro",
        "date after the delivery date",
        _intro(rows=[h.intro_row(date=FUTURE), h.intro_row(h.PID_B)]),
        "loaded",
        "date_after_delivery",
        2,
        1,
        "contract",
    ),
    Case("intro", "wrong file name", _intro(name="intro_20240101.csv"), "quarantined", "file_name", 0, 0, "contract"),
    Case(
        "intro",
        "file name with a byte that is not UTF-8",
        _intro_bytes(GOOD_CSV, name=b"intro_5001_2024\xff0101.csv".decode("utf-8", "surrogateescape")),
        "quarantined",
        "file_name",
        0,
        0,
        "issue",
    ),
    Case(
        "intro",
        "national identity number in a field",
        _intro(rows=[h.intro_row(detail=NATIONAL_ID), h.intro_row(h.PID_B)]),
        "privacy_incident",
        "national_id",
        2,
        0,
        "contract",
    ),
    Case("intro", "binary junk", _intro_bytes(bytes(range(256)) * 64), "quarantined", "encoding", 0, 0),
    # adult education: JSON Lines
    Case("adult_education", "good file", _jsonl([AE_OK, AE_OK2]), "loaded", None, 2, 2, "contract"),
    Case(
        "adult_education",
        "UTF-8 with BOM",
        _jsonl_bytes(b"\xef\xbb\xbf" + json.dumps(AE_OK).encode() + b"\n"),
        "loaded",
        None,
        1,
        1,
    ),
    Case(
        "adult_education",
        "CRLF line ends",
        _jsonl_bytes((json.dumps(AE_OK) + "\r\n" + json.dumps(AE_OK2) + "\r\n").encode()),
        "loaded",
        None,
        2,
        2,
    ),
    Case("adult_education", "a line nested 50 000 deep", _jsonl([AE_OK, DEEP]), "loaded", "json_syntax", 2, 1, "issue"),
    Case(
        "adult_education",
        "a pid that is a 5 000-digit number",
        _jsonl([AE_OK, json.dumps(AE_OK2).replace(f'"{h.PID_B}"', BIG_NUMBER)]),
        "loaded",
        "pid_format",
        2,
        1,
        "issue",
    ),
    Case(
        "adult_education",
        "a line that is not JSON",
        _jsonl([AE_OK, "{not json"]),
        "loaded",
        "json_syntax",
        2,
        1,
        "contract",
    ),
    Case("adult_education", "a line that is a JSON array", _jsonl([AE_OK, "[1, 2]"]), "loaded", "json_syntax", 2, 1),
    Case(
        "adult_education",
        "truncated last line (cut off while written)",
        _jsonl([AE_OK, json.dumps(AE_OK2)[:40]]),
        "loaded",
        "json_syntax",
        2,
        1,
    ),
    Case(
        "adult_education",
        "not UTF-8",
        _jsonl_bytes(json.dumps(AE_OK).encode().replace(b"norwegian", b"norw\xe9gian")),
        "quarantined",
        "encoding",
        0,
        0,
        "contract",
    ),
    Case("adult_education", "empty file", _jsonl_bytes(b""), "loaded", None, 0, 0),
    Case("adult_education", "only blank lines", _jsonl_bytes(b"\n\n  \n"), "loaded", None, 0, 0),
    Case("adult_education", "a `_row` key", _jsonl([dict(AE_OK, _row=99)]), "loaded", None, 1, 1, "issue"),
    # JSON readers take only the contract's fields (the guard saw the rest in the text): linear, and loaded
    Case(
        "adult_education",
        "10 000 distinct keys",
        _jsonl([dict(AE_OK, **{f"k{i}": 1 for i in range(10_000)})]),
        "loaded",
        None,
        1,
        1,
        "issue",
    ),
    Case(
        "adult_education",
        "a key given twice in one object",
        _jsonl([json.dumps(AE_OK)[:-1] + ', "level": "norwegian"}']),
        "loaded",
        None,
        1,
        1,
    ),
    Case(
        "adult_education",
        "a 10 MB string in an unknown field",
        _jsonl([dict(AE_OK, blob="x" * 10 * 2**20)]),
        "loaded",
        None,
        1,
        1,
    ),
    Case(
        "adult_education",
        "escaped control characters in a value",
        _jsonl([dict(AE_OK, event="applied\u0000\u0007"), AE_OK2]),
        "loaded",
        "code_in_set",
        2,
        1,
    ),
    Case(
        "adult_education",
        "a date as a number",
        _jsonl([dict(AE_OK, date=20230401), AE_OK2]),
        "loaded",
        "date_format",
        2,
        1,
    ),
    Case(
        "adult_education",
        "an object where the pid belongs",
        _jsonl([dict(AE_OK, pid={"id": 1}), AE_OK2]),
        "loaded",
        "pid_format",
        2,
        1,
    ),
    Case(
        "adult_education",
        "required field missing everywhere",
        _jsonl([{k: v for k, v in AE_OK.items() if k != "date"}]),
        "quarantined",
        "missing_columns",
        1,
        0,
        "contract",
    ),
    Case(
        "adult_education",
        "national identity number in an unknown field",
        _jsonl([dict(AE_OK, note=f"fnr {NATIONAL_ID}"), AE_OK2]),
        "privacy_incident",
        "national_id",
        2,
        0,
        "contract",
    ),
    # combination classes: Excel
    Case("combination_classes", "good workbook", _book(), "loaded", None, 2, 2, "contract"),
    Case(
        "combination_classes",
        "text dates and real dates mixed",
        _book(text_dates_from=2),
        "loaded",
        None,
        2,
        2,
        "contract",
    ),
    Case(
        "combination_classes",
        "one cell at XFD1048576 (calamine asks for 512 GB)",
        _book_custom(_far_cell),
        "quarantined",
        "too_large",
        0,
        0,
        "issue",
    ),
    Case(
        "combination_classes",
        "a 500 MB string in a small workbook",
        _huge_string_book(500),
        "quarantined",
        "too_large",
        0,
        0,
        "issue",
    ),
    Case("combination_classes", "merged cells", _book_custom(_merged), "loaded", "required", 2, 1),
    Case("combination_classes", "formulas with cached values", _book_custom(_formulas), "loaded", None, 1, 1),
    Case(
        "combination_classes",
        "a formula without a cached value",
        _book_custom(_formula_no_cache),
        "loaded",
        "year_format",
        1,
        0,
    ),
    Case(
        "combination_classes",
        "dates as plain numbers (serials)",
        _book_custom(_date_serials),
        "loaded",
        "date_format",
        1,
        0,
    ),
    Case("combination_classes", "birth year as a decimal number", _book_custom(_float_years), "loaded", None, 1, 1),
    Case(
        "combination_classes",
        "sheet `Elever` missing",
        _book(sheet="Ark1"),
        "quarantined",
        "unreadable",
        0,
        0,
        "contract",
    ),
    Case(
        "combination_classes",
        "a CSV renamed to .xlsx",
        _file("combination_classes", BOOK, GOOD_CSV),
        "quarantined",
        "unreadable",
        0,
        0,
    ),
    Case(
        "combination_classes",
        "empty file (0 bytes)",
        _file("combination_classes", BOOK, b""),
        "quarantined",
        "unreadable",
        0,
        0,
    ),
    Case("combination_classes", "only a header", _book(rows=[]), "loaded", None, 0, 0),
    Case(
        "combination_classes",
        "duplicated header",
        _book(rows=[h.pupil() + ["Aktiv"]], headers=h.HEADERS + ["Status"]),
        "quarantined",
        "duplicate_columns",
        0,
        0,
        "issue",
    ),
    Case(
        "combination_classes",
        "a `_row` column",
        _book(rows=[h.pupil() + ["7"]], headers=h.HEADERS + ["_row"]),
        "loaded",
        None,
        1,
        1,
        "issue",
    ),
    Case(
        "combination_classes",
        "10 000 extra columns",
        _book_custom(_many_book_columns),
        "quarantined",
        "too_many_columns",
        0,
        0,
        "issue",
    ),
    Case(
        "combination_classes",
        "headers with stray spaces",
        _book(headers=[f" {x} " for x in h.HEADERS]),
        "loaded",
        None,
        2,
        2,
    ),
    Case(
        "combination_classes",
        "school orgnr in the name fails mod 11",
        _book(name="kombinasjon_974000006_2023-2024_20240101.xlsx"),
        "quarantined",
        "file_name",
        0,
        0,
        "contract",
    ),
    Case(
        "combination_classes",
        "national identity number in the free-text remark",
        _book(rows=[h.pupil(remark=f"fnr {NATIONAL_ID}"), h.pupil(h.PID_B)]),
        "privacy_incident",
        "national_id",
        2,
        0,
        "contract",
    ),
    # Trøndelag model: JSON document
    Case("trondelag_model", "good export", _tm(), "loaded", None, 2, 2, "contract"),
    Case(
        "trondelag_model",
        "nested 50 000 deep",
        _tm_text("[" * 50_000 + "]" * 50_000),
        "quarantined",
        "too_deep",
        0,
        0,
        "issue",
    ),
    Case(
        "trondelag_model",
        "a value nested 50 000 deep",
        _tm_replace('"NAV"', DEEP),
        "quarantined",
        "too_deep",
        0,
        0,
        "issue",
    ),
    Case(
        "trondelag_model",
        "a pid that is a 5 000-digit number",
        _tm_replace(f'"{h.PID_A}"', BIG_NUMBER),
        "loaded",
        "pid_format",
        2,
        0,
        "issue",
    ),
    Case(
        "trondelag_model",
        "truncated document",
        _tm_text('{"exported_at": "2024-03-01T02:00'),
        "quarantined",
        "unreadable",
        0,
        0,
        "contract",
    ),
    Case("trondelag_model", "a top-level array", _tm_text("[]"), "quarantined", "missing_columns", 0, 0),
    Case(
        "trondelag_model",
        "`exported_at` missing",
        _tm_replace('"exported_at": "2024-03-01T02:00:00+01:00"', '"exported": 1'),
        "quarantined",
        "missing_columns",
        0,
        0,
    ),
    Case(
        "trondelag_model",
        "a case without events",
        _tm([h.tm_case(), {**h.tm_case("TM-2023-00002"), "events": []}]),
        "loaded",
        "required",
        3,
        2,
    ),
    Case(
        "trondelag_model",
        "an event that is a string",
        _tm([{**h.tm_case(), "events": ["mobilised"]}]),
        "loaded",
        "required",
        1,
        0,
    ),
    Case(
        "trondelag_model",
        "not UTF-8",
        _file("trondelag_model", "tm_20240301.json", json.dumps({"exported_at": "x"}).encode() + b"\xff"),
        "quarantined",
        "encoding",
        0,
        0,
    ),
    Case("trondelag_model", "empty file", _tm_text(""), "quarantined", "unreadable", 0, 0),
    Case(
        "trondelag_model",
        "10 000 extra keys on a case",
        _tm([{**h.tm_case(), **{f"k{i}": 1 for i in range(10_000)}}]),
        "loaded",
        None,
        2,
        2,
        "issue",
    ),
    Case(
        "trondelag_model",
        "a `_row` key on an event",
        _tm([{**h.tm_case(), "events": [{"type": "mobilised", "date": "2023-01-09", "_row": 1}]}]),
        "loaded",
        None,
        1,
        1,
        "issue",
    ),
    Case(
        "trondelag_model", "NaN where a date belongs", _tm_replace('"2023-02-01"', "NaN"), "loaded", "date_format", 2, 1
    ),
    # the landing zone itself
    Case("landing", "symbolic link to /etc/passwd", _symlink("/etc/passwd"), "refused", "symlink", origin="issue"),
    Case(
        "landing",
        "dangling symbolic link",
        _symlink("/nonexistent/intro_5001_20240101.csv"),
        "refused",
        "symlink",
        origin="issue",
    ),
    Case(
        "landing",
        "a source folder that is a link",
        _symlink("/etc", name="intro"),
        "refused",
        "symlink",
        origin="issue",
    ),
    Case("landing", "FIFO with a valid name", _fifo(), "refused", "special_file", origin="issue"),
    Case("landing", "sub-folder in a source folder", _dir("intro/2024"), "ignored", "subfolder", origin="issue"),
    Case(
        "landing",
        "file in the landing root",
        _file("", "intro_5001_20240101.csv", GOOD_CSV),
        "ignored",
        "root_file",
        origin="issue",
    ),
    Case("landing", "unknown folder", _dir("introduction"), "ignored", "unknown_folder", origin="issue"),
    Case("landing", "mis-cased source folder", _dir("Intro"), "ignored", "miscased_folder", origin="issue"),
    Case(
        "landing",
        "a file still being written (modified just now)",
        _fresh(_intro()),
        "waiting",
        "still_writing",
        origin="issue",
    ),
    Case(
        "landing",
        "a copy in progress (`.part`)",
        _old(_intro(name="intro_5001_20240101.csv.part")),
        "ignored",
        "temporary_file",
    ),
    Case(
        "landing",
        "an Office lock file (`~$`)",
        _old(_file("combination_classes", "~$" + BOOK, b"lock")),
        "ignored",
        "temporary_file",
    ),
    Case("landing", "a hidden file", _old(_file("intro", ".DS_Store", b"\x00\x01")), "ignored", "hidden_file"),
]


CASE_BY_ID = {c.id: c for c in CASES}


# --- the document -----------------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "bad-input-corpus.md"


def render() -> str:
    lines = [
        "# The bad-input corpus",
        "",
        "Generated from `tests/corpus.py` by `python -m tests.corpus`; `tests/test_bad_input.py` runs every",
        "case through the real read path (landing scan, read worker with its memory and time limits, reader,",
        "validation), asserts the outcome below and that `rows_read = rows loaded + rows quarantined`, and",
        "checks that this file is up to date. Duplicates are counted later, when files are staged",
        "(`tests/test_hostile_load.py` runs a mix of these files through the whole flow).",
        "",
        f"{len(CASES)} cases. *Outcome*: `loaded` (valid rows load, bad rows are quarantined with the rule shown), "
        "`quarantined` / `privacy_incident` (the whole file is refused with the rule shown), or, for entries "
        "that are never opened, the landing scan's action (`refused`, `waiting` for a later load, `ignored`) "
        "with its kind — all recorded in `audit.file_log`, `audit.quarantine` or `audit.landing_anomaly` and "
        "named in the run summary. *Origin*: the source contract, the issue (#10), or what real systems produce.",
        "",
        "| # | source | case | outcome | rule / kind | rows read | rows valid | origin |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(CASES, start=1):
        read = "" if c.rows_read is None else str(c.rows_read)
        valid = "" if c.rows_valid is None else str(c.rows_valid)
        lines.append(f"| {i} | {c.source} | {c.kind} | {c.outcome} | {c.rule or ''} | {read} | {valid} | {c.origin} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC} ({len(CASES)} cases)")
