"""`pathways`: the command line of the pipeline. Few commands, each doing one thing well."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer


def _global_config_option(argv: list[str]) -> str | None:
    """`pathways --config FILE …`, read before anything else is imported: the file decides
    PATHWAYS_HOME, hence Prefect's home, which must be set (and, with a broken file, not
    created) before flows.settings runs. Only options before the command count (the
    dashboard's own --config is another file)."""
    for i, arg in enumerate(argv):
        if arg == "--config":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            return None
    return None


if _config_option := _global_config_option(sys.argv[1:]):
    from flows.config import use_file

    use_file(Path(_config_option))

import flows.settings  # noqa: E402,F401  (before anything imports Prefect)
from flows import progress  # noqa: E402  (no Prefect import)

# pretty_exceptions_show_locals=False: a traceback's local variables may hold raw rows
# rich_markup_mode=None: help texts name settings as "[section] key", which is not markup
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    help="Track integration pathways in Trøndelag: generate, load, serve, look. "
    "Settings: pathways.toml (see `pathways config`).",
)

EXIT_CONFIG = 5  # the configuration cannot be used (any command); nothing read or written


def _version(value: bool) -> None:
    if value:
        from warehouse.build import code_version

        typer.echo(f"pathways {code_version()}")
        raise typer.Exit(0)


def _quiet() -> bool:
    import os

    return os.environ.get("PATHWAYS_QUIET") == "1"


def _say(message: str) -> None:
    """Normal output (stdout), silenced by --quiet; problems go to stderr regardless."""
    if not _quiet():
        typer.echo(message)


@app.callback()
def main(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        dir_okay=False,
        help="Settings file (default: $PATHWAYS_CONFIG, else ./pathways.toml if present).",
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Only problems and the result: no progress or summary lines (exit codes unchanged).",
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version (as meta.build.code_version records it) and exit.",
    ),
) -> None:
    """Global options; every command reads pathways.toml, then PATHWAYS_* variables, then its flags."""
    import os

    import flows.settings as process

    if config is not None:
        from flows.config import use_file

        use_file(config)  # children (the supervised load, served runs) inherit it
        process.configure()
    if quiet:
        os.environ["PATHWAYS_QUIET"] = "1"  # inherited by the supervised load's child
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    if process.CONFIG_ERROR is not None:
        typer.echo(f"Configuration refused: {process.CONFIG_ERROR}", err=True)
        # `status` speaks the monitoring convention (3 = UNKNOWN); the others exit 5
        raise typer.Exit(3 if ctx.invoked_subcommand == "status" else EXIT_CONFIG)


def _settings(**flags):
    """The effective settings with this command's flags; a clear message and exit 5 if unusable."""
    from flows.config import ConfigError, current, set_flags

    set_flags(**flags)
    try:
        return current()
    except ConfigError as err:
        typer.echo(f"Configuration refused: {err}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _required(value, name: str, flag: str):
    if value is None:
        raise typer.BadParameter(
            f"no {name}: give {flag}, or set it in pathways.toml [paths] or PATHWAYS_{name.upper()}", param_hint=flag
        )
    return value


@app.command()
def generate(
    persons: int = typer.Option(5000, help="Number of persons in the synthetic county."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same files."),
    out: Path = typer.Option(..., help="Landing root to write (one folder per source)."),
    fault_rate: float = typer.Option(0.0, "--fault-rate", help="Share of rows with planted faults (0–1)."),
    clean: bool = typer.Option(False, help="Remove earlier generated files in OUT first."),
) -> None:
    """Write a synthetic county's landing files, its truth and its planted faults."""
    from synthetic.generator import generate as run

    with progress.shown():
        result = run(persons, seed, out, fault_rate, clean)
    _say(
        f"{result.files} landing files for {result.persons} persons in {result.out} "
        f"({result.faults} planted faults listed in {result.out / '_synthetic' / 'faults.json'})"
    )


# Exit codes of `pathways load` (README, runbook).
EXIT_PUBLISHED = 0  # published; every new file loaded, nothing waiting
EXIT_CRASHED = 1  # the load stopped on an error (or was killed); nothing published
EXIT_AUDIT_REFUSED = 2  # the build failed its audits; nothing published, candidate in failed/
EXIT_PUBLISHED_WITH_REFUSALS = 3  # published, but files were refused, left for later or unreadable
EXIT_PATH_REFUSED = 4  # landing or warehouse outside the configured roots; nothing read or written
# EXIT_CONFIG = 5: the configuration (pathways.toml, PATHWAYS_*) cannot be used; nothing read or written
KNOWN_EXITS = {EXIT_PUBLISHED, EXIT_AUDIT_REFUSED, EXIT_PUBLISHED_WITH_REFUSALS}


@app.command()
def load(
    landing: Path | None = typer.Option(None, file_okay=False, help="Landing root (default: [paths] landing)."),
    warehouse: Path | None = typer.Option(None, help="Published warehouse file (default: [paths] warehouse)."),
    as_of: dt.datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="Reference date of the build (default: today)."
    ),
    force: bool = typer.Option(
        False, help="Publish even if row counts dropped more than [audit] max_drop (default 20 %)."
    ),
    files_per_task: int | None = typer.Option(
        None, help="Files per read task (1: one task per file; default: one per file, grouped on bulk loads)."
    ),
    keep_failed: int | None = typer.Option(
        None, help="Refused candidates kept in failed/ (default: [retention] keep_failed, 5)."
    ),
    in_process: bool = typer.Option(
        False,
        "--in-process",
        help="Load in this process even when `pathways serve` serves this landing folder and warehouse.",
    ),
) -> None:
    """Run the whole load once (no Prefect server needed).

    When `pathways serve` serves the same landing folder and warehouse, the load runs
    there (started warm, shown in its UI, one load at a time) and this command prints its
    log and ends with its outcome; Ctrl+C cancels it.

    Exit codes: 0 published; 3 published with files refused or left for later; 2 refused
    by the audits (nothing published); 1 crashed (nothing published); 4 a path outside the
    configured roots (nothing read or written, not even a run record); 5 the configuration
    cannot be used (nothing read or written)."""
    import os

    from flows.settings import PathOutsideRoot, check_paths

    settings = _settings(landing=landing, warehouse=warehouse, keep_failed=keep_failed)
    landing = _required(settings.landing, "landing", "--landing")
    warehouse = _required(settings.warehouse, "warehouse", "--warehouse")
    if not landing.is_dir():
        raise typer.BadParameter(f"the landing folder {landing} does not exist", param_hint="--landing")

    try:
        check_paths(landing, warehouse)
    except PathOutsideRoot as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(EXIT_PATH_REFUSED) from None
    if os.environ.get("PATHWAYS_LOAD_CHILD") != "1":
        if not in_process:
            handed = _hand_to_serve(landing, warehouse, as_of, force, files_per_task, keep_failed)
            if handed is not None:
                raise typer.Exit(handed)
        raise typer.Exit(_supervise(warehouse))
    from flows.local_server import choose_server

    server = choose_server()  # starts on the other core while the imports below run (stopped at exit)
    with progress.shown():
        summary = _run_load(server, landing, warehouse, as_of, force, files_per_task, keep_failed)
    c = summary.counts
    _say(
        f"Published {summary.warehouse}: {c.files_loaded} files loaded, {c.files_refused} refused; "
        f"rows loaded {c.rows_loaded}, quarantined {c.rows_quarantined}, duplicates {c.rows_duplicate}; "
        f"{summary.persons} persons."
    )
    _say(f"Audit report (Great Expectations Data Docs): {summary.data_docs}")
    if summary.files_refused:
        typer.echo(f"Refused (see audit.file_log): {', '.join(summary.files_refused)}", err=True)
    if summary.files_unreadable:
        typer.echo(f"Could not read (retried next load): {', '.join(summary.files_unreadable)}", err=True)
    for a in summary.landing.anomalies:
        typer.echo(f"Landing zone: {a.path}: {a.kind}, {a.action} ({a.message})", err=True)
    if not summary.all_files_accounted_cleanly:
        raise typer.Exit(EXIT_PUBLISHED_WITH_REFUSALS)


def _hand_to_serve(landing, warehouse, as_of, force, files_per_task, keep_failed) -> int | None:
    """The exit code of the load run by a `pathways serve` of this county (flows.handoff);
    None when no serve on this machine serves this landing folder and warehouse."""
    from flows import handoff

    serve = handoff.find_serve(landing, warehouse)
    if serve is None:
        return None
    params = handoff.parameters(landing, warehouse, as_of.date() if as_of else None, force, files_per_task, keep_failed)
    try:
        outcome = handoff.run(serve, params, warehouse, handoff.echo_stderr)
    except handoff.ApiError as err:
        typer.echo(
            f"CRASHED: `pathways serve` could not be asked to load ({err}). If a run was created, "
            "its outcome is in load_runs.jsonl and the UI.",
            err=True,
        )
        return EXIT_CRASHED
    r = outcome.record
    if r is None:
        why = outcome.note or f"the run ended in state {outcome.state} without a line in load_runs.jsonl"
        typer.echo(
            f"CRASHED: {why}; nothing was published by this run so far. See the log above and the UI "
            f"(flow run {outcome.flow_run_id or 'not created'}).",
            err=True,
        )
        return EXIT_CRASHED
    if r["outcome"].startswith("published"):
        _say(
            f"Published {warehouse.resolve()}: {r['files_loaded']} files loaded, {r['files_refused']} refused; "
            f"rows loaded {r['rows_loaded']}, quarantined {r['rows_quarantined']}, "
            f"duplicates {r.get('rows_duplicate', 0)}; {r.get('persons', 0)} persons."
        )
        _say(f"Audit report (Great Expectations Data Docs): {warehouse.resolve().parent / 'data_docs' / 'index.html'}")
        if r["outcome"] != "published":
            typer.echo("Files were refused, left for later or unreadable: see the summary above.", err=True)
    elif r["outcome"] == "audit_failed":
        typer.echo(f"REFUSED: audits failed, nothing published: {r.get('message', '')}", err=True)
    elif r.get("published"):
        typer.echo(f"CRASHED after publishing: {r.get('message', '')}; the new warehouse is published.", err=True)
    elif outcome.state == "CANCELLED":
        typer.echo("CANCELLED: the load was stopped before it published; nothing was published.", err=True)
    else:
        typer.echo(f"CRASHED: {r.get('message', '')}; nothing was published.", err=True)
    return handoff.EXIT_CODES.get(r["outcome"], EXIT_CRASHED)


def _run_load(server, landing, warehouse, as_of, force, files_per_task, keep_failed):
    import os

    from flows import isolation

    progress.step("start (imports, Prefect server)")
    if not os.environ.get("PATHWAYS_READ_DEPLOYMENT"):  # (flows.remote_read: files read on a work pool)
        isolation.prestart()  # a read worker imports the readers on the other core meanwhile
    from flows.pipeline import AuditFailed
    from flows.pipeline import load as run
    from flows.settings import PathOutsideRoot
    from warehouse.audit import import_great_expectations

    if server is not None:
        # ≈ 3 s, while the temporary server (and the read worker) start. Against a running
        # server it would be on the load's clock: the audit imports it when a suite must
        # run, and a load that changed no audited table needs none (warehouse.audit_state).
        import_great_expectations()
        server.wait()
    try:
        return run(str(landing), str(warehouse), as_of.date() if as_of else None, force, files_per_task, keep_failed)
    except AuditFailed as err:
        typer.echo(f"REFUSED: {err}", err=True)
        raise typer.Exit(EXIT_AUDIT_REFUSED) from None
    except PathOutsideRoot as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(EXIT_PATH_REFUSED) from None


def _supervise(warehouse: Path) -> int:
    """Run this very command again as a child in its own process group, and wait.

    Why: a load that dies hard (killed, out of memory, a native abort) cannot record
    itself or stop what it started. The parent outlives it, so it can: it records the
    attempt as `crashed` in load_runs.jsonl when the child left no final line, stops the
    whole group (the temporary Prefect server and the read workers live in it), and
    turns any unexpected end into exit code 1. SIGINT/SIGTERM are passed on to the group.
    """
    import json
    import os
    import signal
    import subprocess
    import sys
    import uuid

    load_id = uuid.uuid4().hex[:12]
    env = dict(os.environ, PATHWAYS_LOAD_CHILD="1", PATHWAYS_LOAD_ID=load_id)
    child = subprocess.Popen([sys.executable, "-m", "flows.cli", *sys.argv[1:]], env=env, start_new_session=True)

    def forward(signum, _frame):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _stop_group(child.pid)
    published = warehouse.resolve()
    runs = published.parent / "load_runs.jsonl"
    recorded = runs.exists() and any(
        json.loads(line).get("load_id") == load_id for line in runs.read_text("utf-8").splitlines() if line.strip()
    )
    if code in KNOWN_EXITS and recorded:
        return code
    if not recorded:
        from flows.pipeline import append_run_record

        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        append_run_record(
            published,
            {
                "load_id": load_id,
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "outcome": "crashed",
                "message": f"the load process ended: {how}",
            },
        )
    typer.echo(
        f"CRASHED: the load ended unexpectedly ({'signal ' + str(-code) if code < 0 else code}); "
        "nothing was published. See load_runs.jsonl and the log above.",
        err=True,
    )
    return EXIT_CRASHED


def _stop_group(pgid: int) -> None:
    """SIGTERM to whatever is left of the load's process group, SIGKILL after 5 s."""
    import os
    import signal
    import time

    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@app.command()
def serve(
    landing: Path | None = typer.Option(
        None, file_okay=False, help="Landing root to watch and load (default: [paths] landing)."
    ),
    warehouse: Path | None = typer.Option(None, help="Published warehouse file (default: [paths] warehouse)."),
    port: int | None = typer.Option(
        None, help="Port of the local Prefect server and UI (127.0.0.1; default: [schedule] port, 4200)."
    ),
    debounce: int | None = typer.Option(
        None,
        help="Seconds from the first arrival to the load; arrivals in "
        "between join that load (default: [schedule] "
        "debounce_seconds, 30).",
    ),
) -> None:
    """Run a county's loads on this machine: Prefect server, nightly and file-arrival
    deployments (schedule: [schedule] cron and timezone), and the landing watcher
    (Ctrl+C stops all)."""
    from flows.deploy import serve_all

    settings = _settings(landing=landing, warehouse=warehouse, port=port, debounce_seconds=debounce)
    landing = _required(settings.landing, "landing", "--landing")
    warehouse = _required(settings.warehouse, "warehouse", "--warehouse")
    landing.mkdir(parents=True, exist_ok=True)
    raise typer.Exit(serve_all(landing, warehouse, settings.port, settings.debounce_seconds))


@app.command()
def deploy(
    pool: str = typer.Option(..., help="Process work pool to register on (created if missing)."),
    landing: Path = typer.Option(..., file_okay=False, help="Landing root the workers read."),
    warehouse: Path = typer.Option(..., help="Published warehouse file the workers write."),
    debounce: int = typer.Option(30, help="Seconds from the first arrival to the load."),
    spread_reading: bool = typer.Option(
        False, help="Read and validate a load's files in several runs on the pool's workers (the build stays in one)."
    ),
) -> None:
    """Register the nightly and file-arrival loads on a work pool of an existing Prefect
    server (PREFECT_API_URL), for workers started with `prefect worker start --pool POOL`."""
    from flows.deploy import deploy_to_pool

    try:
        ids = deploy_to_pool(pool, landing, warehouse, debounce, spread_reading)
    except RuntimeError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"Registered the loads on work pool {pool!r} ({len(ids)} deployments). "
        f"Start workers with: prefect worker start --pool {pool}"
    )


@app.command()
def dashboard(
    warehouse: Path | None = typer.Option(
        None, dir_okay=False, help="Published warehouse file (default: [paths] warehouse)."
    ),
    config: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Dashboard configuration (identity provider, roles file, address; default: [dashboard] config). "
        "Without it nobody can log in.",
    ),
    port: int | None = typer.Option(None, help="Port (default: [dashboard] port, 8501)."),
    headless: bool = typer.Option(False, help="Do not try to open a browser."),
) -> None:
    """Open the dashboard on the published warehouse (read-only), behind the login."""
    import os
    import sys

    from dashboard.serve import ConfigError, read_config, streamlit_args, write_secrets
    from flows.settings import data_home

    app_file = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    options = _settings(warehouse=warehouse, dashboard_config=config, dashboard_port=port)
    warehouse = _required(options.warehouse, "warehouse", "--warehouse")
    if not warehouse.is_file():
        raise typer.BadParameter(f"no warehouse file {warehouse}", param_hint="--warehouse")
    config, port = options.dashboard_config, options.dashboard_port
    if config is not None and not config.is_file():
        raise typer.BadParameter(f"no dashboard configuration file {config}", param_hint="--config")
    try:
        settings = read_config(config, port) if config else None
    except ConfigError as err:
        typer.echo(f"Dashboard configuration refused: {err}", err=True)
        raise typer.Exit(2) from None
    if settings is None:
        typer.echo(
            "No dashboard configuration (--config or [dashboard] config): the dashboard starts, but "
            "nobody can log in (no configuration, no access).",
            err=True,
        )
    secrets_file = write_secrets(settings, data_home() / "dashboard" / str(port))
    os.environ["PATHWAYS_WAREHOUSE"] = str(warehouse.resolve())
    typer.echo(f"Dashboard on {settings.url if settings else f'http://localhost:{port}'} (Ctrl+C to stop)")
    # exec, not a child process: stopping `pathways dashboard` stops the server itself
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "streamlit",
            *streamlit_args(app_file, port, secrets_file, settings, headless or not os.environ.get("DISPLAY")),
        ],
    )


@app.command()
def alerts(
    webhook_url: str | None = typer.Option(
        None,
        "--webhook-url",
        help="Webhook to post the follow-up alerts to (default: [notifications] webhook_url). "
        "Put it in pathways.toml too, or `pathways serve` sets the old one back.",
    ),
    test: bool = typer.Option(False, "--test", help="Also post a test message through it."),
) -> None:
    """Set up (or change) the follow-up alert on the Prefect server: a notification block
    posting to the webhook and the automation that sends each load's alert through it.
    The server is the one `pathways serve` runs (or PREFECT_API_URL). Exit 1 if there is none."""
    import os

    from flows.local_server import running_serve

    settings = _settings(webhook_url=webhook_url)
    if not os.environ.get("PREFECT_API_URL"):
        record = running_serve()
        if record is None:
            typer.echo("No Prefect server: start `pathways serve` (or set PREFECT_API_URL) first.", err=True)
            raise typer.Exit(1)
        os.environ["PREFECT_API_URL"] = record["api_url"]
        if record.get("auth_string"):
            os.environ["PREFECT_API_AUTH_STRING"] = record["auth_string"]
    from flows.alerts import BLOCK_NAME, ensure_automation

    automation = ensure_automation(settings.webhook_url)
    if automation is None:
        _say("No webhook configured: the alert stays a Prefect event (pathways.follow_up.new) only.")
        return
    _say(f"Follow-up alerts are posted to the webhook (automation {automation}, block {BLOCK_NAME}).")
    if test:
        from typing import cast

        from prefect.blocks.notifications import CustomWebhookNotificationBlock

        block = cast(CustomWebhookNotificationBlock, CustomWebhookNotificationBlock.load(BLOCK_NAME))
        block.notify("Test fra Kvalifiseringsløp i Trøndelag: varslene om oppfølging kommer hit.", "Test")
        _say("Test message posted.")


@app.command()
def export(
    out: Path = typer.Option(..., file_okay=False, help="Folder to write the event log into (created)."),
    warehouse: Path | None = typer.Option(None, help="Published warehouse file (default: [paths] warehouse)."),
) -> None:
    """Write the conformed events as an OCEL 2.0 event log (pathways.ocel.json: persons,
    municipalities, schools and cases as objects) and as Parquet tables, for analysts.
    Person-level (pseudonyms): for data staff only; the files are readable by the owner and
    the configured group, and the export is recorded in the access log."""
    from flows.export import export as write

    settings = _settings(warehouse=warehouse)
    published = _required(settings.warehouse, "warehouse", "--warehouse")
    if not published.is_file():
        raise typer.BadParameter(f"no warehouse file {published}", param_hint="--warehouse")
    result = write(published, out)
    _say(
        f"Exported {result.events} events of {result.persons} persons to {result.folder}: "
        + ", ".join(f.name for f in result.files)
    )


@app.command("config")
def show_config(
    landing: Path | None = typer.Option(None, help="As a command given --landing would see it."),
    warehouse: Path | None = typer.Option(None, help="As a command given --warehouse would see it."),
) -> None:
    """Print every effective setting and where it came from: default, file, environment or
    flag (later ones win). The output is itself a valid pathways.toml. Exit code 5 if the
    configuration cannot be used."""
    from flows.config import ConfigError, config_file, effective, toml_value

    try:
        rows = effective(landing=landing, warehouse=warehouse)
    except ConfigError as err:
        typer.echo(f"Configuration refused: {err}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    file = config_file()
    typer.echo(f"# configuration file: {file or 'none ($PATHWAYS_CONFIG, --config or ./pathways.toml)'}")
    typer.echo("# precedence: default < file < environment (PATHWAYS_<SETTING>) < flag")
    section_now = None
    for section, _name, key, value, (kind, where) in rows:
        if section != section_now:
            typer.echo(f"\n[{section}]")
            section_now = section
        line = f"{key} = {toml_value(value)}" if value is not None else f"# {key} = (not set)"
        origin = {"file": "file", "environment": f"environment {where}", "flag": "flag"}.get(kind, "default")
        typer.echo(f"{line:<60} # {origin}")


@app.command()
def status(
    warehouse: Path | None = typer.Option(None, help="Published warehouse file (default: [paths] warehouse)."),
    since: float = typer.Option(24.0, help="Show files first seen in the last SINCE hours."),
) -> None:
    """What to check first in the morning: the last load and build, files loaded and refused
    (with reasons), overdue deliveries, the next scheduled load, the audit report.

    Exit codes (monitoring-plugin convention): 0 OK; 1 WARNING (files refused, waiting or
    unreadable, or a delivery overdue); 2 CRITICAL (the last load crashed or was refused by
    its audits, or the published build is older than [status] stale_hours); 3 UNKNOWN (no
    readable warehouse, or the configuration cannot be used)."""
    from flows.config import ConfigError, current, set_flags
    from flows.status import UNKNOWN, gather, render

    set_flags(warehouse=warehouse)
    try:
        settings = current()
    except ConfigError as err:
        typer.echo(f"UNKNOWN: configuration refused: {err}", err=True)
        raise typer.Exit(UNKNOWN) from None
    if settings.warehouse is None:
        typer.echo("UNKNOWN: no warehouse: give --warehouse, or set [paths] warehouse in pathways.toml", err=True)
        raise typer.Exit(UNKNOWN)
    result = gather(settings.warehouse, since_hours=since, settings=settings)
    render(result, quiet=_quiet())
    raise typer.Exit(result.health)


@app.command()
def restore(
    build_id: str | None = typer.Argument(None, help="The build to put back (see --list)."),
    warehouse: Path | None = typer.Option(None, help="Published warehouse file (default: [paths] warehouse)."),
    list_builds: bool = typer.Option(False, "--list", help="List the kept builds, newest first, and exit."),
) -> None:
    """Put a kept build back as the published warehouse, atomically (the last [retention]
    keep_builds published builds are kept in builds/ beside the warehouse).

    Exit codes: 0 restored (or listed); 1 not restored (unknown build id, a load running, a
    damaged file: the message says which; the published warehouse is unchanged)."""
    import duckdb
    from rich.console import Console
    from rich.table import Table

    from warehouse.publish import RestoreError, kept_builds
    from warehouse.publish import restore as put_back

    settings = _settings(warehouse=warehouse)
    published = _required(settings.warehouse, "warehouse", "--warehouse").resolve()
    if list_builds or build_id is None:
        builds = list(reversed(kept_builds(published)))
        if not builds:
            typer.echo(f"No kept builds beside {published} (builds/ is filled by each publish).", err=True)
            raise typer.Exit(0 if list_builds else 1)
        table = Table(title=f"Kept builds of {published}, newest first", title_justify="left")
        for column in ("build id", "as of", "published (UTC)", "events", "persons", "code"):
            table.add_column(column)
        for b in builds:
            try:
                with duckdb.connect(str(b.path), read_only=True) as con:
                    row = (
                        con.execute(
                            "select as_of, events, persons, code_version from meta.build where build_id = ?",
                            [b.build_id],
                        ).fetchone()
                        or ("?",) * 4
                    )
            except duckdb.Error:
                row = ("unreadable", "", "", "")
            table.add_row(b.build_id, str(row[0]), f"{b.kept_at:%Y-%m-%d %H:%M}", *(str(x) for x in row[1:]))
        Console(width=160).print(table, markup=False, highlight=False)
        raise typer.Exit(0 if list_builds else 1)
    try:
        build = put_back(published, build_id)
    except RestoreError as err:
        typer.echo(f"Not restored: {err}", err=True)
        raise typer.Exit(1) from None
    _say(
        f"Restored build {build.build_id} (kept {build.kept_at:%Y-%m-%d %H:%M} UTC) as {published}. "
        "The next load loads only the files this build has not seen."
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """Run the benchmarks: ingest, build, dashboard, orchestration, hostile
    (`pathways bench --help`, `pathways bench build --help` show their real options)."""
    from bench.benchmark import main

    sys.argv[0] = "pathways bench"  # argparse names the program after it in its usage line
    main(ctx.args)  # --help included: the benchmark's own parser answers it


def _main() -> None:
    """`python -m flows.cli`: how `pathways load` runs its load as a supervised child
    (`_supervise`). The child ends without the interpreter's teardown (flows.fast_exit):
    ≈ 1.8 s of freeing modules after the work is done and recorded."""
    try:
        app()
    except SystemExit as done:
        from flows.fast_exit import exit_now

        exit_now(done.code)


if __name__ == "__main__":
    _main()
