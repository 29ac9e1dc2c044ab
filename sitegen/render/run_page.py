"""A run's pages: the run page, one page per log stream, and its full data as CSV."""

from __future__ import annotations

import csv
import io
import math

from sitegen.jsonsafe import dumps_for_script
from sitegen.model import LogStream, Run, Series
from sitegen.render.ansi import ansi_to_html
from sitegen.render.env import Page, render
from sitegen.render.figures import figure_div_id, series_figure
from sitegen.render.markdown import untrusted_html
from sitegen.render.site import SiteInfo, relative_root

TRACEBACK_SPAN = 200  # lines after the first error that may belong to its traceback


def run_dir(run: Run) -> str:
    return f"runs/{run.slug}"


def run_url(run: Run) -> str:
    return f"{run_dir(run)}/index.html"


def log_url(run: Run, stream: LogStream) -> str:
    return f"{run_dir(run)}/logs/{stream.slug}.html"


def run_pages(run: Run, site: SiteInfo) -> list[Page]:
    pages = [_run_page(run, site)]
    pages.extend(_log_page(run, stream, site) for stream in run.logs)
    if run.series:
        pages.append(Page(f"{run_dir(run)}/metrics.csv", series_csv(run.series)))
    return pages


def _run_page(run: Run, site: SiteInfo) -> Page:
    path = run_url(run)
    plots = []
    for index, (name, series) in enumerate(sorted(run.series.items())):
        axis = next(iter(series.x), "step")
        plots.append({"id": figure_div_id(index), "name": name,
                      "figure": series_figure(name, series, axis)})
    figures = {p["id"]: p["figure"] for p in plots}
    logs = [(stream, log_url(run, stream).removeprefix(run_dir(run) + "/")) for stream in run.logs]
    data = render(
        site.theme, "run.html", site=site, root=relative_root(path), run=run,
        notes_html=untrusted_html(run.notes) if run.notes else "",
        plots=plots, figures_json=dumps_for_script(figures), logs=logs,
        params=sorted(run.params.items()), summary=sorted(run.summary.items()),
        has_csv=bool(run.series),
    )
    return Page(path, data)


def _log_page(run: Run, stream: LogStream, site: SiteInfo) -> Page:
    path = log_url(run, stream)
    lines = ansi_to_html(stream.text)
    highlight = _error_range(stream, len(lines))
    data = render(
        site.theme, "log.html", site=site, root=relative_root(path), run=run, stream=stream,
        lines=lines, highlight=highlight,
    )
    return Page(path, data)


def _error_range(stream: LogStream, line_count: int) -> range:
    """Lines to highlight: the first traceback, up to the line that names the error."""
    if stream.first_error is None:
        return range(0)
    start = stream.first_error
    end = start
    if stream.error_summary:
        lines = stream.text.splitlines()
        for number in range(start, min(line_count, start + TRACEBACK_SPAN) + 1):
            if stream.error_summary in lines[number - 1]:
                end = number
                break
    return range(start, end + 1)


def series_csv(series: dict[str, Series]) -> bytes:
    """Every series in one wide table keyed by its default x axis (step), sparse cells empty."""
    names = sorted(series)
    axes = sorted({next(iter(s.x), "step") for s in series.values()})
    rows: dict[tuple[str, float], dict[str, float]] = {}
    for name in names:
        s = series[name]
        axis = next(iter(s.x), "step")
        for x, y in zip(s.x.get(axis, ()), s.y, strict=False):
            rows.setdefault((axis, x), {})[name] = y
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["axis", "x", *names] if len(axes) > 1 else [axes[0] if axes else "step", *names])
    for (axis, x), values in sorted(rows.items()):
        cells = [_cell(x), *(_cell(values.get(n)) for n in names)]
        writer.writerow([axis, *cells] if len(axes) > 1 else cells)
    return buffer.getvalue().encode()


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return repr(value)
