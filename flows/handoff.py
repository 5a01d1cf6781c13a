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

Only a serve on this machine, of this account and PATHWAYS_HOME, found through its
owner-only record (`flows.local_server`), is handed a load: a deployment of the same name
and paths served elsewhere (a shared Prefect server) would load another machine's files.

The outcome comes from the run's own line in `load_runs.jsonl` (found by its flow run id),
so the exit codes mean what they mean for a load run in the command's own process. Ctrl+C
(or SIGTERM) cancels the run. A serve that stops polling while the run waits to start gets
the run cancelled, so it cannot start unexpectedly hours later.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
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
# A serve that has not polled for this long (or five of its polls) is not serving any more.
STALE_AFTER_S = 90.0
LOST_SERVER_AFTER_S = 60.0
# After the run's last log line, how long a run whose serve stopped is given before the
# command stops waiting (its process may still be alive, or may have died with serve).
ORPHAN_QUIET_S = 60.0
FINAL_LINES_WAIT_S = 0.8
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# load_runs.jsonl outcome -> exit code of `pathways load` (flows.cli)
EXIT_CODES = {"published": 0, "published_with_files_refused": 3, "audit_failed": 2, "crashed": 1}
RETRY_STATUS = {408, 429, 502, 503}
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)
LOG_PAGE = 100  # below Prefect's default API limit (200): a lower configured limit is rare


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The login is never sent on to another address (urllib would copy it to any host)."""

    def redirect_request(self, *args, **kwargs):
        return None


# never through a proxy, as Prefect's client for a local server; never redirected
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


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
            try:
                with _OPENER.open(request, timeout=timeout) as response:
                    text = response.read()
                return json.loads(text) if text else None
            except urllib.error.HTTPError as err:
                # as Prefect's client: a busy server (its SQLite database locked) answers 503
                if err.code not in RETRY_STATUS or delay is None:
                    raise ApiError(f"{method} {path}: HTTP {err.code}") from None
            except (OSError, ValueError, http.client.HTTPException) as err:
                if delay is None:
                    raise ApiError(f"{method} {path}: {type(err).__name__}") from None
            time.sleep(delay)
        raise AssertionError("unreachable")


@dataclass
class Serve:
    """A `pathways serve` of this account on this machine that serves the command's county."""

    api: Api
    deployment: dict
    stale_after_s: float


def find_serve(landing: Path, warehouse: Path) -> Serve | None:
    """The running `pathways serve` of this PATHWAYS_HOME (its owner-only record, its
    process alive: flows.local_server) if it serves this landing folder and warehouse and
    its runner polled `manual-load` lately; else None (the command loads in its own process).

    Only a serve on this machine: a deployment of the same name and paths served on another
    machine (a shared Prefect server) would load that machine's files."""
    from flows.local_server import running_serve

    record = running_serve()
    if record is None:
        return None
    if record.get("landing") != str(landing.resolve()) or record.get("warehouse") != str(warehouse.resolve()):
        return None
    if record.get("own_server", True):
        api = Api(record["api_url"], record.get("auth_string"))
    else:  # serve runs against a configured server: the login is this command's own
        api = Api(record["api_url"], os.environ.get("PREFECT_API_AUTH_STRING"), os.environ.get("PREFECT_API_KEY"))
    stale_after = max(STALE_AFTER_S, 5 * float(record.get("poll_seconds") or 0))
    deployment = serving_deployment(api, landing, warehouse, stale_after)
    return Serve(api, deployment, stale_after) if deployment else None


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _polled_recently(deployment: dict, stale_after_s: float = STALE_AFTER_S) -> bool:
    polled = _parse_time(deployment.get("last_polled"))
    return polled is not None and (dt.datetime.now(dt.UTC) - polled).total_seconds() < stale_after_s


def serving_deployment(api: Api, landing: Path, warehouse: Path, stale_after_s: float = STALE_AFTER_S) -> dict | None:
    """Serve's `manual-load` deployment if it loads this landing folder into this
    warehouse and its runner polled it lately; else None."""
    try:
        deployment = api.call("GET", f"/deployments/name/{FLOW}/{DEPLOYMENT}", timeout=5)
    except ApiError:
        return None
    if not isinstance(deployment, dict):
        return None
    params = deployment.get("parameters") or {}
    same = params.get("landing") == str(landing.resolve()) and params.get("warehouse") == str(warehouse.resolve())
    return deployment if same and _polled_recently(deployment, stale_after_s) else None


def parameters(
    landing: Path,
    warehouse: Path,
    as_of: dt.date | None,
    force: bool,
    files_per_task: int | None,
    keep_failed: int | None,
) -> dict:
    """The flow's parameters as the command was given them. The paths are sent too (not
    left to the deployment's defaults), so the run loads exactly what the command names."""
    out: dict[str, Any] = {"landing": str(landing.resolve()), "warehouse": str(warehouse.resolve()), "force": force}
    if as_of is not None:
        out["as_of"] = as_of.isoformat()
    if files_per_task is not None:
        out["files_per_task"] = files_per_task
    if keep_failed is not None:
        out["keep_failed"] = keep_failed
    return out


@dataclass
class Outcome:
    record: dict | None  # the run's line in load_runs.jsonl (its outcome: EXIT_CODES)
    state: str  # the run's last state type seen (UNKNOWN: the server stopped answering)
    flow_run_id: str | None
    note: str = ""  # why the command stopped waiting, when it did not see the run end


class _Stop(Exception):
    pass


def run(serve: Serve, params: dict, warehouse: Path, echo: Callable[[str], None], poll_s: float = 0.5) -> Outcome:
    """Create the run, print its log lines while it runs, and return its outcome.

    Ctrl+C and SIGTERM are caught from before the run is created: a run is never left
    behind by a command that was stopped. A second Ctrl+C while cancelling is ignored."""
    api = serve.api
    body = {
        "parameters": params,
        "tags": ["pathways", "command-line"],
        # the same key on a repeated request: one run, however often the call is repeated
        "idempotency_key": uuid.uuid4().hex,
    }
    create = f"/deployments/{serve.deployment['id']}/create_flow_run"
    stopping: list[int] = []

    def stop(signum, _frame):
        if stopping:
            echo("Still cancelling the load; please wait.")
            return
        stopping.append(signum)
        raise _Stop(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    follower = _Follower(api, warehouse, echo)
    try:
        try:
            try:
                flow_run = api.call("POST", create, body)
            except ApiError:
                # a retried creation may have reached the server: the same key finds that run
                flow_run = api.call("POST", create, body)
            follower.run_id = flow_run["id"]
            sent = {k: (flow_run.get("parameters") or {}).get(k) for k in ("landing", "warehouse")}
            if sent != {k: params[k] for k in ("landing", "warehouse")}:
                _cancel(api, follower.run_id, "the run's paths are not the command's")
                raise ApiError("the run was created with other paths than the command's; it was cancelled")
            if os.environ.get("PATHWAYS_QUIET") != "1":
                echo(f"Handed to `pathways serve` as flow run {flow_run['name']} ({follower.run_id}); its log follows.")
            return follower.follow(serve, poll_s)
        except (_Stop, KeyboardInterrupt):
            if follower.run_id is None:
                try:  # stopped while the run was being created: the same key finds it, if it was
                    follower.run_id = api.call("POST", create, body)["id"]
                except ApiError:
                    return Outcome(None, "UNKNOWN", None, "stopped before `pathways serve` answered")
            echo("Cancelling the load…")
            _cancel(api, follower.run_id, "cancelled from the `pathways load` that started it")
            state = _wait_final(api, follower.run_id, 60.0)
            return follower.finish(state)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class _Follower:
    """Follows one run: its state, its log lines (printed once each), its outcome."""

    def __init__(self, api: Api, warehouse: Path, echo: Callable[[str], None]):
        self.api, self.warehouse, self.echo = api, warehouse, echo
        self.run_id: str | None = None
        self.seen: set[str] = set()
        self.newest: dt.datetime | None = None
        self.last_line_at = time.monotonic()
        self.finished_line = False  # the run's own "Finished in state …" line was printed
        self.names: dict[str, str] = {}

    def follow(self, serve: Serve, poll_s: float) -> Outcome:
        assert self.run_id is not None
        last_answer = last_check = time.monotonic()
        waiting_said = orphan_said = False
        state = "SCHEDULED"
        while True:
            try:
                current = self.api.call("GET", f"/flow_runs/{self.run_id}") or {}
                last_answer = time.monotonic()
            except ApiError:
                if time.monotonic() - last_answer > LOST_SERVER_AFTER_S:
                    return self._stopped_waiting("UNKNOWN", "the Prefect server stopped answering")
                time.sleep(1)
                continue
            state = (current.get("state") or {}).get("type") or "SCHEDULED"
            state_name = (current.get("state") or {}).get("name") or state
            self.print_logs()
            if state in FINAL:
                return self.finish(state)
            if state == "SCHEDULED" and state_name != "Scheduled" and not waiting_said:
                self.echo(f"Waiting for the load that is running to end ({state_name}): one load at a time.")
                waiting_said = True
            if time.monotonic() - last_check > 5:
                last_check = time.monotonic()
                if not _still_served(self.api, serve):
                    if state in ("SCHEDULED", "PENDING"):
                        _cancel(self.api, self.run_id, "no `pathways serve` picks up runs any more")
                        self.echo("`pathways serve` stopped picking up runs; the run was cancelled.")
                        return self.finish(_wait_final(self.api, self.run_id, 10.0))
                    if not orphan_said:
                        self.echo("`pathways serve` stopped while the load ran; waiting for the load's own end.")
                        orphan_said = True
                    if time.monotonic() - self.last_line_at > ORPHAN_QUIET_S:
                        return self._stopped_waiting(state, "`pathways serve` stopped and the run went quiet")
            time.sleep(poll_s)

    def finish(self, state: str) -> Outcome:
        """The run ended: its last log lines (sent just after its state: served runs send
        their lines every 0.5 s, flows.deploy), then its record. Not waited for longer: at a
        log level above INFO the run's "Finished" line never comes."""
        deadline = time.monotonic() + FINAL_LINES_WAIT_S
        while not self.finished_line and time.monotonic() < deadline:
            time.sleep(0.2)
            self.print_logs()
        return Outcome(_record(self.warehouse, self.run_id), state, self.run_id)

    def _stopped_waiting(self, state: str, why: str) -> Outcome:
        # it may have published just before
        return Outcome(_record(self.warehouse, self.run_id), state, self.run_id, why)

    def print_logs(self) -> None:
        """Print the run's log lines not printed yet. Lines of one run may reach the API
        slightly out of order: everything from 10 s before the newest line seen is asked
        for again, a page at a time, and each line is printed once."""
        after = (self.newest - dt.timedelta(seconds=10)) if self.newest else None
        logs: list[dict] = []
        while True:
            body: dict[str, Any] = {"logs": {"flow_run_id": {"any_": [self.run_id]}}}
            if after is not None:
                body["logs"]["timestamp"] = {"after_": after.isoformat()}
            body.update(sort="TIMESTAMP_ASC", offset=len(logs), limit=LOG_PAGE)
            try:
                page = self.api.call("POST", "/logs/filter", body) or []
            except ApiError:
                break
            logs += page
            if len(page) < LOG_PAGE:
                break
        quiet = os.environ.get("PATHWAYS_QUIET") == "1"  # --quiet: errors only, as in the command's own process
        new = [log for log in logs if str(log.get("id")) not in self.seen]
        self._learn_task_names({log["task_run_id"] for log in new if log.get("task_run_id")})
        for log in new:
            self.seen.add(str(log.get("id")))
            self.last_line_at = time.monotonic()
            at = _parse_time(log.get("timestamp")) or dt.datetime.now(dt.UTC)
            self.newest = max(self.newest or at, at)
            message = str(log.get("message", ""))
            task = self.names.get(log.get("task_run_id") or "")
            if not task and message.startswith("Finished in state"):
                self.finished_line = True
            number = int(log.get("level") or 20)
            if quiet and number < 40:
                continue
            level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(number, "INFO")
            where = f"Task run '{task}'" if task else "Flow run"
            local = at.astimezone()
            self.echo(f"{local:%H:%M:%S}.{local.microsecond // 1000:03d} | {level:<7} | {where} - {message}")

    def _learn_task_names(self, ids: set[str]) -> None:
        """Task run id -> name, as Prefect's own console lines show them (asked once per task run)."""
        unknown = sorted(ids - self.names.keys())
        if not unknown:
            return
        try:
            runs = self.api.call(
                "POST", "/task_runs/filter", {"task_runs": {"id": {"any_": unknown}}, "limit": LOG_PAGE}
            )
            self.names.update({r["id"]: r["name"] for r in runs or []})
        except ApiError:
            pass


def _still_served(api: Api, serve: Serve) -> bool:
    try:
        deployment = api.call("GET", f"/deployments/{serve.deployment['id']}", timeout=5)
    except ApiError:
        return True  # the server's own trouble is handled by the caller
    return isinstance(deployment, dict) and _polled_recently(deployment, serve.stale_after_s)


def _cancel(api: Api, run_id: str, why: str) -> None:
    """Cancel the run: at once if it has not started, else through the runner (which stops
    the run's process; the load records itself as crashed, nothing is published). Not
    forced: a run that has just ended keeps its state (the server refuses the change)."""
    try:
        current = api.call("GET", f"/flow_runs/{run_id}") or {}
        started = (current.get("state") or {}).get("type") in ("RUNNING", "PENDING")
        state = {"type": "CANCELLING" if started else "CANCELLED", "message": why}
        api.call("POST", f"/flow_runs/{run_id}/set_state", {"state": state, "force": False})
    except ApiError:
        pass


def _wait_final(api: Api, run_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    state = "UNKNOWN"
    while time.monotonic() < deadline:
        try:
            state = ((api.call("GET", f"/flow_runs/{run_id}") or {}).get("state") or {}).get("type") or state
        except ApiError:
            pass
        if state in FINAL:
            return state
        time.sleep(0.5)
    return state


def _record(warehouse: Path, run_id: str | None) -> dict | None:
    """The run's own line in load_runs.jsonl (the last, if it wrote more than one)."""
    if run_id is None:
        return None
    try:
        lines = (warehouse.resolve().parent / "load_runs.jsonl").read_text("utf-8").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(record, dict) and record.get("flow_run_id") == run_id:
            return record
    return None


def echo_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
