"""Kept builds and `pathways restore` (issue 12): the last N published warehouses are kept,
one is put back atomically, an unknown id is refused and changes nothing."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from flows.pipeline import load_without_prefect
from tests import helpers as h
from warehouse.publish import RestoreError, kept_builds, restore

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build_id(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select build_id from meta.build order by finished_at desc limit 1").fetchone()[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Three published builds, each with one more intro file; two kept (keep_builds = 2)."""
    root = tmp_path_factory.mktemp("restore")
    land, warehouse = root / "landing", root / "wh" / "warehouse.duckdb"
    ids = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATHWAYS_KEEP_BUILDS", "2")
        for i, pid in enumerate((h.PID_A, h.PID_B, h.PID_C)):
            h.write_intro(land, f"intro_5001_2024010{i + 1}.csv", [h.intro_row(pid)])
            ids.append(load_without_prefect(str(land), str(warehouse), AS_OF, audit=False).load_id)
    return root, ids


@pytest.fixture()
def three_builds(template, tmp_path, monkeypatch):
    """A copy of the template for one test (`cp -a` keeps the hard links between builds/
    and the published file, as a publish leaves them)."""
    root, ids = template
    subprocess.run(["cp", "-a", f"{root}/.", str(tmp_path)], check=True)
    monkeypatch.setenv("PATHWAYS_KEEP_BUILDS", "2")
    return tmp_path / "wh" / "warehouse.duckdb", ids


def test_the_newest_builds_are_kept_and_one_is_restored_atomically(three_builds):
    warehouse, ids = three_builds
    kept = kept_builds(warehouse)
    assert [b.build_id for b in kept] == ids[1:]  # the oldest pruned: keep_builds = 2
    assert os.path.samefile(kept[-1].path, warehouse)  # the published build costs no copy
    published_before = _sha(warehouse)

    build = restore(warehouse, ids[1])
    assert build.build_id == ids[1] and _build_id(warehouse) == ids[1]
    assert _sha(warehouse) == _sha(kept[0].path) != published_before
    assert not os.path.samefile(kept[0].path, warehouse)  # a copy: the kept build stays as it was
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(distinct person_id) from core.person").fetchone() == (2,)
    last = json.loads((warehouse.parent / "load_runs.jsonl").read_text().splitlines()[-1])
    assert last["outcome"] == "restored" and last["build_id"] == ids[1]
    assert not [p for p in warehouse.parent.iterdir() if ".restore-" in p.name]  # no temporary left behind
    # the next load loads what the restored build had not seen, and publishes
    summary = load_without_prefect(str(warehouse.parent.parent / "landing"), str(warehouse), AS_OF, audit=False)
    assert summary.published and summary.counts.files_loaded == 1


def test_an_unknown_build_or_a_running_load_is_refused_and_nothing_changes(three_builds):
    warehouse, ids = three_builds
    before = _sha(warehouse)
    with pytest.raises(RestoreError, match=f"no kept build {ids[0]}.*{ids[2]}, {ids[1]}"):
        restore(warehouse, ids[0])  # pruned
    with pytest.raises(RestoreError, match="letters, digits"):
        restore(warehouse, "../../etc/passwd")
    with open(warehouse.with_name(warehouse.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a load holds it
        with pytest.raises(RestoreError, match="a load of this warehouse is running"):
            restore(warehouse, ids[1])
    assert _sha(warehouse) == before


def test_pathways_restore_on_the_command_line(three_builds, tmp_path):
    warehouse, ids = three_builds
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHWAYS_")}
    env.update(PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)), PATHWAYS_HOME=str(tmp_path / "home"))
    command = [sys.executable, "-m", "flows.cli", "restore", "--warehouse", str(warehouse)]
    unknown = subprocess.run(command + ["0123456789ab"], env=env, capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1 and "no kept build 0123456789ab" in unknown.stderr and ids[2] in unknown.stderr
    done = subprocess.run(command + [ids[1]], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"Restored build {ids[1]}" in done.stdout and _build_id(warehouse) == ids[1]
