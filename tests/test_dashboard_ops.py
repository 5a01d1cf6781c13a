"""What data staff see outside the dashboard (issue 11): a Prefect run that published but
refused files is marked in the Prefect UI, and `pathways serve --port P` points the UI at
its own API on port P."""

from __future__ import annotations


def test_a_run_that_refused_files_carries_a_tag_and_a_warning(loaded):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    summary, _ = loaded
    assert not summary.all_files_accounted_cleanly, "the test county has planted faults"
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs() if "files-refused" in (r.tags or [])]
        assert runs, "the load's flow run is tagged files-refused"
        assert all(r.state and r.state.is_completed() for r in runs)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["pathways-files-refused"]))
        )
        assert any(a.flow_run_id == runs[0].id for a in artifacts)
        assert any("refused" in str(a.data) for a in artifacts)


def test_serve_points_the_prefect_ui_at_its_own_port():
    from flows.deploy import server_env

    env = server_env(4321, "user:secret")
    assert env["PREFECT_SERVER_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert "4200" not in env["PREFECT_SERVER_UI_API_URL"]
