"""Full builds with the local and the Ray executor over one tree, and Ray's own start-up cost.
Prints a Markdown table; never asserts.

    .venv/bin/python benchmarks/bench_executor.py --tree bench-out/tree-10000-mixed --repeat 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RAY_START = ("import ray; ray.init(address='local', include_dashboard=False, log_to_driver=False); "
             "ray.shutdown()")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def full_build(tree: Path, out: Path, executor: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    time.sleep(1.0)
    return timed([sys.executable, "-m", "sitegen", "build", "--root", str(tree), "--out", str(out),
                  "--full", "--quiet", "--executor", executor])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO / "bench-out" / "tree-10000-mixed")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out = REPO / "bench-out" / "site-executor"
    rows = {executor: statistics.median(full_build(args.tree, out, executor) for _ in range(args.repeat))
            for executor in ("local", "ray")}
    start_up = statistics.median(timed([sys.executable, "-c", RAY_START]) for _ in range(args.repeat))
    shutil.rmtree(out, ignore_errors=True)
    print(f"{args.tree.name}; median of {args.repeat}\n")
    print("| measure | time |\n|---|---|")
    print(f"| full build, local executor | {rows['local']:.1f} s |")
    print(f"| full build, Ray executor (local Ray) | {rows['ray']:.1f} s |")
    print(f"| Ray start and stop, nothing run | {start_up:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
