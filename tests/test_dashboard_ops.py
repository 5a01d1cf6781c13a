"""What data staff see outside the dashboard (issue 11): a Prefect run that published but
refused files is marked in the Prefect UI, and `pathways serve --port P` points the UI at
its own API on port P."""

from __future__ import annotations


def test_a_run_that_refused_files_carries_a_tag_and_a_warning(prefect_server, tmp_path):
    """A load of its own on this worker's Prefect server (the shared `loaded` county may
    have been loaded by the other worker, against the other server): one good file and
    one that cannot be decoded."""
    import datetime as dt
    import json
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.pipeline import load
    from tests import helpers as h

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    h.write_intro(landing, "intro_5001_20240101.csv", [h.intro_row()])
    (landing / "intro" / "intro_5001_20240102.csv").write_bytes("kommunenr;ø\n".encode("utf-16"))
    summary = load(str(landing), str(warehouse), dt.date(2026, 11, 1))
    assert summary.published and not summary.all_files_accounted_cleanly
    record = json.loads((warehouse.parent / "load_runs.jsonl").read_text().splitlines()[-1])
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(record["flow_run_id"]))
        assert "files-refused" in (run.tags or []), "the load's flow run is tagged files-refused"
        assert run.state and run.state.is_completed()
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["pathways-files-refused"]))
        )
        mine = [a for a in artifacts if a.flow_run_id == run.id]
        assert mine and "refused" in str(mine[0].data)


def test_serve_points_the_prefect_ui_at_its_own_port():
    from flows.deploy import server_env

    env = server_env(4321, "user:secret")
    assert env["PREFECT_SERVER_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert "4200" not in env["PREFECT_SERVER_UI_API_URL"]
