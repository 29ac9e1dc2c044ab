"""Decide whether a path named inside run data may be followed."""

from __future__ import annotations

import os
from collections.abc import Iterable


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
