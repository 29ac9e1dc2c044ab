"""What `sitegen serve --watch` polls between builds: the stamps of every path a build depends on.

A poll stats known paths and lists nothing (NFS-safe, no inotify): each directory the last build
listed (adding or removing a run or a file changes its mtime), each input file of each run, the
config file, the content and theme trees, the directory roots and local tracking-store files. It
only tells when running the incremental `build()` is worth it; what that build re-reads is still
decided by `cache`.
"""

from __future__ import annotations

import os

import msgspec

from sitegen import __version__, cache, tracking_uri
from sitegen.config import Config, theme_dir

GONE = -1  # the mtime of a directory that cannot be stat'ed


class Inputs(msgspec.Struct):
    dirs: dict[str, int]  # path → mtime_ns as last seen
    files: dict[str, cache.Stamp]  # path → stamp as last seen
    racy: bool = False  # some run was read too soon after a write: build again after the window


def seen_by_build(out: str) -> Inputs:
    """The directories and run inputs as the last build in `out` saw them (from its manifest)."""
    manifest, _ = cache.load_manifest(out, __version__)
    files = {}
    for record in manifest.runs.values():
        if record.token:
            continue  # a tracking store's run: its store file is watched instead
        files.update(cache.input_stamps(record) or [])
    dirs = {path: entry.mtime_ns for path, entry in manifest.dirs.items()}
    return Inputs(dirs, files, racy=any(record.racy for record in manifest.runs.values()))


def other_inputs(config: Config, config_file: str) -> Inputs:
    """The config file, the content and theme trees, the roots and local stores, as they are now."""
    found = Inputs({}, {config_file: cache.stamp(config_file)})
    for tree in (config.content, str(theme_dir(config.theme))):
        _add_tree(found, tree)
    for root in config.roots:
        uri = tracking_uri.store_uri(root)
        if uri is None:
            found.dirs[root] = _mtime(root)
            continue
        path = tracking_uri.local_path(uri)  # a remote server's runs are not watched
        for file in (path, f"{path}-wal") if path else ():
            found.files[file] = cache.stamp(file)
    return found


def merged(before_build: Inputs, build: Inputs) -> Inputs:
    """What a build saw, over what was stat'ed before it started (so nothing moving meanwhile is lost)."""
    return Inputs({**before_build.dirs, **build.dirs}, {**before_build.files, **build.files}, build.racy)


def moved(seen: Inputs) -> bool:
    """Whether any watched path stats differently now; stops at the first one."""
    return any(_mtime(path) != mtime for path, mtime in seen.dirs.items()) or any(
        cache.stamp(path) != stamp for path, stamp in seen.files.items()
    )


def restat(seen: Inputs) -> Inputs:
    """The same paths as they stat now: what a failed build leaves to compare against."""
    return Inputs({path: _mtime(path) for path in seen.dirs},
                  {path: cache.stamp(path) for path in seen.files}, seen.racy)


def _add_tree(found: Inputs, top: str) -> None:
    found.dirs[top] = _mtime(top)
    for directory, _subdirs, names in os.walk(top):
        found.dirs[directory] = _mtime(directory)
        for name in names:
            path = os.path.join(directory, name)
            found.files[path] = cache.stamp(path)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except (OSError, ValueError):
        return GONE
