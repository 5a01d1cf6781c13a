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
from schemas.privacy import safe_name

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        """The name the file is recorded, logged and shown under (Prefect task names, events,
        logs, file_log): a national id in it is masked. `path` is for reading only."""
        return safe_name(self.path.name)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:  # raised again without the path: the name may hold a national id
        raise OSError(err.errno, err.strerror) from None
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
