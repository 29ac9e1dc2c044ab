"""What a build is about to write, recorded before it writes it.

A build killed before its manifest is saved leaves files that no manifest knows. Every file a
build may leave behind (a run's pages and published files, its cache entry, a site page) is
appended to `_build/journal` before it is written; the next build removes those its own
manifest does not keep, then the journal. The journal is read back as untrusted input: only
paths that lie inside the output directory, in a form sitegen writes, are ever acted on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from sitegen import cache
from sitegen.paths import CACHE_DIR, is_site_path
from sitegen.write import remove, remove_page, stays_inside

_JOURNAL = "journal"
_OPEN = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_TEMPORARY = re.compile(r"\.tmp-[0-9]+-(.+)\.part")  # write.write_atomic's temporaries


def _path(out: str) -> str:
    return os.path.join(cache.cache_dir(out), _JOURNAL)


def announce(out: str, paths: Iterable[str]) -> None:
    """Record `paths` (relative to `out`) as about to be written. Appends are atomic between the
    build's processes; a page written after this call can always be found again."""
    data = b"".join(path.encode(errors="surrogateescape") + b"\0" for path in paths)
    if not data:
        return
    fd = os.open(_path(out), _OPEN, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def leftovers(out: str) -> set[str]:
    """The files an unfinished build may have written; empty after every finished build."""
    try:
        with open(_path(out), "rb") as handle:
            data = handle.read()
    except OSError:
        return set()
    paths = {item.decode(errors="surrogateescape") for item in data.split(b"\0") if item}
    return {path for path in paths if is_site_path(path) or _is_run_cache(path)}


def _is_run_cache(path: str) -> bool:
    return cache.slug_of_cached_run(path) is not None


def remove_temporaries(out: str, paths: Iterable[str]) -> None:
    """The temporaries a killed build left: only names `write_atomic` gives, beside a file the
    journal names, or in the cache directory, which holds nothing but sitegen's files."""
    own = (CACHE_DIR, f"{CACHE_DIR}/runs", f"{CACHE_DIR}/listings")
    expected: dict[str, set[str] | None] = dict.fromkeys(own)
    for path in paths:
        head, _, name = path.rpartition("/")
        names = expected.setdefault(head, set())
        if names is not None:
            names.add(name)
    for directory, names in expected.items():
        where = os.path.join(out, directory)
        if not stays_inside(out, where):
            continue
        try:
            entries = os.listdir(where)
        except OSError:
            continue
        for entry in entries:
            match = _TEMPORARY.fullmatch(entry)
            if match and (names is None or match.group(1) in names):
                remove(os.path.join(where, entry), stop_at=out)


def sweep(out: str, paths: set[str], keep: set[str]) -> list[str]:
    """Remove the files of `paths` that the saved manifest does not keep (site paths, and run
    caches as `cache.cached_run_path` names them); returns the site paths removed."""
    gone = []
    for path in sorted(paths - keep):
        slug = cache.slug_of_cached_run(path)
        if slug is not None:
            cache.drop_run(out, slug)
        elif remove_page(out, path):
            gone.append(path)
    return gone


def close(out: str) -> None:
    """Forget the journal: everything it named is in the manifest or removed."""
    try:
        os.unlink(_path(out))
    except FileNotFoundError:
        pass
