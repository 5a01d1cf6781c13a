"""Watch the landing zone and announce each new, completely written file as a Prefect event.

A file still being copied must never be read half-way, so a file is announced only when
its size and modification time have not changed for `settle_seconds` (checked by
polling, which works the same on local disks and network shares), and never while its
name marks it as temporary (`.part`, `.tmp`, `~$…`; see `flows.landing.is_candidate`).

The event is `pathways.file.arrived`, with the source and file name as the resource and
the size and SHA-256 in the payload. The `file-arrived` deployment's trigger turns a burst
of such events into one load; the load itself scans the whole landing zone, so an event
is a reason to look, not a list of what to load.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from flows.landing import is_candidate, sha256_of
from flows.sources import SOURCES
from schemas.privacy import safe_name

EVENT = "pathways.file.arrived"
log = logging.getLogger("pathways.watch")


@dataclass
class LandingWatcher:
    landing: Path
    settle_seconds: float = 2.0
    poll_seconds: float = 1.0
    announced: set[tuple[str, str]] = field(default_factory=set)  # (source, name) already announced
    _seen: dict[Path, tuple[int, int, float]] = field(default_factory=dict)  # path -> (size, mtime_ns, since)

    def prime(self) -> None:
        """Treat what is already there as known (the nightly load takes care of it)."""
        for source, path in self._files():
            self.announced.add((source, path.name))

    def _files(self):
        for source, module in SOURCES.items():
            folder = self.landing / module.FOLDER
            if folder.is_dir():
                for path in folder.iterdir():
                    if is_candidate(path):
                        yield source, path

    def ready(self, now: float | None = None) -> list[tuple[str, Path]]:
        """Files that are new and have been stable long enough; each returned once."""
        now = time.monotonic() if now is None else now
        out = []
        current = set()
        for source, path in self._files():
            current.add(path)
            if (source, path.name) in self.announced:
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            size_mtime = (stat.st_size, stat.st_mtime_ns)
            previous = self._seen.get(path)
            if previous is None or previous[:2] != size_mtime:
                self._seen[path] = (*size_mtime, now)
                continue
            if now - previous[2] >= self.settle_seconds and stat.st_size > 0:
                out.append((source, path))
                self.announced.add((source, path.name))
                self._seen.pop(path, None)
        for gone in set(self._seen) - current:
            self._seen.pop(gone, None)
        return out

    def emit(self, source: str, path: Path) -> None:
        from prefect.events import emit_event

        name = safe_name(path.name)  # a national id in a file name never reaches Prefect's records
        emit_event(
            event=EVENT,
            resource={
                "prefect.resource.id": f"pathways.landing.{source}.{name}",
                "pathways.source": source,
                "pathways.file": name,
            },
            payload={"size": path.stat().st_size, "sha256": sha256_of(path)},
        )
        log.info("announced %s/%s", source, name)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            for source, path in self.ready():
                try:
                    self.emit(source, path)
                except Exception as err:  # the API may be busy: forget it and announce again next poll
                    log.warning("could not announce %s: %s", safe_name(path.name), type(err).__name__)
                    self.announced.discard((source, path.name))
            stop.wait(self.poll_seconds)
