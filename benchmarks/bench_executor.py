"""Full builds with the local and the Ray executor over one tree, Ray's own start-up cost, and
(`--cluster`) the per-worker throughput of Ray tasks that read, and that read, render and write
(`build.shared_out`), with the driver's per-run cost and a projection to 1,000,000 runs.
Prints Markdown tables; never asserts.

    .venv/bin/python benchmarks/bench_executor.py --tree bench-out/tree-10000-mixed --repeat 1
    .venv/bin/python benchmarks/generate_runs.py bench-out/tree-2000 --runs 2000
    PYTHONPATH=. .venv/bin/python benchmarks/bench_executor.py --tree bench-out/tree-2000 --cluster 1 2
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

from sitegen.reporting import Reporter

REPO = Path(__file__).resolve().parent.parent
RAY_START = ("import ray; ray.init(address='local', include_dashboard=False, log_to_driver=False); "
             "ray.shutdown()")
PROJECTED_RUNS = 1_000_000
PROJECTED_WORKERS = (1, 8, 64)


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


def executors(tree: Path, repeat: int) -> None:
    out = REPO / "bench-out" / "site-executor"
    rows = {executor: statistics.median(full_build(tree, out, executor) for _ in range(repeat))
            for executor in ("local", "ray")}
    start_up = statistics.median(timed([sys.executable, "-c", RAY_START]) for _ in range(repeat))
    shutil.rmtree(out, ignore_errors=True)
    print(f"{tree.name}; median of {repeat}\n")
    print("| measure | time |\n|---|---|")
    print(f"| full build, local executor | {rows['local']:.1f} s |")
    print(f"| full build, Ray executor (local Ray) | {rows['ray']:.1f} s |")
    print(f"| Ray start and stop, nothing run | {start_up:.1f} s |")


class StageClock(Reporter):
    """A Reporter that notes when the build enters each stage."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[str, float] = {}

    def stage(self, name: str, total: int = 0) -> None:
        self.at[name] = time.perf_counter()


def planned_jobs(config, out: Path):
    from sitegen import cache, pipeline
    from sitegen.discover import find_runs

    settings = pipeline._job_settings(config, time.time())
    found = find_runs(list(config.roots), {}, relist=True, skip=[str(out)])
    jobs, _kept = pipeline.plan_run_jobs(found.locations, cache.Manifest(), settings)
    return jobs, settings


def tasks_alone(tree: Path, work: Path) -> tuple[float, float, int]:
    """Seconds for Ray tasks to read every run, and to read, render and write every run into a
    fresh output; the number of runs. The Ray in use is already up and its workers warm."""
    from sitegen import cache
    from sitegen.config import load_config
    from sitegen.ray_jobs import read_on_ray, run_on_ray

    out = work / "tasks"
    shutil.rmtree(out, ignore_errors=True)
    config = load_config(None, roots=[str(tree)], out=str(out),
                         **{"build.executor": "ray", "build.shared_out": True})
    jobs, settings = planned_jobs(config, out)
    with cache.BuildLock(str(out)) as lock:
        list(run_on_ray(jobs[:64], settings, None, lock.token))  # warm: workers started, renderers imported
        shutil.rmtree(out / "runs")
        start = time.perf_counter()
        read_on_ray(jobs, settings, None)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        list(run_on_ray(jobs, settings, None, lock.token))
        write_s = time.perf_counter() - start
    return read_s, write_s, len(jobs)


def driver_cost(tree: Path, work: Path, executor: str) -> tuple[float, float, int]:
    """A full build in this process: its seconds, the seconds it waited for run jobs (from
    'reading runs' to 'writing site pages'), and the bytes it left under its output."""
    from sitegen.config import load_config
    from sitegen.pipeline import build

    out = work / f"build-{executor}"
    shutil.rmtree(out, ignore_errors=True)
    on_ray = {"build.executor": "ray", "build.shared_out": True}
    overrides = on_ray if executor == "ray" else {"build.workers": 1}
    clock = StageClock()
    start = time.perf_counter()
    build(load_config(None, roots=[str(tree)], out=str(out), **overrides), full=True, reporter=clock)
    total = time.perf_counter() - start
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    return total, clock.at["writing site pages"] - clock.at["reading runs"], size


def cluster(tree: Path, workers: int) -> dict[str, float]:
    """Per-run figures on a local Ray cluster of `workers` nodes of one CPU each."""
    import ray
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(workers - 1):
        nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, include_dashboard=False, log_to_driver=False)
    nodes.wait_for_nodes()
    work = REPO / "bench-out" / f"cluster-{workers}"
    try:
        read_s, write_s, runs = tasks_alone(tree, work)
        total, waited, size = driver_cost(tree, work, "ray")
    finally:
        ray.shutdown()
        nodes.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return {"runs": runs, "read_rate": runs / read_s / workers, "write_rate": runs / write_s / workers,
            "driver_s": (total - waited) / runs, "build_s": total, "bytes": size / runs}


def local_reference(tree: Path) -> dict[str, float]:
    work = REPO / "bench-out" / "local-reference"
    try:
        total, waited, _size = driver_cost(tree, work, "local")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"build_s": total, "jobs_s": waited}


def projection(rate: float, driver_s: float, bytes_per_run: float, bandwidth: float, start_s: float) -> str:
    cells = []
    for workers in PROJECTED_WORKERS:
        tasks = PROJECTED_RUNS / (workers * rate)
        writes = PROJECTED_RUNS * bytes_per_run / bandwidth
        seconds = start_s + PROJECTED_RUNS * driver_s + max(tasks, writes)
        cells.append(f"{seconds / 60:.0f} min" + (" (file system bound)" if writes > tasks else ""))
    return " | ".join(cells)


def clusters(tree: Path, sizes: list[int], bandwidth_mbs: float, start_s: float) -> None:
    local = local_reference(tree)
    figures = {workers: cluster(tree, workers) for workers in sizes}
    runs = next(iter(figures.values()))["runs"]
    print(f"{tree.name}: {runs} runs; local Ray clusters of one-CPU nodes on this machine\n")
    print("| workers | read tasks, runs/s per worker | read+render+write tasks, runs/s per worker "
          "| driver, ms per run | full build | bytes written per run |\n|---|---|---|---|---|---|")
    for workers, f in figures.items():
        print(f"| {workers} | {f['read_rate']:.0f} | {f['write_rate']:.0f} | {f['driver_s'] * 1e3:.2f} "
              f"| {f['build_s']:.1f} s | {f['bytes'] / 1024:.0f} KiB |")
    print(f"\nlocal executor, one process: full build {local['build_s']:.1f} s, "
          f"{runs / local['jobs_s']:.0f} runs/s in its run jobs\n")
    one = figures[min(figures)]
    print(f"Projection for {PROJECTED_RUNS:,} runs (per-worker rate and driver cost of the "
          f"{min(figures)}-worker cluster, {bandwidth_mbs:.0f} MB/s shared file system, "
          f"{start_s:.0f} s to start):\n")
    print("| " + " | ".join(f"{w} workers" for w in PROJECTED_WORKERS) + " |\n|---|---|---|")
    cells = projection(one["write_rate"], one["driver_s"], one["bytes"], bandwidth_mbs * 1e6, start_s)
    print(f"| {cells} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO / "bench-out" / "tree-10000-mixed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cluster", type=int, nargs="+", metavar="WORKERS",
                        help="measure Ray tasks on local clusters of this many one-CPU nodes instead")
    parser.add_argument("--fs-bandwidth-mbs", type=float, default=1000.0,
                        help="the shared file system's write bandwidth the projection assumes")
    parser.add_argument("--start-s", type=float, default=60.0,
                        help="seconds the projection allows for Ray and its workers to start")
    args = parser.parse_args()
    if args.cluster:
        clusters(args.tree, args.cluster, args.fs_bandwidth_mbs, args.start_s)
    else:
        executors(args.tree, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
