"""A run page's plots draw exactly the points of the run's data.js (its series are written once,
there, for the run page and the compare page alike), from disk (file://) and over HTTP."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
from pathlib import Path

import pytest
from conftest import age, make_config, run_build, write_sidecar_run
from data_js import data_js_payload, decode_column

from sitegen import cache

from .cdp import Page
from .test_pages import REPO, http_url, visit  # noqa: F401 (http_url: a fixture)


def _generate_runs() -> object:
    spec = importlib.util.spec_from_file_location("generate_runs", REPO / "benchmarks" / "generate_runs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_runs", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of the build benchmark (dense and sparse series, downsampled), and one with tiny
    values and non-finite cells."""
    home = tmp_path_factory.mktemp("run-plots")
    _generate_runs().generate(home / "runs", 2)
    odd000000000 = write_sidecar_run(home / "runs", "20240101/000000/odd0000000000000000", rows=0)
    rows = [f"{i},{i // 100},{'nan' if i % 997 == 5 else 'inf' if i == 7 else math.sin(i / 300) * 1e-3}"
            for i in range(800)]
    (odd000000000 / "metrics.csv").write_text("step,epoch,train/loss\n" + "\n".join(rows) + "\n")
    age(odd000000000)
    run_build(make_config(home / "runs", home / "site"))
    return home / "site"


DRAWN_POINTS = """[...document.querySelectorAll(".plot[data-series]")].map(plot => ({
  series: plot.dataset.series, x: plot.data[0].x, y: plot.data[0].y, axis: plot.layout.xaxis.title.text,
}))"""


def _run_pages(site: Path) -> list[Path]:
    pages = sorted(site.glob("runs/*/index.html"))
    assert len(pages) == 3
    return pages


@pytest.mark.parametrize("over", ["file", "http"])
def test_each_plot_draws_the_points_of_its_data_js(
        page: Page, example_site: Path, http_url: str, over: str):  # noqa: F811 (the fixture)
    for run_page in _run_pages(example_site):
        relative = run_page.relative_to(example_site).as_posix()
        url = run_page.as_uri() if over == "file" else http_url + relative
        visit(page, url)
        assert page.problems == [] and page.dialogs == []
        drawn = {plot["series"]: plot for plot in page.evaluate(DRAWN_POINTS)}
        series = data_js_payload((run_page.parent / "data.js").read_bytes())["series"]
        assert set(drawn) == set(series) and drawn, relative
        for name, line in series.items():
            assert drawn[name]["x"] == decode_column(line["x"]), (relative, name)
            assert drawn[name]["y"] == decode_column(line["y"]), (relative, name)
            assert drawn[name]["axis"] == line["axis"]


def test_the_drawn_points_are_the_runs_own_values_within_a_ten_thousandth_of_the_range(
        page: Page, example_site: Path):
    for run_page in _run_pages(example_site):
        slug = run_page.parent.name
        run = cache.load_run(str(example_site), slug)
        visit(page, run_page.as_uri())
        for plot in page.evaluate(DRAWN_POINTS):
            source = run.series[plot["series"]]
            axis = next(iter(source.x))
            by_x = dict(zip(source.x[axis], source.y, strict=True))
            finite = [v for v in source.y if math.isfinite(v)]
            tolerance = (max(finite) - min(finite)) * 1.0001e-4
            assert len(plot["x"]) <= 1000 and set(plot["x"]) <= set(by_x), plot["series"]
            for x, y in zip(plot["x"], plot["y"], strict=True):
                if y is None:
                    assert not math.isfinite(by_x[x])
                else:
                    assert abs(y - by_x[x]) <= tolerance, (plot["series"], x, y, by_x[x])
    assert json.dumps(page.problems) == "[]"


AXES = """Object.fromEntries([...document.querySelectorAll(".plot[data-series]")].map(plot => [
  plot.dataset.series, {
    y: [...plot.querySelectorAll(".ytick text")].map(t => t.textContent),
    title: plot.querySelector(".g-ytitle text")?.textContent,
  }]))"""


def test_axes_read_as_counts_units_and_a_flat_line(page: Page, tmp_path: Path):
    """Integer counts in thousands with separators, no fractional ticks on a small count, a flat
    series on a range around its value, and the unit a name gives in its axis title."""
    run = write_sidecar_run(tmp_path / "runs", "20240101/000000/axes00000000", rows=0)
    rows = [f"{i},2000000,{i * 1_500_000},{i % 4},{12.5 + i / 10},{i * 2.5}" for i in range(30)]
    (run / "metrics.csv").write_text("step,items,processed,retries,latency_ms,rows_per_s\n"
                                     + "\n".join(rows) + "\n")
    age(run)
    run_build(make_config(tmp_path / "runs", tmp_path / "site"))
    visit(page, next((tmp_path / "site").glob("runs/*/index.html")).as_uri())
    axes = page.evaluate(AXES)
    flat, counts, small = axes["items"]["y"], axes["processed"]["y"], axes["retries"]["y"]
    assert "2,000,000" in flat and len(set(flat)) == len(flat), flat  # ticks around the value, distinct
    assert all(re.fullmatch(r"[\d,]+", tick) for tick in flat + counts + small), (flat, counts, small)
    assert any(len(tick) >= 9 for tick in counts), counts  # 1,500,000 and up, not 1.5M or 1.5e+6
    assert small == ["0", "1", "2", "3"], small
    assert axes["latency_ms"]["title"] == "latency_ms (ms)" and axes["items"]["title"] == "items"
    assert axes["rows_per_s"]["title"] == "rows_per_s"  # a rate names its unit: not "(s)"


MODE_BAR = """[...document.querySelectorAll(".plot")].map(plot => {
  const bar = plot.querySelector(".modebar"), area = plot.querySelector(".draglayer .nsewdrag");
  return bar && area && {bar: bar.getBoundingClientRect().bottom, area: area.getBoundingClientRect().top};
})"""


def test_the_mode_bar_never_covers_the_data(page: Page, example_site: Path):
    for run_page in _run_pages(example_site):
        visit(page, run_page.as_uri())
        boxes = page.evaluate(MODE_BAR)
        assert boxes and all(box and box["bar"] <= box["area"] + 1 for box in boxes), boxes


VIEW = """[...document.querySelectorAll(".plot[data-series]")].map(plot => ({
  traces: plot.data.length, raw: plot.data[0].y, smoothed: plot.data[1] && plot.data[1].y,
  log: plot.layout.yaxis.type,
}))"""


def _ema(values: list[float | None], weight: float) -> list[float | None]:
    """TensorBoard's smoothing: an exponential moving average, debiased at the start."""
    out, last, count = [], 0.0, 0
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(None)
            continue
        last, count = last * weight + (1 - weight) * value, count + 1
        out.append(last / (1 - weight ** count))
    return out


def test_smoothing_and_log_y_are_set_on_the_page_and_kept_in_its_link(page: Page, example_site: Path):
    run_page = _run_pages(example_site)[0]
    visit(page, f"{run_page.as_uri()}#smoothing=0.9")
    views = page.evaluate(VIEW)
    assert views and all(view["traces"] == 2 and view["log"] == "linear" for view in views)
    for view in views:  # the raw line stays, faint; the smoothed one is the EMA of it
        expected = _ema(view["raw"], 0.9)
        assert [v is None for v in view["smoothed"]] == [v is None for v in expected]
        drawn = [v for v in view["smoothed"] if v is not None]
        assert drawn == pytest.approx([v for v in expected if v is not None])
    assert page.evaluate("document.getElementById('smoothing').value") == "0.9"
    page.evaluate("document.getElementById('log-y').click()")
    assert page.wait_for("[...document.querySelectorAll('.plot[data-series]')]"
                         ".every(plot => plot.layout.yaxis.type === 'log')")
    link = page.evaluate("location.href")
    assert link.endswith("#smoothing=0.9&log=y"), link
    visit(page, link)  # the link reproduces the view
    views = page.evaluate(VIEW)
    assert all(view["traces"] == 2 and view["log"] == "log" for view in views)
    page.evaluate("const s = document.getElementById('smoothing'); s.value = 0; "
                  "s.dispatchEvent(new Event('input'))")
    assert page.wait_for("[...document.querySelectorAll('.plot[data-series]')]"
                         ".every(plot => plot.data.length === 1)")
    assert page.evaluate("location.hash") == "#log=y"


HOVERED = """[...document.querySelectorAll(".plot[data-series]")].map(plot => ({
  axis: plot.layout.xaxis.title.text, hovered: plot.querySelectorAll(".hoverlayer .hovertext").length,
}))"""


def test_a_point_hovered_on_one_plot_is_shown_on_the_others_of_its_axis(page: Page, example_site: Path):
    pages = {run_page: run_page.read_text().count("data-series=") for run_page in _run_pages(example_site)}
    visit(page, max(pages, key=pages.get).as_uri())
    box = page.evaluate("(() => { const area = document.querySelector('.plot[data-series] .nsewdrag');"
                        " area.scrollIntoView({block: 'center'}); const r = area.getBoundingClientRect();"
                        " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
    page.send("Input.dispatchMouseEvent", type="mouseMoved", x=box["x"], y=box["y"])  # a reader's mouse
    assert page.wait_for(f"{HOVERED}.slice(1).some(plot => plot.hovered)"), page.evaluate(HOVERED)
    plots = page.evaluate(HOVERED)
    assert len(plots) > 1 and plots[0]["hovered"]
    assert all(bool(plot["hovered"]) == (plot["axis"] == plots[0]["axis"]) for plot in plots), plots
