"""The built example site as a visitor meets it: links relative and alive, errors linked to their line."""

from __future__ import annotations

import functools
import hashlib
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import run_build
from runs_json import read_runs

from sitegen.config import load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
            elif name == "id" and value:
                self.ids.add(value)


@functools.cache
def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The bundled examples, generated afresh: a checkout's files have checkout-time mtimes."""
    home = tmp_path_factory.mktemp("example-site")
    runs = home / "runs"
    subprocess.run([sys.executable, str(EXAMPLES / "generate_examples.py"), "--out", str(runs)], check=True)
    (home / "sitegen.yaml").write_text("roots: [runs]\n")
    out = home / "site"
    run_build(load_config(str(home / "sitegen.yaml"), out=str(out)))
    return out


def test_every_link_is_relative_and_leads_to_a_file(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        parsed = _parse(page)
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https") or link == "data:,":
                continue  # links out, such as a run's URL; the theme's empty icon
            assert not parts.scheme and not parts.netloc and not link.startswith("/"), (page, link)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page.relative_to(site)}: {link} leads nowhere"
            assert site.resolve() in target.parents, f"{page.relative_to(site)}: {link} leaves the site"
            if parts.fragment and target.suffix == ".html" and not parts.fragment.startswith("tag="):
                assert parts.fragment in _parse(target).ids, f"{page.relative_to(site)}: {link}"


def test_the_failed_run_links_its_first_error_to_the_highlighted_line(site):
    runs = read_runs(site)
    failed = next(run for run in runs if run["status"] == "failed")
    page = site / failed["url"]
    error_links = [link for link in _parse(page).links if re.search(r"logs/.+\.html#L\d+$", link)]
    assert error_links, "the run page links the first error"
    log_path, line = error_links[0].split("#")
    log_html = (page.parent / log_path).read_text()
    assert re.search(rf'<span class="hl" id="{line}">', log_html)
    assert "OutOfMemoryError" in log_html


def test_runs_json_lists_every_run_with_its_page(site):
    runs = read_runs(site)
    assert {run["status"] for run in runs} >= {"completed", "failed", "stalled"}
    for run in runs:
        assert (site / run["url"]).is_file()


def test_redacted_example_secrets_never_reach_the_site(site):
    # the fake key of examples/example_runs.py
    fake_key = hashlib.sha1(b"sitegen example, not a real key").hexdigest().encode()
    for path in site.rglob("*"):
        if path.is_file():
            assert fake_key not in path.read_bytes(), path


def test_the_sweep_has_a_log_page_per_rank_and_stream(site):
    rank_pages = {p.name for p in site.glob("runs/*/logs/rank-*.html")}
    assert {"rank-0.out.html", "rank-0.err.html", "rank-1.out.html", "rank-1.err.html"} <= rank_pages


def test_the_bundled_sessions_and_serving_jobs_have_their_planted_events(site):
    runs = read_runs(site)
    nightly = {run["run_id"].removeprefix("nightly/"): run for run in runs if run["kind"] == "nightly"}
    assert len(nightly) == 39 and "nightly-2025-03-09/sort_small" not in nightly
    assert nightly["nightly-2025-03-05/dedup_exact"]["status"] == "failed"
    assert nightly["nightly-2025-03-06/pipeline"]["badges"] == ["timed out"]
    fuzzy = [nightly[f"nightly-2025-03-{day:02d}/fuzzy_dedup"]["summary"]["time_taken_s"] for day in (7, 8)]
    assert 1.08 < fuzzy[1] / fuzzy[0] < 1.16
    serving = [run for run in runs if run["kind"] == "jobdir"]
    assert sorted({run["benchmark"] for run in serving}) == [
        "h100 · 1P/1D · isl 1024 / osl 1024", "h100 · 2P/1D · isl 1024 / osl 1024"]
    assert len(serving) == 6 and all(run["status"] == "completed" and not run["warnings"] for run in serving)
    page = (site / nightly["nightly-2025-03-08/fuzzy_dedup"]["url"]).read_text()
    assert "<h2>Reproduce</h2>" in page and "/opt/bench/fuzzy_dedup.py" in page
