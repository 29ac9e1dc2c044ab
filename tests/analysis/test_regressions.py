"""Trends and regression detection on planted data: steps among noise, failures, improvements."""

from __future__ import annotations

import random

import pytest

from sitegen.analysis.acknowledged import find, parse
from sitegen.analysis.regressions import detect, rule_for
from sitegen.analysis.trends import trends
from sitegen.config import MetricRule, TrendsConfig
from sitegen.model import BenchPoint, Run

DAY = 86400.0
START = 1_740_000_000.0
NOISY = {"time_taken_s": 100.0, "throughput_rows_per_s": 5000.0, "peak_memory_mb": 2048.0,
         "latency_p99_ms": 35.0, "read_time_s": 12.0}


def nightly(session: int, entry: str, summary: dict[str, float], status: str = "completed",
            badges: tuple[str, ...] = ()) -> Run:
    name = f"nightly-{session:02d}"
    run_id = f"{name}/{entry}"
    return Run(run_id=run_id, root="/r", slug=run_id.replace("/", "-"), kind="nightly",
               name=f"{entry} · {name}", status=status, badges=badges, session=name, benchmark=entry,
               created_at=START + session * DAY, summary=summary)


def noisy_sessions(count: int, seed: int, step_at: int | None = None, step: dict[str, float] | None = None,
                   noise: float = 0.03) -> list[Run]:
    rng = random.Random(seed)
    runs = []
    for session in range(count):
        summary = {}
        for metric, level in NOISY.items():
            factor = 1 + (step or {}).get(metric, 0.0) if step_at is not None and session >= step_at else 1
            summary[metric] = level * factor * (1 + rng.uniform(-noise, noise))
        runs.append(nightly(session, "dedup", summary))
    return runs


DEFAULTS = TrendsConfig()


def steps_of(runs: list[Run], config: TrendsConfig = DEFAULTS):
    return [s for t in trends(runs) for s in detect(t, rule_for(t.metric, config))]


def test_a_ten_percent_step_among_noisy_metrics_is_the_only_one_flagged():
    runs = noisy_sessions(20, seed=1, step_at=14, step={"time_taken_s": 0.10})
    [step] = steps_of(runs)
    assert (step.metric, step.kind) == ("time_taken_s", "regression")
    assert step.first_bad.label == "nightly-14" and step.last_good.label == "nightly-13"
    assert step.change == pytest.approx(0.10, abs=0.05)
    assert step.newest


@pytest.mark.parametrize("seed", range(25))
def test_noise_of_three_percent_is_not_flagged(seed: int):
    assert steps_of(noisy_sessions(30, seed=seed)) == []


def test_an_improvement_is_reported_as_such():
    step = {"throughput_rows_per_s": 0.10, "latency_p99_ms": -0.15}
    runs = noisy_sessions(20, seed=2, step_at=12, step=step)
    assert sorted((s.metric, s.kind) for s in steps_of(runs)) == [
        ("latency_p99_ms", "improvement"), ("throughput_rows_per_s", "improvement")]


def test_a_slower_throughput_is_a_regression():
    runs = noisy_sessions(20, seed=3, step_at=12, step={"throughput_rows_per_s": -0.10})
    [step] = steps_of(runs)
    assert (step.metric, step.kind, step.direction) == ("throughput_rows_per_s", "regression", 1)


def test_a_failing_session_breaks_no_trend():
    runs = noisy_sessions(20, seed=4, step_at=15, step={"time_taken_s": 0.12})
    runs[8] = nightly(8, "dedup", {}, status="failed")
    runs[14] = nightly(14, "dedup", {"time_taken_s": 1.0}, status="failed")  # its value is not trusted
    runs[10] = nightly(10, "dedup", {}, status="failed", badges=("timed out",))
    time_trend = next(t for t in trends(runs) if t.metric == "time_taken_s")
    assert len(time_trend.points) == 20
    assert [p.status for p in time_trend.points if p.value is None] == ["failed", "timed out", "failed"]
    [step] = steps_of(runs)
    assert step.first_bad.label == "nightly-15"
    assert step.last_good.label == "nightly-13"  # the failed session 14 is skipped, not blamed


def test_a_lasting_step_is_called_once_and_the_next_level_is_the_new_baseline():
    runs = noisy_sessions(30, seed=5, step_at=10, step={"time_taken_s": 0.2})
    [step] = steps_of(runs)
    assert step.first_bad.label == "nightly-10"


def test_a_second_step_is_called_against_the_new_level():
    runs = noisy_sessions(30, seed=6, step_at=10, step={"time_taken_s": 0.2})
    for run in runs[20:]:
        run.summary["time_taken_s"] *= 0.8  # back down: an improvement against the new level
    kinds = [(s.first_bad.label, s.kind, s.newest) for s in steps_of(runs)]
    assert kinds == [("nightly-10", "regression", False), ("nightly-20", "improvement", True)]


def test_too_short_a_history_calls_nothing():
    runs = noisy_sessions(8, seed=7, step_at=3, step={"time_taken_s": 0.3})
    # at session 5 the baseline (0-4) holds sessions 3 and 4: the step began at 3, with too
    # little history before it, so it is not called at 5 either
    assert steps_of(runs) == []
    assert steps_of(runs, TrendsConfig(min_history=2)) != []


def test_consecutive_violations_cut_a_single_outlier():
    runs = noisy_sessions(20, seed=8)
    runs[12].summary["time_taken_s"] *= 1.3
    assert steps_of(runs) == []  # two in a row by default, as PyTorch HUD
    assert [s.first_bad.label for s in steps_of(runs, TrendsConfig(consecutive=1))] == ["nightly-12"]
    stepped = noisy_sessions(20, seed=8, step_at=12, step={"time_taken_s": 0.15})
    [step] = steps_of(stepped, TrendsConfig(consecutive=3))
    assert (step.first_bad.label, step.confirmed) == ("nightly-12", True)


def test_the_newest_value_alone_beyond_the_baseline_is_a_suspected_step():
    runs = noisy_sessions(15, seed=11, step_at=14, step={"time_taken_s": 0.2})
    [step] = steps_of(runs)
    assert (step.first_bad.label, step.kind, step.newest) == ("nightly-14", "regression", True)
    assert not step.confirmed


def test_per_metric_rules_override_direction_and_threshold():
    runs = noisy_sessions(20, seed=9, step_at=12, step={"time_taken_s": 0.10})
    for run in runs:
        run.summary["widgets"] = 10.0 if run.created_at < START + 12 * DAY else 13.0
    assert [s.metric for s in steps_of(runs)] == ["time_taken_s"]  # "widgets": direction unknown
    config = TrendsConfig(metrics={"widgets": MetricRule(direction="higher"),
                                   "time_*": MetricRule(threshold=0.5)})
    assert [(s.metric, s.kind) for s in steps_of(runs, config)] == [("widgets", "improvement")]
    assert steps_of(runs, TrendsConfig(metrics={"*": MetricRule(direction="none")})) == []


def test_a_noisier_metric_needs_a_bigger_step():
    runs = noisy_sessions(20, seed=10, noise=0.08, step_at=12, step={"time_taken_s": 0.10})
    assert steps_of(runs) == []  # 10 % is within the noise of a metric that moves ±8 %


def test_serving_points_split_a_job_by_concurrency_over_dates():
    def job(day: int, tps: float) -> Run:
        points = [BenchPoint("isl 1024 / osl 1024", "concurrency", c, {"output_throughput": tps * c})
                  for c in (16, 64)]
        return Run(run_id=f"job{day}", root="/r", slug=f"job{day}", kind="jobdir", name=f"job{day}",
                   status="completed", benchmark="h100 · 1P/1D", created_at=START + day * DAY, points=points)

    runs = [job(day, 100.0 if day < 8 else 80.0) for day in range(12)]
    found = {(t.benchmark, t.metric, t.by, len(t.points)) for t in trends(runs)}
    assert found == {("h100 · 1P/1D · concurrency 16", "output_throughput", "date", 12),
                     ("h100 · 1P/1D · concurrency 64", "output_throughput", "date", 12)}
    assert {(s.benchmark, s.kind) for s in steps_of(runs)} == {
        ("h100 · 1P/1D · concurrency 16", "regression"), ("h100 · 1P/1D · concurrency 64", "regression")}


def test_runs_outside_any_benchmark_and_unfinished_runs_make_no_trend():
    lone = Run(run_id="a", root="/r", slug="a", kind="sidecar", name="a", status="completed",
               created_at=START, summary={"loss": 1.0})
    running = nightly(1, "dedup", {"time_taken_s": 1.0}, status="running")
    assert trends([lone, running]) == []


def test_acknowledgements_from_a_file():
    runs = noisy_sessions(20, seed=1, step_at=14, step={"time_taken_s": 0.10})
    [step] = steps_of(runs)
    acks, problems = parse(
        "- {benchmark: dedup, metric: time_*, from: nightly-14, reason: pyarrow 18, until: 2025-04-30}\n"
        "- {benchmark: dedup, metric: time_taken_s, from: nightly-02, reason: old}\n"
        "- {benchmark: x, metric: y, reason: no from}\n"
        "- {benchmark: x, metric: y, from: z, reason: r, until: soon}\n"
        "- {benchmark: x, metric: y, from: z, reason: r, owner: me}\n"
    )
    assert problems == ["entry 3: 'from' is missing", "entry 4: until: 'soon' is not a date (YYYY-MM-DD)",
                        "entry 5: unknown key 'owner' (expected benchmark, metric, from, reason, until)"]
    ack = find(step, acks, "2025-03-13")
    assert ack is not None and ack.reason == "pyarrow 18" and ack.until == "2025-04-30"
    assert not ack.expired("2025-04-30") and ack.expired("2025-05-01")
    assert parse("just text")[1] == ["expected a list of entries (benchmark, metric, from, reason, until)"]
    assert parse(": : :")[1][0].startswith("not valid YAML")


def test_a_partial_run_is_marked_and_never_a_baseline():
    """A job that ended with some partitions failed measured less than the whole job: its value
    would look like a speed-up."""
    runs = noisy_sessions(20, seed=4, step_at=15, step={"time_taken_s": 0.12})
    runs[14] = nightly(14, "dedup", {"time_taken_s": 40.0}, status="partial")
    time_trend = next(t for t in trends(runs) if t.metric == "time_taken_s")
    assert [(p.label, p.status, p.value) for p in time_trend.points if p.value is None] == [
        ("nightly-14", "partial", None)]
    [step] = steps_of(runs)
    assert (step.last_good.label, step.first_bad.label) == ("nightly-13", "nightly-15")
