"""Nightly sessions: each entry's run against the same entry in the previous session.

Pure: runs in, comparisons out. A session is every run with the same `Run.session`; an
entry is identified by `Run.benchmark` (or the run's name).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from sitegen.metric_names import direction
from sitegen.model import Run

_STAGE_AGGREGATES = ("_sum", "_mean", "_std")
_SAME_WITHIN = 0.005  # changes under half a percent are shown as unchanged
_MINOR_BELOW = 5.0  # percent: smaller changes are shown muted, as likely noise


class Change(msgspec.Struct, frozen=True):
    before: float
    after: float
    percent: float | None  # None when `before` is 0
    verdict: str  # "better", "worse", "same", or "changed" when the direction is unknown

    @property
    def minor(self) -> bool:
        return self.percent is None or abs(self.percent) < _MINOR_BELOW


class PackageChange(msgspec.Struct, frozen=True):
    name: str
    before: str | None  # None: added
    after: str | None  # None: removed


@dataclass(frozen=True)
class Entry:
    """A session's run of an entry and the same entry's last completed run in an earlier session.
    What changed between the two is worked out when a page first asks: a change to one run
    re-renders a session page or two, and the other entries are never compared."""

    run: Run
    previous: Run | None
    direction_of: Callable[[str], int] = field(default=direction, repr=False, compare=False)

    @functools.cached_property
    def changes(self) -> dict[str, Change]:
        if self.previous is None:
            return {}
        before = key_metrics(self.previous)
        return {metric: _change(self.direction_of(metric), before[metric], value)
                for metric, value in key_metrics(self.run).items() if metric in before}

    @functools.cached_property
    def packages(self) -> list[PackageChange]:
        if self.previous is None or not self.previous.packages or not self.run.packages:
            return []
        return package_changes(self.previous.packages, self.run.packages)


class Session(msgspec.Struct, frozen=True):
    name: str
    started_at: float | None
    entries: list[Entry]

    @property
    def passed(self) -> int:
        return sum(e.run.status == "completed" for e in self.entries)

    @property
    def failed(self) -> int:
        return len(self.entries) - self.passed


def key_metrics(run: Run) -> dict[str, float]:
    """The metrics a session table shows: the run's own, not the per-stage aggregates."""
    summary = run.summary
    return {name: summary[name] for name in key_metric_names(tuple(summary))}


@functools.lru_cache(maxsize=4096)
def key_metric_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Of a summary's metric names, those `key_metrics` keeps (cached: a benchmark's runs share them)."""
    return tuple(name for name in names if not name.endswith(_STAGE_AGGREGATES))


def sessions(runs: list[Run], direction_of: Callable[[str], int] = direction) -> list[Session]:
    """Every session, newest first, each entry compared with its last completed appearance;
    `direction_of(metric)` says which way is better (by default, from the metric's name)."""
    grouped: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.session is not None:
            grouped[run.session].append(run)
    ordered = sorted(grouped.items(), key=lambda item: (_started(item[1]) or 0.0, item[0]))
    last_seen: dict[str, Run] = {}  # each entry's last completed run
    result = []
    for name, members in ordered:
        members.sort(key=_entry_name)
        entries = [Entry(run, last_seen.get(_entry_name(run)), direction_of) for run in members]
        for run in members:
            if run.status == "completed":  # a failed night has nothing to compare with
                last_seen[_entry_name(run)] = run
        result.append(Session(name, _started(members), entries))
    return result[::-1]


def package_changes(before: dict[str, str], after: dict[str, str]) -> list[PackageChange]:
    if before == after:  # most nights: one comparison in C instead of one per package
        return []
    changed = sorted((name for name in before.keys() | after.keys() if before.get(name) != after.get(name)),
                     key=lambda name: (name.lower(), name))
    return [PackageChange(name, before.get(name), after.get(name)) for name in changed]


def _change(sign: int, before: float, after: float) -> Change:
    percent = (after - before) / abs(before) * 100 if before else None
    relative = abs(after - before) / abs(before) if before else (0.0 if after == before else 1.0)
    if relative < _SAME_WITHIN:
        return Change(before, after, percent, "same")
    if sign == 0:
        return Change(before, after, percent, "changed")
    return Change(before, after, percent, "better" if (after > before) == (sign > 0) else "worse")


def _entry_name(run: Run) -> str:
    return run.benchmark or run.name


def _started(runs: list[Run]) -> float | None:
    times = [r.created_at for r in runs if r.created_at is not None]
    return min(times) if times else None
