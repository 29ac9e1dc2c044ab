"""Find the runs of every root: run directories under directory roots, by names only (reusing
listings whose dir mtime is unchanged), and the runs of tracking-store roots (MLflow), each
with the store's change token.

A directory whose mtime has not moved since the last build is not listed again
(on NFS a `readdir` is a round trip, a `stat` is cheap); `relist` lists everything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import msgspec

from sitegen.cache import DirEntry, RunRecord
from sitegen.readers import LAYOUT_NAMES, layout_of

SKIP_NAMES = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})


class Location(msgspec.Struct, frozen=True):
    root: str
    run_dir: str  # a store root's runs: the store's URI
    run_id: str
    reader: str
    token: str = ""  # a store run's change token; directory runs are judged by their files' stamps


class StoreRuns(msgspec.Struct):
    locations: list[Location]
    kept: list[RunRecord]  # the runs of unreachable stores, as the last build left them
    unreachable: list[tuple[str, str]]  # (store, why)


def find_store_runs(uris: Sequence[str], known: dict[str, RunRecord]) -> StoreRuns:
    """Every run of each MLflow store, with its change token. A store that cannot be reached
    keeps the runs it had in the last build: nothing is pruned because a server is down."""
    found = StoreRuns([], [], [])
    if not uris:
        return found
    from sitegen.readers import mlflow_store

    for uri in uris:
        try:
            listed = mlflow_store.list_runs(uri)
        except Exception as exc:  # MLflow, requests, SQLAlchemy and OS errors alike
            found.kept.extend(record for record in known.values() if record.root == uri)
            found.unreachable.append((uri, mlflow_store.describe(exc)))
            continue
        found.locations.extend(Location(uri, uri, run.run_id, "mlflow", run.token) for run in listed)
    return found


def find_runs(
    roots: Sequence[str],
    known_dirs: dict[str, DirEntry],
    *,
    relist: bool = False,
    skip: Sequence[str] = (),
) -> tuple[list[Location], dict[str, DirEntry]]:
    """All runs under `roots` (sorted) and the directory listings to remember."""
    skip_ids = frozenset(ident[:2] for ident in map(_identity, skip) if ident)
    if len(roots) <= 1:  # a thread would only add its start-up to a stat-bound walk
        results = [_walk(root, known_dirs, relist, skip_ids) for root in roots]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(roots), 8)) as pool:
            results = list(pool.map(lambda root: _walk(root, known_dirs, relist, skip_ids), roots))
    locations: list[Location] = []
    dirs: dict[str, DirEntry] = {}
    for found, listed in results:
        locations.extend(found)
        dirs.update(listed)
    locations.sort(key=lambda loc: (loc.root, loc.run_id))
    return locations, dirs


def _walk(
    root: str, known: dict[str, DirEntry], relist: bool, skip: frozenset[tuple[int, int]]
) -> tuple[list[Location], dict[str, DirEntry]]:
    found: list[Location] = []
    listed: dict[str, DirEntry] = {}
    seen: set[tuple[int, int]] = set()
    prefix = len(root.rstrip(os.sep)) + 1  # every directory below is root + os.sep + ...
    stack = [root]
    while stack:
        directory = stack.pop()
        identity = _identity(directory)
        if identity is None or identity[:2] in seen or identity[:2] in skip:
            continue  # vanished, a symlink loop, or the site's own output
        seen.add(identity[:2])
        entry = _list(directory, identity[2], known.get(directory), relist)
        if entry is None:
            continue
        listed[directory] = entry
        if entry.reader is not None:
            run_id = directory[prefix:].replace(os.sep, "/") if directory != root else "."
            found.append(Location(root, directory, run_id, entry.reader))
            continue
        stack.extend(os.path.join(directory, name) for name in reversed(entry.subdirs))
    return found, listed


def _identity(path: str) -> tuple[int, int, int] | None:
    """(device, inode, mtime_ns) of a directory, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


def _list(directory: str, mtime_ns: int, cached: DirEntry | None, relist: bool) -> DirEntry | None:
    if cached is not None and cached.mtime_ns == mtime_ns and not relist and _plausible(cached):
        return cached
    try:
        with os.scandir(directory) as entries:
            items = [(e.name, _is_dir(e)) for e in entries]
    except (OSError, ValueError):
        return None
    names = frozenset(name for name, _ in items)
    reader = layout_of(os.path.basename(directory), names)
    subdirs = sorted(  # a name that is not UTF-8 cannot be a run id: neither the cache nor a page holds it
        name for name, is_dir in items
        if is_dir and not name.startswith(".") and name not in SKIP_NAMES and _is_utf8(name)
    )
    return DirEntry(mtime_ns, [] if reader else subdirs, reader)


def _plausible(entry: DirEntry) -> bool:
    """A listing read back from the manifest (input too) names only entries of its directory
    and a known layout: a tampered one must not lead discovery out of the roots."""
    return (entry.reader is None or entry.reader in LAYOUT_NAMES) and all(
        name not in (".", "..") and os.sep not in name and "\0" not in name for name in entry.subdirs
    )


def _is_utf8(name: str) -> bool:
    """False for a name whose bytes are not UTF-8 (Python holds them as lone surrogates)."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
