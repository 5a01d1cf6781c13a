"""Process settings that must be in place before Prefect is imported.

Prefect reads its settings at import. Without PREFECT_HOME it would create `~/.prefect`;
so the project keeps Prefect's files (and its SQLite database when a local server runs)
under its own data folder, `PATHWAYS_HOME` (default `./data`). Telemetry is off: the
machines running this have no internet and the data are personal.
"""
from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    return Path(os.environ.get("PATHWAYS_HOME", "data")).resolve()


def configure() -> None:
    os.environ.setdefault("PREFECT_HOME", str(data_home() / "prefect"))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)  # its SQLite file goes here
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_UI_ENABLED", "true")
    # The temporary server of a one-off load starts in ≈ 10 s on an idle 2-core machine, but
    # Prefect gives up after 20 s; on a busy machine that failed a whole load (issue 10).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


configure()
