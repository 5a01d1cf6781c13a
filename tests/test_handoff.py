"""The parts of the hand-off to `pathways serve` (flows/handoff.py) that need no serve:
how a run's outcome is found in load_runs.jsonl, and what the API calls never do. The
hand-off itself runs against a real `pathways serve` in tests/test_orchestration.py."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from flows import handoff


def test_the_outcome_is_the_runs_own_last_line_whatever_else_the_file_holds(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    lines = [
        json.dumps({"flow_run_id": "other", "outcome": "published"}),
        json.dumps({"flow_run_id": "mine", "outcome": "crashed"}),
        "[1, 2]",  # not an object
        json.dumps({"flow_run_id": "mine", "outcome": "published_with_files_refused"}),
        json.dumps({"flow_run_id": "other", "outcome": "audit_failed"}),
        '{"flow_run_id": "mine", "outco',  # a line cut short by a crash
    ]
    (tmp_path / "load_runs.jsonl").write_text("\n".join(lines))
    record = handoff._record(warehouse, "mine")
    assert record is not None and record["outcome"] == "published_with_files_refused"
    assert handoff.EXIT_CODES[record["outcome"]] == 3
    assert handoff._record(warehouse, "never-ran") is None
    assert handoff._record(warehouse, None) is None
    assert handoff._record(tmp_path / "elsewhere" / "warehouse.duckdb", "mine") is None  # no file: no outcome


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_GET(self):  # http.server's name for it
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        if self.path.startswith("/api/"):
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/elsewhere")
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_the_login_is_never_sent_on_by_a_redirect():
    """urllib would follow a redirect and copy the Authorization header to wherever it
    points; the hand-off refuses redirects (Prefect's own client drops the header)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = handoff.Api(f"http://127.0.0.1:{server.server_address[1]}/api", "user:secret")
        with pytest.raises(handoff.ApiError, match="HTTP 307"):
            api.call("GET", "/deployments/name/pathways-load/manual-load")
    finally:
        server.shutdown()
    assert [s["path"] for s in _Recorder.seen] == ["/api/deployments/name/pathways-load/manual-load"]
    assert _Recorder.seen[0]["authorization"].startswith("Basic ")


def test_the_parameters_name_the_commands_own_paths(tmp_path):
    import datetime as dt

    params = handoff.parameters(
        tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb", dt.date(2026, 11, 1), True, None, 4
    )
    assert params == {
        "landing": str((tmp_path / "landing").resolve()),
        "warehouse": str((tmp_path / "wh" / "warehouse.duckdb").resolve()),
        "force": True,
        "as_of": "2026-11-01",
        "keep_failed": 4,
    }
