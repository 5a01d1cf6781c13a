"""One configuration for every command: `pathways.toml`, environment variables, flags.

Why one place: a county changes the schedule, paths, thresholds and limits once, in a
file it keeps under its own change control, instead of retyping flags on every command
or editing constants in the code. Precedence, lowest to highest, is the ecosystem's
(pydantic-settings): **default < file < environment < flag**. The environment keeps the
names the project has always used (`PATHWAYS_KEEP_FAILED`, `PATHWAYS_READ_TIMEOUT_S`, …),
so systemd units, tests and the docs keep working.

The file is `$PATHWAYS_CONFIG`, or `pathways --config FILE`, or else `pathways.toml` in
the current folder if there is one. Its settings are grouped in sections for people
(`[paths]`, `[schedule]`, …); each key is one flat setting whose environment variable is
`PATHWAYS_<KEY>` (see `SECTIONS`, and `pathways config` for the effective values and
where each came from). Relative paths in the file are relative to the file's folder
(as in dashboard.toml), so the file means the same whichever folder a command, a served
flow run or a read worker starts in. An unknown section or key is refused, naming the
valid ones: a typo must not silently fall back to a default.

Settings are read afresh on every `current()` call (a few milliseconds): a test or an
operator that changes the environment between loads is heard, and nothing is cached at
import time, before `--config` or a flag could be applied.
"""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "PATHWAYS_CONFIG"
DEFAULT_FILE = "pathways.toml"

# Delivery rhythms are not in the source contract; these defaults allow a monthly
# delivery a few days' slack, school lists a term (docs/decisions.md, "Operations").
DEFAULT_OVERDUE_DAYS = {"intro": 35, "adult_education": 35, "combination_classes": 200, "trondelag_model": 35}


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and where it came from."""


class Settings(BaseSettings):
    """Every setting a county may change. Field name = key in the file; env = PATHWAYS_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="PATHWAYS_", extra="ignore", case_sensitive=False, validate_default=True
    )

    # [paths]
    landing: Path | None = Field(None, description="Landing root (one folder per source).")
    warehouse: Path | None = Field(None, description="Published warehouse file (DuckDB).")
    home: Path = Field(Path("data"), description="Prefect's database and files, the dashboard's secrets.")
    landing_root: Path | None = Field(None, description="A load may only read under this folder.")
    warehouse_root: Path | None = Field(None, description="A load may only write under this folder.")
    # [schedule]
    cron: str = Field("0 2 * * *", description="Nightly load (cron, in `timezone`).")
    timezone: str = Field("Europe/Oslo", description="Time zone of the cron schedule (IANA).")
    debounce_seconds: int = Field(30, ge=0, description="Files arriving within this many seconds share one load.")
    port: int = Field(4200, ge=1, le=65535, description="Port of `pathways serve`'s Prefect server and UI.")
    warm_runs: bool = Field(
        True, description="Served loads start as forks of a process that imported the load once (flows/warm.py)."
    )
    # [audit]
    max_drop: float = Field(
        0.20, ge=0, le=1, description="Largest accepted drop in rows of a guarded table (without --force)."
    )
    min_guarded_rows: int = Field(100, ge=0, description="Tables smaller than this are not guarded against drops.")
    audit_carry: bool = Field(
        True,
        description="A suite whose table and expectations equal those a published build audited keeps that "
        "result (warehouse/audit_state.py); false: every suite runs on every build.",
    )
    # [retention]
    keep_builds: int = Field(7, ge=0, description="Published builds kept in builds/ for `pathways restore`.")
    keep_failed: int = Field(5, ge=0, description="Refused candidates kept in failed/.")
    keep_reports: int = Field(60, ge=1, description="Builds whose audit report pages are kept in data_docs/.")
    # [limits]
    read_memory_mb: int = Field(2048, ge=64, description="Memory a read worker may use for one file.")
    read_timeout_s: float = Field(120.0, gt=0, description="Time a read worker may take for one file.")
    max_file_mb: int = Field(1024, ge=1, description="Larger landing files are refused unread.")
    read_workers: int | None = Field(None, ge=1, description="Files read at once (default: by cores and memory).")
    read_tasks_per_worker: int = Field(
        1000, ge=1, description="Files a read worker reads before it is replaced (or sooner, holding over 1 GB)."
    )
    max_read_attempts: int = Field(
        3, ge=1, description="Loads in a row a file may fail with an OS error before it is refused."
    )
    settle_seconds: float = Field(5.0, ge=0, description="A file changed more recently is left for a later load.")
    build_memory_mb: int = Field(
        1024, ge=128, description="Memory DuckDB may use to stage and build (beyond it, it spills to disk)."
    )
    # [build]
    incremental_build: bool = Field(
        True,
        description="Rebuild only the persons a load touched when the published build is of the "
        "same date, settings and code (warehouse/incremental.py); false: every load builds in full.",
    )
    # [status]
    stale_hours: float = Field(
        36.0, gt=0, description="`pathways status` is critical when the last published build is older."
    )
    overdue_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_OVERDUE_DAYS),
        description="Per source: days without a delivery before it is overdue.",
    )
    # [dashboard]
    dashboard_config: Path | None = Field(None, description="Dashboard configuration (identity provider, roles file).")
    dashboard_port: int = Field(8501, ge=1, le=65535, description="Port of `pathways dashboard`.")
    dashboard_url: str | None = Field(
        None, description="Address users open the dashboard at (links in alerts; default http://localhost:<port>)."
    )
    # [follow_up]
    follow_up_days: int = Field(
        60,
        ge=1,
        description="Days after a completed or left stage with no next step "
        "before the person is on the follow-up list.",
    )
    follow_up_wait_days: int = Field(
        90, ge=1, description="Days waiting for a school place before the person is on the follow-up list."
    )
    # [notifications]
    dropout_events: bool = Field(True, description="Emit a `pathways.dropout` event per new drop-out.")
    alerts: bool = Field(
        True,
        description="Emit `pathways.follow_up.new` when a load finds new drop-outs or "
        "persons crossing the follow-up thresholds.",
    )
    webhook_url: str | None = Field(
        None,
        description="Webhook the follow-up alert is posted to (JSON "
        '{"text": …}, as Teams, Slack and e-mail gateways take it); '
        "none: the event only.",
    )
    # [permissions]
    umask: str = Field("027", description="Process umask (octal) for everything a load writes.")
    group: str | None = Field(None, description="Group that may read what a load writes.")

    @field_validator("umask")
    @classmethod
    def _octal(cls, value: str) -> str:
        int(value, 8)  # ValueError → a clear validation error
        return value

    @field_validator("webhook_url", "dashboard_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        from urllib.parse import urlparse

        if value is None or value == "":
            return None
        if urlparse(value).scheme not in ("http", "https") or not urlparse(value).hostname:
            raise ValueError("an absolute http(s) address")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone name (IANA, e.g. Europe/Oslo)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("a cron schedule has five fields (minute hour day month weekday)")
        return value

    @field_validator("overdue_days")
    @classmethod
    def _sources(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(DEFAULT_OVERDUE_DAYS))
        if unknown:
            raise ValueError(f"unknown source(s) {', '.join(unknown)}; sources are {', '.join(DEFAULT_OVERDUE_DAYS)}")
        return {**DEFAULT_OVERDUE_DAYS, **value}

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        file = _FILE.get()
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if file is not None:
            sources += (SectionedTomlSource(settings_cls, file),)
        return sources


# section → keys, in the order `pathways config` prints them
SECTIONS: dict[str, list[str]] = {
    "paths": ["landing", "warehouse", "home", "landing_root", "warehouse_root"],
    "schedule": ["cron", "timezone", "debounce_seconds", "port", "warm_runs"],
    "audit": ["max_drop", "min_guarded_rows", "audit_carry"],
    "retention": ["keep_builds", "keep_failed", "keep_reports"],
    "limits": [
        "read_memory_mb",
        "read_timeout_s",
        "max_file_mb",
        "read_workers",
        "read_tasks_per_worker",
        "max_read_attempts",
        "settle_seconds",
        "build_memory_mb",
    ],
    "build": ["incremental_build"],
    "status": ["stale_hours", "overdue_days"],
    "dashboard": ["dashboard_config", "dashboard_port", "dashboard_url"],
    "follow_up": ["follow_up_days", "follow_up_wait_days"],
    "notifications": ["dropout_events", "alerts", "webhook_url"],
    "permissions": ["umask", "group"],
}
# keys inside a section that differ from the field name ([dashboard] config, port)
_KEY_IN_SECTION = {
    "dashboard_config": "config",
    "dashboard_port": "port",
    "dashboard_url": "url",
    "follow_up_days": "days",
    "follow_up_wait_days": "wait_days",
    "incremental_build": "incremental",
    "audit_carry": "carry_unchanged",
}
_PATH_FIELDS = {"landing", "warehouse", "home", "landing_root", "warehouse_root", "dashboard_config"}
assert sorted(k for keys in SECTIONS.values() for k in keys) == sorted(Settings.model_fields)

_FILE: ContextVar[Path | None] = ContextVar("pathways_config_file", default=None)
_flags: dict[str, Any] = {}


class SectionedTomlSource(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, reading `[section] key = value` into flat settings
    (so each keeps its one environment variable name) and resolving relative paths
    against the file's folder."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        assert isinstance(file_path, Path), "settings_customise_sources passes the Path from _FILE"
        return read_file(Path(file_path))


def read_file(path: Path) -> dict[str, Any]:
    """The file's settings as {field: value}; ConfigError for anything it cannot mean."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read the configuration file {path}: {err.strerror or type(err).__name__}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    out: dict[str, Any] = {}
    for section, values in data.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise ConfigError(
                f"{path}: unknown section [{section}]; sections are " + ", ".join(f"[{s}]" for s in SECTIONS)
            )
        keys = {_KEY_IN_SECTION.get(f, f): f for f in SECTIONS[section]}
        for key, value in values.items():
            if key not in keys:
                raise ConfigError(f"{path}: unknown setting '{key}' in [{section}]; it takes {', '.join(keys)}")
            name = keys[key]
            if name in _PATH_FIELDS and isinstance(value, str) and value:
                value = str((Path(path).parent / Path(value).expanduser()).resolve())
            out[name] = value
    return out


def config_file() -> Path | None:
    """The configuration file in use: $PATHWAYS_CONFIG, else ./pathways.toml if present."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named).expanduser().resolve()
    local = Path(DEFAULT_FILE)
    return local.resolve() if local.is_file() else None


def use_file(path: Path | None) -> None:
    """`pathways --config FILE`: this process and every process it starts (the supervised
    load, the served flow runs) use FILE."""
    if path is None:
        return
    os.environ[CONFIG_ENV] = str(Path(path).expanduser().resolve())


def set_flags(**flags: Any) -> None:
    """Command-line flags of this process (None = not given): the highest precedence."""
    _flags.update({k: v for k, v in flags.items() if v is not None})


def current_flags() -> dict[str, Any]:
    """This process's command-line flags (handed to a process it starts for it, such as
    the audit process of a one-off load)."""
    return dict(_flags)


def clear_flags() -> None:
    _flags.clear()


def _build(flags: dict[str, Any], file: Path | None) -> Settings:
    if file is not None and not file.is_file():
        raise ConfigError(f"the configuration file {file} does not exist ({CONFIG_ENV} or --config)")
    token = _FILE.set(file)
    try:
        return Settings(**flags)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            name = str(e["loc"][0]) if e["loc"] else "?"
            where = describe_origin(origin_of(name, flags, file))
            problems.append(f"{name} ({where}): {e['msg']}")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from None
    except SettingsError as err:  # e.g. an environment value that should be JSON (overdue_days) is not
        raise ConfigError(f"invalid setting: {err}") from None
    finally:
        _FILE.reset(token)


def current(**flags: Any) -> Settings:
    """The effective settings of this process (flags given here add to `set_flags`)."""
    return _build({**_flags, **{k: v for k, v in flags.items() if v is not None}}, config_file())


Origin = tuple[Literal["default", "file", "environment", "flag"], str]


def origin_of(name: str, flags: dict[str, Any], file: Path | None) -> Origin:
    if name in flags:
        return "flag", ""
    env_name = f"PATHWAYS_{name.upper()}"
    if any(k.upper() == env_name for k in os.environ):
        return "environment", env_name
    if file is not None and file.is_file():
        try:
            if name in read_file(file):
                return "file", str(file)
        except ConfigError:
            pass
    return "default", ""


def describe_origin(origin: Origin) -> str:
    kind, where = origin
    return f"{kind} {where}".strip()


def toml_value(value: Any) -> str:
    """A setting's value written as TOML (so `pathways config` prints a usable file)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)


def effective(**flags: Any) -> list[tuple[str, str, str, Any, Origin]]:
    """(section, name, key in the section, value, origin) of every setting, for `pathways
    config`. Env and file values come from pydantic-settings' own sources, so the origin
    shown is the precedence they applied."""
    flags = {**_flags, **{k: v for k, v in flags.items() if v is not None}}
    file = config_file()
    settings = _build(flags, file)  # raises ConfigError first if anything is wrong
    env_found = EnvSettingsSource(Settings)()
    file_found = read_file(file) if file is not None else {}
    rows = []
    for section, names in SECTIONS.items():
        for name in names:
            if name in flags:
                origin: Origin = ("flag", "")
            elif name in env_found:
                origin = ("environment", f"PATHWAYS_{name.upper()}")
            elif name in file_found:
                origin = ("file", str(file))
            else:
                origin = ("default", "")
            rows.append((section, name, _KEY_IN_SECTION.get(name, name), getattr(settings, name), origin))
    return rows
