"""The triage page of a regression: the step, its trend, and what changed between the last good
run and the first bad one, with how to reproduce each."""

from __future__ import annotations

from sitegen.analysis.acknowledged import Flagged
from sitegen.analysis.repro import as_text, reproduction
from sitegen.analysis.trends import Trend
from sitegen.analysis.triage import Triage
from sitegen.jsonsafe import dumps_for_script
from sitegen.render.env import Page, render
from sitegen.render.figures import figure_div_id
from sitegen.render.run_page import log_url, run_url
from sitegen.render.site import SiteInfo, regression_path, relative_root, session_path, trend_path
from sitegen.render.trends import trend_figure


def triage_page(flagged: Flagged, triage: Triage, trend: Trend, trend_flagged: list[Flagged],
                site: SiteInfo) -> Page:
    step = flagged.step
    path = regression_path(step.benchmark, step.metric, step.first_bad.run_id)
    figures = {figure_div_id(0): trend_figure(trend, trend_flagged)}
    runs = {"last good": triage.last_good, "first bad": triage.first_bad}
    data = render(
        site.theme, "triage.html", site=site, root=relative_root(path), f=flagged, step=step, t=triage,
        figures_json=dumps_for_script(figures), plot_id=figure_div_id(0),
        trend_href=trend_path(step.benchmark),
        runs=[(which, run, run_url(run), as_text(reproduction(run))) for which, run in runs.items()],
        error_links=[(e, _error_href(runs[e.run], e.stream, e.line)) for e in triage.errors],
        session_path=session_path,
    )
    return Page(path, data)


def _error_href(run, stream_name: str, line: int | None) -> str | None:
    stream = next((s for s in run.logs if s.name == stream_name), None)
    if stream is None:
        return None
    return log_url(run, stream) + (f"#L{line}" if line else "")
