"""One configuration (issue 12): pathways.toml, environment variables over it, flags over
both; every command reads it; `pathways config` says where each value came from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import config
from flows.isolation import Limits
from flows.settings import PathOutsideRoot, check_paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def clean(monkeypatch, tmp_path):
    """No PATHWAYS_* setting from the test session, no flags, and a folder without pathways.toml."""
    for key in list(os.environ):
        if key.startswith("PATHWAYS_") and key.removeprefix("PATHWAYS_").lower() in config.Settings.model_fields:
            monkeypatch.delenv(key)
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    config.clear_flags()
    yield tmp_path
    config.clear_flags()


def _write(folder: Path, text: str) -> Path:
    path = folder / "pathways.toml"
    path.write_text(text, encoding="utf-8")
    return path


COUNTY = """
[paths]
landing = "landing"                       # relative to this file
warehouse = "/srv/pathways/warehouse.duckdb"

[schedule]
cron = "30 3 * * 1-5"
timezone = "Europe/Oslo"

[retention]
keep_failed = 2
keep_builds = 10

[limits]
read_timeout_s = 30
max_read_attempts = 4

[status]
overdue_days = { intro = 10 }

[dashboard]
port = 8600
"""


def test_defaults_without_a_file(clean):
    settings = config.current()
    assert config.config_file() is None
    assert (settings.cron, settings.timezone, settings.keep_failed, settings.max_drop) == (
        "0 2 * * *",
        "Europe/Oslo",
        5,
        0.2,
    )
    assert {kind for _, _, _, _, (kind, _) in config.effective()} == {"default"}


def test_the_file_in_the_current_folder_is_read_with_paths_relative_to_it(clean):
    _write(clean, COUNTY)
    settings = config.current()
    assert settings.landing == clean / "landing"
    assert settings.cron == "30 3 * * 1-5" and settings.keep_builds == 10 and settings.dashboard_port == 8600
    assert settings.overdue_days["intro"] == 10 and settings.overdue_days["trondelag_model"] == 35  # merged
    # what the commands use is what the file says
    assert Limits.from_env().timeout_s == 30


def test_environment_overrides_the_file_and_flags_override_both(clean, monkeypatch):
    (clean / "elsewhere").mkdir()
    file = _write(clean / "elsewhere", COUNTY)
    monkeypatch.setenv("PATHWAYS_CONFIG", str(file))
    monkeypatch.setenv("PATHWAYS_KEEP_FAILED", "7")  # old names keep working
    monkeypatch.setenv("PATHWAYS_READ_TIMEOUT_S", "45")
    config.set_flags(keep_failed=1, landing=None)  # None: flag not given
    settings = config.current()
    assert (settings.keep_failed, settings.read_timeout_s, settings.max_read_attempts) == (1, 45.0, 4)
    origins = {name: (kind, where) for _, name, _, _, (kind, where) in config.effective()}
    assert origins["keep_failed"] == ("flag", "")
    assert origins["read_timeout_s"] == ("environment", "PATHWAYS_READ_TIMEOUT_S")
    assert origins["max_read_attempts"] == ("file", str(file))
    assert origins["landing"] == ("file", str(file)) and settings.landing == clean / "elsewhere" / "landing"
    assert origins["max_drop"] == ("default", "")


def test_a_typo_or_a_bad_value_is_refused_naming_the_setting_and_its_origin(clean, monkeypatch):
    _write(clean, "[retention]\nkeep_fialed = 3\n")
    with pytest.raises(config.ConfigError, match="unknown setting 'keep_fialed' in \\[retention\\].*keep_failed"):
        config.current()
    _write(clean, "[schedul]\ncron = '0 2 * * *'\n")
    with pytest.raises(config.ConfigError, match="unknown section \\[schedul\\]"):
        config.current()
    _write(clean, "[schedule]\ntimezone = 'Europe/Trondheim'\n")
    with pytest.raises(config.ConfigError, match="timezone \\(file .*pathways.toml\\)"):
        config.current()
    _write(clean, "")
    monkeypatch.setenv("PATHWAYS_KEEP_BUILDS", "many")
    with pytest.raises(config.ConfigError, match="keep_builds \\(environment PATHWAYS_KEEP_BUILDS\\)"):
        config.current()


def test_the_roots_in_the_file_bound_every_load(clean):
    (clean / "landing").mkdir()
    _write(clean, f'[paths]\nlanding_root = "landing"\nwarehouse_root = "{clean / "wh"}"\n')
    check_paths(clean / "landing" / "x", clean / "wh" / "warehouse.duckdb")
    with pytest.raises(PathOutsideRoot, match="landing root"):
        check_paths(clean / "other", clean / "wh" / "warehouse.duckdb")


def test_pathways_config_prints_each_setting_and_its_origin(clean):
    file = _write(clean, COUNTY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHWAYS_")}
    env.update(
        PYTHONPATH=os.environ.get("PYTHONPATH", str(ROOT)),
        PATHWAYS_HOME=str(clean / "home"),
        PATHWAYS_READ_MEMORY_MB="1024",
        COLUMNS="200",
    )
    out = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--config", str(file), "config", "--warehouse", str(clean / "w.duckdb")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = {line.split(" = ")[0]: line for line in out.stdout.splitlines() if " = " in line}
    assert lines["cron"].startswith('cron = "30 3 * * 1-5"') and lines["cron"].endswith("# file")
    assert lines["read_memory_mb"].endswith("# environment PATHWAYS_READ_MEMORY_MB")
    assert lines["warehouse"].endswith("# flag") and lines["max_drop"].endswith("# default")
    assert f"# configuration file: {file}" in out.stdout

    printed = clean / "printed.toml"
    printed.write_text(out.stdout)
    assert config.read_file(printed)["cron"] == "30 3 * * 1-5"
    # a broken file stops every command before it reads or writes anything
    _write(clean, "[retention]\nkeep_failed = -1\n")
    env = dict(env, PATHWAYS_HOME=str(clean / "home-bad"))
    env.pop("PREFECT_HOME", None)  # so a command would create PATHWAYS_HOME/prefect if it went on
    bad = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--config", str(file), "status"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # (status speaks the monitoring convention: 3 UNKNOWN; the other commands exit 5)
    assert bad.returncode == 3 and "keep_failed" in bad.stderr and "Traceback" not in bad.stderr
    bad_load = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--config", str(file), "load"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad_load.returncode == 5 and "keep_failed" in bad_load.stderr
    assert not (clean / "home-bad").exists()  # nothing written, not even Prefect's folder
    version = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--version"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert version.returncode == 0 and version.stdout.startswith("pathways 0.")
