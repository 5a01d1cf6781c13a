"""`pathways status` (issue 12): last build and outcome, files refused with their reasons,
overdue deliveries, the next scheduled load, the report; the exit code is the health."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import status as st
from flows.config import Settings
from flows.pipeline import load_without_prefect
from tests import helpers as h

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)
UTC = dt.UTC


@pytest.fixture(scope="module")
def warehouse_with_a_refused_file(tmp_path_factory) -> Path:
    """Three sources delivered; one intro file refused whole (wrong header), one row of
    another quarantined; combination classes never delivered."""
    root = tmp_path_factory.mktemp("status")
    land, warehouse = root / "landing", root / "wh" / "warehouse.duckdb"
    h.write_intro(land, "intro_5001_20261020.csv", [h.intro_row(), h.intro_row(h.PID_B, date="31.02.2023")])
    h.write_intro(land, "intro_5035_20261021.csv", [h.intro_row(muni="5035")], header="pid;kommune;hva;når")
    h.write_jsonl(land, "vo_20261020T020000.jsonl", [h.ae_event()])
    h.write_tm(land, "tm_20261020.json", [h.tm_case()])
    summary = load_without_prefect(str(land), str(warehouse), AS_OF, audit=False)
    assert summary.published and summary.files_refused == ["intro_5035_20261021.csv"]
    return warehouse


def _settings(**values) -> Settings:
    return Settings.model_construct(**{**Settings().model_dump(), **values})


def test_status_names_the_refused_file_its_reasons_and_the_overdue_source(warehouse_with_a_refused_file):
    now = dt.datetime.now(UTC)
    result = st.gather(warehouse_with_a_refused_file, now=now, settings=_settings())
    assert result.health == st.WARNING
    files = {f.file_name: f for f in result.files}
    refused = files["intro_5035_20261021.csv"]
    assert refused.status == "quarantined" and refused.message  # the reason, as recorded
    assert files["intro_5001_20261020.csv"].rows_quarantined == 1 and "×1" in files["intro_5001_20261020.csv"].rules
    overdue = {o.source: o for o in result.overdue}
    assert overdue["combination_classes"].overdue and overdue["combination_classes"].last_arrival is None
    assert not overdue["intro"].overdue and overdue["intro"].days == 0
    assert any("refused" in r for r in result.reasons) and any("combination_classes" in r for r in result.reasons)
    assert result.build["files_loaded"] == 3 and result.schema_version >= 2
    assert result.last_attempt["outcome"] == "published_with_files_refused"


def test_the_next_run_follows_the_configured_schedule_and_time_zone(warehouse_with_a_refused_file):
    winter = dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    result = st.gather(warehouse_with_a_refused_file, now=winter, settings=_settings())
    assert result.next_run == dt.datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 02:00 in Oslo is 01:00Z in winter
    summer = st.next_run("30 3 * * 1-5", "Europe/Oslo", dt.datetime(2026, 6, 6, 12, 0, tzinfo=UTC))  # a Saturday
    assert summer == dt.datetime(2026, 6, 8, 1, 30, tzinfo=UTC)


def test_an_old_build_a_crash_or_no_warehouse_is_critical_or_unknown(warehouse_with_a_refused_file, tmp_path):
    later = dt.datetime.now(UTC) + dt.timedelta(hours=40)
    result = st.gather(warehouse_with_a_refused_file, now=later, settings=_settings(stale_hours=36))
    assert result.health == st.CRITICAL and any("hours old" in r for r in result.reasons)
    assert st.gather(tmp_path / "none.duckdb", settings=_settings()).health == st.UNKNOWN

    copy = tmp_path / "wh" / "warehouse.duckdb"
    copy.parent.mkdir()
    copy.write_bytes(warehouse_with_a_refused_file.read_bytes())
    with open(copy.parent / "load_runs.jsonl", "a") as out:
        out.write(
            json.dumps(
                {
                    "load_id": "x",
                    "at": dt.datetime.now(UTC).isoformat(),
                    "outcome": "crashed",
                    "message": "the load process ended: killed by signal 9",
                }
            )
            + "\n"
        )
    crashed = st.gather(copy, settings=_settings())
    assert crashed.health == st.CRITICAL and any("crashed" in r for r in crashed.reasons)
    assert any("nothing was published" in r for r in crashed.reasons)

    # a load that stopped after it published: still critical, but it says the build is out
    with open(copy.parent / "load_runs.jsonl", "a") as out:
        record = {"load_id": "y", "at": dt.datetime.now(UTC).isoformat(), "outcome": "crashed", "published": True}
        out.write(json.dumps({**record, "message": "the load stopped: ConnectionError"}) + "\n")
    after = st.gather(copy, settings=_settings())
    assert after.health == st.CRITICAL
    assert any("after publishing" in r and "is published" in r for r in after.reasons), after.reasons
    assert not any("nothing was published" in r for r in after.reasons)
    from dashboard import labels

    assert labels.run_outcome(record) == labels.CRASHED_AFTER_PUBLISHING
    assert labels.run_outcome({"outcome": "crashed"}) == labels.RUN_OUTCOME["crashed"]


def test_pathways_status_on_the_command_line(warehouse_with_a_refused_file, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHWAYS_")}
    env.update(PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)), PATHWAYS_HOME=str(tmp_path / "home"), COLUMNS="220")
    env.pop("PATHWAYS_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-m", "flows.cli", "status", "--warehouse", str(warehouse_with_a_refused_file)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == st.WARNING, out.stderr
    assert out.stdout.startswith("WARNING:")
    for text in (
        "intro_5035_20261021.csv",
        "quarantined",
        "combination_classes",
        "OVERDUE",
        "Next scheduled load",
        "published_with_files_refused",
    ):
        assert text in out.stdout, text
    quiet = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--quiet", "status", "--warehouse", str(warehouse_with_a_refused_file)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert quiet.returncode == st.WARNING and len(quiet.stdout.strip().splitlines()) == 1
