"""An MLflow tracking store behind MLflow's client (a `sqlite:///` database, a server): a client
with short timeouts, the list of its runs, each with a change token, from one sweep of
`search_runs`, and what the reader asks of it. File stores are read from their files instead
(`mlflow_file_store`, `mlflow_files`): opening one, MLflow writes into it.

The token covers everything the `mlflow` reader shows that the sweep can see (status, times,
params, tags, each metric's latest value with its step and time, the parent's name, the
children): an unchanged token means an unchanged page, so the run is not read again. Artifacts
added to a run without any other change are not seen until `--full`.

MLflow itself is imported only when such a store is configured or found: a build of directory
roots and file stores never pays for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from sitegen.redact import redact_text
from sitegen.tracking_uri import local_path, scheme

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel as MlflowLoggedModel
    from mlflow.entities import Run as MlflowRun

PAGE_SIZE = 1000  # runs per search request; MLflow's default and a server's usual maximum
EXPERIMENTS_PER_SEARCH = 50
PARENT_TAG = "mlflow.parentRunId"

# MLflow waits 120 s for an answer and retries 7 times with a growing back-off: a down or stuck
# server would hold a build for minutes. The user's own settings of these win.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    # recent MLflow refuses to open an mlruns/ file store unless told to; the runner's sink may log to one
    "MLFLOW_ALLOW_FILE_STORE": "true",
}


class StoreRun(NamedTuple):
    run_id: str  # "[<store's path under its root>/]<experiment name>/<run uuid>"
    token: str


class RunView(NamedTuple):
    """One MLflow run as the reader uses it, whether MLflow's client returned it or its files
    in a file store were read (MLflow refuses a run that lost its empty folders)."""

    uuid: str
    experiment_id: str
    name: str
    status: str  # MLflow's: FINISHED, FAILED, KILLED, RUNNING, SCHEDULED
    start_time: int | None  # ms
    end_time: int | None
    artifact_uri: str
    params: dict[str, str]
    tags: dict[str, str]
    latest: list[tuple[str, float, int, int]]  # (name, value, step, time in ms) of each metric
    history: Callable[[str], list[tuple[int, int, float]]]  # a metric's (step, time in ms, value)
    run_dir: str | None = None  # the run's folder in a file store


Item = tuple[str, bool, int]  # (path relative to the artifact root, is a folder, size)
Lister = Callable[[str | None], Iterable[Item]]  # a folder's items, the top's for None


class ModelView(NamedTuple):
    """A model an MLflow 3 run logged, from MLflow's client or from a file store's files."""

    model_id: str
    name: str
    status: str  # READY, PENDING, FAILED, …
    created_at: int | None  # ms
    params: dict[str, str]
    metrics: list[tuple[str, str | None, float]]  # (name, dataset name, value), the latest of each
    files: Lister


class ClientSource:
    """What the reader asks of a store, answered by MLflow's client."""

    def __init__(self, client: MlflowClient) -> None:
        self.client = client

    def run(self, uuid: str, _warnings: list[str]) -> RunView:
        return view_of(self.client, self.client.get_run(uuid))

    def experiment_name(self, experiment_id: str) -> str:
        return self.client.get_experiment(experiment_id).name

    def children(self, view: RunView) -> list[tuple[str, str]]:
        query = f"tags.{PARENT_TAG} = '{view.uuid}'"
        return [(run.info.run_id, as_name(run.info.run_name)) for run in all_pages(
            lambda token: self.client.search_runs([view.experiment_id], query, page_token=token))]

    def artifacts(self, view: RunView) -> Lister:
        return lambda path: [(i.path, i.is_dir, i.file_size or 0)
                             for i in self.client.list_artifacts(view.uuid, path)]

    def models(self, view: RunView) -> list[ModelView]:
        """The models `view` logged; an MLflow before 3 has none to give."""
        search = getattr(self.client, "search_logged_models", None)
        if search is None:
            return []
        experiments, query = [view.experiment_id], f"source_run_id = '{view.uuid}'"
        return [self._model(model) for model in all_pages(
            lambda token: search(experiments, query, page_token=token))]

    def _model(self, model: MlflowLoggedModel) -> ModelView:
        list_files = self.client.list_logged_model_artifacts
        return ModelView(
            model_id=model.model_id, name=as_name(model.name),
            status=as_name(getattr(model.status, "value", model.status)),
            created_at=model.creation_timestamp, params=dict(model.params or {}),
            metrics=[(m.key, m.dataset_name, m.value) for m in model.metrics or ()],
            files=lambda path: [(i.path, i.is_dir, i.file_size or 0)
                                for i in list_files(model.model_id, path)],
        )


def view_of(client: MlflowClient, run: MlflowRun) -> RunView:
    info, data = run.info, run.data
    return RunView(
        uuid=info.run_id, experiment_id=str(info.experiment_id),
        name=as_name(info.run_name) or as_name(data.tags.get("mlflow.runName")),
        status=info.status, start_time=info.start_time, end_time=info.end_time,
        artifact_uri=info.artifact_uri or "", params=dict(data.params), tags=dict(data.tags),
        latest=latest_metrics(run),
        history=lambda name: [(m.step, m.timestamp, m.value)
                              for m in client.get_metric_history(info.run_id, name)],
    )


def as_name(value: object) -> str:
    """A name from a store's file as MLflow reads it: a YAML value, not necessarily a string."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def store_folder(uri: str) -> str | None:
    """The folder a local store lives in: a file store's own, a sqlite database's parent."""
    path = local_path(uri)
    if path is None:
        return None
    return path if scheme(uri) == "file" else os.path.dirname(path)


def file_store_dir(uri: str) -> str | None:
    return local_path(uri) if scheme(uri) == "file" else None


def id_prefix(uri: str, root: str) -> str:
    """What the run ids of the store at `uri` start with: nothing when the store is the root
    itself, else its path under the directory root it was found in (`mlruns/`, `sub/mlflow.db/`)."""
    path = local_path(uri)
    if uri == root or path is None:
        return ""
    return os.path.relpath(path, root).replace(os.sep, "/") + "/"


def connect(uri: str) -> MlflowClient:
    """A client for the store at `uri` (one per process and store)."""
    key = (os.getpid(), uri)
    if key not in _clients:
        for name, value in CLIENT_ENV.items():
            os.environ.setdefault(name, value)
        from mlflow import MlflowClient

        _forget_connections_in_forked_children()
        _clients[key] = MlflowClient(tracking_uri=uri)
    return _clients[key]


_clients: dict[tuple[int, str], MlflowClient] = {}
_fork_hook_registered = False


def _forget_connections_in_forked_children() -> None:
    """Build workers are forked after discovery used the store: a child must not share its
    parent's database connections (SQLAlchemy's rule for engines across fork). MLflow's HTTP
    sessions are per process already."""
    global _fork_hook_registered
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_dispose_inherited_engines)
        _fork_hook_registered = True


def _dispose_inherited_engines() -> None:
    store = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    engines = getattr(getattr(store, "SqlAlchemyStore", None), "_engine_map", {})
    for engine in list(engines.values()):
        try:
            engine.dispose(close=False)  # new pool in the child; the parent's connections untouched
        except Exception:  # an engine we cannot reset is no reason to stop a build
            pass


def list_runs(uri: str, prefix: str = "") -> list[StoreRun]:
    """Every active run of every active experiment, with its change token, its id starting
    with `prefix`; raises when the store cannot be reached (the caller keeps the runs of the
    last build)."""
    if scheme(uri) == "sqlite":
        check_database(local_path(uri) or "")
    client = connect(uri)
    experiments = all_pages(lambda token: client.search_experiments(page_token=token))
    names = {e.experiment_id: e.name for e in experiments}
    ids = sorted(names)
    runs: list[MlflowRun] = []
    for start in range(0, len(ids), EXPERIMENTS_PER_SEARCH):
        chunk = ids[start:start + EXPERIMENTS_PER_SEARCH]
        runs += all_pages(lambda token, chunk=chunk: client.search_runs(
            chunk, max_results=PAGE_SIZE, page_token=token))
    by_uuid = {run.info.run_id: run for run in runs}
    children: dict[str, list[str]] = {}
    for run in runs:
        parent = run.data.tags.get(PARENT_TAG)
        if parent:
            children.setdefault(parent, []).append(run.info.run_id)
    listed = []
    for run in runs:
        parent = by_uuid.get(run.data.tags.get(PARENT_TAG, ""))
        related = [parent.info.run_name if parent else None, sorted(children.get(run.info.run_id, []))]
        experiment = names.get(run.info.experiment_id, run.info.experiment_id)
        run_id = prefix + store_run_id(experiment, run.info.run_id)
        listed.append(StoreRun(run_id, change_token(run, related)))
    return sorted(listed)


class NotAStore(Exception):
    pass


SQLITE_HEADER = b"SQLite format 3\0"


def check_database(path: str) -> None:
    """Refuse a file that is not an MLflow database before MLflow opens it: on an empty file or
    a database without its tables MLflow creates them, writing into the user's file."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise NotAStore(f"{path}: {exc.strerror or exc}") from None
    if header != SQLITE_HEADER:
        raise NotAStore(f"{path} is not an SQLite database (empty, or a Git LFS pointer?); not opened")
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)) as db:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
            found = db.execute(query).fetchone()
    except sqlite3.Error as exc:
        raise NotAStore(f"{path}: {exc}") from None
    if found is None:
        raise NotAStore(f"{path} holds no MLflow runs; not opened (MLflow would create its tables in it)")


def all_pages(search: Callable[[str | None], Any]) -> list:
    """Every item of a paged MLflow search (`search(page_token)` returns a PagedList)."""
    items: list = []
    token = None
    while True:
        page = search(token)
        items.extend(page)
        token = page.token
        if not token:
            return items


def store_run_id(experiment: str, run_uuid: str) -> str:
    return f"{experiment}/{run_uuid}"


def run_uuid(run_id: str) -> str:
    return run_id.rsplit("/", 1)[-1]


def latest_metrics(run: MlflowRun) -> list[tuple[str, float, int, int]]:
    """(name, value, step, time in ms) of each metric's latest value."""
    return sorted((m.key, m.value, m.step, m.timestamp) for m in run.data.to_proto().metrics)


def change_token(run: MlflowRun, related: object = None) -> str:
    """A digest of what a search returns for `run` (and of `related`, what its page shows of
    other runs): equal tokens, equal pages."""
    info = run.info
    state = [
        info.status, info.start_time, info.end_time, info.lifecycle_stage, info.run_name,
        info.artifact_uri, latest_metrics(run), sorted(run.data.params.items()),
        sorted(run.data.tags.items()), related,
    ]
    return hashlib.blake2b(msgspec.msgpack.encode(state), digest_size=12).hexdigest()


_REASONS = (
    (re.compile(r"Connection refused|Failed to establish a new connection", re.I), "connection refused"),
    (re.compile(r"timed? ?out", re.I), "no answer in time"),
    (re.compile(r"Name or service not known|nodename nor servname|getaddrinfo failed", re.I), "unknown host"),
)


def describe(exc: BaseException) -> str:
    """One short line for why the store could not be used."""
    if isinstance(exc, ImportError) and (exc.name or "").startswith("mlflow"):
        return "MLflow is not installed where sitegen runs; install it with pip install 'sitegen[mlflow]'"
    text = str(exc)
    for pattern, reason in _REASONS:
        if pattern.search(text):
            return reason
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return redact_text(first[:200])
