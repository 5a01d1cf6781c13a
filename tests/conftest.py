"""Shared fixtures: a synthetic county generated once, and a real Prefect test server.

Everything is real: files are written in their real formats, the flow runs on Prefect's
engine against a temporary Prefect server (`prefect_test_harness`), and the warehouse is
a DuckDB file on disk.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="pathways-test-home-"))
os.environ["PATHWAYS_HOME"] = str(_HOME)
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
# Files written by a test are loaded at once (the landing scan otherwise leaves files modified
# within the last 5 s for a later load); tests of that rule set it themselves.
os.environ.setdefault("PATHWAYS_SETTLE_SECONDS", "0")

import json  # noqa: E402

import pytest  # noqa: E402

from synthetic.generator import generate  # noqa: E402

AS_OF = "2026-11-01"
COUNTY_PERSONS = 1500
COUNTY_SEED = 7


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect server (own SQLite database) for the whole test session."""
    import logging

    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
        # The test server is stopped with events still queued; its complaint is noise.
        # (the session is ending, so logging stays off from here on)
        logging.disable(logging.CRITICAL)


@pytest.fixture(scope="session")
def county(tmp_path_factory) -> Path:
    """A synthetic county with planted faults (landing root)."""
    root = tmp_path_factory.mktemp("county")
    generate(COUNTY_PERSONS, COUNTY_SEED, root, fault_rate=0.01)
    return root


@pytest.fixture(scope="session")
def planted_faults(county) -> list[dict]:
    return json.loads((county / "_synthetic" / "faults.json").read_text())


@pytest.fixture(scope="session")
def loaded(county, prefect_server, tmp_path_factory, worker_id):
    """The county loaded once through the real flow: (summary, warehouse path).

    Under pytest-xdist the first worker that needs it loads it and the other copies the
    result (its own copy: a test may write beside it). The same seed gives the same files
    (test_generator), so the copy is what this worker's own county would have loaded; it
    saves one full load of the county per suite run."""
    import datetime as dt
    import fcntl
    import pickle
    import shutil

    from flows.pipeline import load

    def load_into(folder):
        warehouse = folder / "warehouse.duckdb"
        return load(str(county), str(warehouse), dt.date.fromisoformat(AS_OF)), warehouse

    if worker_id == "master":
        return load_into(tmp_path_factory.mktemp("warehouse"))
    shared = tmp_path_factory.getbasetemp().parent / "loaded-county"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here while the first loads
        done = shared / "summary.pickle"
        if not done.exists():
            shared.mkdir(exist_ok=True)
            summary, _ = load_into(shared)
            done.write_bytes(pickle.dumps(summary))
    own = tmp_path_factory.mktemp("warehouse")
    shutil.copytree(shared, own, symlinks=True, dirs_exist_ok=True)
    summary = pickle.loads((own / "summary.pickle").read_bytes())
    return summary, own / "warehouse.duckdb"


# The longest test files first: `tasks.py test` runs the suite on two workers, one file per
# worker at a time (pytest-xdist, loadfile) in collection order, so a long file collected
# last would run alone at the end while the other worker idles. Measured durations, longest
# first; the order of tests inside a file is kept.
LONGEST_FIRST = [
    "test_scale_out.py",
    "test_orchestration.py",
    "test_incremental.py",
    "test_dashboard_login.py",
    "test_concurrency.py",
    "test_cli_load.py",
    "test_hostile_load.py",
    "test_properties.py",
    "test_privacy.py",
    "test_publish.py",
    "test_load.py",
    "test_audit.py",
    "test_dashboard_pages.py",
    "test_dashboard_figures.py",
    "test_disclosure_attack.py",
    "test_migrations.py",
]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
