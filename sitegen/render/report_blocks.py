"""Live figures and tables in written reports: fenced `sitegen-*` blocks in content/*.md.

    ```sitegen-trend            ```sitegen-table                  ```sitegen-compare
    benchmark: dedup            filter: {session: latest}         tag: sweep:48213   # or runs: [id, …]
    metric: time_taken_s        columns: [name, status, time_s]   metric: [train/loss]
    ```                         sort: -time_s                     ```
                                limit: 20
                                ```
    ```sitegen-regressions```  (the current regressions and improvements)

Each block's options are YAML. `select()` resolves a block to the data it shows (so that a page
is re-rendered only when that data changed); `block_html()` renders it. A block that names
nothing that exists says so on the page, in place of the figure.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeVar

import msgspec
import yaml

from sitegen.analysis.acknowledged import Flagged
from sitegen.analysis.trends import Trend
from sitegen.model import Run
from sitegen.render.env import environment
from sitegen.render.figures import figure_div_id, overlay_figure
from sitegen.render.run_page import run_url
from sitegen.render.site import regression_path, session_path, trend_path
from sitegen.render.trends import trend_figure

PREFIX = "sitegen-"
KINDS = ("trend", "table", "compare", "regressions")
DEFAULT_LIMIT = 50
T = TypeVar("T")
_RUN_COLUMNS = {"name", "status", "kind", "session", "benchmark", "created", "duration"}


class Block(msgspec.Struct, frozen=True):
    kind: str
    options: dict
    problem: str | None = None


class Views(msgspec.Struct, frozen=True):
    """Everything a block may show, computed once per build."""

    runs: list[Run]
    trends: list[Trend]
    flagged: list[Flagged]
    newest_session: str | None


class Selected(msgspec.Struct, frozen=True):
    """What a block shows: the key of its page is made of these."""

    block: Block
    trends: list[Trend] = []
    flagged: list[Flagged] = []
    runs: list[Run] = []
    problem: str | None = None


def parse_block(info: str, body: str) -> Block | None:
    """The block of a fence whose info string is `sitegen-<kind>`; None for any other fence."""
    name = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    if not name.startswith(PREFIX):
        return None
    kind = name[len(PREFIX):]
    if kind not in KINDS:
        return Block(kind, {}, f"unknown block {name!r} (expected {', '.join(PREFIX + k for k in KINDS)})")
    try:
        options = yaml.safe_load(body) if body.strip() else {}
    except yaml.YAMLError as exc:
        return Block(kind, {}, f"{name}: options are not valid YAML: {str(exc).splitlines()[0]}")
    if not isinstance(options, dict):
        return Block(kind, {}, f"{name}: expected options as `key: value` lines")
    return Block(kind, options)


def select(block: Block, views: Views) -> Selected:
    if block.problem:
        return Selected(block, problem=block.problem)
    return _SELECTORS[block.kind](block, views)


def candidates(block: Block, runs: list[Run]) -> list[Run]:
    """The runs of `runs` that a comparison may show when `runs` is only some of every run: the
    ones it matches (a table's are `ranked_candidates`)."""
    return select(block, Views(runs, [], [], None)).runs


class Rank(NamedTuple):
    """Where a run stands in a table's order, without the run: `value` first (None last), then
    `run_id` and `root` (unique together, so that the order is total)."""

    value: tuple[int, int | float | str] | None
    run_id: str
    root: str


def ranked_candidates(block: Block, runs: list[Run]) -> list[tuple[int, Rank]]:
    """The table's first rows among `runs` (indexes into it) when `runs` is only some of every
    run: the table's first rows among every run are `first_ranked` of all their candidates.
    `session: latest` is taken as no session here; runs in a session are at hand anyway
    (`shard_summaries.notable`)."""
    wanted = block.options.get("filter") or {}
    if block.kind != "table" or not isinstance(wanted, dict):
        return []
    wanted = {**wanted, "session": None} if wanted.get("session") == "latest" else wanted
    order = block.options.get("sort")
    matching = [(_rank(run, order), index) for index, run in enumerate(runs)
                if all(_matches(run, k, v) for k, v in wanted.items())]
    return [(index, rank) for rank, index in _in_order(matching, order)[:_limit(block)]]


def first_ranked(block: Block, ranked: Iterable[tuple[T, Rank]]) -> list[T]:
    """Of candidates ranked by `ranked_candidates`, those the table shows."""
    shown = _in_order([(rank, item) for item, rank in ranked], block.options.get("sort"))
    return [item for _rank, item in shown[:_limit(block)]]


def shows_latest_session(block: Block) -> bool:
    """A table of the newest session's runs: on a site with any session, it shows runs in a
    session only, and its `ranked_candidates` among the others matter only on a site without one."""
    wanted = block.options.get("filter")
    return block.kind == "table" and isinstance(wanted, dict) and wanted.get("session") == "latest"


def block_html(selected: Selected, theme: str, root: str, figures: dict[str, dict],
               load_run: Callable[[str], Run | None]) -> str:
    """The block's HTML; its figures are added to `figures` (ids numbered in page order)."""
    macros = environment(theme).get_template("_blocks.html").module
    if selected.problem:
        return str(macros.problem(selected.problem))
    block = selected.block
    if block.kind == "trend":
        items = []
        for trend in selected.trends:
            div = figure_div_id(len(figures))
            mine = [f for f in selected.flagged if f.step.metric == trend.metric]
            figures[div] = trend_figure(trend, mine)
            items.append((trend, div, mine))
        return str(macros.trend(items, root, trend_path, regression_path))
    if block.kind == "regressions":
        return str(macros.regressions(selected.flagged, root, regression_path))
    if block.kind == "table":
        columns = _columns(block, selected.runs)
        rows = [[_cell(run, column) for column in columns] for run in selected.runs]
        shown = list(zip(selected.runs, rows, strict=True))
        return str(macros.table(columns, shown, root, run_url, session_path))
    full = [load_run(run.slug) or run for run in selected.runs]
    names = _as_list(block.options.get("metric")) or sorted({n for r in full for n in r.series})[:6]
    plots = []
    for name in names:
        traces = [(r.name, r.series[name].x[next(iter(r.series[name].x))], r.series[name].y)
                  for r in full if name in r.series and r.series[name].x]
        if traces:
            div = figure_div_id(len(figures))
            first_axis = next(iter(next(r for r in full if name in r.series).series[name].x))
            figures[div] = overlay_figure("", traces, first_axis, name, max_points=500)  # captioned
            plots.append((name, div))
    metrics = sorted({m for r in full for m in r.summary})
    return str(macros.compare(full, metrics, plots, root, run_url))


def _select_trend(block: Block, views: Views) -> Selected:
    benchmark, metric = block.options.get("benchmark"), block.options.get("metric")
    if not isinstance(benchmark, str):
        return Selected(block, problem="sitegen-trend: name a `benchmark`")
    metrics = _as_list(metric)
    chosen = [t for t in views.trends if t.benchmark == benchmark
              and (not metrics or any(fnmatch.fnmatchcase(t.metric, m) for m in metrics))]
    if not chosen:
        what = f"benchmark {benchmark!r}" + (f", metric {metric!r}" if metric else "")
        return Selected(block, problem=f"sitegen-trend: no trend for {what}")
    shown = {(t.benchmark, t.metric) for t in chosen}
    flagged = [f for f in views.flagged if (f.step.benchmark, f.step.metric) in shown]
    return Selected(block, trends=chosen, flagged=flagged)


def _select_regressions(block: Block, views: Views) -> Selected:
    current = [f for f in views.flagged if f.step.newest]
    current.sort(key=lambda f: (f.step.kind != "regression", f.state != "new", -abs(f.step.change)))
    return Selected(block, flagged=current)


def _select_table(block: Block, views: Views) -> Selected:
    wanted = block.options.get("filter") or {}
    if not isinstance(wanted, dict):
        return Selected(block, problem="sitegen-table: `filter` is a mapping, e.g. {session: latest}")
    if wanted.get("session") == "latest":
        wanted = {**wanted, "session": views.newest_session}
    order = block.options.get("sort")
    matching = [(_rank(run, order), run) for run in views.runs
                if all(_matches(run, k, v) for k, v in wanted.items())]
    return Selected(block, runs=[run for _rank, run in _in_order(matching, order)[:_limit(block)]])


def _select_compare(block: Block, views: Views) -> Selected:
    names, tag = _as_list(block.options.get("runs")), block.options.get("tag")
    if not names and not isinstance(tag, str):
        return Selected(block, problem="sitegen-compare: name `runs` (ids or names) or a `tag`")
    runs = [r for r in views.runs if (tag and tag in r.tags) or r.run_id in names or r.name in names
            or r.slug in names]
    if not runs:
        return Selected(block, problem=f"sitegen-compare: no run matches {names or tag!r}")
    return Selected(block, runs=sorted(runs, key=lambda r: (r.created_at or 0.0, r.run_id)))


_SELECTORS = {"trend": _select_trend, "regressions": _select_regressions, "table": _select_table,
              "compare": _select_compare}


def _matches(run: Run, key: str, wanted: object) -> bool:
    if key == "tag":
        return any(fnmatch.fnmatchcase(t, str(wanted)) for t in run.tags)
    value = getattr(run, key, None) if key in ("kind", "status", "session", "benchmark", "name", "root") \
        else run.params.get(key)
    if value is None:
        return wanted is None
    return fnmatch.fnmatchcase(str(value), str(wanted))


def _in_order(ranked: list[tuple[Rank, T]], order: object) -> list[tuple[Rank, T]]:
    """`ranked` in a table's `sort` order: by a column (descending after a `-`), the runs without
    a value last; else newest first."""
    ranked = sorted(ranked, key=lambda pair: pair[0][1:])
    present = [pair for pair in ranked if pair[0].value is not None]
    present.sort(key=lambda pair: pair[0].value, reverse=_by_column(order)[1])
    return present + [pair for pair in ranked if pair[0].value is None]


def _rank(run: Run, order: object) -> Rank:
    column, _descending = _by_column(order)
    value = (0, -(run.created_at or 0.0)) if column is None else _sort_value(run, column)
    return Rank(value, run.run_id, run.root)


def _by_column(order: object) -> tuple[str | None, bool]:
    """The column a table is sorted by (None: by time) and whether it descends."""
    if not isinstance(order, str) or not order.strip("-"):
        return None, False
    return order.lstrip("-"), order.startswith("-")


def _sort_value(run: Run, name: str) -> tuple[int, int | float | str] | None:
    value = run.summary.get(name, _cell(run, name))
    if value is None or (isinstance(value, float) and math.isnan(value)):  # NaN has no place in an order
        return None
    if isinstance(value, (int, float)):
        return (0, int(value) if isinstance(value, bool) else value)
    return (1, str(value))


def _limit(block: Block) -> int:
    limit = block.options.get("limit", DEFAULT_LIMIT)
    return limit if isinstance(limit, int) and limit > 0 else DEFAULT_LIMIT


def _columns(block: Block, runs: list[Run]) -> list[str]:
    columns = [str(c) for c in _as_list(block.options.get("columns"))]
    if columns:
        return columns
    metrics = sorted({m for r in runs for m in r.summary})[:6]
    return ["name", "status", "created", *metrics]


def _cell(run: Run, column: str) -> object:
    if column == "created":
        return run.created_at
    if column == "duration":
        return run.duration_s
    if column in _RUN_COLUMNS:
        return getattr(run, column)
    if column in run.summary:
        return run.summary[column]
    return run.params.get(column, run.facts.get(column))


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
