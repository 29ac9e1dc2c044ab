"""The runs of an MLflow file store (`mlruns/`), listed from its files: MLflow is not imported, and
nothing in the store is written (MLflow's own FileStore creates `.trash/` in any store it opens).

As MLflow's `search_runs` lists them (active only): the experiments `<store>/<id>/meta.yaml`
(`.trash/` and the registry's `models/` are not experiments), and their runs
`<id>/<uuid>/meta.yaml` (`tags/`, `datasets/`, `traces/`, `models/` are not runs). A run whose
meta.yaml cannot be parsed is listed: the reader says why it cannot be read.

Each run's change token digests the stats (size, mtime) of what its page shows: its meta.yaml and
every file under params/, metrics/ and tags/; its artifact folder's names and sizes as the page
lists them; its logged models' files; its parent's name and experiment; its children's names. A
token taken while one of those files is younger than the racy window (a change within the same
mtime tick would go unseen) is never equal to the next one: the run is read again next build.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from typing import NamedTuple

import msgspec

from sitegen.readers._tolerant import MAX_YAML_BYTES, list_dir, read_bytes, read_yaml
from sitegen.readers.mlflow_artifacts import listing, local_lister
from sitegen.readers.mlflow_files import MODELS, TRASH, tag_text
from sitegen.readers.mlflow_store import PARENT_TAG, StoreRun, as_name, store_run_id

NOT_RUNS = frozenset({"tags", "datasets", "traces", MODELS})
WATCHED = ("params", "metrics", "tags")  # a run's folders whose every file its page shows

Stat = tuple[str, int, int]  # (path under the run or model folder, size, mtime_ns)


class _Run(NamedTuple):
    uuid: str
    experiment_id: str
    active: bool
    name: str
    parent: str  # the parent's uuid, "" for none
    stats: list[Stat]


def list_runs(store: str, prefix: str = "", now_ns: int = 0, racy_window_s: float = 2.0) -> list[StoreRun]:
    """Every active run of every active experiment of the store in `store`, with its change token,
    its id starting with `prefix`; raises OSError when the store cannot be listed (the caller keeps
    the runs of the last build). Files changed after `now_ns - racy_window_s` make the token unique."""
    with os.scandir(store):
        pass  # a vanished or unreadable store is unreachable, not empty
    experiments = _experiments(store)
    runs = [run for experiment_id in experiments for run in _runs(store, experiment_id)]
    by_uuid = {run.uuid: run for run in runs}
    children: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for run in runs:
        if run.active and run.parent:
            children.setdefault((run.experiment_id, run.parent), []).append((run.uuid, run.name))
    models = {experiment_id: _models(store, experiment_id) for experiment_id in experiments}
    racy_ns = now_ns - int(racy_window_s * 1e9) if now_ns else None
    listed = []
    for run in runs:
        if not run.active:
            continue
        parent = by_uuid.get(run.parent)
        state = [
            run.stats, _artifacts(os.path.join(store, run.experiment_id, run.uuid)),
            models[run.experiment_id].get(run.uuid, []),
            [run.parent, parent.name, experiments.get(parent.experiment_id)] if parent else run.parent,
            sorted(children.get((run.experiment_id, run.uuid), [])),
        ]
        if racy_ns is not None and _newest(state) >= racy_ns:
            state.append(now_ns)
        token = hashlib.blake2b(msgspec.msgpack.encode(state), digest_size=12).hexdigest()
        listed.append(StoreRun(prefix + store_run_id(experiments[run.experiment_id], run.uuid), token))
    return sorted(listed)


def _experiments(store: str) -> dict[str, str]:
    """id → name of each active experiment."""
    found = {}
    for experiment_id in list_dir(store) or ():
        if experiment_id in (TRASH, MODELS):
            continue
        meta = _meta(os.path.join(store, experiment_id, "meta.yaml"))
        if meta is not None and _active(meta, experiment_id):
            found[experiment_id] = meta.get("name") or experiment_id
    return found


def _runs(store: str, experiment_id: str) -> list[_Run]:
    """Every run of an experiment, deleted ones too (a child's page names its deleted parent)."""
    found = []
    experiment_dir = os.path.join(store, experiment_id)
    for uuid in list_dir(experiment_dir) or ():
        run_dir = os.path.join(experiment_dir, uuid)
        meta_file = os.path.join(run_dir, "meta.yaml")
        if uuid in NOT_RUNS or not os.path.isfile(meta_file):
            continue
        stats = _stats(run_dir, ("meta.yaml", *WATCHED))
        meta = _meta(meta_file)
        if meta is None:  # listed: its page says why it cannot be read
            found.append(_Run(uuid, experiment_id, True, "", "", stats))
        elif meta.get("experiment_id") == experiment_id:  # MLflow ignores a misplaced run
            parent = (tag_text(run_dir, PARENT_TAG) or "").strip()
            name = meta.get("run_name") or tag_text(run_dir, "mlflow.runName") or meta.get("name", "")
            found.append(_Run(uuid, experiment_id, _active(meta, experiment_id), name, parent, stats))
    return found


def _models(store: str, experiment_id: str) -> dict[str, list]:
    """run uuid → the stats of the models it logged in the experiment (its page shows them)."""
    found: dict[str, list] = {}
    top = os.path.join(store, experiment_id, MODELS)
    for model_id in list_dir(top) or ():
        model_dir = os.path.join(top, model_id)
        meta = _meta(os.path.join(model_dir, "meta.yaml"))
        if meta is not None and _active(meta, experiment_id):
            stats = _stats(model_dir, ("meta.yaml", "params", "metrics"))
            model = [model_id, stats, _artifacts(model_dir)]
            found.setdefault(meta.get("source_run_id", ""), []).append(model)
    return found


def _active(meta: dict[str, str], experiment_id: str) -> bool:
    return meta.get("lifecycle_stage") != "deleted" and meta.get("experiment_id") == experiment_id


_FLAT_LINE = re.compile(r"([A-Za-z_]+): ?(.*)")
_SIMPLE_VALUE = re.compile(r"""'(?:[^']|'')*'|\[\]|\{\}|(?![][{}&*!|>'"%@`#,?:-])(?:(?!: | #).)*""")
_EMPTY = ("", "null", "~", "[]", "{}")


def _meta(path: str) -> dict[str, str] | None:
    """A meta.yaml's top-level values as text (as the reader names them); None when it is missing
    or not a mapping. MLflow writes a line `key: value` each, read here as such: parsing YAML
    would be most of a no-op build's time over a large store. A file written otherwise is parsed."""
    data, _problem = read_bytes(path, MAX_YAML_BYTES)
    if data is None:
        return None
    values = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        match = _FLAT_LINE.fullmatch(line)
        if match is None or not _SIMPLE_VALUE.fullmatch(match[2]):
            return _parsed(path)
        value = match[2]
        if value[:1] == "'":
            value = value[1:-1].replace("''", "'")
        values[match[1]] = "" if value in _EMPTY else value
    return values


def _parsed(path: str) -> dict[str, str] | None:
    meta, _problem = read_yaml(path)
    if not isinstance(meta, dict):
        return None
    return {str(key): as_name(value) for key, value in meta.items() if not isinstance(value, (list, dict))}


def _stats(top: str, names: tuple[str, ...]) -> list[Stat]:
    """(path, size, mtime_ns) of each of `names` under `top` and of every file below them;
    links are stat'ed, never followed."""
    found = []
    pending = list(names)
    while pending:
        rel = pending.pop()
        try:
            info = os.lstat(os.path.join(top, rel))
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            pending.extend(f"{rel}/{name}" for name in list_dir(os.path.join(top, rel)) or ())
        else:
            found.append((rel, info.st_size, info.st_mtime_ns))
    return sorted(found)


def _artifacts(top: str) -> list[tuple[str, int]]:
    """The names and sizes of the artifacts a page lists from `top/artifacts`, as bounded there."""
    folder = os.path.join(top, "artifacts")
    if not os.path.isdir(folder):
        return []
    return [(artifact.name, artifact.size) for artifact in listing(local_lister(folder), [])]


def _newest(state: list) -> int:
    stats = [*state[0], *(stat for model in state[2] for stat in model[1])]
    return max((mtime for _rel, _size, mtime in stats), default=0)
