"""A run's data as a small script beside its page: the compare page loads any runs with
<script> tags, because browsers block fetch() on file://."""

from __future__ import annotations

from sitegen.analysis.downsample import downsample
from sitegen.jsonsafe import dumps_for_script
from sitegen.metric_names import direction
from sitegen.model import Run, Series
from sitegen.render.env import Page
from sitegen.render.figures import json_numbers

DATA_JS = "data.js"
MAX_POINTS = 1000  # per line, as on the run page: a line of up to 1,000 points is not downsampled
MIN_POINTS = 50  # per line, however many lines share the budget
RUN_BUDGET = 50_000  # points in one run's data.js, over all its series


def run_data_js(run: Run, url: str, plotted: dict[str, dict] | None = None) -> Page:
    """`window.sitegenRuns[slug] = {…}` beside the run page at `url` (`run_page.run_url`).

    `plotted` may hold the run page's own lines (`{"axis", "x", "y"}` by series name), already
    downsampled and written: they are reused while the run stays within its budget.
    """
    per_line = points_per_line(len(run.series), RUN_BUDGET)
    reuse = plotted is not None and per_line >= MAX_POINTS
    data = {
        "name": run.name, "url": url, "status": run.status, "kind": run.kind,
        "params": run.params, "summary": run.summary,
        "directions": {m: d for m in run.summary if (d := direction(m))},
        "series": {name: plotted[name] if reuse and name in plotted else _line_json(series, per_line)
                   for name, series in run.series.items()},
        "points": [{"curve": p.curve, "x_name": p.x_name, "x": p.x, "metrics": p.metrics}
                   for p in run.points],
    }
    script = (f"window.sitegenRuns=window.sitegenRuns||{{}};"
              f"window.sitegenRuns[{dumps_for_script(run.slug)}]={dumps_for_script(data)};\n")
    return Page(f"{url.rsplit('/', 1)[0]}/{DATA_JS}", script.encode())


def points_per_line(lines: int, budget: int) -> int:
    """Points each of `lines` lines may keep so that together they stay near `budget`."""
    return max(MIN_POINTS, min(MAX_POINTS, budget // max(lines, 1)))


def plot_line(series: Series, max_points: int) -> dict:
    """The series against its first axis (its index when it has none), downsampled."""
    axis = next(iter(series.x), None)
    x = series.x[axis] if axis is not None else [float(i) for i in range(len(series.y))]
    x, y = downsample(x, series.y, max_points)
    return {"axis": axis or "index", "x": x, "y": y}


def _line_json(series: Series, max_points: int) -> dict:
    """`plot_line`, its numbers written at C speed (y to float32 precision)."""
    line = plot_line(series, max_points)
    return {**line, "x": json_numbers(line["x"], exact=True), "y": json_numbers(line["y"], exact=False)}
