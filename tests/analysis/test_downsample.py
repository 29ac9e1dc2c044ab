import math
import random

import pytest

from sitegen.analysis.downsample import Envelope, downsample


def _random_walk(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    y, value = [], 0.0
    for _ in range(n):
        value += rng.gauss(0, 1)
        y.append(value)
    return y


def _is_subsequence(points: list[tuple[float, float]], of: list[tuple[float, float]]) -> bool:
    rest = iter(of)
    return all(point in rest for point in points)


def test_input_that_fits_is_returned_unchanged():
    x, y = [0.0, 1.0, 2.0], [5.0, float("nan"), 7.0]
    assert downsample(x, y, 3) == (x, y)
    assert downsample(x, y, 3)[1] is y


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_inputs(n):
    x, y = [float(i) for i in range(n)], [float(i * i) for i in range(n)]
    assert downsample(x, y, 4) == (x, y)


@pytest.mark.parametrize(("n", "max_points"), [(5, 4), (101, 10), (1000, 999), (10_000, 7), (100_000, 1000)])
def test_output_fits_keeps_endpoints_and_only_real_points(n, max_points):
    x, y = [float(i) for i in range(n)], _random_walk(n)
    xs, ys = downsample(x, y, max_points)
    assert len(xs) == len(ys) <= max_points
    assert len(xs) >= max_points - 1
    assert (xs[0], ys[0]) == (x[0], y[0])
    assert (xs[-1], ys[-1]) == (x[-1], y[-1])
    assert _is_subsequence(list(zip(xs, ys, strict=True)), list(zip(x, y, strict=True)))


def test_a_single_spike_and_a_single_dip_survive():
    n = 100_000
    y = _random_walk(n)
    y[31_337] = 1e9
    y[31_338] = -1e9
    xs, ys = downsample([float(i) for i in range(n)], y, 1000)
    assert (31_337.0, 1e9) in zip(xs, ys, strict=True)
    assert (31_338.0, -1e9) in zip(xs, ys, strict=True)


def test_x_need_not_increase():
    rng = random.Random(3)
    x = [rng.uniform(0, 100) for _ in range(5000)]
    y = _random_walk(5000)
    xs, ys = downsample(x, y, 100)
    assert len(xs) <= 100
    assert _is_subsequence(list(zip(xs, ys, strict=True)), list(zip(x, y, strict=True)))


def test_non_finite_points_are_dropped_without_losing_the_spike():
    n = 10_000
    y = _random_walk(n)
    y[0], y[10], y[20], y[-1] = math.nan, math.inf, -math.inf, math.nan
    y[5000] = 1e6
    x = [float(i) for i in range(n)]
    x[30] = math.nan
    xs, ys = downsample(x, y, 100)
    assert len(xs) <= 100
    assert all(map(math.isfinite, xs + ys))
    assert 1e6 in ys
    assert (xs[0], xs[-1]) == (1.0, n - 2.0)


def test_all_non_finite_gives_nothing():
    assert downsample([float(i) for i in range(10)], [math.nan] * 10, 4) == ([], [])


@pytest.mark.parametrize("max_points", [2, 3])
def test_smallest_budget_keeps_the_endpoints(max_points):
    assert downsample([0.0, 1.0, 2.0, 3.0], [5.0, 9.0, 1.0, 6.0], max_points) == ([0.0, 3.0], [5.0, 6.0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="differ in length"):
        downsample([1.0], [], 4)
    with pytest.raises(ValueError, match="at least 2"):
        downsample([1.0], [1.0], 1)


@pytest.mark.parametrize(("n", "max_points"), [(0, 4), (1, 2), (7, 10), (1000, 1000), (1001, 1000), (1003, 2),
                                               (5000, 1000), (20_000, 101), (50_000, 7)])
def test_an_envelope_fed_in_pieces_keeps_what_downsample_keeps(n, max_points):
    rng = random.Random(n)
    y = [float(rng.randint(0, 5)) for _ in range(n)]  # many ties: the first min and max must win
    x = [float(i) for i in range(n)]
    envelope = Envelope(n, max_points, columns=2)
    at = 0
    while at < n:
        size = rng.choice([1, 2, 3, 50, 999, 4000])
        envelope.add(y[at:at + size], x[at:at + size], [-v for v in x[at:at + size]])
        at += size
    kept_y, (kept_x, negated) = envelope.points()
    assert (kept_x, kept_y) == downsample(x, y, max_points)
    assert negated == [-v for v in kept_x]


def test_an_envelope_ignores_points_past_its_length_and_ends_where_the_points_stop():
    envelope = Envelope(3000, 100, columns=1)
    envelope.add([1.0] * 1000 + [9.0] + [1.0] * 999, [float(i) for i in range(2000)])
    y, (x,) = envelope.points()  # a file that shrank between two passes: what was fed
    assert x[0] == 0.0 and 1000.0 in x and x[-1] <= 1999.0 and len(y) <= 100
    full = Envelope(2, 100)
    full.add([1.0, 2.0, 3.0])
    assert full.points() == ([1.0, 2.0], [])
