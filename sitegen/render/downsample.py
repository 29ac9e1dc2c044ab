"""Shape-preserving downsampling of a plotted line: the min and max of each bucket survive."""

from __future__ import annotations

import math

_MIN_BUDGET = 2  # both endpoints


def downsample(x: list[float], y: list[float], max_points: int) -> tuple[list[float], list[float]]:
    """At most `max_points` points of (x, y) in their original order, first and last kept.

    Min/max per bucket rather than LTTB: every bucket's extremes are kept by construction, so
    a single spike or dip always survives (LTTB keeps one point per bucket, chosen by triangle
    area, and can drop a dip that shares a bucket with a spike); and it is faster in pure
    Python, as min(), max() and index() over list slices run in C. The cost: two points per
    bucket, so half as many buckets as LTTB for the same budget, and noise is drawn as its
    envelope.

    Buckets are by position, not by x value, so x need not be increasing. Input that already
    fits is returned as is (the same lists). Otherwise points whose x or y is NaN or ±inf are
    dropped first: they cannot be drawn and would poison min() and max().
    """
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} != {len(y)}")
    if max_points < _MIN_BUDGET:
        raise ValueError(f"max_points must be at least {_MIN_BUDGET}, got {max_points}")
    if len(y) <= max_points:
        return x, y
    x, y = _finite(x, y)
    if len(y) <= max_points:
        return x, y
    keep = _min_max_indices(y, (max_points - 2) // 2)
    return [x[i] for i in keep], [y[i] for i in keep]


def _finite(x: list[float], y: list[float]) -> tuple[list[float], list[float]]:
    # A finite sum proves every value finite at C speed; overflow only sends us the slow way.
    if math.isfinite(sum(x)) and math.isfinite(sum(y)):
        return x, y
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    return [a for a, _ in pairs], [b for _, b in pairs]


def _min_max_indices(y: list[float], buckets: int) -> list[int]:
    """Indices of the endpoints and of each bucket's min and max, in order."""
    inner = len(y) - 2
    keep = [0]
    start = 1
    for k in range(1, buckets + 1):
        end = 1 + k * inner // buckets
        if end - start <= 2:  # both points kept anyway: common when a line barely exceeds the budget
            keep.extend(range(start, end))
        else:
            chunk = y[start:end]
            low = start + chunk.index(min(chunk))
            high = start + chunk.index(max(chunk))
            keep += (low, high) if low < high else (high, low) if high < low else (low,)
        start = end
    keep.append(len(y) - 1)
    return keep
