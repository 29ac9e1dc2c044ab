"""The mlflow reader as a user sees it: a real MLflow server (sqlite backend) started on loopback
and filled through MLflow's logging API, a `sqlite:///` database read directly, and an mlruns/
file store; the incremental rules and an unreachable store. The server is stopped by the last test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import msgspec
import pytest
from conftest import age, mlflow_server, run_build, site_files, stop_process_group
from runs_json import read_runs

from sitegen import cache
from sitegen.cli import main
from sitegen.config import load_config
from sitegen.pipeline import POOL_THRESHOLD

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install -e '.[test]'")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

SECRET = "hf_" + "Q" * 34
STEPS = 1000


class Server(msgspec.Struct):
    uri: str
    home: Path
    process: subprocess.Popen


class Store(msgspec.Struct):
    """What the test logged, by name: the sitegen run id of each run."""

    uri: str
    ids: dict[str, str]  # name → "<experiment>/<uuid>"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as (uri, home, process):
        yield Server(uri, home, process)


def fill(uri: str, artifact_file: Path) -> dict[str, str]:
    """An experiment like a nightly sweep: a parent with two children (1,000 steps of loss each),
    a failed run, a killed run; a secret-looking param, user tags, a note and an artifact."""
    client = MlflowClient(uri)
    experiment = client.create_experiment("sweep")
    ids: dict[str, str] = {}

    def start(name: str, **tags: str) -> str:
        run = client.create_run(experiment, run_name=name, tags=tags)
        ids[name] = f"sweep/{run.info.run_id}"
        return run.info.run_id

    parent = start("nightly-0501", team="infra", smoke="")
    client.log_batch(parent, params=[Param("hf_token", SECRET), Param("max_tokens", "2048")])
    client.set_tag(parent, "mlflow.note.content", "Nightly **sweep**")
    for lr in ("0.1", "0.01"):
        child = start(f"lr-{lr}", **{"mlflow.parentRunId": parent})
        client.log_param(child, "lr", lr)
        begun = client.get_run(child).info.start_time
        client.log_batch(child, metrics=[Metric("loss", float(lr) / (step + 1), begun + step * 100, step)
                                         for step in range(STEPS)])
        client.set_terminated(child, "FINISHED")
    client.log_artifact(ids_uuid(ids["lr-0.1"]), str(artifact_file), artifact_path="plots")
    failed = start("oom")
    client.log_metric(failed, "loss", 2.5, step=0)
    client.set_terminated(failed, "FAILED")
    client.set_terminated(start("cancelled"), "KILLED")
    client.set_terminated(parent, "FINISHED")
    return ids


def ids_uuid(run_id: str) -> str:
    return run_id.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def store(server) -> Store:
    artifact = server.home / "curve.txt"
    artifact.write_text("step,loss\n0,1.0\n")
    return Store(server.uri, fill(server.uri, artifact))


def _config(tmp_path: Path, root: str, more: str = ""):
    file = tmp_path / "sitegen.yaml"
    file.write_text(f"roots: [{json.dumps(root)}]\nout: site\n{more}")
    return load_config(str(file))


def _runs(out: Path) -> dict[str, dict]:
    return {run["run_id"]: run for run in read_runs(out)}


def _page(out: Path, run: dict) -> str:
    return (out / run["url"]).read_text()


def test_a_build_shows_every_run_of_the_store(store, tmp_path):
    rep = run_build(_config(tmp_path, store.uri))
    out = tmp_path / "site"
    runs = _runs(out)
    assert set(runs) == set(store.ids.values())
    assert rep.report.runs_read == 5 and rep.report.runs_failed == 0
    status = {name: runs[run_id]["status"] for name, run_id in store.ids.items()}
    assert status == {"nightly-0501": "completed", "lr-0.1": "completed", "lr-0.01": "completed",
                      "oom": "failed", "cancelled": "failed"}
    assert runs[store.ids["cancelled"]]["badges"] == ["killed"]
    assert all(run["kind"] == "mlflow" and (out / run["url"]).is_file() for run in runs.values())

    parent, child = runs[store.ids["nightly-0501"]], runs[store.ids["lr-0.1"]]
    assert child["tags"] == [] and child["session"] == "nightly-0501"
    assert sorted(parent["tags"]) == ["smoke", "team:infra"]
    assert f'<a href="../../{parent["url"]}">nightly-0501</a>' in _page(out, child)  # up the tree
    children = _page(out, parent).split('class="children"')[1].split("</ul>")[0]
    assert [f'<a href="../../{runs[store.ids[name]]["url"]}">{name}</a>' in children
            for name in ("lr-0.01", "lr-0.1")] == [True, True]
    assert children.index("lr-0.01") < children.index("lr-0.1")
    assert (out / "sessions").is_dir()

    series = cache.load_run(str(out), child["slug"]).series["loss"]
    assert len(series.y) == STEPS and series.x["step"] == [float(s) for s in range(STEPS)]
    assert series.x["time"][0] == 0.0 and series.x["time"][-1] == pytest.approx((STEPS - 1) * 0.1)
    page = _page(out, child)
    assert "plots/curve.txt" in page and "0.1" in page
    assert all(SECRET.encode() not in data for data in site_files(out).values())
    assert "2048" in _page(out, parent)  # max_tokens is data, not a secret
    assert "<strong>sweep</strong>" in _page(out, parent)  # the run's note


def test_a_second_build_reads_nothing(store, tmp_path):
    config = _config(tmp_path, store.uri)
    first = run_build(config).report
    second = run_build(config).report
    assert (second.runs_total, second.runs_read, second.runs_cached) == (5, 0, 5)
    assert second.pages_written == 0 and second.pages_unchanged == first.pages_written


def test_logging_a_metric_rereads_exactly_that_run(store, tmp_path):
    config = _config(tmp_path, store.uri)
    run_build(config)
    MlflowClient(store.uri).log_metric(ids_uuid(store.ids["oom"]), "gpu_mem_gb", 79.5, step=1)
    rep = run_build(config)
    assert rep.read == [store.ids["oom"]]
    assert "gpu_mem_gb" in _page(tmp_path / "site", _runs(tmp_path / "site")[store.ids["oom"]])


def test_a_read_failing_midway_keeps_the_last_good_data_and_is_retried(store, tmp_path, monkeypatch):
    config = _config(tmp_path, store.uri)
    run_build(config)
    child = store.ids["lr-0.01"]
    MlflowClient(store.uri).set_tag(ids_uuid(child), "reviewed", "yes")

    def broken(*_args, **_kwargs):
        raise mlflow.exceptions.MlflowException("API request failed: 503 Service Unavailable")

    monkeypatch.setattr(MlflowClient, "get_metric_history", broken)
    rep = run_build(config)
    assert rep.read == [child] and rep.report.runs_failed == 1
    page = _page(tmp_path / "site", _runs(tmp_path / "site")[child])
    assert "could not be read" in page and "loss" in page  # the plot from the last good read stays
    monkeypatch.undo()
    rep = run_build(config)
    assert rep.read == [child] and rep.report.runs_failed == 0
    assert "reviewed:yes" in _runs(tmp_path / "site")[child]["tags"]


def test_a_sqlite_database_is_read_directly_by_parallel_workers(tmp_path):
    (tmp_path / "tracking").mkdir()
    db = tmp_path / "tracking" / "mlflow.db"
    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.create_experiment("local")
    expected = {}
    for index in range(POOL_THRESHOLD + 6):  # enough runs for the worker pool, forked after discovery
        run = client.create_run(experiment, run_name=f"seed-{index}").info.run_id
        client.log_metric(run, "accuracy", 0.5 + index / 100, step=3)
        client.set_terminated(run)
        expected[f"local/{run}"] = "completed"
    config = _config(tmp_path, "sqlite:///tracking/mlflow.db", "build: {workers: 2}\n")  # beside the config
    rep = run_build(config)
    assert rep.report.runs_read == len(expected) and rep.report.runs_failed == 0
    assert {run_id: run["status"] for run_id, run in _runs(tmp_path / "site").items()} == expected
    assert run_build(config).report.runs_read == 0


def test_an_mlruns_file_store_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # recent MLflow writes file stores only if told
    store = tmp_path / "project" / "mlruns"
    client = MlflowClient(store.as_uri())
    run = client.create_run(client.create_experiment("fs"), run_name="from-disk")
    client.log_batch(run.info.run_id, metrics=[Metric("loss", 1 / (s + 1), 1_700_000_000_000 + s, s)
                                               for s in range(50)])
    client.set_terminated(run.info.run_id, "FAILED")
    age(store)  # files written this instant are read again by the next build (racy)
    config = _config(tmp_path, "project")  # a directory holding mlruns/
    run_build(config)
    runs = _runs(tmp_path / "site")
    (shown,) = runs.values()
    assert shown["run_id"] == f"mlruns/fs/{run.info.run_id}" and shown["status"] == "failed"
    assert len(cache.load_run(str(tmp_path / "site"), shown["slug"]).series["loss"].y) == 50
    assert run_build(config).report.runs_read == 0


def test_a_run_name_that_is_not_text_in_a_file_store(tmp_path, monkeypatch):
    """Found by fuzzing: `run_name: [x]` in a run's meta.yaml became the run's name, a list, and
    the cached run could not be decoded."""
    from sitegen.model import Run
    from sitegen.readers import mlflow as mlflow_reader
    from sitegen.readers.base import ReadContext

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    client = MlflowClient(store.as_uri())
    run = client.create_run(client.create_experiment("fs"), run_name="x").info
    meta = store / run.experiment_id / run.run_id / "meta.yaml"
    meta.write_text(meta.read_text().replace("run_name: x", "run_name: [x]"))
    ctx = ReadContext(root=store.as_uri(), allowed=())
    read = mlflow_reader.read(store.as_uri(), f"fs/{run.run_id}", ctx)
    assert read.problem is None and read.name == "['x']"
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(read), type=Run) == read  # as the cache does


def test_a_server_that_does_not_answer_leaves_a_warning_and_the_runs_of_the_last_build(
    server, store, tmp_path, monkeypatch
):
    config = _config(tmp_path, store.uri)
    run_build(config)
    before = site_files(tmp_path / "site")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.killpg(server.process.pid, signal.SIGSTOP)  # it accepts connections and never answers
    try:
        rep = run_build(config)
    finally:
        os.killpg(server.process.pid, signal.SIGCONT)
    assert [w.message for w in rep.report.warnings] == [
        "mlflow store unreachable (no answer in time); showing the 5 runs from the last build"]
    assert rep.report.runs_total == 5 and rep.report.runs_read == 0 and rep.report.pages_removed == 0
    assert site_files(tmp_path / "site") == before


def test_a_stopped_server_keeps_every_page_and_exits_0(server, store, tmp_path, capsys):
    """Runs last in this module: it stops the server."""
    _config(tmp_path, store.uri)
    assert main(["build", "--config", str(tmp_path / "sitegen.yaml")]) == 0
    assert "━" not in capsys.readouterr().err  # a killed run is a status, not a fallback read: no banner
    out = tmp_path / "site"
    before = site_files(out)
    stop_process_group(server.process)
    assert main(["build", "--config", str(tmp_path / "sitegen.yaml")]) == 0
    assert "mlflow store unreachable (connection refused); showing the 5 runs from the last build" in (
        capsys.readouterr().err)
    report = json.loads((out / "_build" / "report.json").read_text())
    assert report["runs_total"] == 5 and report["runs_read"] == 0 and report["pages_removed"] == 0
    assert [w["run_id"] for w in report["warnings"]] == [store.uri]
    assert site_files(out) == before
    assert main(["build", "--config", str(tmp_path / "sitegen.yaml"), "--full"]) == 0
    assert site_files(out) == before and len(_runs(out)) == 5
