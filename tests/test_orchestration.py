"""Scheduled and event-driven loads against a real Prefect server started by `pathways serve`.

One server, one landing zone and one warehouse for the module: the deployments are
checked, then files are dropped into the landing zone as a source system would, and the
runs, the warehouse and the events are read back through Prefect's API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.slow

_HTTP = httpx.Client(timeout=10)  # gets the API login once the server is up


class _Receiver:
    """A real HTTP receiver on localhost (issue 15): what a Teams/Slack webhook would get."""

    def __init__(self):
        import http.server
        import threading

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's name for it
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(
                    {
                        "path": self.path,
                        "body": body.decode("utf-8", "replace"),
                        "type": self.headers.get("Content-Type"),
                    }
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def served(tmp_path_factory, county):
    root = tmp_path_factory.mktemp("served")
    landing, warehouse = root / "landing", root / "wh" / "warehouse.duckdb"
    landing.mkdir()
    receiver = _Receiver()
    port = free_port()
    env = dict(
        os.environ,
        PATHWAYS_HOME=str(root / "home"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS="2",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    for key in ("PREFECT_HOME", "PREFECT_API_URL"):
        env.pop(key, None)
    # paths, schedule and debounce from pathways.toml (issue 12), the port as a flag
    (root / "pathways.toml").write_text(
        """
[paths]
landing = "landing"
warehouse = "wh/warehouse.duckdb"
[schedule]
cron = "15 3 * * *"
timezone = "Europe/Oslo"
debounce_seconds = 4
[notifications]
webhook_url = "RECEIVER"
""".replace("RECEIVER", receiver.url)
    )
    env["PATHWAYS_CONFIG"] = str(root / "pathways.toml")
    log = open(root / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    auth_file = root / "home" / "prefect" / "api-auth-string"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            _HTTP.auth = tuple(auth_file.read_text().strip().split(":", 1))
            names = {d["name"] for d in _HTTP.post(f"{api}/deployments/filter", json={}, timeout=5).json()}
            # `serve` creates the file-arrival trigger's automation just after the deployments:
            # a file dropped before it exists would start no run
            automations = _HTTP.post(f"{api}/automations/filter", json={}, timeout=5).json()
            arrival = [a for a in automations if any(act.get("deployment_id") for act in a["actions"])]
            if {"nightly-load", "file-arrived"} <= names and arrival:
                break
        except (httpx.HTTPError, ValueError, TypeError, OSError):
            pass
        time.sleep(1)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        receiver.close()
        pytest.fail("pathways serve did not come up:\n" + (root / "serve.log").read_text()[-3000:])
    yield {
        "api": api,
        "landing": landing,
        "warehouse": warehouse,
        "county": county,
        "log": root / "serve.log",
        "auth": auth_file.read_text().strip(),
        "root": root,
        "port": port,
        "receiver": receiver,
    }
    os.killpg(proc.pid, signal.SIGTERM)
    try:  # how `serve` winds down is not what this module tests: 10 s, then the group is killed
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    receiver.close()


def _deployment(api: str, name: str) -> dict:
    return next(d for d in _HTTP.post(f"{api}/deployments/filter", json={}).json() if d["name"] == name)


def _runs(api: str, name: str) -> list[dict]:
    dep = _deployment(api, name)
    return _HTTP.post(f"{api}/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": [dep["id"]]}}}).json()


def _wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _finished(run: dict) -> bool:
    return run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def _files_logged(warehouse: Path) -> set[str]:
    if not warehouse.exists():
        return set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0] for r in con.execute("select file_name from audit.file_log").fetchall()}


def _drop(served, files: list[Path]) -> None:
    """Copy files in as a source would: written under a temporary name, then renamed."""
    for f in files:
        target = served["landing"] / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(f, partial)
        partial.rename(target)


def test_deployments_have_the_right_schedule_timezone_and_trigger(served):
    nightly = _deployment(served["api"], "nightly-load")
    (schedule,) = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "15 3 * * *"  # as configured in pathways.toml
    assert schedule["schedule"]["timezone"] == "Europe/Oslo"
    assert nightly["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    arrived = _deployment(served["api"], "file-arrived")
    automations = _HTTP.post(f"{served['api']}/automations/filter", json={}).json()
    trigger = next(
        a["trigger"] for a in automations if any(act.get("deployment_id") == arrived["id"] for act in a["actions"])
    )
    assert "pathways.file.arrived" in trigger["expect"]


def test_one_file_gives_one_run_that_loads_it_and_ten_files_give_one_run(served):
    county, api = served["county"], served["api"]
    first = sorted((county / "intro").glob("intro_5001_*.csv"))[:1]
    _drop(served, first)
    runs = _wait_for(lambda: [r for r in _runs(api, "file-arrived") if _finished(r)] or None, 180, "the first run")
    time.sleep(6)
    assert len(_runs(api, "file-arrived")) == 1
    assert runs[0]["state_type"] == "COMPLETED"
    assert first[0].name in _files_logged(served["warehouse"])
    # the served run was a fork of the process that imported the load once (flows.warm)
    record = json.loads((served["warehouse"].parent / "load_runs.jsonl").read_text().splitlines()[-1])
    assert record["outcome"].startswith("published") and record["warm_start"] is True

    ten = sorted((county / "intro").glob("intro_50[0-9][0-9]_*.csv"))[1:11]
    assert len(ten) == 10
    _drop(served, ten)
    _wait_for(
        lambda: len(_runs(api, "file-arrived")) >= 2 and all(_finished(r) for r in _runs(api, "file-arrived")),
        240,
        "the second run",
    )
    time.sleep(8)
    runs = _runs(api, "file-arrived")
    assert len(runs) == 2, [r["state_name"] for r in runs]
    assert {f.name for f in ten} <= _files_logged(served["warehouse"])


def test_new_dropouts_are_announced_without_the_person(served):
    page = _HTTP.post(
        f"{served['api']}/events/filter", json={"filter": {"event": {"name": ["pathways.dropout"]}}, "limit": 50}
    ).json()
    assert "events" in page, page
    events = page["events"]
    assert events, "the second batch brought drop-outs"
    text = json.dumps(events)
    assert not re.search(r"[0-9a-f]{64}", text), "no person key in any drop-out event"
    payload = events[0]["payload"]
    assert {"stage", "municipality_code", "school_orgnr"} <= set(payload)
    assert "person" not in text


def _new_on_the_list(warehouse: Path) -> dict[str, list[int]]:
    """Municipality name -> [new drop-outs, new past the thresholds], from the two kept
    builds' follow-up lists (the second load against the first), computed here."""
    from warehouse.publish import kept_builds

    first, second = kept_builds(warehouse)[:2]
    key = "person_id, reason, stage, source, event_date"
    with duckdb.connect(str(second.path), read_only=True) as con:
        con.execute(f"attach '{first.path}' as before (read_only)")
        rows = con.execute(f"""
            select municipality_name, reason = 'dropped_out', count(*) from marts.follow_up
            where ({key}) not in (select ({key}) from before.marts.follow_up)
            group by all""").fetchall()
    out: dict[str, list[int]] = {}
    for name, dropout, n in rows:
        out.setdefault(name, [0, 0])[0 if dropout else 1] += n
    return out


def test_a_load_with_new_dropouts_sends_exactly_one_notification_with_counts_and_no_person(served):
    """Issue 15, end to end: the second load (ten intro files) brought new drop-outs; the
    automation posted one notification through the webhook block to the receiver, with
    the counts per municipality (computed here from the two builds), the link to the
    follow-up list, and no pseudonym or national id. The first load announced nothing."""
    receiver = served["receiver"]
    _wait_for(lambda: receiver.received, 60, "the notification")
    time.sleep(3)  # nothing else on its way
    assert len(receiver.received) == 1, [r["body"][:200] for r in receiver.received]
    body = json.loads(receiver.received[0]["body"])
    text = body["text"]
    expected = _new_on_the_list(served["warehouse"])
    dropouts = sum(d for d, _ in expected.values())
    crossed = sum(x for _, x in expected.values())
    assert dropouts > 0, "the second batch brought drop-outs with no next step"
    # counts of 1–4 are never numbers in a notification, and then no total gives them back
    small = any(0 < n < 5 for pair in [*expected.values(), (dropouts, crossed)] for n in pair)
    if small:
        assert text.startswith("Oppfølging: nye frafall eller nye personer over oppfølgingsfristen")
    else:
        assert text.startswith(f"Oppfølging: {dropouts} nye frafall og {crossed} nye personer over")

    def shown(n):
        return "færre enn 5" if n < 5 else str(n)

    for name, (d, x) in expected.items():
        parts = ([f"{shown(d)} nye frafall"] if d else []) + ([f"{shown(x)} nye over fristen"] if x else [])
        assert f"- {name}: {', '.join(parts)}" in text, (name, text)
    assert not re.search(r"(?<![\d.])[1-4] nye", text), "no count of 1–4 as a number"
    assert "/oppfolging" in text
    assert not re.search(r"[0-9a-f]{64}", receiver.received[0]["body"]), "no pseudonym in the notification"
    assert not re.search(r"\d{11}", receiver.received[0]["body"]), "no national id"
    events = _HTTP.post(
        f"{served['api']}/events/filter", json={"filter": {"event": {"name": ["pathways.follow_up.new"]}}, "limit": 50}
    ).json()
    assert len(events["events"]) == 1 and not re.search(r"[0-9a-f]{64}", json.dumps(events["events"][0]["payload"]))


def test_a_second_run_waits_for_the_first_and_says_so(served):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: served["api"], PREFECT_API_AUTH_STRING: served["auth"]}):
        a = run_deployment("pathways-load/nightly-load", timeout=0)
        b = run_deployment("pathways-load/nightly-load", timeout=0)
    states: set[str] = set()

    def both_done():
        runs = {r["id"]: r for r in _runs(served["api"], "nightly-load")}
        for r in runs.values():
            states.add(r["state_name"])
        return all(_finished(runs[str(x.id)]) for x in (a, b)) and runs

    runs = _wait_for(both_done, 300, "both nightly runs")
    first, second = sorted((runs[str(a.id)], runs[str(b.id)]), key=lambda r: r["start_time"])
    assert first["state_type"] == second["state_type"] == "COMPLETED"
    assert second["start_time"] >= first["end_time"], "the runs overlapped"
    assert "AwaitingConcurrencySlot" in states


def test_the_api_asks_for_the_login_and_answers_only_its_own_origin(served):
    api, port = served["api"], served["port"]
    assert httpx.post(f"{api}/deployments/filter", json={}).status_code == 401
    assert httpx.post(f"{api}/deployments/filter", json={}, auth=("pathways", "wrong")).status_code == 401
    assert httpx.post(f"{api}/flow_runs/", json={}).status_code == 401  # nobody starts a run without it
    assert httpx.get(f"{api}/health").status_code == 200  # health probes stay open
    assert _HTTP.post(f"{api}/deployments/filter", json={}).status_code == 200
    assert stat_mode(served["root"] / "home" / "prefect" / "api-auth-string") == 0o600
    for origin, allowed in (("http://evil.example", False), (f"http://127.0.0.1:{port}", True)):
        pre = httpx.options(
            f"{api}/deployments/filter",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert (pre.headers.get("access-control-allow-origin") == origin) is allowed, (origin, pre.headers)
        assert pre.headers.get("access-control-allow-origin") != "*"


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_run_that_points_outside_the_roots_is_refused(served, tmp_path):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    foreign = tmp_path / "foreign" / "warehouse.duckdb"
    with temporary_settings({PREFECT_API_URL: served["api"], PREFECT_API_AUTH_STRING: served["auth"]}):
        bad_wh = run_deployment("pathways-load/nightly-load", timeout=0, parameters={"warehouse": str(foreign)})
        bad_landing = run_deployment("pathways-load/nightly-load", timeout=0, parameters={"landing": str(tmp_path)})
    for run in (bad_wh, bad_landing):
        final = _wait_for(
            lambda run=run: (lambda r: r if _finished(r) else None)(
                _HTTP.get(f"{served['api']}/flow_runs/{run.id}").json()
            ),
            240,
            "the refused run",
        )
        assert final["state_type"] == "FAILED", final["state_name"]
        assert "outside the configured" in final["state"]["message"], final["state"]["message"]
    assert not foreign.parent.exists(), "nothing was written outside the warehouse root"


def test_a_number_in_a_dropped_file_reaches_no_prefect_record(served):
    """A file named with a national id, and holding others, dropped into the served landing
    zone: the watcher's event, the task run names, Prefect's database and the logs hold the
    masked name only, and no number."""
    import datetime as dt
    import random

    from synthetic.model import national_id
    from tests import helpers as h

    rng = random.Random(77)
    in_name, in_field = national_id(rng, dt.date(1993, 4, 12)), national_id(rng, dt.date(1961, 2, 3))
    staging = served["root"] / "staging"
    path = h.write_intro(
        staging,
        f"intro_5001_{in_name}.csv",
        [h.intro_row(), h.intro_row(h.PID_B, event="avbrutt", detail=f"fnr{in_field}")],
    )
    before = len(_runs(served["api"], "file-arrived"))
    _drop(served, [path])
    masked = f"intro_5001_{'*' * 11}.csv"
    _wait_for(lambda: masked in _files_logged(served["warehouse"]), 240, "the file to be logged")
    _wait_for(
        lambda: (
            all(_finished(r) for r in _runs(served["api"], "file-arrived"))
            and len(_runs(served["api"], "file-arrived")) > before
        ),
        120,
        "the run to finish",
    )
    time.sleep(3)
    events = _HTTP.post(
        f"{served['api']}/events/filter", json={"filter": {"event": {"name": ["pathways.file.arrived"]}}, "limit": 50}
    ).json()
    assert any(masked in json.dumps(e) for e in events["events"])
    task_runs = _HTTP.post(f"{served['api']}/task_runs/filter", json={}).json()
    assert any(masked in t["name"] for t in task_runs)
    forms = [in_name, in_field, f"{in_name[:6]} {in_name[6:]}"]
    api_text = (
        json.dumps(events)
        + json.dumps(task_runs)
        + json.dumps(_HTTP.post(f"{served['api']}/logs/filter", json={"limit": 200}).json())
    )
    leaks = [f for f in forms if f in api_text]
    for file in [*(served["root"] / "home").rglob("*"), *served["warehouse"].parent.rglob("*"), served["log"]]:
        if file.is_file():
            data = file.read_bytes()
            leaks += [f"{file}: {f}" for f in forms if f.encode() in data]
    assert leaks == []


def test_a_manual_load_runs_against_the_served_server_and_shows_in_its_ui(served, tmp_path):
    """`pathways load` from the same PATHWAYS_HOME as a running `pathways serve` uses that
    server (found through serve.json, with its login) instead of starting a temporary one,
    so data staff see the manual run beside the scheduled ones."""
    from tests import helpers as h

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    h.write_intro(landing, "intro_5001_20260301.csv", [h.intro_row()])
    record = served["root"] / "home" / "serve.json"
    assert record.exists() and oct(record.stat().st_mode & 0o777) == "0o600"

    def manual_runs() -> list[dict]:
        runs = _HTTP.post(f"{served['api']}/flow_runs/filter", json={}).json()
        return [r for r in runs if r["deployment_id"] is None]

    before = {r["id"] for r in manual_runs()}
    env = dict(os.environ, PATHWAYS_HOME=str(served["root"] / "home"))
    for key in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING"):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "load", "--landing", str(landing), "--warehouse", str(warehouse)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    new = [r for r in manual_runs() if r["id"] not in before]
    assert len(new) == 1 and new[0]["state_type"] == "COMPLETED", new
    assert served["auth"] not in proc.stdout + proc.stderr
    record = json.loads((warehouse.parent / "load_runs.jsonl").read_text().splitlines()[-1])
    assert record["warm_start"] is False  # a one-off command imports for itself
    assert record["audit_process"] is True  # ... and audits new files in a process that imported GX meanwhile


def test_data_staff_change_the_webhook_from_the_command_line(served):
    """`pathways alerts --webhook-url URL --test` against the running serve (found through
    serve.json): the block now posts to the new address, and the test message arrives."""
    other = _Receiver()
    env = dict(
        os.environ, PATHWAYS_HOME=str(served["root"] / "home"), PATHWAYS_CONFIG=str(served["root"] / "pathways.toml")
    )
    for key in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING"):
        env.pop(key, None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "flows.cli", "alerts", "--webhook-url", other.url, "--test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        _wait_for(lambda: other.received, 30, "the test message")
        assert json.loads(other.received[0]["body"])["text"].startswith("Test fra Kvalifiseringsløp")
        automations = _HTTP.post(f"{served['api']}/automations/filter", json={}).json()
        assert [a["name"] for a in automations].count("pathways-follow-up-alert") == 1
    finally:
        other.close()


def _load_command(served) -> tuple[list[str], dict]:
    """`pathways load` of the served county, as data staff type it beside a running serve
    (paths from the same pathways.toml, the same PATHWAYS_HOME, no Prefect variables)."""
    env = dict(
        os.environ, PATHWAYS_HOME=str(served["root"] / "home"), PATHWAYS_CONFIG=str(served["root"] / "pathways.toml")
    )
    for key in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING"):
        env.pop(key, None)
    return [sys.executable, "-m", "flows.cli", "load"], env


def _serve_polls_manual_load(served) -> None:
    """serve's runner has polled `manual-load` (until then a load runs in its own process)."""
    from flows import handoff

    api = handoff.Api(served["api"], served["auth"])
    _wait_for(lambda: handoff.serving_deployment(api, served["landing"], served["warehouse"]), 60, "the first poll")


def _all_runs_finished(served) -> bool:
    """No run is running or due (the nightly schedule's runs for the coming days are not)."""
    import datetime as dt

    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    runs = _HTTP.post(f"{served['api']}/flow_runs/filter", json={}).json()
    return all(
        _finished(r) or dt.datetime.fromisoformat(r["expected_start_time"].replace("Z", "+00:00")) > soon for r in runs
    )


def _record_of(served, run_id: str) -> dict | None:
    lines = (served["warehouse"].parent / "load_runs.jsonl").read_text().splitlines()
    return next((json.loads(x) for x in reversed(lines) if json.loads(x).get("flow_run_id") == run_id), None)


def test_a_load_of_the_served_county_is_handed_to_serve_and_ends_with_its_outcome(served):
    """Issue 13: `pathways load` of the landing folder and warehouse that `pathways serve`
    serves runs in serve (its `manual-load` deployment, started warm) instead of paying for
    its own start; the command prints the run's log and exits with the run's outcome. A
    symbolic link in the landing zone is refused on every load, so the outcome here is
    known: published with files refused, exit code 3."""
    api = served["api"]
    _wait_for(lambda: _all_runs_finished(served), 300, "no load running")
    _serve_polls_manual_load(served)
    before = {r["id"] for r in _runs(api, "manual-load")}
    link = served["landing"] / "intro" / "intro_5001_20250101.csv"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(next((served["county"] / "intro").glob("*.csv")))
    command, env = _load_command(served)
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    finally:
        _wait_for(lambda: _all_runs_finished(served), 300, "the runs the link may have triggered")
        link.unlink()
    new = [r for r in _runs(api, "manual-load") if r["id"] not in before]
    assert len(new) == 1 and new[0]["state_type"] == "COMPLETED", proc.stderr[-2000:]
    record = _record_of(served, new[0]["id"])
    assert record is not None, "the served run recorded itself with its flow run id"
    assert record["warm_start"] is True, "a fork of the process that imported the load once"
    assert record["outcome"] == "published_with_files_refused"
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "Handed to `pathways serve`" in proc.stderr
    assert f"# Load {record['load_id']}" in proc.stderr, "the run's own log, printed by the command"
    assert "symlink" in proc.stderr
    assert f"{record['persons']} persons" in proc.stdout and "Published" in proc.stdout
    assert served["auth"] not in proc.stdout + proc.stderr


def test_ctrl_c_cancels_the_load_handed_to_serve_and_nothing_is_published(served):
    """The run waits for the warehouse lock (held here, as a running load would); Ctrl+C
    on the command cancels it in serve: exit 1, the run cancelled, the warehouse untouched."""
    import fcntl

    api, published = served["api"], served["warehouse"]
    _wait_for(lambda: _all_runs_finished(served), 300, "no load running")
    _serve_polls_manual_load(served)
    before = {r["id"] for r in _runs(api, "manual-load")}
    published_at = published.stat().st_mtime_ns
    command, env = _load_command(served)
    with open(published.with_name(published.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            run = _wait_for(
                lambda: next(
                    (r for r in _runs(api, "manual-load") if r["id"] not in before and r["state_type"] == "RUNNING"),
                    None,
                ),
                120,
                "the handed-over run to start",
            )
            time.sleep(2)  # in the lock's wait
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 1, err[-2000:]
    final = _wait_for(
        lambda: next((r for r in _runs(api, "manual-load") if r["id"] == run["id"] and _finished(r)), None),
        120,
        "the run to end",
    )
    assert final["state_type"] == "CANCELLED"
    assert "another load of warehouse.duckdb is running" in err, "the run's log reached the command"
    assert "CANCELLED" in err and "nothing was published" in err
    assert published.stat().st_mtime_ns == published_at
    assert _record_of(served, run["id"])["outcome"] == "crashed"


def test_a_load_of_another_warehouse_is_not_handed_over_nor_is_a_serve_that_stopped_polling(served, tmp_path):
    """Only serve's own county is handed over, and only while serve polls for runs."""
    import datetime as dt

    from flows import handoff

    api = handoff.Api(served["api"], served["auth"])
    record = json.loads((served["root"] / "home" / "serve.json").read_text())
    assert record["landing"] == str(served["landing"].resolve()) and record["own_server"] is True
    assert handoff.serving_deployment(api, served["landing"], served["warehouse"]) is not None
    assert handoff.serving_deployment(api, tmp_path, served["warehouse"]) is None
    assert handoff.serving_deployment(api, served["landing"], tmp_path / "warehouse.duckdb") is None
    assert (
        handoff.serving_deployment(handoff.Api(served["api"], "wrong:login"), served["landing"], served["warehouse"])
        is None
    )
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=handoff.STALE_AFTER_S + 5)).isoformat()
    assert not handoff._polled_recently({"last_polled": long_ago})
    assert not handoff._polled_recently({"last_polled": None})
