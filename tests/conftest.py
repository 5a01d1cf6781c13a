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
    from prefect.testing.utilities import prefect_test_harness

    import logging

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
def loaded(county, prefect_server, tmp_path_factory):
    """The county loaded once through the real flow: (summary, warehouse path)."""
    import datetime as dt

    from flows.pipeline import load

    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    summary = load(str(county), str(warehouse), dt.date.fromisoformat(AS_OF))
    return summary, warehouse


# The longest test files first: `tasks.py test` runs the suite on two workers, one file per
# worker at a time (pytest-xdist, loadfile) in collection order, so a long file collected
# last would run alone at the end while the other worker idles. Measured durations, longest
# first; the order of tests inside a file is kept.
LONGEST_FIRST = ["test_scale_out.py", "test_orchestration.py", "test_dashboard_login.py", "test_concurrency.py",
                 "test_cli_load.py", "test_hostile_load.py", "test_properties.py", "test_privacy.py",
                 "test_publish.py", "test_load.py", "test_dashboard_pages.py", "test_dashboard_figures.py",
                 "test_disclosure_attack.py", "test_migrations.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
