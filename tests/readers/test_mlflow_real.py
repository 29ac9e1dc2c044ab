"""MLflow stores as users really have them: file stores committed to git (every empty folder
dropped), written here by MLflow's own client (3.x, in this venv) and by MLflow 1.30.1 and 2.17.2
(fixtures, see their PROVENANCE.md); stores found under a directory root (an `mlruns/` folder, an
`mlflow.db` file). Every value checked is parsed here from the store's raw files."""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import age, run_build
from runs_json import read_runs

from sitegen import __version__, cache
from sitegen.config import load_config

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install -e '.[test]'")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning",
                                        "ignore::UserWarning")

FIXTURES = Path(__file__).parent.parent / "fixtures" / "real"
STATUSES = {1: "running", 2: "running", 3: "completed", 4: "failed", 5: "failed"}  # meta.yaml's enum
NOTEBOOK_SCRIPT = """\
import mlflow
with mlflow.start_run(run_name="notebook"):
    mlflow.log_metric("cells", 3)
"""


@pytest.fixture(autouse=True)
def _file_stores_allowed(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 writes file stores only if told


def drop_empty_folders(top: Path) -> None:
    """What git, zip and `aws s3 sync` do to a store: no empty folder survives."""
    for directory, _subdirs, _files in os.walk(top, topdown=False):
        if not os.listdir(directory):
            os.rmdir(directory)


def build(tmp_path: Path, *roots: Path | str):
    file = tmp_path / "sitegen.yaml"
    file.write_text(f"roots: {json.dumps([str(root) for root in roots])}\nout: site\n")
    return run_build(load_config(str(file)))


def shown_runs(out: Path) -> dict[str, dict]:
    return {run["run_id"]: run for run in read_runs(out)}


# --- the store's files, parsed here ----------------------------------------------------------


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _values(folder: Path) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in _files(folder)}


def _points(text: str) -> list[tuple[int, int, float]]:
    """(step, time in ms, value) of each line `<ms> <value> [<step> …]`."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return [(int(row[2]) if len(row) > 2 else 0, int(row[0]), float(row[1])) for row in rows]


def raw_runs(store: Path) -> dict[str, dict]:
    """`<experiment name>/<run uuid>` → what the run's own files say."""
    runs = {}
    for meta_file in sorted(store.glob("*/*/meta.yaml")):
        run_dir = meta_file.parent
        meta = yaml.safe_load(meta_file.read_text())
        experiment = yaml.safe_load((run_dir.parent / "meta.yaml").read_text())["name"]
        runs[f"{experiment}/{meta['run_id']}"] = dict(
            dir=run_dir, meta=meta, params=_values(run_dir / "params"), tags=_values(run_dir / "tags"),
            metrics={name: _points(text) for name, text in _values(run_dir / "metrics").items()},
            artifacts=_files(run_dir / "artifacts"),
        )
    return runs


def check_site_against_store(out: Path, store: Path, prefix: str) -> dict[str, cache.Run]:
    """Every run of `store` is on the site, read without a problem or a warning, with the
    status, name, times, params, tags, latest metrics, histories, parent and artifacts its files
    hold; returns the runs as the site has them, by their name."""
    raw = raw_runs(store)
    listed = shown_runs(out)
    assert set(listed) == {prefix + key for key in raw}
    by_name = {}
    for key, files in raw.items():
        shown = listed[prefix + key]
        run = cache.load_run(str(out), shown["slug"])
        meta, tags = files["meta"], files["tags"]
        assert (run.problem, run.warnings, shown["warnings"]) == (None, [], [])
        assert shown["status"] == STATUSES[meta["status"]] and shown["kind"] == "mlflow"
        assert run.name == (meta.get("run_name") or tags["mlflow.runName"])
        assert run.created_at == meta["start_time"] / 1000
        assert run.ended_at == (meta["end_time"] / 1000 if meta.get("end_time") else None)
        assert run.params == files["params"]
        user_tags = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
        assert sorted(run.tags) == sorted(f"{k}:{v}" if v else k for k, v in user_tags.items())
        assert run.notes == tags.get("mlflow.note.content", "")
        assert run.summary == {name: max(points)[2] for name, points in files["metrics"].items()}
        for name, points in files["metrics"].items():
            series = run.series[name]
            assert series.y == [value for _step, _time, value in sorted(points)]
            assert series.x["step"] == [float(step) for step, _time, _value in sorted(points)]
        parent = tags.get("mlflow.parentRunId")
        assert (run.parent.run_id if run.parent else None) == (
            f"{prefix}{key.rsplit('/', 1)[0]}/{parent}" if parent else None)
        assert [a.name for a in run.artifacts] == files["artifacts"]
        page = (out / shown["url"]).read_text()
        assert all(html.escape(f"{value}") in page for value in files["params"].values())
        by_name[run.name] = run
    return by_name


# --- MLflow 3, run here ----------------------------------------------------------------------


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


def write_store(store: Path, monkeypatch) -> None:
    """A sweep as a user logs one: a parent with a user tag and a note, two children with params,
    a 20-step loss history and an artifact, a run that logs nothing, a run with a logged model,
    and a run made in a Jupyter kernel (MLflow sees `ipykernel_launcher.py` as the script)."""
    uri = store.as_uri()
    client = MlflowClient(uri)
    experiment = client.create_experiment("sweep")
    parent = client.create_run(experiment, run_name="nightly").info.run_id
    client.log_batch(parent, tags=[RunTag("team", "infra"), RunTag("mlflow.note.content", "Nightly **run**")])
    notes = store.parent / "notes.txt"
    notes.write_text("curve\n")
    for lr in ("0.1", "0.01"):
        child = client.create_run(experiment, run_name=f"lr-{lr}",
                                  tags={"mlflow.parentRunId": parent}).info
        losses = [Metric("loss", float(lr) / (step + 1), child.start_time + 100 * step, step)
                  for step in range(20)]
        client.log_batch(child.run_id, params=[Param("lr", lr), Param("batch_size", "32")], metrics=losses)
        client.log_metric(child.run_id, "accuracy", 0.5 + float(lr))
        if lr == "0.1":
            client.log_artifact(child.run_id, str(notes), artifact_path="docs")
        client.set_terminated(child.run_id, "FINISHED")
    client.set_terminated(parent, "FINISHED")
    client.set_terminated(client.create_run(experiment, run_name="empty").info.run_id, "FAILED")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with mlflow.start_run(experiment_id=experiment, run_name="model"):
        mlflow.log_param("depth", "3")
        model = mlflow.pyfunc.log_model(name="echo", python_model=Echo(), pip_requirements=[],
                                        params={"k": "v"})
        mlflow.log_metric("val_acc", 0.75, model_id=model.model_id)
    kernel = store.parent / "ipykernel_launcher.py"
    kernel.write_text(NOTEBOOK_SCRIPT)
    env = {**os.environ, "MLFLOW_EXPERIMENT_ID": experiment}
    subprocess.run([sys.executable, str(kernel)], env=env, check=True, capture_output=True, timeout=300)


def test_a_committed_file_store_of_mlflow_3_is_read_whole(tmp_path, monkeypatch):
    written = tmp_path / "laptop" / "mlruns"
    write_store(written, monkeypatch)
    drop_empty_folders(written)
    project = tmp_path / "clone"
    project.mkdir()
    shutil.move(written, project / "mlruns")  # cloned elsewhere: every artifact_uri names the laptop
    age(project / "mlruns")  # files written this instant are read again by the next build (racy)
    rep = build(tmp_path, project)
    assert rep.report.runs_failed == 0 and rep.report.warnings == []
    out = tmp_path / "site"
    runs = check_site_against_store(out, project / "mlruns", "mlruns/")
    assert set(runs) == {"nightly", "lr-0.1", "lr-0.01", "empty", "model", "notebook"}
    assert runs["empty"].status == "failed" and runs["empty"].params == {} and runs["empty"].summary == {}
    assert len(runs["lr-0.1"].series["loss"].y) == 20 and runs["lr-0.1"].session == "nightly"
    assert runs["lr-0.1"].facts["Artifacts"].startswith("listed from the store's copy (recorded at file://")

    (model,) = runs["model"].models
    model_dir = next((project / "mlruns").glob(f"*/models/{model.model_id}"))
    meta = yaml.safe_load((model_dir / "meta.yaml").read_text())
    assert (model.name, model.created_at) == (meta["name"], meta["creation_timestamp"] / 1000)
    assert model.params == _values(model_dir / "params")
    metrics = _values(model_dir / "metrics")
    assert model.metrics == {name: max(_points(text))[2] for name, text in metrics.items()}
    assert model.metrics == {"val_acc": 0.75}
    assert [f.name for f in model.files] == _files(model_dir / "artifacts")
    page = (out / shown_runs(out)[f"mlruns/{runs['model'].run_id.split('/', 1)[1]}"]["url"]).read_text()
    assert model.model_id in page and "val_acc" in page and "MLmodel" in page

    notebook = shown_runs(out)[f"mlruns/{runs['notebook'].run_id.split('/', 1)[1]}"]
    page = (out / notebook["url"]).read_text()
    assert runs["notebook"].facts["Source"].endswith("ipykernel_launcher.py")  # as MLflow recorded it
    assert "ran in a Jupyter notebook" in page and "python " not in page.split('class="reproduce"')[1]

    second = build(tmp_path, project).report
    assert (second.runs_read, second.pages_written) == (0, 0)


def test_a_run_whose_files_are_damaged_says_why(tmp_path):
    from sitegen.readers import mlflow as mlflow_reader
    from sitegen.readers.base import ReadContext

    store = tmp_path / "mlruns"
    client = MlflowClient(store.as_uri())
    run = client.create_run(client.create_experiment("fs"), run_name="x").info
    drop_empty_folders(store)
    (store / run.experiment_id / run.run_id / "meta.yaml").write_text("run_id: [unclosed\n")
    ctx = ReadContext(root=store.as_uri(), allowed=())
    read = mlflow_reader.read(store.as_uri(), f"fs/{run.run_id}", ctx)
    assert read.status == "broken"
    where = f"{run.experiment_id}/{run.run_id}"
    assert read.problem.message.startswith(f"mlflow store: {where}: meta.yaml: invalid YAML")
    assert "the run's record is damaged" in read.problem.message


# --- MLflow 1.x and 2.x, from fixtures ----------------------------------------------------------


@pytest.mark.parametrize("version", ["1.30.1", "2.17.2"])
def test_a_committed_file_store_of_an_older_mlflow_is_read(version, tmp_path):
    fixture = FIXTURES / f"mlflow-{version}" / "mlruns"
    project = tmp_path / "project"
    shutil.copytree(fixture, project / "mlruns")  # MLflow adds an empty .trash/ to a store it opens
    rep = build(tmp_path, project)
    assert rep.report.runs_failed == 0 and rep.report.warnings == []
    runs = check_site_against_store(tmp_path / "site", project / "mlruns", "mlruns/")
    assert set(runs) == {"sweep", "lr-0.1", "lr-0.01", "empty", "crashed"}
    assert runs["crashed"].status == "failed" and runs["lr-0.01"].parent.name == "sweep"
    assert [a.name for a in runs["lr-0.1"].artifacts] == ["docs/notes.txt"]


def test_a_run_logged_from_a_jupyter_kernel_says_it_ran_in_a_notebook(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "mlflow-2.17.2-notebook" / "mlruns", project / "mlruns")
    build(tmp_path, project)
    out = tmp_path / "site"
    runs = check_site_against_store(out, project / "mlruns", "mlruns/")
    assert runs["in-kernel"].facts["Source"].endswith("/ipykernel_launcher.py")  # what MLflow 2 recorded
    (shown,) = shown_runs(out).values()
    reproduce = (out / shown["url"]).read_text().split('class="reproduce"')[1].split("</section>")[0]
    assert "# ran in a Jupyter notebook; which one was not recorded" in reproduce
    assert "ipykernel_launcher" not in reproduce


# --- stores found under a directory root ------------------------------------------------------


def test_stores_below_a_directory_root_are_found_and_read_once(tmp_path):
    project = tmp_path / "project"
    file_store = MlflowClient((project / "exp" / "mlruns").as_uri())
    on_disk = file_store.create_run(file_store.create_experiment("disk"), run_name="a").info.run_id
    file_store.log_metric(on_disk, "loss", 0.25, step=4)
    (project / "db").mkdir()
    database = MlflowClient(f"sqlite:///{project / 'db' / 'mlflow.db'}")
    in_db = database.create_run(database.create_experiment("db"), run_name="b").info.run_id
    database.log_param(in_db, "lr", "0.3")
    database.set_terminated(in_db)
    drop_empty_folders(project / "exp" / "mlruns")
    age(project / "exp" / "mlruns")  # files written this instant are read again by the next build (racy)

    rep = build(tmp_path, project)
    out = tmp_path / "site"
    runs = shown_runs(out)
    assert sorted(runs) == [f"db/mlflow.db/db/{in_db}", f"exp/mlruns/disk/{on_disk}"]
    assert {run["root"] for run in runs.values()} == {str(project)} and rep.report.runs_failed == 0
    assert cache.load_run(str(out), runs[f"exp/mlruns/disk/{on_disk}"]["slug"]).summary == {"loss": 0.25}
    assert cache.load_run(str(out), runs[f"db/mlflow.db/db/{in_db}"]["slug"]).params == {"lr": "0.3"}
    manifest, _ = cache.load_manifest(str(out), __version__)
    assert manifest.dirs[str(project / "exp")].stores == ("mlruns",)
    assert manifest.dirs[str(project / "db")].stores == ("mlflow.db",)
    assert str(project / "exp" / "mlruns") not in manifest.dirs  # a store is not walked as run dirs
    assert build(tmp_path, project).report.runs_read == 0

    build(tmp_path, project, project / "exp" / "mlruns")  # also configured as a root: read once, as that
    assert sorted(shown_runs(out)) == [f"db/mlflow.db/db/{in_db}", f"disk/{on_disk}"]


def test_a_found_mlflow_db_that_is_not_a_store_is_left_untouched(tmp_path):
    """MLflow creates its tables in an empty database it opens: a placeholder or a Git LFS pointer
    named mlflow.db must not become one."""
    project = tmp_path / "project"
    (project / "empty").mkdir(parents=True)
    (project / "empty" / "mlflow.db").write_bytes(b"")
    (project / "lfs").mkdir()
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n"
    (project / "lfs" / "mlflow.db").write_bytes(pointer)
    (project / "app").mkdir()
    with contextlib.closing(sqlite3.connect(project / "app" / "mlflow.db")) as db:
        db.execute("CREATE TABLE notes (text)")
    rep = build(tmp_path, project)
    assert sorted(w.message for w in rep.report.warnings) == [
        f"mlflow store unreachable ({project}/app/mlflow.db holds no MLflow runs; not opened (MLflow "
        "would create its tables in it)); no runs from an earlier build"] + [
        f"mlflow store unreachable ({project}/{name}/mlflow.db is not an SQLite database (empty, or a "
        "Git LFS pointer?); not opened); no runs from an earlier build" for name in ("empty", "lfs")]
    with contextlib.closing(sqlite3.connect(project / "app" / "mlflow.db")) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]
    assert (project / "empty" / "mlflow.db").read_bytes() == b""
    assert (project / "lfs" / "mlflow.db").read_bytes() == pointer
