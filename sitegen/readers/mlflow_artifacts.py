"""Where an MLflow run's artifacts are listed from, and the bounded listing itself.

A run records where its artifacts went (`artifact_uri`). In a store that was committed, copied
or synced that is often a folder on another machine (`file:///home/someone/mlruns/0/<run>/artifacts`),
while the store holds the same folder at `<experiment id>/<run>/artifacts/`: that copy is listed.
A file store's run names its folder in a file anyone can edit (`meta.yaml`): that folder is listed
only inside the configured roots or the store (names and sizes only; nothing is published); other
schemes (`s3://`, `mlflow-artifacts:`) are not listed for a file store, whose runs are read without
MLflow. What a database or a server chose, MLflow lists.
"""

from __future__ import annotations

import os
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from sitegen.model import Artifact
from sitegen.paths import resolve_within
from sitegen.readers.mlflow_store import Item, Lister, RunView, describe
from sitegen.tracking_uri import scheme

MAX_ARTIFACTS = 200
MAX_ARTIFACT_DEPTH = 4


class Source(NamedTuple):
    """How to list a run's artifacts (`lister`; None: MLflow's client lists them), and what the
    page says about where they came from or why there are none."""

    lister: Lister | None
    fact: str = ""  # shown as the run's "Artifacts" fact
    note: str = ""  # shown in place of the files
    warning: str = ""


def nothing(_path: str | None) -> list[Item]:
    return []


def locate(view: RunView, store_dir: str | None, allowed: tuple[str, ...]) -> Source:
    """Where to list the artifacts of `view`, a run of the store in `store_dir` (the file
    store's folder, or the folder of a sqlite database; None for a server)."""
    uri = view.artifact_uri
    recorded = artifact_folder(uri)
    if view.run_dir is None:  # a database or a server chose the folder, not a file anyone can edit
        if recorded is None or os.path.isdir(recorded):
            return Source(None)
        return Source(nothing, note=f"not listed: recorded at {uri}, which is not on this machine")
    copy = os.path.join(view.run_dir, "artifacts")
    if os.path.isdir(copy):
        if recorded is not None and _same(copy, recorded):
            return Source(local_lister(copy))
        return Source(local_lister(copy), fact=f"listed from the store's copy (recorded at {uri})")
    if recorded is None:
        note = f"not listed: stored at {uri}; a file store's artifacts are listed from this machine only"
        return Source(nothing, note=note if uri else "")
    if _store_layout(recorded, view):
        return Source(nothing)  # the store's own folder, empty, dropped by git or a sync
    if os.path.isdir(recorded):
        if resolve_within(recorded, "/", (*allowed, *filter(None, [store_dir]))) is None:
            return Source(nothing, warning=f"artifacts: {uri} is outside the configured roots; not listed")
        return Source(local_lister(recorded))
    return Source(nothing, note=f"not listed: recorded at {uri}, which is not on this machine")


def artifact_folder(uri: str) -> str | None:
    """The folder of a `file:` URI or a plain path; None for any other scheme."""
    if not uri:
        return None
    if scheme(uri) is None:
        return uri if os.path.isabs(uri) else None
    return unquote(urlsplit(uri).path) if scheme(uri) == "file" else None


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _store_layout(path: str, view: RunView) -> bool:
    """`…/<experiment id>/<run>/artifacts`: a file store's folder for this run, elsewhere."""
    parts = os.path.normpath(path).split(os.sep)
    return parts[-3:] == [view.experiment_id, view.uuid, "artifacts"]


def local_lister(top: str) -> Lister:
    """A folder's entries; links are listed as files, never followed."""
    def items(path: str | None) -> list[Item]:
        found = []
        with os.scandir(os.path.join(top, path) if path else top) as entries:
            for entry in entries:
                try:
                    entry.name.encode()
                    is_dir = entry.is_dir(follow_symlinks=False)
                    size = 0 if is_dir else entry.stat(follow_symlinks=False).st_size
                except (OSError, UnicodeEncodeError):  # vanished, or a name no page can hold
                    continue
                found.append((f"{path}/{entry.name}" if path else entry.name, is_dir, size))
        return found

    return items


def listing(lister: Lister, warnings: list[str], prefix: str = "") -> list[Artifact]:
    """The files `lister` gives, breadth first and bounded, named `prefix` + their path."""
    found: list[Artifact] = []
    pending: list[tuple[str | None, int]] = [(None, 1)]
    try:
        while pending and len(found) <= MAX_ARTIFACTS:
            path, depth = pending.pop(0)
            for item_path, is_dir, size in lister(path):
                if not is_dir:
                    found.append(Artifact(prefix + item_path, size))
                elif depth < MAX_ARTIFACT_DEPTH:
                    pending.append((item_path, depth + 1))
                else:
                    found.append(Artifact(f"{prefix}{item_path}/", 0, note="not listed: nested too deeply"))
    except Exception as exc:  # e.g. an s3:// artifact root without its client library here
        warnings.append(f"artifacts: could not be listed ({describe(exc)})")
    if len(found) > MAX_ARTIFACTS:
        warnings.append(f"artifacts: only the first {MAX_ARTIFACTS} are listed")
    return sorted(found[:MAX_ARTIFACTS], key=lambda a: a.name)
