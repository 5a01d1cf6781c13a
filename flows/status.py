"""`pathways status`: what a data officer asks first in the morning, and an exit code a
monitoring system can act on.

Why a command of its own: the answers are spread over `load_runs.jsonl` (every attempt,
refused and crashed ones included), the published warehouse (`meta.build`,
`audit.file_log`, `audit.quarantine`), the schedule in the configuration and the kept
builds; a person should not need SQL and a cron calculator before coffee.

It only reads: the warehouse is opened read-only, nothing is written, no Prefect server
is needed (the next run is computed with Prefect's own cron schedule, the code its
scheduler uses, so summer time is handled the same way).

Exit codes follow the monitoring-plugin convention (Nagios, Icinga, Zabbix and most
others understand it):

| code | health | when |
|---|---|---|
| 0 | OK | the last load published with every file loaded, nothing overdue |
| 1 | WARNING | files refused, waiting or unreadable in the last load or window, or a source's delivery is overdue (by `overdue_days`, or a municipality's, school's or source's by its own rhythm: marts.delivery_freshness) |
| 2 | CRITICAL | the last load crashed or was refused by its audits, or the published build is older than `stale_hours` |
| 3 | UNKNOWN | no published warehouse, or it cannot be read |
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
HEALTH = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
LOAD_OUTCOMES = ("published", "published_with_files_refused", "audit_failed", "crashed")


@dataclass
class FileSeen:
    file_name: str
    source: str
    status: str
    rows_read: int | None
    rows_loaded: int | None
    rows_quarantined: int | None
    message: str | None
    rules: str = ""  # "rule ×count, …" from audit.quarantine


@dataclass
class Overdue:
    source: str
    last_arrival: dt.datetime | None
    days: int | None
    threshold: int

    @property
    def overdue(self) -> bool:
        return self.days is None or self.days > self.threshold


@dataclass
class Status:
    warehouse: Path
    now: dt.datetime
    since: dt.datetime
    health: int = OK
    reasons: list[str] = field(default_factory=list)
    last_attempt: dict | None = None
    last_restore: dict | None = None
    build: dict | None = None
    schema_version: int | None = None
    files: list[FileSeen] = field(default_factory=list)
    overdue: list[Overdue] = field(default_factory=list)
    late_by_rhythm: list[str] = field(default_factory=list)  # issue 15: per municipality/school/source
    next_run: dt.datetime | None = None
    schedule: str = ""
    report: Path | None = None
    kept_builds: list[str] = field(default_factory=list)
    failed_latest: Path | None = None

    def worse(self, level: int, reason: str) -> None:
        self.health = max(self.health, level)  # UNKNOWN (3) wins: nothing else can be trusted then
        self.reasons.append(f"{HEALTH[level]}: {reason}")


def _runs(published: Path) -> list[dict]:
    path = published.parent / "load_runs.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text("utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a full disk must not hide the others
        if isinstance(record, dict):
            out.append(record)
    return out


def _parse_time(text: str | None) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def next_run(cron: str, timezone: str, after: dt.datetime) -> dt.datetime | None:
    """The next time the nightly deployment fires, by Prefect's own schedule code."""
    import asyncio

    from prefect.server.schemas.schedules import CronSchedule

    dates = asyncio.run(CronSchedule(cron=cron, timezone=timezone).get_dates(n=1, start=after))
    return dates[0] if dates else None


def gather(published: Path, now: dt.datetime | None = None, since_hours: float = 24.0, settings=None) -> Status:
    """Everything `pathways status` shows, and its health."""
    import duckdb

    from flows.config import current
    from warehouse.publish import kept_builds

    settings = settings or current()
    published = Path(published).resolve()
    now = now or dt.datetime.now(dt.UTC)
    status = Status(published, now, now - dt.timedelta(hours=since_hours))
    status.schedule = f"{settings.cron} ({settings.timezone})"
    try:
        status.next_run = next_run(settings.cron, settings.timezone, now)
    except Exception:
        status.next_run = None
    docs = published.parent / "data_docs" / "index.html"
    status.report = docs if docs.exists() else None
    status.kept_builds = [b.build_id for b in reversed(kept_builds(published))]
    failed = (
        sorted(
            (published.parent / "failed").glob(f"{published.stem}-*.duckdb"), key=lambda p: (p.stat().st_mtime, p.name)
        )
        if (published.parent / "failed").is_dir()
        else []
    )
    status.failed_latest = failed[-1] if failed else None

    runs = _runs(published)
    loads = [r for r in runs if r.get("outcome") in LOAD_OUTCOMES]
    restores = [r for r in runs if r.get("outcome") == "restored"]
    status.last_attempt = loads[-1] if loads else None
    status.last_restore = restores[-1] if restores else None

    if not published.exists():
        status.worse(UNKNOWN, f"no published warehouse at {published}")
        return status
    try:
        with duckdb.connect(str(published), read_only=True) as con:
            _read_warehouse(con, status, settings)
    except duckdb.Error as err:
        status.worse(UNKNOWN, f"the published warehouse cannot be read ({type(err).__name__})")
        return status

    attempt = status.last_attempt
    if attempt is not None:
        outcome = attempt.get("outcome")
        if outcome == "crashed" and attempt.get("published"):
            # still critical (a step after publishing did not happen, e.g. the follow-up
            # alert), but the figures are out: say so rather than "nothing was published"
            status.worse(
                CRITICAL,
                f"the last load crashed after publishing: {attempt.get('message', '')}; its build is published",
            )
        elif outcome == "crashed":
            status.worse(CRITICAL, f"the last load crashed: {attempt.get('message', '')}; nothing was published")
        elif outcome == "audit_failed":
            status.worse(CRITICAL, "the last load was refused by its audits; nothing was published")
        elif outcome == "published_with_files_refused":
            status.worse(WARNING, "the last load published, but files were refused, left for later or unreadable")
    if status.build is None:
        status.worse(CRITICAL, "the warehouse has no published build")
    else:
        finished = status.build["finished_at"]
        age_hours = (now - finished).total_seconds() / 3600
        if age_hours > settings.stale_hours:
            status.worse(
                CRITICAL,
                f"the published build is {age_hours:.0f} hours old (more than stale_hours = {settings.stale_hours:g})",
            )
    refused = [f for f in status.files if f.status in ("quarantined", "privacy_incident")]
    if refused:
        status.worse(WARNING, f"{len(refused)} file(s) refused since {status.since:%Y-%m-%d %H:%M} UTC")
    late = [o.source for o in status.overdue if o.overdue]
    if late:
        status.worse(WARNING, f"overdue deliveries: {', '.join(late)}")
    if status.late_by_rhythm:
        status.worse(WARNING, f"{len(status.late_by_rhythm)} deliveries late by their usual rhythm")
    return status


def _read_warehouse(con, status: Status, settings) -> None:
    from warehouse.migrate import schema_version

    utc = "at time zone 'UTC'"
    row = con.execute(f"""select build_id, as_of, started_at {utc}, finished_at {utc}, files_loaded, events, persons,
                                 code_version
                          from meta.build order by finished_at desc limit 1""").fetchone()
    if row is not None:
        keys = ["build_id", "as_of", "started_at", "finished_at", "files_loaded", "events", "persons", "code_version"]
        status.build = dict(zip(keys, row, strict=True))
        for key in ("started_at", "finished_at"):
            status.build[key] = status.build[key].replace(tzinfo=dt.UTC)
    status.schema_version = schema_version(con)
    since = status.since.astimezone(dt.UTC).replace(tzinfo=None)
    files = con.execute(
        f"""
        select file_name, source, status, rows_read, rows_loaded, rows_quarantined, message, sha256
        from audit.file_log where (first_seen_at {utc}) >= ?
        order by first_seen_at, file_name""",
        [since],
    ).fetchall()
    rules: dict[tuple[str, str], list[str]] = {}
    for name, sha, rule, count in con.execute(
        f"""
            select q.file_name, q.sha256, q.rule, count(*) from audit.quarantine q
            join audit.file_log f on f.file_name = q.file_name and f.sha256 = q.sha256
            where (f.first_seen_at {utc}) >= ? group by all order by 4 desc, 3""",
        [since],
    ).fetchall():
        rules.setdefault((name, sha), []).append(f"{rule} ×{count}")
    status.files = [
        FileSeen(n, src, st, rr, rl, rq, msg, ", ".join(rules.get((n, sha), [])))
        for n, src, st, rr, rl, rq, msg, sha in files
    ]
    last = dict(
        con.execute(f"""
        select source, max(coalesce(arrived_at, first_seen_at) {utc}) from audit.file_log group by source""").fetchall()
    )
    from flows.alerts import overdue_deliveries

    status.late_by_rhythm = [o.sentence() for o in overdue_deliveries(con)]  # as of the build's date
    today = status.now.astimezone(dt.UTC).date()
    for source, threshold in settings.overdue_days.items():
        at = last.get(source)
        at = at.replace(tzinfo=dt.UTC) if at is not None else None
        status.overdue.append(Overdue(source, at, (today - at.date()).days if at else None, threshold))


def render(status: Status, console=None, quiet: bool = False) -> None:
    """The status as terminal tables (Rich); `quiet`: the one-line verdict only."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    headline = f"{HEALTH[status.health]}: " + (
        "; ".join(r.split(": ", 1)[1] for r in status.reasons) if status.reasons else "all well"
    )
    style = {OK: "green", WARNING: "yellow", CRITICAL: "bold red", UNKNOWN: "bold magenta"}[status.health]
    console.print(headline, style=style, markup=False, highlight=False)
    if quiet:
        return
    overview = Table(show_header=False, box=None, pad_edge=False)
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("Warehouse", str(status.warehouse))
    b = status.build
    if b:
        overview.add_row(
            "Published build",
            f"{b['build_id']} as of {b['as_of']}, finished "
            f"{b['finished_at']:%Y-%m-%d %H:%M} UTC: {b['files_loaded']} files, "
            f"{b['events']} events, {b['persons']} persons (code {b['code_version']}, "
            f"schema {status.schema_version})",
        )
    a = status.last_attempt
    if a:
        text = f"{a.get('outcome')} at {a.get('at', '?')[:16].replace('T', ' ')} UTC"
        if a.get("outcome") != "crashed" and "files_new" in a:
            text += (
                f": {a.get('files_new', 0)} new files, {a.get('files_loaded', 0)} loaded, "
                f"{a.get('files_refused', 0)} refused, {a.get('files_unreadable', 0)} unreadable, "
                f"{a.get('files_waiting', 0)} waiting"
            )
        if a.get("message"):
            text += f" — {a['message']}"
        overview.add_row("Last load", text)
    else:
        overview.add_row("Last load", "none recorded (load_runs.jsonl)")
    if status.last_restore:
        r = status.last_restore
        overview.add_row(
            "Last restore", f"build {r.get('build_id')} at {str(r.get('at', '?'))[:16].replace('T', ' ')} UTC"
        )
    if status.failed_latest:
        overview.add_row("Newest refused candidate", str(status.failed_latest))
    overview.add_row(
        "Next scheduled load",
        f"{status.next_run:%Y-%m-%d %H:%M %Z} ({status.schedule})"
        if status.next_run
        else f"cannot be computed ({status.schedule})",
    )
    overview.add_row("Audit report", str(status.report) if status.report else "not written yet")
    overview.add_row(
        "Kept builds",
        ", ".join(status.kept_builds[:5]) + (" …" if len(status.kept_builds) > 5 else "")
        if status.kept_builds
        else "none (`pathways restore` needs kept builds)",
    )
    console.print(overview)

    files = Table(title=f"Files first seen since {status.since:%Y-%m-%d %H:%M} UTC", title_justify="left")
    for column in ("file", "source", "status", "rows read", "loaded", "quarantined", "reason"):
        files.add_column(column, justify="right" if column in ("rows read", "loaded", "quarantined") else "left")
    for f in status.files:
        reason = "; ".join(x for x in (f.message, f.rules) if x)
        files.add_row(
            f.file_name,
            f.source,
            f.status,
            str(f.rows_read),
            str(f.rows_loaded),
            str(f.rows_quarantined),
            reason,
            style="yellow" if f.status in ("quarantined", "privacy_incident") else None,
        )
    if status.files:
        console.print(files)
    else:
        console.print(f"No files first seen since {status.since:%Y-%m-%d %H:%M} UTC.")

    deliveries = Table(title="Deliveries", title_justify="left")
    for column in ("source", "last file arrived", "days ago", "overdue after", "state"):
        deliveries.add_column(column)
    for o in status.overdue:
        deliveries.add_row(
            o.source,
            f"{o.last_arrival:%Y-%m-%d}" if o.last_arrival else "never",
            "" if o.days is None else str(o.days),
            f"{o.threshold} days",
            "OVERDUE" if o.overdue else "ok",
            style="yellow" if o.overdue else None,
        )
    console.print(deliveries)
    for sentence in status.late_by_rhythm:
        console.print(f"Late by its usual rhythm: {sentence}", style="yellow", markup=False, highlight=False)
