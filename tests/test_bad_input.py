"""Every case of the bad-input corpus (`tests/corpus.py`) through the real read path.

Landing entries are scanned as the load scans them; files are read and validated in a
real read worker (`flows.isolation`: a separate process with the default 2 GB / 120 s
limits), exactly as the load does. Each case's outcome is asserted, and so is the
reconciliation (`rows_read = rows valid + rows quarantined`) and that no message or
name carries a national identity number or bytes that are not UTF-8.
"""

from __future__ import annotations

import resource
import time

import pytest

from flows import isolation
from flows.landing import display_name, scan
from flows.pipeline import read_file
from tests import corpus
from tests.corpus import CASES, NATIONAL_ID

NOT_READ = {"refused", "waiting", "ignored"}


@pytest.fixture(scope="module", autouse=True)
def read_pool():
    """One pool of read workers for the module (as in a load); stopped at the end."""
    isolation.shutdown()
    yield isolation.pool()
    isolation.shutdown()


def _relative(land, path) -> str:
    return "/".join(display_name(part) for part in path.relative_to(land).parts)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_case(case, tmp_path):
    land = tmp_path / "landing"
    land.mkdir()
    path = case.build(land)
    if case.outcome in NOT_READ:
        found = scan(land, settle_seconds=5)
        mine = [a for a in found.anomalies if a.path == _relative(land, path)]
        assert [(a.kind, a.action) for a in mine] == [(case.rule, case.outcome)]
        assert found.files == [], "an entry that is not read is never also read"
        return
    found = scan(land, settle_seconds=0)
    assert found.anomalies == []
    [file] = found.files
    result = read_file(file)
    assert result.status == case.outcome, [(p.rule, p.message) for p in result.quarantine]
    rules = [p.rule for p in result.quarantine]
    valid = result.rows.height if result.rows is not None else 0
    assert (result.rows_read, valid) == (case.rows_read, case.rows_valid)
    assert result.rows_read == valid + result.rows_quarantined  # reconciliation
    if case.outcome == "loaded":
        assert (case.rule in rules) if case.rule else rules == []
    else:
        assert rules[0] == case.rule and valid == 0
    for text in [result.file_name, result.message, *(p.message for p in result.quarantine)]:
        assert NATIONAL_ID not in text.replace(" ", "")
        text.encode("utf-8")  # storable: no lone surrogates from a non-UTF-8 name


def test_the_corpus_covers_sixty_kinds_across_the_four_formats():
    by_source = {}
    for c in CASES:
        by_source.setdefault(c.source, set()).add(c.kind)
    assert sum(len(k) for k in by_source.values()) >= 60
    assert all(
        len(by_source[s]) >= 8
        for s in ("intro", "adult_education", "combination_classes", "trondelag_model", "landing")
    )
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_corpus_document_is_up_to_date():
    assert corpus.DOC.read_text(encoding="utf-8") == corpus.render(), "run: python -m tests.corpus"


def test_poison_files_cost_one_worker_each_and_stay_within_loose_bounds(tmp_path):
    """The worst cases (a workbook asking for 512 GB, a 500 MB string) are refused within
    seconds; the load's own process never holds their data, and the next file reads."""
    land = tmp_path / "landing"
    land.mkdir()
    poison = [c for c in CASES if c.rule == "too_large"]
    good = next(c for c in CASES if c.id == "intro:good file")
    for c in poison:
        c.build(land)
    good.build(land)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    results = {f.source: read_file(f) for f in scan(land, settle_seconds=0).files}
    elapsed = time.monotonic() - started
    assert results["combination_classes"].status == "quarantined"
    assert "could not be read within 2 GB / 120 s" in results["combination_classes"].message
    assert results["intro"].status == "loaded"
    assert elapsed < 90  # measured ≈ 10 s on the 2-core machine (bench/hostile-files.md)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 300  # the huge string never reached this process
    worker_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert worker_peak_mb < 2048 + 1536  # the limit plus the worker's own footprint


def test_a_worker_killed_while_idle_is_replaced_without_blaming_the_next_file(tmp_path):
    import os
    import signal

    land = tmp_path / "landing"
    land.mkdir()
    corpus.CASE_BY_ID["intro:good file"].build(land)
    [file] = scan(land, settle_seconds=0).files
    pool = isolation.ReadPool(isolation.Limits(workers=1))
    try:
        assert pool.run(file.source, file.path, file.sha256)[0] == "ok"
        [idle] = pool._idle
        os.kill(idle.process.pid, signal.SIGKILL)  # as the out-of-memory killer would, between files
        idle.process.wait()
        assert pool.run(file.source, file.path, file.sha256)[0] == "ok"
        assert pool.started == 2
    finally:
        pool.close()


def test_a_worker_is_kept_for_the_next_file_unless_it_holds_too_much_memory(tmp_path, monkeypatch):
    """Workers are replaced by what they hold, not every 100 files (each replacement
    imports the readers again, ≈ 2 s of a core): the same worker reads file after file,
    and one left holding more than `RECYCLE_RSS_MB` is replaced before the next."""
    land = tmp_path / "landing"
    land.mkdir()
    corpus.CASE_BY_ID["intro:good file"].build(land)
    [file] = scan(land, settle_seconds=0).files
    assert isolation.Limits().tasks_per_worker >= 1000
    pool = isolation.ReadPool(isolation.Limits(workers=1))
    try:
        for _ in range(3):
            assert pool.run(file.source, file.path, file.sha256)[0] == "ok"
        assert pool.started == 1 and 100 < pool._idle[0].resident_mb() < isolation.RECYCLE_RSS_MB
        monkeypatch.setattr(isolation, "RECYCLE_RSS_MB", 100)  # below what any worker holds
        assert pool.run(file.source, file.path, file.sha256)[0] == "ok"
        assert pool._idle == [] and pool.started == 1  # stopped after the file, not kept
        assert pool.run(file.source, file.path, file.sha256)[0] == "ok"
        assert pool.started == 2
    finally:
        pool.close()


def test_a_file_that_runs_out_of_time_is_refused_and_its_worker_replaced(tmp_path):
    """A file that takes longer than the limit (a limit of 1 ms makes any file too slow)
    is refused with the limit in its reason; its stalled worker is killed, not reused."""
    land = tmp_path / "landing"
    land.mkdir()
    corpus.CASE_BY_ID["intro:good file"].build(land)
    files = scan(land, settle_seconds=0).files
    pool = isolation.ReadPool(isolation.Limits(workers=1, timeout_s=0.001))
    try:
        reply = pool.run(files[0].source, files[0].path, files[0].sha256)
        assert reply[:2] == ("refused", "too_slow") and "120" not in reply[2]
        assert "could not be read within 2 GB / 0.001 s" in reply[2]
        assert pool._idle == []  # the stalled worker was killed, not reused
    finally:
        pool.close()


def test_at_most_the_configured_number_of_files_are_read_at_once(tmp_path):
    """Before issue 10 up to cores + 4 files were read at once, whatever their size; now
    the pool's workers bound it, however many Prefect threads ask."""
    from concurrent.futures import ThreadPoolExecutor

    land = tmp_path / "landing"
    land.mkdir()
    for day in range(1, 9):
        corpus._intro(name=f"intro_5001_202401{day:02d}.csv")(land)
    files = scan(land, settle_seconds=0).files
    pool = isolation.ReadPool(isolation.Limits(workers=2))
    alive = []

    def one(file):
        reply = pool.run(file.source, file.path, file.sha256)
        alive.append(sum(1 for w in list(pool._all) if w.process.poll() is None))
        return reply[0]

    try:
        with ThreadPoolExecutor(max_workers=6) as threads:
            assert list(threads.map(one, files)) == ["ok"] * 8
        assert 1 <= pool.started <= 2 and max(alive) <= 2
    finally:
        pool.close()


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    land = tmp_path / "landing"
    land.mkdir()
    corpus._intro(rows=[corpus.h.intro_row()] * 12_000)(land)  # ≈ 1.3 MB
    [file] = scan(land, settle_seconds=0).files
    monkeypatch.setenv("PATHWAYS_MAX_FILE_MB", "1")
    isolation.shutdown()
    try:
        result = read_file(file)
        assert (result.status, result.quarantine[0].rule) == ("quarantined", "too_large")
        assert result.message == "larger than 1 MB: not read"
        assert isolation.pool().started == 0  # never handed to a reader
    finally:
        isolation.shutdown()


def test_a_file_dated_in_the_future_is_read_not_left_waiting_forever(tmp_path):
    """A sender whose clock is a day ahead: the file would never be 'older than 5 s'."""
    import os

    land = tmp_path / "landing"
    land.mkdir()
    path = corpus._intro()(land)
    tomorrow = time.time() + 86_400
    os.utime(path, (tomorrow, tomorrow))
    found = scan(land, settle_seconds=5)
    assert found.anomalies == [] and [f.path for f in found.files] == [path]


def test_read_workers_outlive_the_thread_and_the_load_that_started_them(tmp_path, monkeypatch):
    """Prefect runs each read in a task thread that ends with the load. A worker started from
    such a thread was killed with it (PR_SET_PDEATHSIG follows the starting thread), so every
    load paid for a new worker. Now the next load in the process reuses it; a load under other
    settings gets a fresh pool, and an idle pool is stopped by its timer."""
    import threading

    land = tmp_path / "landing"
    land.mkdir()
    corpus.CASE_BY_ID["intro:good file"].build(land)
    [file] = scan(land, settle_seconds=0).files

    def one_load():
        with isolation.in_use():
            replies = []
            task_thread = threading.Thread(
                target=lambda: replies.append(isolation.pool().run(file.source, file.path, file.sha256)[0])
            )
            task_thread.start()
            task_thread.join()  # the thread that started the worker is gone
            assert replies == ["ok"]
            return isolation.pool()

    isolation.shutdown()
    try:
        first = one_load()
        [worker] = first._idle
        time.sleep(0.5)
        assert worker.process.poll() is None, "the worker died with its task thread"
        assert one_load() is first and first.started == 1  # the next load reused it
        monkeypatch.setenv("PATHWAYS_READ_TIMEOUT_S", "60")
        first.stop_idle()
        isolation.prestart()  # into a pool the next load replaces: nothing is started
        assert first.started == 1 and first._early is None
        other = one_load()
        assert other is not first and worker.process.poll() is not None  # other settings: a fresh pool
        isolation._stop_when_idle()  # what the idle timer runs
        assert isolation._pool is None and all(w.process.poll() is not None for w in other._idle)
    finally:
        isolation.shutdown()


def test_a_worker_started_ahead_reads_the_first_file_and_idle_workers_can_be_stopped(tmp_path):
    """`prestart` (a load's first seconds, while it imports or looks for files) starts one
    worker, which the first file then uses: no second worker, and a second prestart while
    one is ready starts nothing. `stop_idle` (after a big read) stops idle workers; the
    next file starts a new one."""
    land = tmp_path / "landing"
    land.mkdir()
    corpus.CASE_BY_ID["intro:good file"].build(land)
    [file] = scan(land, settle_seconds=0).files
    isolation.shutdown()
    try:
        isolation.prestart()
        isolation.prestart()  # already starting one: nothing more
        pool = isolation.pool()
        assert pool.run(file.source, file.path, file.sha256)[0] == "ok"
        assert pool.started == 1
        isolation.prestart()  # one is idle: nothing more
        [worker] = pool._idle
        assert pool.started == 1 and pool._early is None
        isolation.stop_idle()
        assert pool._idle == [] and worker.process.poll() is not None
        assert pool.run(file.source, file.path, file.sha256)[0] == "ok" and pool.started == 2
    finally:
        isolation.shutdown()


def test_a_worker_started_ahead_and_never_used_is_stopped_with_the_pool():
    isolation.shutdown()
    isolation.prestart()
    pool = isolation.pool()
    early = pool._early
    assert early is not None
    isolation.shutdown()  # waits for it to finish starting, then stops it
    assert early.result().process.poll() is not None and pool._all == set()


def test_a_process_that_exits_fast_keeps_its_exit_code_hooks_threads_and_output(tmp_path):
    """flows.fast_exit skips the interpreter's teardown but nothing the process owes: the
    exit code as `sys.exit` gives it, `atexit` hooks, non-daemon threads' work, buffered
    output; a final flush that fails (a closed pipe, a full disk) exits 120, as the
    interpreter does."""
    import os
    import subprocess
    import sys

    marker = tmp_path / "marker"
    script = f"""
import atexit, sys, threading, time
from pathlib import Path
from flows.fast_exit import exit_now
atexit.register(lambda: Path({str(marker)!r}).write_text(Path({str(marker)!r}).read_text() + "atexit"))
def late():
    time.sleep(0.3)
    Path({str(marker)!r}).write_text("thread,")
threading.Thread(target=late).start()
print("buffered", end="")
exit_now(int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1])
"""
    done = subprocess.run([sys.executable, "-c", script, "3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and done.stdout == "buffered"
    assert marker.read_text() == "thread,atexit"
    done = subprocess.run([sys.executable, "-c", script, "refused"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.strip() == "refused"
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    reader_gone = subprocess.Popen([sys.executable, "-c", script, "0"], stdout=subprocess.PIPE, env=buffered)
    reader_gone.stdout.close()  # the output cannot be written: the pipe has no reader
    assert reader_gone.wait(timeout=60) == 120
