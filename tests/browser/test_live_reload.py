"""`sitegen serve --watch` with a page open in Chromium: a changed run rebuilds the site and
the open page reloads itself, showing the change, with no error on the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import stop_process_group, write_sidecar_run
from test_serve import RUN, Serving, run_page

from .cdp import Page


@pytest.fixture
def watching(runs_root: Path, tmp_path: Path) -> Iterator[Serving]:
    (tmp_path / "sitegen.yaml").write_text(f"roots: [{runs_root}]\nout: site\nbuild:\n  racy_window_s: 0\n")
    server = Serving("--watch", cwd=tmp_path)
    yield server
    stop_process_group(server.process)


def test_an_open_page_reloads_itself_after_a_rebuild(page: Page, watching: Serving, runs_root: Path,
                                                    tmp_path: Path):
    url = f"http://127.0.0.1:{watching.port}{run_page(tmp_path / 'site')}"
    page.navigate("about:blank")
    page.navigate(url)
    page.wait_for("document.readyState === 'complete'")
    page.evaluate("window.__before_the_rebuild = true")  # gone once the page is loaded again
    assert "fresh-note-42" not in page.evaluate("document.body.textContent")

    write_sidecar_run(runs_root, RUN, notes="fresh-note-42")
    assert page.wait_for("document.body && document.body.textContent.includes('fresh-note-42')"), (
        "the open page never showed the rebuilt run")
    assert page.evaluate("typeof window.__before_the_rebuild") == "undefined"
    assert page.evaluate("location.href") == url
    assert page.problems == [] and page.dialogs == []
