"""Reader for runs in an MLflow tracking store (a server, a `sqlite:///` database, an mlruns/ dir).

`run_dir` is the store's tracking URI and `run_id` is `<experiment>/<run uuid>`. The run, its
metric histories, artifacts, parent and children come from MLflow's own client; which runs
exist and which changed is discovery's part (`mlflow_store`). Never detected by walking a
directory: discovery of a store root makes the locations of its runs.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from sitegen.model import Artifact, LoggedModel, Problem, Run, RunRef, Scalar, Series
from sitegen.readers import mlflow_artifacts, mlflow_files
from sitegen.readers.base import ReadContext
from sitegen.readers.mlflow_store import (
    PARENT_TAG,
    RunView,
    all_pages,
    as_name,
    connect,
    describe,
    file_store_dir,
    id_prefix,
    run_uuid,
    store_folder,
    store_run_id,
    view_of,
)
from sitegen.redact import redact_text
from sitegen.slug import run_slug

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel as MlflowLoggedModel

NAME = "mlflow"

STATUSES = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "failed",
            "RUNNING": "running", "SCHEDULED": "running"}
# system tags shown as facts, in this order; other mlflow.* tags are MLflow's bookkeeping
SYSTEM_TAGS = {
    "mlflow.user": "User",
    "mlflow.source.type": "Source type",
    "mlflow.source.name": "Source",
    "mlflow.databricks.notebookPath": "Notebook",
    "mlflow.source.git.commit": "Git commit",
    "mlflow.source.git.branch": "Git branch",
    "mlflow.source.git.repoURL": "Git repository",
    "mlflow.project.entryPoint": "Entry point",
    "mlflow.docker.image.name": "Docker image",
}
NOTE_TAG = "mlflow.note.content"
MAX_CHILDREN = 1000


def read(run_dir: str, run_id: str, ctx: ReadContext) -> Run:
    """One MLflow run; never raises (an unreachable store or a failed request is `problem`)."""
    header = dict(run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME)
    warnings: list[str] = []
    try:
        client = connect(run_dir)
        view = _fetch(client, run_dir, run_uuid(run_id), warnings)
        reading = _Reading(client, run_dir, view, run_id, ctx, warnings)
        fields = reading.fields()
    except Exception as exc:  # MLflow, requests, SQLAlchemy and OS errors alike: the store failed us
        problem = Problem(f"mlflow store: {describe(exc)}")
        return Run(**header, name=run_uuid(run_id), status="broken", problem=problem)
    return Run(**header, **fields, warnings=warnings)


class RunUnreadable(Exception):
    """A run that neither MLflow nor its files in a file store can give."""


def _fetch(client: MlflowClient, uri: str, uuid: str, warnings: list[str]) -> RunView:
    """The run as MLflow's client gives it; in a file store, from its files when MLflow
    refuses it (a committed or synced store lacks the empty folders MLflow insists on)."""
    try:
        return view_of(client, client.get_run(uuid))
    except Exception as exc:
        store = file_store_dir(uri)
        run_dir = mlflow_files.find_run_dir(store, uuid) if store else None
        if run_dir is None:
            raise
        read = mlflow_files.read_run(run_dir, warnings)
        if isinstance(read, str):
            where = os.path.relpath(run_dir, store)
            raise RunUnreadable(f"{where}: {read} (MLflow: {describe(exc)})") from exc
        return read


class _Reading:
    """One run being read: the client, the run, and the warnings met."""

    def __init__(self, client: MlflowClient, uri: str, view: RunView, run_id: str, ctx: ReadContext,
                 warnings: list[str]) -> None:
        self.client = client
        self.uri = uri
        self.view = view
        self.run_id = run_id
        self.prefix = id_prefix(uri, ctx.root)
        self.experiment = run_id[len(self.prefix):].rsplit("/", 1)[0]
        self.ctx = ctx
        self.warnings = warnings

    def fields(self) -> dict[str, object]:
        view, tags = self.view, self.view.tags
        started = _seconds(view.start_time)
        parent = self._parent()
        artifacts = mlflow_artifacts.locate(view, store_folder(self.uri), self.ctx.allowed)
        user_tags = [self._tag(k, v) for k, v in sorted(tags.items()) if not k.startswith("mlflow.")]
        return dict(
            name=view.name or view.uuid,
            status=STATUSES.get(view.status, "unknown"),
            badges=("killed",) if view.status == "KILLED" else (),
            created_at=started,
            ended_at=_seconds(view.end_time),
            updated_at=self._last_logged(started),
            tags=tuple(user_tags),
            notes=redact_text(tags.get(NOTE_TAG, "")),
            facts=self._facts(artifacts.fact),
            params=dict(sorted(self.ctx.redactor.mapping(view.params).items())),
            summary=self._summary(),
            series=self._series(started),
            artifacts=self._artifacts(artifacts),
            models=self._models(),
            session=parent.name if parent else None,
            parent=parent,
            children=self._children(),
        )

    # --- relations -------------------------------------------------------------------------

    def _parent(self) -> RunRef | None:
        parent_uuid = self.view.tags.get(PARENT_TAG)
        if not parent_uuid:
            return None
        try:
            parent = _fetch(self.client, self.uri, parent_uuid, [])
            experiment = self.experiment
            if parent.experiment_id != self.view.experiment_id:
                experiment = self.client.get_experiment(parent.experiment_id).name
        except Exception as exc:  # a deleted parent, or the store failing on this one request
            self.warnings.append(f"parent run {parent_uuid}: not found ({describe(exc)})")
            return None
        return RunRef(self.prefix + store_run_id(experiment, parent_uuid), parent.name or parent_uuid)

    def _children(self) -> tuple[RunRef, ...]:
        """The child runs in this run's experiment, by name."""
        store = file_store_dir(self.uri)
        if store is not None:  # MLflow's search would read every run of the experiment whole
            found = mlflow_files.children(os.path.join(store, self.view.experiment_id), self.view.uuid)
        else:
            query = f"tags.{PARENT_TAG} = '{self.view.uuid}'"
            experiments = [self.view.experiment_id]
            found = [(run.info.run_id, as_name(run.info.run_name)) for run in all_pages(
                lambda token: self.client.search_runs(experiments, query, page_token=token))]
        refs = sorted((RunRef(self.prefix + store_run_id(self.experiment, uuid), name or uuid)
                       for uuid, name in found), key=lambda ref: (ref.name, ref.run_id))
        if len(refs) > MAX_CHILDREN:
            self.warnings.append(f"child runs: only the first {MAX_CHILDREN} of {len(refs)} are listed")
        return tuple(refs[:MAX_CHILDREN])

    # --- what the run is -------------------------------------------------------------------

    def _facts(self, artifacts: str) -> dict[str, Scalar]:
        tags = self.view.tags
        facts: dict[str, Scalar] = {"Experiment": self.experiment, "MLflow run": self.view.uuid}
        for key, label in SYSTEM_TAGS.items():
            if tags.get(key):
                facts[label] = self._text(key, tags[key])
        if artifacts:
            facts["Artifacts"] = redact_text(artifacts)
        return facts

    def _tag(self, key: str, value: str) -> str:
        return f"{key}:{self._text(key, value)}" if value else key

    def _text(self, key: str, value: str) -> str:
        redacted = self.ctx.redactor.value(key, value)
        return redacted if isinstance(redacted, str) else str(redacted)

    # --- metrics ---------------------------------------------------------------------------

    def _summary(self) -> dict[str, float]:
        summary, dropped = {}, []
        for name, value, _step, _time in self.view.latest:
            if math.isfinite(value):
                summary[name] = value
            else:
                dropped.append(name)
        if dropped:
            self.warnings.append(f"latest metrics: {len(dropped)} values are not finite numbers, "
                                 f"dropped ({', '.join(dropped[:5])}{', …' if len(dropped) > 5 else ''})")
        return summary

    def _last_logged(self, started: float | None) -> float | None:
        times = [t for *_rest, t in self.view.latest if t]
        return _seconds(max(times)) if times else started

    def _series(self, started: float | None) -> dict[str, Series]:
        series = {}
        for name in sorted({name for name, *_rest in self.view.latest}):
            points = sorted(self.view.history(name))
            kept = [(step, stamp, value) for step, stamp, value in points if math.isfinite(value)]
            if len(kept) < len(points):
                self.warnings.append(f"metric {name}: {len(points) - len(kept)} values are not finite "
                                     "numbers, dropped")
            if not kept:
                continue
            origin = started if started is not None else kept[0][1] / 1000
            series[name] = Series(
                y=[value for *_x, value in kept],
                x={"step": [float(step) for step, *_rest in kept],
                   "time": [round(stamp / 1000 - origin, 3) for _step, stamp, _value in kept]},
            )
        return series

    # --- artifacts -------------------------------------------------------------------------

    def _artifacts(self, source: mlflow_artifacts.Source) -> list[Artifact]:
        """The run's artifact files (listed, never published)."""
        if source.warning:
            self.warnings.append(source.warning)
        if source.note:
            return [Artifact("artifacts/", 0, note=redact_text(source.note))]
        uuid = self.view.uuid

        def from_client(path: str | None) -> list[mlflow_artifacts.Item]:
            return [(i.path, i.is_dir, i.file_size or 0) for i in self.client.list_artifacts(uuid, path)]

        return mlflow_artifacts.listing(source.lister or from_client, self.warnings)


    # --- logged models (MLflow 3) -----------------------------------------------------------

    def _models(self) -> list[LoggedModel]:
        """The models this run logged; an MLflow before 3 has none to give."""
        search = getattr(self.client, "search_logged_models", None)
        if search is None:
            return []
        experiments, query = [self.view.experiment_id], f"source_run_id = '{self.view.uuid}'"
        try:
            found = all_pages(lambda token: search(experiments, query, page_token=token))
        except Exception as exc:  # the store failing on this request, or a server without models
            self.warnings.append(f"logged models: could not be listed ({describe(exc)})")
            return []
        return sorted((self._model(model) for model in found), key=lambda m: (m.name, m.model_id))

    def _model(self, model: MlflowLoggedModel) -> LoggedModel:
        metrics = {}
        for metric in model.metrics or ():
            key = f"{metric.key} ({metric.dataset_name})" if metric.dataset_name else metric.key
            if math.isfinite(metric.value):
                metrics[key] = metric.value
        status = getattr(model.status, "value", model.status)
        return LoggedModel(
            name=as_name(model.name) or model.model_id, model_id=model.model_id,
            status=as_name(status), created_at=_seconds(model.creation_timestamp),
            params=dict(sorted(self.ctx.redactor.mapping(model.params or {}).items())),
            metrics=dict(sorted(metrics.items())),
            files=mlflow_artifacts.listing(self._model_files(model.model_id), self.warnings),
        )

    def _model_files(self, model_id: str) -> mlflow_artifacts.Lister:
        """A model's files: the store's copy in a file store, else as MLflow lists them."""
        store = file_store_dir(self.uri)
        if store is None:
            return lambda path: [(i.path, i.is_dir, i.file_size or 0)
                                 for i in self.client.list_logged_model_artifacts(model_id, path)]
        copy = os.path.join(store, self.view.experiment_id, "models", model_id, "artifacts")
        return mlflow_artifacts.local_lister(copy) if os.path.isdir(copy) else mlflow_artifacts.nothing


def _seconds(millis: int | None) -> float | None:
    return millis / 1000 if millis else None
