"""The coverage page: the nightly matrix of benchmarks × sessions, one mark per cell."""

from __future__ import annotations

from sitegen.analysis.coverage import STATES, Cell, Coverage
from sitegen.render.env import Page, render
from sitegen.render.run_page import run_url
from sitegen.render.site import SiteInfo, relative_root, session_path

COVERAGE_PATH = "coverage.html"
# a mark per state, so that colour is not the only cue; the st-* classes carry the colours
MARKS = {"passed": "✓", "partial": "◐", "failed": "✗", "missed requirement": "≠", "timed out": "◷",
         "broken": "!", "running": "…", "unknown": "?", "missing": "–", "": ""}
COLOUR_CLASSES = {"passed": "st-completed", "partial": "st-partial", "failed": "st-failed",
                  "missed requirement": "st-failed", "timed out": "st-failed", "broken": "st-failed",
                  "running": "st-in_progress", "unknown": "st-none", "missing": "st-none", "": ""}


def coverage_page(cov: Coverage, site: SiteInfo) -> Page:
    root = relative_root(COVERAGE_PATH)
    rows = [(row.benchmark, [_cell(row.benchmark, column.name, cell, root)
                             for column, cell in zip(cov.sessions, row.cells, strict=True)])
            for row in cov.rows]
    data = render(
        site.theme, "coverage.html", site=site, root=root, rows=rows,
        sessions=[(s.name, root + session_path(s.name), summary(s.totals), _compact(s.totals))
                  for s in cov.sessions],
        newest=summary(cov.sessions[0].totals) if cov.sessions else "",
        legend=[(MARKS[state], _classes(state), state) for state in STATES],
    )
    return Page(COVERAGE_PATH, data)


def summary(totals: dict[str, int]) -> str:
    """"12 passed, 1 failed, 2 missing"."""
    return ", ".join(f"{totals[state]} {state}" for state in STATES if totals.get(state))


def _compact(totals: dict[str, int]) -> str:
    """"12✓ 1✗ 2–": a session's totals in a column one mark wide."""
    return " ".join(f"{totals[state]}{MARKS[state]}" for state in STATES if totals.get(state))


def _cell(benchmark: str, session: str, cell: Cell, root: str) -> dict[str, str]:
    return {
        "mark": MARKS[cell.state], "classes": _classes(cell.state),
        "title": f"{benchmark} in {session}: {cell.state or 'not yet run'}{_unmet(cell)}",
        "href": root + run_url(cell.run) if cell.run is not None else "",
    }


def _unmet(cell: Cell) -> str:
    """": throughput_docs_per_sec < 3500": the requirements a run missed, named in its cell's title."""
    unmet = cell.run.unmet_requirements if cell.run is not None else {}
    return ": " + "; ".join(unmet.values()) if unmet else ""


def _classes(state: str) -> str:
    if not state:
        return "cell cov-empty"
    return f"cell cov-{state.replace(' ', '-')} {COLOUR_CLASSES[state]}"
