"""Site pages about many runs at once: one page per nightly session, and the data-quality page."""

from __future__ import annotations

from sitegen.analysis.acknowledged import Flagged
from sitegen.analysis.sessions import Session, key_metrics
from sitegen.model import Run
from sitegen.render.env import Page, render
from sitegen.render.run_page import run_url
from sitegen.render.site import QUALITY_PATH, SiteInfo, regression_path, relative_root, session_path


def session_page(session: Session, flagged: list[Flagged], newer: str | None, older: str | None,
                 site: SiteInfo) -> Page:
    """One session's entries against the previous session, and the changes called in it."""
    path = session_path(session.name)
    columns = sorted({m for entry in session.entries for m in key_metrics(entry.run)})
    data = render(
        site.theme, "session.html", site=site, root=relative_root(path), session=session,
        columns=columns, run_url=run_url, session_path=session_path, newer=newer, older=older,
        flagged=flagged, regression_path=regression_path,
    )
    return Page(path, data)


def quality_page(runs: list[Run], site: SiteInfo, total: int | None = None) -> Page:
    """Runs read through a fallback (badges such as "legacy"), broken runs, runs with warnings;
    `runs` may be only some runs (every flagged one among them) when `total` counts them all."""
    flagged = [r for r in runs if r.doubtful]
    flagged.sort(key=lambda r: (not r.problem, not r.read_by_fallback, r.run_id))
    data = render(site.theme, "quality.html", site=site, root=relative_root(QUALITY_PATH),
                  runs=flagged, run_url=run_url, total=len(runs) if total is None else total)
    return Page(QUALITY_PATH, data)
