"""A run's data as a small script beside its page: the run page's plots and the compare page
read their points from it, loaded with <script> tags, because browsers block fetch() on file://."""

from __future__ import annotations

from sitegen.analysis.downsample import PLOT_POINTS, downsample
from sitegen.jsonsafe import dumps_for_script
from sitegen.metric_names import direction
from sitegen.model import Run, Series
from sitegen.render.env import Page

DATA_JS = "data.js"


def run_data_js(run: Run, url: str) -> Page:
    """`window.sitegenRuns[slug] = {…}` beside the run page at `url` (`run_page.run_url`).

    Each series is `{"axis", "x", "y"}`: against its first axis (its index when it has none),
    downsampled to what a plot shows (the CSV has all), its columns in `plot_columns`' encoding.
    """
    data = {
        "name": run.name, "url": url, "status": run.status, "kind": run.kind,
        "params": run.params, "summary": run.summary,
        "directions": {m: d for m in run.summary if (d := direction(m))},
        "series": {name: _line_json(series) for name, series in run.series.items()},
        "points": [{"curve": p.curve, "x_name": p.x_name, "x": p.x, "metrics": p.metrics}
                   for p in run.points],
    }
    script = (f"window.sitegenRuns=window.sitegenRuns||{{}};"
              f"window.sitegenRuns[{dumps_for_script(run.slug)}]={dumps_for_script(data)};\n")
    return Page(f"{url.rsplit('/', 1)[0]}/{DATA_JS}", script.encode())


def _line_json(series: Series) -> dict:
    from sitegen.render.plot_columns import encode_column  # numpy: only for a run with series

    axis = next(iter(series.x), "index")
    x = series.x[axis] if series.x else [float(i) for i in range(len(series.y))]
    x, y = downsample(x, series.y, PLOT_POINTS)
    return {"axis": axis, "x": encode_column(x, exact=True), "y": encode_column(y, exact=False)}
