"""Stop-the-world faults: the disk fills up, or the output becomes read-only, in the middle of a
build. Every published file is then whole (the previous build's bytes or the new ones, never a
torn page), and the first build after the fault converges to what a clean build writes.

The output lives on a small tmpfs that the test mounts, so it needs root (CAP_SYS_ADMIN).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import site_files
from test_interrupted_build import build, build_command, make_tree, pages_written

pytestmark = pytest.mark.slow

GROWN_ROWS = 20_000  # per run: ~30 runs x 0.5 MB more published CSV than the disk has room for


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, options: str) -> None:
    """Linux refuses to make a filesystem read-only while a file on it is open for writing
    (EBUSY): try again until the build is between two writes."""
    deadline = time.monotonic() + 60
    while True:
        command = ["mount", "-o", f"remount,{options}", str(mount)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            return
        assert time.monotonic() < deadline, done.stderr


def used_kib(path: Path) -> int:
    stats = os.statvfs(path)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize // 1024


def grow_every_run(root: Path) -> None:
    for metrics in sorted(root.glob("*/*/*/metrics.csv")):
        with metrics.open("a") as handle:
            handle.writelines(f"{step},{step // 10},0.000100\n" for step in range(1000, 1000 + GROWN_ROWS))
        os.utime(metrics, (1_700_000_100, 1_700_000_100))


def assert_every_file_whole(after: dict[str, bytes], before: dict[str, bytes], new: dict[str, bytes]) -> None:
    """Each published file is the previous build's or the new build's, and none was lost."""
    assert set(before) <= set(after)
    torn = [path for path, data in after.items() if data not in (before.get(path), new.get(path))]
    assert torn == []
    assert [path for path in after if "/.tmp-" in f"/{path}"] == []


def assert_next_build_converges(root: Path, out: Path, clean: dict[str, bytes]) -> None:
    build(root, out)
    assert site_files(out) == clean
    again = build(root, out)
    assert (again["runs_read"], again["pages_written"], again["pages_removed"]) == (0, 0, 0)


def clean_site(root: Path, tmp_path: Path) -> dict[str, bytes]:
    clean = tmp_path / "clean"
    build(root, clean, "--full")
    return site_files(clean)


def test_a_full_disk_leaves_whole_files_and_the_next_build_converges(tmp_path, small_disk):
    root, out = make_tree(tmp_path), small_disk / "site"
    build(root, out)
    before = site_files(out)
    remount(small_disk, f"size={used_kib(small_disk) + 1024}k")  # 1 MiB left
    grow_every_run(root)
    done = subprocess.run(build_command(root, out), capture_output=True, text=True)
    assert done.returncode != 0
    assert "No space left on device" in done.stderr and done.stderr.count("\n") == 1, done.stderr
    clean = clean_site(root, tmp_path)
    assert_every_file_whole(site_files(out), before, clean)
    remount(small_disk, "size=64m")
    assert_next_build_converges(root, out, clean)


def test_an_output_made_read_only_mid_build_leaves_whole_files_and_the_next_build_converges(
    tmp_path, small_disk
):
    root, out = make_tree(tmp_path), small_disk / "site"
    build(root, out)
    before = site_files(out)
    grow_every_run(root)
    since_ns = time.time_ns()
    proc = subprocess.Popen(build_command(root, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    reached = pages_written(5)
    while proc.poll() is None and not reached(out, since_ns):
        pass
    remount(small_disk, "ro")
    _, stderr = proc.communicate()
    remount(small_disk, "rw")
    if proc.returncode == 0:
        pytest.skip("the build finished before the output became read-only")
    assert "Read-only file system" in stderr and stderr.count("\n") == 1, stderr
    clean = clean_site(root, tmp_path)
    assert_every_file_whole(site_files(out), before, clean)
    assert_next_build_converges(root, out, clean)
