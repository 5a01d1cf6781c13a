"""Discover landing files and recognise each by its SHA-256.

The landing root holds one folder per source; anything else (other folders, hidden or
temporary files still being copied, e.g. `.part`/`~$` files) is ignored. Files are
returned in a deterministic order — source, then delivery order in the file name — so
that "first delivered wins" decisions (duplicates) do not depend on the file system.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from flows.sources import SOURCES

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_candidate(path: Path) -> bool:
    name = path.name
    return path.is_file() and not name.startswith((".", "~$")) and not name.endswith(IGNORED_SUFFIXES)


def discover(root: Path) -> list[LandingFile]:
    files = []
    for source, module in SOURCES.items():
        folder = Path(root) / module.FOLDER
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if is_candidate(path):
                files.append(LandingFile(source, path, sha256_of(path)))
    return files
