"""`pathways`: the command line of the pipeline. Few commands, each doing one thing well."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

import flows.settings  # noqa: F401  (before anything imports Prefect)

# pretty_exceptions_show_locals=False: a traceback's local variables may hold raw rows
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Track integration pathways in Trøndelag: generate, load, serve, look.")


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

    result = run(persons, seed, out, fault_rate, clean)
    typer.echo(f"{result.files} landing files for {result.persons} persons in {result.out} "
               f"({result.faults} planted faults listed in {result.out / '_synthetic' / 'faults.json'})")


# Exit codes of `pathways load` (README, runbook).
EXIT_PUBLISHED = 0           # published; every new file loaded, nothing waiting
EXIT_CRASHED = 1             # the load stopped on an error (or was killed); nothing published
EXIT_AUDIT_REFUSED = 2       # the build failed its audits; nothing published, candidate in failed/
EXIT_PUBLISHED_WITH_REFUSALS = 3  # published, but files were refused, left for later or unreadable
EXIT_PATH_REFUSED = 4        # landing or warehouse outside the configured roots; nothing read or written
KNOWN_EXITS = {EXIT_PUBLISHED, EXIT_AUDIT_REFUSED, EXIT_PUBLISHED_WITH_REFUSALS}


@app.command()
def load(
    landing: Path = typer.Option(..., exists=True, file_okay=False, help="Landing root."),
    warehouse: Path = typer.Option(..., help="Published warehouse file (DuckDB)."),
    as_of: Optional[dt.datetime] = typer.Option(None, "--as-of", formats=["%Y-%m-%d"],
                                                help="Reference date of the build (default: today)."),
    force: bool = typer.Option(False, help="Publish even if row counts dropped more than 20 %."),
    files_per_task: Optional[int] = typer.Option(
        None, help="Files per read task (1: one task per file; default: one per file, grouped on bulk loads)."),
    keep_failed: Optional[int] = typer.Option(
        None, help="Refused candidates kept in failed/ (default 5, or PATHWAYS_KEEP_FAILED)."),
) -> None:
    """Run the whole load once (no Prefect server needed).

    Exit codes: 0 published; 3 published with files refused or left for later; 2 refused
    by the audits (nothing published); 1 crashed (nothing published); 4 a path outside the
    configured roots (nothing read or written, not even a run record)."""
    import os

    from flows.settings import PathOutsideRoot, check_paths

    try:
        check_paths(landing, warehouse)
    except PathOutsideRoot as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(EXIT_PATH_REFUSED)
    if os.environ.get("PATHWAYS_LOAD_CHILD") != "1":
        raise typer.Exit(_supervise(warehouse))
    from flows.local_server import choose_server

    server = choose_server()  # starts on the other core while the imports below run (stopped at exit)
    summary = _run_load(server, landing, warehouse, as_of, force, files_per_task, keep_failed)
    c = summary.counts
    typer.echo(f"Published {summary.warehouse}: {c.files_loaded} files loaded, {c.files_refused} refused; "
               f"rows loaded {c.rows_loaded}, quarantined {c.rows_quarantined}, duplicates {c.rows_duplicate}; "
               f"{summary.persons} persons.")
    typer.echo(f"Audit report (Great Expectations Data Docs): {summary.data_docs}")
    if summary.files_refused:
        typer.echo(f"Refused (see audit.file_log): {', '.join(summary.files_refused)}", err=True)
    if summary.files_unreadable:
        typer.echo(f"Could not read (retried next load): {', '.join(summary.files_unreadable)}", err=True)
    for a in summary.landing.anomalies:
        typer.echo(f"Landing zone: {a.path}: {a.kind}, {a.action} ({a.message})", err=True)
    if not summary.all_files_accounted_cleanly:
        raise typer.Exit(EXIT_PUBLISHED_WITH_REFUSALS)


def _run_load(server, landing, warehouse, as_of, force, files_per_task, keep_failed):
    from warehouse.audit import start_audit_process

    start_audit_process()  # imports Great Expectations in its own process, from now on
    from flows.pipeline import AuditFailed, load as run
    from flows.settings import PathOutsideRoot

    if server is not None:
        server.wait()
    try:
        return run(str(landing), str(warehouse), as_of.date() if as_of else None, force, files_per_task,
                   keep_failed)
    except AuditFailed as err:
        typer.echo(f"REFUSED: {err}", err=True)
        raise typer.Exit(EXIT_AUDIT_REFUSED)
    except PathOutsideRoot as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(EXIT_PATH_REFUSED)


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
    recorded = runs.exists() and any(json.loads(line).get("load_id") == load_id
                                     for line in runs.read_text("utf-8").splitlines() if line.strip())
    if code in KNOWN_EXITS and recorded:
        return code
    if not recorded:
        from flows.pipeline import append_run_record

        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        append_run_record(published, {"load_id": load_id, "at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                      "outcome": "crashed", "message": f"the load process ended: {how}"})
    typer.echo(f"CRASHED: the load ended unexpectedly ({'signal ' + str(-code) if code < 0 else code}); "
               "nothing was published. See load_runs.jsonl and the log above.", err=True)
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
    landing: Path = typer.Option(..., file_okay=False, help="Landing root to watch and load."),
    warehouse: Path = typer.Option(..., help="Published warehouse file (DuckDB)."),
    port: int = typer.Option(4200, help="Port of the local Prefect server and UI (127.0.0.1)."),
    debounce: int = typer.Option(30, help="Seconds from the first arrival to the load; arrivals in "
                                          "between join that load."),
) -> None:
    """Run a county's loads on this machine: Prefect server, nightly and file-arrival
    deployments, and the landing watcher (Ctrl+C stops all)."""
    from flows.deploy import serve_all

    landing.mkdir(parents=True, exist_ok=True)
    raise typer.Exit(serve_all(landing, warehouse, port, debounce))


@app.command()
def deploy(
    pool: str = typer.Option(..., help="Process work pool to register on (created if missing)."),
    landing: Path = typer.Option(..., file_okay=False, help="Landing root the workers read."),
    warehouse: Path = typer.Option(..., help="Published warehouse file the workers write."),
    debounce: int = typer.Option(30, help="Seconds from the first arrival to the load."),
    spread_reading: bool = typer.Option(False, help="Read and validate a load's files in several runs on "
                                                    "the pool's workers (the build stays in one)."),
) -> None:
    """Register the nightly and file-arrival loads on a work pool of an existing Prefect
    server (PREFECT_API_URL), for workers started with `prefect worker start --pool POOL`."""
    from flows.deploy import deploy_to_pool

    try:
        ids = deploy_to_pool(pool, landing, warehouse, debounce, spread_reading)
    except RuntimeError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2)
    typer.echo(f"Registered the loads on work pool {pool!r} ({len(ids)} deployments). "
               f"Start workers with: prefect worker start --pool {pool}")


@app.command()
def dashboard(
    warehouse: Path = typer.Option(..., exists=True, dir_okay=False, help="Published warehouse file."),
    config: Optional[Path] = typer.Option(
        None, exists=True, dir_okay=False,
        help="Dashboard configuration (identity provider, roles file, address). Without it nobody can log in."),
    port: int = typer.Option(8501, help="Port."),
    headless: bool = typer.Option(False, help="Do not try to open a browser."),
) -> None:
    """Open the dashboard on the published warehouse (read-only), behind the login."""
    import os
    import sys

    from dashboard.serve import ConfigError, read_config, streamlit_args, write_secrets
    from flows.settings import data_home

    app_file = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    try:
        settings = read_config(config, port) if config else None
    except ConfigError as err:
        typer.echo(f"Dashboard configuration refused: {err}", err=True)
        raise typer.Exit(2)
    if settings is None:
        typer.echo("No --config: the dashboard starts, but nobody can log in (no configuration, no access).",
                   err=True)
    secrets_file = write_secrets(settings, data_home() / "dashboard" / str(port))
    os.environ["PATHWAYS_WAREHOUSE"] = str(warehouse.resolve())
    typer.echo(f"Dashboard on {settings.url if settings else f'http://localhost:{port}'} (Ctrl+C to stop)")
    # exec, not a child process: stopping `pathways dashboard` stops the server itself
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", *streamlit_args(
        app_file, port, secrets_file, settings, headless or not os.environ.get("DISPLAY"))])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(ctx: typer.Context) -> None:
    """Run the benchmark script (see `pathways bench --help` of bench/benchmark.py)."""
    from bench.benchmark import main

    main(ctx.args)


if __name__ == "__main__":
    app()
