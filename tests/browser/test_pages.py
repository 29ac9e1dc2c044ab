"""The built sites in a real headless Chromium, as a visitor meets them.

- every page type of the example site loads with no console error, exception, failed load or
  dialog, from disk (file://) and over HTTP at a sub-path, and every plot on it draws;
- the runs table filters (text, status, a tag from the URL) and sorts by a clicked header;
- a log line anchor (`#L<n>`) is the page's target and scrolled into view; a log's lines are
  single-spaced;
- a site built from hostile run data (every text field a payload that would call `alert` and
  set `window.__pwned`) opens no dialog, logs no error and sets nothing, on every page;
- screenshots of the main pages are written to test-output/screenshots/ for a person to look at.

One browser and one tab serve the whole module; waits poll the page, they never sleep blindly.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import age, make_config, run_build, write_sidecar_run
from runs_json import read_runs
from test_trend_pages import write_entry
from test_untrusted_input import LOG, NOTES, patch_sidecar, payload, write_metrics

from sitegen.config import load_config

from .cdp import Page
from .conftest import VIEWPORT

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCREENSHOTS = REPO / "test-output" / "screenshots"

# A plot is drawn when plotly made its SVG with at least one trace in it; a page is ready once
# loaded, every plot drawn, and (the compare page) its runs' data loaded.
DRAWN = "(plot => plot.querySelector('svg.main-svg g.trace'))"
READY = f"""document.readyState === "complete"
  && [...document.querySelectorAll(".plot")].every({DRAWN})
  && !(document.getElementById("compare-status")?.textContent || "").startsWith("Loading")"""
STATE = f"""({{
  ready: document.readyState,
  plots: document.querySelectorAll(".plot").length,
  undrawn: [...document.querySelectorAll(".plot")].filter(plot => !{DRAWN}(plot))
    .map(plot => plot.id || plot.closest("figure")?.textContent || "(no id)"),
  pwned: typeof window.__pwned !== "undefined",
}})"""


def visit(page: Page, url: str) -> dict:
    """Open `url` afresh (never as a same-document hash change) and wait until it is ready."""
    page.navigate("about:blank")
    page.navigate(url)
    page.wait_for(READY)
    return page.evaluate(STATE)


def page_faults(page: Page, state: dict) -> list[str]:
    """Everything wrong with the page just visited, as a visitor (or an attacker) would see it."""
    faults = [*page.problems, *(f"dialog {dialog}" for dialog in page.dialogs)]
    if state["ready"] != "complete":
        faults.append(f"document.readyState is {state['ready']!r}")
    faults += [f"plot not drawn: {plot}" for plot in state["undrawn"]]
    if state["pwned"]:
        faults.append("window.__pwned was set")
    return faults


# --- the example site --------------------------------------------------------------------------

# Each page type: a glob under the site (its first match in sorted order) and maybe a fragment.
PAGE_TYPES = {
    "index": "index.html",
    "run-training": "runs/20250305-*/index.html",
    "run-failed": "runs/20250306-*/index.html",
    "run-nightly": "runs/nightly-*/index.html",
    "run-serving": "runs/serving-*/index.html",
    "run-processing": "runs/dj-outputs-*/index.html",
    "log": "runs/*/logs/rank-0.err.html",
    "session": "sessions/*.html",
    "trends": "trends/index.html",
    "trend": "trends/fuzzy_dedup-*.html",
    "trend-sweep": "trends/sweep-*.html",
    "triage": "regressions/*.html",
    "coverage": "coverage.html",
    "compare-runs": "compare.html#runs={sweep}",
    "compare-curves": "compare.html#runs={serving}",
    "compare-sweep": "compare/sweep-*.html",
    "compare-serving": "compare/serving.html",
    "quality": "quality.html",
    **{f"page-{md.stem}": f"pages/{md.stem}.html" for md in sorted((REPO / "content").glob("*.md"))},
}
PLOTTED = {"run-training", "run-failed", "run-serving", "run-processing", "trend", "trend-sweep", "triage",
           "compare-runs", "compare-curves", "compare-sweep", "compare-serving", "page-weekly-report"}
SCREENSHOT_PAGES = ("index", "run-training", "trends", "trend", "triage", "coverage", "compare-runs")


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled examples and content pages, built as `sitegen build` does with no roots set."""
    home = tmp_path_factory.mktemp("browser-examples")
    settings = {"content": str(REPO / "content"), "safety": {"allow_paths": [str(EXAMPLES)]}}
    (home / "sitegen.yaml").write_text(json.dumps(settings))  # JSON is YAML
    run_build(load_config(str(home / "sitegen.yaml"), roots=[str(EXAMPLES / "runs")], out=str(home / "site")))
    return home / "site"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_url(example_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example site served over HTTP at /sub/path/, as on a GitHub Pages project site."""
    www = tmp_path_factory.mktemp("www")
    (www / "sub").mkdir()
    (www / "sub" / "path").symlink_to(example_site, target_is_directory=True)
    handler = functools.partial(QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sub/path/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def runs_json(site: Path) -> list[dict]:
    return read_runs(site)


def example_path(site: Path, kind: str) -> str:
    """The site-relative URL of the example page of this type."""
    pattern, _, fragment = PAGE_TYPES[kind].partition("#")
    matches = sorted(site.glob(pattern))
    assert matches, f"the example site has no {kind} page ({pattern})"
    runs = runs_json(site)
    picks = {"sweep": [run["slug"] for run in runs if "sweep:48213" in run["tags"]][:2],
             "serving": [run["slug"] for run in runs if run["kind"] == "jobdir"][:2]}
    path = matches[0].relative_to(site).as_posix()
    return path + ("#" + fragment.format(**{name: ",".join(slugs) for name, slugs in picks.items()})
                   if fragment else "")


@pytest.mark.parametrize("kind", list(PAGE_TYPES))
@pytest.mark.parametrize("origin", ["file", "http"])  # all of one origin first: its renderer is reused
def test_each_page_type_loads_cleanly_and_draws_its_plots(request: pytest.FixtureRequest, page: Page,
                                                          example_site: Path, origin: str, kind: str):
    base = example_site.as_uri() + "/" if origin == "file" else request.getfixturevalue("http_url")
    url = base + example_path(example_site, kind)
    state = visit(page, url)
    assert page_faults(page, state) == [], url
    if kind in PLOTTED:
        assert state["plots"] > 0, f"{url}: no plot on the page"


# --- the runs table ----------------------------------------------------------------------------

VISIBLE_ROWS = """[...document.querySelectorAll("#runs tbody tr")].filter(row => row.offsetParent)
  .map(row => ({text: row.textContent.toLowerCase(),
                status: row.cells[1].querySelector(".status").className.split("status-")[1]}))"""


def set_field(page: Page, selector: str, value: str) -> str:
    """Set a form field as typing or picking would, and say what it holds afterwards."""
    return page.evaluate(
        f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
        f" el.value = {json.dumps(value)}; el.dispatchEvent(new Event('input', {{bubbles: true}}));"
        " return el.value; })()"
    )


def filter_count(page: Page) -> str:
    return page.evaluate("document.getElementById('filter-count').textContent")


def test_runs_table_filters_by_text_status_and_tag(page: Page, example_site: Path):
    runs, index = runs_json(example_site), (example_site / "index.html").as_uri()
    total = len(runs)
    visit(page, index)
    assert len(page.evaluate(VISIBLE_ROWS)) == total and filter_count(page) == f"{total} of {total} match"

    assert set_field(page, "#filter-text", "Fuzzy_Dedup") == "Fuzzy_Dedup"
    rows = page.evaluate(VISIBLE_ROWS)
    expected = sum("fuzzy_dedup" in run["run_id"] for run in runs)
    assert len(rows) == expected == 10 and all("fuzzy_dedup" in row["text"] for row in rows)
    assert filter_count(page) == f"{expected} of {total} match"

    set_field(page, "#filter-text", "")
    assert set_field(page, "#filter-status", "failed") == "failed"
    rows = page.evaluate(VISIBLE_ROWS)
    failed = [run for run in runs if run["status"] == "failed"]
    assert len(rows) == len(failed) >= 2 and {row["status"] for row in rows} == {"failed"}
    assert filter_count(page) == f"{len(failed)} of {total} match"

    set_field(page, "#filter-text", "dedup_exact")  # both filters at once
    assert len(page.evaluate(VISIBLE_ROWS)) == sum("dedup_exact" in run["run_id"] for run in failed) == 1

    visit(page, index + "#tag=sweep:48213")  # a link to the index filtered by a tag
    tagged = sum("sweep:48213" in run["tags"] for run in runs)
    assert len(page.evaluate(VISIBLE_ROWS)) == tagged == 3
    assert filter_count(page) == f"{tagged} of {total} match"


def test_runs_table_sorts_by_the_clicked_header(page: Page, example_site: Path):
    visit(page, (example_site / "index.html").as_uri())
    column = page.evaluate("[...document.querySelectorAll('#runs thead th')]"
                           ".findIndex(th => th.textContent.trim() === 'Created')")
    assert column >= 0
    created = f"[...document.querySelectorAll('#runs tbody tr')].map(row => row.cells[{column}].textContent)"
    header = f"#runs thead th:nth-child({column + 1})"
    before = page.evaluate(created)
    assert len(set(before)) > 1

    page.click(header)
    assert page.evaluate(created) == sorted(before)
    assert page.evaluate(f"document.querySelector('{header}').getAttribute('aria-sort')") == "ascending"
    page.click(header)
    assert page.evaluate(created) == sorted(before, reverse=True)
    assert page.evaluate(f"document.querySelector('{header}').getAttribute('aria-sort')") == "descending"


# --- looks: a phone, light and dark ------------------------------------------------------------

PHONE = (390, 844)
LOOK = (Path(__file__).parent / "look.js").read_text()  # overflow, contrast, colours


@pytest.fixture(params=["light", "dark"])
def phone(request: pytest.FixtureRequest, page: Page) -> Iterator[str]:
    scheme = [{"name": "prefers-color-scheme", "value": request.param}]
    page.send("Emulation.setEmulatedMedia", features=scheme)
    page.send("Emulation.setDeviceMetricsOverride", width=PHONE[0], height=PHONE[1], deviceScaleFactor=2,
              mobile=True)
    try:
        yield request.param
    finally:
        page.send("Emulation.setEmulatedMedia", features=[])
        page.set_viewport(*VIEWPORT)


@pytest.mark.parametrize("kind", list(PAGE_TYPES))
def test_each_page_type_reads_well_on_a_phone(page: Page, phone: str, example_site: Path, kind: str):
    """No sideways scrolling of the page (wide tables scroll in their own box), every text
    legible against its background, the page and its plots in the reader's colour scheme."""
    url = example_site.as_uri() + "/" + example_path(example_site, kind)
    assert page_faults(page, visit(page, url)) == []
    look = page.evaluate(LOOK)
    assert look["overflow"] <= 1, (
        f"{kind}: the page scrolls sideways by {look['overflow']}px on a phone: {look['wide']}")
    assert look["low"] == [], f"{kind} ({phone}): text below WCAG AA contrast: {look['low']}"
    dark = sum(map(float, re.findall(r"[\d.]+", look["page"])[:3])) < 3 * 64
    assert dark == (phone == "dark"), f"{kind}: a {phone} reader gets a page of {look['page']}"
    assert set(look["plotText"]) <= {look["text"]}, f"{kind}: plot text {look['plotText']} is not the page's"
    if kind in SCREENSHOT_PAGES:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(SCREENSHOTS / f"phone-{phone}-{kind}.png")


@pytest.mark.parametrize("over", ["file", "http"])
def test_a_click_on_a_trend_point_opens_its_run(page: Page, example_site: Path, http_url: str, over: str):
    trend = next(example_site.glob("trends/fuzzy_dedup-*.html")).relative_to(example_site).as_posix()
    visit(page, (example_site / trend).as_uri() if over == "file" else f"{http_url}/{trend}")
    run = page.evaluate("document.querySelector('.plot').data[0].customdata.at(-1)")
    page.click(".plot .scatterlayer .trace .points path:last-child")  # the newest night's point
    assert page.wait_for(f"location.href.endsWith({json.dumps(run)})"), page.evaluate("location.href")
    assert page.wait_for("document.readyState === 'complete' && !!document.querySelector('h1')")
    state = page.evaluate(STATE)
    assert page_faults(page, state) == []


PARAM_COLUMNS = """new Set([...document.querySelectorAll("table.params tr")]
  .map(row => Math.round(row.getBoundingClientRect().left))).size"""


def test_a_runs_parameters_take_two_columns_on_a_desk_and_one_on_a_phone(page: Page, example_site: Path):
    url = example_site.as_uri() + "/" + example_path(example_site, "run-training")
    visit(page, url)
    assert page.evaluate("document.querySelectorAll('table.params tr').length") > 10
    assert page.evaluate(PARAM_COLUMNS) == 2
    try:
        page.set_viewport(390, 844)
        visit(page, url)
        assert page.evaluate(PARAM_COLUMNS) == 1
    finally:
        page.set_viewport(*VIEWPORT)


def test_the_runs_table_starts_on_the_first_screen_with_data_quality_in_the_header(
        page: Page, example_site: Path):
    visit(page, (example_site / "index.html").as_uri())
    first_row = page.evaluate("document.querySelector('#runs tbody tr').getBoundingClientRect().top")
    assert first_row < VIEWPORT[1], f"the first run is {first_row}px down a {VIEWPORT[1]}px screen"
    assert page.evaluate("document.querySelector('header nav a').textContent").startswith("data quality")


def test_coverage_cells_are_tinted_by_state_and_keep_their_marks(page: Page, example_site: Path):
    visit(page, (example_site / "coverage.html").as_uri())
    cells = page.evaluate("""Object.fromEntries(["st-completed", "st-failed", "cov-missing"].map(name => {
      const cell = document.querySelector(`table.coverage td.${name}`);
      return [name, {background: getComputedStyle(cell).backgroundColor, mark: cell.textContent.trim()}];
    }))""")
    backgrounds = {cell["background"] for cell in cells.values()}
    assert len(backgrounds) == 3 and "rgba(0, 0, 0, 0)" not in backgrounds, cells
    assert [cell["mark"] for cell in cells.values()] == ["✓", "✗", "–"], cells


# --- log pages ---------------------------------------------------------------------------------

TARGET = """(() => { const line = document.querySelector(":target"); if (!line) return null;
  const box = line.getBoundingClientRect();
  return {id: line.id, classes: line.className, top: box.top, offset: line.offsetTop,
          height: innerHeight}; })()"""
IN_VIEW = "(t => t && t.top > -1 && t.top < t.height)(" + TARGET + ")"  # -1: subpixel layout


def test_a_line_anchor_far_down_a_log_is_targeted_and_scrolled_into_view(page: Page, example_site: Path):
    logs = {log: len(re.findall(r' id="L\d+"', log.read_text()))
            for log in example_site.glob("runs/*/logs/*.html")}
    log, lines = max(logs.items(), key=lambda item: item[1])
    line = lines - 10
    visit(page, f"{log.as_uri()}#L{line}")
    assert page.wait_for(IN_VIEW), page.evaluate(TARGET)
    target = page.evaluate(TARGET)
    assert target is not None and target["id"] == f"L{line}", target
    assert target["offset"] > 2 * target["height"], "the line is not far down: nothing to scroll"
    assert -1 < target["top"] < target["height"], f"line {line} is not in the viewport: {target}"


LOG_LINES = """(() => { const spans = [...document.querySelectorAll("pre.log > span")];
  const first = spans[0].getBoundingClientRect(), last = spans.at(-1).getBoundingClientRect();
  return {count: spans.length, line: first.height, all: last.bottom - first.top,
          font: parseFloat(getComputedStyle(spans[0]).fontSize)}; })()"""


def test_a_three_line_log_is_three_lines_high(page: Page, tmp_path: Path):
    root, out = tmp_path / "runs", tmp_path / "site"
    write_sidecar_run(root, "20240101/000000/aaaaaaaaaaaa", log="first\nsecond\nthird\n")
    age(root)
    run_build(make_config(root, out))
    visit(page, next(out.glob("runs/*/logs/*.html")).as_uri())
    lines = page.evaluate(LOG_LINES)
    assert lines["count"] == 3 and lines["line"] < 2 * lines["font"], lines  # a line is one line high
    assert lines["all"] == pytest.approx(3 * lines["line"], abs=1), lines  # and none between them


def test_the_first_error_link_leads_to_the_highlighted_line(page: Page, example_site: Path):
    runs = runs_json(example_site)
    failed = next(run for run in runs if run["status"] == "failed" and run["kind"] == "sidecar")
    visit(page, (example_site / failed["url"]).as_uri())
    link = page.evaluate("[...document.querySelectorAll('a[href*=\"logs/\"]')].map(a => a.href)"
                         ".find(href => /#L\\d+$/.test(href))")
    assert link, "the failed run's page links its first error"
    state = visit(page, link)
    assert page_faults(page, state) == []
    assert page.wait_for(IN_VIEW), page.evaluate(TARGET)
    target = page.evaluate(TARGET)
    assert target["id"] == link.rpartition("#")[2] and "hl" in target["classes"].split()
    assert -1 < target["top"] < target["height"]


# --- hostile run data --------------------------------------------------------------------------

PWN = '<img src=x onerror="window.__pwned=1">'
SCRIPT_BREAKER = "</script><script>window.__pwned=1;alert('figures')</script>"


def hostile(field: str, *, closing: bool = True) -> str:
    """The payloads of test_untrusted_input, led by one that sets `window.__pwned` if it runs."""
    return PWN + payload(field, closing=closing)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every page type from hostile data: a sweep of two sidecar runs whose text fields, file and
    directory names are payloads, and nightly sessions (with a regression) named by payloads."""
    base = tmp_path_factory.mktemp("browser-hostile")
    root = base / "runs"
    sweep = f"sweep:{hostile('sweep')}"
    run_dir = write_sidecar_run(
        root, f"hostile/{hostile('dir', closing=False)}", status=hostile("status"),
        tags=[hostile("tag"), sweep],
        hparams={hostile("hparam-key"): hostile("hparam-value"), "optimizer.lr": 0.001},
        notes=f"{NOTES}\n{hostile('notes')}\n", log=f"{LOG}{hostile('log')}\nERROR {hostile('log-error')}\n",
    )
    patch_sidecar(run_dir, summary={hostile("summary"): 0.5})
    write_metrics(run_dir, ["step", hostile("metric"), SCRIPT_BREAKER])
    (run_dir / (hostile("log-name", closing=False) + ".out")).write_text(hostile("log-text") + "\n")
    write_sidecar_run(root, "hostile/bbbbbbbbbbbb", tags=[sweep],
                      hparams={hostile("hparam-key"): hostile("b")})

    entry, metric = hostile("entry", closing=False), hostile("metric") + "_time_s"
    for session in range(10):
        slower = 1.3 if session >= 6 else 1.0
        values = None if session == 3 else {metric: 100.0 * slower, "throughput_rows_per_s": 50.0}
        write_entry(root / "nightly", session, entry, values, prefix=hostile("session", closing=False),
                    packages=f"{hostile('package', closing=False)}=={session >= 6}\n",
                    stderr=hostile("stderr"))
    content = base / "content"
    content.mkdir()
    name = json.dumps(entry)  # a JSON string is a YAML string
    (content / "report.md").write_text(
        f"```sitegen-trend\nbenchmark: {name}\n```\n"
        f"```sitegen-table\nfilter: {{benchmark: {name}}}\ncolumns: [name, {json.dumps(metric)}]\n```\n"
        f"```sitegen-compare\ntag: {json.dumps(sweep)}\n```\n```sitegen-regressions\n```\n")
    age(root)
    # a status that is not a known one counts as live; never let it be shown as stalled instead
    run_build(make_config(root, base / "site", "build:\n  heartbeat_timeout_s: 3.0e+9\n"))
    return base / "site"


def test_the_harness_sees_a_payload_that_runs(page: Page):
    visit(page, "data:text/html," + hostile("control"))
    assert page.dialogs and set(page.dialogs) == {"alert: control"} and page.evaluate("window.__pwned") == 1


def test_hostile_run_data_runs_nothing_on_any_page(page: Page, hostile_site: Path):
    pages = {p.relative_to(hostile_site).as_posix(): p.as_uri() for p in sorted(hostile_site.rglob("*.html"))}
    made = {path.split("/")[0] for path in pages}
    assert {"index.html", "coverage.html", "runs", "sessions", "trends", "regressions", "compare"} <= made
    assert "pages" in made
    runs = runs_json(hostile_site)
    slugs = ",".join(run["slug"] for run in runs)
    pages["compare.html#runs=…"] = (hostile_site / "compare.html").as_uri() + f"#runs={slugs}"
    faults, showing = {}, set()
    for path, url in pages.items():
        state = visit(page, url)
        if found := page_faults(page, state):
            faults[path] = found
        if page.evaluate("document.body.textContent.includes('window.__pwned=1')"):
            showing.add(path)
    assert faults == {}
    hostile_run = next(run["url"] for run in runs if run["run_id"].startswith("hostile/<img"))
    assert {"index.html", hostile_run, "compare.html#runs=…"} <= showing, "the payloads are shown as text"


# --- screenshots -------------------------------------------------------------------------------


def test_screenshots_of_the_main_pages(page: Page, example_site: Path, capsys: pytest.CaptureFixture[str]):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for kind in SCREENSHOT_PAGES:
        visit(page, example_site.as_uri() + "/" + example_path(example_site, kind))
        shot = SCREENSHOTS / f"{kind}.png"
        page.screenshot(shot)
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with capsys.disabled():
        print(f"\nbrowser screenshots: {SCREENSHOTS}")
