"""Reader for runs in an MLflow tracking store (a server, a `sqlite:///` database, an mlruns/ dir).

`run_dir` is the store's tracking URI and `run_id` is `<experiment>/<run uuid>`. The run, its
metric histories, artifacts, parent, children and logged models come from the store's files in
a file store (`mlflow_files`), else from MLflow's own client (`mlflow_store`); which runs exist
and which changed is discovery's part (`mlflow_file_store`, `mlflow_store`). Never detected by
walking a directory: discovery of a store root makes the locations of its runs.
"""

from __future__ import annotations

import math

from sitegen.model import Artifact, LoggedModel, Problem, Run, RunRef, Scalar, Series
from sitegen.readers import mlflow_artifacts
from sitegen.readers.base import ReadContext
from sitegen.readers.mlflow_files import FileSource
from sitegen.readers.mlflow_store import (
    PARENT_TAG,
    ClientSource,
    ModelView,
    RunView,
    connect,
    describe,
    file_store_dir,
    id_prefix,
    run_uuid,
    store_folder,
    store_run_id,
)
from sitegen.redact import redact_text
from sitegen.slug import run_slug

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
        source = _source(run_dir)
        view = source.run(run_uuid(run_id), warnings)
        fields = _Reading(source, run_dir, view, run_id, ctx, warnings).fields()
    except Exception as exc:  # MLflow, requests, SQLAlchemy and OS errors alike: the store failed us
        problem = Problem(f"mlflow store: {describe(exc)}")
        return Run(**header, name=run_uuid(run_id), status="broken", problem=problem)
    return Run(**header, **fields, warnings=warnings)


Source = FileSource | ClientSource


def _source(uri: str) -> Source:
    """A file store is read from its files (MLflow would write into it); others through MLflow."""
    store = file_store_dir(uri)
    return FileSource(store) if store is not None else ClientSource(connect(uri))


class _Reading:
    """One run being read: where from, the run, and the warnings met."""

    def __init__(self, source: Source, uri: str, view: RunView, run_id: str, ctx: ReadContext,
                 warnings: list[str]) -> None:
        self.source = source
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
            parent = self.source.run(parent_uuid, [])
            experiment = self.experiment
            if parent.experiment_id != self.view.experiment_id:
                experiment = self.source.experiment_name(parent.experiment_id)
        except Exception as exc:  # a deleted parent, or the store failing on this one request
            self.warnings.append(f"parent run {parent_uuid}: not found ({describe(exc)})")
            return None
        return RunRef(self.prefix + store_run_id(experiment, parent_uuid), parent.name or parent_uuid)

    def _children(self) -> tuple[RunRef, ...]:
        """The child runs in this run's experiment, by name."""
        found = self.source.children(self.view)
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
        return mlflow_artifacts.listing(source.lister or self.source.artifacts(self.view), self.warnings)


    # --- logged models (MLflow 3) -----------------------------------------------------------

    def _models(self) -> list[LoggedModel]:
        """The models this run logged (MLflow 3)."""
        try:
            found = self.source.models(self.view)
        except Exception as exc:  # the store failing on this request, or a server without models
            self.warnings.append(f"logged models: could not be listed ({describe(exc)})")
            return []
        return sorted((self._model(model) for model in found), key=lambda m: (m.name, m.model_id))

    def _model(self, model: ModelView) -> LoggedModel:
        metrics = {}
        for name, dataset, value in model.metrics:
            if math.isfinite(value):
                metrics[f"{name} ({dataset})" if dataset else name] = value
        return LoggedModel(
            name=model.name or model.model_id, model_id=model.model_id, status=model.status,
            created_at=_seconds(model.created_at),
            params=dict(sorted(self.ctx.redactor.mapping(model.params).items())),
            metrics=dict(sorted(metrics.items())),
            files=mlflow_artifacts.listing(model.files, self.warnings),
        )


def _seconds(millis: int | None) -> float | None:
    return millis / 1000 if millis else None
