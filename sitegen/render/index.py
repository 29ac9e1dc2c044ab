"""Site-wide pages: the index with its runs table, and runs.json for automation."""

from __future__ import annotations

from collections import Counter

from sitegen.jsonsafe import dumps
from sitegen.model import Run
from sitegen.render.env import Page, render
from sitegen.render.run_page import run_url
from sitegen.render.site import SiteInfo

RUNS_JSON_FORMAT = 1


def index_page(runs: list[Run], site: SiteInfo) -> Page:
    ordered = sorted(runs, key=lambda r: (-(r.created_at or 0.0), r.run_id))
    statuses = Counter(r.status for r in runs)
    tags = sorted({t for r in runs for t in r.tags})
    data = render(
        site.theme, "index.html", site=site, root="", runs=ordered, run_url=run_url,
        status_counts=sorted(statuses.items()), tags=tags,
    )
    return Page("index.html", data)


def runs_json(runs: list[Run]) -> Page:
    rows = [
        {
            "run_id": r.run_id, "root": r.root, "slug": r.slug, "kind": r.kind, "name": r.name,
            "status": r.status, "session": r.session, "benchmark": r.benchmark,
            "tags": list(r.tags), "created_at": r.created_at, "ended_at": r.ended_at,
            "summary": r.summary, "url": run_url(r), "warnings": r.warnings,
            "problem": r.problem.message if r.problem else None,
        }
        for r in sorted(runs, key=lambda r: (r.root, r.run_id))
    ]
    return Page("runs.json", dumps({"format": RUNS_JSON_FORMAT, "runs": rows}) + b"\n")
