"""Each reader on real files in its real format: encodings, date forms, nesting, breakage."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from flows.sources import adult_education, combination_classes, intro, trondelag_model
from flows.validate import validate
from tests import helpers as h


# -- intro: CSV --------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_intro_reads_every_allowed_encoding_with_norwegian_letters_intact(tmp_path, encoding):
    header = h.INTRO_HEADER + ";kommunenavn"
    path = h.write_intro(
        tmp_path,
        "intro_5025_20240101.csv",
        [h.intro_row(muni="5025") + ";Røros", h.intro_row(h.PID_B, muni="5025") + ";Åfjord æ"],
        encoding=encoding,
        header=header,
    )
    raw = intro.read(path)
    assert not raw.file_problems
    assert raw.frame["kommunenavn"].to_list() == ["Røros", "Åfjord æ"]
    assert raw.frame["deltaker_pid"].to_list() == [h.PID_A, h.PID_B]
    assert raw.frame["_row"].to_list() == [2, 3]  # line numbers; the header is line 1
    assert raw.meta == {"delivery_date": dt.date(2024, 1, 1), "municipality_code": "5025"}


def test_intro_columns_in_any_order_and_codes_keep_leading_zeros(tmp_path):
    cols = h.INTRO_HEADER.split(";")
    header = ";".join(reversed(cols))
    row = ";".join(reversed(h.intro_row(muni="0301").split(";")))
    path = h.write_intro(tmp_path, "intro_0301_20240101.csv", [row], header=header)
    v = validate(intro.read(path), "intro", "sha")
    assert v.status == "loaded" and not v.quarantine
    assert v.rows["kommunenr"].to_list() == ["0301"]
    assert v.rows["dato"].to_list() == [dt.date(2023, 3, 15)]


def test_intro_missing_column_is_a_file_error(tmp_path):
    header = h.INTRO_HEADER.replace(";dato", "")
    row = h.intro_row().replace(";15.03.2023", "")
    v = validate(intro.read(h.write_intro(tmp_path, "intro_5001_20240101.csv", [row], header=header)), "intro", "s")
    assert v.status == "quarantined" and v.quarantine[0].rule == "missing_columns"
    assert "dato" in v.message and v.rows is None


def test_intro_utf16_and_undecodable_bytes_are_encoding_errors(tmp_path):
    p1 = h.write_intro(tmp_path, "intro_5001_20240101.csv", [h.intro_row()], encoding="utf-16")
    p2 = tmp_path / "intro" / "intro_5001_20240102.csv"
    p2.write_bytes(h.INTRO_HEADER.encode() + b"\r\n" + h.intro_row().encode() + b"\x81\x8d\r\n")
    for path in (p1, p2):
        v = validate(intro.read(path), "intro", "s")
        assert v.status == "quarantined" and v.quarantine[0].rule == "encoding", v.message


def test_intro_bad_file_name_is_a_file_error(tmp_path):
    v = validate(intro.read(h.write_intro(tmp_path, "intro_5001_2024.csv", [h.intro_row()])), "intro", "s")
    assert v.status == "quarantined" and v.quarantine[0].rule == "file_name"


# -- adult education: JSON Lines ------------------------------------------------------------------
def test_adult_education_reads_lines_and_keeps_a_broken_line_as_a_row_error(tmp_path):
    good = [h.ae_event(), h.ae_event(event="offered", date="2023-04-10")]
    path = h.write_jsonl(tmp_path, "vo_20240101T020000.jsonl", good, raw_lines=['{"event_id": "x", "pid'])
    v = validate(adult_education.read(path), "adult_education", "s")
    assert v.status == "loaded" and v.rows.height == 2 and v.rows_read == 3
    assert [(p.row_number, p.rule) for p in v.quarantine] == [(3, "json_syntax")]
    assert v.rows["date"].dtype == pl.Date


def test_adult_education_numbers_as_json_numbers_are_read_as_text(tmp_path):
    event = h.ae_event()
    event["municipality"] = 5001
    v = validate(
        adult_education.read(h.write_jsonl(tmp_path, "vo_20240101T020000.jsonl", [event])), "adult_education", "s"
    )
    assert v.rows["municipality"].to_list() == ["5001"]


def test_adult_education_reads_every_line_as_json_loads_would(tmp_path):
    """The reader decodes lines with one decoder per file (flows/sources/adult_education.py):
    each line must still come out exactly as `json.loads(line, parse_int=str)` makes it, a
    line that fails failing at the same column, whatever sits on the lines around it."""
    import json

    from flows.sources.common import json_text

    good = h.ae_event()
    lines = [
        json.dumps(good),
        json.dumps({**good, "municipality": 5001, "level": -0, "extra": 1.5e300}),
        json.dumps({**good, "municipality": {"code": [5001, None, True]}}),
        '{"event_id": "' + "9" * 5000 + '", "level": ' + "7" * 5000 + "}",
        "\ufeff" + json.dumps(good),  # a BOM inside the file
        '{"a": NaN, "b": Infinity, "event_id": "x", "event_id": "duplicate key"}',
        "[1, 2]",
        '{"cut": "off"',
        '"text"',
        "[" * 100_000,  # nested too deeply
        "   ",
        '{"x": "a\u2028b"}',
    ]
    path = tmp_path / "vo_20240101T020000.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    raw = adult_education.read(path)

    expected_rows, expected_problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_int=str)
        except json.JSONDecodeError as err:
            expected_problems.append((number, f"column {err.colno}"))
            continue
        except RecursionError:
            expected_problems.append((number, "nested"))
            continue
        if not isinstance(obj, dict):
            expected_problems.append((number, "not a JSON object"))
            continue
        expected_rows.append((number, *[json_text(obj.get(k)) for k in adult_education.COLUMNS]))
    assert len(expected_rows) == 6 and len(expected_problems) == 5  # the cases are what they say
    frame = raw.frame.select("_row", *adult_education.COLUMNS)
    got = [(r[0], *[None if v is None else v for v in r[1:]]) for r in frame.rows()]
    tidy = [(n, *[None if v is None or not v.strip() else v.strip() for v in vals]) for n, *vals in expected_rows]
    assert got == tidy
    assert [p.row_number for p in raw.row_problems] == [n for n, _ in expected_problems]
    for problem, (_, says) in zip(raw.row_problems, expected_problems, strict=True):
        assert says in problem.message, (problem.message, says)


# -- combination classes: Excel -------------------------------------------------------------------
def test_excel_with_real_dates_then_text_dates_beyond_the_inference_window(tmp_path):
    """calamine infers from the first 100 rows: later text dates must not become null."""
    rows = [h.pupil(pid=f"{i:064x}", applied=dt.date(2023, 3, 1), start=dt.date(2023, 8, 18)) for i in range(150)]
    path = h.write_workbook(tmp_path, f"kombinasjon_{h.SCHOOL}_2023-2024_20231001.xlsx", rows, text_dates_from=120)
    v = validate(combination_classes.read(path), "combination_classes", "s")
    assert v.status == "loaded" and not v.quarantine, [p.message for p in v.quarantine[:3]]
    assert v.rows.height == 150
    assert v.rows["startdato"].null_count() == 0
    assert set(v.rows["startdato"].to_list()) == {dt.date(2023, 8, 18)}
    assert v.rows["fodselsaar"].to_list()[0] == 2006


def test_excel_text_date_that_is_not_a_date_is_reported(tmp_path):
    rows = [h.pupil(), [h.PID_B, "K", 2006, "5001", "31.02.2023", None, None, "Venter", ""]]
    path = h.write_workbook(tmp_path, f"kombinasjon_{h.SCHOOL}_2023-2024_20231001.xlsx", rows)
    v = validate(combination_classes.read(path), "combination_classes", "s")
    assert [(p.row_number, p.rule, p.column) for p in v.quarantine] == [(3, "date_format", "soknadsdato")]
    message = v.quarantine[0].message  # describes, never quotes: the value may be personal data
    assert "31.02.2023" not in message and "02" not in message and "not a real calendar date" in message


def test_excel_free_text_is_dropped(tmp_path):
    rows = [h.pupil(remark="Trenger tett oppfølging")]
    path = h.write_workbook(tmp_path, f"kombinasjon_{h.SCHOOL}_2023-2024_20231001.xlsx", rows)
    raw = combination_classes.read(path)
    assert raw.frame["merknad"].to_list() == ["Trenger tett oppfølging"]  # seen by the privacy guard …
    v = validate(raw, "combination_classes", "s")
    assert "merknad" not in v.rows.columns  # … and never kept
    assert v.meta["school_orgnr"] == h.SCHOOL and v.meta["school_year"] == "2023-2024"


@pytest.mark.parametrize(
    "name, content, rule",
    [
        ("kombinasjon_{school}_2023-2024_20231001.xlsx", b"PK\x03\x04 not a workbook", "unreadable"),
        ("kombinasjon_974000001_2023-2024_20231001.xlsx", None, "file_name"),
        ("kombinasjon_{school}_2023-2025_20231001.xlsx", None, "file_name"),
    ],
)
def test_broken_workbooks_and_names_are_file_errors(tmp_path, name, content, rule):
    name = name.format(school=h.SCHOOL)
    path = h.write_workbook(tmp_path, name, [h.pupil()])
    if content is not None:
        path.write_bytes(content)
    v = validate(combination_classes.read(path), "combination_classes", "s")
    assert v.status == "quarantined" and v.quarantine[0].rule == rule


def test_workbook_without_the_sheet_is_a_file_error(tmp_path):
    path = h.write_workbook(tmp_path, f"kombinasjon_{h.SCHOOL}_2023-2024_20231001.xlsx", [h.pupil()], sheet="Ark1")
    v = validate(combination_classes.read(path), "combination_classes", "s")
    assert v.status == "quarantined" and "Elever" in v.message


# -- the Trøndelag model: nested JSON ------------------------------------------------------------
def test_nested_json_is_flattened_one_row_per_event(tmp_path):
    cases = [
        h.tm_case(),
        h.tm_case(
            "TM-2023-00002",
            h.PID_B,
            events=[
                {"type": "mobilised", "date": "2023-01-09"},
                {"type": "apprenticeship_started", "date": "2023-08-15", "trade": "Helsefagarbeider"},
            ],
        ),
    ]
    v = validate(trondelag_model.read(h.write_tm(tmp_path, "tm_20240301.json", cases)), "trondelag_model", "s")
    assert v.status == "loaded" and not v.quarantine
    assert v.rows["_row"].to_list() == [1, 2, 3, 4]
    assert v.rows["case_id"].to_list() == ["TM-2023-00001"] * 2 + ["TM-2023-00002"] * 2
    assert v.rows["trade"].to_list() == [None, None, None, "Helsefagarbeider"]
    assert v.meta["exported_at"].isoformat() == "2024-03-01T02:00:00+01:00"


def test_truncated_json_is_a_file_error(tmp_path):
    path = h.write_tm(tmp_path, "tm_20240301.json", [h.tm_case()])
    path.write_bytes(path.read_bytes()[:-30])
    v = validate(trondelag_model.read(path), "trondelag_model", "s")
    assert v.status == "quarantined" and v.quarantine[0].rule == "unreadable"


def test_case_without_events_is_quarantined_not_lost(tmp_path):
    cases = [h.tm_case(), h.tm_case("TM-2023-00002", h.PID_B, events=[])]
    cases[1]["events"] = []
    v = validate(trondelag_model.read(h.write_tm(tmp_path, "tm_20240301.json", cases)), "trondelag_model", "s")
    assert v.rows_read == 3 and v.rows.height == 2
    assert v.quarantine[0].row_number == 3 and v.quarantine[0].rule == "required"
