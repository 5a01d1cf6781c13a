"""Every validation rule of the source contract, one changed value at a time.

Each case starts from a valid row, changes one thing, writes a real file and checks that
validation rejects exactly that row with the expected rule and column, and loads the
valid row beside it.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest
from stdnum.no import fodselsnummer, orgnr

from flows.sources import SOURCES
from flows.validate import validate
from schemas.checks import orgnr_valid
from schemas.privacy import contains_national_id, find_national_ids, redact
from synthetic.model import national_id
from tests import helpers as h

INTRO_BASE = dict(
    pid=h.PID_B,
    muni="5001",
    event="startet",
    date="15.03.2023",
    sex="K",
    year="1990",
    country="SYR",
    reason="flukt",
    detail="",
)
INTRO_CASES = {
    "pid": ({"pid": "ABC"}, "pid_format", "deltaker_pid"),
    "municipality": ({"muni": "5099"}, "municipality_code", "kommunenr"),
    "event": ({"event": "sluttet"}, "code_in_set", "hendelse"),
    "not a date": ({"date": "31.02.2023"}, "date_format", "dato"),
    "iso date": ({"date": "2023-03-15"}, "date_format", "dato"),
    "before 2010": ({"event": "bosatt", "date": "31.12.2009"}, "date_range", "dato"),
    "after delivery": ({"date": "02.01.2024"}, "date_after_delivery", "dato"),
    "sex": ({"sex": "X"}, "code_in_set", "kjonn"),
    "missing sex": ({"sex": ""}, "required", "kjonn"),
    "birth year": ({"year": "19x0"}, "year_format", "fodselsaar"),
    "too young at start": ({"year": "2006"}, "age_range", "fodselsaar"),
    "too old at start": ({"year": "1950"}, "age_range", "fodselsaar"),
    "country": ({"country": "XYZ"}, "country_code", "landbakgrunn"),
    "reason": ({"reason": "arbeid"}, "code_in_set", "innvandringsgrunn"),
    "detail on start": ({"detail": "arbeid"}, "detail_for_event", "detalj"),
    "interruption without detail": ({"event": "avbrutt"}, "detail_for_event", "detalj"),
    "wrong transition": ({"event": "overgang", "detail": "flyttet"}, "detail_for_event", "detalj"),
}

AE_BASE = dict(
    pid=h.PID_B,
    event="applied",
    date="2023-04-01",
    level="upper_secondary",
    programme="HS",
    school=h.SCHOOL,
    muni="5001",
    result=None,
)
AE_CASES = {
    "uuid": ({"event_id": "not-a-uuid"}, "uuid_format", "event_id"),
    "pid": ({"pid": h.PID_B.upper()}, "pid_format", "pid"),
    "event": ({"event": "admitted"}, "code_in_set", "event"),
    "date": ({"date": "2023-02-30"}, "date_format", "date"),
    "after delivery": ({"date": "2024-01-02"}, "date_after_delivery", "date"),
    "level": ({"level": "secondary", "programme": None}, "code_in_set", "level"),
    "programme missing": ({"programme": None}, "required_value", "programme"),
    "programme for norwegian": ({"level": "norwegian"}, "unexpected_value", "programme"),
    "programme code": ({"programme": "XX"}, "code_in_set", "programme"),
    "orgnr control digit": ({"school": h.SCHOOL[:8] + str((int(h.SCHOOL[8]) + 1) % 10)}, "orgnr", "school_orgnr"),
    "orgnr length": ({"school": "12345678"}, "orgnr", "school_orgnr"),
    "municipality": ({"muni": "1234"}, "municipality_code", "municipality"),
    "result missing": ({"event": "completed"}, "required_value", "result"),
    "result on applied": ({"result": "vitnemal"}, "unexpected_value", "result"),
    "result for level": ({"event": "completed", "result": "B1"}, "result_for_level", "result"),
}

D = dt.date
KOMB_BASE = dict(
    pid=h.PID_B, sex="K", year=2006, muni="5001", applied=D(2023, 3, 1), start=D(2023, 8, 18), end=None, status="Aktiv"
)
KOMB_CASES = {
    "pid": ({"pid": "x" * 64}, "pid_format", "elev_pid"),
    "sex": ({"sex": "F"}, "code_in_set", "kjonn"),
    "age": ({"year": 1995}, "age_range", "fodselsaar"),
    "municipality": ({"muni": "0000"}, "municipality_code", "bostedskommune"),
    "application missing": ({"applied": None}, "required", "soknadsdato"),
    "start before application": ({"applied": D(2023, 9, 1)}, "date_order", "startdato"),
    "end before start": ({"end": D(2023, 8, 1), "status": "Fullført"}, "date_order", "sluttdato"),
    "status": ({"status": "Sluttet"}, "code_in_set", "status"),
    "waiting with start": ({"status": "Venter"}, "status_dates", "status"),
    "finished without end": ({"status": "Avbrutt"}, "status_dates", "status"),
    "after delivery": ({"start": D(2023, 10, 5)}, "date_after_delivery", "startdato"),
    "before 2010": ({"applied": D(2009, 5, 1), "start": None, "status": "Venter"}, "date_range", "soknadsdato"),
}

TM_BASE = dict(
    case_id="TM-2023-00009",
    pid=h.PID_B,
    office="5001",
    by="NAV",
    event={"type": "apprenticeship_started", "date": "2023-08-15", "trade": "Kokk"},
)
TM_CASES = {
    "pid": ({"pid": "123"}, "pid_format", "pid"),
    "office": ({"office": "5099"}, "municipality_code", "nav_office"),
    "mobilised by": ({"by": "Kommunen"}, "code_in_set", "mobilised_by"),
    "type": ({"event": {"type": "hired", "date": "2023-08-15"}}, "code_in_set", "type"),
    "date": ({"event": {"type": "mobilised", "date": "15.08.2023"}}, "date_format", "date"),
    "after delivery": ({"event": {"type": "mobilised", "date": "2024-03-02"}}, "date_after_delivery", "date"),
    "trade missing": ({"event": {"type": "apprenticeship_started", "date": "2023-08-15"}}, "required_value", "trade"),
    "reason missing": ({"event": {"type": "left_programme", "date": "2023-08-15"}}, "required_value", "reason"),
    "reason on other event": (
        {"event": {"type": "mobilised", "date": "2023-08-15", "reason": "moved"}},
        "unexpected_value",
        "reason",
    ),
    "reason code": (
        {"event": {"type": "left_programme", "date": "2023-08-15", "reason": "bored"}},
        "code_in_set",
        "reason",
    ),
    "case id missing": ({"case_id": None}, "required", "case_id"),
}


def _intro_file(tmp_path, change):
    row = {**INTRO_BASE, **change}
    return h.write_intro(tmp_path, "intro_5001_20240101.csv", [h.intro_row(), h.intro_row(**row)])


def _ae_file(tmp_path, change):
    change = dict(change)
    event_id = change.pop("event_id", None)
    event = h.ae_event(**{**AE_BASE, **change}, event_id=event_id)
    return h.write_jsonl(tmp_path, "vo_20240101T020000.jsonl", [h.ae_event(), event])


def _komb_file(tmp_path, change):
    r = {**KOMB_BASE, **change}
    row = [r["pid"], r["sex"], r["year"], r["muni"], r["applied"], r["start"], r["end"], r["status"], ""]
    return h.write_workbook(tmp_path, f"kombinasjon_{h.SCHOOL}_2023-2024_20231001.xlsx", [h.pupil(), row])


def _tm_file(tmp_path, change):
    r = {**TM_BASE, **change}
    bad = h.tm_case(r["case_id"], r["pid"], r["office"], r["by"], events=[r["event"]])
    return h.write_tm(tmp_path, "tm_20240301.json", [h.tm_case(), bad])


CASES = (
    [("intro", _intro_file, k, *v) for k, v in INTRO_CASES.items()]
    + [("adult_education", _ae_file, k, *v) for k, v in AE_CASES.items()]
    + [("combination_classes", _komb_file, k, *v) for k, v in KOMB_CASES.items()]
    + [("trondelag_model", _tm_file, k, *v) for k, v in TM_CASES.items()]
)


@pytest.mark.parametrize("source, make, case, change, rule, column", CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_rule_rejects_the_row_and_loads_the_rest(tmp_path, source, make, case, change, rule, column):
    v = validate(SOURCES[source].read(make(tmp_path, change)), source, "sha")
    assert v.status == "loaded", v.message
    bad_row = 3 if source in ("intro", "combination_classes") else 2 if source == "adult_education" else 3
    assert [(p.row_number, p.rule, p.column) for p in v.quarantine] == [(bad_row, rule, column)], [
        p.message for p in v.quarantine
    ]
    assert v.rows.height == v.rows_read - 1
    assert v.quarantine[0].message.startswith(column)


def test_the_valid_base_rows_pass(tmp_path):
    for source, make in (
        ("intro", _intro_file),
        ("adult_education", _ae_file),
        ("combination_classes", _komb_file),
        ("trondelag_model", _tm_file),
    ):
        v = validate(SOURCES[source].read(make(tmp_path, {})), source, "sha")
        assert v.status == "loaded" and not v.quarantine, (source, [p.message for p in v.quarantine])


# -- organisation numbers: the vectorised rule agrees with python-stdnum ------------------------
def test_orgnr_expression_agrees_with_stdnum():
    rng = random.Random(3)
    numbers = [f"{rng.randint(0, 999_999_999):09d}" for _ in range(20000)] + ["974760673", "123", "97476067x"]
    got = pl.DataFrame({"n": numbers}).select(orgnr_valid(pl.col("n")))["n"].to_list()
    assert got == [orgnr.is_valid(n) for n in numbers]
    assert sum(got) > 1000  # the sample holds plenty of valid numbers too


# -- the national identity number guard -----------------------------------------------------------
def test_guard_finds_birth_numbers_and_d_numbers_as_stdnum_does():
    rng = random.Random(5)
    fnr = national_id(rng, dt.date(1991, 7, 3))
    dnr = national_id(rng, dt.date(1980, 12, 24), d_number=True)
    assert fodselsnummer.is_valid(fnr) and fodselsnummer.is_valid(dnr) and int(dnr[0]) >= 4
    for text in (fnr, f"ring {fnr} i morgen", f"{fnr[:6]} {fnr[6:]}", dnr):
        assert contains_national_id(text), text
    wrong = fnr[:10] + str((int(fnr[10]) + 1) % 10)
    assert not contains_national_id(wrong) and not contains_national_id("12345678901")
    assert fnr not in redact(f"value {fnr} here")


def test_guard_ignores_digit_runs_inside_person_keys():
    """About a quarter of random hex keys hold 11 digits in a row; they must not count."""
    rng = random.Random(11)
    fnr = national_id(rng, dt.date(1975, 1, 30))
    keys = [f"ab{fnr}cd" + "0" * 49, f"{fnr}" + "f" * 53]  # 64 hex characters, as a pid
    frame = pl.DataFrame({"pid": keys, "_row": [2, 3]})
    assert find_national_ids(frame) == []
    frame = pl.DataFrame({"pid": keys + [fnr], "_row": [2, 3, 4]})
    assert find_national_ids(frame) == [(4, "pid")]


def test_privacy_incident_refuses_the_whole_file_and_never_keeps_the_number(tmp_path):
    fnr = national_id(random.Random(1), dt.date(1988, 2, 29))
    path = h.write_intro(
        tmp_path,
        "intro_5001_20240101.csv",
        [h.intro_row(), h.intro_row(h.PID_B, event="avbrutt", detail=f"annet {fnr}")],
    )
    v = validate(SOURCES["intro"].read(path), "intro", "sha")
    assert v.status == "privacy_incident" and v.rows is None and v.rows_quarantined == v.rows_read == 2
    assert [(p.row_number, p.column, p.rule) for p in v.quarantine] == [(3, "detalj", "national_id")]
    assert fnr not in repr(v.quarantine) and fnr not in v.message


# -- the one-pass screen (flows.validate.screen) agrees with Pandera --------------------------


def _pandera_passes(frame, schema) -> bool:
    import pandera.polars as pa

    try:
        schema.validate(frame, lazy=True)
        return True
    except pa.errors.SchemaErrors:
        return False


def _variants(frame, schema):
    """The frame as delivered, and spoilt in every way a careless source could: each schema
    column null on one row, dropped, or of another type; no rows at all."""
    yield "as is", frame
    yield "no rows", frame.head(0)
    for name in schema.columns:
        if name not in frame.columns:
            continue
        yield (
            f"{name} null",
            frame.with_columns(
                pl.when(pl.int_range(pl.len()) == frame.height - 1).then(None).otherwise(pl.col(name)).alias(name)
            ),
        )
        yield f"{name} dropped", frame.drop(name)
        other = pl.Int64 if frame.schema[name] == pl.String else pl.String
        yield f"{name} as {other}", frame.with_columns(pl.col(name).cast(other, strict=False))
        if frame.schema[name] == pl.String:
            yield f"{name} all null", frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))


BASE_FILES = (
    ("intro", _intro_file),
    ("adult_education", _ae_file),
    ("combination_classes", _komb_file),
    ("trondelag_model", _tm_file),
)


def test_the_one_pass_screen_passes_a_file_only_when_pandera_would(tmp_path):
    """The screen lets a file skip Pandera's ≈ 40 passes only when it passes everything:
    for every rule's failing case, and for every spoilt variant of each source's valid
    file, its verdict is Pandera's."""
    from flows.validate import SCHEMAS, screen, typed_for_schema

    disagree = {}
    for source, make, case, change, _rule, _column in CASES:
        schema = SCHEMAS[source]
        frame, _ = typed_for_schema(SOURCES[source].read(make(tmp_path / case, change)), source)
        assert not _pandera_passes(frame, schema), case  # the case itself fails
        if screen(frame, schema):
            disagree[(source, case)] = "screen passes a failing file"
    for source, make in BASE_FILES:
        schema = SCHEMAS[source]
        frame, _ = typed_for_schema(SOURCES[source].read(make(tmp_path / source, {})), source)
        verdicts = {name: (screen(v, schema), _pandera_passes(v, schema)) for name, v in _variants(frame, schema)}
        disagree.update({(source, k): v for k, v in verdicts.items() if v[0] != v[1]})
        assert verdicts["as is"] == (True, True), source
        assert not all(passed for passed, _ in verdicts.values()), source
    assert disagree == {}


def test_the_screen_leaves_checks_it_does_not_know_to_pandera():
    """A check built without `schemas.checks.rule` (no expression to evaluate) or a schema
    option the screen does not evaluate sends the file to Pandera, even when it is valid."""
    import pandera.polars as pa

    from flows.validate import screen

    frame = pl.DataFrame({"a": [1, 2]})
    assert screen(frame, pa.DataFrameSchema({"a": pa.Column(pl.Int64)}))
    assert not screen(frame, pa.DataFrameSchema({"a": pa.Column(pl.Int64, pa.Check.ge(0))}))
    assert not screen(frame, pa.DataFrameSchema({"a": pa.Column(pl.Int64, unique=True)}))
    assert not screen(frame, pa.DataFrameSchema({"a": pa.Column(pl.Int64)}, unique=["a"]))
    assert not screen(frame, pa.DataFrameSchema({"a": pa.Column(pl.Int64, coerce=True)}))
    assert not screen(
        frame.with_columns(pl.lit(float("nan")).alias("b")), pa.DataFrameSchema({"b": pa.Column(pl.Float64)})
    )


def _plan_frame(rows):
    """The settlement-plan schema's input, typed: (kommunenr, aar, anmodet, vedtatt, herav_ema)."""
    from schemas.checks import DELIVERY

    return pl.DataFrame(
        [(i + 2, *r, dt.date(2026, 1, 1)) for i, r in enumerate(rows)],
        schema={
            "_row": pl.Int64,
            "kommunenr": pl.String,
            "aar": pl.Int32,
            "anmodet": pl.Int32,
            "vedtatt": pl.Int32,
            "herav_ema": pl.Int32,
            DELIVERY: pl.Date,
        },
        orient="row",
    )


PLAN_CASES = {
    "valid": ([("5001", 2025, 100, 90, 5), ("5006", 2025, 20, None, None)], True),
    "identical rows twice": ([("5001", 2025, 100, 90, 5), ("5001", 2025, 100, 90, 5)], True),
    "one key, other figures": ([("5001", 2025, 100, 90, 5), ("5001", 2025, 100, 80, 5)], False),
    "the same figures in another year": ([("5001", 2025, 100, 90, 5), ("5001", 2026, 100, 90, 5)], True),
    "minors without a decision": ([("5001", 2025, 100, None, 3)], False),
    "more minors than decided": ([("5001", 2025, 100, 2, 3)], False),
    "no municipality": ([(None, 2025, 100, 90, 5)], False),
    "negative": ([("5001", 2025, -1, 90, 5)], False),
}


@pytest.mark.parametrize("case", PLAN_CASES)
def test_the_screen_agrees_with_pandera_on_rules_over_several_rows(case):
    """The rules that look at other rows of the file (`.over`): a settlement plan's
    municipality and year with conflicting figures (and a Trøndelag-model case id used by
    two cases, below). Each in every spoilt variant, as above."""
    from flows.validate import SCHEMAS, screen

    rows, valid = PLAN_CASES[case]
    frame, schema = _plan_frame(rows), SCHEMAS["settlement_plan"]
    verdicts = {name: (screen(v, schema), _pandera_passes(v, schema)) for name, v in _variants(frame, schema)}
    assert {k: v for k, v in verdicts.items() if v[0] != v[1]} == {}
    assert verdicts["as is"][1] is valid


def test_the_screen_agrees_with_pandera_on_a_case_id_used_by_two_cases(tmp_path):
    from flows.validate import SCHEMAS, screen, typed_for_schema

    tm = SCHEMAS["trondelag_model"]
    frame, _ = typed_for_schema(SOURCES["trondelag_model"].read(_tm_file(tmp_path, {})), "trondelag_model")
    two_cases = frame.with_columns(pl.lit(frame["case_id"][0]).alias("case_id"))  # one id, two cases
    assert frame["case_index"].n_unique() == 2
    for name, v in (("as is", frame), ("one id in two cases", two_cases)):
        assert screen(v, tm) == _pandera_passes(v, tm) == (name == "as is"), name


def test_the_screen_leaves_defaults_and_failing_expressions_to_pandera():
    """Pandera fills a column's default before its checks, and records a check that cannot
    be evaluated as failed: the screen, which does neither, hands both to Pandera."""
    import pandera.polars as pa

    from flows.validate import screen
    from schemas.checks import rule

    frame = pl.DataFrame({"a": [1, None]})
    with_default = pa.DataFrameSchema(
        {"a": pa.Column(pl.Int64, [rule("x", "x", lambda c: pl.col(c) >= 0)], nullable=True, default=-1)}
    )
    assert not screen(frame, with_default) and not _pandera_passes(frame, with_default)
    raising = pa.DataFrameSchema({"a": pa.Column(pl.Int64, [rule("x", "x", lambda c: pl.col(c).str.len_chars() > 0)])})
    assert not screen(pl.DataFrame({"a": [1, 2]}), raising)
