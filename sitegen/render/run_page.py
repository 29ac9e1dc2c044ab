"""A run's pages: the run page, one page per log stream, and its full data as CSV."""

from __future__ import annotations

import msgspec

from sitegen.analysis.repro import as_text, reproduction
from sitegen.analysis.trends import trend_of
from sitegen.jsonsafe import dumps_for_script
from sitegen.model import Artifact, LogStream, MetricStats, Run, RunRef
from sitegen.render.ansi import ansi_to_html
from sitegen.render.bench import histogram_figure, point_figures, point_tables
from sitegen.render.env import Page, render
from sitegen.render.figures import figure_div_id
from sitegen.render.markdown import untrusted_html
from sitegen.render.processing import STATUS_MARKS, processing_view
from sitegen.render.run_data import run_data_js
from sitegen.render.site import SiteInfo, relative_root, session_path, slug_url, trend_path
from sitegen.slug import run_slug, slugify

MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024  # static hosts refuse big files (GitHub: 100 MB); the CLI has no cap
TRACEBACK_SPAN = 200  # lines after the first error that may belong to its traceback
_HIGHLIGHT = ' class="hl"'


def run_dir(run: Run) -> str:
    return f"runs/{run.slug}"


def run_url(run: Run) -> str:
    return slug_url(run.slug)


def related_url(run: Run, ref: RunRef) -> str:
    """The page of a run related to `run` (same root), from any page of the site."""
    return f"runs/{run_slug(run.root, ref.run_id)}/index.html"


def log_url(run: Run, stream: LogStream) -> str:
    return f"{run_dir(run)}/logs/{stream.slug}.html"


def artifact_name(artifact: Artifact) -> str:
    """The file name a published artifact gets beside the run page."""
    return slugify(artifact.publish_as or artifact.name)


def run_pages(run: Run, site: SiteInfo) -> list[Page]:
    snapshot = msgspec.json.encode(run.snapshot) + b"\n" if run.snapshot is not None else b""
    published = 0 < len(snapshot) <= MAX_SNAPSHOT_BYTES
    pages = [_run_page(run, site, published, len(snapshot))]
    pages.extend(_log_page(run, stream, site) for stream in run.logs if not stream.empty)
    pages.append(run_data_js(run, run_url(run)))  # the run page's plots and the compare page
    if published:  # the job's snapshot for automation, as DataJuicer prints it
        pages.append(Page(f"{run_dir(run)}/snapshot.json", snapshot))
    return pages


def _run_page(run: Run, site: SiteInfo, snapshot_published: bool, snapshot_size: int) -> Page:
    path = run_url(run)
    bench_plots = point_figures(run.points)
    histogram_plots = [(h.name, histogram_figure(h)) for h in run.histograms]
    logs = [(stream, None if stream.empty else log_url(run, stream).removeprefix(run_dir(run) + "/"))
            for stream in run.logs]
    processing = processing_view(run.snapshot, logs) if run.snapshot is not None else None
    groups = (bench_plots, histogram_plots, processing.figures if processing else [])
    ids = iter(range(sum(map(len, groups))))
    bench_plots, histogram_plots, processing_plots = (
        [{"id": figure_div_id(next(ids)), "name": name, "figure": figure} for name, figure in group]
        for group in groups
    )
    figures = {p["id"]: p["figure"] for p in (*bench_plots, *histogram_plots, *processing_plots)}
    files = [(a, artifact_name(a) if a.publish_as and a.source else None) for a in run.artifacts]
    data = render(
        site.theme, "run.html", site=site, root=relative_root(path), run=run,
        notes_html=untrusted_html(run.notes) if run.notes else "",
        plots=sorted(run.series), bench_plots=bench_plots, histogram_plots=histogram_plots,
        figures_json=dumps_for_script(figures) if figures else "", logs=logs,
        facts=list(run.facts.items()), params=sorted(run.params.items()),
        summary=_summary_rows(run), summary_stats=bool(run.summary_stats),
        tables=point_tables(run.points), stages=_stages(run),
        processing=processing, processing_plots=processing_plots, marks=STATUS_MARKS,
        snapshot_published=snapshot_published, snapshot_size=snapshot_size,
        files=files, data_files=[(a, href) for a, href in files if href and a.name.endswith(".csv")],
        session_href=session_path(run.session) if run.session else "",
        trend=(benchmark, trend_path(benchmark)) if (benchmark := trend_of(run)) else None,
        parent=(run.parent, related_url(run, run.parent)) if run.parent else None,
        children=[(ref, related_url(run, ref)) for ref in run.children],
        env=sorted(run.env.items()), packages=sorted(run.packages.items(), key=lambda kv: kv[0].lower()),
        repro=as_text(reproduction(run)),
    )
    return Page(path, data)


def _summary_rows(run: Run) -> list[tuple[str, float, MetricStats | None, bool]]:
    """(metric, value, its min/max/count if kept, whether the value is its series' last) rows."""
    derived = set(run.summary_from_series)
    return [(name, value, run.summary_stats.get(name), name in derived)
            for name, value in sorted(run.summary.items())]


def _stages(run: Run) -> list[tuple[str, str, dict[str, float]]]:
    """(stage, metric, {sum, mean, std}) rows, stages and metrics sorted."""
    return [(stage, metric, values) for stage, metrics in sorted(run.stages.items())
            for metric, values in sorted(metrics.items())]


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
    template, because a per-line template loop dominates the cost of a log page. Without classes
    (site.css styles `pre.log > span`): they would be a third of a short log's page. Each line's
    newline is inside its block: between two blocks it would be a blank line of its own.
    """
    return "".join(
        f'<span{_HIGHLIGHT if number in highlight else ""} id="L{number}">'
        f'<a href="#L{number}">{number}</a>{line}\n</span>'
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
