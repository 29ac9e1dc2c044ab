"""The coverage page: a mark and a class per cell, session names linked, the newest session summed up."""

from __future__ import annotations

import re

from sitegen.analysis.coverage import coverage
from sitegen.model import Run
from sitegen.render.coverage import COVERAGE_PATH, coverage_page
from sitegen.render.env import theme_dir
from sitegen.render.run_page import run_url
from sitegen.render.site import SiteInfo, session_path

SITE = SiteInfo(title="t", theme=str(theme_dir("default")), version="0")


def _run(session: str, entry: str, day: int, status: str = "completed", badges: tuple[str, ...] = ()) -> Run:
    return Run(run_id=f"{session}/{entry}", root="/r", slug=f"{session}-{entry}", kind="nightly",
               name=entry, status=status, session=session, benchmark=entry, created_at=day * 86400.0,
               badges=badges)


def _page(runs: list[Run]) -> str:
    page = coverage_page(coverage(runs), SITE)
    assert page.path == COVERAGE_PATH == "coverage.html"
    return page.data.decode()


def test_cells_have_a_mark_a_class_and_a_link_to_their_run():
    runs = [_run("s1", "dedup", 1), _run("s1", "sort", 1), _run("s1", "pipe", 1),
            _run("s2", "dedup", 2, "failed"), _run("s2", "sort", 2, "failed", ("timed out",)),
            _run("s2", "new", 2, "broken")]
    html = _page(runs)
    newest = f'Newest session, <a href="{session_path("s2")}">s2</a>'
    assert f"{newest}: 1 failed, 1 timed out, 1 broken, 1 missing." in html
    assert html.index(">s2</a></th>") < html.index(">s1</a></th>")  # newest first
    failed = runs[3]
    assert re.search(rf'<td class="cell cov-failed st-failed" title="dedup in s2: failed">'
                     rf'<a class="[^"]+" href="{re.escape(run_url(failed))}">✗</a></td>', html)
    assert 'class="cell cov-timed-out st-failed"' in html and ">◷</a>" in html
    assert 'class="cell cov-broken st-failed"' in html
    assert '<td class="cell cov-missing st-none" title="pipe in s2: missing">–</td>' in html
    assert '<td class="cell cov-empty" title="new in s1: not yet run"></td>' in html
    for mark, state in (("✓", "passed"), ("✗", "failed"), ("◷", "timed out"), ("!", "broken"),
                        ("…", "running"), ("–", "missing")):
        assert f">{mark}</span> {state} " in html  # the legend


def test_names_are_escaped_and_an_empty_matrix_says_so():
    html = _page([_run("<b>s</b>", "<i>e</i>", 1)])
    assert "<b>s</b>" not in html and "&lt;i&gt;e&lt;/i&gt;" in html
    assert "No nightly sessions yet" in _page([])
