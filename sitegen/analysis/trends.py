"""Trends: each benchmark's metrics over sessions (nightly) or dates, one point per run.

Pure: run headers in, `Trend`s out. A benchmark is `Run.benchmark` (a nightly entry, a
serving job's configuration), an entry of a session, or a training sweep (`sweep:N`). A
serving job's points split it further by concurrency, so that each trend compares like with
like. Failed runs are points without a value: marked on the plot, never part of a baseline.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Iterable

import msgspec

from sitegen.analysis.sessions import key_metric_names
from sitegen.model import Run

# a partial run (some of its work failed) measured less than the whole: marked, never a baseline
FAILED_STATUSES = frozenset({"failed", "partial", "broken"})
SHOWN_STATUSES = FAILED_STATUSES | {"completed"}  # running or unknown runs have no final values yet
# what the driver reports about the run rather than what the benchmark measured
_NOT_MEASURED = frozenset({"exit_code", "is_success", "timed_out", "success", "returncode"})


class Point(msgspec.Struct, frozen=True):
    """One run's value of one metric; `value` is None for a failed run."""

    slug: str
    run_id: str
    label: str  # the session's name, or the run's date
    at: float  # position on the axis: the session's start, or the run's creation time
    value: float | None
    status: str


class Trend(msgspec.Struct, frozen=True):
    benchmark: str
    metric: str
    by: str  # "session" or "date"
    points: list[Point]  # oldest first


class _Observation(msgspec.Struct, frozen=True):
    benchmark: str
    by: str
    run: Run
    at: float
    label: str
    metrics: dict[str, float]


def trends(runs: list[Run]) -> list[Trend]:
    """Every (benchmark, metric) trend, sorted by benchmark then metric."""
    starts = session_starts(runs)
    observations = [o for run in runs for o in _observations(run, starts)]
    by_benchmark: dict[str, dict[str, _Observation]] = defaultdict(dict)
    for obs in sorted(observations, key=lambda o: (o.at, o.run.run_id)):
        by_benchmark[obs.benchmark][obs.label] = obs  # a re-run in the same session: the newest
    result = []
    for benchmark in sorted(by_benchmark):
        members = sorted(by_benchmark[benchmark].values(), key=lambda o: (o.at, o.label))
        metrics = sorted({m for o in members if o.run.status == "completed" for m in o.metrics})
        for metric in metrics:
            points = [_point(o, metric) for o in members]
            points = [p for p in points if p is not None]
            if any(p.value is not None for p in points):
                result.append(Trend(benchmark, metric, members[0].by, points))
    return result


def trend_of(run: Run) -> str | None:
    """The benchmark whose trend page certainly shows `run` (its own values make the page): a
    completed run with a measured metric, dated or in a session; not a serving run, whose points
    are split by concurrency."""
    benchmark = benchmark_of(run)
    if (benchmark is None or run.status != "completed" or "timed out" in run.badges or run.points
            or (run.session is None and run.created_at is None) or not _measured(tuple(run.summary))):
        return None
    return benchmark


def benchmark_of(run: Run) -> str | None:
    """The benchmark a run belongs to, before its points split it by concurrency."""
    if run.benchmark:
        return run.benchmark
    if run.session is not None:
        return run.name
    sweep = run.sweep
    return f"sweep {sweep}" if sweep is not None else None


def date_label(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))


def session_starts(runs: Iterable[Run]) -> dict[str, float]:
    """Each session's start: its earliest run's creation time."""
    starts: dict[str, float] = {}
    for run in runs:
        if run.session is not None and run.created_at is not None:
            starts[run.session] = min(starts.get(run.session, run.created_at), run.created_at)
    return starts


def _observations(run: Run, starts: dict[str, float]) -> list[_Observation]:
    benchmark = benchmark_of(run)
    if benchmark is None or (run.status not in SHOWN_STATUSES and "timed out" not in run.badges):
        return []
    if run.session is not None:
        by, at, label = "session", starts.get(run.session, run.created_at or 0.0), run.session
    elif run.created_at is not None:
        by, at, label = "date", run.created_at, date_label(run.created_at)
    else:
        return []
    found = []
    summary = run.summary
    metrics = {name: summary[name] for name in _measured(tuple(summary))}
    if metrics or not run.points:
        found.append(_Observation(benchmark, by, run, at, label, metrics))
    curves = {p.curve for p in run.points}
    for point in run.points:
        parts = [benchmark, *([point.curve] if len(curves) > 1 else []), f"{point.x_name} {point.x:g}"]
        found.append(_Observation(" · ".join(parts), by, run, at, label, dict(point.metrics)))
    return found


@functools.lru_cache(maxsize=4096)
def _measured(names: tuple[str, ...]) -> tuple[str, ...]:
    """Of a summary's metric names, those a trend follows: its key metrics, not the driver's report."""
    return tuple(name for name in key_metric_names(names) if name not in _NOT_MEASURED)


def _point(obs: _Observation, metric: str) -> Point | None:
    run = obs.run
    failed = run.status in FAILED_STATUSES or "timed out" in run.badges
    value = None if failed else obs.metrics.get(metric)
    if value is None and not failed:
        return None  # a good run that did not report this metric: no point at all
    status = "timed out" if "timed out" in run.badges else run.status
    return Point(run.slug, run.run_id, obs.label, obs.at, value, status)
