"""Benchmark points and histograms as tables and figures, for any reader that produces them.

Metric names are the normalised ones (`sitegen.metric_names`): a throughput contains
"throughput" or "goodput", a latency is `<kind>_ms_<stat>`. Nothing here knows the reader.
"""

from __future__ import annotations

import re
from collections import defaultdict

import msgspec

from sitegen.model import BenchPoint, Histogram
from sitegen.render.figures import bar_figure, overlay_figure

_LATENCY = re.compile(r"^(?P<kind>[a-z0-9]+)_ms_(?P<stat>mean|median|std|p[0-9.]+)$")
_LATENCY_ORDER = ("ttft", "tpot", "itl", "e2el")
_CURVE_STATS = ("median", "p99")  # the lines drawn per latency kind; the tables hold the rest
_PER_GPU = "output_throughput_per_gpu"
_PARETO_LATENCIES = ("tpot_ms_median", "itl_ms_median", "ttft_ms_median", "e2el_ms_median")


class PointTable(msgspec.Struct, frozen=True):
    """One curve's points: a row per x, a column per metric."""

    curve: str
    x_name: str
    columns: list[str]
    rows: list[tuple[float, list[float | None]]]


def point_tables(points: list[BenchPoint]) -> list[PointTable]:
    tables = []
    for curve, curve_points in _by_curve(points).items():
        columns = sorted({m for p in curve_points for m in p.metrics}, key=_column_order)
        rows = [(p.x, [p.metrics.get(c) for c in columns]) for p in curve_points]
        tables.append(PointTable(curve, curve_points[0].x_name, columns, rows))
    return tables


def point_figures(points: list[BenchPoint]) -> list[tuple[str, dict]]:
    """(caption, figure): each throughput and each latency kind against x, one line per curve
    (and per statistic for latencies), then the Pareto view when throughput per GPU is known."""
    if not points:
        return []
    curves = _by_curve(points)
    x_name = points[0].x_name
    names = sorted({m for p in points for m in p.metrics}, key=_column_order)
    figures = []
    for name in (n for n in names if _is_throughput(n)):
        traces = [_trace(curve, ps, name) for curve, ps in curves.items()]
        figures.append((name, _figure(name, traces, x_name, name)))
    for kind in sorted({m["kind"] for n in names if (m := _LATENCY.match(n))}, key=_kind_order):
        stats = [f"{kind}_ms_{stat}" for stat in _CURVE_STATS if f"{kind}_ms_{stat}" in names]
        traces = [_trace(f"{curve} · {stat.rsplit('_', 1)[1]}", ps, stat)
                  for curve, ps in curves.items() for stat in stats]
        if stats:
            figures.append((f"{kind} latency", _figure(f"{kind} latency", traces, x_name, f"{kind} (ms)")))
    latency = next((n for n in _PARETO_LATENCIES if n in names), None)
    if _PER_GPU in names and latency:
        traces = [(curve, [p.metrics[latency] for p in ps if _has(p, latency, _PER_GPU)],
                   [p.metrics[_PER_GPU] for p in ps if _has(p, latency, _PER_GPU)])
                  for curve, ps in curves.items()]
        caption = f"throughput per GPU vs {latency} (up and left is better)"
        pareto = overlay_figure(caption, [t for t in traces if t[1]], latency, _PER_GPU)
        figures.append((caption, _untitled(pareto)))
    return figures


def histogram_figure(histogram: Histogram) -> dict:
    return bar_figure(histogram.name, histogram.edges, histogram.counts)


def _by_curve(points: list[BenchPoint]) -> dict[str, list[BenchPoint]]:
    curves: dict[str, list[BenchPoint]] = defaultdict(list)
    for point in sorted(points, key=lambda p: (p.curve, p.x)):
        curves[point.curve].append(point)
    return dict(curves)


def _trace(name: str, points: list[BenchPoint], metric: str) -> tuple[str, list[float], list[float]]:
    present = [p for p in points if metric in p.metrics]
    return name, [p.x for p in present], [p.metrics[metric] for p in present]


def _figure(title: str, traces: list[tuple[str, list[float], list[float]]], x_name: str, y_name: str) -> dict:
    figure = _untitled(overlay_figure(title, [t for t in traces if t[1]], x_name, y_name))
    if x_name == "concurrency":  # 1 … 4096 in powers of two: a log axis spaces them evenly
        figure["layout"]["xaxis"]["type"] = "log"
    return figure


def _untitled(figure: dict) -> dict:
    """The page's caption names the figure; a plotly title would repeat it under the toolbar."""
    figure["layout"].pop("title", None)
    figure["layout"]["margin"]["t"] = 10
    return figure


def _has(point: BenchPoint, *metrics: str) -> bool:
    return all(m in point.metrics for m in metrics)


def _is_throughput(name: str) -> bool:
    return "throughput" in name or "goodput" in name


def _kind_order(kind: str) -> tuple[int, str]:
    return (_LATENCY_ORDER.index(kind) if kind in _LATENCY_ORDER else len(_LATENCY_ORDER), kind)


def _column_order(name: str) -> tuple[int, tuple[int, str], str]:
    if _is_throughput(name):
        return (0, (0, ""), name)
    match = _LATENCY.match(name)
    if match:
        return (1, _kind_order(match["kind"]), name)
    return (2, (0, ""), name)
