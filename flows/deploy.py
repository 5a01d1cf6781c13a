"""Deployments of the load, served from this project, and `pathways serve`.

- `nightly-load`: the `cron` setting in its `timezone` (default `0 2 * * *` in Europe/Oslo;
  pathways.toml `[schedule]`; Prefect's scheduler handles summer time).
- `file-arrived`: triggered by `pathways.file.arrived` events from the landing watcher. The
  trigger is *reactive with a window* of `debounce` seconds: the first event fires it, the
  run is scheduled `debounce` seconds later, and further events within the window start
  no more runs. Because the window is exactly as long as the delay, every event that the
  window swallows happened before the run starts, and the run scans the whole landing
  zone, so its file is loaded; an event after the window starts the next run. A batch of
  files copied together is therefore one load, and no file waits for the nightly run.
- `manual-load`: no schedule and no trigger; a `pathways load` of the served landing
  folder and warehouse creates its runs (flows.handoff), so they start warm, at once (the
  runner polls every second) and show beside the others.

All three deployments have a concurrency limit of 1 with the ENQUEUE strategy (a second run
waits for the first), and the flow itself holds a lock on the warehouse, so two loads
never write at once even across deployments, machines and the command line.

`pathways serve` starts a local Prefect server (its own SQLite database under
PATHWAYS_HOME, bound to 127.0.0.1) unless PREFECT_API_URL points at an existing one, then
serves the deployments and runs the watcher. While it runs, `PATHWAYS_HOME/serve.json`
(owner-only) tells a manual `pathways load` to run against this server rather than start
a temporary one: the run shows in the same UI. See docs/runbook.md for running the same
deployments on a work pool with workers.

The local server is locked: its API asks for HTTP basic authentication
(`PREFECT_SERVER_API_AUTH_STRING`, `user:password`; taken from the environment, or
generated once and kept in `$PREFECT_HOME/api-auth-string`, readable by the owner only),
answers cross-origin requests only from its own UI's origin, and the served flow runs
may only read and write under the landing folder and the warehouse's folder
(`PATHWAYS_LANDING_ROOT`, `PATHWAYS_WAREHOUSE_ROOT`; see flows/settings.py).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import cast
from uuid import UUID

import flows.settings  # noqa: F401

PROJECT_ROOT = Path(__file__).resolve().parent.parent


MANUAL = "manual-load"
RUNNER_POLL_SECONDS = 1.0


def deployment_options(landing: str, warehouse: str, debounce_seconds: int = 30) -> dict[str, dict]:
    """The nightly and file-arrival deployments of the load, by name: what to schedule,
    what triggers it, one load at a time."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.events import DeploymentEventTrigger, Posture
    from prefect.schedules import Cron

    from flows.config import current
    from flows.watch import EVENT

    settings = current()  # [schedule] cron, timezone
    parameters = {"landing": str(landing), "warehouse": str(warehouse)}
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    return {
        "nightly-load": dict(
            parameters=parameters,
            concurrency_limit=one_at_a_time,
            schedules=[Cron(settings.cron, timezone=settings.timezone)],
            description=f"The whole journey on the schedule `{settings.cron}` ({settings.timezone}).",
            tags=["pathways"],
        ),
        "file-arrived": dict(
            parameters=parameters,
            concurrency_limit=one_at_a_time,
            triggers=[
                DeploymentEventTrigger(
                    name="landing-file-arrived",
                    expect={EVENT},
                    match={"prefect.resource.id": "pathways.landing.*"},
                    posture=Posture.Reactive,
                    threshold=1,
                    within=dt.timedelta(seconds=debounce_seconds),
                    schedule_after=dt.timedelta(seconds=debounce_seconds),
                )
            ],
            description="Load when files arrive in the landing zone (several files together: one load).",
            tags=["pathways"],
        ),
        # no schedule, no trigger: the runs a one-off `pathways load` of this county hands to
        # `pathways serve` (flows.handoff), started warm and shown beside the others
        MANUAL: dict(
            parameters=parameters,
            concurrency_limit=one_at_a_time,
            description="A `pathways load` of this county run by `pathways serve` (started warm).",
            tags=["pathways"],
        ),
    }


def deployments(landing: str, warehouse: str, debounce_seconds: int = 30, from_source: bool = False):
    """The nightly and file-arrival deployments of the load. `from_source`: the flow as
    a worker loads it, from this project folder (for a work pool); else this process's."""
    if from_source:
        from prefect import Flow

        # sync context: Prefect's dual sync/async API returns the Flow, not a coroutine
        load = cast(Flow, Flow.from_source(source=str(PROJECT_ROOT), entrypoint="flows/pipeline.py:load"))
    else:
        from flows.pipeline import load
    options = deployment_options(landing, warehouse, debounce_seconds)
    nightly, arrived = (load.to_deployment(name=name, **options[name]) for name in ("nightly-load", "file-arrived"))
    return nightly, arrived


def _healthy(api_url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{api_url}/health", timeout=2).status == 200
    except OSError:
        return False


def auth_string() -> str:
    """`user:password` for the local server's API: PREFECT_SERVER_API_AUTH_STRING if set,
    else generated once and kept in $PREFECT_HOME/api-auth-string (mode 0600)."""
    configured = os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
    if configured:
        return configured
    path = Path(os.environ["PREFECT_HOME"]) / "api-auth-string"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"pathways:{secrets.token_urlsafe(24)}")
    return path.read_text().strip()


def server_env(port: int, auth: str) -> dict[str, str]:
    """The locked-down settings of the local server: authentication, and CORS for its
    own UI only (a page on any other origin cannot call the API from a browser)."""
    origins = f"http://127.0.0.1:{port},http://localhost:{port}"
    return dict(
        os.environ,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_API_AUTH_STRING=auth,
        PREFECT_SERVER_CORS_ALLOWED_ORIGINS=origins,
        # the UI calls the API of this server, on this port (not the default 4200)
        PREFECT_SERVER_UI_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_CORS_ALLOWED_METHODS="GET,POST,PUT,PATCH,DELETE,OPTIONS",
        PREFECT_SERVER_CORS_ALLOWED_HEADERS="Authorization,Content-Type,X-CSRF-Token,X-Prefect-Ui",
    )


def start_server(port: int, auth: str) -> tuple[subprocess.Popen, str]:
    """A local Prefect server with its database under PREFECT_HOME, bound to localhost."""
    api_url = f"http://127.0.0.1:{port}/api"
    env = server_env(port, auth)
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the Prefect server stopped while starting")
        if _healthy(api_url):
            return server, api_url
        time.sleep(0.5)
    server.terminate()
    raise RuntimeError("the Prefect server did not become healthy within 90 s")


def runner_poll_seconds() -> float:
    """Every second (Prefect's default is 10), unless PREFECT_RUNNER_POLL_FREQUENCY says
    otherwise: a load handed over by `pathways load` starts at once."""
    return float(os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY") or RUNNER_POLL_SECONDS)


def serve_here(landing: str, warehouse: str, debounce_seconds: int) -> None:
    """Serve both deployments and watch the landing zone (PREFECT_API_URL must be set).

    The runner holds the load flow itself (`Runner.add_flow`, as `prefect.serve` does with
    deployments it could re-import), so it starts each run as a process from the fork
    server of `flows.warm`, with everything already imported."""
    import asyncio

    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    from flows import warm
    from flows.config import current
    from flows.pipeline import load
    from flows.watch import LandingWatcher

    if current().warm_runs:
        warm.enable()
    _ensure_alerts()
    stop = threading.Event()
    watcher = LandingWatcher(Path(landing))
    watcher.prime()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True, name="landing-watcher")
    thread.start()
    runner = Runner(pause_on_shutdown=True, query_seconds=runner_poll_seconds())
    served = deployment_options(landing, warehouse, debounce_seconds)
    for name, options in served.items():
        runner.add_flow(load, name=name, **options)
    print(f"Serving the deployments {', '.join(f'pathways-load/{name}' for name in served)}", flush=True)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal):
        pass
    finally:
        stop.set()


def _ensure_alerts() -> None:
    """The follow-up alert's notification block and automation, from `[notifications]
    webhook_url` (issue 15). A failure is reported and serving goes on: the loads matter more."""
    from flows.alerts import ensure_automation
    from flows.config import current

    try:
        automation = ensure_automation(current().webhook_url)
        print(
            "Follow-up alerts: "
            + (
                f"posted to the configured webhook (automation {automation})"
                if automation
                else "no webhook configured ([notifications] webhook_url)"
            ),
            flush=True,
        )
    except Exception as err:  # serving goes on without the alert
        print(f"Follow-up alerts could not be set up ({type(err).__name__}); see `pathways alerts`", flush=True)


def serve_all(landing: Path, warehouse: Path, port: int, debounce_seconds: int) -> int:
    """`pathways serve`: server (unless one is configured) + deployments + watcher."""
    from flows.config import current
    from flows.local_server import remove_serve_record, write_serve_record
    from flows.settings import check_paths

    server = None
    env = dict(os.environ)
    settings = current()
    # the served runs may only touch this landing folder and the warehouse's folder (or the
    # roots configured in pathways.toml)
    env.setdefault("PATHWAYS_LANDING_ROOT", str(settings.landing_root or landing.resolve()))
    env.setdefault("PATHWAYS_WAREHOUSE_ROOT", str(settings.warehouse_root or warehouse.resolve().parent))
    os.environ.update({k: env[k] for k in ("PATHWAYS_LANDING_ROOT", "PATHWAYS_WAREHOUSE_ROOT")})
    check_paths(landing, warehouse)  # the deployments' own parameters must be inside them
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        auth = auth_string()
        server, api_url = start_server(port, auth)
        env["PREFECT_API_AUTH_STRING"] = auth  # for the serving process, its flow runs and the watcher
        print(
            f"Prefect server and UI on {api_url.removesuffix('/api')} (API login: user and password in "
            f"{Path(os.environ['PREFECT_HOME']) / 'api-auth-string'} or PREFECT_SERVER_API_AUTH_STRING)",
            flush=True,
        )
    # a `pathways load` from the same PATHWAYS_HOME runs against this server (flows.local_server),
    # and one of this landing folder and warehouse is handed to serve (flows.handoff)
    write_serve_record(
        api_url,
        auth if server is not None else None,
        own_server=server is not None,
        landing=landing,
        warehouse=warehouse,
        poll_seconds=runner_poll_seconds(),
    )
    env["PREFECT_API_URL"] = api_url
    # the runs' log lines reach the API within half a second (Prefect's default: 2 s), so a
    # handed-over load's command prints the run's last lines as soon as it ends
    env.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.5")
    child = subprocess.Popen(
        [sys.executable, "-m", "flows.deploy", str(landing.resolve()), str(warehouse.resolve()), str(debounce_seconds)],
        env=env,
        cwd=PROJECT_ROOT,
    )

    def stop(*_):
        child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        return child.wait()
    finally:
        remove_serve_record()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


ROOTS = ("PATHWAYS_LANDING_ROOT", "PATHWAYS_WAREHOUSE_ROOT")


def enforce_pool_roots() -> None:
    """On a work pool, take the roots from the pool's own job template, not from the
    environment the run was given.

    Prefect merges a run's job variables into the environment (even over values the
    template fixes), so whoever can start a run could otherwise set the roots to `/`.
    The pool's template can only be changed by an administrator of the server; a run
    cannot. Outside a pool (the command line, `pathways serve`), nothing changes."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    if not flow_run.id:
        return
    with get_client(sync_client=True) as client:
        pool = client.read_flow_run(flow_run.id).work_pool_name
        if not pool:
            return
        env = client.read_work_pool(pool).base_job_template.get("job_configuration", {}).get("env")
    if isinstance(env, dict) and all(isinstance(env.get(name), str) for name in ROOTS):
        os.environ.update({name: env[name] for name in ROOTS})


def locked_job_template(env: dict[str, str]) -> dict:
    """Prefect's process-worker template with the environment, the command and the
    working folder fixed, not variables.

    Prefect lets whoever starts a run set its job variables, and merges them over the
    deployment's: with the default template a run could replace the command with any
    program or run it elsewhere; with these literal, a run's job variables cannot reach
    them. The environment is still merged with a run's own (Prefect always does that), so
    the flows read the roots back from this template (`enforce_pool_roots`)."""
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    config = template["job_configuration"]
    config["env"] = dict(env)
    config["command"] = None  # Prefect's own `python -m prefect.engine`
    config["working_dir"] = str(PROJECT_ROOT)
    for name in ("env", "command", "working_dir"):
        template["variables"]["properties"].pop(name, None)
    return template


def deploy_to_pool(
    pool: str, landing: Path, warehouse: Path, debounce_seconds: int = 30, spread_reading: bool = False
) -> list[str]:
    """`pathways deploy`: register both deployments on a process work pool of the server
    PREFECT_API_URL points at (the pool is created if missing), so loads run on whichever
    worker polls the pool (`prefect worker start --pool POOL`), one at a time.

    The workers run the flow from this project folder (Prefect's pull step sets it as the
    working directory), so every worker machine needs the project at the same path, the
    landing zone and the warehouse's folder. The roots are fixed in the pool's job
    template (`locked_job_template`) and the flows take them from there
    (`enforce_pool_roots`), so a run started with other paths is refused as under
    `pathways serve`, whatever job variables it asks for.

    `spread_reading` also registers `pathways-read/read-files` and tells the loads to use
    it: a load's files are then read and validated by several runs on the pool's workers
    (flows.remote_read), and only the build stays in the load's own run."""
    from prefect import deploy
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.deployments.runner import RunnerDeployment
    from prefect.exceptions import ObjectAlreadyExists

    if not os.environ.get("PREFECT_API_URL"):
        raise RuntimeError("PREFECT_API_URL is not set: deploy registers on an existing Prefect server")
    env = {"PATHWAYS_LANDING_ROOT": str(landing.resolve()), "PATHWAYS_WAREHOUSE_ROOT": str(warehouse.resolve().parent)}
    for name in ("PATHWAYS_HOME", "PATHWAYS_GROUP", "PATHWAYS_UMASK", "PATHWAYS_CONFIG"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    extra: list[RunnerDeployment] = []
    if spread_reading:
        from prefect import Flow

        from flows.remote_read import DEPLOYMENT_ENV, DEPLOYMENT_NAME

        # sync context: Prefect's dual sync/async APIs return their values, not coroutines
        reader = cast(Flow, Flow.from_source(source=str(PROJECT_ROOT), entrypoint="flows/remote_read.py:read_files"))
        extra.append(
            cast(
                RunnerDeployment,
                reader.to_deployment(
                    name=DEPLOYMENT_NAME,
                    tags=["pathways"],
                    description="Reads and validates a group of files for a load.",
                ),
            )
        )
        env[DEPLOYMENT_ENV] = f"pathways-read/{DEPLOYMENT_NAME}"
    template = locked_job_template(env)
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=template))
        except ObjectAlreadyExists:
            client.update_work_pool(pool, WorkPoolUpdate(base_job_template=template))
    nightly, arrived = deployments(str(landing.resolve()), str(warehouse.resolve()), debounce_seconds, from_source=True)
    ids = cast(
        list[UUID],
        deploy(
            nightly,
            arrived,
            *extra,
            work_pool_name=pool,
            build=False,
            push=False,
            print_next_steps_message=False,
            ignore_warnings=True,
        ),
    )  # sync: not a coroutine
    return [str(i) for i in ids]


if __name__ == "__main__":  # the serving child process of `pathways serve`
    serve_here(sys.argv[1], sys.argv[2], int(sys.argv[3]))
