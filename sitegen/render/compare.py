"""Runs side by side: a sweep's runs, serving benchmarks by topology, and the static page that
compares any runs picked on the index (it loads their `data.js`, see `run_data`)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from sitegen.jsonsafe import dumps_for_script
from sitegen.metric_names import THROUGHPUTS, direction
from sitegen.model import BenchPoint, Run
from sitegen.render.env import Page, render
from sitegen.render.figures import figure_div_id, overlay_figure
from sitegen.render.run_page import run_url
from sitegen.render.site import SiteInfo, relative_root
from sitegen.slug import run_slug

COMPARE_PATH = "compare.html"
SERVING_PATH = "compare/serving.html"
# the serving page's lines: the throughput (preferred first), then mean latencies if measured
_THROUGHPUT_ORDER = ("output_throughput", *(t for t in THROUGHPUTS if t != "output_throughput"))
_SERVING_LATENCIES = (("ttft_ms_mean", "mean TTFT", "TTFT (ms)"), ("itl_ms_mean", "mean ITL", "ITL (ms)"))
_MISSING = object()
_PLOT_HEIGHT = 300  # px, without the legend
_LEGEND_ROW = 20  # px per line named in the legend


def sweep_path(sweep_id: str) -> str:
    """The sweep's comparison page (ids are free text: slug plus a hash, never a clash)."""
    return f"compare/sweep-{run_slug('sweep', sweep_id)}.html"


def compare_page(site: SiteInfo) -> Page:
    """The page that compares the runs named in its URL's `#runs=slug,…` (all in compare.js)."""
    return Page(COMPARE_PATH, render(site.theme, "compare.html", site=site, root=relative_root(COMPARE_PATH)))


def sweep_pages(sweeps: dict[str, list[Run]], site: SiteInfo) -> list[Page]:
    """A page per sweep (run headers suffice): its runs, a metric against a hyperparameter
    chosen on the page, and every series overlaid, drawn in the browser from each run's data.js
    (so that a run's new rows re-render its own pages, not its sweep's)."""
    return [_sweep_page(sweep_id, runs, site) for sweep_id, runs in sorted(sweeps.items()) if runs]


def serving_page(runs: list[Run], site: SiteInfo) -> Page | None:
    """Serving-benchmark curves of several jobs: per curve, one line per topology, drawn from
    the newest completed job of that topology. None when no run has benchmark points."""
    runs = [run for run in runs if run.points]
    if not runs:
        return None
    root = relative_root(SERVING_PATH)
    groups, figures = [], {}
    for curve in sorted({p.curve for run in runs for p in run.points}):
        chosen = _newest_by_topology(curve, runs)
        plots = []
        for caption, figure in _serving_figures(chosen):
            plot_id = figure_div_id(len(figures))
            figures[plot_id] = figure
            plots.append({"id": plot_id, "name": caption})
        rows = [(topology, run, [(other, root + run_url(other)) for other in others], root + run_url(run))
                for topology, run, _points, others in chosen]
        groups.append({"curve": curve, "plots": plots, "rows": rows})
    data = render(site.theme, "compare_serving.html", site=site, root=root, groups=groups,
                  figures_json=dumps_for_script(figures) if figures else "")
    return Page(SERVING_PATH, data)


def varying_params(runs: list[Run]) -> list[str]:
    """Parameter names whose value (or absence) is not the same in every run, sorted."""
    names = sorted({name for run in runs for name in run.params})
    return [name for name in names if len({_comparable(run.params.get(name, _MISSING)) for run in runs}) > 1]


def run_labels(runs: list[Run]) -> list[str]:
    """Run names for legends; a name shared by several runs gets the run's slug."""
    counts = Counter(run.name for run in runs)
    return [run.name if counts[run.name] == 1 else f"{run.name} ({run.slug})" for run in runs]


def _sweep_page(sweep_id: str, runs: list[Run], site: SiteInfo) -> Page:
    path = sweep_path(sweep_id)
    root = relative_root(path)
    runs = sorted(runs, key=lambda run: (run.created_at or 0.0, run.run_id))
    labels = run_labels(runs)
    params = varying_params(runs)
    choices = _scatter_order(params, runs)
    metrics = _metric_order(runs, choices[0] if choices else None)
    table = [(run, label, root + run_url(run)) for run, label in zip(runs, labels, strict=True)]
    scatter = {
        "params": choices, "metrics": metrics,
        "runs": [{"name": label, "url": url, "params": {p: run.params.get(p) for p in params},
                  "summary": run.summary} for run, label, url in table],
    }
    data = render(
        site.theme, "compare_sweep.html", site=site, root=root, sweep_id=sweep_id, runs=table,
        params=params, scatter_params=choices, metrics=metrics, slugs=[run.slug for run in runs],
        scatter_json=dumps_for_script(scatter) if params and metrics else "",
    )
    return Page(path, data)


def _metric_order(runs: list[Run], param: str | None) -> list[str]:
    """The runs' summary metrics in the order the page offers them, the first plotted against
    `param` before anything is chosen: those some run has with `param` first (else the plot is
    empty), of those the ones that differ across the runs and name a result (a loss, an
    accuracy: `metric_names.direction`), then the others that differ (a final learning rate),
    then those with one value."""
    names = {metric for run in runs for metric in run.summary}

    def rank(name: str) -> tuple[bool, bool, bool, str]:
        measured = [run for run in runs if math.isfinite(run.summary.get(name, math.nan))]
        beside = any(run.params.get(param) is not None for run in measured)
        return not beside, len({run.summary[name] for run in measured}) < 2, direction(name) == 0, name
    return sorted(names, key=rank)


def _scatter_order(params: list[str], runs: list[Run]) -> list[str]:
    """Numeric parameters first, then repeated categories, then text unique to each run (paths,
    ids): the first is what the page plots before anything is chosen."""
    def rank(name: str) -> int:
        values = [run.params[name] for run in runs if run.params.get(name) is not None]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return 0
        return 1 if len(set(map(_comparable, values))) < len(values) else 2
    return sorted(params, key=lambda name: (rank(name), name))


def _newest_by_topology(curve: str, runs: list[Run]) -> list[tuple[str, Run, list[BenchPoint], list[Run]]]:
    """(topology, chosen run, its points on `curve`, the other runs of that topology), by topology."""
    candidates: dict[str, list[tuple[Run, list[BenchPoint]]]] = defaultdict(list)
    for run in runs:
        points = sorted((p for p in run.points if p.curve == curve), key=lambda p: p.x)
        if points:
            candidates[_topology(run)].append((run, points))
    chosen = []
    for topology, found in sorted(candidates.items()):
        run, points = max(found, key=lambda item: _recency(item[0]))
        chosen.append((topology, run, points, [other for other, _ in found if other is not run]))
    return chosen


def _serving_figures(chosen: list[tuple[str, Run, list[BenchPoint], list[Run]]]) -> list[tuple[str, dict]]:
    measured = {metric for _t, _r, points, _o in chosen for p in points for metric in p.metrics}
    throughput = next((t for t in _THROUGHPUT_ORDER if t in measured), None)
    wanted = [(throughput, throughput, throughput)] if throughput else []
    wanted += [item for item in _SERVING_LATENCIES if item[0] in measured]
    x_name = chosen[0][2][0].x_name
    figures = []
    for metric, caption, y_title in wanted:
        traces = [(f"{topology} · {run.name}", [p.x for p in points if metric in p.metrics],
                   [p.metrics[metric] for p in points if metric in p.metrics])
                  for topology, run, points, _others in chosen]
        figure = _untitled(overlay_figure(caption, [t for t in traces if t[1]], x_name, y_title))
        if x_name == "concurrency":  # powers of two: a log axis spaces them evenly
            figure["layout"]["xaxis"]["type"] = "log"
        figures.append((caption, figure))
    return figures


def _topology(run: Run) -> str:
    topology = run.facts.get("Topology")
    return str(topology) if topology is not None else f"{run.name} (topology unknown)"


def _recency(run: Run) -> tuple[bool, float, str]:
    """Completed runs first, then the newest."""
    when = run.created_at or run.ended_at or run.updated_at or 0.0
    return (run.status == "completed", when, run.run_id)


def _untitled(figure: dict) -> dict:
    """The page's caption names the figure (a plotly title would repeat it); the plot grows with
    its legend, which goes below it (`figures.LEGEND_BELOW`)."""
    layout = figure["layout"]
    layout.pop("title", None)
    layout["margin"]["t"] = 10
    layout["height"] = _PLOT_HEIGHT + _LEGEND_ROW * len(figure["data"])
    return figure


def _comparable(value: object) -> tuple[bool, object]:
    return (isinstance(value, bool), value)  # True == 1 in a set, but not as a parameter
