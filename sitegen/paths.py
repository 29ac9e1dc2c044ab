"""Decide whether a path named inside run data may be followed, and whether a path read back
from the build's own files (manifest, journal, cache) has the form of one sitegen writes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

CACHE_DIR = "_build"  # in the output directory: the manifest, the run cache, the journal, the lock


def resolve_within(path: str, base: str, allowed: Iterable[str]) -> str | None:
    """`path` (relative to `base` when not absolute), resolved, if it lies inside an allowed dir.

    Symlinks are resolved first, so a link cannot lead out of the allowed dirs.
    """
    try:
        real = os.path.realpath(os.path.join(base, os.path.expanduser(path)))
    except (OSError, ValueError):
        return None
    for root in allowed:
        root_real = os.path.realpath(root)
        if real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep):
            return real
    return None


def is_site_path(path: str) -> bool:
    """Whether `path` has the form of a file sitegen writes in its output: relative, `/`-separated,
    with no empty, `.` or `..` part, outside the cache directory (the cache, the build's
    journal and the manifest are input too: a path read from them is checked before use)."""
    parts = path.split("/")
    return (
        bool(path) and "\0" not in path and "\\" not in path and not os.path.isabs(path)
        and parts[0] != CACHE_DIR and all(part not in ("", ".", "..") for part in parts)
    )


def is_slug(text: str) -> bool:
    """Whether `text` is a run slug as `slug.run_slug` makes it (a path component, never a dot name)."""
    return _SLUG.fullmatch(text) is not None


_SLUG = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,80}")
