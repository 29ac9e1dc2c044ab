"""What the reader asks of an MLflow file store (`mlruns/`), answered from its files: MLflow's
client is never used on one. Opening a store, MLflow writes into it (`.trash/`), and it refuses a
run that lacks one of its `params/`, `metrics/`, `artifacts/` folders, which git, zip and
`aws s3 sync` drop when empty. The files say all there is:

    <store>/<experiment id>/meta.yaml              name, experiment_id, lifecycle_stage
    <store>/<experiment id>/<run uuid>/meta.yaml   run_id (1.x also run_uuid), run_name (2.x on),
        experiment_id (a string, an int before 1.x), status (1 RUNNING … 5 KILLED), start_time and
        end_time (ms), artifact_uri, lifecycle_stage
    …/params/<key>, …/tags/<key>   the value is the file's text; a key with `/` is a sub-folder
    …/metrics/<key>                one line per value: `<ms> <value> [<step> [<dataset> <digest>]]`
    <store>/<experiment id>/models/<model id>/   a logged model (MLflow 3): meta.yaml (name,
        source_run_id, status 0 UNSPECIFIED … 3 FAILED, creation_timestamp), params/, tags/,
        metrics/ (`<ms> <value> <step> <run uuid> [<dataset> <digest>]`), artifacts/
"""

from __future__ import annotations

import os
import re

from sitegen.readers._tolerant import is_storable_name, list_dir, read_bytes, read_yaml
from sitegen.readers.mlflow_artifacts import local_lister, nothing
from sitegen.readers.mlflow_store import PARENT_TAG, Lister, ModelView, RunView, as_name

STATUSES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
MODEL_STATUSES = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}
MODELS = "models"
TRASH = ".trash"
MAX_VALUE_BYTES = 1024 * 1024
MAX_METRIC_BYTES = 256 * 1024 * 1024
_RUN_UUID = re.compile(r"[0-9A-Za-z_-]{1,64}")


class RunUnreadable(Exception):
    """A run whose files cannot give it; the message says why, in words a user can act on."""


class FileSource:
    """What the reader asks of a store, answered from the files of the store in `store`."""

    def __init__(self, store: str) -> None:
        self.store = store

    def run(self, uuid: str, warnings: list[str]) -> RunView:
        run_dir = find_run_dir(self.store, uuid)
        if run_dir is None:
            raise RunUnreadable(f"run {uuid}: no <experiment>/{uuid}/meta.yaml in the store")
        read = read_run(run_dir, warnings)
        if isinstance(read, str):
            raise RunUnreadable(f"{os.path.relpath(run_dir, self.store)}: {read}")
        return read

    def experiment_name(self, experiment_id: str) -> str:
        meta, problem = read_yaml(os.path.join(self.store, experiment_id, "meta.yaml"))
        if not isinstance(meta, dict):
            raise RunUnreadable(f"experiment {experiment_id}: {problem or 'meta.yaml: not a mapping'}")
        return as_name(meta.get("name")) or experiment_id

    def children(self, view: RunView) -> list[tuple[str, str]]:
        return children(os.path.join(self.store, view.experiment_id), view.uuid)

    def artifacts(self, view: RunView) -> Lister:
        return nothing  # never asked: `mlflow_artifacts.locate` lists a file store's run itself

    def models(self, view: RunView) -> list[ModelView]:
        top = os.path.join(self.store, view.experiment_id, MODELS)
        found = []
        for model_id in list_dir(top) or ():  # the active models of the experiment, as MLflow lists them
            meta, _problem = read_yaml(os.path.join(top, model_id, "meta.yaml"))
            if (isinstance(meta, dict) and meta.get("lifecycle_stage") != "deleted"
                    and as_name(meta.get("experiment_id")) == view.experiment_id
                    and as_name(meta.get("source_run_id")) == view.uuid):
                found.append(_model(os.path.join(top, model_id), meta))
        return found


def _model(model_dir: str, meta: dict) -> ModelView:
    status = meta.get("status")
    latest: dict[tuple[str, str | None], tuple[int, int, float]] = {}
    for key, path in _files(model_dir, "metrics", []):
        data, _problem = read_bytes(path, MAX_METRIC_BYTES)
        for line in (data or b"").decode("utf-8", errors="replace").splitlines():
            parts = line.split()
            point = _metric_line(" ".join(parts[:3])) if len(parts) in (4, 6) else None
            if point is not None:  # the latest of each dataset's values, as MLflow picks it
                group = (key, parts[4] if len(parts) == 6 else None)
                latest[group] = max(latest.get(group, point), point)
    artifacts = os.path.join(model_dir, "artifacts")
    return ModelView(
        model_id=os.path.basename(model_dir), name=as_name(meta.get("name")),
        status=MODEL_STATUSES.get(status, "") if isinstance(status, int) else as_name(status),
        created_at=_millis(meta.get("creation_timestamp")), params=_values(model_dir, "params", []),
        metrics=[(key, dataset, point[2]) for (key, dataset), point in sorted(latest.items(), key=str)],
        files=local_lister(artifacts) if os.path.isdir(artifacts) else nothing,
    )


def find_run_dir(store: str, uuid: str) -> str | None:
    """`<store>/<experiment id>/<uuid>` when it holds a `meta.yaml`, else None."""
    if not _RUN_UUID.fullmatch(uuid):
        return None
    for experiment in list_dir(store) or ():
        run_dir = os.path.join(store, experiment, uuid)
        if experiment != TRASH and os.path.isfile(os.path.join(run_dir, "meta.yaml")):
            return run_dir
    return None


def read_run(run_dir: str, warnings: list[str]) -> RunView | str:
    """The run in `run_dir`, or why it cannot be read (in words a user can act on); problems
    with single files are added to `warnings`."""
    meta, problem = read_yaml(os.path.join(run_dir, "meta.yaml"))
    if not isinstance(meta, dict):
        return f"{problem or 'meta.yaml: not a mapping of run fields'}; the run's record is damaged"
    uuid = as_name(meta.get("run_id") or meta.get("run_uuid"))
    if uuid != os.path.basename(run_dir):
        return (f"meta.yaml names the run {uuid or '(nothing)'!r}, not its folder "
                f"{os.path.basename(run_dir)!r}; the run's record is damaged or was moved")
    tags = _values(run_dir, "tags", warnings)
    metrics = _metrics(run_dir, warnings)
    return RunView(
        uuid=uuid, experiment_id=as_name(meta.get("experiment_id")), name=run_name(meta, run_dir),
        status=_status(meta.get("status")),
        start_time=_millis(meta.get("start_time")), end_time=_millis(meta.get("end_time")),
        artifact_uri=as_name(meta.get("artifact_uri")), params=_values(run_dir, "params", warnings),
        tags=tags, latest=sorted((name, *_latest(points)) for name, points in metrics.items() if points),
        history=lambda name: metrics.get(name, []), run_dir=run_dir,
    )


def children(experiment_dir: str, parent_uuid: str) -> list[tuple[str, str]]:
    """(uuid, name) of the active runs in `experiment_dir` whose parent is `parent_uuid`: one
    small file per run, where MLflow's search would read every run whole (for every run)."""
    found = []
    for uuid in list_dir(experiment_dir) or ():
        run_dir = os.path.join(experiment_dir, uuid)
        if (tag_text(run_dir, PARENT_TAG) or "").strip() != parent_uuid:
            continue
        meta, _problem = read_yaml(os.path.join(run_dir, "meta.yaml"))
        if isinstance(meta, dict) and meta.get("lifecycle_stage") != "deleted":
            found.append((uuid, run_name(meta, run_dir)))
    return found


def run_name(meta: dict, run_dir: str) -> str:
    """A run's name: meta.yaml's `run_name` (MLflow 2 on), else its `mlflow.runName` tag."""
    return as_name(meta.get("run_name")) or tag_text(run_dir, "mlflow.runName") or as_name(meta.get("name"))


def tag_text(run_dir: str, key: str) -> str | None:
    """A tag's value; None when it is missing, unreadable or a link."""
    path = os.path.join(run_dir, "tags", key)
    data, _problem = (None, None) if os.path.islink(path) else read_bytes(path, MAX_VALUE_BYTES)
    return data.decode("utf-8", errors="replace") if data is not None else None


def _status(value: object) -> str:
    if isinstance(value, str):
        return value.upper()
    return STATUSES.get(value, "") if isinstance(value, int) else ""


def _millis(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _latest(points: list[tuple[int, int, float]]) -> tuple[float, int, int]:
    """MLflow's latest value: the one at the largest step, then time, then value."""
    step, stamp, value = max(points)
    return value, step, stamp


def _files(run_dir: str, folder: str, warnings: list[str]) -> list[tuple[str, str]]:
    """(key, path) of each file under `run_dir/folder`; links are not followed (a run's files are
    published, and a link could name any file on this machine)."""
    top = os.path.join(run_dir, folder)
    found = []
    for directory, subdirs, names in os.walk(top, onerror=lambda exc: None):
        subdirs[:] = sorted(d for d in subdirs if not os.path.islink(os.path.join(directory, d)))
        for name in sorted(names):
            path = os.path.join(directory, name)
            key = os.path.relpath(path, top).replace(os.sep, "/")
            if not is_storable_name(key):  # neither the cache nor a page can hold the name
                warnings.append(f"{folder}/: a file whose name is not UTF-8; skipped")
            elif os.path.islink(path):
                warnings.append(f"{folder}/{key}: a link; not followed")
            else:
                found.append((key, path))
    return found


def _values(run_dir: str, folder: str, warnings: list[str]) -> dict[str, str]:
    values = {}
    for key, path in _files(run_dir, folder, warnings):
        data, problem = read_bytes(path, MAX_VALUE_BYTES)
        if problem:
            warnings.append(f"{folder}/{key}: {problem.split(': ', 1)[-1]}")
        if data is not None:
            values[key] = data.decode("utf-8", errors="replace")
    return values


def _metrics(run_dir: str, warnings: list[str]) -> dict[str, list[tuple[int, int, float]]]:
    """Each metric's values as (step, time in ms, value), in the order they were logged."""
    metrics = {}
    for key, path in _files(run_dir, "metrics", warnings):
        data, problem = read_bytes(path, MAX_METRIC_BYTES)
        if problem:
            warnings.append(f"metrics/{key}: {problem.split(': ', 1)[-1]}")
        points, bad = [], 0
        for line in (data or b"").decode("utf-8", errors="replace").splitlines():
            point = _metric_line(line)
            if point is None:
                bad += line.strip() != ""
            else:
                points.append(point)
        if bad:
            warnings.append(f"metrics/{key}: {bad} lines are not `<time> <value> [<step>]`, skipped")
        metrics[key] = points
    return metrics


def _metric_line(line: str) -> tuple[int, int, float] | None:
    parts = line.split()
    if len(parts) not in (2, 3, 5):
        return None
    try:
        return (int(parts[2]) if len(parts) > 2 else 0), int(parts[0]), float(parts[1])
    except ValueError:
        return None
