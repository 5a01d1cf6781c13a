"""Which Prefect server a one-off `pathways load` talks to (flows/local_server.py):
records of a running `pathways serve` are trusted only when they are this account's own,
private, and name a live `pathways serve`; the temporary server's port is never free
for another process to take."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from flows import local_server


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHWAYS_HOME", str(tmp_path))
    return tmp_path


def _record(home, pid: int, mode: int = 0o600) -> None:
    path = home / "serve.json"
    path.write_text(json.dumps({"api_url": "http://127.0.0.1:9/api", "auth_string": "u:secret", "pid": pid}))
    os.chmod(path, mode)


def test_a_record_readable_by_others_or_naming_another_process_is_ignored(home, monkeypatch):
    monkeypatch.setattr(local_server, "healthy", lambda url, timeout=2.0: True)  # any server would answer
    _record(home, os.getpid(), 0o644)
    assert local_server.running_serve() is None, "a record others can read (or have written) is not trusted"
    _record(home, os.getpid())  # private, but this pid is pytest, not `pathways serve`
    assert local_server.running_serve() is None, "a pid reused by another process is not trusted"
    serve = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "pathways", "serve"])
    try:  # a process whose command line is a serve (here: a stand-in) is accepted
        _record(home, serve.pid)
        assert local_server.running_serve()["auth_string"] == "u:secret"
    finally:
        serve.kill()
        serve.wait()
    assert local_server.running_serve() is None, "a record left by a serve that ended is not trusted"


def test_the_record_is_written_owner_only_and_never_through_a_planted_link(home, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (home / "serve.tmp").symlink_to(target)
    path = local_server.write_serve_record("http://127.0.0.1:4200/api", "u:secret")
    assert target.read_text() == "keep"
    assert oct(path.stat().st_mode & 0o777) == "0o600" and json.loads(path.read_text())["pid"] == os.getpid()


def test_the_temporary_servers_port_is_taken_before_it_starts(home):
    server = local_server.start_temporary_server()
    try:
        other = socket.socket()
        with pytest.raises(OSError) as err:
            other.bind(("127.0.0.1", server.port))
        other.close()
        assert err.value.errno == errno.EADDRINUSE  # (that it then serves: every CLI load test)
    finally:
        server.stop()
