"""Wait out the build's racy window after a change, by computing when it ends.

A build reads a run again when one of its files was modified within `build.racy_window_s` before
the build started (a same-size rewrite within one mtime tick would otherwise go unseen), and the
build after it reads the run once more. A timed no-op right after a change would therefore read
the changed run: the benchmark waits until the newest file it changed is older than the window.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import sitegen


def configured_window_s(config_file: Path) -> float:
    """`build.racy_window_s` of the config the timed builds use (its default without the file)."""
    return sitegen.load_config(str(config_file) if config_file.exists() else None).build.racy_window_s


def newest_mtime_ns(paths: Iterable[Path]) -> int:
    """The newest mtime among these files and directories and everything below the directories."""
    newest = 0
    for path in paths:
        newest = max(newest, os.lstat(path).st_mtime_ns)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                for name in (*dirnames, *filenames):
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime_ns)
    return newest


def window_ends_ns(changed_mtime_ns: int, window_s: float) -> int:
    """The first instant at which a build that starts sees the change as settled (the build
    calls a file racy while its mtime ≥ start − window)."""
    return changed_mtime_ns + int(window_s * 1e9) + 1


def wait_until_ns(deadline_ns: int, clock: Callable[[], int] = time.time_ns,
                  sleep: Callable[[float], None] = time.sleep) -> float:
    """Sleep until the wall clock has passed `deadline_ns`; return the seconds waited."""
    waited = 0.0
    while (remaining := deadline_ns - clock()) > 0:
        seconds = remaining / 1e9
        sleep(seconds)
        waited += seconds
    return waited


def wait_out(changed: Iterable[Path], window_s: float, longest_s: float = 600) -> float:
    """Wait until a build starting now calls none of `changed` racy; the seconds waited. A file
    dated more than `longest_s` ahead would keep every build reading it: that is an error."""
    changed = list(changed)
    deadline_ns = window_ends_ns(newest_mtime_ns(changed), window_s)
    ahead_s = (deadline_ns - time.time_ns()) / 1e9
    if ahead_s > longest_s:
        raise ValueError(f"a file under {', '.join(map(str, changed))} is dated {ahead_s:,.0f} s ahead "
                         "of the clock: builds would read it again forever")
    return wait_until_ns(deadline_ns)
