"""Run one command as a process of its own and measure its wall time and peak memory.

A small wrapper process times the command from inside (its own start-up is not counted) and
reports the peak resident set of the command and of every worker it waited for (`ru_maxrss` of
its reaped children: the largest single process, in bytes). Python may write and use bytecode
caches, as in an installed package (`PYTHONDONTWRITEBYTECODE`, set on some machines, would make
every build compile sitegen's modules from source: 0.08 s here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False).returncode
print(code, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


class CommandFailed(Exception):
    """A command the benchmark needs failed; the message says which, how, and the end of its stderr."""


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_bytes: int


def timed(cmd: list[str], cwd: Path) -> Timed:
    """Wall time and peak memory of `cmd`; CommandFailed if it exits non-zero."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    fields = done.stdout.split()
    if done.returncode != 0 or len(fields) != 3 or fields[0] != "0":
        code = fields[0] if fields else done.returncode
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise CommandFailed(f"`{' '.join(cmd)}` exited with {code}:\n{tail}")
    return Timed(float(fields[1]), int(fields[2]))


def output_of(cmd: list[str], cwd: Path) -> str:
    """Stdout of a quick command (a version string); CommandFailed if it fails."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandFailed(f"`{' '.join(cmd)}` exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout
