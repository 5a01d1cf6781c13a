"""The load, as the data travel: discover → read → validate → stage → build → audit → publish.

One Prefect task reads and validates each new file, so one broken file never stops the
others, and the reading itself happens in a worker process with memory and time limits
(`flows.isolation`), so a poison file cannot take the load down; everything after that
works on a candidate warehouse beside the published one, which replaces the published
file only if its audits pass. Every landing entry is accounted for: loaded, refused with
a reason, or left for a later load (`flows.landing`), and every attempt leaves a line in
`load_runs.jsonl`, a crash included.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
import typing
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

import flows.settings  # noqa: F401  (Prefect settings before Prefect is imported)
from flows import alerts, isolation, remote_read
from flows.config import current as current_settings
from flows.landing import REFUSED, WAITING, Landing, LandingFile, scan
from flows.settings import check_paths, restrict
from flows.sources import SOURCES
from flows.sources.common import Problem
from flows.stage import StageCounts, ensure_tables, reconcile, seen_files, stage
from flows.validate import STATUS_QUARANTINED, ValidatedFile, changed_file
from warehouse import audit_process, incremental
from warehouse import build as models
from warehouse.audit import prefetch_great_expectations, previous_counts
from warehouse.publish import candidate_path, keep_aside, prune_failed, publish, start_candidate

# Files read and validated at once. Prefect's default thread pool is unbounded: hundreds of
# files read together on two cores thrash and hold every frame in memory at once.
READ_WORKERS = min(32, (os.cpu_count() or 1) + 4)
# Prefect costs ≈ 10 ms per task on two cores: an ordinary load (a few new files) gets one
# task per file; a bulk load (hundreds of files, e.g. a county's first) at most this many
# read tasks, with the files grouped and each still isolated inside its task.
MAX_READ_TASKS = 12
# After reading more than this, the idle read workers are stopped rather than kept for a
# next load in the process (flows.isolation): a county's first load then stages and builds
# without ≈ 400 MB of workers beside it; a small load keeps them warm.
BIG_READ_BYTES = 64 * 2**20
# A file that fails with an operating-system error after Prefect's retries is tried again
# at the next load; after `max_read_attempts` loads in a row it is refused with the reason.
# Refused candidates kept in failed/: `keep_failed`. Both are settings (flows/config.py).


class AuditFailed(RuntimeError):
    """The candidate warehouse failed its audits: it was kept aside, nothing was published."""


@dataclass
class LoadSummary:
    load_id: str
    as_of: dt.date
    warehouse: str
    files_seen: int = 0
    files_new: int = 0
    files_unreadable: list[str] = field(default_factory=list)
    files_refused: list[str] = field(default_factory=list)
    landing: Landing = field(default_factory=Landing)
    counts: StageCounts = field(default_factory=StageCounts)
    persons: int = 0
    events: int = 0
    audit_failures: list[str] = field(default_factory=list)
    new_dropouts: int = 0
    # issue 15: new on the follow-up list against the build this one replaces, and the
    # deliveries overdue by their own rhythm (sentences, never a person)
    new_follow_up: dict[str, int] = field(default_factory=dict)
    overdue: list[str] = field(default_factory=list)
    alert_sent: bool = False
    expectations: int = 0
    # of which carried: their table had not changed since a published build audited it
    expectations_carried: int = 0
    suites_run: list[str] = field(default_factory=list)
    audit_process: bool = False  # audited in a process of its own (warehouse.audit_process)
    data_docs: str | None = None
    published: bool = False
    # seconds per step of the journey (discover, read, stage, build, audit, publish): the
    # profile of every load, in its summary and load_runs.jsonl (issue 13)
    seconds: dict[str, float] = field(default_factory=dict)
    # full (and why) or incremental (and for how many persons): warehouse/incremental.py
    build: str = ""

    @property
    def all_files_accounted_cleanly(self) -> bool:
        """Nothing refused, nothing waiting, nothing unreadable (exit code 0 rather than 3)."""
        return not (
            self.counts.files_refused
            or self.files_unreadable
            or self.landing.by_action(REFUSED)
            or self.landing.by_action(WAITING)
        )

    def as_markdown(self) -> str:
        c = self.counts
        lines = [
            f"# Load {self.load_id}",
            "",
            f"- as of: {self.as_of}",
            f"- files in landing zone: {self.files_seen} (new: {self.files_new})",
            f"- files loaded: {c.files_loaded}, refused: {c.files_refused}",
            f"- rows loaded: {c.rows_loaded}, quarantined: {c.rows_quarantined}, duplicates: {c.rows_duplicate}",
            f"- persons: {self.persons}, events: {self.events}",
            f"- build: {self.build or 'not reached'}",
            f"- audit: {'passed' if not self.audit_failures else 'FAILED'} ({self.expectations} expectations, "
            f"{self.expectations_carried} of them carried from unchanged tables; Data Docs: {self.data_docs})",
            f"- published: {'yes' if self.published else 'no'}",
            "- seconds: " + ", ".join(f"{step} {sec:.1f}" for step, sec in self.seconds.items()),
        ]
        if self.files_refused:
            lines.append(f"- files refused: {', '.join(self.files_refused)}")
        if self.files_unreadable:
            lines.append(
                f"- could not be read this time (retried next load, refused after "
                f"{current_settings().max_read_attempts} "
                f"loads): {', '.join(self.files_unreadable)}"
            )
        for action, title in (
            (WAITING, "left for a later load"),
            (REFUSED, "refused in the landing zone"),
            ("ignored", "not read (not a source file)"),
        ):
            found = self.landing.by_action(action)
            if found:
                lines.append(f"- {title}: " + ", ".join(f"{a.path} ({a.kind})" for a in found))
        lines += [f"  - {f}" for f in self.audit_failures]
        if self.new_follow_up:
            lines.append(
                f"- follow-up list: {self.new_follow_up.get('dropouts', 0)} new drop-outs, "
                f"{self.new_follow_up.get('crossed', 0)} new past the thresholds, "
                f"{self.new_follow_up.get('newly_overdue', 0)} deliveries newly overdue "
                f"(alert {'sent' if self.alert_sent else 'not sent'})"
            )
        if self.overdue:
            lines.append(f"- WARNING: {len(self.overdue)} overdue deliveries (figures from them may look low):")
            lines += [f"  - {o}" for o in self.overdue]
        return "\n".join(lines)


# The progress bar's words for the steps of the journey (`timed` names them).
STEP_LABEL = {
    "discover": "discover landing files",
    "read": "read and validate files",
    "copy": "copy warehouse",
    "stage": "stage rows",
    "build": "build models",
    "audit": "audit (Great Expectations)",
    "publish": "publish",
}


@contextmanager
def timed(summary: LoadSummary, step: str):
    """Add the wall time of a step of the journey to the load's profile (and show it on the
    progress bar when a person is watching)."""
    import time

    from flows import progress

    progress.step(STEP_LABEL.get(step, step))
    start = time.perf_counter()
    try:
        yield
    finally:
        summary.seconds[step] = summary.seconds.get(step, 0.0) + time.perf_counter() - start


@contextmanager
def warehouse_lock(published: Path, logger):
    """One load at a time per warehouse, whoever starts it (deployments, the command line,
    another machine on the same disk): the second waits and says so."""
    published.parent.mkdir(parents=True, exist_ok=True)
    with open(published.with_name(published.name + ".lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("another load of %s is running: waiting for it to finish", published.name)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


DROPOUT_KEY = ("person_id", "stage", "source", "dropout_date")


def new_dropouts(candidate: Path, published: Path) -> list[tuple]:
    """The candidate's drop-outs that the published build does not hold, with their
    municipality and school: read before the candidate replaces it (none when there is no
    published build with drop-outs yet: a first load announces nothing)."""
    with duckdb.connect(str(candidate), read_only=True) as con:
        if not alerts.attach_published(con, published, "marts.dropout", DROPOUT_KEY):
            return []
        return con.execute(f"""
            select d.stage, d.source, d.municipality_code, s.school_orgnr
            from {alerts.new_rows("marts.dropout", DROPOUT_KEY, "d")}
            left join marts.stage_spell s on s.person_id = d.person_id and s.stage = d.stage
                 and s.source = d.source and s.end_date = d.dropout_date and s.end_type = 'dropped_out'
        """).fetchall()


def alert_new_dropouts(dropouts: list[tuple], build_id: str) -> int:
    """Emit `pathways.dropout` for each drop-out this build brought (`new_dropouts`). The
    event names the stage, municipality and school, never the person."""
    from prefect.events import emit_event

    for stage_name, source, municipality, school in dropouts:
        emit_event(
            event="pathways.dropout",
            resource={
                "prefect.resource.id": f"pathways.municipality.{municipality or 'unknown'}",
                "pathways.municipality": municipality or "",
                "pathways.stage": stage_name,
            },
            payload={
                "stage": stage_name,
                "source": source,
                "municipality_code": municipality,
                "school_orgnr": school,
                "build_id": build_id,
            },
        )
    return len(dropouts)


def _follow_up_news(candidate: Path, published: Path, summary: LoadSummary, logger):
    """Compare the candidate's follow-up list with the published one and record the
    result in the candidate (audit.follow_up_alert), with the alert's text; overdue
    deliveries become warnings in the summary and the log."""
    settings = current_settings()
    news = alerts.compare(candidate, published, summary.load_id, summary.as_of)
    text = alerts.message(news, alerts.follow_up_link(settings.dashboard_url, settings.dashboard_port))
    alerts.record(candidate, news, text if news.anything_new else "")
    summary.new_follow_up = {
        "dropouts": news.new_dropouts,
        "crossed": news.new_crossed,
        "newly_overdue": news.newly_overdue,
    }
    summary.overdue = [o.sentence() for o in news.overdue]
    for sentence in summary.overdue:
        logger.warning("overdue delivery: %s", sentence)
    return news, text


def _log_run(published: Path, summary: LoadSummary, outcome: str, message: str) -> None:
    """Every attempt, published or refused, in load_runs.jsonl beside the warehouse (a
    refused run must not touch the published file, so it cannot be recorded inside it)."""
    c = summary.counts
    record = {
        "load_id": summary.load_id,
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "as_of": summary.as_of.isoformat(),
        "outcome": outcome,
        "files_new": summary.files_new,
        "files_loaded": c.files_loaded,
        "files_refused": c.files_refused,
        "rows_loaded": c.rows_loaded,
        "rows_quarantined": c.rows_quarantined,
        "rows_duplicate": c.rows_duplicate,
        "persons": summary.persons,
        "files_unreadable": len(summary.files_unreadable),
        "files_waiting": len(summary.landing.by_action(WAITING)),
        "message": message,
        "seconds": {step: round(sec, 2) for step, sec in summary.seconds.items()},
        "build": summary.build,
        "published": summary.published,  # (a load may stop on an error after publishing)
        # a served run forked from the process that imported the load once (flows.warm)
        "warm_start": "flows.warm_preload" in sys.modules,
        # a one-off load with new files against a running server audits in a process of its
        # own, which imported GX meanwhile (warehouse.audit_process)
        "audit_process": summary.audit_process,
        # the Prefect flow run (none without Prefect): how `pathways load` finds the outcome
        # of a load it handed to `pathways serve` (flows.handoff)
        "flow_run_id": _flow_run_id(),
    }
    append_run_record(published, record)


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.get_id() or None


def append_run_record(published: Path, record: dict) -> None:
    published.parent.mkdir(parents=True, exist_ok=True)
    with open(published.parent / "load_runs.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    restrict(published.parent / "load_runs.jsonl")


def _transient(task, task_run, state) -> bool:
    """Retry only what may pass on a second try (a locked file, a busy disk)."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


RETRY_DELAYS: list[float] = [1, 5]


@task(name="discover", cache_policy=NO_CACHE)
def discover_files(landing: str) -> Landing:
    return scan(Path(landing))


def refused_file(file: LandingFile, rule: str, message: str) -> ValidatedFile:
    """A file refused before (or instead of) validation, with a fixed, descriptive reason:
    never an exception's text, which may quote raw rows."""
    try:
        meta = SOURCES[file.source].file_meta(file.path.name)
    except Exception:
        meta = {}
    problem = Problem(rule, message)
    return ValidatedFile(
        file.source,
        file.name,
        file.sha256,
        STATUS_QUARANTINED,
        0,
        quarantine=[problem],
        message=problem.message,
        meta=meta,
    )


def read_file(file: LandingFile) -> ValidatedFile:
    """Read and validate one file in a read worker (memory and time limits). An
    operating-system error is raised as OSError (transient: retried); everything else the
    file does is this file's result."""
    workers = isolation.pool()
    if file.size > workers.limits.max_file_mb * 2**20:
        return refused_file(file, "too_large", f"larger than {workers.limits.max_file_mb} MB: not read")
    reply = workers.run(file.source, file.path, file.sha256)
    if reply[0] == "ok":
        result = reply[1]
        result.file_name = file.name  # non-UTF-8 bytes escaped, id-like digits masked
        return result
    if reply[0] == "oserror":
        raise OSError(f"operating-system error {reply[1]} while reading a landing file")
    return refused_file(file, reply[1], reply[2])


@task(
    name="read-and-validate",
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=_transient,
    task_run_name="read-and-validate {file.name}",
)
def read_and_validate(file: LandingFile) -> ValidatedFile:
    """Prefect logs a failed task's exception with its text, and an exception's text may
    quote raw rows: so only an operating-system error (to be retried) leaves the task, with
    a fixed text; any other failure is this file's refusal, returned as its result."""
    try:
        return read_file(file)
    except isolation.WorkerUnavailable:
        raise
    except OSError as err:
        raise OSError(f"operating-system error {type(err).__name__} while reading a landing file") from None
    except Exception as err:
        result = _outcome(file, err)[0]
        assert result is not None, "only an OSError gives no result, and it is raised above"
        return result


def _outcome(file: LandingFile, error: BaseException) -> tuple[ValidatedFile | None, str | None]:
    """A file's failure as (result, transient error): an OSError may pass by itself (the
    file is tried again next load); anything else is refused now, not retried forever. A
    worker that cannot even start is the machine's problem: the load stops (crashed)."""
    if isinstance(error, isolation.WorkerUnavailable):
        raise error
    if isinstance(error, OSError):
        return None, type(error).__name__
    return refused_file(
        file, "unreadable", f"the file could not be read: the pipeline failed on it ({type(error).__name__})"
    ), None


def read_with_retries(file: LandingFile, delays: list[float] | None = None) -> tuple[ValidatedFile | None, str | None]:
    """`read_file` with the task's retry schedule, for files grouped in one task (each
    file retried on its own, so one file's trouble never touches another's result)."""
    import time

    delays = RETRY_DELAYS if delays is None else delays
    for attempt in range(len(delays) + 1):
        try:
            return read_file(file), None
        except Exception as err:
            result, transient = _outcome(file, err)
            if transient is None or attempt == len(delays):
                return result, transient
            time.sleep(delays[attempt])
    raise AssertionError("unreachable")


@task(
    name="read-and-validate-group",
    cache_policy=NO_CACHE,
    task_run_name="read-and-validate {files[0].name} (+{extra} more)",
)
def read_and_validate_group(files: list[LandingFile], extra: int) -> list[tuple[ValidatedFile | None, str | None]]:
    """Several files in one task (see `files_per_task`): each file still on its own, read in
    its own worker and retried on its own, so a file that cannot be read is reported and
    never stops the others."""
    return [read_with_retries(f) for f in files]


def _limited(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """DuckDB takes up to 80 % of the machine's memory by default; staging and building a
    300 000-person county then held > 1 GB beside the read frames (issue 13's 2 GB
    target). `[limits] build_memory_mb` caps it: beyond it DuckDB spills to disk."""
    con.execute(f"set memory_limit = '{int(current_settings().build_memory_mb)}MB'")
    return con


@task(name="stage", cache_policy=NO_CACHE)
def stage_files(candidate: Path, files: list[ValidatedFile], load_id: str) -> StageCounts:
    with duckdb.connect(str(candidate)) as con:
        _limited(con)
        ensure_tables(con)
        counts = stage(con, files, load_id)
        con.execute("checkpoint")
    return counts


@task(name="build", cache_policy=NO_CACHE)
def build_models(candidate: Path, as_of: dt.date, load_id: str) -> tuple[int, int, str]:
    """Build the models (only the touched persons' rows when the warehouse allows it,
    warehouse/incremental.py), then settle the books with the staging models' decisions on
    first and newest deliveries; returns this load's (rows loaded, rows duplicate) and how
    the build went."""
    settings = current_settings()
    with duckdb.connect(str(candidate)) as con:
        _limited(con)
        ensure_tables(con)
        outcome = incremental.build(
            con, as_of, settings.follow_up_days, settings.follow_up_wait_days, settings.incremental_build
        )
        if outcome.aggregates_kept:
            # every input as the last build (and its books) left it: this load added no
            # file to the log and nothing would move (≈ 1 s of window functions at 300 000)
            settled = (0, 0)
        else:
            # only the sources whose staging changed: another's raw rows and deliveries are
            # as the last build settled them, so are its books (≈ 0.3–0.8 s at 300 000)
            settled = reconcile(con, load_id, outcome.to_settle)
            incremental.remember_other_inputs(con)
        con.execute("checkpoint")
    return (*settled, outcome.describe())


@task(name="audit", cache_policy=NO_CACHE)
def audit_candidate(
    candidate: Path, published: Path, summary: LoadSummary, previous: dict[str, int], force: bool
) -> list[str]:
    """The models' key tests, then the Great Expectations checkpoint; empty list = passed."""
    with duckdb.connect(str(candidate)) as con:
        failures = models.test_keys(con)
    result = audit_process.run_audits(candidate, published, summary.load_id, summary.as_of, previous, force)
    summary.expectations, summary.data_docs = result.expectations, str(result.docs_index)
    summary.expectations_carried, summary.suites_run = result.carried, result.suites_run
    summary.audit_process = result.own_process
    return failures + result.failures


@task(name="publish", cache_policy=NO_CACHE)
def publish_candidate(candidate: Path, published: Path, build_id: str | None = None) -> None:
    """Publish, keeping the build in builds/ for `pathways restore` (`keep_builds`)."""
    publish(candidate, published, build_id, current_settings().keep_builds)


def _previously_seen(published: Path) -> dict[tuple[str, str], str]:
    if not published.exists():
        return {}
    with duckdb.connect(str(published), read_only=True) as con:
        try:
            return seen_files(con)
        except duckdb.CatalogException:
            return {}


def _insert(con, table: str, row: dict) -> None:
    """Bookkeeping inserts name their columns: a column a migration adds never shifts a value."""
    con.execute(f"insert into {table} ({', '.join(row)}) values ({', '.join('?' * len(row))})", list(row.values()))


def _record_build(candidate: Path, summary: LoadSummary, started: dt.datetime) -> None:
    with duckdb.connect(str(candidate)) as con:
        _insert(
            con,
            "meta.build",
            dict(
                build_id=summary.load_id,
                as_of=summary.as_of,
                started_at=started,
                finished_at=dt.datetime.now(dt.UTC),
                files_loaded=summary.counts.files_loaded,
                events=summary.events,
                persons=summary.persons,
                code_version=models.code_version(),
            ),
        )
        con.execute("checkpoint")


def _record_run(candidate: Path, summary: LoadSummary, started: dt.datetime, outcome: str, message: str) -> None:
    c = summary.counts
    with duckdb.connect(str(candidate)) as con:
        ensure_tables(con)
        _insert(
            con,
            "audit.load_run",
            dict(
                load_id=summary.load_id,
                started_at=started,
                finished_at=dt.datetime.now(dt.UTC),
                as_of=summary.as_of,
                files_seen=summary.files_seen,
                files_new=summary.files_new,
                files_loaded=c.files_loaded,
                files_refused=c.files_refused,
                rows_loaded=c.rows_loaded,
                rows_quarantined=c.rows_quarantined,
                rows_duplicate=c.rows_duplicate,
                outcome=outcome,
                message=message,
                code_version=models.code_version(),
            ),
        )
        for table, attr in (("core.person", "persons"), ("core.event", "events")):
            try:
                row = con.execute(f"select count(*) from {table}").fetchone()
                assert row is not None, "count(*) always returns a row"
                setattr(summary, attr, row[0])
            except duckdb.CatalogException:
                pass
        con.execute("checkpoint")


# The ignore: Prefect types task_runner as TaskRunner[PrefectFuture[Any]], which its own ThreadPoolTaskRunner
# (TaskRunner[PrefectConcurrentFuture[R]], an invariant generic) never matches; Flow.__init__ casts it likewise.
@flow(name="pathways-load", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=READ_WORKERS))  # type: ignore[arg-type]
def load(
    landing: str,
    warehouse: str,
    as_of: dt.date | None = None,
    force: bool = False,
    files_per_task: int | None = None,
    keep_failed: int | None = None,
) -> LoadSummary:
    """Load every new landing file and publish the warehouse if it passes its audits.

    `force` accepts a build whose row counts dropped by more than 20 % against the
    published one (after a deliberate correction); every other audit still applies.
    `files_per_task`: 1 gives every file its own task run, retry and line in the UI; more
    reads files in groups (each file still isolated); None (default) chooses: one task per
    file up to MAX_READ_TASKS new files, groups beyond that.
    `keep_failed`: refused candidates kept in `failed/` (default: the `keep_failed` setting).
    """
    from flows.deploy import enforce_pool_roots

    logger = get_run_logger()
    enforce_pool_roots()  # on a work pool: the pool's roots, whatever the run's environment says
    landing_path, published = check_paths(landing, warehouse)  # before anything is read or written
    if not remote_read.deployment():  # files read here: a worker starts while the load looks for them
        isolation.prestart()
    return _guarded(str(landing_path), published, as_of, force, logger, _Steps(True, files_per_task), keep_failed)


# `pathways serve` hands this flow to each run process pickled by value (Prefect's runner holds
# it in memory and sends it with cloudpickle, which keeps only the globals the function's code
# uses): the string annotations of `from __future__ import annotations` would then name a `dt`
# the run cannot see when Prefect validates the parameters. They are resolved here, once.
load.fn.__annotations__ = typing.get_type_hints(load.fn)


def _guarded(
    landing: str, published: Path, as_of: dt.date | None, force: bool, logger, steps: _Steps, keep_failed: int | None
) -> LoadSummary:
    """The load under the warehouse lock; whatever happens, a line in load_runs.jsonl and
    no read worker left running."""
    summary = LoadSummary(
        os.environ.get("PATHWAYS_LOAD_ID") or uuid.uuid4().hex[:12], as_of or dt.date.today(), str(published)
    )
    try:
        with warehouse_lock(published, logger), isolation.in_use():
            return _load_locked(
                landing,
                published,
                force,
                logger,
                steps,
                summary,
                current_settings().keep_failed if keep_failed is None else keep_failed,
            )
    except AuditFailed:
        raise  # recorded already
    except BaseException as err:
        # the type only: an exception's text may quote data
        after = " after publishing" if summary.published else ""
        _log_run(published, summary, "crashed", f"the load stopped{after}: {type(err).__name__}")
        raise


class _Steps:
    """How the journey's steps run: as Prefect tasks (the flow), or as the very same
    functions without Prefect (`load_without_prefect`, the baseline the benchmark uses to
    measure what orchestration costs)."""

    def __init__(self, prefect: bool, files_per_task: int | None = 1):
        self.prefect = prefect
        self.files_per_task = files_per_task
        self.audit = True

    def per_task(self, files: int) -> int:
        if self.files_per_task is not None:
            return max(1, self.files_per_task)
        return max(1, -(-files // MAX_READ_TASKS))

    def call(self, task, *args):
        return task(*args) if self.prefect else task.fn(*args)

    def map(
        self, task, items: list[LandingFile], per_task: int = 1
    ) -> list[tuple[LandingFile, ValidatedFile | None, str | None]]:
        """(file, result, transient error) per file, in order; one task per file (or per
        group of `per_task` files), run concurrently. A result is always there unless an
        operating-system error persisted through the retries."""
        from flows import progress

        progress.set_total(len(items))
        if self.prefect and per_task > 1:
            groups = [items[i : i + per_task] for i in range(0, len(items), per_task)]
            futures: list = [
                read_and_validate_group.submit(g, len(g) - 1) for g in groups
            ]  # any: the name is reused below
            out = []
            for group, future in zip(groups, futures, strict=True):
                future.wait()
                if future.state.is_completed():
                    out += [(item, r, e) for item, (r, e) in zip(group, future.result(), strict=True)]
                else:  # the group task itself failed (not a file): each file on its own again
                    out += [(item, *read_with_retries(item)) for item in group]
                progress.advance(len(group))
            return out
        if self.prefect:
            futures = [task.submit(item) for item in items]
            out = []
            for item, future in zip(items, futures, strict=True):
                future.wait()
                if future.state.is_completed():
                    out.append((item, future.result(), None))
                else:
                    out.append((item, *_outcome(item, future.state.result(raise_on_failure=False))))
                progress.advance()
            return out
        from concurrent.futures import ThreadPoolExecutor

        def safe(item):
            result = (item, *read_with_retries(item, delays=[]))
            progress.advance()
            return result

        with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
            return list(pool.map(safe, items))

    def report(self, summary: LoadSummary, description: str) -> None:
        if self.prefect:
            create_markdown_artifact(summary.as_markdown(), key="pathways-load-summary", description=description)


def _flag_files_refused(summary: LoadSummary) -> None:
    """A run that published but refused (or could not read) files ends *Completed*, so it
    is marked where the Prefect UI shows it: the tag `files-refused` on the flow run and a
    warning artifact. A failure to mark it never fails the load."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    run_id_text = flow_run.get_id()
    if not run_id_text:
        return
    run_id = uuid.UUID(run_id_text)
    try:
        create_markdown_artifact(
            "**Warning: files were refused or could not be read.** The warehouse was "
            "published without them.\n\n" + summary.as_markdown(),
            key="pathways-files-refused",
            description="Files refused",
        )
        with get_client(sync_client=True) as client:
            tags = set(client.read_flow_run(run_id).tags or [])
            client.update_flow_run(run_id, tags=sorted(tags | {"files-refused"}))
    except Exception as err:
        get_run_logger().warning("could not tag the run as files-refused: %s", type(err).__name__)


def load_without_prefect(
    landing: str, warehouse: str, as_of: dt.date | None = None, force: bool = False, audit: bool = True
) -> LoadSummary:
    """The same load with no Prefect engine or server (no retries, artifacts or events).

    `audit=False` skips only the Great Expectations checkpoint (the models' key tests
    still run): for property tests that load thousands of tiny warehouses, where GX's
    seconds per build would allow only a handful of examples."""
    import logging

    logger = logging.getLogger("pathways.load")
    landing_path, published = check_paths(landing, warehouse)
    steps = _Steps(prefect=False)
    steps.audit = audit
    return _guarded(str(landing_path), published, as_of, force, logger, steps, None)


def _read_failures(published: Path) -> dict[tuple[str, str], int]:
    """(source, file name) -> loads in a row in which the file could not be read."""
    if not published.exists():
        return {}
    with duckdb.connect(str(published), read_only=True) as con:
        try:
            return {
                (s, n): k
                for s, n, k in con.execute("select source, file_name, failures from audit.read_failure").fetchall()
            }
        except duckdb.CatalogException:
            return {}


def _record_landing(candidate: Path, summary: LoadSummary, failing: dict[tuple[str, str], int]) -> None:
    """What this load saw in the landing zone besides files it read, and the files it
    could not read this time, for Datakvalitet and the next load."""
    now = dt.datetime.now(dt.UTC)
    with duckdb.connect(str(candidate)) as con:
        ensure_tables(con)
        anomalies = [[summary.load_id, now, a.path, a.kind, a.action, a.message] for a in summary.landing.anomalies]
        if anomalies:
            con.executemany(
                "insert into audit.landing_anomaly (load_id, seen_at, path, kind, action, message) "
                "values (?, ?, ?, ?, ?, ?)",
                anomalies,
            )
        con.execute("delete from audit.read_failure")
        if failing:
            con.executemany(
                "insert into audit.read_failure (source, file_name, failures, last_load_id, "
                "last_failed_at) values (?, ?, ?, ?, ?)",
                [[source, name, count, summary.load_id, now] for (source, name), count in failing.items()],
            )
        con.execute("checkpoint")


# One thread that copies the published warehouse to the candidate (see _load_locked).
_CANDIDATE_COPIER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="candidate-copy")


def _load_locked(
    landing: str, published: Path, force: bool, logger, steps: _Steps, summary: LoadSummary, keep_failed: int
) -> LoadSummary:
    """Start the candidate, a copy of the published warehouse, in the background at once:
    the copy (0.15–1.5 s for the 600 MB of a 300 000-person county, mostly waiting on the
    disk) then runs beside discovery and reading, which need the CPU, instead of after
    them; the load's `copy` step is what is left to wait for. The published file cannot
    change meanwhile: this load holds the warehouse lock. A load that stops before it uses
    the candidate removes it (a failed build keeps it in failed/, a published one is gone)."""
    copying = _CANDIDATE_COPIER.submit(start_candidate, published, summary.load_id)
    try:
        return _load_with(copying, landing, published, force, logger, steps, summary, keep_failed)
    except BaseException:
        wait([copying])  # the copy ends (or failed, maybe half written) before it is removed
        candidate_path(published, summary.load_id).unlink(missing_ok=True)
        raise


def _load_with(
    copying: Future,
    landing: str,
    published: Path,
    force: bool,
    logger,
    steps: _Steps,
    summary: LoadSummary,
    keep_failed: int,
) -> LoadSummary:
    started = dt.datetime.now(dt.UTC)
    with timed(summary, "discover"):
        summary.landing = steps.call(discover_files, landing)
    files = summary.landing.files
    seen = _previously_seen(published)
    loaded_as = {sha: name for (sha, name), status in seen.items() if status in ("loaded", "superseded")}
    loaded_names = {name: sha for sha, name in loaded_as.items()}
    new = [f for f in files if (f.sha256, f.name) not in seen]
    summary.files_seen, summary.files_new = len(files), len(new)
    # The supervised child of a one-off `pathways load` with new files audits in a process of
    # its own (warehouse.audit_process), started once the files are read: it imports GX while
    # this one stages and builds, and its memory does not add to the read's, the load's peak.
    # Without new files there is little to overlap and a process costs ≈ 1 s more than a
    # thread, which starts now.
    audit_apart = steps.audit and bool(new) and os.environ.get("PATHWAYS_LOAD_CHILD") == "1"
    if steps.audit and not audit_apart:
        prefetch_great_expectations(published, summary.as_of, len(new))
    logger.info(
        "%d files in the landing zone, %d new; %d other entries (%d waiting, %d refused)",
        len(files),
        len(new),
        len(summary.landing.anomalies),
        len(summary.landing.by_action(WAITING)),
        len(summary.landing.by_action(REFUSED)),
    )

    failures_before = _read_failures(published)
    max_attempts = current_settings().max_read_attempts
    failing: dict[tuple[str, str], int] = {}
    validated: list[ValidatedFile] = []
    with timed(summary, "read"):
        if steps.prefect and remote_read.deployment() and new:  # spread over the work pool's workers
            read = remote_read.read_remotely(new, Path(landing), published, summary.load_id, logger)
        else:
            read = steps.map(read_and_validate, new, steps.per_task(len(new)))
    if sum(f.size for f in new) > BIG_READ_BYTES:
        isolation.stop_idle()  # their memory goes back before staging and the build need it
    for f, result, error in read:
        if error == remote_read.REMOTE_FAILED:  # the pool failed, not the file: next load, uncounted
            summary.files_unreadable.append(f.name)
            if failures_before.get((f.source, f.name)):  # keep the file's own count as it was
                failing[(f.source, f.name)] = failures_before[(f.source, f.name)]
            continue
        if error is not None:
            count = failures_before.get((f.source, f.name), 0) + 1
            if count < max_attempts:  # not recorded as seen: the next load tries again
                failing[(f.source, f.name)] = count
                summary.files_unreadable.append(f.name)
                logger.error(
                    "could not read %s this time (%s; attempt %d of %d loads)", f.name, error, count, max_attempts
                )
                continue
            result = refused_file(
                f, "unreadable", f"could not be read in {count} loads in a row (an operating-system error each time)"
            )
        assert result is not None, "a result is always there when there is no transient error"
        if result.status == "loaded" and loaded_names.get(f.name, f.sha256) != f.sha256:
            result = changed_file(result)  # delivered files are immutable: a correction is a new file
        if result.status == "loaded":  # same bytes as a file loaded before: say so in its message
            earlier = loaded_as.get(f.sha256)
            if earlier is None:
                loaded_as[f.sha256] = f.name
            else:
                result.copy_of = earlier
        if result.status != "loaded":
            summary.files_refused.append(f.name)
        validated.append(result)

    if audit_apart:
        prefetch_great_expectations(published, summary.as_of, len(new), own_process=True)
    previous = previous_counts(published, summary.as_of)
    with timed(summary, "copy"):  # the copy of the published warehouse, made meanwhile
        candidate = copying.result()
    try:
        with timed(summary, "stage"):
            summary.counts = steps.call(stage_files, candidate, validated, summary.load_id)
            _record_landing(candidate, summary, failing)
        for v in validated:  # staged: the frames' memory goes back before the build needs it
            v.rows = None
        with timed(summary, "build"):
            summary.counts.rows_loaded, summary.counts.rows_duplicate, summary.build = steps.call(
                build_models, candidate, summary.as_of, summary.load_id
            )
        with timed(summary, "audit"):
            if steps.audit:
                summary.audit_failures = steps.call(audit_candidate, candidate, published, summary, previous, force)
            else:
                with duckdb.connect(str(candidate)) as con:
                    summary.audit_failures = models.test_keys(con)
        outcome = "published" if not summary.audit_failures else "audit_failed"
        _record_run(candidate, summary, started, outcome, "; ".join(summary.audit_failures))
    except BaseException:
        if candidate.exists():
            keep_aside(candidate, published, "error")
            prune_failed(published, keep_failed)
        raise
    if summary.audit_failures:
        kept = keep_aside(candidate, published)
        prune_failed(published, keep_failed)
        _log_run(published, summary, "audit_failed", "; ".join(summary.audit_failures))
        steps.report(summary, "Load refused by its audits")
        raise AuditFailed(
            f"audits failed, nothing published (candidate kept at {kept}): " + "; ".join(summary.audit_failures[:5])
        )
    try:
        with timed(summary, "publish"):
            news, text = _follow_up_news(candidate, published, summary, logger)
            dropouts = new_dropouts(candidate, published) if steps.prefect and current_settings().dropout_events else []
            _record_build(candidate, summary, started)
            steps.call(publish_candidate, candidate, published, summary.load_id)
    except BaseException:
        # Not published while the candidate is still there (the replace is atomic): it is
        # kept to look at, as after a failed build, not left for the next load to delete.
        # Once replaced it no longer exists: the new build stands, whatever failed after it
        # (the folder's fsync, pruning kept builds), and the run log says so.
        if candidate.exists():
            keep_aside(candidate, published, "error")
            prune_failed(published, keep_failed)
        else:
            summary.published = True
        raise
    summary.published = True
    if steps.prefect and current_settings().dropout_events:
        summary.new_dropouts = alert_new_dropouts(dropouts, summary.load_id)
    if steps.prefect and news.anything_new and current_settings().alerts:
        try:
            alerts.emit(news, text)
            summary.alert_sent = True
        except Exception as err:  # the build is published; the alert is recorded in it
            logger.warning("could not emit the follow-up alert: %s", type(err).__name__)
    outcome = "published" if summary.all_files_accounted_cleanly else "published_with_files_refused"
    _log_run(published, summary, outcome, "")
    steps.report(summary, "Load summary")
    if steps.prefect and not summary.all_files_accounted_cleanly:
        _flag_files_refused(summary)
    logger.info(summary.as_markdown())
    return summary
