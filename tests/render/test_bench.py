"""Benchmark points, histograms, facts and environments on a run page, whatever the reader."""

from __future__ import annotations

import json
import re

from sitegen.model import Artifact, BenchPoint, Histogram, Run
from sitegen.render.bench import point_figures, point_tables
from sitegen.render.env import theme_dir
from sitegen.render.run_page import run_pages
from sitegen.render.site import SiteInfo

CURVE = "vllm isl 1024 / osl 1024"


def _point(x: float, curve: str = CURVE, **metrics: float) -> BenchPoint:
    return BenchPoint(curve, "concurrency", x, metrics)


POINTS = [
    _point(64, output_throughput=9000.0, output_throughput_per_gpu=1125.0, ttft_ms_median=80.0,
           ttft_ms_p99=200.0, tpot_ms_median=7.0, tpot_ms_p99=9.0, tpot_ms_mean=7.5, completed=640),
    _point(8, output_throughput=2000.0, output_throughput_per_gpu=250.0, ttft_ms_median=40.0,
           ttft_ms_p99=90.0, tpot_ms_median=4.0, tpot_ms_p99=5.0, tpot_ms_mean=4.2, completed=80),
    _point(8, curve="sglang isl 8192 / osl 1024", output_throughput=800.0, tpot_ms_median=6.0),
]


def test_a_table_per_curve_rows_by_x_throughput_then_latency_columns():
    tables = point_tables(POINTS)
    assert [t.curve for t in tables] == ["sglang isl 8192 / osl 1024", CURVE]
    table = tables[1]
    assert [x for x, _ in table.rows] == [8, 64]
    assert table.columns == ["output_throughput", "output_throughput_per_gpu", "ttft_ms_median",
                             "ttft_ms_p99", "tpot_ms_mean", "tpot_ms_median", "tpot_ms_p99", "completed"]
    assert table.rows[0][1][0] == 2000.0


def test_figures_throughput_latency_kinds_and_the_pareto_view():
    captions = [caption for caption, _ in point_figures(POINTS)]
    assert captions == ["output_throughput", "output_throughput_per_gpu", "ttft latency", "tpot latency",
                        "throughput per GPU vs tpot_ms_median (up and left is better)"]
    figures = dict(point_figures(POINTS))
    throughput = figures["output_throughput"]
    assert [t["name"] for t in throughput["data"]] == ["sglang isl 8192 / osl 1024", CURVE]
    assert throughput["layout"]["xaxis"]["type"] == "log"
    tpot_lines = [t["name"] for t in figures["tpot latency"]["data"]]
    assert f"{CURVE} · median" in tpot_lines and f"{CURVE} · p99" in tpot_lines
    assert not any("mean" in name for name in tpot_lines)  # means stay in the table


def test_no_pareto_without_throughput_per_gpu():
    points = [_point(1, output_throughput=1.0, tpot_ms_median=2.0)]
    assert not any(caption.startswith("throughput per GPU") for caption, _ in point_figures(points))


def _page(run: Run) -> str:
    site = SiteInfo(title="t", theme=str(theme_dir("default")), version="0")
    return run_pages(run, site)[0].data.decode()


def test_a_benchmark_run_page_shows_facts_badges_results_histograms_environment_and_files():
    run = Run(
        run_id="3667_1P_1D_20251110_192145", root="/r", slug="s", kind="jobdir", name="3667",
        status="completed", badges=("legacy",), facts={"Topology": "1P/1D (workers)", "Prefill nodes": 1},
        points=POINTS, histograms=[Histogram("ttft_ms @ 64", [0.0, 10.0, 20.0], [3, 5])],
        env={"python": "3.11.7"}, packages={"torch": "2.13.0", "Ray": "2.9.0"},
        stages={"dedup": {"process_time": {"sum": 3.0, "mean": 1.0, "std": 0.5}}},
        artifacts=[Artifact("tasks.pkl", 120, note="not read: a pickle can run code when loaded"),
                   Artifact("node0_config.json", 50, "node0_config.json", "/r/x/node0_config.json")],
    )
    html = _page(run)
    assert '<span class="badge">legacy</span>' in html
    assert "<dt>Topology</dt><dd>1P/1D (workers)</dd>" in html
    assert "<h3>vllm isl 1024 / osl 1024</h3>" in html
    assert "<h2>Distributions</h2>" in html and "<h2>Stages</h2>" in html
    assert "2 packages" in html and re.search(r"<th>Ray</th><td>2\.9\.0</td>.*<th>torch</th>", html, re.S)
    assert "tasks.pkl" in html and "not read: a pickle can run code" in html
    assert '<a href="node0_config.json">node0_config.json</a>' in html
    embedded = re.search(r'<script type="application/json" id="figures">(.*?)</script>', html, re.S)
    figures = json.loads(embedded[1])
    assert len(figures) == 6  # five result figures and one histogram
    assert "assets/plotly.min.js" in html


def test_hostile_curve_and_metric_names_stay_text():
    payload = "<img src=x onerror=alert(1)>"
    run = Run(run_id="r", root="/r", slug="s", kind="jobdir", name="n", status="completed",
              points=[_point(1, curve=payload, **{f"{payload}_throughput": 1.0})],
              facts={payload: payload}, badges=(payload,))
    html = _page(run)
    assert payload not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_page_without_plots_loads_no_plotly():
    run = Run(run_id="r", root="/r", slug="s", kind="nightly", name="n", status="failed")
    html = _page(run)
    assert "plotly" not in html and 'id="figures"' not in html
