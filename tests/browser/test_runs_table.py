"""The index of a large site in Chromium: the first rows come as HTML, site.js loads every row
from the chunks the page names and draws them as the reader scrolls, filters or sorts, exactly
as the template does and in its order; a chunk that cannot load is said, not hidden; picked
runs stay picked across redraws; hostile data stays text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sitegen import cache
from sitegen.model import ComputeInfo, Problem, Run
from sitegen.render.compare import compare_page
from sitegen.render.env import theme_dir
from sitegen.render.index import INLINE_ROWS, chunk_path, index_chunk, index_page, index_row, table_order
from sitegen.render.site import SiteInfo
from sitegen.shards import hashed_shard

from .cdp import Page

RUNS = 1000
SHARDS = 4
SITE = SiteInfo(title="big", theme=str(theme_dir("default")), version="0")
PAYLOAD = '<img src=x onerror="window.__pwned=1">'
ROWS = "document.querySelectorAll('#runs tbody tr').length"
ROW_HTML = "[...document.querySelectorAll('#runs tbody tr')].map(row => row.outerHTML)"
PICKED = "[...document.querySelectorAll('input.pick:checked')].map(box => box.dataset.slug)"
COUNT = "document.getElementById('filter-count').textContent"
LOADED = "document.getElementById('runs').dataset.loaded === 'all'"  # every chunk loaded
RUN_IDS = "[...document.querySelectorAll('#runs tbody tr .sub')].map(div => div.textContent)"
STATUSES = ("completed", "failed", "running", "broken", "stalled", "timed_out")


def _run(i: int) -> Run:
    """Runs unlike each other in every column the table shows."""
    status = STATUSES[i % len(STATUSES)]
    return Run(
        run_id=f"group{i % 7}/run-{i:04d}", root="/r", slug=f"run-{i:04d}",
        kind=("sidecar", "nightly")[i % 2],
        name=PAYLOAD if i == 3 else f"run & <{i}>", status=status,
        created_at=None if i % 97 == 0 else 1.7e9 + 3600 * (i // 3),  # runs created at the same time too
        ended_at=1.7e9 + 3600 * (i // 3) + i * 7.5 if i % 5 else None,
        tags=tuple(f"tag{j}" for j in range(i % 4)) + (("sweep:1",) if i % 10 == 0 else ()),
        badges=("legacy",) if i % 11 == 0 else (), warnings=["w"] * (i % 3),
        problem=Problem(message="unreadable") if status == "broken" else None,
        compute=ComputeInfo(gpu_type="H100" if i % 2 else "A100") if i % 3 == 0 else None,
    )


def _runs() -> list[Run]:
    """RUNS runs, and two made at one moment whose ids sort differently by code point than by
    UTF-16 unit (Python's order, which the table keeps)."""
    same_time = {"created_at": 1.6e9, "root": "/r", "kind": "sidecar", "status": "completed"}
    return [_run(i) for i in range(RUNS - 2)] + [
        Run(run_id="z/\U0001f600", slug="z-smile", name="astral", **same_time),
        Run(run_id="z/\uff01", slug="z-bang", name="wide", **same_time),
    ]


def _write_site(out: Path, runs: list[Run]) -> Path:
    """The index, its chunks (SHARDS of them) and the theme's assets, as the build writes them."""
    members: list[list[bytes]] = [[] for _ in range(SHARDS)]
    for run in runs:
        members[hashed_shard(cache.run_key(run.root, run.run_id), SHARDS)].append(index_row(run))
    chunks = [(chunk_path(shard), "1") for shard in range(SHARDS)]
    rows = [(run, index_row(run)) for run in runs]
    pages = [index_page(rows, SITE, chunks=chunks), compare_page(SITE),
             *(index_chunk(shard, mine) for shard, mine in enumerate(members))]
    for built in pages:
        (out / built.path).parent.mkdir(exist_ok=True)
        (out / built.path).write_bytes(built.data)
    shutil.copytree(theme_dir("default") / "static", out / "assets")
    return out / "index.html"


@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_site(tmp_path_factory.mktemp("big-index"), _runs())


def open_index(page: Page, index: Path, fragment: str = "") -> None:
    page.navigate("about:blank")
    page.navigate(index.as_uri() + fragment)
    page.wait_for(f"document.readyState === 'complete' && {LOADED}")


def test_the_first_rows_are_the_pages_own_and_scrolling_draws_the_next(page: Page, big_index: Path):
    open_index(page, big_index)
    assert page.evaluate(ROWS) == INLINE_ROWS
    assert page.evaluate(COUNT) == f"{RUNS} of {RUNS} match"
    assert page.evaluate("document.getElementById('runs-more').hidden") is False
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for(f"{ROWS} >= {2 * INLINE_ROWS}")
    page.click("#runs-more")
    page.wait_for(f"{ROWS} >= {3 * INLINE_ROWS}")
    shown = page.evaluate("[...document.querySelectorAll('#runs tbody tr .sub')].map(div => div.textContent)")
    assert len(shown) == len(set(shown))  # each run once, in the page's order: newest first
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_rows_drawn_by_the_script_are_the_rows_the_template_draws(page: Page, big_index: Path):
    open_index(page, big_index)
    from_template = page.evaluate(ROW_HTML)
    created = "#runs thead th:nth-child(5)"
    page.click(created)  # oldest first, drawn by the script
    page.wait_for(f"document.querySelector('{created}').getAttribute('aria-sort') === 'ascending'")
    assert page.evaluate(ROW_HTML) != from_template
    page.click(created)  # newest first: the page's own order again
    page.wait_for(f"document.querySelector('{created}').getAttribute('aria-sort') === 'descending'")
    assert page.evaluate(ROW_HTML) == from_template


def test_a_search_finds_runs_that_were_never_drawn(page: Page, big_index: Path):
    open_index(page, big_index, "#q=run-0001")
    assert page.evaluate(COUNT) == f"1 of {RUNS} match"
    assert page.evaluate("document.querySelector('#runs tbody .sub').textContent") == "group1/run-0001"
    assert page.evaluate("document.getElementById('runs-more').hidden") is True
    open_index(page, big_index, "#status=broken&tag=tag1")
    expected = sum(1 for i in range(RUNS - 2) if STATUSES[i % 6] == "broken" and i % 4 >= 2)
    assert page.evaluate(COUNT) == f"{expected} of {RUNS} match"
    statuses = page.evaluate("[...document.querySelectorAll('#runs tbody .status')].map(s => s.textContent)")
    assert len(statuses) == min(expected, INLINE_ROWS) and set(statuses) == {"✖ broken"}
    open_index(page, big_index, "#gpu=H100")
    assert page.evaluate(COUNT) == (
        f"{sum(1 for i in range(RUNS - 2) if i % 3 == 0 and i % 2)} of {RUNS} match")


def test_hostile_text_in_drawn_rows_is_text(page: Page, big_index: Path):
    open_index(page, big_index, f"#q={json.dumps('window.__pwned')[1:-1]}")
    assert page.evaluate("document.querySelector('#runs tbody a').textContent") == PAYLOAD
    assert page.evaluate("document.querySelectorAll('#runs tbody img').length") == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_picked_runs_stay_picked_across_redraws_and_open_the_compare_page(page: Page, big_index: Path):
    open_index(page, big_index)
    page.click("#runs tbody tr:nth-child(1) input.pick")
    page.click("#runs tbody tr:nth-child(2) input.pick")
    picked = page.evaluate(PICKED)
    assert len(picked) == 2
    assert page.evaluate("document.getElementById('compare-count').textContent") == "2 selected"
    page.click("#runs thead th:nth-child(1)")  # redrawn by name: other rows first
    page.click("#runs thead th:nth-child(5)")
    page.click("#runs thead th:nth-child(5)")  # newest first again
    assert page.evaluate(PICKED) == picked
    page.click("#compare-selected")
    page.wait_for("location.pathname.endsWith('/compare.html')")
    assert page.evaluate("location.hash") == "#runs=" + ",".join(picked)


def test_the_loaded_table_keeps_the_templates_order_down_to_the_last_row(page: Page, big_index: Path):
    open_index(page, big_index)
    page.evaluate("const more = document.getElementById('runs-more'); while (!more.hidden) more.click()")
    assert page.evaluate(RUN_IDS) == [run.run_id for run in sorted(_runs(), key=table_order)]


def test_chunks_that_cannot_load_or_parse_are_said_and_the_others_are_shown(page: Page, tmp_path: Path):
    index = _write_site(tmp_path, _runs())
    lost, garbled = tmp_path / chunk_path(1), tmp_path / chunk_path(2)
    missing = sum(path.read_text().count("],[") + 1 for path in (lost, garbled))
    lost.unlink()
    garbled.write_text("sitegenIndexRows(2,'[[\"not a row\"');\n")
    open_index(page, index)
    assert page.evaluate(COUNT) == (f"{RUNS - missing} of {RUNS - missing} match; 2 of the table's {SHARDS} "
                                    "data files could not be loaded (their runs are missing)")
    open_index(page, index, "#q=run-")
    assert page.evaluate(ROWS) == INLINE_ROWS
