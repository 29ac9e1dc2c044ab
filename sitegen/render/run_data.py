"""A run's data as a small script beside its page: the compare page loads any runs with
<script> tags, because browsers block fetch() on file://."""

from __future__ import annotations

from sitegen.analysis.sessions import direction
from sitegen.jsonsafe import dumps_for_script
from sitegen.model import Run, Series
from sitegen.render.downsample import downsample
from sitegen.render.env import Page

DATA_JS = "data.js"
MAX_POINTS = 500  # per line
MIN_POINTS = 50  # per line, however many lines share the budget
RUN_BUDGET = 50_000  # points in one run's data.js, over all its series
_Y_DIGITS = 7  # float32 precision: finer than any plot needs, half the characters
_EXACT_INT = 2.0**53  # beyond this a float's integer form may mislead


def run_data_js(run: Run, url: str) -> Page:
    """`window.sitegenRuns[slug] = {…}` beside the run page at `url` (`run_page.run_url`)."""
    per_line = points_per_line(len(run.series), RUN_BUDGET)
    data = {
        "name": run.name, "url": url, "status": run.status, "kind": run.kind,
        "params": run.params, "summary": run.summary,
        "directions": {m: d for m in run.summary if (d := direction(m))},
        "series": {name: plot_line(series, per_line) for name, series in run.series.items()},
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
    return {"axis": axis or "index", "x": _whole(x), "y": [float(f"{v:.{_Y_DIGITS}g}") for v in y]}


def _whole(x: list[float]) -> list[float] | list[int]:
    """Steps and epochs as ints, which print shorter."""
    if all(map(float.is_integer, map(float, x))) and max(map(abs, x), default=0) < _EXACT_INT:
        return list(map(int, x))
    return x
