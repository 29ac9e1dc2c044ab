"""Find the runs of every root: run directories under directory roots, by names only (reusing
listings whose dir mtime is unchanged), the MLflow stores found among them (an `mlruns/` folder,
an `mlflow.db` file, by name), and the runs of each store (a store root or a found one), each
with the store's change token.

A directory whose mtime has not moved since the last build is not listed again
(on NFS a `readdir` is a round trip, a `stat` is cheap); `relist` lists everything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec

from sitegen.cache import DirEntry, RunRecord
from sitegen.readers import LAYOUT_NAMES, layout_of

SKIP_NAMES = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})
FILE_STORE_NAME = "mlruns"
DATABASE_STORE_NAME = "mlflow.db"


class Location(msgspec.Struct, frozen=True):
    root: str
    run_dir: str  # a store root's runs: the store's URI
    run_id: str
    reader: str
    token: str = ""  # a store run's change token; directory runs are judged by their files' stamps
    stamp: tuple[int, int, int, int] | None = None  # a directory run's own (`cache.stamp`), from the walk


class StoreRuns(msgspec.Struct):
    locations: list[Location]
    kept: list[RunRecord]  # the runs of unreachable stores, as the last build left them
    unreachable: list[tuple[str, str]]  # (store, why)


def find_store_runs(
    stores: Sequence[tuple[str, str]],
    known: dict[str, RunRecord],
    now_ns: int = 0,
    racy_window_s: float = 2.0,
) -> StoreRuns:
    """Every run of each MLflow store `(root, uri)`, with its change token (a file store's from
    its files' stats, taken at `now_ns`). A store that cannot be reached keeps the runs it had in
    the last build: nothing is pruned because a server is down."""
    found = StoreRuns([], [], [])
    if not stores:
        return found
    from sitegen.readers import mlflow_file_store, mlflow_store

    for root, uri in stores:
        prefix = mlflow_store.id_prefix(uri, root)
        file_store = mlflow_store.file_store_dir(uri)
        try:
            if file_store is not None:
                listed = mlflow_file_store.list_runs(file_store, prefix, now_ns, racy_window_s)
            else:
                listed = mlflow_store.list_runs(uri, prefix)
        except Exception as exc:  # MLflow, requests, SQLAlchemy and OS errors alike
            found.kept.extend(r for r in known.values() if r.root == root and r.run_dir == uri)
            found.unreachable.append((uri, mlflow_store.describe(exc)))
            continue
        found.locations.extend(Location(root, uri, run.run_id, "mlflow", run.token) for run in listed)
    return found


class Found(NamedTuple):
    locations: list[Location]  # the run directories, sorted
    dirs: dict[str, DirEntry]  # the directory listings to remember
    stores: list[tuple[str, str]]  # (root, tracking URI) of each MLflow store found under a root


def find_runs(
    roots: Sequence[str],
    known_dirs: dict[str, DirEntry],
    *,
    relist: bool = False,
    skip: Sequence[str] = (),
) -> Found:
    """All runs and MLflow stores under `roots`, and the directory listings to remember."""
    walk = Walk(roots, dict(known_dirs), relist=relist, skip=skip)
    locations = sorted(walk.runs(), key=lambda loc: (loc.root, loc.run_id))
    return Found(locations, walk.dirs, walk.stores)


class Walk:
    """The run directories under `roots`, found as `runs()` is iterated (a build looks at each
    and lets it go: at 100,000 runs a list of them would be 30 MiB); after it, `dirs` (the
    `dirs` given, updated in place) holds the listings to remember, `stores` the MLflow stores
    found and `roots_with_runs` the roots where a run or store was found."""

    def __init__(
        self, roots: Sequence[str], dirs: dict[str, DirEntry], *, relist: bool = False,
        skip: Sequence[str] = (),
    ) -> None:
        self.roots = list(roots)
        self.dirs = dirs
        self.roots_with_runs: set[str] = set()
        self._stores: dict[str, list[tuple[str, str]]] = {root: [] for root in self.roots}
        self._relist = relist
        self._skip = frozenset((st.st_dev, st.st_ino) for st in map(_stat, skip) if st)
        self._listed = 0

    def runs(self) -> Iterator[Location]:
        if len(self.roots) <= 1:  # a thread would only add its start-up to a stat-bound walk
            for root in self.roots:
                yield from self._walk(root)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(len(self.roots), 8)) as pool:
                for locations in pool.map(lambda root: list(self._walk(root)), self.roots):
                    yield from locations
        if len(self.roots) > 1 or self._listed != len(self.dirs):  # roots may overlap, or be dropped
            self.dirs = _reachable(self.dirs, self.roots)

    @property
    def stores(self) -> list[tuple[str, str]]:
        """(root, tracking URI) of each MLflow store found, in the order of the roots."""
        return [store for stores in self._stores.values() for store in stores]

    def _walk(self, root: str) -> Iterator[Location]:
        dirs, seen = self.dirs, set()  # the inodes walked: on the root's device, numbers alone
        prefix = len(root.rstrip(os.sep)) + 1  # every directory below is root + os.sep + ...
        root_device = st.st_dev if (st := _stat(root)) else None
        stack = [root]
        while stack:
            directory = stack.pop()
            st = _stat(directory)
            identity = st and (st.st_ino if st.st_dev == root_device else (st.st_dev, st.st_ino))
            if st is None or identity in seen or (st.st_dev, st.st_ino) in self._skip:
                dirs.pop(directory, None)  # vanished, a symlink loop, or the site's own output
                continue
            seen.add(identity)
            cached = dirs.get(directory)
            entry = _list(directory, st.st_mtime_ns, cached, self._relist)
            if entry is None:
                dirs.pop(directory, None)
                continue
            if entry is not cached:
                dirs[directory] = entry
                if cached is not None:
                    _forget_below(dirs, directory, cached, entry)
            self._listed += 1
            if entry.stores:
                self.roots_with_runs.add(root)
                found = (store_uri(os.path.join(directory, name)) for name in entry.stores)
                self._stores[root].extend((root, uri) for uri in found)
            if entry.reader is not None:
                self.roots_with_runs.add(root)
                run_id = directory[prefix:].replace(os.sep, "/") if directory != root else "."
                stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)  # stat'ed once per build
                yield Location(root, directory, run_id, entry.reader, stamp=stamp)
                continue
            stack.extend(_below(directory, reversed(entry.subdirs)))


def _forget_below(dirs: dict[str, DirEntry], directory: str, before: DirEntry, now: DirEntry) -> None:
    """Drop from `dirs` the listings below `directory` that its listing `now` no longer leads to."""
    kept = frozenset(now.subdirs)  # a run's directory lists none
    stack = _below(directory, [name for name in before.subdirs if name not in kept])
    while stack:
        entry = dirs.pop(path := stack.pop(), None)
        if entry is not None:
            stack.extend(_below(path, entry.subdirs))


def _reachable(dirs: dict[str, DirEntry], roots: Sequence[str]) -> dict[str, DirEntry]:
    """The listings of `dirs` that a walk of `roots` reaches: those of directories now gone
    from their parent's listing, or from roots no longer walked, are dropped."""
    kept, stack = {}, list(roots)
    while stack:
        directory = stack.pop()
        entry = dirs.get(directory)
        if entry is None or directory in kept:
            continue
        kept[directory] = entry
        if entry.reader is None:
            stack.extend(_below(directory, entry.subdirs))
    return kept


def _below(directory: str, names: Iterable[str]) -> list[str]:
    """The paths of `names` in `directory` (a root may end with a separator; names hold none)."""
    parent = directory if directory.endswith(os.sep) else directory + os.sep
    return [parent + name for name in names]


def store_uri(path: str) -> str:
    """The tracking URI of a store found at `path` (absolute, links kept: run ids are relative
    to the root as the walk saw it)."""
    path = os.path.abspath(path)
    return f"sqlite:///{path}" if os.path.basename(path) == DATABASE_STORE_NAME else Path(path).as_uri()


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


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
    stores = tuple(sorted(name for name, is_dir in items if (name, is_dir) in _STORE_ENTRIES))
    # a name that is not UTF-8 cannot be a run id: neither the cache nor a page holds it
    subdirs = tuple(sorted(
        name for name, is_dir in items
        if is_dir and not name.startswith(".") and name not in SKIP_NAMES and name not in stores
        and _is_utf8(name)
    ))
    return DirEntry(mtime_ns, () if reader else subdirs, reader, stores)


_STORE_ENTRIES = frozenset({(FILE_STORE_NAME, True), (DATABASE_STORE_NAME, False)})


def _plausible(entry: DirEntry) -> bool:
    """A listing read back from the manifest (input too) names only entries of its directory
    and a known layout: a tampered one must not lead discovery out of the roots."""
    if entry.reader is not None and entry.reader not in LAYOUT_NAMES:
        return False
    if not entry.subdirs and not entry.stores:  # most directories: a run's
        return True
    return all(name not in (".", "..") and os.sep not in name and "\0" not in name
               for name in (*entry.subdirs, *entry.stores))


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
