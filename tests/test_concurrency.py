"""Two loads started together, with the dashboard reading all the while (issue 10).

Real processes on one landing zone and one warehouse: the warehouse lock makes the
second load wait and then find nothing new; a reader that opens the published file
again and again, as each dashboard session does, never gets an error and always sees a
complete build.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

from flows.pipeline import load_without_prefect
from tests import helpers as h

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)

LOADER = textwrap.dedent("""
    import datetime as dt, sys
    from flows.pipeline import load_without_prefect
    s = load_without_prefect(sys.argv[1], sys.argv[2], dt.date(2026, 11, 1))
    print(s.files_new, s.counts.files_loaded, flush=True)
""")

READER = textwrap.dedent("""
    import duckdb, json, pathlib, sys
    warehouse, stop = sys.argv[1], pathlib.Path(sys.argv[2])
    ok, errors, counts = 0, [], set()
    while not stop.exists():
        try:
            with duckdb.connect(warehouse, read_only=True) as con:
                events = con.execute("select count(*) from core.event").fetchone()[0]
                builds = con.execute("select count(*) from meta.build").fetchone()[0]
                files = con.execute("select count(*) from audit.file_log").fetchone()[0]
            counts.add((builds, events, files))
            ok += 1
        except Exception as err:
            errors.append(type(err).__name__)
    print(json.dumps({"ok": ok, "errors": errors, "states": sorted(counts)}))
""")


def _rows(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_two_loads_started_together_with_a_reader_never_corrupt_anything(tmp_path):
    land, warehouse = tmp_path / "landing", tmp_path / "wh" / "w.duckdb"
    h.write_intro(land, "intro_5001_20231231.csv", [h.intro_row(), h.intro_row(h.PID_B)])
    load_without_prefect(str(land), str(warehouse), AS_OF)
    first_events = _rows(warehouse, "select count(*) from core.event")[0][0]
    h.write_intro(
        land,
        "intro_5001_20241231.csv",
        [h.intro_row(h.PID_C), h.intro_row(h.PID_B, event="startet", date="01.04.2023")],
    )
    h.write_jsonl(land, "vo_20240101T020000.jsonl", [h.ae_event(h.PID_C)])
    stop = tmp_path / "stop"
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PATHWAYS_SETTLE_SECONDS": "0"}
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse), str(stop)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    loaders = [
        subprocess.Popen(
            [sys.executable, "-c", LOADER, str(land), str(warehouse)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in loaders]
    time.sleep(0.5)
    stop.touch()
    seen = json.loads(reader.communicate(timeout=60)[0])
    assert [p.returncode for p in loaders] == [0, 0], [e[-2000:] for _, e in outputs]
    # one load found the two new files, the other (after waiting for the lock) nothing new
    assert sorted(tuple(map(int, out.split())) for out, _ in outputs) == [(0, 0), (2, 2)]
    assert seen["errors"] == [] and seen["ok"] > 10
    # every state a reader saw was a whole build: the first, or a later one with everything
    final = (3, _rows(warehouse, "select count(*) from core.event")[0][0], 3)
    assert set(map(tuple, seen["states"])) <= {(1, first_events, 1), (2, final[1], 3), final}
    assert _rows(warehouse, "select file_name, count(*) from audit.file_log group by 1 order by 1") == [
        ("intro_5001_20231231.csv", 1),
        ("intro_5001_20241231.csv", 1),
        ("vo_20240101T020000.jsonl", 1),
    ]
    assert _rows(warehouse, "select count(*) from raw.intro_event") == [(4,)]
    assert _rows(warehouse, "select count(*) from audit.load_run") == [(3,)]
    runs = [json.loads(line)["outcome"] for line in (warehouse.parent / "load_runs.jsonl").read_text().splitlines()]
    assert runs == ["published"] * 3
    assert not list(warehouse.parent.glob("*.candidate*"))
