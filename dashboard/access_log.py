"""The access log of the follow-up list: who saw or downloaded which part, and when.

Why a file of its own under PATHWAYS_HOME (`access/follow_up.jsonl`), not a warehouse
table: the dashboard opens the warehouse read-only, and every load replaces the
published file with a new candidate, so a table there would lose entries at each publish.
The file is only ever appended to (one JSON object per line, written with O_APPEND in one
`write`, so lines from two sessions never interleave), readable by the owner and the
configured group only. Data staff read it on Datakvalitet.

An entry names the user (e-mail or subject claim, as the identity provider sent it), the
role, the scope (municipality codes), the action (`view`, `download`), the number of
persons in the list and the build. Never a pseudonym or anything from the list itself.
No Streamlit here, so it is tested directly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

FILE_MODE, DIR_MODE = 0o640, 0o750


def log_path() -> Path:
    from flows.config import current

    return current().home.resolve() / "access" / "follow_up.jsonl"


def append(
    user: str, role: str, scope: tuple[str, ...], action: str, persons: int, build_id: str, path: Path | None = None
) -> dict:
    """Append one entry and return it."""
    path = path or log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, DIR_MODE)
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "user": user,
        "role": role,
        "scope": list(scope),
        "action": action,
        "persons": int(persons),
        "build_id": build_id,
    }
    # ASCII only: a claim with U+2028, U+0085 or another character that str.splitlines
    # takes for a line end would otherwise cut its own entry in two when it is read back
    line = (json.dumps(entry, ensure_ascii=True) + "\n").encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def read(limit: int = 500, path: Path | None = None) -> list[dict]:
    """The newest `limit` entries, newest first (a damaged line is skipped, not fatal)."""
    path = path or log_path()
    if not path.exists():
        return []
    out = []
    for line in path.read_text("utf-8").split("\n"):  # only "\n" ends an entry (never splitlines)
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return list(reversed(out))[:limit]
