"""Privacy by construction: the national-id guard over every spelling and every place, and
messages that describe values without quoting them.

The corpus (tests/privacy_corpus.py) has one file per spelling and place. Each must be a
privacy incident, and after a real load (`pathways load` in a subprocess, on Prefect's
engine with its own server and SQLite database under PREFECT_HOME) its number must be
found in no table, log, stdout/stderr, Prefect database, run record or report: every
file the load wrote is scanned as bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest
from stdnum.no import fodselsnummer, orgnr

from flows.sources import SOURCES
from flows.validate import validate
from schemas.privacy import contains_national_id, find_national_ids, mask, safe_name
from synthetic.model import national_id
from tests import helpers as h
from tests import privacy_corpus

PROJECT = Path(__file__).resolve().parent.parent


# -- the rule against the reference ---------------------------------------------------------------
def test_the_guard_agrees_with_stdnum_on_11_and_10_digit_numbers():
    rng = random.Random(9)
    valid = [
        national_id(
            rng, dt.date(rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28)), d_number=rng.random() < 0.3
        )
        for _ in range(3000)
    ]
    noise = [f"{rng.randint(0, 10**11 - 1):011d}" for _ in range(30000)]
    for n in valid + noise:
        assert contains_national_id(n) == fodselsnummer.is_valid(n), n
        assert contains_national_id(f"fnr{n}x") == fodselsnummer.is_valid(n), n
        assert contains_national_id(f"{n[:6]} {n[6:]}") == fodselsnummer.is_valid(n), n
    lost = [n[1:] for n in valid if n.startswith("0")]
    assert len(lost) > 100
    assert all(contains_national_id(n) for n in lost)
    tens = [f"{rng.randint(10**9, 10**10 - 1)}" for _ in range(20000)]
    for n in tens:
        assert contains_national_id(n) == fodselsnummer.is_valid("0" + n), n
    assert sum(fodselsnummer.is_valid(n) for n in noise) > 20  # the noise holds valid numbers too


@pytest.mark.parametrize("spelling", list(privacy_corpus.SPELLINGS))
def test_every_spelling_is_found_and_masked(spelling):
    nums = privacy_corpus.Numbers(seed=len(spelling))
    n = nums.next(leading_zero=spelling == "leading zero lost")
    written = privacy_corpus.SPELLINGS[spelling](n)
    for text in (written, f"Merknad: {written}.", f"x;{written};y", f'"{written}"'):
        assert contains_national_id(text), (spelling, text)
        masked = mask(text)
        assert not contains_national_id(masked)
        assert n not in masked and n[1:] not in masked and n[:6] not in masked and n[6:] not in masked


def test_keys_dates_orgnrs_uuids_and_times_are_not_national_ids():
    """False positives refuse a whole file, so the ordinary values of every source must pass:
    pids (a quarter of them hold 11 digits in a row, some of those a valid number), UUIDs,
    dates in every format the sources use, Excel date cells, time stamps, orgnrs."""
    rng = random.Random(4)
    pids = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(40000)]
    with_valid_run = [p for p in pids if any(fodselsnummer.is_valid(p[i : i + 11]) for i in range(54))]
    assert with_valid_run, "some keys hold a valid 11-digit run: the rule must not count them"
    fnr = national_id(rng, dt.date(1975, 1, 30))
    planted = [fnr + "f" * 53, "ab" + fnr + "cd" + "0" * 49, fnr.upper() + "A" * 53]
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(20000)]
    digit_uuids = ["12345678-1234-1234-1234-" + fnr + "0", "01019012-4801-1234-1234-123456789012"]
    start = dt.date(2010, 1, 1)
    days = [start + dt.timedelta(days=k) for k in range(365 * 17)]
    dates = (
        [f"{d:%d.%m.%Y}" for d in days]
        + [f"{d:%Y-%m-%d}" for d in days]
        + [f"{d:%Y-%m-%d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00" for d in days]
        + [f"{d:%Y%m%d}T{rng.randint(0, 235959):06d}" for d in days]
        + [f"{d:%d.%m.%Y} – {d + dt.timedelta(days=40):%d.%m.%Y}" for d in days]
        + [f"{d:%Y-%m-%dT%H:%M:%S}+01:00" for d in days]
    )
    orgs = [o for o in (f"{rng.randint(800_000_000, 999_999_999)}" for _ in range(30000)) if orgnr.is_valid(o)]
    assert len(orgs) > 2000
    names = [f"kombinasjon_{o}_2023-2024_20240101.xlsx" for o in orgs[:500]] + [
        f"vo_{d:%Y%m%d}T031700.jsonl" for d in days[:500]
    ]
    keys = pids + planted
    size = max(len(keys), len(dates))
    frame = pl.DataFrame(
        {"pid": keys + [""] * (size - len(keys)), "dato": dates + [""] * (size - len(dates)), "_row": range(size)}
    )
    assert find_national_ids(frame) == []
    for value in ids + digit_uuids + orgs + names + [f"{o} {o}" for o in orgs[:200]]:
        assert not contains_national_id(value), value
    assert contains_national_id(pids[0] + "x" + fnr), "a key with more run on is not a key any more"
    assert contains_national_id(pids[0][:40] + "_" + fnr)


def test_the_synthetic_county_has_no_incident_but_the_planted_ones(county, planted_faults):
    from flows.landing import discover
    from flows.validate import guard

    planted = {(f["file"], f["row"], f["column"]) for f in planted_faults if f["rule"] == "national_id"}
    found = set()
    for f in discover(county):
        for p in guard(SOURCES[f.source].read(f.path), f.source):
            found.add((f.name, p.row_number, p.column))
    assert found == planted


def test_reading_is_linear_in_the_number_of_distinct_keys(tmp_path):
    """A JSON Lines file with a new key on every line used to become a lines × keys frame."""
    lines = 20000
    events = [{**h.ae_event(event_id=str(uuid.UUID(int=i))), f"extra_{i}": "x"} for i in range(lines)]
    path = h.write_jsonl(tmp_path, "vo_20240101T000000.jsonl", events)
    started = time.perf_counter()
    raw = SOURCES["adult_education"].read(path)
    v = validate(raw, "adult_education", "sha")
    elapsed = time.perf_counter() - started
    assert raw.frame.width == len(SOURCES["adult_education"].COLUMNS) + 1
    assert v.status == "loaded" and v.rows.height == lines
    assert elapsed < 30, elapsed  # 20 000 × 20 000 cells would not fit in memory at all


# -- every place, every spelling: a privacy incident, the number never kept ------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy") / "landing"
    return root, privacy_corpus.build(root)


def test_every_case_of_the_corpus_is_a_privacy_incident(corpus):
    _, cases = corpus
    places = {(c.source, c.place) for c in cases}
    assert len(places) >= 30 and len({c.spelling for c in cases}) == len(privacy_corpus.SPELLINGS)
    for case in cases:
        raw = SOURCES[case.source].read(case.file)
        v = validate(raw, case.source, "sha")
        assert v.status == "privacy_incident", (case.source, case.place, case.spelling, v.status, v.message)
        assert v.rows is None and all(p.rule == "national_id" for p in v.quarantine)
        kept = repr(v.quarantine) + v.message + v.file_name
        for form in privacy_corpus.spelled_forms(case):
            assert form.decode("utf-8", "ignore") not in kept, (case.place, case.spelling)
        if case.place == "file name":
            assert v.file_name == safe_name(case.file.name) and "*" in v.file_name


def _free_text_file(landing: Path) -> tuple[Path, list[str]]:
    """Free text typed into code and date columns: quarantined rows, never quoted."""
    secrets_ = ["Hun heter Kari Nordmann", "ring Ola på 91234567", "bor i Storgata 7"]
    rows = [
        h.intro_row(),
        h.intro_row(h.PID_B, sex=secrets_[0]),
        h.intro_row(h.PID_C, date=secrets_[1]),
        h.intro_row(hashlib.sha256(b"d").hexdigest(), country=secrets_[2]),
        h.intro_row(hashlib.sha256(b"e").hexdigest()[:40]),
    ]
    return h.write_intro(landing, "intro_5001_20231231.csv", rows), secrets_ + ["91234567", "Kari"]


def test_messages_describe_and_never_quote(tmp_path):
    path, secrets_ = _free_text_file(tmp_path)
    v = validate(SOURCES["intro"].read(path), "intro", "sha")
    assert v.status == "loaded" and len(v.quarantine) == 4
    text = repr(v.quarantine)
    for s in secrets_:
        assert s not in text
    by_column = {p.column: p.message for p in v.quarantine}
    assert "not a 64-character hex pid: 40 characters" in by_column["deltaker_pid"]
    assert "not a date in dd.mm.yyyy" in by_column["dato"]
    assert "characters" in by_column["kjonn"]


def _scan_tree(root: Path, forms: set[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path}: {f!r}" for f in forms if f in data]
    return hits


def _sql_hits(warehouse: Path, needles: list[str]) -> list[str]:
    """Every text column of every table, digits only and as written (DuckDB compresses
    strings, so the file's bytes alone do not prove absence)."""
    hits = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = con.execute("""select table_schema, table_name, column_name from information_schema.columns
                                 where data_type = 'VARCHAR'""").fetchall()
        for schema, table, column in columns:
            rows = con.execute(
                f'select distinct "{column}" from {schema}.{table} where "{column}" is not null'
            ).fetchall()
            for (value,) in rows:
                digits = "".join(c for c in value if c.isdigit())
                hits += [f"{schema}.{table}.{column}" for n in needles if n in value or n in digits]
    return hits


def test_a_real_load_of_the_corpus_keeps_no_number_anywhere(corpus, tmp_path):
    landing, cases = corpus
    _, free_text = _free_text_file(landing)
    home, out = tmp_path / "home", tmp_path / "wh"
    warehouse = out / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PATHWAYS_"))}
    env.update(
        PATHWAYS_HOME=str(home),
        PREFECT_LOGGING_LEVEL="DEBUG",
        PYTHONPATH=str(PROJECT),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )  # 2 cores shared by several test runs
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "load",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
            "--as-of",
            "2026-11-01",
        ],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        timeout=600,
        preexec_fn=lambda: os.umask(0o022),
    )  # a permissive parent
    # 3: published, with the corpus files refused (as privacy incidents)
    assert proc.returncode == 3, proc.stderr.decode()[-3000:]
    assert (home / "prefect").is_dir() and list((home / "prefect").rglob("*.db")), "Prefect kept its database"

    with duckdb.connect(str(warehouse), read_only=True) as con:
        log = dict(con.execute("select file_name, status from audit.file_log").fetchall())
        incidents = con.execute(
            "select file_name, row_number, column_name, rule from audit.quarantine where rule = 'national_id'"
        ).fetchall()
    names = {safe_name(c.file.name) for c in cases}
    assert {log.get(n) for n in names} == {"privacy_incident"}, {n: log.get(n) for n in names}
    assert {f for f, *_ in incidents} == names
    assert any("*" in n for n in log), "a file named with a number is recorded under its masked name"

    forms: set[bytes] = set()
    for case in cases:
        forms |= privacy_corpus.spelled_forms(case)
    secret_bytes = {s.encode() for s in free_text}
    leaks = _scan_tree(out, forms | secret_bytes)  # warehouse, load_runs.jsonl, Data Docs, gx_project
    leaks += _scan_tree(home, forms | secret_bytes)  # Prefect's SQLite database (with its WAL), its logs
    leaks += [f"stdout/stderr: {f!r}" for f in forms | secret_bytes if f in proc.stdout + proc.stderr]
    leaks += _sql_hits(
        warehouse, [c.number for c in cases] + [c.number[1:] for c in cases if c.number.startswith("0")] + free_text
    )
    assert leaks == []
    assert (out / "load_runs.jsonl").exists() and list((out / "data_docs").rglob("*.html"))
    # and what the load wrote (Prefect's database and files too) is for the owner and group only
    written = [p for p in [*out.rglob("*"), *(home / "prefect").rglob("*"), home / "prefect"] if not p.is_symlink()]
    assert len(written) > 10
    assert [str(p) for p in written if p.stat().st_mode & 0o027] == []
    # what the data officer needs is there: file, row, column and rule of every incident
    rows = {(f, r, c) for f, r, c, _ in incidents}
    assert any(r is not None and c is not None for _, r, c in rows)


def test_published_files_are_for_the_owner_and_the_group_only(tmp_path, prefect_server):
    from flows.pipeline import load

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    h.write_intro(landing, "intro_5001_20240101.csv", [h.intro_row()])
    old = os.umask(0o022)  # a permissive caller: the load restricts what it creates all the same
    try:
        load(str(landing), str(warehouse), dt.date(2026, 11, 1))
        # a second build: its report pages are restricted too (only what a build writes is)
        h.write_intro(landing, "intro_5001_20240201.csv", [h.intro_row()])
        load(str(landing), str(warehouse), dt.date(2026, 11, 2))
        # a refused build goes to failed/
        from warehouse.publish import keep_aside, start_candidate

        kept = keep_aside(start_candidate(warehouse, "x"), warehouse)
    finally:
        os.umask(old)
    paths = [
        warehouse,
        warehouse.parent / "load_runs.jsonl",
        warehouse.parent / "failed",
        kept,
        warehouse.parent / "data_docs",
        *(warehouse.parent / "data_docs").rglob("*"),
        warehouse.parent / "builds",
        *(warehouse.parent / "builds").iterdir(),
    ]  # kept builds (issue 12)
    assert len(paths) > 8
    assert len({p.parent.parent.name for p in (warehouse.parent / "data_docs" / "validations").rglob("*.html")}) == 2
    for path in paths:
        mode = path.stat().st_mode & 0o777
        assert mode & 0o007 == 0, (path, oct(mode))  # nothing for others
        assert mode & 0o020 == 0, (path, oct(mode))  # the group reads, never writes
        assert mode & 0o600 == 0o600, (path, oct(mode))


def test_a_load_outside_the_configured_roots_is_refused(tmp_path, prefect_server, monkeypatch):
    from flows.pipeline import load
    from flows.settings import PathOutsideRoot

    landing, inside, outside = tmp_path / "landing", tmp_path / "wh", tmp_path / "elsewhere"
    h.write_intro(landing, "intro_5001_20240101.csv", [h.intro_row()])
    monkeypatch.setenv("PATHWAYS_LANDING_ROOT", str(landing))
    monkeypatch.setenv("PATHWAYS_WAREHOUSE_ROOT", str(inside))
    for bad_landing, bad_warehouse in (
        (landing, outside / "w.duckdb"),
        (landing, inside / ".." / "elsewhere" / "w"),
        (tmp_path, inside / "w.duckdb"),
    ):
        with pytest.raises(PathOutsideRoot, match="outside the configured"):
            load(str(bad_landing), str(bad_warehouse), dt.date(2026, 11, 1))
    (inside).mkdir()
    (inside / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathOutsideRoot):
        load(str(landing), str(inside / "link" / "w.duckdb"), dt.date(2026, 11, 1))
    assert not outside.exists()
    summary = load(str(landing), str(inside / "w.duckdb"), dt.date(2026, 11, 1))
    assert summary.published


def test_the_command_refuses_a_path_outside_the_roots_with_exit_code_4_and_writes_nothing(tmp_path):
    landing, inside, outside = tmp_path / "landing", tmp_path / "wh", tmp_path / "elsewhere"
    h.write_intro(landing, "intro_5001_20240101.csv", [h.intro_row()])
    env = dict(
        os.environ, PATHWAYS_LANDING_ROOT=str(landing), PATHWAYS_WAREHOUSE_ROOT=str(inside), PYTHONPATH=str(PROJECT)
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "load",
            "--landing",
            str(landing),
            "--warehouse",
            str(outside / "w.duckdb"),
        ],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stderr.decode()[-2000:]
    assert b"outside the configured warehouse root" in proc.stderr
    assert not outside.exists()  # not even a run record or a lock file


def test_read_errors_are_raised_without_the_path_or_the_parser_text(tmp_path):
    from flows.validate import read_and_validate_file

    fnr = national_id(random.Random(3), dt.date(1970, 6, 1))
    missing = tmp_path / "intro" / f"intro_5001_{fnr}.csv"
    with pytest.raises(OSError) as caught:
        read_and_validate_file("intro", missing, "sha")
    assert caught.value.filename is None and fnr not in str(caught.value) and caught.value.errno == 2
    assert caught.value.__cause__ is None and caught.value.__suppress_context__

    # a broken CSV: polars' error quotes the raw rows; the message only says what kind of problem
    path = h.write_intro(tmp_path, "intro_5001_20240101.csv", [h.intro_row(), '"Kari Nordmann;;', h.intro_row()])
    v = read_and_validate_file("intro", path, "sha")
    assert v.status == "quarantined" and v.quarantine[0].rule == "unreadable"
    assert "Kari" not in v.message and "Nordmann" not in repr(v.quarantine)


def test_json_lines_are_numbered_as_the_guard_numbers_them(tmp_path):
    """A U+2028 inside a JSON string is not a line break: the reader and the guard agree."""
    fnr = national_id(random.Random(8), dt.date(1982, 9, 9))
    path = h.write_jsonl(
        tmp_path,
        "vo_20240101T000000.jsonl",
        [{**h.ae_event(), "note": "a\u2028b"}, h.ae_event(h.PID_B), {**h.ae_event(h.PID_C), "x": fnr}],
    )
    raw = SOURCES["adult_education"].read(path)
    assert raw.frame["_row"].to_list() == [1, 2, 3] and not raw.row_problems
    v = validate(raw, "adult_education", "sha")
    assert [(p.row_number, p.column) for p in v.quarantine] == [(3, "x")]
