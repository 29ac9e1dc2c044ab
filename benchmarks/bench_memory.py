"""Measure the peak memory of `sitegen build` on a tree of one run whose metrics.csv has N rows
(about 41 MB at the default million), against a tree of one tiny run (the interpreter with
the build's imports: the constant). Prints a Markdown table; never asserts.

    .venv/bin/python benchmarks/bench_memory.py --rows 1000000

Each build runs in a fresh process under a small wrapper that reports the peak resident set
of the build and of any worker it started (`ru_maxrss` of its reaped children). Measured: a
full build into an empty directory, a rebuild after one row was appended (the run is read and
its CSV published again) and a no-op. The target: peak ≤ 2 × the largest input + the constant.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

import generate_runs
from timed import CommandFailed, timed

REPO = Path(__file__).resolve().parent.parent
HEADER = "step,epoch,train/loss,val/loss,lr,grad_norm\n"
TINY_ROWS = 100

def write_long_run(tree: Path, rows: int) -> Path:
    """One sidecar run whose metrics.csv has `rows` dense rows of 4 metrics (val/loss every 50th)."""
    rel = generate_runs.run_rel(0)
    run_dir = tree / rel
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    with open(run_dir / "metrics.csv", "w", encoding="utf-8") as out:
        out.write(HEADER)
        for step in range(rows):
            clean = 0.4 + 2.0 * (1 + step / 40) ** -0.8
            val = f"{clean * 1.05:.5f}" if (step + 1) % 50 == 0 else ""
            lr = 1e-3 * 0.5 * (1 + math.cos(math.pi * step / rows))
            loss = clean * rng.gauss(1, 0.03)
            out.write(f"{step},{step // 1000},{loss:.5f},{val},{lr:.5e},{rng.uniform(0.5, 3):.6f}\n")
    mtime = generate_runs.BASE_TIME + generate_runs.RUN_DURATION_S
    os.utime(run_dir / "metrics.csv", (mtime, mtime))
    generate_runs.write_file(str(run_dir / "sidecar.json"), generate_runs.sidecar(0, rel), mtime)
    generate_runs.write_file(str(run_dir / "train.out"), f"run {rel}\n", mtime)
    return run_dir / "metrics.csv"


def append_row(tree: Path) -> None:
    """One more row at the end of the run's metrics.csv, as a live run adds it."""
    path = tree / generate_runs.run_rel(0) / "metrics.csv"
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 200))
        step = int(f.read().splitlines()[-1].split(b",")[0]) + 1
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{step},{step // 1000},0.40000,,0.00000e+00,1.000000\n")


def prepare(workdir: Path, rows: int) -> Path:
    """The tree of one run of `rows` rows, generated once (a marker beside it)."""
    tree, marker = workdir / f"memory-{rows}", workdir / f"memory-{rows}.done"
    if not marker.exists():
        shutil.rmtree(tree, ignore_errors=True)
        write_long_run(tree, rows)
        marker.touch()
    return tree


def build(tree: Path, out: Path) -> tuple[float, int]:
    """(seconds, peak bytes) of one `sitegen build` in a fresh process."""
    cmd = [sys.executable, "-m", "sitegen", "build", "--root", str(tree), "--out", str(out), "--quiet"]
    result = timed(cmd, REPO)
    return result.seconds, result.peak_bytes


def measure(tree: Path, out: Path, repeat: int) -> dict[str, tuple[float, int]]:
    """Median time and largest peak of full builds, no-ops, and rebuilds after one appended row."""
    runs: dict[str, list[tuple[float, int]]] = {"full": [], "no-op": [], "one row appended": []}
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        runs["full"].append(build(tree, out))
        runs["no-op"].append(build(tree, out))  # before the append: a file just written is read again
        append_row(tree)
        runs["one row appended"].append(build(tree, out))
    return {name: (statistics.median(s for s, _ in found), max(p for _, p in found))
            for name, found in runs.items()}


def table(rows: int, size: int, tiny: dict[str, tuple[float, int]], big: dict[str, tuple[float, int]]) -> str:
    constant = tiny["full"][1]
    target = 2 * size + constant
    lines = [f"metrics.csv: {rows:,} rows, {_mb(size)}; constant (a tiny run's full build): {_mb(constant)}; "
             f"target: 2 × {_mb(size)} + {_mb(constant)} = {_mb(target)}", "",
             "| build | time | peak memory | peak − constant | target | verdict |",
             "|---|---|---|---|---|---|"]
    for name, (seconds, peak) in big.items():
        verdict = "ok" if peak <= target else "**MISS**"
        over = max(0, peak - constant)
        lines.append(f"| {name} | {seconds:.2f} s | {_mb(peak)} | {_mb(over)} | ≤ {_mb(target)} "
                     f"| {over / size:.2f}× the file over the constant, {verdict} |")
    for name, (seconds, peak) in tiny.items():
        lines.append(f"| tiny run ({TINY_ROWS} rows), {name} | {seconds:.2f} s | {_mb(peak)} | | | |")
    return "\n".join(lines) + "\n"


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows of the long metrics.csv (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="builds of each kind (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-out", help="default: %(default)s")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tree, tiny_tree = prepare(workdir, args.rows), prepare(workdir, TINY_ROWS)
    print(f"trees ready in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    size = os.path.getsize(tree / generate_runs.run_rel(0) / "metrics.csv")
    try:
        tiny = measure(tiny_tree, workdir / f"memory-site-{TINY_ROWS}", args.repeat)
        big = measure(tree, workdir / f"memory-site-{args.rows}", args.repeat)
    except CommandFailed as exc:
        print(f"bench_memory: {exc}", file=sys.stderr)
        return 1
    print(table(args.rows, size, tiny, big), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
