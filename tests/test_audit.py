"""Great Expectations on DuckDB: why the patch in warehouse/gx_duckdb.py exists, and that
the audits catch what they must."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from warehouse import gx_duckdb
from warehouse.audit import run_audits


def _validate(path, expectations):
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    ds = context.data_sources.add_sql("wh", connection_string=f"duckdb:///{path}")
    batch = ds.add_query_asset("t", query="select * from marts.t").add_batch_definition_whole_table("all").get_batch()
    try:
        return [r.success for r in batch.validate(gx.ExpectationSuite("s", expectations=expectations)).results]
    finally:
        ds.get_execution_engine().close()
        ds.get_engine().dispose()


def test_gx_sql_path_on_duckdb_needs_the_persistent_connection(tmp_path):
    import great_expectations.expectations as gxe

    path = tmp_path / "t.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create table marts.t as select range as id, range % 3 as g from range(500)")

    def suite():
        return [
            gxe.ExpectColumnValuesToBeUnique(column="id"),  # must pass
            gxe.ExpectColumnValuesToBeBetween(column="g", min_value=0, max_value=1),  # must fail
            gxe.ExpectTableRowCountToBeBetween(min_value=500, max_value=500),
        ]  # must pass

    gx_duckdb.disable()
    try:
        assert _validate(path, suite()) == [False, False, False]  # every result wrong without the patch
    finally:
        gx_duckdb.enable()
    assert _validate(path, suite()) == [True, False, True]


def test_audits_fail_on_a_broken_mart_and_name_it(loaded, tmp_path):
    _, warehouse = loaded
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(broken)) as con:
        con.execute(
            "update marts.school_place_wait set wait_days = -3 where status = 'started' "
            "and rowid in (select rowid from marts.school_place_wait limit 2)"
        )
        con.execute("update marts.stage_spell set end_date = start_date - 1 where rowid = 1")
    result = run_audits(broken, tmp_path / "w.duckdb", "test-broken", dt.date(2026, 11, 1), {}, False)
    assert not result.success
    text = "\n".join(result.failures)
    assert "marts.school_place_wait" in text and "wait_days" in text
    assert "marts.stage_spell" in text and "end_date" in text
    # the suites run pass/fail only first; the failing ones again with their counts
    assert "2 unexpected rows" in text, text
    assert (tmp_path / "data_docs" / "index.html").exists()


def test_audits_pass_on_the_loaded_county(loaded, tmp_path):
    _, published = loaded
    warehouse = tmp_path / "candidate.duckdb"  # the audit records its state in the candidate
    warehouse.write_bytes(published.read_bytes())
    result = run_audits(
        warehouse, tmp_path / "w.duckdb", "test-ok", dt.date(2026, 11, 1), {"core.event": 10**9}, force=True
    )  # forced: the count guard is off
    assert result.success, result.failures
    assert result.expectations >= 50
    collapsed = run_audits(
        warehouse, tmp_path / "w.duckdb", "test-guard", dt.date(2026, 11, 1), {"core.event": 10**9}, force=False
    )
    assert not collapsed.success and any("core.event" in f for f in collapsed.failures)


def test_reports_of_old_builds_are_pruned_to_the_newest(tmp_path):
    """Data Docs keep the pages of the newest N builds, so years of nightly builds never
    fill the disk or slow the report; every suite's folder of a removed build goes."""
    import os

    from warehouse.audit import prune_reports

    docs = tmp_path / "data_docs"
    for age, build in enumerate(["b3", "b2", "b1"]):  # b1 the oldest
        for suite in ("core__event", "marts__funnel"):
            folder = docs / "validations" / suite / build / "20261126T000000Z"
            folder.mkdir(parents=True)
            (folder / "page.html").write_text("x")
            os.utime(docs / "validations" / suite / build, (1_000_000 - age * 1000, 1_000_000 - age * 1000))
    assert prune_reports(docs, 2) == ["b1"]
    assert sorted(p.name for p in (docs / "validations" / "core__event").iterdir()) == ["b2", "b3"]
    assert sorted(p.name for p in (docs / "validations" / "marts__funnel").iterdir()) == ["b2", "b3"]


def test_a_burst_of_refused_builds_never_removes_the_published_builds_report(tmp_path):
    import os

    from warehouse.audit import prune_reports

    docs = tmp_path / "data_docs"
    for age, build in enumerate(["r3", "r2", "r1", "published"]):
        folder = docs / "validations" / "core__event" / build
        folder.mkdir(parents=True)
        os.utime(folder, (1_000_000 - age * 1000, 1_000_000 - age * 1000))
    assert prune_reports(docs, 2, protect={"published"}) == ["r1"]
    assert sorted(p.name for p in (docs / "validations" / "core__event").iterdir()) == ["published", "r2", "r3"]


_COMPILE_TWICE = """
import json, sys
from pathlib import Path
from warehouse import gx_templates
from great_expectations.render.view.view import DefaultJinjaView
folder = Path(sys.argv[1])
enabled = gx_templates.enable(folder)
seen = []
for _ in range(2):  # two views, two Jinja environments: as two builds
    DefaultJinjaView().env.get_template("page.j2")
    seen.append({p.name: p.stat().st_mtime_ns for p in folder.iterdir()})
print(json.dumps({"enabled": enabled, "seen": seen}))
"""


def test_data_docs_templates_are_compiled_once_into_a_private_cache(tmp_path):
    """GX compiles its Data Docs templates for every view (so every build) unless Jinja's
    bytecode cache is given (issue 13's profile); the cache is code Jinja executes, so only a
    folder private to this account is used."""
    import json
    import os
    import subprocess
    import sys

    from warehouse import gx_templates

    cache = tmp_path / "cache"
    out = subprocess.run(
        [sys.executable, "-c", _COMPILE_TWICE, str(cache)],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, GX_ANALYTICS_ENABLED="false"),
    )
    assert out.returncode == 0, out.stderr[-1500:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    first, second = result["seen"]
    assert result["enabled"] and first and all(n.startswith("__jinja2_") for n in first)
    assert second == first  # the second environment loaded the compiled template, compiled nothing
    assert cache.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # others could plant code here: not used
    assert not gx_templates._private_folder(shared)
    (tmp_path / "link").symlink_to(cache)  # a link, even to a private folder: not used
    assert not gx_templates._private_folder(tmp_path / "link")
    assert gx_templates._private_folder(cache)


def test_each_build_keeps_the_reports_of_the_builds_before_it(tmp_path):
    """The audit's context holds one build's results; GX's own index builder then deleted
    every earlier build's report (leaving empty folders). Now the index shows the current
    build and the earlier reports stay, for the dashboard's list of builds."""
    import json

    from dashboard.datadocs import pages
    from flows.pipeline import load_without_prefect
    from tests import helpers as h

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    h.write_intro(landing, "intro_5001_20240101.csv", [h.intro_row()])
    load_without_prefect(str(landing), str(warehouse), dt.date(2026, 11, 1))
    h.write_intro(landing, "intro_5001_20240201.csv", [h.intro_row()])
    load_without_prefect(str(landing), str(warehouse), dt.date(2026, 11, 2))
    first, second = (json.loads(line)["load_id"] for line in (warehouse.parent / "load_runs.jsonl").open())
    by_build: dict[str, set[str]] = {}
    for page in pages(warehouse):
        by_build.setdefault(page.build_id, set()).add(page.suite)
    assert set(by_build) == {first, second} and by_build[first] == by_build[second]
    assert "core__event" in by_build[first]
    index = (warehouse.parent / "data_docs" / "index.html").read_text()
    assert second in index and first not in index


def test_a_suite_is_carried_only_while_its_table_and_expectations_are_unchanged(loaded, tmp_path, monkeypatch):
    """Audit only what changed (warehouse/audit_state.py): a suite whose table is identical
    to the one a build audited, with the same expectations, keeps that build's result and
    page; any change of a row, of an expectation's parameter or a missing page runs it."""
    from dashboard.datadocs import pages
    from warehouse.audit_state import BANNER_MARK

    _, warehouse = loaded
    candidate, published = tmp_path / "candidate.duckdb", tmp_path / "w.duckdb"
    candidate.write_bytes(warehouse.read_bytes())
    as_of = dt.date(2026, 11, 1)

    def audit(build_id, day=as_of, previous=None):
        return run_audits(candidate, published, build_id, day, previous or {}, previous is None)

    first = audit("b1")
    assert first.success and first.carried == 0 and len(first.suites_run) >= 13
    with monkeypatch.context() as m:  # nothing to run: Great Expectations is not even imported
        m.setattr("warehouse.audit.import_great_expectations", lambda: pytest.fail("GX imported"))
        second = audit("b2")
    assert second.success and second.suites_run == [] and second.carried == second.expectations
    carried_pages = [p for p in pages(published) if p.build_id == "b2"]
    assert {p.suite for p in carried_pages} == {p.suite for p in pages(published) if p.build_id == "b1"}
    assert all(p.success and BANNER_MARK in p.path.read_text() for p in carried_pages)

    # a row replaced by a copy of another: the same count, a different multiset of rows
    with duckdb.connect(str(candidate)) as con:
        con.execute("create temp table twin as select * from core.person where rowid = 2")
        con.execute("delete from core.person where rowid = 1")
        con.execute("insert into core.person select * from twin")
    broken = audit("b3")
    assert broken.suites_run == ["core.person"] and not broken.success
    assert any("core.person" in f and "person_id" in f for f in broken.failures), broken.failures
    # a failed suite is never recorded as passed: the same table fails again
    again = audit("b4")
    assert again.suites_run == ["core.person"] and not again.success

    # back to a sound table: it passes; the first audit of the next day runs every suite
    # (results are carried only between loads of one day)
    with duckdb.connect(str(candidate)) as con:
        con.execute(f"attach '{warehouse}' as published (read_only)")
        con.execute("delete from core.person")
        con.execute("insert into core.person select * from published.core.person")
    assert audit("b5").success
    next_day = audit("b6", as_of + dt.timedelta(days=1))
    assert next_day.success and next_day.suites_run == first.suites_run

    # a page gone from the disk (pruned, deleted): its suite runs rather than leave a hole
    import shutil

    shutil.rmtree(tmp_path / "data_docs" / "validations" / "core__event" / "b6")
    assert audit("b7", as_of + dt.timedelta(days=1)).suites_run == ["core.event"]
    # the drop guard's minimum follows the published counts: an unchanged table that is
    # still above it keeps its result, one that falls below it is audited and refused
    with duckdb.connect(str(candidate)) as con:
        events = con.execute("select count(*) from core.event").fetchall()[0][0]
    day = as_of + dt.timedelta(days=1)
    assert "core.event" in audit("b8", day, {"core.event": events}).suites_run  # the guard is new
    assert audit("b9", day, {"core.event": events + 7}).suites_run == []
    collapsed = audit("b10", day, {"core.event": events * 2})
    assert collapsed.suites_run == ["core.event"] and not collapsed.success
    # and a county that wants every suite run on every build says so
    monkeypatch.setenv("PATHWAYS_AUDIT_CARRY", "false")
    assert audit("b11", as_of + dt.timedelta(days=1)).suites_run == first.suites_run


def test_the_models_key_tests_name_duplicates_and_nulls(loaded, tmp_path):
    """build.test_keys screens each key by counting distinct hashes; a duplicate must still
    be caught and counted exactly, a null named per column, a sound warehouse pass."""
    from warehouse.build import load_models, test_keys

    _, published = loaded
    candidate = tmp_path / "candidate.duckdb"
    candidate.write_bytes(published.read_bytes())
    models = load_models()
    spell_key = ", ".join(models["marts.stage_spell"].unique)
    assert models["marts.stage_spell"].unique and "person_id" in models["core.person"].unique
    with duckdb.connect(str(candidate)) as con:
        assert test_keys(con) == []
        con.execute("insert into marts.stage_spell select * from marts.stage_spell where rowid < 2")
        con.execute("update core.event set source = null where rowid in (3, 5, 8)")
        assert "source" in models["core.event"].not_null
        assert sorted(test_keys(con)) == [
            "core.event: 3 rows with source null",
            f"marts.stage_spell: 2 duplicate keys on ({spell_key})",
        ]


def _page(docs, build_id, age_seconds):
    import os
    import time

    folder = docs / "validations" / "core__event" / build_id / "20261126T000000Z"
    folder.mkdir(parents=True)
    (folder / "page.html").write_text("<html><body><p>results</p></body></html>")
    when = time.time() - age_seconds
    os.utime(folder, (when, when))
    os.utime(folder.parent, (when, when))


def test_a_carried_page_is_as_new_as_the_build_it_was_copied_into(tmp_path):
    """(Found in review.) prune_reports ages a build by its folders' times, and a copied
    folder kept the time of the audit it carries: refused builds since then pushed the new
    build's pages out in the very audit that copied them, and it was published without a
    report."""
    from warehouse.audit import prune_reports
    from warehouse.audit_state import SuiteState, copy_page, has_page

    docs = tmp_path / "data_docs"
    _page(docs, "published", 30 * 86400)  # audited a month ago
    _page(docs, "refused1", 7200)
    _page(docs, "refused2", 3600)
    copy_page(docs, "core__event", SuiteState("key", "published", "published"), "now")  # all carried
    prune_reports(docs, 2, protect={"published"})
    assert has_page(docs, "core__event", "now")


def test_a_page_carried_twice_says_so_once(tmp_path):
    """(Found in review.) The page carried next time is this build's copy, which already has
    its line: each unchanged build added one more."""
    from warehouse.audit_state import BANNER_MARK, SuiteState, copy_page, page_folder

    docs = tmp_path / "data_docs"
    _page(docs, "b1", 0)
    copy_page(docs, "core__event", SuiteState("key", "b1", "b1"), "b2")
    copy_page(docs, "core__event", SuiteState("key", "b1", "b2"), "b3")
    (page,) = page_folder(docs, "core__event", "b3").glob("*/*.html")
    text = page.read_text()
    assert text.count(BANNER_MARK) == 1 and "Carried into build b3" in text, text


def test_a_crafted_hash_collision_is_carried_for_one_day_at_most():
    """(Found in review.) DuckDB's hash is invertible (a murmur finalizer), so a row with the
    same 64-bit hash as another can be computed: (a2, b2) below, with b2 < 0, gives the
    table the fingerprint of (1, 10). Its suite would be carried on the same as-of date (the
    limit warehouse/audit_state.py states); the first audit of the next day runs it."""
    from warehouse.audit import Expect
    from warehouse.audit_state import audit_key

    m = 2**64

    def xs(x):
        return x ^ (x >> 32)

    mul = 0xD6E8FEB86659FD93
    inv = pow(mul, -1, m)

    def murmur(x):
        return xs(xs(xs(x) * mul % m) * mul % m)

    def unmurmur(x):
        return xs(xs(xs(x) * inv % m) * inv % m)

    def combine(a, b):
        return (xs(a) * mul % m) ^ b

    target = combine(murmur(1), murmur(10))  # the hash of the row (1, 10)
    a2 = 2
    while True:
        b2 = unmurmur(target ^ combine(murmur(a2), 0)) % m
        b2 = b2 - m if b2 >= 2**63 else b2
        if b2 < 0:
            break
        a2 += 1
    suite = [Expect("ExpectColumnValuesToBeBetween", {"column": "b", "min_value": 0})]
    today, tomorrow = dt.date(2026, 11, 26), dt.date(2026, 11, 27)
    keys = {}
    for row in [(1, 10), (a2, b2)]:
        con = duckdb.connect()
        con.execute("create schema marts")
        con.execute("create table marts.t (a bigint, b bigint)")
        con.execute("insert into marts.t values (?, ?)", list(row))
        keys[row] = (audit_key(con, "marts.t", suite, today), audit_key(con, "marts.t", suite, tomorrow))
    (sound_today, _), (forged_today, forged_tomorrow) = keys[(1, 10)], keys[(a2, b2)]
    assert forged_today == sound_today  # the known limit, within one day
    assert forged_tomorrow != sound_today  # what the nightly load audits anew


def test_great_expectations_is_imported_ahead_only_when_the_audit_will_run_suites(loaded, tmp_path):
    """A fresh process (a one-off load): nothing new on the published date imports nothing;
    new files start the import in the background, while the load reads and builds."""
    import subprocess
    import sys

    _, published = loaded
    with duckdb.connect(str(published), read_only=True) as con:
        as_of = con.execute("select max(as_of) from meta.build").fetchall()[0][0]
    script = f"""
import datetime as dt, sys, threading
from pathlib import Path
from warehouse.audit import prefetch_great_expectations
published, as_of = Path({str(published)!r}), dt.date.fromisoformat({as_of.isoformat()!r})
assert not prefetch_great_expectations(published, as_of, 0)
assert not prefetch_great_expectations(published, as_of, 0) and "great_expectations" not in sys.modules
assert prefetch_great_expectations(published, as_of + dt.timedelta(days=1), 0)  # a new day: every suite runs
for thread in threading.enumerate():
    if thread.name == "import-great-expectations":
        thread.join()
assert "great_expectations" in sys.modules
assert not prefetch_great_expectations(published, as_of, 3)  # imported already
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_audit_process_goes_idle_only_where_it_may_come_back():
    """`may_leave_idle` agrees with the kernel: where it says yes, a process moves to the
    idle scheduling class and back; where it says no (an ordinary account: nice limit 0,
    no CAP_SYS_NICE), the move back is refused, and the audit process must not go idle.
    Checked in this account and, when the tests run as root, in a child that became
    `nobody` (found in review: the first version went idle for good there)."""
    import os

    from warehouse import audit_process

    def in_child(as_nobody: bool) -> tuple[bool, bool]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # a child, so that this process's own class is never changed
            code = 0
            try:
                if as_nobody:
                    os.setgid(65534)
                    os.setuid(65534)  # from root: the effective capabilities are cleared
                predicted = audit_process.may_leave_idle()
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
                try:
                    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
                    back = True
                except PermissionError:
                    back = False
                os.write(write_end, bytes([predicted, back]))
            except BaseException:
                code = 1
            os._exit(code)
        os.close(write_end)
        answer = os.read(read_end, 2)
        os.close(read_end)
        assert os.waitpid(pid, 0)[1] == 0
        return bool(answer[0]), bool(answer[1])

    predicted, back = in_child(as_nobody=False)
    assert predicted == back
    if os.geteuid() == 0:
        predicted, back = in_child(as_nobody=True)
        assert predicted == back
        assert os.getuid() == 0


def test_a_one_off_load_audits_in_a_process_of_its_own_with_the_same_verdict(loaded, tmp_path):
    """The supervised child of a one-off `pathways load` hands its audit to a process that
    imported Great Expectations on the other core (warehouse.audit_process), in the idle
    scheduling class until the load waits for it: its verdict,
    failures and suites are the in-process audit's, the load's own process never imports
    GX, an audit process killed while auditing stops the load with a clear error, and one
    killed while it waited, or before it was ready, leaves the audit to the load's process."""
    import subprocess
    import sys

    _, published = loaded
    pristine = tmp_path / "pristine.duckdb"
    pristine.write_bytes(published.read_bytes())
    with duckdb.connect(str(pristine)) as con:
        con.execute("update marts.stage_spell set end_date = start_date - 1 where rowid = 1")
    script = f"""
import datetime as dt, os, shutil, signal, sys, time
from pathlib import Path
from warehouse import audit_process
pristine, out = Path({str(pristine)!r}), Path({str(tmp_path)!r})
def audit(name):  # each on a fresh copy: an audit records its state in the candidate
    shutil.copyfile(pristine, out / "broken.duckdb")
    r = audit_process.run_audits(out / "broken.duckdb", out / name / "w.duckdb", "b-" + name, dt.date(2026, 11, 1), {{}}, False)
    return repr((r.success, r.failures, r.expectations, r.suites_run))
assert audit_process.start_ahead() and not audit_process.start_ahead()  # one per load
print(audit("there"))
assert "great_expectations" not in sys.modules
audit_process.start_ahead()
started = audit_process._started
# it imports in the idle class, only on a core nothing else wants, where it may come back
importing = os.SCHED_IDLE if audit_process.may_leave_idle() else os.SCHED_OTHER
deadline = time.monotonic() + 10
while os.sched_getscheduler(started.process.pid) != importing and time.monotonic() < deadline:
    time.sleep(0.01)
assert os.sched_getscheduler(started.process.pid) == importing
assert started.ready()
assert os.sched_getscheduler(started.process.pid) == os.SCHED_OTHER  # waited for: its full share again
send = started.conn.send
def send_then_die(request):  # dies while auditing
    send(request)
    os.kill(started.process.pid, signal.SIGKILL)
started.conn.send = send_then_die
try:
    audit("killed")
    raise SystemExit("a killed audit process went unnoticed")
except audit_process.AuditProcessFailed as err:
    print(err)
audit_process.start_ahead()
assert audit_process._started.ready()
os.kill(audit_process._started.process.pid, signal.SIGKILL)  # killed while it waited: nothing lost
audit_process._started.process.wait()
print(audit("here"), "great_expectations" in sys.modules)
audit_process.start_ahead()
os.kill(audit_process._started.process.pid, signal.SIGKILL)  # dies before it is ready
print(audit("fallback"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4, done.stderr[-3000:]
    there, killed, here, fallback = lines
    assert here == there + " True"  # audited in the load's process: the same result
    assert fallback == there
    assert there.startswith("(False, [") and "marts.stage_spell" in there
    assert killed == "the audit process ended without a result (killed or out of memory)"
    assert (tmp_path / "there" / "data_docs" / "index.html").exists()
