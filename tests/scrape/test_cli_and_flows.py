"""``tipnlp ingest``, the Prefect deployments file and the scrape flow."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tipnlp.cli import app
from tipnlp.io import read_table

from .conftest import REPO, STORY, page

runner = CliRunner()


def test_ingest_command_prints_summary_and_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIPNLP_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "story.html").write_bytes(page("Five charged", STORY))
    (folder / "empty.html").write_bytes(b"<html><body></body></html>")
    out = tmp_path / "out"
    result = runner.invoke(app, ["ingest", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "new rows: 2" in result.output and "empty" in result.output
    assert len(read_table(out, "documents")) == 2

    again = runner.invoke(app, ["ingest", str(folder), "--out", str(out)])
    assert again.exit_code == 0 and "new rows: 0" in again.output

    strict = runner.invoke(
        app, ["ingest", str(folder), "--out", str(out), "--refresh", "--max-error-rate", "0.1"]
    )
    assert strict.exit_code == 1
    assert "above the limit" in strict.output

    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no such manifest" in missing.output

    from tipnlp.tagging import lock_output

    held = lock_output(out)
    try:
        busy = runner.invoke(app, ["ingest", str(folder), "--out", str(out)])
    finally:
        held.release()
    assert busy.exit_code == 2 and "another tipnlp run" in busy.output


def test_deployments_name_existing_flows() -> None:
    from pipelines.scrape import PREFECT_YAML, flow_for, load_deployments
    from tipnlp.scrape import load_manifest

    deployments = load_deployments(PREFECT_YAML)
    names = {d["name"] for d in deployments}
    assert {"daily-news", "weekly-legislation"} <= names
    entrypoints = set()
    for spec in deployments:
        flow = flow_for(spec["entrypoint"])
        assert callable(flow) and hasattr(flow, "to_deployment"), spec["entrypoint"]
        path = REPO / spec["entrypoint"].split(":")[0]
        assert path.is_file()
        for item in spec["parameters"]["items"]:
            assert load_manifest(REPO / item).sources  # the manifests exist and are valid
        entrypoints.add(spec["entrypoint"])
        for schedule in spec.get("schedules", []):
            assert len(schedule["cron"].split()) == 5
    assert entrypoints == {"pipelines/run.py:run_flow", "pipelines/scrape.py:scrape_flow"}
    crons = {d["name"]: d["schedules"][0]["cron"] for d in deployments if d.get("schedules")}
    assert crons["daily-news"].endswith("* * *") and crons["weekly-legislation"].endswith("1")


def test_deployments_build_for_serving() -> None:
    from pipelines.scrape import build_deployments

    built = {d.name: d for d in build_deployments()}
    assert built["daily-news"].entrypoint == "pipelines/run.py:run_flow"
    assert [s.schedule.cron for s in built["weekly-legislation"].schedules] == ["0 2 * * 1"]
    assert built["scrape-only"].parameters["items"] == ["corpora/default.yaml"]


@pytest.mark.flow
@pytest.mark.slow
def test_scrape_flow_runs_fetch_then_extract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("TIPNLP_CACHE_DIR", str(tmp_path / "cache"))
    from pipelines.scrape import scrape_flow

    out = tmp_path / "out"
    summary = scrape_flow(items=[str(REPO / "corpora" / "default.yaml")], out_dir=str(out))
    assert summary["n_new"] == len(list((REPO / "corpora" / "samples").iterdir()))
    assert summary["failures_by_reason"] == {"garbled": 1}
    again = scrape_flow(items=[str(REPO / "corpora" / "default.yaml")], out_dir=str(out))
    assert again["n_new"] == 0
