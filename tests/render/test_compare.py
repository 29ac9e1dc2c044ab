"""Comparing runs: sweep pages, serving benchmarks by topology, each run's data.js, the compare page
(checked in Chromium when it is installed) and the index's pick boxes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib.util import find_spec
from pathlib import Path

import plotly.graph_objects as go
import pytest
from data_js import data_js_payload, decode_column

from sitegen.analysis.downsample import PLOT_POINTS
from sitegen.model import BenchPoint, Run, Series
from sitegen.render.compare import (
    compare_page,
    serving_page,
    sweep_pages,
    sweep_path,
    varying_params,
)
from sitegen.render.env import theme_dir
from sitegen.render.index import index_page, index_row
from sitegen.render.run_data import run_data_js
from sitegen.render.run_page import run_pages, run_url
from sitegen.render.site import SiteInfo

SITE = SiteInfo(title="t", theme=str(theme_dir("default")), version="0")
STATIC = theme_dir("default") / "static"
SCRIPT = "</script><script>alert(1)</script>"
NODE = shutil.which("node")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def _series(n: int, scale: float = 1.0) -> Series:
    return Series(y=[scale / (i + 1) for i in range(n)], x={"step": [float(i) for i in range(n)]})


def _run(i: int, **fields: object) -> Run:
    defaults = dict(run_id=f"r{i}", root="/r", slug=f"s{i}", kind="sidecar", name=f"run {i}",
                    status="completed", created_at=1000.0 + i)
    return Run(**{**defaults, **fields})


def _sweep() -> list[Run]:
    return [
        _run(i, params={"lr": 10.0**-i, "optimizer": "adam" if i else "sgd", "seed": 1, "dir": f"/o/{i}"},
             summary={"loss": 1.0 / (i + 1), "accuracy": 0.5 + i / 10, "epoch": 3,
                      "final_lr": 1e-10 * (i + 1)},
             series={"loss": _series(3000, i + 1), **({"acc": _series(10)} if i else {})})
        for i in range(3)
    ]


def _embedded(html: str, element_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    return json.loads(found[1])


# --- sweeps ------------------------------------------------------------------------------------


def test_a_sweep_page_loads_every_runs_data_to_overlay_their_series():
    [page] = sweep_pages({"7": _sweep()}, SITE)
    assert page.path == sweep_path("7") and page.path.startswith("compare/sweep-7-")
    html = page.data.decode()
    assert '<section id="compare-plots" hidden data-root="../" data-slugs="s0,s1,s2">' in html
    assert 'id="figures"' not in html  # drawn in the browser from each run's data.js


def test_a_sweep_page_tables_varying_params_and_embeds_the_scatter_data():
    [page] = sweep_pages({"7": _sweep()}, SITE)
    html = page.data.decode()
    scatter = _embedded(html, "sweep-data")
    # seed is the same in every run; numbers first, then repeated categories, then unique text
    assert scatter["params"] == ["lr", "optimizer", "dir"]
    # results that differ first (plotted before anything is chosen), then what else differs
    assert scatter["metrics"] == ["accuracy", "loss", "final_lr", "epoch"]
    assert [r["url"] for r in scatter["runs"]] == [f"../runs/s{i}/index.html" for i in range(3)]
    assert scatter["runs"][1]["params"] == {"lr": 0.1, "optimizer": "adam", "dir": "/o/1"}
    assert scatter["runs"][2]["summary"]["accuracy"] == pytest.approx(0.7)
    assert '<select id="sweep-param"><option>lr</option><option>optimizer</option><option>dir' in html
    assert re.search(r"<th>Status</th><th>dir</th><th>lr</th><th>optimizer</th><th>accuracy</th>", html)
    assert '<select id="sweep-metric"><option>accuracy</option><option>loss</option><option>final_lr' in html
    assert "<th>seed</th>" not in html and '<a href="../runs/s0/index.html">run 0</a>' in html
    assert 'src="../assets/compare.js"' in html and 'src="../assets/plotly.min.js"' in html


def test_sweep_names_are_slugs_and_hostile_run_names_stay_text():
    runs = [_run(i, name=SCRIPT, params={"x": i}, summary={"m": i}, series={"loss": _series(5)})
            for i in range(2)]
    [page] = sweep_pages({"Sweep 9/../x": runs}, SITE)
    assert page.path == sweep_path("Sweep 9/../x") and page.path.startswith("compare/sweep-sweep-9-..-x-")
    html = page.data.decode()
    assert SCRIPT not in html and "<script>alert" not in html
    assert [r["name"] for r in _embedded(html, "sweep-data")["runs"]] == [f"{SCRIPT} (s0)", f"{SCRIPT} (s1)"]


def test_params_vary_by_value_type_and_absence():
    runs = [_run(0, params={"a": 1, "b": True, "c": 2}), _run(1, params={"a": 1.0, "b": 1, "c": 2}),
            _run(2, params={"a": 1, "b": True})]
    assert varying_params(runs) == ["b", "c"]


# --- serving benchmarks ------------------------------------------------------------------------


def _bench(i: int, topology: str | None, status: str = "completed", curves=("isl 1024 / osl 1024",),
           **extra: float) -> Run:
    metrics = {"ttft_ms_mean": 10.0, "itl_ms_mean": 5.0, **extra}
    points = [BenchPoint(curve, "concurrency", c, {"output_throughput": 100.0 * c + i, **metrics})
              for curve in curves for c in (1, 8, 64)]
    facts = {"Topology": topology} if topology else {}
    return _run(i, name=f"job {i}", status=status, facts=facts, points=points)


def test_serving_curves_have_one_line_per_topology_from_its_newest_completed_job():
    runs = [_bench(1, "1P/1D"), _bench(2, "1P/1D"), _bench(3, "1P/1D", status="failed"),
            _bench(4, "2P/2D", curves=("isl 1024 / osl 1024", "isl 8192 / osl 1024")), _run(5)]
    page = serving_page(runs, SITE)
    assert page.path == "compare/serving.html"
    html = page.data.decode()
    figures = _embedded(html, "figures")
    assert len(figures) == 6  # throughput, TTFT and ITL of each curve
    for figure in figures.values():
        go.Figure(figure)
        assert figure["layout"]["xaxis"]["type"] == "log"
    first = [figures[f"plot-{i}"] for i in range(3)]
    titles = [f["layout"]["yaxis"]["title"]["text"] for f in first]
    assert titles == ["output_throughput", "TTFT (ms)", "ITL (ms)"]
    for figure in first:
        assert [t["name"] for t in figure["data"]] == ["1P/1D · job 2", "2P/2D · job 4"]
    assert figures["plot-0"]["data"][0]["y"] == [102, 802, 6402]
    assert [t["name"] for i in (3, 4, 5) for t in figures[f"plot-{i}"]["data"]] == ["2P/2D · job 4"] * 3
    assert html.index("<h2>isl 1024 / osl 1024</h2>") < html.index("<h2>isl 8192 / osl 1024</h2>")
    assert '<a href="../runs/s1/index.html">job 1</a>, <a href="../runs/s3/index.html">job 3</a>' in html


def test_serving_prefers_output_throughput_and_falls_back_to_another():
    only_requests = _run(1, facts={"Topology": "1P/1D"},
                         points=[BenchPoint("c", "concurrency", 1, {"request_throughput": 2.0})])
    figures = _embedded(serving_page([only_requests], SITE).data.decode(), "figures")
    assert [f["layout"]["yaxis"]["title"]["text"] for f in figures.values()] == ["request_throughput"]


def test_serving_needs_a_run_with_points_and_names_unknown_topologies():
    assert serving_page([_run(1), _run(2)], SITE) is None
    figures = _embedded(serving_page([_bench(1, None)], SITE).data.decode(), "figures")
    assert figures["plot-0"]["data"][0]["name"] == "job 1 (topology unknown) · job 1"


# --- data.js -----------------------------------------------------------------------------------


def _hostile_run(params: dict) -> Run:
    return _run(1, name=SCRIPT, params=params, summary={"val/loss": 0.5, "output_throughput": 3.0},
                series={"loss": _series(5000), SCRIPT: _series(3)},
                points=[BenchPoint(SCRIPT, "concurrency", 8, {"output_throughput": 1.5})])


def test_data_js_is_script_safe_json_holding_the_run():
    page = run_data_js(_hostile_run({"lr": 0.1, SCRIPT: SCRIPT}), run_url(_run(1)))
    assert page.path == "runs/s1/data.js"
    assert b"<" not in page.data and b"\xe2\x80\xa8" not in page.data
    data = data_js_payload(page.data)
    assert data["name"] == SCRIPT and data["params"][SCRIPT] == SCRIPT
    assert data["url"] == "runs/s1/index.html" and data["status"] == "completed" and data["kind"] == "sidecar"
    assert data["directions"] == {"output_throughput": 1, "val/loss": -1}
    loss = data["series"]["loss"]
    assert loss["axis"] == "step"
    assert len(decode_column(loss["x"])) == len(decode_column(loss["y"])) == PLOT_POINTS
    assert data["points"] == [{"curve": SCRIPT, "x_name": "concurrency", "x": 8.0,
                               "metrics": {"output_throughput": 1.5}}]


def test_data_js_is_deterministic_and_a_run_page():
    one = run_data_js(_hostile_run({"a": 1, "b": 2}), "runs/s1/index.html")
    two = run_data_js(_hostile_run({"b": 2, "a": 1}), "runs/s1/index.html")
    assert one == two
    assert one in run_pages(_hostile_run({"a": 1, "b": 2}), SITE)


@pytest.mark.skipif(NODE is None, reason="needs node")
def test_data_js_runs_as_javascript(tmp_path: Path):
    page = run_data_js(_hostile_run({"x": SCRIPT}), "runs/s1/index.html")
    (tmp_path / "data.js").write_bytes(page.data)
    script = f"global.window = {{}}; require({json.dumps(str(tmp_path / 'data.js'))}); " \
             "console.log(JSON.stringify(window.sitegenRuns))"
    loaded = json.loads(subprocess.run([NODE, "-e", script], capture_output=True, check=True).stdout)
    assert list(loaded) == ["s1"] and loaded["s1"]["params"]["x"] == SCRIPT


# --- the compare page and the index ------------------------------------------------------------


def test_the_compare_page_is_static_and_loads_its_script():
    page = compare_page(SITE)
    html = page.data.decode()
    assert page.path == "compare.html"
    assert '<script src="assets/compare.js"></script>' in html and 'src="assets/plotly.min.js"' in html
    assert 'id="compare-app" data-root=""' in html


@pytest.mark.skipif(NODE is None, reason="needs node")
def test_compare_js_takes_only_slugs_from_the_address():
    script = (f"const c = require({json.dumps(str(STATIC / 'compare.js'))});"
              "console.log(JSON.stringify(c.slugsFromHash(process.argv[1])))")
    hash_ = "#runs=a-1,b.2_x,../etc,A,a-1,x%3Cy,%2F%2Fevil.com,javascript:alert(1),.hidden,,ok&q=1"
    slugs = json.loads(subprocess.run([NODE, "-e", script, hash_], capture_output=True, check=True).stdout)
    assert slugs == ["a-1", "b.2_x", "ok"]


def test_index_rows_have_a_pick_box_in_the_run_cell_and_the_columns_still_line_up():
    run = _run(1, name=SCRIPT)
    html = index_page([(run, index_row(run))], SITE).data.decode()
    assert '<input type="checkbox" class="pick" data-slug="s1" aria-label="compare &lt;/script&gt;' in html
    headers = re.findall(r"<th data-sort=", html)
    cells = re.findall(r"<td", html[html.index("<tbody>"):])
    assert len(headers) == len(cells) == 7  # sorting goes by column index
    assert re.search(r'<button type="button" id="compare-selected" data-href="compare.html" disabled>', html)
    assert '<script src="assets/compare.js"></script>' in html


# --- in a browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_site(tmp_path_factory) -> Path:
    """Runs, a sweep page and the compare page with the theme's assets, as a build writes them."""
    out = tmp_path_factory.mktemp("compare-site")
    runs = [*_sweep(), _bench(3, "1P/1D")]
    pages = [p for run in runs for p in run_pages(run, SITE)]
    pages += [*sweep_pages({"7": runs[:3]}, SITE), compare_page(SITE)]
    for page in pages:
        (out / page.path).parent.mkdir(parents=True, exist_ok=True)
        (out / page.path).write_bytes(page.data)
    (out / "assets").mkdir()
    for asset in STATIC.iterdir():
        shutil.copy(asset, out / "assets" / asset.name)
    shutil.copy(Path(find_spec("plotly").origin).parent / "package_data" / "plotly.min.js", out / "assets")
    return out


def _dom(page: Path, fragment: str = "") -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
               "--dump-dom", page.as_uri() + fragment]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium")
def test_a_sweep_page_in_a_browser_overlays_one_line_per_run_for_every_series(small_site: Path):
    dom = _dom(small_site / sweep_path("7"))
    assert re.findall(r'<script src="(\.\./runs/[^"]*)"', dom) == [f"../runs/s{i}/data.js" for i in range(3)]
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", dom)
    assert sorted(captions) == ["acc", "loss"]
    assert dom.count('class="main-svg"') >= 2 * 3  # the scatter and both overlays drawn
    legends = re.findall(r'class="legendtext"[^>]*>([^<]*)<', dom)
    assert sorted(legends) == ["run 0", "run 1", "run 1", "run 2", "run 2"]  # loss: 3 runs, acc: 2


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium")
def test_the_compare_page_in_a_browser_loads_good_slugs_and_lists_missing_ones(small_site: Path):
    dom = _dom(small_site / "compare.html", "#runs=s0,s1,s3,gone,constructor,..%2Fassets,s0")
    sources = re.findall(r'<script src="(runs/[^"]*)"', dom)
    assert sources == [f"runs/{slug}/data.js" for slug in ("s0", "s1", "s3", "gone", "constructor")]
    assert "3 runs; 2 not found on this site." in dom
    assert "<tr><td>gone</td><td class=\"bad\">✖ not found</td>" in dom
    assert '<a href="runs/s0/index.html">run 0</a>' in dom
    # accuracy: higher is better, loss lower: the best of each marked with a star
    assert '<td class="num">0.5</td><td class="num best" title="best: higher is better">0.6 ★</td>' in dom
    assert 'title="best: lower is better"' in dom
    assert dom.count("★") == 3  # the two best values and the legend's explanation
    assert dom.count('class="main-svg"') >= 3  # series and benchmark curves drawn


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium")
def test_the_sweep_scatter_draws_in_a_browser(small_site: Path):
    dom = _dom(small_site / sweep_path("7"))
    scatter = dom[dom.index('id="sweep-scatter"'):]
    assert 'class="main-svg"' in scatter[:5000]


def test_a_sweep_opens_on_a_metric_measured_where_the_first_parameter_is_set():
    runs = [_run(0, params={"x": 1.0, "name": "a"}, summary={"m": 0.5}),
            _run(1, params={"name": "b"}, summary={"loss": 0.3}),
            _run(2, params={"name": "c"}, summary={"loss": 0.2})]
    scatter = _embedded(sweep_pages({"7": runs}, SITE)[0].data.decode(), "sweep-data")
    assert scatter["params"][0] == "x"
    assert scatter["metrics"] == ["m", "loss"]  # loss differs, but no run with x has it: an empty plot
