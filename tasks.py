#!/usr/bin/env python3
"""The two set-up commands of the README, for a fresh machine with only Python 3.11+.

    python3 tasks.py demo   # install, build the synthetic county, load it, open the dashboard
    python3 tasks.py test   # install (plus Debian's Chromium and PostgreSQL for tests), lint, run all tests
    python3 tasks.py lint   # only the linters and the type checker (ruff, mypy, sqlfluff)

Why a script and not a Makefile: a fresh machine is only promised Python. Everything
the project needs is installed from here, into `.venv/` beside this file, from the
pinned `requirements.lock` (resolved from the ranges in `pyproject.toml`). Installing is
skipped when the lock file has not changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
LOCK = ROOT / "requirements.lock"
NODEPS = ROOT / "requirements-nodeps.txt"  # pins installed without their declared dependencies
STAMP = VENV / ".installed-lock-sha256"
DEMO = ROOT / "data" / "demo"
IDP_PORT = 9400
# Runs in the venv: start the mock provider, write the demo configuration, wait.
DEMO_IDP = f"""
import pathlib, signal
from dashboard import demo_idp
folder = pathlib.Path({str(DEMO)!r})
proc = demo_idp.start({IDP_PORT}, log=folder / 'idp.log')
demo_idp.write_config(folder, {IDP_PORT}, 8501)
signal.signal(signal.SIGTERM, lambda *a: proc.terminate())  # the main wait() then returns
proc.wait()
"""


def run(*cmd: str | Path, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_venv() -> None:
    """Create .venv and install the locked dependencies plus this project (editable)."""
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = hashlib.sha256(LOCK.read_bytes() + NODEPS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-r", LOCK)
    run(PY, "-m", "pip", "install", "--quiet", "--no-deps", "-r", NODEPS)
    run(PY, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ROOT)
    STAMP.write_text(want)


def ensure_chromium() -> None:
    """Browser tests drive Debian's Chromium (Playwright cannot download its own here)."""
    if Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("Browser tests need /usr/bin/chromium: install Debian's 'chromium' package.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", "chromium", env=env)


def ensure_postgresql() -> None:
    """The scale-out test runs Prefect's server on Debian's PostgreSQL (started by the test)."""
    import glob

    if glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("The scale-out test needs PostgreSQL: install Debian's 'postgresql' package.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", "postgresql", env=env)


def demo(persons: str = "5000") -> None:
    ensure_venv()
    pathways = VENV / "bin" / "pathways"
    run(
        pathways,
        "generate",
        "--persons",
        persons,
        "--seed",
        "42",
        "--out",
        DEMO / "landing",
        "--fault-rate",
        "0.002",
        "--clean",
    )
    # exit code 3: published, with the planted faulty files refused (as they should be)
    load = [str(c) for c in (pathways, "load", "--landing", DEMO / "landing", "--warehouse", DEMO / "warehouse.duckdb")]
    print("+", " ".join(load), flush=True)
    if subprocess.run(load).returncode not in (0, 3):
        sys.exit("the demo load was not published")
    dashboard = ROOT / "dashboard" / "app.py"
    if dashboard.exists() and not os.environ.get("CI"):
        # A local mock identity provider with one demo user per role (never for production).
        config = DEMO / "dashboard.toml"
        config.unlink(missing_ok=True)  # written again once the provider answers
        idp = subprocess.Popen([PY, "-c", DEMO_IDP], cwd=ROOT)
        try:
            deadline = time.time() + 40
            while not config.exists() and idp.poll() is None and time.time() < deadline:
                time.sleep(0.3)
            if not config.exists():
                sys.exit("the demo identity provider did not start")
            print("Log in as one of the demo users (leder@…, radgiver.steinkjer@…, data@demo.trondelag.no).")
            run(pathways, "dashboard", "--warehouse", DEMO / "warehouse.duckdb", "--config", config)
        finally:
            idp.terminate()
            idp.wait(timeout=10)


def lint() -> None:
    """The code checks CI enforces, cheapest first, configured in pyproject.toml: ruff (lint and
    format), sqlfluff on the SQL models, mypy on the packages."""
    ensure_venv()
    bin_ = VENV / "bin"
    run(bin_ / "ruff", "check", "--no-cache", ".", cwd=ROOT)
    run(bin_ / "ruff", "format", "--check", "--no-cache", ".", cwd=ROOT)
    run(bin_ / "sqlfluff", "lint", "--processes", "2", "warehouse/models", cwd=ROOT)
    run(bin_ / "mypy", cwd=ROOT)


def test(*pytest_args: str) -> None:
    """The whole suite on every core (pytest-xdist, one test file per worker at a time: a
    file's tests share its fixtures, and each worker has its own Prefect test server and
    home). Much of the suite waits on real servers and subprocesses, so two workers on two
    cores roughly halve the time. Arguments are passed on to pytest."""
    ensure_venv()
    ensure_chromium()
    ensure_postgresql()
    checks = None
    if not pytest_args:
        # The whole suite: the code checks run beside it at low priority (much of the suite waits
        # on servers and browsers, so they cost little wall time); their output is shown at the
        # end and a failure fails the command. A run of chosen tests skips them.
        checks = subprocess.Popen(
            ["nice", "-n", "10", sys.executable, str(ROOT / "tasks.py"), "lint"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    workers = os.environ.get("PATHWAYS_TEST_WORKERS", str(max(2, os.cpu_count() or 2)))
    parallel = ["-n", workers, "--dist", "loadfile"] if workers != "1" else []
    try:
        run(PY, "-m", "pytest", *parallel, *pytest_args, cwd=ROOT)
    finally:
        if checks is not None:
            output, _ = checks.communicate()
            print("\n== code checks (python3 tasks.py lint)\n" + output, flush=True)
    if checks is not None and checks.returncode != 0:
        sys.exit(f"the code checks failed (exit {checks.returncode}): see above")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "lint"}:
        sys.exit(__doc__)
    try:
        {"demo": demo, "test": test, "lint": lint}[sys.argv[1]](*sys.argv[2:])
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode)
