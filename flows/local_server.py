"""Which Prefect server a one-off `pathways load` talks to, started early and cheaply.

Prefect runs every flow against an API. Without one configured, Prefect starts a
temporary server itself, but only when the flow begins, and only after importing its whole
server application into the load's own process (≈ 5 s) and then waiting for the server to
start (≈ 7 s): twelve seconds in which the load does nothing else. Profiled in issue 13,
that was a third of an empty load.

So the command decides before it imports anything heavy:

1. `PREFECT_API_URL` set (a county's own server, or `pathways serve` told so): use it.
2. A `pathways serve` running from the same `PATHWAYS_HOME` (it leaves `serve.json`
   there while it runs): use it, with its login, so a manual load shows in the same UI
   and waits for the same one-load-at-a-time lock as the scheduled ones.
3. Otherwise start Prefect's temporary server the way Prefect does (the same uvicorn
   command and settings), but at once and in its own process, so it starts on the
   other core while the load imports Polars, Pandera and Great Expectations. It is
   stopped when the load ends; it lives in the load's process group, so the command's
   supervisor stops it whatever happens to the load.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from flows.settings import data_home

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
STARTUP_TIMEOUT = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", 120))


def serve_record() -> Path:
    """Where a running `pathways serve` leaves its address (and where to find its login)."""
    return data_home() / "serve.json"


def write_serve_record(
    api_url: str,
    auth_string: str | None,
    *,
    own_server: bool = True,
    landing: Path | None = None,
    warehouse: Path | None = None,
    poll_seconds: float | None = None,
) -> Path:
    """Called by `pathways serve` once its server answers; owner-only (it holds the login).

    `own_server`: serve started the server (a one-off load then uses it, with this login);
    serve against a configured PREFECT_API_URL writes the record too, without a login, so
    a load of its landing folder and warehouse is handed to it (flows.handoff)."""
    path = serve_record()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # never write through a link someone left there
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with open(os.open(tmp, flags, 0o600), "w", encoding="utf-8") as handle:
        record = {
            "api_url": api_url,
            "auth_string": auth_string,
            "pid": os.getpid(),
            "own_server": own_server,
            "landing": str(landing.resolve()) if landing else None,
            "warehouse": str(warehouse.resolve()) if warehouse else None,
            "poll_seconds": poll_seconds,
        }
        json.dump(record, handle)
    os.replace(tmp, path)
    return path


def remove_serve_record() -> None:
    try:
        record = json.loads(serve_record().read_text("utf-8"))
        if record.get("pid") == os.getpid():
            serve_record().unlink()
    except (OSError, ValueError):
        pass


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers /health (which needs no login: none is sent)."""
    request = urllib.request.Request(f"{api_url.rstrip('/')}/health")
    try:  # never through a proxy: the server is on this machine
        with _NO_PROXY.open(request, timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _is_serve_process(pid: int) -> bool:
    """The process is this account's `pathways serve` (not a process that reused the pid)."""
    try:
        proc = Path(f"/proc/{pid}")
        if proc.stat().st_uid != os.geteuid():
            return False
        argv = proc.joinpath("cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in argv and any(a.endswith((b"pathways", b"flows.cli")) for a in argv)


def running_serve() -> dict | None:
    """The record of this account's `pathways serve`, alive and answering, else None.

    The record holds the API login, so it is trusted only when it is this account's own
    file, readable by nobody else, and its process is still a `pathways serve` of this
    account (a record left by a serve that was killed may name a pid now reused)."""
    path = serve_record()
    try:
        info = path.lstat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o077 or not path.is_file() or path.is_symlink():
            return None
        record = json.loads(path.read_text("utf-8"))
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _is_serve_process(pid):
        return None
    return record if healthy(record["api_url"]) else None


@dataclass
class TemporaryServer:
    process: subprocess.Popen
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the temporary Prefect server stopped while starting (exit {self.process.returncode})"
                )
            if healthy(self.api_url, timeout=1.0):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the temporary Prefect server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_temporary_server() -> TemporaryServer:
    """Prefect's own temporary server (as `prefect.server.api.server.SubprocessASGIServer`
    runs it: UI off, ephemeral mode), started now; call `.wait()` before the flow.

    The listening socket is bound here and handed to uvicorn (`--fd`), so no other
    process can take the port between choosing it and the server starting (Prefect picks
    a free port and lets uvicorn bind it seconds later, after its imports)."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "prefect is installed, as a regular package"
    prefect_dir = Path(spec.origin).parent
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    env.pop("PREFECT_API_URL", None)
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(prefect_dir.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--fd",
                str(sock.fileno()),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            pass_fds=(sock.fileno(),),
        )
    finally:
        sock.close()  # the server holds its own copy
    return TemporaryServer(process, port)


def choose_server() -> TemporaryServer | None:
    """Point this process at a Prefect API (environment variables, read by Prefect when
    it is imported); returns the temporary server this load must wait for and stop, if any."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    record = running_serve()
    if record is not None and record.get("own_server", True):
        os.environ["PREFECT_API_URL"] = record["api_url"]
        if record.get("auth_string"):
            os.environ["PREFECT_API_AUTH_STRING"] = record["auth_string"]
        return None
    server = start_temporary_server()
    # At exit, and registered before Prefect's own exit handlers exist: those run first
    # (last registered, first run) and send the last logs and events while it still answers.
    atexit.register(server.stop)
    os.environ["PREFECT_API_URL"] = server.api_url
    return server
