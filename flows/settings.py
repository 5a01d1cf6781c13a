"""Process settings that must be in place before Prefect is imported, and the guards on
what a load may touch.

Prefect reads its settings at import. Without PREFECT_HOME it would create `~/.prefect`;
so the project keeps Prefect's files (and its SQLite database when a local server runs)
under its own data folder, `PATHWAYS_HOME` (default `./data`). Telemetry is off: the
machines running this have no internet and the data are personal.

**Permissions.** Everything a load creates (warehouse, candidates, failed builds, Data
Docs, `load_runs.jsonl`, Prefect's database and logs) is readable by the owner and one
group only: the process umask is `PATHWAYS_UMASK` (default `027`), and `restrict()` sets
the mode explicitly (files 0640, folders 0750) and, with `PATHWAYS_GROUP`, the group.

**Roots.** `PATHWAYS_LANDING_ROOT` and `PATHWAYS_WAREHOUSE_ROOT` (or `landing_root` and
`warehouse_root` in pathways.toml) bound where a load may read and write. `pathways serve` always sets them (to its landing folder and the folder
of its warehouse), so a flow run started through Prefect's API with other paths in its
parameters is refused before it touches anything (`check_paths`).
"""

from __future__ import annotations

import grp
import os
from pathlib import Path

from flows import config

FILE_MODE, DIR_MODE = 0o640, 0o750
# A configuration that cannot be used, found at import: the command line reports it
# (exit code 2) instead of a traceback at import time.
CONFIG_ERROR: config.ConfigError | None = None
_derived_prefect_home: str | None = None


def data_home() -> Path:
    return config.current().home.resolve()


def configure() -> None:
    """Umask and Prefect's home from the configuration. Called at import and again after
    `pathways --config FILE` (a PREFECT_HOME derived from an earlier file is replaced;
    one set by the operator never is)."""
    global CONFIG_ERROR, _derived_prefect_home
    try:
        settings = config.current()
        CONFIG_ERROR = None
    except config.ConfigError as err:
        CONFIG_ERROR = err
        settings = config.Settings.model_construct()  # defaults only, until the command reports it
    os.umask(int(settings.umask, 8))
    if _derived_prefect_home is not None and os.environ.get("PREFECT_HOME") == _derived_prefect_home:
        del os.environ["PREFECT_HOME"]
    if "PREFECT_HOME" not in os.environ:
        _derived_prefect_home = os.environ["PREFECT_HOME"] = str(settings.home.resolve() / "prefect")
    home = Path(os.environ["PREFECT_HOME"])
    if not home.exists() and CONFIG_ERROR is None:  # an existing folder (maybe shared, maybe /tmp) keeps its mode
        home.mkdir(parents=True, exist_ok=True)  # its SQLite file goes here (created under the umask)
        restrict(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_UI_ENABLED", "true")
    # The temporary server of a one-off load starts in ≈ 10 s on an idle 2-core machine, but
    # Prefect gives up after 20 s; on a busy machine that failed a whole load (issue 10).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _group_id() -> int | None:
    group = config.current().group
    if not group:
        return None
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid


def restrict(*paths: Path, recursive: bool = False) -> None:
    """Owner read/write, the configured group read, nobody else (folders: also enter)."""
    gid = _group_id()
    for path in paths:
        path = Path(path)
        if not path.exists() or path.is_symlink() or path.stat().st_uid != os.geteuid():
            continue  # only what this account created (never a shared folder it can write to)
        items = [path]
        if recursive and path.is_dir():
            items += [p for p in path.rglob("*") if not p.is_symlink()]
        for item in items:
            if item.stat().st_uid != os.geteuid():
                continue
            os.chmod(item, DIR_MODE if item.is_dir() else FILE_MODE)
            if gid is not None:
                os.chown(item, -1, gid)


class PathOutsideRoot(PermissionError):
    """A load was asked to read or write outside the configured roots."""


def _root(name: str) -> Path | None:
    value = getattr(config.current(), name.removeprefix("PATHWAYS_").lower())
    return Path(value).resolve() if value else None


def check_paths(landing: str | Path, warehouse: str | Path) -> tuple[Path, Path]:
    """The landing folder and warehouse file of a load, resolved (symbolic links and `..`
    followed), refused if outside PATHWAYS_LANDING_ROOT / PATHWAYS_WAREHOUSE_ROOT when set.
    The message names the setting, not the requested path."""
    landing_path, warehouse_path = Path(landing).resolve(), Path(warehouse).resolve()
    landing_root, warehouse_root = _root("PATHWAYS_LANDING_ROOT"), _root("PATHWAYS_WAREHOUSE_ROOT")
    if landing_root is not None and not landing_path.is_relative_to(landing_root):
        raise PathOutsideRoot(
            "refused: the landing parameter points outside the configured landing root "
            f"(PATHWAYS_LANDING_ROOT={landing_root})"
        )
    if warehouse_root is not None and (
        warehouse_path == warehouse_root or not warehouse_path.is_relative_to(warehouse_root)
    ):
        raise PathOutsideRoot(
            "refused: the warehouse parameter points outside the configured warehouse root "
            f"(PATHWAYS_WAREHOUSE_ROOT={warehouse_root})"
        )
    return landing_path, warehouse_path


configure()
