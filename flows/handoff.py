"""A one-off `pathways load` of the county that `pathways serve` serves runs in serve.

Why: a one-off command pays for itself what a served run does not: starting Python,
importing Prefect, Polars, Pandera and Great Expectations, and (without a server) starting
Prefect's temporary server: 12–15 s of a one-file load that takes 5 s of work (issue 13's
profile). `pathways serve` keeps a process that imported all of it once (`flows.warm`), and
its runner polls for runs every second. So when serve runs for the same landing folder and
warehouse, the command creates a run of serve's `manual-load` deployment, prints the run's
log lines as they arrive, and ends with the run's outcome and the usual exit code. The run
shows in the same UI and waits behind a running load like every other run (one at a time).

The command talks to Prefect's REST API with the standard library: importing Prefect's
client alone costs 2 s, a third of such a command. Only documented endpoints are used
(`/deployments/name/…`, `/deployments/{id}/create_flow_run`, `/flow_runs/{id}`,
`/flow_runs/{id}/set_state`, `/logs/filter`, `/task_runs/filter`), with the same login as Prefect's client
(`PREFECT_API_AUTH_STRING` or `PREFECT_API_KEY`).

The outcome comes from the run's own line in `load_runs.jsonl` (found by its flow run id),
so the exit codes mean what they mean for a load run in the command's own process. Ctrl+C
(or SIGTERM) cancels the run. A serve that stops polling while the run waits to start gets
the run cancelled, so it cannot start unexpectedly hours later.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLOW = "pathways-load"
DEPLOYMENT = "manual-load"  # flows.deploy.MANUAL (not imported: that module imports Prefect)
# A serve polls every second; one that has not polled for this long is not serving any more.
STALE_AFTER_S = 90.0
LOST_SERVER_AFTER_S = 60.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# load_runs.jsonl outcome -> exit code of `pathways load` (flows.cli)
EXIT_CODES = {"published": 0, "published_with_files_refused": 3, "audit_failed": 2, "crashed": 1}

RETRY_STATUS = {408, 429, 502, 503}
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ApiError(RuntimeError):
    pass


@dataclass
class Api:
    """The few calls the hand-off needs, with the login Prefect's client would send."""

    url: str
    auth_string: str | None = None
    api_key: str | None = None

    def call(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        request = urllib.request.Request(
            f"{self.url.rstrip('/')}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        if self.auth_string:
            token = base64.b64encode(self.auth_string.encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        elif self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        for delay in (*RETRY_DELAYS_S, None):
            try:  # never through a proxy: the same rule as Prefect's client for a local server
                with _NO_PROXY.open(request, timeout=timeout) as response:
                    text = response.read()
                return json.loads(text) if text else None
            except urllib.error.HTTPError as err:
                # as Prefect's client: a busy server (its SQLite database locked) answers 503
                if err.code not in RETRY_STATUS or delay is None:
                    raise ApiError(f"{method} {path}: HTTP {err.code}") from None
            except (OSError, ValueError) as err:
                if delay is None:
                    raise ApiError(f"{method} {path}: {type(err).__name__}") from None
            time.sleep(delay)
        raise AssertionError("unreachable")


def configured_api() -> Api | None:
    """The Prefect API this command would use: PREFECT_API_URL, or a running `pathways
    serve` of this PATHWAYS_HOME (flows.local_server); None: neither (no serve to hand to)."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return Api(url, os.environ.get("PREFECT_API_AUTH_STRING"), os.environ.get("PREFECT_API_KEY"))
    from flows.local_server import running_serve

    record = running_serve()
    if record is None:
        return None
    return Api(record["api_url"], record.get("auth_string"))


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _polled_recently(deployment: dict) -> bool:
    polled = _parse_time(deployment.get("last_polled"))
    return polled is not None and (dt.datetime.now(dt.UTC) - polled).total_seconds() < STALE_AFTER_S


def serving_deployment(api: Api, landing: Path, warehouse: Path) -> dict | None:
    """Serve's `manual-load` deployment if it loads this landing folder into this
    warehouse and a serve polled it lately; else None (the command loads in its own process)."""
    try:
        deployment = api.call("GET", f"/deployments/name/{FLOW}/{DEPLOYMENT}", timeout=5)
    except ApiError:
        return None
    params = deployment.get("parameters") or {}
    same = params.get("landing") == str(landing.resolve()) and params.get("warehouse") == str(warehouse.resolve())
    return deployment if same and _polled_recently(deployment) else None


def parameters(as_of: dt.date | None, force: bool, files_per_task: int | None, keep_failed: int | None) -> dict:
    """The flow's parameters as the command was given them (landing and warehouse: the
    deployment's own, which are this command's)."""
    out: dict[str, Any] = {"force": force}
    if as_of is not None:
        out["as_of"] = as_of.isoformat()
    if files_per_task is not None:
        out["files_per_task"] = files_per_task
    if keep_failed is not None:
        out["keep_failed"] = keep_failed
    return out


@dataclass
class Outcome:
    exit_code: int
    record: dict | None
    state: str
    flow_run_id: str


class _Stop(Exception):
    pass


def run(
    api: Api,
    deployment: dict,
    params: dict,
    warehouse: Path,
    echo: Callable[[str], None],
    poll_s: float = 0.5,
) -> Outcome:
    """Create the run, print its log lines while it runs, and return its outcome."""
    flow_run = api.call(
        "POST",
        f"/deployments/{deployment['id']}/create_flow_run",
        # the same key on a retried request: one run, however often the call is repeated
        {"parameters": params, "tags": ["pathways", "command-line"], "idempotency_key": uuid.uuid4().hex},
    )
    run_id = flow_run["id"]
    if os.environ.get("PATHWAYS_QUIET") != "1":
        echo(f"Handed to `pathways serve` as flow run {flow_run['name']} ({run_id}); its log follows.")

    def stop(signum, _frame):
        raise _Stop(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    seen: set[str] = set()
    printed = 0
    state = (flow_run.get("state") or {}).get("type", "SCHEDULED")
    last_answer = time.monotonic()
    last_deployment_check = time.monotonic()
    waiting_said = False
    try:
        while True:
            try:
                current = api.call("GET", f"/flow_runs/{run_id}")
                last_answer = time.monotonic()
            except ApiError:
                if time.monotonic() - last_answer > LOST_SERVER_AFTER_S:
                    echo("The Prefect server stopped answering; the load may still run (see load_runs.jsonl).")
                    return Outcome(1, None, "UNKNOWN", run_id)
                time.sleep(1)
                continue
            state = (current.get("state") or {}).get("type") or "SCHEDULED"
            state_name = (current.get("state") or {}).get("name") or state
            printed = _print_logs(api, run_id, seen, printed, echo)
            if state in FINAL:
                break
            if state == "SCHEDULED" and state_name != "Scheduled" and not waiting_said:
                echo(f"Waiting for the load that is running to end ({state_name}): one load at a time.")
                waiting_said = True
            if state in ("SCHEDULED", "PENDING") and time.monotonic() - last_deployment_check > 5:
                last_deployment_check = time.monotonic()
                if not _still_served(api, deployment["id"]):
                    _cancel(api, run_id, "no `pathways serve` picks up runs any more")
                    echo("`pathways serve` stopped picking up runs; the run was cancelled. Nothing was loaded.")
                    return Outcome(1, None, "CANCELLED", run_id)
            time.sleep(poll_s)
    except (_Stop, KeyboardInterrupt):
        _cancel(api, run_id, "cancelled from the `pathways load` that started it")
        echo("Cancelling the load (Ctrl+C)…")
        state = _wait_final(api, run_id, 60.0)
        _print_logs(api, run_id, seen, printed, echo)
        record = _record(warehouse, run_id)  # a run that published before it stopped says so
        return Outcome(EXIT_CODES.get(record.get("outcome", ""), 1) if record else 1, record, state, run_id)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    time.sleep(0.3)  # the run's last log lines are sent just after its state
    _print_logs(api, run_id, seen, printed, echo)
    record = _record(warehouse, run_id)
    if record is None:
        return Outcome(1, None, state, run_id)
    return Outcome(EXIT_CODES.get(record.get("outcome", ""), 1), record, state, run_id)


def _print_logs(api: Api, run_id: str, seen: set[str], printed: int, echo: Callable[[str], None]) -> int:
    """Print the run's log lines not printed yet (the newest few hundred are asked for
    again each time: lines of one run may arrive slightly out of order)."""
    body = {
        "logs": {"flow_run_id": {"any_": [run_id]}},
        "sort": "TIMESTAMP_ASC",
        "offset": max(0, printed - 50),
        "limit": 200,
    }
    try:
        logs = api.call("POST", "/logs/filter", body) or []
    except ApiError:
        return printed
    quiet = os.environ.get("PATHWAYS_QUIET") == "1"  # --quiet: errors only, as in the command's own process
    names = _task_run_names(api, {log["task_run_id"] for log in logs if log.get("task_run_id")})
    for log in logs:
        if log.get("id") in seen:
            continue
        seen.add(log.get("id"))
        printed += 1
        if quiet and (log.get("level") or 0) < 40:
            continue
        at = (_parse_time(log.get("timestamp")) or dt.datetime.now(dt.UTC)).astimezone()
        level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(log.get("level"), "INFO")
        task = names.get(log.get("task_run_id") or "")
        where = f"Task run '{task}'" if task else "Flow run"
        echo(f"{at:%H:%M:%S}.{at.microsecond // 1000:03d} | {level:<7} | {where} - {log.get('message', '')}")
    return printed


_names: dict[str, str] = {}


def _task_run_names(api: Api, ids: set[str]) -> dict[str, str]:
    """Task run id -> name, as Prefect's own console lines show them (asked once per run)."""
    unknown = sorted(ids - _names.keys())
    if unknown:
        try:
            runs = api.call("POST", "/task_runs/filter", {"task_runs": {"id": {"any_": unknown}}, "limit": 200})
            _names.update({r["id"]: r["name"] for r in runs or []})
        except ApiError:
            pass
    return _names


def _still_served(api: Api, deployment_id: str) -> bool:
    try:
        return _polled_recently(api.call("GET", f"/deployments/{deployment_id}", timeout=5))
    except ApiError:
        return True  # the server's own trouble is handled by the caller


def _cancel(api: Api, run_id: str, why: str) -> None:
    """Cancel the run: at once if it has not started, else through the runner (which
    stops the run's process; the load records itself as crashed, nothing is published)."""
    try:
        current = api.call("GET", f"/flow_runs/{run_id}")
        started = (current.get("state") or {}).get("type") in ("RUNNING", "PENDING")
        state = {"type": "CANCELLING" if started else "CANCELLED", "message": why}
        api.call("POST", f"/flow_runs/{run_id}/set_state", {"state": state, "force": True})
    except ApiError:
        pass


def _wait_final(api: Api, run_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    state = "UNKNOWN"
    while time.monotonic() < deadline:
        try:
            state = (api.call("GET", f"/flow_runs/{run_id}").get("state") or {}).get("type") or state
        except ApiError:
            pass
        if state in FINAL:
            return state
        time.sleep(0.5)
    return state


def _record(warehouse: Path, run_id: str) -> dict | None:
    """The run's own line in load_runs.jsonl (the last, if it wrote more than one)."""
    runs = warehouse.resolve().parent / "load_runs.jsonl"
    found = None
    try:
        lines = runs.read_text("utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("flow_run_id") == run_id:
            found = record
    return found


def echo_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
