"""Measure trends and regression detection for S nightly sessions of E entries each (run headers
in memory, as the build has them from its listings cache): grouping into trends, detecting steps
and matching acknowledgements, then rendering every trend and triage page. Medians of --repeat
runs; prints a Markdown table, never asserts.

    .venv/bin/python benchmarks/bench_trends.py --sessions 30 --entries 1000

Each entry reports 8 metrics with ±3 % noise; 2 % of the entries get a 15 % step in one metric
at a random session, and 1 % of the runs fail.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sitegen.analysis import acknowledged  # noqa: E402
from sitegen.analysis.regressions import detect, rule_for  # noqa: E402
from sitegen.analysis.trends import trends  # noqa: E402
from sitegen.config import TrendsConfig  # noqa: E402
from sitegen.model import Run  # noqa: E402

METRICS = {"time_taken_s": 120.0, "throughput_rows_per_s": 8000.0, "peak_memory_mb": 4096.0,
           "read_time_s": 20.0, "write_time_s": 15.0, "latency_p50_ms": 12.0, "latency_p99_ms": 80.0,
           "items_per_s": 300.0}
DAY = 86400.0


def make_runs(sessions: int, entries: int, seed: int = 1) -> tuple[list[Run], dict[int, tuple[int, str]]]:
    """The runs, and the planted steps: entry → (session, metric)."""
    rng = random.Random(seed)
    steps = {e: (rng.randrange(1, sessions), rng.choice(list(METRICS)))
             for e in range(entries) if rng.random() < 0.02}
    runs = []
    for s in range(sessions):
        name = f"nightly-{s:03d}"
        for e in range(entries):
            entry = f"entry_{e:05d}"
            failed = rng.random() < 0.01
            summary = {}
            if not failed:
                for metric, level in METRICS.items():
                    step_at, stepped = steps.get(e, (None, None))
                    factor = 1.15 if stepped == metric and s >= step_at else 1.0
                    summary[metric] = level * factor * (1 + rng.uniform(-0.03, 0.03))
            run_id = f"{name}/{entry}"
            runs.append(Run(run_id=run_id, root="/results", slug=run_id.replace("/", "-"), kind="nightly",
                            name=f"{entry} · {name}", status="failed" if failed else "completed",
                            session=name, benchmark=entry, created_at=1.74e9 + s * DAY + e, summary=summary))
    return runs, steps


def analyse(runs: list[Run]):
    config = TrendsConfig()
    found = trends(runs)
    steps = [step for trend in found for step in detect(trend, rule_for(trend.metric, config))]
    return found, acknowledged.flag(steps, [], "2026-01-01")


def render(found, flagged) -> int:
    from collections import defaultdict

    from sitegen.render.env import theme_dir
    from sitegen.render.site import SiteInfo
    from sitegen.render.trends import trend_pages, trends_index

    site = SiteInfo(title="bench", theme=str(theme_dir("default")), version="bench")
    by_benchmark = defaultdict(list)
    for trend in found:
        by_benchmark[trend.benchmark].append(trend)
    size = len(trends_index(found, flagged, site).data)
    for benchmark, mine in by_benchmark.items():
        shown = [f for f in flagged if f.step.benchmark == benchmark]
        directions = {t.metric: rule_for(t.metric, TrendsConfig()).direction for t in mine}
        size += len(trend_pages(benchmark, mine, shown, directions, site).data)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs, planted = make_runs(args.sessions, args.entries)
    analysis, rendering = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        found, flagged = analyse(runs)
        analysis.append(time.perf_counter() - start)
        start = time.perf_counter()
        size = render(found, flagged)
        rendering.append(time.perf_counter() - start)
    points = sum(len(t.points) for t in found)
    planted_at = {(f"entry_{e:05d}", metric, f"nightly-{s:03d}") for e, (s, metric) in planted.items()}
    called = {(f.step.benchmark, f.step.metric, f.step.first_bad.label) for f in flagged}
    print(f"| runs | trends | points | planted steps | called at the planted session | other calls "
          f"| analysis, median of {args.repeat} | trend pages rendered | pages' bytes |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {len(runs):,} | {len(found):,} | {points:,} | {len(planted_at)} | {len(planted_at & called)} "
          f"| {len(called - planted_at)} "
          f"| {statistics.median(analysis):.2f} s | {statistics.median(rendering):.2f} s "
          f"({len({t.benchmark for t in found}) + 1} pages) | {size / 1e6:.1f} MB |")


if __name__ == "__main__":
    main()
