"""Reader for runs in an MLflow tracking store (a server, a `sqlite:///` database, an mlruns/ dir).

`run_dir` is the store's tracking URI and `run_id` is `<experiment>/<run uuid>`. The run, its
metric histories, artifacts, parent and children come from MLflow's own client; which runs
exist and which changed is discovery's part (`mlflow_store`). Never detected by walking a
directory: discovery of a store root makes the locations of its runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sitegen.model import Artifact, Problem, Run, RunRef, Scalar, Series
from sitegen.readers.base import ReadContext
from sitegen.readers.mlflow_store import (
    PARENT_TAG,
    all_pages,
    connect,
    describe,
    latest_metrics,
    run_uuid,
    store_run_id,
)
from sitegen.redact import redact_text
from sitegen.slug import run_slug

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run as MlflowRun

NAME = "mlflow"

STATUSES = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "failed",
            "RUNNING": "running", "SCHEDULED": "running"}
# system tags shown as facts, in this order; other mlflow.* tags are MLflow's bookkeeping
SYSTEM_TAGS = {
    "mlflow.user": "User",
    "mlflow.source.type": "Source type",
    "mlflow.source.name": "Source",
    "mlflow.source.git.commit": "Git commit",
    "mlflow.source.git.branch": "Git branch",
    "mlflow.source.git.repoURL": "Git repository",
    "mlflow.project.entryPoint": "Entry point",
    "mlflow.docker.image.name": "Docker image",
}
NOTE_TAG = "mlflow.note.content"
MAX_ARTIFACTS = 200
MAX_CHILDREN = 1000
MAX_ARTIFACT_DEPTH = 4


def read(run_dir: str, run_id: str, ctx: ReadContext) -> Run:
    """One MLflow run; never raises (an unreachable store or a failed request is `problem`)."""
    header = dict(run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME)
    try:
        client = connect(run_dir)
        run = client.get_run(run_uuid(run_id))
        reading = _Reading(client, run, run_id, ctx)
        fields = reading.fields()
    except Exception as exc:  # MLflow, requests, SQLAlchemy and OS errors alike: the store failed us
        problem = Problem(f"mlflow store: {describe(exc)}")
        return Run(**header, name=run_uuid(run_id), status="broken", problem=problem)
    return Run(**header, **fields, warnings=reading.warnings)


class _Reading:
    """One run being read: the client, MLflow's view of the run, and the warnings met."""

    def __init__(self, client: MlflowClient, run: MlflowRun, run_id: str, ctx: ReadContext) -> None:
        self.client = client
        self.run = run
        self.run_id = run_id
        self.ctx = ctx
        self.warnings: list[str] = []

    def fields(self) -> dict[str, object]:
        info, tags = self.run.info, self.run.data.tags
        started = _seconds(info.start_time)
        parent = self._parent()
        user_tags = [self._tag(k, v) for k, v in sorted(tags.items()) if not k.startswith("mlflow.")]
        return dict(
            name=_as_name(info.run_name) or _as_name(tags.get("mlflow.runName")) or info.run_id,
            status=STATUSES.get(info.status, "unknown"),
            badges=("killed",) if info.status == "KILLED" else (),
            created_at=started,
            ended_at=_seconds(info.end_time),
            updated_at=self._last_logged(started),
            tags=tuple(user_tags),
            notes=redact_text(tags.get(NOTE_TAG, "")),
            facts=self._facts(),
            params=dict(sorted(self.ctx.redactor.mapping(self.run.data.params).items())),
            summary=self._summary(),
            series=self._series(started),
            artifacts=self._artifacts(),
            session=parent.name if parent else None,
            parent=parent,
            children=self._children(),
        )

    # --- relations -------------------------------------------------------------------------

    def _parent(self) -> RunRef | None:
        parent_uuid = self.run.data.tags.get(PARENT_TAG)
        if not parent_uuid:
            return None
        try:
            parent = self.client.get_run(parent_uuid)
            experiment = self.run_id.rsplit("/", 1)[0]
            if parent.info.experiment_id != self.run.info.experiment_id:
                experiment = self.client.get_experiment(parent.info.experiment_id).name
        except Exception as exc:  # a deleted parent, or the store failing on this one request
            self.warnings.append(f"parent run {parent_uuid}: not found ({describe(exc)})")
            return None
        return RunRef(store_run_id(experiment, parent_uuid), _as_name(parent.info.run_name) or parent_uuid)

    def _children(self) -> tuple[RunRef, ...]:
        """The child runs in this run's experiment, by name."""
        query = f"tags.{PARENT_TAG} = '{self.run.info.run_id}'"
        experiments = [self.run.info.experiment_id]
        found = all_pages(lambda token: self.client.search_runs(experiments, query, page_token=token))
        experiment = self.run_id.rsplit("/", 1)[0]
        refs = sorted((RunRef(store_run_id(experiment, run.info.run_id),
                              _as_name(run.info.run_name) or run.info.run_id) for run in found),
                      key=lambda ref: (ref.name, ref.run_id))
        if len(refs) > MAX_CHILDREN:
            self.warnings.append(f"child runs: only the first {MAX_CHILDREN} of {len(refs)} are listed")
        return tuple(refs[:MAX_CHILDREN])

    # --- what the run is -------------------------------------------------------------------

    def _facts(self) -> dict[str, Scalar]:
        tags = self.run.data.tags
        facts: dict[str, Scalar] = {
            "Experiment": self.run_id.rsplit("/", 1)[0], "MLflow run": self.run.info.run_id,
        }
        for key, label in SYSTEM_TAGS.items():
            if tags.get(key):
                facts[label] = self._text(key, tags[key])
        return facts

    def _tag(self, key: str, value: str) -> str:
        return f"{key}:{self._text(key, value)}" if value else key

    def _text(self, key: str, value: str) -> str:
        redacted = self.ctx.redactor.value(key, value)
        return redacted if isinstance(redacted, str) else str(redacted)

    # --- metrics ---------------------------------------------------------------------------

    def _summary(self) -> dict[str, float]:
        summary, dropped = {}, []
        for name, value, _step, _time in latest_metrics(self.run):
            if math.isfinite(value):
                summary[name] = value
            else:
                dropped.append(name)
        if dropped:
            self.warnings.append(f"latest metrics: {len(dropped)} values are not finite numbers, "
                                 f"dropped ({', '.join(dropped[:5])}{', …' if len(dropped) > 5 else ''})")
        return summary

    def _last_logged(self, started: float | None) -> float | None:
        times = [t for *_rest, t in latest_metrics(self.run) if t]
        return _seconds(max(times)) if times else started

    def _series(self, started: float | None) -> dict[str, Series]:
        series = {}
        for name in sorted(self.run.data.metrics):
            points = sorted((m.step, m.timestamp, m.value) for m in self.client.get_metric_history(
                self.run.info.run_id, name))
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

    def _artifacts(self) -> list[Artifact]:
        """The run's artifact files (listed, never published), breadth first and bounded."""
        found: list[Artifact] = []
        pending: list[tuple[str | None, int]] = [(None, 1)]
        try:
            while pending and len(found) <= MAX_ARTIFACTS:
                path, depth = pending.pop(0)
                for item in self.client.list_artifacts(self.run.info.run_id, path):
                    if not item.is_dir:
                        found.append(Artifact(item.path, item.file_size or 0))
                    elif depth < MAX_ARTIFACT_DEPTH:
                        pending.append((item.path, depth + 1))
                    else:
                        found.append(Artifact(f"{item.path}/", 0, note="not listed: nested too deeply"))
        except Exception as exc:  # e.g. an s3:// artifact root without its client library here
            self.warnings.append(f"artifacts: could not be listed ({describe(exc)})")
        if len(found) > MAX_ARTIFACTS:
            self.warnings.append(f"artifacts: only the first {MAX_ARTIFACTS} are listed")
        return sorted(found[:MAX_ARTIFACTS], key=lambda a: a.name)


def _as_name(value: object) -> str:
    """A name from a store's file as MLflow reads it: a YAML value, not necessarily a string."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def _seconds(millis: int | None) -> float | None:
    return millis / 1000 if millis else None
