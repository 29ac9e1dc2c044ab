"""Trend pages (a benchmark's metrics over sessions or dates), the trends index, regressions.json."""

from __future__ import annotations

import math
from collections import defaultdict

from sitegen.analysis.acknowledged import Flagged
from sitegen.analysis.trends import Point, Trend
from sitegen.jsonsafe import dumps_for_script
from sitegen.render.env import Page, render
from sitegen.render.figures import figure_div_id, label
from sitegen.render.site import (
    REGRESSIONS_JSON,
    TRENDS_PATH,
    SiteInfo,
    regression_path,
    relative_root,
    slug_url,
    trend_path,
)

REGRESSIONS_JSON_FORMAT = 1
COLOURS = {"regression": "#cf222e", "improvement": "#1a7f37", "failed": "#8c959f"}
_DIRECTION_WORDS = {1: "higher is better", -1: "lower is better", 0: "direction unknown"}


def trend_figure(trend: Trend, flagged: list[Flagged]) -> dict:
    """The metric's values as a line; failed runs as grey crosses at the last good value;
    steps as large markers (triangle pointing the way the value moved), hollow while suspected."""
    x = [_x(p, trend.by) for p in trend.points]
    hover = [f"{label(p.label)}<br>{p.status}" for p in trend.points]
    traces = [{
        "type": "scatter", "mode": "lines+markers", "name": label(trend.metric), "showlegend": False, "x": x,
        "y": [p.value for p in trend.points], "connectgaps": True, "text": hover,
        "hovertemplate": "%{text}<br>%{y:.4g}<extra></extra>",
        "customdata": [slug_url(p.slug) for p in trend.points],  # a click opens the run (site.js)
    }]
    failed = [(x[i], _nearest_value(trend.points, i), p)
              for i, p in enumerate(trend.points) if p.value is None]
    if failed:
        traces.append({
            "type": "scatter", "mode": "markers", "name": "failed", "x": [f[0] for f in failed],
            "y": [f[1] for f in failed], "text": [label(f"{p.label}: {p.status}") for *_, p in failed],
            "customdata": [slug_url(p.slug) for *_, p in failed],
            "hovertemplate": "%{text}<extra></extra>",
            "marker": {"symbol": "x", "size": 11, "color": COLOURS["failed"]},
        })
    for kind in ("regression", "improvement"):
        mine = [f for f in flagged if f.step.kind == kind]
        if mine:
            traces.append({
                "type": "scatter", "mode": "markers", "name": kind + "s",
                "x": [_x(f.step.first_bad, trend.by) for f in mine], "y": [f.step.value for f in mine],
                "text": [_step_text(f) for f in mine], "hovertemplate": "%{text}<extra></extra>",
                "marker": {"size": 15, "color": COLOURS[kind], "line": {"width": 2, "color": COLOURS[kind]},
                           "symbol": [_symbol(f) for f in mine]},
            })
    layout = {
        "autosize": True, "margin": {"l": 60, "r": 10, "t": 10, "b": 60}, "showlegend": len(traces) > 1,
        "legend": {"orientation": "h", "y": -0.25},
        "xaxis": {"type": "category" if trend.by == "session" else "date"},
        "yaxis": {"title": {"text": label(trend.metric)}},
    }
    return {"data": traces, "layout": layout}


def trend_pages(benchmark: str, trends: list[Trend], flagged: list[Flagged], directions: dict[str, int],
                site: SiteInfo) -> Page:
    """One page per benchmark: a plot per metric (which way is better by `directions`), its
    steps listed under it."""
    path = trend_path(benchmark)
    by_metric = defaultdict(list)
    for f in flagged:
        by_metric[f.step.metric].append(f)
    sections = []
    for index, trend in enumerate(trends):
        steps = by_metric.get(trend.metric, [])
        sections.append({
            "trend": trend, "id": figure_div_id(index), "flagged": steps,
            "direction": _DIRECTION_WORDS[directions.get(trend.metric, 0)],
            "latest": next((p for p in reversed(trend.points) if p.value is not None), None),
        })
    figures = {s["id"]: trend_figure(s["trend"], s["flagged"]) for s in sections}
    data = render(
        site.theme, "trend.html", site=site, root=relative_root(path), benchmark=benchmark,
        sections=sections, figures_json=dumps_for_script(figures), regression_path=regression_path,
        trends_path=TRENDS_PATH,
    )
    return Page(path, data)


SPARK_POINTS = 30  # the newest values a trends index sparkline draws
_SPARK_WIDTH, _SPARK_HEIGHT = 120, 24


def trends_index(trends: list[Trend], flagged: list[Flagged], site: SiteInfo) -> Page:
    """Every benchmark, a row per metric: a sparkline of its newest values, the newest value and
    its change from the one before, and the benchmark's newest point and current steps."""
    current = defaultdict(list)
    for f in flagged:
        if f.step.newest:
            current[f.step.benchmark].append(f)
    rows: dict[str, dict] = {}
    for trend in trends:
        row = rows.setdefault(trend.benchmark, {
            "benchmark": trend.benchmark, "path": trend_path(trend.benchmark), "metrics": [],
            "newest": trend.points[-1], "by": trend.by,
        })
        row["metrics"].append(_spark_row(trend, current.get(trend.benchmark, [])))
        if trend.points[-1].at > row["newest"].at:
            row["newest"] = trend.points[-1]
    for row in rows.values():
        mine = current.get(row["benchmark"], [])
        row["regressions"] = sum(1 for f in mine if f.step.kind == "regression" and f.state == "new")
        row["suspected"] = sum(1 for f in mine if f.step.kind == "regression" and f.state == "suspected")
        row["acknowledged"] = sum(1 for f in mine if f.state == "acknowledged")
        row["improvements"] = sum(1 for f in mine
                                  if f.step.kind == "improvement" and f.state != "acknowledged")
    data = render(site.theme, "trends.html", site=site, root=relative_root(TRENDS_PATH),
                  rows=list(rows.values()), flagged=flagged, regression_path=regression_path,
                  spark_points=SPARK_POINTS)
    return Page(TRENDS_PATH, data)


def spark_values(trend: Trend) -> list[float | None]:
    """What a trends index sparkline draws of `trend`: its newest values (None: a failed run, or
    a value that is not a finite number, which no line can be drawn through)."""
    return [p.value if p.value is not None and math.isfinite(p.value) else None
            for p in trend.points[-SPARK_POINTS:]]


def _spark_row(trend: Trend, current: list[Flagged]) -> dict:
    """A metric's row: its sparkline, newest value, and change: from the value before, or, while
    a step it is in is current, from the step's baseline."""
    values = spark_values(trend)
    good = [v for v in values if v is not None]
    latest = good[-1] if good else None
    before = good[-2] if len(good) > 1 else None
    change = (latest - before) / abs(before) if latest is not None and before else None
    flagged = next((f for f in current if f.step.metric == trend.metric and f.state != "acknowledged"), None)
    if flagged is not None:  # the level it is at now: its change from the baseline, not from last night
        change = flagged.step.change
    return {"metric": trend.metric, "lines": _spark_lines(values), "latest": latest, "change": change,
            "step": flagged.step.kind if flagged else None}


def _spark_lines(values: list[float | None]) -> list[str]:
    """`values` as SVG polyline point lists, one per run of values between failed runs, scaled
    into the sparkline's box (a flat series along its middle)."""
    good = [v for v in values if v is not None]
    if not good:
        return []
    low, high = min(good), max(good)
    step = _SPARK_WIDTH / max(len(values) - 1, 1)
    lines, points = [], []
    for index, value in enumerate(values):
        if value is None:
            lines.append(points)
            points = []
            continue
        level = 0.5 if high == low else (value - low) / (high - low)
        points.append(f"{index * step:.1f},{(1 - level) * (_SPARK_HEIGHT - 2) + 1:.1f}")
    lines.append(points)
    return [" ".join(line) if len(line) > 1 else f"{line[0]} {line[0]}" for line in lines if line]


def regressions_json(flagged: list[Flagged], run_urls: dict[str, str]) -> Page:
    """Every flagged change for automation; `run_urls` maps a run slug to its page."""
    items = []
    for f in flagged:
        s = f.step
        items.append({
            "benchmark": s.benchmark, "metric": s.metric, "kind": s.kind, "state": f.state,
            "confirmed": s.confirmed, "current": s.newest,
            "session": s.first_bad.label if s.by == "session" else None,
            "date": s.first_bad.at, "baseline": s.baseline, "value": s.value, "change": s.change,
            "limit": s.limit, "direction": "higher" if s.direction > 0 else "lower",
            "acknowledged": {"reason": f.acknowledged.reason, "until": f.acknowledged.until,
                             "expired": f.expired} if f.acknowledged else None,
            "last_good": {"run_id": s.last_good.run_id, "label": s.last_good.label,
                          "url": run_urls.get(s.last_good.slug)},
            "first_bad": {"run_id": s.first_bad.run_id, "label": s.first_bad.label,
                          "url": run_urls.get(s.first_bad.slug)},
            "triage_url": regression_path(s.benchmark, s.metric, s.first_bad.run_id),
            "trend_url": trend_path(s.benchmark),
        })
    body = {"format": REGRESSIONS_JSON_FORMAT, "regressions": items}
    return Page(REGRESSIONS_JSON, dumps_for_script(body).encode() + b"\n")


def _x(point: Point, by: str) -> str:
    return label(point.label) if by == "session" else point.label


def _nearest_value(points: list[Point], index: int) -> float | None:
    """Where a failed run's cross goes: at the last good value before it, else the next one."""
    for p in (*reversed(points[:index]), *points[index + 1:]):
        if p.value is not None:
            return p.value
    return None


def _symbol(f: Flagged) -> str:
    shape = "triangle-up" if f.step.change > 0 else "triangle-down"
    return shape if f.state == "new" else f"{shape}-open"


def _step_text(f: Flagged) -> str:
    s = f.step
    state = {"new": "", "suspected": " (suspected)", "acknowledged": " (acknowledged)"}[f.state]
    return label(f"{s.kind}{state}: {s.change:+.1%} against {s.baseline:.4g}")
