"""Whether a build may write into its output directory, decided before it creates anything there.

Allowed: a directory that does not exist yet, an empty one, or one sitegen made (its `_build/`
holds sitegen's cache). Refused: a run root, a directory holding a root (an output inside a
root is fine: discovery skips it), and a directory some other tool or person filled, unless the
user says so (`--allow-foreign-out`): the build would replace its `index.html`, `runs.json` ….
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sitegen import cache, tracking_uri
from sitegen.errors import OutputRefused

FLAG = "--allow-foreign-out"
# in _build/, also early on (and an older sitegen's manifest.msgpack)
_OURS = frozenset({"manifest-snapshot.msgpack", "manifest-log", "listings", "lock", "runs", "report.json",
                   "journal", "journal.d", "manifest.msgpack"})


def check_out_dir(out: str, roots: Sequence[str], *, allow_foreign: bool = False) -> None:
    """Raise OutputRefused, saying what to do, when the build must not write into `out`."""
    real_out = os.path.realpath(out)
    for root in roots:
        path = root if tracking_uri.scheme(root) is None else tracking_uri.local_path(root)
        if path is None:
            continue  # a tracking server: nothing on this disk
        real_root = os.path.realpath(path)
        if real_root == real_out:
            raise OutputRefused(f"the output directory {out} is the root {root}: the site would be "
                                "written among your runs; choose another --out or 'out' in sitegen.yaml")
        if os.path.commonpath([real_out, real_root]) == real_out:
            raise OutputRefused(f"the output directory {out} holds the root {root}; choose an --out "
                                "or 'out' in sitegen.yaml that is not above your runs")
    if os.path.islink(cache.cache_dir(out)):
        raise OutputRefused(f"{cache.cache_dir(out)} is a link; remove it (sitegen keeps its cache and "
                            "lock inside the output directory, never through a link)")
    if allow_foreign or not os.path.isdir(out) or made_by_sitegen(out) or _is_empty(out):
        return
    raise OutputRefused(f"the output directory {out} is not empty and was not made by sitegen (no "
                        f"{cache.CACHE_DIR}/ of its own); choose a new or empty --out, or pass {FLAG} "
                        "to write the site into it anyway")


def made_by_sitegen(out: str) -> bool:
    """Whether `out` holds sitegen's build cache: a finished build's manifest, a running or killed
    one's lock, or what a first build that failed early left (nothing, or runs read so far).
    Another tool's `_build/` (Sphinx's `html/`, `doctrees/` …) is not ours."""
    try:
        names = os.listdir(cache.cache_dir(out))
    except OSError:
        return False
    return not names or not _OURS.isdisjoint(names)


def _is_empty(directory: str) -> bool:
    with os.scandir(directory) as entries:  # unreadable: the OSError is the one line to show
        return next(entries, None) is None
