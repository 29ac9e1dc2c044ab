"""DESIGN §4: a build killed at any moment is completed by the next one.

Each test starts `python -m sitegen build` as a real process in its own session, waits
until the build has reached a chosen point (judged from what it has written: a number of
pages, or everything but the manifest), and SIGKILLs its whole process group, pool
workers included. A normal build must then take over the
stale lock, finish the work, and leave a site byte-identical to a clean `--full` build
of the same runs, with no temporaries left behind; one more build must be a no-op.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from conftest import OLD, age, site_files, write_sidecar_run

from sitegen.pipeline import POOL_THRESHOLD
from sitegen.slug import run_slug

pytestmark = pytest.mark.slow

RUNS = 40  # more than POOL_THRESHOLD: runs are read and rendered in the process pool
CHANGED = 30  # runs whose metrics grow before the killed rebuild (also more than the threshold)
ROWS = 1000
INTERRUPTED = "a previous build was interrupted; finishing its work"

KillPoint = Callable[[Path, int], bool]


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # not written yet, or renamed away while we looked
        return -1


def pages_written(count: int) -> KillPoint:
    """At least `count` finished files under runs/ written since the build started."""
    def reached(out: Path, since_ns: int) -> bool:
        pages = [p for p in (out / "runs").rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
        return sum(_mtime_ns(p) >= since_ns for p in pages) >= count
    return reached


def manifest_pending(out: Path, since_ns: int) -> bool:
    """Every page and the listings are written, the manifest is not saved yet: the last moments."""
    cache = out / "_build"
    manifest = max(_mtime_ns(cache / "manifest-snapshot.msgpack"), _mtime_ns(cache / "manifest-log"))
    return _mtime_ns(cache / "listings" / "0.msgpack") >= since_ns > manifest


def make_tree(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for i in range(RUNS):
        write_sidecar_run(root, f"20231114/{i:06d}/{i:012x}", rows=ROWS, log="epoch 1 loss 0.5\n" * 50)
    age(root)
    (tmp_path / "sitegen.yaml").write_text("")
    return root


def grow_metrics(root: Path) -> None:
    """Append rows to CHANGED runs' metrics, with mtimes outside the racy window."""
    for run_dir in sorted(root.glob("*/*/*"))[:CHANGED]:
        with (run_dir / "metrics.csv").open("a") as handle:
            handle.writelines(f"{step},{step // 10},0.000100\n" for step in range(ROWS, ROWS + 50))
        age(run_dir, when=OLD + 100)


def build_command(root: Path, out: Path, *flags: str) -> list[str]:
    config = root.parent / "sitegen.yaml"
    return [sys.executable, "-m", "sitegen", "build", "--config", str(config),
            "--root", str(root), "--out", str(out), "--quiet", *flags]


def build(root: Path, out: Path, *flags: str) -> dict:
    """Build to completion; returns the build report (asked for: a no-op leaves `_build/` alone)."""
    report = out.parent / f"{out.name}-report.json"
    command = build_command(root, out, "--report", str(report), *flags)
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(report.read_text())


def kill_build_at(root: Path, out: Path, point: KillPoint) -> bool:
    """Start a build and SIGKILL its process group at `point`; False if it finished first."""
    since_ns = time.time_ns()
    proc = subprocess.Popen(build_command(root, out), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            if point(out, since_ns):
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        returncode = proc.wait()  # reaped: a zombie would still look alive to the lock
    return returncode == -signal.SIGKILL and (out / "_build" / "lock").exists()


def temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob(".tmp-*") if p.name.endswith(".part")]


def assert_completed_by_next_build(root: Path, out: Path, tmp_path: Path) -> None:
    report = build(root, out)
    assert INTERRUPTED in report["notes"]
    assert not (out / "_build" / "lock").exists() and not (out / "_build" / "journal").exists()
    assert temporaries(out) == []
    clean = tmp_path / "clean"
    build(root, clean, "--full")
    assert site_files(out) == site_files(clean)
    again = build(root, out)
    assert (again["runs_read"], again["pages_written"], again["pages_removed"]) == (0, 0, 0)
    assert again["runs_cached"] == RUNS


KILL_POINTS = [
    pytest.param(pages_written(1), id="first-page"),
    pytest.param(pages_written(20), id="20-pages"),
    pytest.param(pages_written(60), id="60-pages"),
    pytest.param(manifest_pending, id="before-manifest"),
]


def test_tree_uses_the_process_pool():
    assert min(RUNS, CHANGED) >= POOL_THRESHOLD


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_first_build_is_completed(tmp_path, point):
    root, out = make_tree(tmp_path), tmp_path / "site"
    if not kill_build_at(root, out, point):
        pytest.skip("the build finished before the kill point")
    assert_completed_by_next_build(root, out, tmp_path)


@pytest.mark.parametrize("point", [KILL_POINTS[0], KILL_POINTS[1], KILL_POINTS[3]])
def test_killed_rebuild_after_a_change_is_completed(tmp_path, point):
    root, out = make_tree(tmp_path), tmp_path / "site"
    build(root, out)
    grow_metrics(root)
    if not kill_build_at(root, out, point):
        pytest.skip("the build finished before the kill point")
    assert_completed_by_next_build(root, out, tmp_path)
    published = [data for path, data in site_files(out).items() if path.endswith("/metrics.csv")]
    assert sum(b",0.000100\n" in data for data in published) == CHANGED


def test_an_input_changed_back_after_the_kill_is_completed(tmp_path):
    """The killed build rewrote pages for a new title; the next build sees the old title again."""
    root, out = make_tree(tmp_path), tmp_path / "site"
    build(root, out)
    config = root.parent / "sitegen.yaml"
    config.write_text("title: Another title\n")
    if not kill_build_at(root, out, pages_written(20)):
        pytest.skip("the build finished before the kill point")
    config.write_text("")
    assert_completed_by_next_build(root, out, tmp_path)


def test_pages_of_a_run_deleted_after_a_killed_build_are_removed(tmp_path):
    """The killed build wrote a new run's pages, not the manifest; the run is then deleted."""
    root, out = make_tree(tmp_path), tmp_path / "site"
    build(root, out)
    new = write_sidecar_run(root, "20231113/000000/aaa_new", rows=ROWS)
    os.utime(root)  # a new entry: the root is listed again
    grow_metrics(root)  # keeps the pool busy after the new run, which sorts first
    page = out / "runs" / run_slug(str(root), "20231113/000000/aaa_new") / "index.html"
    if not kill_build_at(root, out, lambda _out, _since: page.exists()):
        pytest.skip("the build finished before the kill point")
    shutil.rmtree(new)
    build(root, out)
    clean = tmp_path / "clean"
    build(root, clean, "--full")
    assert site_files(out) == site_files(clean)
    assert not page.parent.exists()
    assert sorted(p.name for p in (out / "_build" / "runs").iterdir()) == sorted(
        p.name for p in (clean / "_build" / "runs").iterdir())
    assert not (out / "_build" / "journal").exists()


def test_pool_workers_die_with_a_killed_build(tmp_path):
    """SIGKILL of the build's own process (not its group): no worker lives on to write."""
    root, out = make_tree(tmp_path), tmp_path / "site"
    proc = subprocess.Popen(build_command(root, out, "--full"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers = _pool_workers_once_writing(proc, out)
        if not workers:
            pytest.skip("the build finished before its workers were seen")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _until(lambda: not [w for w in workers if _alive(w)], timeout=60), "workers outlived the build"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _pool_workers_once_writing(proc: subprocess.Popen, out: Path) -> list[psutil.Process]:
    """The build's worker processes, once they have written a run page."""
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            workers = parent.children()
            if workers and any((out / "runs").glob("*/index.html")):
                return workers
    return []


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
