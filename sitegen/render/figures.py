"""Plotly figures as plain dicts in the plotly JSON schema, small enough to embed in pages.

Never `plotly.graph_objects`: it is far too slow for thousands of figures.
"""

from __future__ import annotations

import itertools
import math
from html import escape

import orjson

from sitegen.analysis.downsample import downsample

_MARKERS_UP_TO = 50  # points; a line this short also gets markers, so each point shows
_EXACT_INT = 2.0**53  # beyond this a float's integer form is no shorter and may mislead
# y is shown to 7 significant digits (float32 precision), finer than any plot or hover needs;
# full precision takes ~19 characters a value and pushes a 10-series page past its budget.
_Y_DIGITS = 7


def overlay_figure(title: str, traces: list[tuple[str, list[float], list[float]]],
                   x_title: str, y_title: str, max_points: int = 1000) -> dict:
    """Several named (name, x, y) lines on one plot, each downsampled to `max_points`."""
    layout = _layout(x_title, y_title)
    layout["title"] = {"text": label(title)}
    layout["margin"]["t"] = 40
    return {"data": [_trace(name, x, y, max_points) for name, x, y in traces], "layout": layout}


def bar_figure(title: str, edges: list[float], counts: list[int]) -> dict:
    """A histogram from bucket edges (len(counts) + 1) and counts."""
    layout = _layout(title, "count")
    layout["showlegend"] = False
    buckets = list(itertools.pairwise(edges))
    centres = [(a + b) / 2 for a, b in buckets]
    widths = [b - a for a, b in buckets]
    bar = {"type": "bar", "x": json_numbers(centres, exact=True), "y": list(counts),
           "width": json_numbers(widths, exact=True)}
    return {"data": [bar], "layout": layout}


def bar_chart(categories: list[str], series: dict[str, list[float | int | None]], y_title: str) -> dict:
    """Grouped bars: one bar per category for each named series."""
    layout = _layout("", y_title)
    layout["barmode"] = "group"
    labels = [label(c) for c in categories]
    traces = [{"type": "bar", "name": label(name), "x": labels,
               "y": [None if v is None else _compact(v) for v in values]} for name, values in series.items()]
    return {"data": traces, "layout": layout}


def timeline_figure(bars: list[tuple[str, str, float, float, str]], x_title: str) -> dict:
    """A Gantt chart from (name, lane, start, duration, status) bars: one colour per name, lanes
    top to bottom in order of first appearance, failed bars hatched (colour is not the only cue)."""
    lanes = list(dict.fromkeys(lane for _name, lane, *_rest in bars))
    layout = _layout(x_title, "")
    layout["barmode"] = "overlay"
    layout["yaxis"] = {"autorange": "reversed", "type": "category", "categoryorder": "array",
                       "categoryarray": [label(lane) for lane in lanes]}
    layout["height"] = min(2000, 80 + 22 * max(len(lanes), 3))
    layout["margin"]["l"] = 10 + 7 * max((len(lane) for lane in lanes), default=0)
    traces = []
    for name in dict.fromkeys(name for name, *_rest in bars):
        mine = [bar for bar in bars if bar[0] == name]
        traces.append({
            "type": "bar", "orientation": "h", "name": label(name),
            "y": [label(lane) for _name, lane, *_rest in mine],
            "base": json_numbers([start for _n, _l, start, _d, _s in mine], exact=False),
            "x": json_numbers([duration for _n, _l, _st, duration, _s in mine], exact=False),
            "customdata": [status for *_rest, status in mine],
            "marker": {"pattern": {"shape": ["x" if status == "failed" else "" for *_rest, status in mine]}},
            "hovertemplate": _GANTT_HOVER,
        })
    return {"data": traces, "layout": layout}


def figure_div_id(index: int) -> str:
    """A fixed div id; plotly's own are random and would break byte-identical builds."""
    return f"plot-{index}"


def _trace(name: str, x: list[float], y: list[float], max_points: int) -> dict:
    x, y = downsample(x, y, max_points)
    return {
        "type": "scatter",
        "mode": "lines+markers" if len(y) <= _MARKERS_UP_TO else "lines",
        "name": label(name),
        "x": json_numbers(x, exact=True),
        "y": json_numbers(y, exact=False),
    }


def json_numbers(values: list[float], exact: bool) -> orjson.Fragment | list[float | int | None]:
    """A JSON array of numbers, written in one pass at C speed when every value is finite.

    `exact` values (x axes) keep full precision; others are shown to _Y_DIGITS digits.
    """
    try:  # a finite sum proves every value finite; only an overflow needs the full check
        finite = math.isfinite(sum(values)) or all(map(math.isfinite, values))
    except TypeError:
        finite = False
    if not finite:
        return [_compact(v if exact else float(f"{v:.{_Y_DIGITS}g}")) for v in values]
    if exact:
        if not all(map(float.is_integer, map(float, values))) or max(map(abs, values)) >= _EXACT_INT:
            return [_compact(v) for v in values]
        return list(map(int, values))  # whole numbers print shorter as ints
    text = ",".join([_SHORT] * len(values)) % tuple(values)  # one C-level format call
    return orjson.Fragment(f"[{text}]".encode())


# below the plot: beside it, long run names would squeeze the plot
LEGEND_BELOW = {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"}


def _layout(x_title: str, y_title: str) -> dict:
    return {
        "autosize": True,
        "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
        "xaxis": {"title": {"text": label(x_title)}},
        "yaxis": {"title": {"text": label(y_title)}},
        "legend": dict(LEGEND_BELOW),
    }


def label(text: str) -> str:
    """Text for a plotly label, which renders tags such as <b>, <br> and <a href>.

    Quotes stay as they are: plotly decodes &lt; &gt; &amp; but would show &quot; verbatim.
    """
    return escape(text, quote=False)


_SHORT = f"%.{_Y_DIGITS}g"
_GANTT_HOVER = "%{y}: %{fullData.name}<br>%{base:.1f} s + %{x:.1f} s, %{customdata}<extra></extra>"


def _compact(value: float) -> float | int | None:
    """None for NaN/±inf (JSON has neither); whole numbers as ints, which print shorter."""
    value = float(value)
    if not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < _EXACT_INT:
        return int(value)
    return value
