"""The nightly reader on a session NeMo-Curator's own benchmark runner wrote (benchmarking/run.py,
the flat entry layout: params.json, metrics.json, tasks.pkl and results.json directly in the
entry dir). How it was made: tests/fixtures/real/nemo-curator/PROVENANCE.md. Every value checked
is taken from the raw files here."""

from __future__ import annotations

import html
import json
import shutil
import time
from pathlib import Path

import pytest
from conftest import make_config, run_build
from runs_json import read_runs

from sitegen.render.site import session_path

FIXTURE = Path(__file__).parent.parent / "fixtures" / "real" / "nemo-curator"
SESSION = "benchmark-run__2026-12-05_12-29-24_UTC"
ENTRIES = ("bad_tasks_pickle", "modifier_missing_input", "modifier_raydata", "modifier_raydata_too_slow",
           "modifier_xenna", "sleep_past_timeout")


def raw(entry: str, name: str) -> dict:
    return json.loads((FIXTURE / SESSION / entry / name).read_text())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    """The real session copied under a root and built; its runs.json by entry."""
    base = tmp_path_factory.mktemp("real-nemo")
    root = base / "results"
    shutil.copytree(FIXTURE / SESSION, root / SESSION)
    out = base / "site"
    report = run_build(make_config(root, out)).report
    assert report.runs_failed == 0
    runs = read_runs(out)
    return out, {run["benchmark"]: run for run in runs}


def run_page(site: tuple[Path, dict[str, dict]], entry: str) -> str:
    out, runs = site
    return html.unescape((out / runs[entry]["url"]).read_text())


def data_of(site: tuple[Path, dict[str, dict]], entry: str) -> dict:
    """The run's data as its page embeds it (data.js beside the page: params, summary, status)."""
    out, runs = site
    text = ((out / runs[entry]["url"]).parent / "data.js").read_text()
    return json.loads(text[text.index("]=") + 2:].rstrip().rstrip(";"))


def shown_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def test_every_entry_is_discovered_as_a_nightly_run_of_its_session(site):
    _out, runs = site
    assert sorted(runs) == list(ENTRIES)
    assert {(run["kind"], run["session"]) for run in runs.values()} == {("nightly", SESSION)}


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e != "bad_tasks_pickle"])
def test_status_comes_from_the_runners_results_json(site, entry: str):
    _out, runs = site
    results = raw(entry, "results.json")
    assert runs[entry]["status"] == ("completed" if results["success"] else "failed")
    assert runs[entry]["warnings"] == []


def test_a_passing_entry_shows_metrics_params_and_times_from_its_files(site):
    metrics, params = raw("modifier_raydata", "metrics.json"), raw("modifier_raydata", "params.json")
    results = raw("modifier_raydata", "results.json")
    page = run_page(site, "modifier_raydata")
    data = data_of(site, "modifier_raydata")
    assert data["summary"]["num_documents_processed"] == metrics["num_documents_processed"]
    assert data["summary"]["throughput_docs_per_sec"] == metrics["throughput_docs_per_sec"]
    assert data["params"]["executor"] == params["executor"] == "ray_data"
    assert data["params"]["ray_num_cpus"] == params["ray_num_cpus"]  # the runner's own, prepopulated
    assert f"<dt>Created</dt><dd>{shown_time(results['exec_started_at'])}</dd>" in page
    ended = shown_time(results["exec_started_at"] + results["exec_time_s"])
    assert f"<dt>Ended</dt><dd>{ended}</dd>" in page
    assert f"<dt>Ray CPUs</dt><dd>{results['ray_cluster_data']['CPU']:.6g}</dd>" in page
    stage_key = "task_MarkdownRemover_num_items_processed_sum"  # the runner's aggregate of tasks.pkl
    assert data["summary"][stage_key] == results["metrics"][stage_key] == 20
    assert "tasks.pkl" in page and "not read" in page


def test_requirements_the_runner_found_unmet_fail_the_entry_and_are_named(site):
    out, runs = site
    for entry in ("modifier_raydata_too_slow", "modifier_missing_input"):
        unmet = raw(entry, "results.json")["requirements_not_met"]
        assert unmet and runs[entry]["status"] == "failed"
        page = run_page(site, entry)
        assert f"Failed: {len(unmet)} requirement" in page
        assert all(f"<code>{metric}</code>: {why}" in page for metric, why in unmet.items())
    session = html.unescape((out / session_path(SESSION)).read_text())
    coverage = html.unescape((out / "coverage.html").read_text())
    too_slow = raw("modifier_raydata_too_slow", "results.json")["requirements_not_met"]
    too_slow = too_slow["throughput_docs_per_sec"]
    assert too_slow == "throughput_docs_per_sec < 1000000"
    assert too_slow in session and too_slow in coverage
    assert "2 missed requirement" in coverage


def test_a_failed_and_a_timed_out_entry(site):
    _out, runs = site
    failed = raw("modifier_xenna", "results.json")
    assert failed["exit_code"] == 1 and runs["modifier_xenna"]["status"] == "failed"
    assert "<dt>Exit code</dt><dd>1</dd>" in run_page(site, "modifier_xenna")
    timed_out = raw("sleep_past_timeout", "results.json")
    assert timed_out["timed_out"] is True and runs["sleep_past_timeout"]["status"] == "failed"
    page = run_page(site, "sleep_past_timeout")
    assert '<span class="badge">timed out</span>' in page
    assert f"<dt>Exit code</dt><dd>{timed_out['exit_code']}</dd>" in page


def test_an_entry_the_runner_did_not_finish_is_failed_with_the_scripts_metrics(site):
    """run.py raised on its tasks.pkl before writing results.json: params, metrics and logs only."""
    assert not (FIXTURE / SESSION / "bad_tasks_pickle" / "results.json").exists()
    _out, runs = site
    data = data_of(site, "bad_tasks_pickle")
    assert runs["bad_tasks_pickle"]["status"] == "failed"
    assert data["summary"]["rows_written"] == raw("bad_tasks_pickle", "metrics.json")["rows_written"]
    assert data["params"]["rows"] == raw("bad_tasks_pickle", "params.json")["rows"]
    assert any("results.json is missing" in w for w in runs["bad_tasks_pickle"]["warnings"])
    log = (FIXTURE / SESSION / "bad_tasks_pickle" / "logs" / "stdouterr.log").read_text()
    assert "Invalid tasks type" in log  # the runner's own account of why


def test_the_session_env_json_is_shown_on_each_entry(site):
    env = json.loads((FIXTURE / SESSION / "env.json").read_text())
    page = run_page(site, "modifier_raydata")
    assert f"<dt>Ray version</dt><dd>{env['ray_version']}</dd>" in page
    assert env["python_version"] in page
