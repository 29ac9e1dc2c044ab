"""Shape-preserving downsampling of a plotted line: the min and max of each bucket survive.

`downsample` takes a whole line; `Envelope` makes the same choice for a line of known length
whose points arrive in pieces (a reader streaming a long metrics.csv keeps only what a plot shows).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from operator import itemgetter

PLOT_POINTS = 1000  # per plotted line; a reader keeps a longer series as this many (its envelope)
_MIN_BUDGET = 2  # both endpoints
_KEEP, _EXTREMES, _SKIP = "keep", "extremes", "skip"


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
    envelope = Envelope(len(y), max_points, columns=1)
    envelope.add(y, x)
    ys, (xs,) = envelope.points()
    return xs, ys


class Envelope:
    """`downsample`'s points of a line of `length` finite values, fed in order and in pieces.

    Memory is bounded by `max_points`, whatever the length. Each y comes with the values of
    `columns` at the same point (its x axes), kept with it. Points beyond `length` are ignored;
    a line that ends early (its file changed under the reader) gives what was fed.
    """

    def __init__(self, length: int, max_points: int, columns: int = 0) -> None:
        if max_points < _MIN_BUDGET:
            raise ValueError(f"max_points must be at least {_MIN_BUDGET}, got {max_points}")
        self.length = length
        self.fed = 0
        self._segments = _segments(length, max_points)
        self._segment = next(self._segments, _END)
        self._y: list[float] = []
        self._columns: list[list] = [[] for _ in range(columns)]
        self._low: tuple[float, int, tuple] | None = None  # (y, index, columns) of the bucket's min so far
        self._high: tuple[float, int, tuple] | None = None

    def add(self, y: Sequence[float], *columns: Sequence) -> None:
        """The next `len(y)` points; each of `columns` holds one value per point."""
        keep: list[int] = []  # indices into this piece, gathered at the end at C speed
        offset, count = 0, min(len(y), self.length - self.fed)
        while offset < count:
            start, end, mode = self._segment
            take = min(end - self.fed, count - offset)
            if mode == _KEEP:
                keep.extend(range(offset, offset + take))
            elif mode == _EXTREMES and take == end - start:  # the whole bucket at once: the common case
                piece = y[offset:offset + take]
                low, high = offset + piece.index(min(piece)), offset + piece.index(max(piece))
                keep += (low, high) if low < high else (high, low) if high < low else (low,)
            elif mode == _EXTREMES:  # only the first bucket of a piece can close here, before `keep`
                self._track(y, columns, offset, offset + take)
            offset += take
            self.fed += take
            if self.fed == end:
                self._close()
        if keep:
            self._y.extend(_pick(y, keep))
            for kept, column in zip(self._columns, columns, strict=True):
                kept.extend(_pick(column, keep))

    def points(self) -> tuple[list[float], list[list]]:
        """The kept y values and, for each of the `columns`, its kept values."""
        if self._low is not None:  # the line ended inside a bucket
            self._close()
        return self._y, self._columns

    def _track(self, y: Sequence[float], columns: tuple[Sequence, ...], start: int, end: int) -> None:
        """Fold part of a bucket into its min and max so far (the first ones on ties)."""
        piece = y[start:end]
        low, high = min(piece), max(piece)
        if self._low is None or low < self._low[0]:
            i = start + piece.index(low)
            self._low = (low, self.fed + i - start, tuple(c[i] for c in columns))
        if self._high is None or high > self._high[0]:
            i = start + piece.index(high)
            self._high = (high, self.fed + i - start, tuple(c[i] for c in columns))

    def _close(self) -> None:
        if self._low is not None and self._high is not None:
            by_index = {self._low[1]: self._low, self._high[1]: self._high}  # one point when both are one
            for y, _index, row in sorted(by_index.values(), key=itemgetter(1)):
                self._y.append(y)
                for kept, value in zip(self._columns, row, strict=True):
                    kept.append(value)
        self._low = self._high = None
        self._segment = next(self._segments, _END)


_END = (0, 0, _SKIP)  # after the last segment: nothing more is kept


def _pick(values: Sequence, indices: list[int]) -> Sequence:
    return itemgetter(*indices)(values) if len(indices) > 1 else [values[i] for i in indices]


def _segments(length: int, max_points: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, mode) spans of the line in order: points kept, a bucket's extremes, or none.

    A line that fits is kept whole. Otherwise the endpoints are kept, and the points between
    them split by position into (max_points - 2) // 2 buckets; a bucket of two points or fewer
    is kept whole (both would be kept anyway). Adjacent kept spans come as one.
    """
    if length <= max_points:
        yield 0, length, _KEEP
        return
    buckets, inner = (max_points - 2) // 2, length - 2
    kept_from = 0  # start of the kept span not yet given
    start = 1
    if buckets == 0:
        yield 0, 1, _KEEP
        yield 1, length - 1, _SKIP
        kept_from = start = length - 1
    for k in range(1, buckets + 1):
        end = 1 + k * inner // buckets
        if end - start > 2:
            if kept_from < start:
                yield kept_from, start, _KEEP
            yield start, end, _EXTREMES
            kept_from = end
        start = end
    yield kept_from, length, _KEEP


def _finite(x: list[float], y: list[float]) -> tuple[list[float], list[float]]:
    # A finite sum proves every value finite at C speed; overflow only sends us the slow way.
    if math.isfinite(sum(x)) and math.isfinite(sum(y)):
        return x, y
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    return [a for a, _ in pairs], [b for _, b in pairs]
