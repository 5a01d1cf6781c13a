"""`pathways load` as data staff run it: exit codes, a record of every attempt, and
nothing left running afterwards (issue 10).

The command is run as a real subprocess; it starts Prefect's temporary server and the
read workers, so "nothing left running" is checked by looking for any process that
carries this test's PATHWAYS_HOME in its environment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import corpus
from tests import helpers as h
from tests.test_hostile_load import _age_everything

ROOT = Path(__file__).resolve().parent.parent


def _env(home: Path) -> dict:
    env = dict(os.environ, PATHWAYS_HOME=str(home), PYTHONPATH=str(ROOT), PATHWAYS_SETTLE_SECONDS="0")
    for key in (
        "PREFECT_HOME",
        "PREFECT_API_URL",
        "PATHWAYS_LOAD_CHILD",
        "PATHWAYS_LOAD_ID",
        "PATHWAYS_WAREHOUSE",
        "PATHWAYS_LANDING",
        "PATHWAYS_CONFIG",
    ):
        env.pop(key, None)
    return env


def _processes_with(marker: str) -> list[int]:
    """Processes whose environment holds `marker` (this test's PATHWAYS_HOME)."""
    found = []
    needle = f"PATHWAYS_HOME={marker}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _load(land: Path, warehouse: Path, home: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flows.cli",
        "load",
        "--landing",
        str(land),
        "--warehouse",
        str(warehouse),
        "--as-of",
        "2026-11-01",
    ]


def _runs(warehouse: Path) -> list[dict]:
    return [json.loads(line) for line in (warehouse.parent / "load_runs.jsonl").read_text().splitlines()]


def test_exit_codes_published_and_published_with_files_refused(tmp_path):
    land, warehouse, home = tmp_path / "landing", tmp_path / "wh" / "w.duckdb", tmp_path / "home"
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row()])
    # the first load takes its paths from pathways.toml (issue 12), quietly
    settings = tmp_path / "pathways.toml"
    settings.write_text('[paths]\nlanding = "landing"\nwarehouse = "wh/w.duckdb"\n')
    clean = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--config", str(settings), "--quiet", "load", "--as-of", "2026-11-01"],
        env=dict(_env(home), PATHWAYS_PROGRESS="always"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert warehouse.exists() and "Published" not in clean.stdout
    assert "read and validate files" not in clean.stderr  # --quiet: no progress bar, even when forced
    assert len(list((warehouse.parent / "builds").glob("w-*.duckdb"))) == 1  # kept for `pathways restore`
    corpus.CASE_BY_ID["combination_classes:one cell at XFD1048576 (calamine asks for 512 GB)"].build(land)
    os.symlink("/etc/passwd", land / "intro" / "intro_5001_20240201.csv")
    _age_everything(land)
    refused = subprocess.run(
        _load(land, warehouse, home),
        env=dict(_env(home), PATHWAYS_PROGRESS="always"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert refused.returncode == 3, refused.stderr[-2000:]
    # the progress bar (forced, as at a terminal) went through every step, on stderr only
    bar = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", refused.stderr)
    for step in (
        "start (imports, Prefect server)",
        "discover landing files",
        "stage rows",
        "build models",
        "audit (Great Expectations)",
        "publish",
    ):
        assert step in bar, step
    assert re.search(r"read and validate files\W+([1-9]\d*)/\1\b", bar), bar[-1500:]
    assert "━" not in refused.stdout
    assert "could not be read within 2 GB / 120 s" not in refused.stderr  # the reason is in the warehouse
    assert "Refused (see audit.file_log): kombinasjon_" in refused.stderr
    assert "intro/intro_5001_20240201.csv: symlink, refused" in refused.stderr
    assert [r["outcome"] for r in _runs(warehouse)] == ["published", "published_with_files_refused"]
    # a command that starts its own server imports GX while the server starts: it audits itself
    assert [r["audit_process"] for r in _runs(warehouse)] == [False, False]
    assert _processes_with(str(home)) == []  # no Prefect server, no read worker outlives the command


def test_a_killed_load_is_recorded_as_crashed_and_leaves_nothing_running(tmp_path):
    land, warehouse, home = tmp_path / "landing", tmp_path / "wh" / "w.duckdb", tmp_path / "home"
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row()])
    command = subprocess.Popen(
        _load(land, warehouse, home), env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline, server, child = time.monotonic() + 180, None, None
    while time.monotonic() < deadline and not (server and child):
        for pid in _processes_with(str(home)):
            line = _cmdline(pid)
            if "uvicorn" in line:
                server = pid
            elif "flows.cli" in line and pid != command.pid:
                child = pid
        time.sleep(0.2)
    assert server and child, "the load did not start its temporary Prefect server"
    os.kill(child, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    assert command.wait(timeout=60) == 1
    last = _runs(warehouse)[-1]
    assert last["outcome"] == "crashed" and "signal 9" in last["message"]
    assert _processes_with(str(home)) == []
    assert not warehouse.exists()


if __name__ == "__main__":
    pytest.main([__file__])
