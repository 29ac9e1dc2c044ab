"""Regression detection that respects noise: steps in a trend, called against a robust baseline.

Pure. Walking a trend oldest first, each good value is compared with the median of up to
`window` earlier good values of the same level; the spread of that baseline is its MAD,
scaled by 1.4826 to a standard deviation. A value is beyond the baseline when its relative
change exceeds both the metric's threshold and `noise_factor` standard deviations. After
`consecutive` such values in a row, all on the same side, a step is called at the first of
them (the first bad point; the last good one is the point before it). When values just before
the one that shows the step are beyond the baseline too, the step began with them: the first
bad point moves back, and the baseline is what came before it. The baseline then starts
again at the new level, so a lasting step is called once, not every night after it, and the
next step needs `min_history` values of the new level first (as airspeed velocity's step
detection, the newest level is what later values are held against).

Failed runs have no value: they neither count in a baseline nor break a run of violations.
"""

from __future__ import annotations

import fnmatch

import msgspec

from sitegen.analysis.trends import Point, Trend
from sitegen.config import TrendsConfig
from sitegen.metric_names import direction as named_direction

_Found = tuple[int, float, float, bool]
_MAD_TO_SIGMA = 1.4826  # for normally distributed noise
_DIRECTIONS = {"higher": 1, "lower": -1, "none": 0}


class Rule(msgspec.Struct, frozen=True):
    direction: int  # +1 higher is better, -1 lower is better, 0 unknown (changes are not called)
    threshold: float
    noise_factor: float
    min_history: int
    window: int
    consecutive: int


class Step(msgspec.Struct, frozen=True):
    """A called change of level in one trend."""

    benchmark: str
    metric: str
    by: str  # the trend's axis: "session" or "date"
    kind: str  # "regression" or "improvement"
    last_good: Point
    first_bad: Point
    baseline: float  # the median of the values before the step
    value: float  # the first bad value
    change: float  # relative: (value - baseline) / |baseline|
    limit: float  # the relative change it had to exceed (threshold or noise, whichever larger)
    direction: int
    newest: bool = False  # the last step of its trend: the level the metric is at now
    confirmed: bool = True  # False: beyond the baseline, but fewer than `consecutive` values so far
    later: int = 0  # points of the trend after the first bad one (0: it is the newest)


def rule_for(metric: str, config: TrendsConfig) -> Rule:
    """The rule of a metric: the config's defaults, overridden by the first matching pattern."""
    override = config.metrics.get(metric) or next(
        (rule for pattern, rule in config.metrics.items() if fnmatch.fnmatchcase(metric, pattern)), None
    )
    sign = named_direction(metric)
    if override is not None and override.direction is not None:
        sign = _DIRECTIONS[override.direction]

    def pick(name: str):
        value = getattr(override, name, None) if override is not None else None
        return getattr(config, name) if value is None else value

    return Rule(sign, pick("threshold"), config.noise_factor, pick("min_history"), config.window,
                pick("consecutive"))


def detect(trend: Trend, rule: Rule) -> list[Step]:
    """The steps of one trend, oldest first; none when the metric's direction is unknown.

    A step whose confirming values have not all come yet (the newest value is beyond the
    baseline, `consecutive` asks for more) is returned unconfirmed.
    """
    if rule.direction == 0:
        return []
    good = [p for p in trend.points if p.value is not None]
    steps: list[Step] = []
    level_start, k = 0, 0
    while k < len(good):
        found = _step_at(good, level_start, k, rule)
        if found is None:
            k += 1
            continue
        first, baseline, limit, confirmed = found
        value = good[first].value
        change = (value - baseline) / abs(baseline)
        better = (change > 0) == (rule.direction > 0)
        steps.append(Step(
            trend.benchmark, trend.metric, trend.by, "improvement" if better else "regression",
            last_good=good[first - 1], first_bad=good[first], baseline=baseline, value=value,
            change=change, limit=limit, direction=rule.direction, confirmed=confirmed,
        ))
        level_start = first
        k = first + rule.consecutive
    if steps:
        later = sum(1 for p in trend.points if p.at > steps[-1].first_bad.at)
        steps[-1] = msgspec.structs.replace(steps[-1], newest=True, later=later)
    return steps


def _step_at(good: list[Point], level_start: int, k: int, rule: Rule) -> _Found | None:
    """(first bad index, baseline, limit, confirmed) when a step shows at value `k`."""
    history = _history(good, level_start, k, rule)
    if history is None:
        return None
    median = _median(history)
    if median == 0 or abs(good[k].value - median) <= rule.threshold * abs(median):
        return None  # within the threshold, whatever the noise: most values end here, cheaply
    baseline = median, _limit(history, median, rule)
    side = _side(good[k].value, *baseline)
    if side == 0:
        return None
    first = k  # the step may have begun earlier, with values the baseline already holds
    while first > level_start and _side(good[first - 1].value, *baseline) == side:
        first -= 1
    if first < k:
        history = _history(good, level_start, first, rule)
        if history is None:
            return None
        median = _median(history)
        if median == 0:
            return None
        baseline = median, _limit(history, median, rule)
    confirming = good[first:first + rule.consecutive]
    if any(_side(p.value, *baseline) != side for p in confirming):
        return None
    return first, *baseline, len(confirming) == rule.consecutive


def _history(good: list[Point], level_start: int, end: int, rule: Rule) -> list[float] | None:
    """The good values of the current level before `end` (at most `window`), if enough."""
    history = [p.value for p in good[max(level_start, end - rule.window):end]]
    return history if len(history) >= rule.min_history else None


def _limit(history: list[float], median: float, rule: Rule) -> float:
    """The relative change it takes to be beyond the baseline: the threshold, or the noise."""
    spread = _MAD_TO_SIGMA * _median([abs(v - median) for v in history]) / abs(median)
    return max(rule.threshold, rule.noise_factor * spread)


def _median(values: list[float]) -> float:
    ordered = sorted(values)  # statistics.median, without its checks: this is the hot loop
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _side(value: float, baseline: float, limit: float) -> int:
    change = (value - baseline) / abs(baseline)
    return 0 if abs(change) <= limit else (1 if change > 0 else -1)
