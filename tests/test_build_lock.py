"""The build lock (DESIGN §4): two builds on one output directory never proceed together, a
dead build's lock is taken over, and nothing of the lock is left behind."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_config, run_build

from sitegen import cache
from sitegen.errors import OutputLocked

WAIT_S = 120  # generous: a loaded 2-core machine
INTERRUPTED = "a previous build was interrupted; finishing its work"


def lock_file(out: Path) -> Path:
    lock = out / "_build" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    return lock


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "_build").glob("lock.*"))


@pytest.mark.parametrize("content", [b"", b"\xff\xfe not a lock\n", b"host-without-pid\n"],
                         ids=["empty", "garbled", "no-pid"])
def test_a_fresh_lock_without_a_pid_stops_a_second_build(runs_root, tmp_path, content):
    """An empty lock is one that a build has just created (an older sitegen writes its pid after);
    garbled content is judged by its age, like a heartbeat, not taken over at once."""
    out = tmp_path / "site"
    lock = lock_file(out)
    lock.write_bytes(content)
    with pytest.raises(OutputLocked) as refused:
        run_build(make_config(runs_root, out))
    assert str(refused.value) == (f"another build (another process) is writing this output directory; "
                                  f"wait for it to finish, or delete {lock} if that build is gone")
    assert lock.read_bytes() == content and not (out / "index.html").exists()
    assert leftovers(out) == []


def test_a_garbled_lock_older_than_a_live_one_can_be_is_taken_over(runs_root, tmp_path):
    out = tmp_path / "site"
    lock = lock_file(out)
    lock.write_bytes(b"left by hand\n")
    os.utime(lock, (1_000_000_000, 1_000_000_000))
    rep = run_build(make_config(runs_root, out))
    assert INTERRUPTED in rep.report.notes and rep.report.runs_read == 3
    assert not lock.exists() and leftovers(out) == []


def test_a_lock_taken_over_by_another_build_first_is_left_to_it(runs_root, tmp_path, monkeypatch):
    """Two builds find the same dead build's lock; the other one replaces it with its own first.
    This build must not delete that new lock and go on: it stops as for any live lock."""
    out = tmp_path / "site"
    lock = lock_file(out)
    lock.write_text(f"{socket.gethostname()} 999999999\n")
    other = f"{socket.gethostname()} {os.getpid()}\n"  # this test process: alive

    def dead_but_taken_over_meanwhile(pid: int) -> bool:
        replacement = lock.with_name("other-build")
        replacement.write_text(other)
        replacement.replace(lock)
        return False

    monkeypatch.setattr(cache, "_alive", dead_but_taken_over_meanwhile)
    with pytest.raises(OutputLocked, match=f"another build \\(pid {os.getpid()} on "):
        run_build(make_config(runs_root, out))
    assert lock.read_text() == other and not (out / "index.html").exists()
    assert leftovers(out) == []


def test_a_build_whose_lock_was_taken_over_leaves_the_new_lock_when_it_ends(tmp_path):
    """A build that looked dead (its machine suspended past the stale timeout) and was taken over
    finishes later: the lock it removes on its way out is its own, never the new holder's."""
    out = tmp_path / "site"
    with cache.BuildLock(str(out)):
        lock = lock_file(out)
        replacement = lock.with_name("other-build")
        replacement.write_text("another-host 4242\n")
        replacement.replace(lock)
    assert lock.read_text() == "another-host 4242\n"


def test_without_hard_links_the_lock_still_excludes_and_is_released(runs_root, tmp_path, monkeypatch):
    """vfat, exFAT, some SMB mounts: no os.link; the lock is created exclusively instead."""
    def no_hard_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    out = tmp_path / "site"
    with cache.BuildLock(str(out)) as lock:
        assert lock_file(out).read_text() == f"{socket.gethostname()} {os.getpid()} {lock.token}\n"
        with pytest.raises(OutputLocked):
            cache.BuildLock(str(out)).__enter__()
    assert not lock_file(out).exists()
    run_build(make_config(runs_root, out))
    assert not lock_file(out).exists() and leftovers(out) == []


CONTENDER = """
import os, sys, time
from sitegen.cache import BuildLock
from sitegen.errors import OutputLocked

out, marker, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # start together
held = 0
deadline = time.monotonic() + float(sys.argv[4])
while held < rounds and time.monotonic() < deadline:
    try:
        lock = BuildLock(out).__enter__()
    except OutputLocked:
        continue
    try:
        assert not lock.took_over, "took over the lock of a live build"
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # exists: two holders
        os.unlink(marker)
    finally:
        lock.__exit__(None, None, None)
    held += 1
print(held)
"""


def test_builds_contending_for_the_lock_never_hold_it_together(tmp_path):
    """Processes taking and releasing the lock as fast as they can: never two holders at once,
    never a live lock taken over, nothing left behind."""
    out, marker, rounds = tmp_path / "site", tmp_path / "holder", 300
    command = [sys.executable, "-c", CONTENDER, str(out), str(marker), str(rounds), str(WAIT_S)]
    contenders = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for contender in contenders:
        assert contender.stdin is not None
        contender.stdin.write("go\n")
        contender.stdin.flush()
    for contender in contenders:
        stdout, stderr = contender.communicate(timeout=2 * WAIT_S)
        assert (contender.returncode, stdout) == (0, f"{rounds}\n"), stderr
    assert not lock_file(out).exists() and leftovers(out) == []
