"""The release's version is one number: the CHANGELOG's newest entry, the package, and what
every build records in `meta.build.code_version` (so data staff can match a build to its notes)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from warehouse.build import code_version

ROOT = Path(__file__).resolve().parent.parent


def newest_changelog_version() -> str:
    match = re.search(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert match, "CHANGELOG.md has a '## [x.y.z]' entry"
    return match.group(1)


def test_changelog_package_and_build_record_the_same_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert newest_changelog_version() == project
    assert version("trondelag-pathways") == project, "the installed package is the checked-out one"
    assert code_version().split("+")[0] == project


def test_changelog_entries_are_newest_first_and_dated():
    entries = re.findall(
        r"^## \[(\d+)\.(\d+)\.(\d+)\] – (\d{4}-\d{2}-\d{2})$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE
    )
    assert len(entries) >= 2
    versions = [tuple(int(p) for p in e[:3]) for e in entries]
    assert versions == sorted(versions, reverse=True)
    dates = [e[3] for e in entries]
    assert dates == sorted(dates, reverse=True)
