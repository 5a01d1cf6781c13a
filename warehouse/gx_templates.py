"""Compile Great Expectations' Data Docs templates once, not on every build.

Why: GX renders Data Docs with Jinja and makes a new Jinja `Environment` for every view it
renders with, so every build compiles the same ~50 templates from their source again. On
the 2-core machine that was 3.9 s of a 7 s Data Docs build and a quarter of a small load's
audit (cProfile of a one-file load, issue 13), paid by every load however small.

Jinja's own answer is a bytecode cache: each compiled template is stored under a key made
of its name and a checksum of its source, and reused while the source is unchanged (an
upgrade of GX changes the checksum, so a stale entry is never used). The cache lives in
`PATHWAYS_HOME/cache/jinja`, private to the account: Jinja executes what it loads from
there, so a folder others can write to is not used (Jinja's default folder is checked the
same way); the audit then simply runs without the cache.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _private_folder(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.lstat()
    return (
        stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def enable(folder: Path) -> bool:
    """Give every GX Jinja view the bytecode cache in `folder`; False when the folder is
    not private to this account (the audit then runs uncached)."""
    from great_expectations.render.view import view
    from jinja2 import FileSystemBytecodeCache

    original = view.DefaultJinjaView.__init__
    if getattr(original, "pathways_cache", None) is not None:
        return True
    if not _private_folder(folder):
        return False
    cache = FileSystemBytecodeCache(str(folder))

    def __init__(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        self.env.bytecode_cache = cache

    __init__.pathways_cache = cache  # type: ignore[attr-defined]
    view.DefaultJinjaView.__init__ = __init__  # type: ignore[method-assign]
    return True
