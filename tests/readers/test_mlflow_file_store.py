"""MLflow file stores are listed and read from their files, never through MLflow: a build neither
imports MLflow nor writes into the store (MLflow's FileStore creates `.trash/` in any store it
opens), and each run's change token, taken from its files' stats, moves exactly when its page
would. The store is written here by MLflow's own client (the version in this venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import age, run_build
from runs_json import read_runs

from sitegen import cache
from sitegen.config import load_config

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install -e '.[test]'")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _file_stores_allowed(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 writes file stores only if told


def write_store(store: Path) -> dict[str, str]:
    """A parent with two children (params, a 10-step loss), and a lone run; name → uuid."""
    client = MlflowClient(store.as_uri())
    experiment = client.create_experiment("sweep")
    parent = client.create_run(experiment, run_name="parent").info.run_id
    uuids = {"parent": parent}
    for lr in ("0.1", "0.01"):
        child = client.create_run(experiment, run_name=f"lr-{lr}", tags={"mlflow.parentRunId": parent}).info
        client.log_batch(child.run_id, params=[Param("lr", lr)], metrics=[
            Metric("loss", float(lr) / (step + 1), child.start_time + step, step) for step in range(10)])
        client.set_terminated(child.run_id)
        uuids[f"lr-{lr}"] = child.run_id
    uuids["lone"] = client.create_run(experiment, run_name="lone").info.run_id
    client.set_terminated(parent)
    return uuids


def tree(top: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every entry under `top`: its bytes (None for a folder) and its mtime."""
    found = {}
    for path in sorted(top.rglob("*")):
        content = None if path.is_dir() else path.read_bytes()
        found[path.relative_to(top).as_posix()] = (content, path.stat().st_mtime_ns)
    return found


def build_in_subprocess(root: Path, out: Path) -> tuple[dict, bool]:
    """A build as a user runs it, in a fresh interpreter: its report, and whether MLflow was
    imported by the end."""
    code = ("import sys; from sitegen.cli import main; code = main(['build', '--root', sys.argv[1], "
            "'--out', sys.argv[2], '--quiet', '--report', sys.argv[3]]); print('mlflow' in sys.modules); "
            "sys.exit(code)")
    report_file = out.parent / f"{out.name}-report.json"  # a no-op build leaves _build/ alone
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, str(root), str(out), str(report_file)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(report_file.read_text())
    return report, done.stdout.strip().splitlines()[-1] == "True"


def build(tmp_path: Path, root: Path):
    file = tmp_path / "sitegen.yaml"
    file.write_text(f"roots: [{json.dumps(str(root))}]\nout: site\n")
    return run_build(load_config(str(file))).report


def test_a_build_over_a_file_store_imports_no_mlflow_and_writes_nothing_into_it(tmp_path):
    project = tmp_path / "project"
    uuids = write_store(project / "mlruns")
    (project / "mlruns" / ".trash").rmdir()  # as git leaves it: MLflow made it empty, git drops it
    age(project)
    before = tree(project)
    out = tmp_path / "site"

    full, imported = build_in_subprocess(project, out)
    assert (full["runs_read"], full["runs_failed"], imported) == (len(uuids), 0, False)
    noop, imported = build_in_subprocess(project, out)
    assert (noop["runs_read"], noop["pages_written"], imported) == (0, 0, False)
    assert tree(project) == before  # no .trash/, no file touched
    shown = read_runs(out)
    assert sorted(run["run_id"] for run in shown) == sorted(f"mlruns/sweep/{uuid}" for uuid in uuids.values())


def test_a_changed_run_is_read_again_and_only_it(tmp_path):
    store = tmp_path / "project" / "mlruns"
    uuids = write_store(store)
    age(store)
    assert build(tmp_path, store.parent).runs_read == 4
    client = MlflowClient(store.as_uri())
    client.log_metric(uuids["lone"], "loss", 0.5, step=3)
    age(store)
    assert build(tmp_path, store.parent).runs_read == 1
    run = _cached(tmp_path, uuids["lone"])
    assert run.summary == {"loss": 0.5}


def test_a_new_or_renamed_child_reads_its_parent_again(tmp_path):
    store = tmp_path / "project" / "mlruns"
    uuids = write_store(store)
    age(store)
    build(tmp_path, store.parent)
    client = MlflowClient(store.as_uri())
    experiment = client.get_experiment_by_name("sweep").experiment_id
    late = client.create_run(experiment, run_name="late", tags={"mlflow.parentRunId": uuids["parent"]}).info
    age(store)
    assert build(tmp_path, store.parent).runs_read == 2  # the new child, and its parent's page lists it
    client.update_run(late.run_id, name="renamed")
    age(store)
    assert build(tmp_path, store.parent).runs_read == 2  # the child, and the parent showing its name
    parent = _cached(tmp_path, uuids["parent"])
    assert sorted(child.name for child in parent.children) == ["lr-0.01", "lr-0.1", "renamed"]


def test_deleted_runs_and_experiments_are_left_out_as_mlflow_lists_them(tmp_path):
    store = tmp_path / "project" / "mlruns"
    uuids = write_store(store)
    client = MlflowClient(store.as_uri())
    other = client.create_experiment("scratch")
    client.create_run(other, run_name="tmp")
    client.delete_run(uuids["lone"])
    client.delete_experiment(other)  # moved to .trash/
    age(store)
    build(tmp_path, store.parent)
    listed = {(run.info.experiment_id, run.info.run_id) for run in client.search_runs(
        [e.experiment_id for e in client.search_experiments()])}
    assert {run_id.rsplit("/", 1)[-1] for run_id in _shown(tmp_path)} == {uuid for _e, uuid in listed}
    assert uuids["lone"] not in {run_id.rsplit("/", 1)[-1] for run_id in _shown(tmp_path)}


def test_an_added_artifact_reads_the_run_again(tmp_path):
    store = tmp_path / "project" / "mlruns"
    uuids = write_store(store)
    age(store)
    build(tmp_path, store.parent)
    notes = tmp_path / "notes.txt"
    notes.write_text("curve\n")
    MlflowClient(store.as_uri()).log_artifact(uuids["lone"], str(notes), artifact_path="docs")
    age(store)
    assert build(tmp_path, store.parent).runs_read == 1
    run = _cached(tmp_path, uuids["lone"])
    assert [a.name for a in run.artifacts] == ["docs/notes.txt"]


def test_a_run_whose_files_are_younger_than_the_racy_window_is_read_again(tmp_path):
    """A file rewritten within the same mtime tick keeps its stats: a run whose files are that
    fresh is read again by every build until they are older than the window."""
    store = tmp_path / "project" / "mlruns"
    uuids = write_store(store)
    age(store)
    build(tmp_path, store.parent)
    fresh = next(store.glob(f"*/{uuids['lone']}/meta.yaml"))
    future = time.time() + 3600  # fresh for any build clock this test can meet
    os.utime(fresh, (future, future))
    assert build(tmp_path, store.parent).runs_read == 1
    assert build(tmp_path, store.parent).runs_read == 1
    age(store)
    assert build(tmp_path, store.parent).runs_read == 1  # settled: its token no longer carries the build
    assert build(tmp_path, store.parent).runs_read == 0


def _shown(tmp_path: Path) -> dict[str, dict]:
    return {run["run_id"]: run for run in read_runs(tmp_path / "site")}


def _cached(tmp_path: Path, uuid: str) -> cache.Run:
    return cache.load_run(str(tmp_path / "site"), _shown(tmp_path)[f"mlruns/sweep/{uuid}"]["slug"])
