"""Time two things interleaved in pairs, so that a machine's drift (other builds, the disk writing
back) falls on both alike; report the median of the per-pair ratios A/B, their spread, and each
side's median.

Pair i runs A first when i is even and B first when it is odd: whichever runs second does not
always inherit the first one's warm caches or its pending writes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Paired:
    """Seconds of A and of B, one of each per pair, in the order the pairs ran."""

    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(a / b for a, b in zip(self.a, self.b, strict=True))

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def differences(self) -> tuple[float, ...]:
        return tuple(a - b for a, b in zip(self.a, self.b, strict=True))

    @property
    def difference(self) -> float:
        """Median of A − B per pair: for targets stated as "B + so many seconds"."""
        return statistics.median(self.differences)

    @property
    def a_median(self) -> float:
        return statistics.median(self.a)

    @property
    def b_median(self) -> float:
        return statistics.median(self.b)


def measure_pairs(a: Callable[[], float], b: Callable[[], float], pairs: int) -> Paired:
    """Run `pairs` pairs of A and B (each callable returns the seconds it measured itself, so that
    what it does before, such as emptying a directory, is not counted)."""
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")
    a_times: list[float] = []
    b_times: list[float] = []
    for index in range(pairs):
        if index % 2 == 0:
            a_times.append(a())
            b_times.append(b())
        else:
            b_times.append(b())
            a_times.append(a())
    return Paired(tuple(a_times), tuple(b_times))


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """First and third quartile (inclusive method: within the values' range); a single value is both."""
    if len(values) == 1:
        return values[0], values[0]
    q1, _median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def spread(values: Sequence[float], unit: str = "×", digits: int = 2) -> str:
    """`min–max` of a few values, with the interquartile range once there are enough to have one."""
    low, high = min(values), max(values)
    text = f"{low:.{digits}f}–{high:.{digits}f}{unit}"
    if len(values) < 4:
        return text
    q1, q3 = quartiles(values)
    return f"{text}, IQR {q1:.{digits}f}–{q3:.{digits}f}{unit}"
