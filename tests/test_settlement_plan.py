"""The settlement-plan source (contract §5) on hand-made files: the reader, the row rules,
the privacy guard over the whole file, and the books and "newest delivery wins" through a
real load into a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest

from flows.sources import settlement_plan
from flows.validate import validate
from synthetic.model import national_id

HEADER = "kommunenr;aar;anmodet;vedtatt;herav_ema"


def write_plan(folder, name: str, rows: list[str], header: str = HEADER, bom: bool = False):
    path = folder / "settlement_plan" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8"))
    return path


def check(path):
    return validate(settlement_plan.read(path), "settlement_plan", "sha")


def test_a_plan_file_loads_with_columns_in_any_order_a_bom_and_no_herav_ema(tmp_path):
    path = write_plan(
        tmp_path, "bosetting_20240615.csv", ["2025;5001;120;"], header="aar;kommunenr;anmodet;vedtatt", bom=True
    )
    v = check(path)
    assert v.status == "loaded" and not v.quarantine
    assert v.rows.select("kommunenr", "aar", "anmodet", "vedtatt", "herav_ema").rows() == [
        ("5001", 2025, 120, None, None)
    ]
    assert v.meta["delivery_date"] == dt.date(2024, 6, 15)


@pytest.mark.parametrize(
    "row, rule, column",
    [
        ("5099;2025;10;8;0", "municipality_code", "kommunenr"),  # not a 2024 municipality
        ("501;2025;10;8;0", "municipality_code", "kommunenr"),  # three digits
        ("5001;2025;10;2;3", "minors_within_decided", "herav_ema"),  # vedtatt < herav_ema
        ("5001;2025;10;;3", "minors_within_decided", "herav_ema"),  # minors of an undecided number
        ("5001;2025;-4;2;0", "not_negative", "anmodet"),
        ("5001;2025;10;-1;", "not_negative", "vedtatt"),
        ("5001;2025;10;8;-1", "not_negative", "herav_ema"),
        ("5001;2014;10;8;0", "year_range", "aar"),
        ("5001;25;10;8;0", "year_range", "aar"),
        ("5001;2025;12,5;8;0", "integer_format", "anmodet"),
        ("5001;2025;;8;0", "required", "anmodet"),
    ],
)
def test_a_row_that_breaks_a_rule_is_quarantined_and_the_rest_loads(tmp_path, row, rule, column):
    path = write_plan(tmp_path, "bosetting_20240615.csv", ["5006;2025;10;8;1", row])
    v = check(path)
    assert v.status == "loaded"
    assert [(p.row_number, p.rule, p.column) for p in v.quarantine] == [(3, rule, column)]
    assert v.rows["kommunenr"].to_list() == ["5006"]
    assert all(part not in v.quarantine[0].message for part in row.split(";") if len(part) > 2)  # never quoted


def test_one_municipality_and_year_twice_with_different_figures_refuses_both_rows(tmp_path):
    path = write_plan(tmp_path, "bosetting_20240615.csv", ["5001;2025;10;8;0", "5001;2025;10;9;0", "5001;2026;4;;"])
    v = check(path)
    assert sorted((p.row_number, p.rule) for p in v.quarantine) == [(2, "plan_key_unique"), (3, "plan_key_unique")]
    assert v.rows["aar"].to_list() == [2026]


@pytest.mark.parametrize("where", ["cell", "spaced", "header", "file name", "unknown column"])
def test_a_national_id_anywhere_refuses_the_whole_file_and_is_never_written(tmp_path, where):
    number = national_id(random.Random(3), dt.date(1988, 2, 29))
    rows, header, name = ["5001;2025;10;8;0", "5006;2025;4;4;0"], HEADER, "bosetting_20240615.csv"
    if where == "cell":
        rows[1] = f"5006;2025;{number};4;0"
    elif where == "spaced":
        rows[0] = f"5001;2025;10;8;{number[:6]} {number[6:]}"
    elif where == "header":
        header = HEADER + f";{number}"
        rows = [r + ";" for r in rows]
    elif where == "file name":
        name = f"bosetting_20240615_{number}.csv"
    else:
        header, rows = HEADER + ";merknad", [rows[0] + f";ring fnr{number}", rows[1] + ";"]
    v = check(write_plan(tmp_path, name, rows, header=header))
    assert v.status == "privacy_incident"
    assert v.rows is None or v.rows.height == 0
    text = " ".join([v.file_name, v.message, *(p.message for p in v.quarantine)])
    assert number not in text and number[:6] not in v.file_name


def test_a_file_that_is_not_utf8_or_badly_named_is_refused_with_a_reason(tmp_path):
    bad = tmp_path / "settlement_plan" / "bosetting_20240615.csv"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(f"{HEADER}\r\n5001;2025;10;8;0\r\n".encode("utf-16"))
    assert check(bad).quarantine[0].rule == "encoding"
    assert check(write_plan(tmp_path, "bosetting_2024.csv", ["5001;2025;10;8;0"])).quarantine[0].rule == "file_name"
    missing = write_plan(tmp_path, "bosetting_20240616.csv", ["5001;2025;10"], header="kommunenr;aar;anmodet")
    assert check(missing).quarantine[0].rule == "missing_columns"


def test_newest_delivery_wins_whatever_order_the_files_arrive_in_and_the_books_balance(tmp_path):
    """The newer delivery is loaded first, the older one a load later: the marts keep the
    newer figures, the older file is superseded, and every file's books balance."""
    from flows.pipeline import load_without_prefect

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    write_plan(landing, "bosetting_20241215.csv", ["5001;2025;120;100;2", "5006;2025;10;10;0"])
    load_without_prefect(str(landing), str(warehouse), dt.date(2025, 1, 31), audit=False)
    write_plan(
        landing,
        "bosetting_20240615.csv",
        ["5001;2025;120;;", "5006;2025;10;;", "5007;2025;7;;", "5007;2025;7;;", "5035;2025;x;;"],
    )
    load_without_prefect(str(landing), str(warehouse), dt.date(2025, 1, 31), audit=False)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        plans = con.execute(
            "select municipality_code, year, requested, decided, unaccompanied_minors, source_file "
            "from marts.settlement_plan order by 1"
        ).fetchall()
        books = con.execute(
            "select file_name, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate "
            "from audit.file_log order by file_name"
        ).fetchall()
    assert plans == [
        ("5001", 2025, 120, 100, 2, "bosetting_20241215.csv"),
        ("5006", 2025, 10, 10, 0, "bosetting_20241215.csv"),
        ("5007", 2025, 7, None, None, "bosetting_20240615.csv"),
    ]
    assert books == [("bosetting_20240615.csv", "loaded", 5, 3, 1, 1), ("bosetting_20241215.csv", "loaded", 2, 2, 0, 0)]


def test_a_file_whose_every_row_is_replaced_by_a_newer_delivery_is_superseded(tmp_path):
    from flows.pipeline import load_without_prefect

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    write_plan(landing, "bosetting_20240615.csv", ["5001;2025;120;;"])
    write_plan(landing, "bosetting_20241215.csv", ["5001;2025;120;90;1"])
    write_plan(landing, "bosetting_20250301.csv", ["5001;2026;50;;"])
    load_without_prefect(str(landing), str(warehouse), dt.date(2025, 6, 1), audit=False)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        status = dict(con.execute("select file_name, status from audit.file_log").fetchall())
        as_of_before = con.execute("select count(*) from staging.stg_settlement_plan").fetchone()[0]
    assert status == {
        "bosetting_20240615.csv": "superseded",
        "bosetting_20241215.csv": "loaded",
        "bosetting_20250301.csv": "loaded",
    }
    assert as_of_before == 3


def test_a_row_missing_a_field_is_quarantined_not_read_as_undecided(tmp_path):
    """A careless export that drops a row's last fields (`5001;2026;30`): Polars would fill
    `vedtatt` with an empty value, which means "undecided". The row lacks a field, so it is
    quarantined with that reason; a row with all its fields, empty `vedtatt` included, and a
    blank line keep their meaning."""
    path = write_plan(tmp_path, "bosetting_20240615.csv", ["5006;2025;10;8;1", "5001;2026;30", "5001;2025;30;;", ""])
    v = check(path)
    assert v.status == "loaded"
    assert [(p.row_number, p.rule) for p in v.quarantine if p.rule == "short_row"] == [(3, "short_row")]
    assert "3 fields" in next(p.message for p in v.quarantine if p.rule == "short_row")
    kept = v.rows.select("kommunenr", "aar", "vedtatt").rows()
    assert ("5001", 2026, None) not in kept and ("5001", 2025, None) in kept
    assert v.rows_read == 4 == v.rows.height + len(v.quarantine)  # the books balance


def test_an_intro_row_cut_short_is_quarantined_and_the_books_balance_through_a_load(tmp_path):
    """An intro record whose last fields are missing would load as a record without them;
    it is quarantined with the reason, and every row of the file is accounted for."""
    from flows.pipeline import load_without_prefect
    from tests import helpers as h

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    whole = h.intro_row()
    cut = ";".join(h.intro_row(pid=h.PID_B).split(";")[:5])
    h.write_intro(landing, "intro_5001_20240101.csv", [whole, cut])
    load_without_prefect(str(landing), str(warehouse), dt.date(2026, 11, 1), audit=False)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rules = con.execute("select rule, row_number from audit.quarantine").fetchall()
        read, loaded, quarantined = con.execute(
            "select rows_read, rows_loaded, rows_quarantined from audit.file_log"
        ).fetchone()
    assert rules == [("short_row", 3)]
    assert (read, loaded, quarantined) == (2, 1, 1)


def test_a_short_row_is_found_also_in_a_file_with_quoted_fields(tmp_path):
    """With a quote character in the file a record may span lines, so fields are counted by
    Python's csv module rather than per line: the short row is still found."""
    path = write_plan(tmp_path, "bosetting_20240615.csv", ['"5006";2025;10;8;1', "5001;2026;30"])
    v = check(path)
    assert [(p.row_number, p.rule) for p in v.quarantine] == [(3, "short_row")]
    assert v.rows["kommunenr"].to_list() == ["5006"]
