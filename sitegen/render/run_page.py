"""A run's pages: the run page, one page per log stream, and its full data as CSV."""

from __future__ import annotations

from sitegen.jsonsafe import dumps_for_script
from sitegen.model import Artifact, LogStream, Run
from sitegen.render.ansi import ansi_to_html
from sitegen.render.env import Page, render
from sitegen.render.figures import figure_div_id, series_figure
from sitegen.render.markdown import untrusted_html
from sitegen.render.site import SiteInfo, relative_root
from sitegen.slug import slugify

TRACEBACK_SPAN = 200  # lines after the first error that may belong to its traceback


def run_dir(run: Run) -> str:
    return f"runs/{run.slug}"


def run_url(run: Run) -> str:
    return f"{run_dir(run)}/index.html"


def log_url(run: Run, stream: LogStream) -> str:
    return f"{run_dir(run)}/logs/{stream.slug}.html"


def artifact_name(artifact: Artifact) -> str:
    """The file name a published artifact gets beside the run page."""
    return slugify(artifact.publish_as or artifact.name)


def run_pages(run: Run, site: SiteInfo) -> list[Page]:
    pages = [_run_page(run, site)]
    pages.extend(_log_page(run, stream, site) for stream in run.logs)
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
        published=[(a, artifact_name(a)) for a in run.artifacts if a.publish_as and a.source],
    )
    return Page(path, data)


def _log_page(run: Run, stream: LogStream, site: SiteInfo) -> Page:
    path = log_url(run, stream)
    lines = ansi_to_html(stream.text)
    data = render(
        site.theme, "log.html", site=site, root=relative_root(path), run=run, stream=stream,
        line_count=len(lines), lines_html=_numbered_lines(lines, _error_range(stream, len(lines))),
    )
    return Page(path, data)


def _numbered_lines(lines: list[str], highlight: range) -> str:
    """Escaped HTML lines, each with its anchor (#L12) and a link to it; built here, not in the
    template, because a per-line template loop dominates the cost of a log page.
    """
    return "".join(
        f'<span class="line{" hl" if number in highlight else ""}" id="L{number}">'
        f'<a class="ln" href="#L{number}">{number}</a>{line}</span>\n'
        for number, line in enumerate(lines, 1)
    )


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
