"""The scale-out path, real and small: Prefect's server on PostgreSQL (Debian's package,
started and stopped here), a process work pool, two workers, the deployments registered
with `pathways deploy --spread-reading`, and loads that run on the workers, have their
files read by several runs on the pool, and publish.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres`
account that Debian's package creates (`runuser`); as anyone else, to that user.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found[-1]:
        pytest.fail(f"PostgreSQL's {name} is not installed (python3 tasks.py test installs Debian's postgresql)")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres():
    folder = Path(tempfile.mkdtemp(prefix="pathways-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                _pg_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "pg.log"),
                "-w",
                "-o",
                f"-p {port} -k {folder} -h 127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            _as_postgres(
                [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", "create database prefect"]
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


def _wait(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def pool(postgres, tmp_path_factory):
    """A Prefect server on PostgreSQL, the deployments on a process pool, two workers."""
    root = tmp_path_factory.mktemp("scale-out")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(
        os.environ,
        PATHWAYS_HOME=str(root / "home"),
        PREFECT_HOME=str(root / "home" / "prefect"),
        PREFECT_API_DATABASE_CONNECTION_URL=postgres,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS="2",
    )
    env.pop("PREFECT_API_URL", None)
    procs = []
    logs = root / "logs"
    logs.mkdir()

    def start(name: str, cmd: list[str], extra: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd,
            env={**env, **(extra or {})},
            stdout=open(logs / f"{name}.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=root,
        )
        procs.append(proc)
        return proc

    try:
        start(
            "server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        )
        _wait(lambda: _healthy(api), 120, "the Prefect server on PostgreSQL")
        client_env = dict(env, PREFECT_API_URL=api)
        landing, warehouse = root / "landing", root / "wh" / "warehouse.duckdb"
        landing.mkdir()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "flows.cli",
                "deploy",
                "--pool",
                "pathways",
                "--landing",
                str(landing),
                "--warehouse",
                str(warehouse),
                "--spread-reading",
            ],
            env=client_env,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=root,
        )
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        for name in ("worker-1", "worker-2"):
            start(
                name,
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "pathways", "--name", name],
                {"PREFECT_API_URL": api},
            )
        _wait(lambda: len(_post(api, "/work_pools/pathways/workers/filter", {})) >= 2, 120, "two workers")
        yield {"api": api, "landing": landing, "warehouse": warehouse, "logs": logs, "env": client_env}
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _post(api: str, path: str, body: dict):
    return httpx.post(f"{api}{path}", json=body, timeout=10).json()


def test_the_server_keeps_its_state_in_postgresql(pool, postgres):
    """Not SQLite: the deployments are rows in PostgreSQL's database."""
    port = postgres.rsplit(":", 1)[1].split("/")[0]
    out = subprocess.run(
        _as_postgres(
            [
                _pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                port,
                "-U",
                "postgres",
                "-d",
                "prefect",
                "-Atc",
                "select name from deployment order by name",
            ]
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["file-arrived", "nightly-load", "read-files"]


def test_deployments_are_on_the_pool_with_schedule_limit_and_roots(pool):
    deps = {d["name"]: d for d in _post(pool["api"], "/deployments/filter", {})}
    assert set(deps) == {"nightly-load", "file-arrived", "read-files"}
    assert all(d["work_pool_name"] == "pathways" for d in deps.values())
    for name in ("nightly-load", "file-arrived"):  # loads one at a time, reading spread over the pool
        assert deps[name]["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert deps["read-files"]["concurrency_options"] is None  # groups of one load read at once
    # the roots, the command and the working folder are fixed in the pool's template
    template = httpx.get(f"{pool['api']}/work_pools/pathways", timeout=10).json()["base_job_template"]
    env = template["job_configuration"]["env"]
    assert env["PATHWAYS_LANDING_ROOT"] == str(pool["landing"].resolve())
    assert env["PATHWAYS_WAREHOUSE_ROOT"] == str(pool["warehouse"].resolve().parent)
    assert env["PATHWAYS_READ_DEPLOYMENT"] == "pathways-read/read-files"
    assert template["job_configuration"]["command"] is None
    assert not {"env", "command", "working_dir"} & set(template["variables"]["properties"])
    [schedule] = deps["nightly-load"]["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *" and schedule["schedule"]["timezone"] == "Europe/Oslo"


def test_loads_run_on_the_workers_one_at_a_time_and_publish(pool):
    """Two runs asked for at once: both run on the pool's workers, never together (the
    deployment's limit of one), and the second finds the first's files already loaded."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests import helpers as h

    h.write_intro(pool["landing"], "intro_5001_20260301.csv", [h.intro_row(), h.intro_row(h.PID_B, date="20.03.2023")])
    h.write_intro(
        pool["landing"],
        "intro_5001_20260401.csv",
        [h.intro_row(h.PID_B, event="startet", date="02.04.2023"), "not;a;valid;row"],
    )
    with temporary_settings({PREFECT_API_URL: pool["api"]}):
        runs = [run_deployment("pathways-load/nightly-load", timeout=0) for _ in range(2)]
    finals = []
    for run in runs:
        finals.append(
            _wait(
                lambda run=run: (lambda r: r if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED") else None)(
                    httpx.get(f"{pool['api']}/flow_runs/{run.id}", timeout=10).json()
                ),
                420,
                "a run on a worker",
            )
        )
    logs = "".join((pool["logs"] / f"worker-{i}.log").read_text() for i in (1, 2))
    assert all(f["state_type"] == "COMPLETED" for f in finals), [f["state"]["message"] for f in finals] + [logs[-3000:]]
    assert all(f["work_pool_name"] == "pathways" for f in finals)
    spans = sorted((f["start_time"], f["end_time"]) for f in finals)
    assert spans[0][1] <= spans[1][0], "the two loads overlapped"
    with duckdb.connect(str(pool["warehouse"]), read_only=True) as con:
        assert con.execute("select count(*) from core.person").fetchone()[0] == 2
        assert con.execute("select count(*) from meta.build").fetchone()[0] == 2
        logged = dict(
            con.execute("select file_name, rows_loaded || '/' || rows_quarantined from audit.file_log").fetchall()
        )
    assert logged == {"intro_5001_20260301.csv": "2/0", "intro_5001_20260401.csv": "1/1"}
    records = [json.loads(line) for line in (pool["warehouse"].parent / "load_runs.jsonl").read_text().splitlines()]
    assert [r["files_new"] for r in records] == [2, 0]
    # the first load's two files were read by two runs of read-files on the pool, as its subflows
    reads = [
        r
        for r in _post(pool["api"], "/flow_runs/filter", {})
        if r["name"] and r["deployment_id"] and r["parameters"].get("spool_dir")
    ]
    assert len(reads) == 2 and all(r["state_type"] == "COMPLETED" and r["parent_task_run_id"] for r in reads), [
        (r["state_type"], r["parent_task_run_id"]) for r in reads
    ]
    # no file name reaches Prefect's database: the names travel in the spool's manifest
    assert all(set(r["parameters"]) == {"landing", "warehouse", "spool_dir"} for r in reads)
    assert "intro_5001" not in json.dumps([r["parameters"] for r in reads])
    assert not (pool["warehouse"].parent / "spool").exists() or not any((pool["warehouse"].parent / "spool").iterdir())


def test_the_spool_gives_back_exactly_what_was_read(tmp_path):
    """Rows (types included), quarantined rows' reasons and dates in the file's metadata."""
    from flows import spool
    from flows.landing import scan
    from flows.pipeline import read_file
    from tests import helpers as h

    h.write_intro(tmp_path / "landing", "intro_5001_20260301.csv", [h.intro_row(), "not;a;valid;row"])
    [file] = scan(tmp_path / "landing", settle_seconds=0).files
    original = read_file(file)
    spool.write_one(tmp_path / "spool", 0, original, None)
    back, transient = spool.read_one(tmp_path / "spool", 0)
    assert transient is None and back.rows.equals(original.rows) and back.rows.schema == original.rows.schema
    assert back.quarantine == original.quarantine and back.quarantine
    assert back.meta == original.meta and back.status == original.status and back.rows_read == original.rows_read
    spool.write_one(tmp_path / "spool", 1, None, "PermissionError")
    assert spool.read_one(tmp_path / "spool", 1) == (None, "PermissionError")
    assert spool.read_one(tmp_path / "spool", 2) == (None, "NotSpooled")


def test_groups_balance_bytes_and_keep_every_file():
    from flows.landing import LandingFile
    from flows.remote_read import groups

    files = [
        LandingFile("intro", Path(f"/l/intro/{i}.csv"), str(i), size)
        for i, size in enumerate([900, 100, 500, 400, 300, 300])
    ]
    parts = groups(files, 2)
    assert sorted(f.sha256 for p in parts for f in p) == sorted(f.sha256 for f in files)
    assert sorted(sum(f.size for f in p) for p in parts) == [1200, 1300]
    assert len(groups(files[:1], 4)) == 1


def test_a_run_cannot_widen_its_roots_through_job_variables(pool, tmp_path):
    """Review finding: Prefect merges a run's job variables over the deployment's. A run
    asking for roots at `/` and a landing folder elsewhere still gets the pool's roots,
    and is refused before it reads or writes anything."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with temporary_settings({PREFECT_API_URL: pool["api"]}):
        run = run_deployment(
            "pathways-load/nightly-load",
            timeout=0,
            parameters={"landing": str(foreign)},
            job_variables={
                "env": {"PATHWAYS_LANDING_ROOT": "/", "PATHWAYS_WAREHOUSE_ROOT": "/"},
                "command": "touch /tmp/pathways-pwned",
            },
        )
    final = _wait(
        lambda: (lambda r: r if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED") else None)(
            httpx.get(f"{pool['api']}/flow_runs/{run.id}", timeout=10).json()
        ),
        300,
        "the widened run",
    )
    assert final["state_type"] == "FAILED" and "outside the configured" in final["state"]["message"], final["state"]
    assert not Path("/tmp/pathways-pwned").exists()
