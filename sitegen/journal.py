"""What a build is about to write, recorded before it writes it.

A build killed before its manifest is saved leaves files that no manifest knows. Every file a
build may leave behind (a run's pages and published files, its cache entry, a site page) is
appended to `_build/journal` before it is written; the next build removes those its own
manifest does not keep, then the journal. A Ray task writing into a shared output directory
appends to a journal of its own worker process, `_build/journal.d/<host>.<pid>` (appends from
several machines to one file are not atomic on NFS). Journals are read back as untrusted input:
only paths that lie inside the output directory, in a form sitegen writes, are ever acted on.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable

from sitegen import cache
from sitegen.errors import OutputUnwritable
from sitegen.paths import CACHE_DIR, is_site_path
from sitegen.write import remove, remove_page, stays_inside

_JOURNAL = "journal"
_WORKERS = "journal.d"
_WORKER_JOURNAL = re.compile(r"[A-Za-z0-9_.-]+\.[0-9]+")  # <host>.<pid>
_OPEN = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_TEMPORARY = re.compile(r"\.tmp-[0-9]+-(.+)\.part")  # write.write_atomic's temporaries


def _path(out: str) -> str:
    return os.path.join(cache.cache_dir(out), _JOURNAL)


def _workers_dir(out: str) -> str:
    return os.path.join(cache.cache_dir(out), _WORKERS)


def _worker_path(out: str) -> str:
    host = "".join(c if c.isalnum() or c in ".-" else "_" for c in socket.gethostname())
    return os.path.join(_workers_dir(out), f"{host}.{os.getpid()}")


def announce(out: str, paths: Iterable[str], *, per_worker: bool = False) -> None:
    """Record `paths` (relative to `out`) as about to be written. Appends are atomic between the
    build's processes on one machine; a page written after this call can always be found again.
    `per_worker`: in this process's own journal (a Ray task on any machine)."""
    data = b"".join(path.encode(errors="surrogateescape") + b"\0" for path in paths)
    if not data:
        return
    fd = _open_worker_journal(out) if per_worker else os.open(_path(out), _OPEN, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _open_worker_journal(out: str) -> int:
    directory = _workers_dir(out)
    if not stays_inside(out, directory):
        raise OutputUnwritable(f"{directory} is a link; remove it (sitegen never writes through a link)")
    os.makedirs(directory, exist_ok=True)
    return os.open(_worker_path(out), _OPEN, 0o644)


def _worker_journals(out: str) -> list[str]:
    """The workers' journals, by names of the form they are given, never through a link."""
    directory = _workers_dir(out)
    if not stays_inside(out, directory):
        return []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, name) for name in sorted(names) if _WORKER_JOURNAL.fullmatch(name)]


def leftovers(out: str) -> set[str]:
    """The files an unfinished build may have written; empty after every finished build."""
    paths = set()
    for journal in [_path(out), *_worker_journals(out)]:
        paths |= _read(journal)
    return {path for path in paths if is_site_path(path) or _is_run_cache(path)}


def _read(journal: str) -> set[str]:
    try:
        fd = os.open(journal, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
    except OSError:
        return set()
    return {item.decode(errors="surrogateescape") for item in data.split(b"\0") if item}


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
    """Forget the journals: everything they named is in the manifest or removed."""
    for journal in [_path(out), *_worker_journals(out)]:
        try:
            os.unlink(journal)
        except FileNotFoundError:
            pass
    if stays_inside(out, _workers_dir(out)):
        try:
            os.rmdir(_workers_dir(out))
        except OSError:
            pass  # none, or holding what is not a journal: left alone
