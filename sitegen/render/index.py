"""Site-wide pages: the index with its runs table, and runs.json for automation."""

from __future__ import annotations

from collections import Counter

from sitegen.analysis.acknowledged import Flagged
from sitegen.analysis.sessions import Session
from sitegen.jsonsafe import dumps_for_script
from sitegen.model import Run
from sitegen.render.env import Page, render, render_text
from sitegen.render.run_page import run_url
from sitegen.render.site import QUALITY_PATH, TRENDS_PATH, SiteInfo, regression_path, session_path

RUNS_JSON_FORMAT = 1


RECENT_POINTS = 5  # a current step whose first bad point is older than this is on the trends page only


def index_page(rows: list[tuple[Run, str]], site: SiteInfo, sessions: list[Session] = (),
               flagged: list[Flagged] = ()) -> Page:
    """The runs table, newest first, from each run's `index_row` (rendered with its pages),
    with the recent regressions and improvements, the sessions (newest first) and the site's
    other pages linked above it."""
    ordered = sorted(rows, key=lambda item: (-(item[0].created_at or 0.0), item[0].run_id))
    statuses = Counter(run.status for run, _ in rows)
    tags = sorted({t for run, _ in rows for t in run.tags})
    gpu_types = sorted({run.compute.gpu_type for run, _ in rows if run.compute and run.compute.gpu_type})
    data = render(
        site.theme, "index.html", site=site, root="", run_count=len(rows),
        rows_html="".join(row for _, row in ordered),
        status_counts=sorted(statuses.items()), tags=tags, gpu_types=gpu_types,
        sessions=[(s.name, session_path(s.name), s.passed, s.failed) for s in sessions],
        flagged=sum(1 for run, _ in rows if run.read_by_fallback or run.problem or run.warnings),
        quality_path=QUALITY_PATH, recent=_recent(flagged), regression_path=regression_path,
        acknowledged=sum(1 for f in flagged if f.step.newest and f.state == "acknowledged"),
        links=_links(rows, bool(sessions), bool(flagged) or any(run.benchmark for run, _ in rows)),
    )
    return Page("index.html", data)


def _recent(flagged: list[Flagged]) -> dict[str, list[Flagged]]:
    """Current steps that began recently, by what they mean for the reader."""
    shown = [f for f in flagged
             if f.step.newest and f.step.later < RECENT_POINTS and f.state != "acknowledged"]
    order = sorted(shown, key=lambda f: (-abs(f.step.change), f.step.benchmark, f.step.metric))
    return {
        "regressions": [f for f in order if f.step.kind == "regression" and f.state == "new"],
        "suspected": [f for f in order if f.step.kind == "regression" and f.state == "suspected"],
        "improvements": [f for f in order if f.step.kind == "improvement"],
    }


def _links(rows: list[tuple[Run, str]], has_sessions: bool, has_trends: bool) -> list[tuple[str, str]]:
    from sitegen.render.compare import SERVING_PATH, sweep_path
    from sitegen.render.coverage import COVERAGE_PATH

    links = []
    if has_trends:
        links.append(("Trends", TRENDS_PATH))
    if has_sessions:
        links.append(("Coverage of the nightly matrix", COVERAGE_PATH))
    if any(run.points for run, _ in rows):
        links.append(("Serving curves compared", SERVING_PATH))
    sweeps = Counter(run.sweep for run, _ in rows if run.sweep is not None)
    links += [(f"Sweep {sweep} compared", sweep_path(sweep))
              for sweep, count in sorted(sweeps.items()) if count > 1]
    return links


def index_row(run: Run, site: SiteInfo) -> str:
    """The run's row of the index table (HTML, escaped by the template)."""
    return render_text(site.theme, "_run_row.html", root="", run=run, url=run_url(run))


def runs_json(runs: list[Run]) -> Page:
    rows = [
        {
            "run_id": r.run_id, "root": r.root, "slug": r.slug, "kind": r.kind, "name": r.name,
            "status": r.status, "session": r.session, "benchmark": r.benchmark,
            "tags": list(r.tags), "badges": list(r.badges),
            "created_at": r.created_at, "ended_at": r.ended_at,
            "summary": r.summary, "url": run_url(r), "warnings": r.warnings,
            "problem": r.problem.message if r.problem else None,
        }
        for r in sorted(runs, key=lambda r: (r.root, r.run_id))
    ]
    # escaped like JSON in a page: run data stays inert even if the file is sniffed or inlined as HTML
    return Page("runs.json", dumps_for_script({"format": RUNS_JSON_FORMAT, "runs": rows}).encode() + b"\n")
