"""The pages about many runs at once, each planned with the hash of what it shows.

Analysis runs once over the heads of the notable runs (sessions, trends, steps, coverage); each
page is then keyed by exactly the data it renders (a run by its render key), so that a changed
run re-renders the trend, triage, session, comparison and report pages that show it, and no
others. A page about runs is rendered from the runs whole, decoded only for the pages rendered;
the quality and coverage pages show only what heads hold (the tests compare with whole runs).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgspec

from sitegen import cache
from sitegen.analysis import acknowledged
from sitegen.analysis.acknowledged import Flagged
from sitegen.analysis.coverage import Cell, Coverage, coverage
from sitegen.analysis.regressions import Rule, detect, rule_for
from sitegen.analysis.sessions import Entry, Session, sessions
from sitegen.analysis.trends import Trend, trends
from sitegen.analysis.triage import triage
from sitegen.config import ACKNOWLEDGED_FILE, Config
from sitegen.model import Run, RunHead
from sitegen.render.content import ContentSource
from sitegen.render.env import Page
from sitegen.render.report_blocks import Block, Views
from sitegen.render.run_page import run_url
from sitegen.render.site import REGRESSIONS_JSON, TRENDS_PATH, SiteInfo, regression_path, trend_path
from sitegen.reporting import Reporter
from sitegen.shard_summaries import SiteRuns


class Planned(NamedTuple):
    path: str
    key: str
    render: Callable[[], Page | None]


class Inputs(NamedTuple):
    """What the pages are made from, besides the runs."""

    config: Config
    site: SiteInfo
    site_key: str
    runs_key: str  # the hash of every run's render key: pages about all runs use it
    out: str
    now: float
    runs: dict[str, cache.RunRecord]  # by `cache.run_key`; a render key is the cache's word for "changed"
    content: dict[str, Path]  # Markdown pages by file name
    site_runs: Callable[[list[Block]], SiteRuns]  # what the pages need of the runs, given the blocks
    shard: Callable[[int], list[cache.Listing]]  # a shard's listings: its index chunk and runs.json part


def plan(inputs: Inputs, reporter: Reporter) -> list[Planned]:
    from sitegen.render.compare import COMPARE_PATH, SERVING_PATH, compare_page, serving_page
    from sitegen.render.coverage import COVERAGE_PATH, coverage_page
    from sitegen.render.sessions import quality_page
    from sitegen.render.site import QUALITY_PATH
    from sitegen.render.trends import regressions_json, trends_index

    content = _content_sources(inputs)
    site_runs = inputs.site_runs([block for _source, blocks in content for block in blocks])
    heads, whole = site_runs.heads, site_runs.whole
    render_key = functools.partial(_render_key, inputs.runs)
    site, everything = inputs.site, inputs.runs_key
    direction_of = functools.cache(lambda metric: rule_for(metric, inputs.config.trends).direction)
    by_session = sessions(heads, direction_of)
    all_trends = trends(heads)
    rules = [rule_for(trend.metric, inputs.config.trends) for trend in all_trends]
    trend_keys = [cache.trend_key(trend, rule) for trend, rule in zip(all_trends, rules, strict=True)]
    flagged = _flagged(all_trends, rules, trend_keys, inputs, reporter)
    urls = {head.slug: run_url(head) for head in heads}
    cov = coverage(heads)
    serving = [head for head in heads if head.points]
    doubtful = [head for head in heads if head.doubtful]
    key = page_key(inputs.site_key)
    planned = [
        *_runs_pages(site_runs, inputs, key, by_session, flagged),
        Planned(QUALITY_PATH, everything, lambda: quality_page(doubtful, site, site_runs.totals.count)),
        Planned(REGRESSIONS_JSON, key(flagged), lambda: regressions_json(flagged, urls)),
        Planned(TRENDS_PATH, key(_trend_heads(all_trends), flagged),
                lambda: trends_index(all_trends, flagged, site)),
        Planned(COVERAGE_PATH, key(_coverage_shown(cov)), lambda: coverage_page(cov, site)),
        Planned(COMPARE_PATH, inputs.site_key, lambda: compare_page(site)),
    ]
    if serving:
        planned.append(Planned(SERVING_PATH, key(_shown(serving, render_key)),
                               lambda: serving_page([whole(head) for head in serving], site)))
    planned += _session_pages(by_session, flagged, site, key, render_key, whole)
    planned += _trend_pages(all_trends, trend_keys, flagged, heads, site, key, direction_of, render_key,
                            whole)
    planned += _sweep_pages(heads, inputs.site, key, render_key, whole)
    newest = by_session[0].name if by_session else None
    views = Views(_block_runs(site_runs, content, newest), all_trends, flagged, newest)
    planned += _content_pages(content, views, inputs, key, reporter)
    return planned


def _block_runs(site_runs: SiteRuns, content: list[tuple[ContentSource, list[Block]]], newest: str | None,
                ) -> list[Run]:
    """The runs content blocks may show, whole: comparisons' matches and tables' first rows,
    and the newest session's runs where a table shows them."""
    from sitegen.render.report_blocks import shows_latest_session

    shown = {(run.root, run.run_id): run for run in site_runs.shown}
    if newest is not None and any(shows_latest_session(b) for _source, blocks in content for b in blocks):
        for head in site_runs.heads:
            if head.session == newest and (head.root, head.run_id) not in shown:
                shown[head.root, head.run_id] = site_runs.whole(head)
    return sorted(shown.values(), key=lambda run: (run.root, run.run_id))


def _runs_pages(site_runs: SiteRuns, inputs: Inputs, key, by_session, flagged: list[Flagged],
                ) -> list[Planned]:
    """The index, runs.json, and their parts by shard: each part keyed by its members' rows only
    (their digest, kept in the shard's summary), so that one changed run rewrites one chunk of
    the table and one part of runs.json, and reads only its own shard."""
    from sitegen.render.index import chunk_path, index_chunk, index_page, part_path, runs_json, runs_json_part

    planned, chunks = [], []
    for shard, chunk_version, part_version in site_runs.versions:
        chunks.append((chunk_path(shard), chunk_version))  # in its URL: a browser never shows a stale copy

        def chunk(shard: int = shard) -> Page:
            return index_chunk(shard, [item.index_row for item in inputs.shard(shard)])

        def part(shard: int = shard) -> Page:
            return runs_json_part(shard, [(item.run, item.runs_json_entry) for item in inputs.shard(shard)])

        planned += [Planned(chunk_path(shard), key(chunk_path(shard), chunk_version), chunk),
                    Planned(part_path(shard), key(part_path(shard), part_version), part)]
    rows = [(item.run, item.index_row) for item in site_runs.newest]  # drawn: whole runs
    drawn = {(run.root, run.run_id) for run, _row in rows}
    others = [head for head in site_runs.heads if (head.root, head.run_id) not in drawn]  # counted, linked
    count, shards = site_runs.totals.count, [shard for shard, _chunk, _part in site_runs.versions]
    return [Planned("index.html", inputs.runs_key, lambda: index_page(
                rows, inputs.site, by_session, flagged, chunks, site_runs.totals, others)),
            Planned("runs.json", key(count, shards), lambda: runs_json(count, shards)),
            *planned]


def page_key(site_key: str) -> Callable[..., str]:
    """A page key: the site's key and the msgpack encoding of what the page shows."""
    def key(*shown: object) -> str:
        digest = hashlib.blake2b(site_key.encode(), digest_size=12)
        for part in shown:
            digest.update(msgspec.msgpack.encode(part))
        return digest.hexdigest()
    return key


def _flagged(all_trends: list[Trend], rules: list[Rule], trend_keys: list[str], inputs: Inputs,
             reporter: Reporter) -> list[Flagged]:
    """Each trend's steps, detected again only for trends whose points or rule changed."""
    known, found = cache.load_steps(inputs.out), {}
    for trend, rule, key in zip(all_trends, rules, trend_keys, strict=True):
        found[key] = known[key] if key in known else detect(trend, rule)
    if found.keys() != known.keys():
        cache.save_steps(inputs.out, found)
    steps = [step for trend_steps in found.values() for step in trend_steps]
    return acknowledged.flag(steps, _acknowledgements(inputs.config.acknowledged, reporter), _day(inputs.now))


def _acknowledgements(path: str, reporter: Reporter) -> list[acknowledged.Acknowledgement]:
    shown = f"content/{ACKNOWLEDGED_FILE}"
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        reporter.warning(shown, f"cannot read: {exc}")
        return []
    acks, problems = acknowledged.parse(text)
    for problem in problems:
        reporter.warning(shown, problem)
    return acks


def _session_pages(by_session: list[Session], flagged: list[Flagged], site: SiteInfo, key,
                   render_key: Callable[[RunHead], str], whole: Callable[[RunHead], Run]) -> list[Planned]:
    """A page per session, keyed by the render keys of its entries' runs and of the runs they are
    compared with: what the page derives from them (changes, package changes) follows, with the
    site's key, and is worked out only for the pages rendered (`sessions.Entry`)."""
    from sitegen.render.sessions import session_page
    from sitegen.render.site import session_path

    in_session = defaultdict(list)
    for f in flagged:
        if f.step.by == "session":
            in_session[f.step.first_bad.label].append(f)
    planned = []
    for index, session in enumerate(by_session):
        newer = by_session[index - 1].name if index else None
        older = by_session[index + 1].name if index + 1 < len(by_session) else None
        mine = in_session.get(session.name, [])
        shown = [(e.run.slug, render_key(e.run), e.previous and (e.previous.slug, render_key(e.previous)))
                 for e in session.entries]
        planned.append(Planned(
            session_path(session.name), key(session.name, session.started_at, shown, mine, newer, older),
            lambda s=session, m=mine, n=newer, o=older: session_page(_whole_session(s, whole), m, n, o, site),
        ))
    return planned


def _trend_pages(all_trends: list[Trend], trend_keys: list[str], flagged: list[Flagged], heads: list[RunHead],
                 site: SiteInfo, key, direction_of: Callable[[str], int],
                 render_key: Callable[[RunHead], str], whole: Callable[[RunHead], Run]) -> list[Planned]:
    """A page per benchmark, keyed by its trends' `trend_key`s (points and rule, so not encoded
    again) and their steps; a triage page per step."""
    from sitegen.render.trends import trend_pages
    from sitegen.render.triage import triage_page

    by_benchmark: dict[str, list[Trend]] = defaultdict(list)
    keys_of: dict[str, list[str]] = defaultdict(list)
    for trend, trend_key in zip(all_trends, trend_keys, strict=True):
        by_benchmark[trend.benchmark].append(trend)
        keys_of[trend.benchmark].append(trend_key)
    steps_of: dict[tuple[str, str], list[Flagged]] = defaultdict(list)
    for f in flagged:
        steps_of[f.step.benchmark, f.step.metric].append(f)
    planned = []
    for benchmark, mine in by_benchmark.items():
        shown = [f for t in mine for f in steps_of[benchmark, t.metric]]
        directions = {t.metric: direction_of(t.metric) for t in mine}
        render = functools.partial(trend_pages, benchmark, mine, shown, directions, site)
        planned.append(Planned(trend_path(benchmark), key(keys_of[benchmark], shown, directions), render))
    by_slug = {head.slug: head for head in heads}
    for (benchmark, metric), mine in steps_of.items():
        trend = next(t for t in by_benchmark[benchmark] if t.metric == metric)
        for f in mine:
            good, bad = by_slug.get(f.step.last_good.slug), by_slug.get(f.step.first_bad.slug)
            if good is None or bad is None:
                continue
            path = regression_path(benchmark, metric, f.step.first_bad.run_id)
            planned.append(Planned(path, key(f, trend, mine, _shown([good, bad], render_key)),
                                   lambda f=f, t=trend, m=mine, g=good, b=bad: triage_page(
                                       f, triage(f.step, whole(g), whole(b)), t, m, site)))
    return planned


def _sweep_pages(heads: list[RunHead], site: SiteInfo, key, render_key: Callable[[RunHead], str],
                 whole: Callable[[RunHead], Run]) -> list[Planned]:
    """A sweep's page: its runs' headers (their series are drawn in the browser from data.js)."""
    from sitegen.render.compare import sweep_pages, sweep_path

    sweeps: dict[str, list[RunHead]] = defaultdict(list)
    for head in heads:
        if head.sweep is not None:
            sweeps[head.sweep].append(head)
    return [Planned(sweep_path(sweep), key(_shown(members, render_key)),
                    lambda s=sweep, m=members: sweep_pages({s: [whole(run) for run in m]}, site)[0])
            for sweep, members in sorted(sweeps.items()) if len(members) > 1]


def _content_sources(inputs: Inputs) -> list[tuple[ContentSource, list[Block]]]:
    """Each written page and its `sitegen-*` blocks (parsed again only when its text changed)."""
    from sitegen.render.content import content_blocks

    sources, known, found = [], cache.load_content_blocks(inputs.out), {}
    for name, path in sorted(inputs.content.items()):
        source = ContentSource(name, path.read_text(encoding="utf-8", errors="replace"))
        text = cache.text_key(source.text)
        found[text] = known[text] if text in known else content_blocks(source)
        sources.append((source, found[text]))
    if found.keys() != known.keys():
        cache.save_content_blocks(inputs.out, found)
    return sources


def _content_pages(sources: list[tuple[ContentSource, list[Block]]], views: Views, inputs: Inputs, key,
                   reporter: Reporter) -> list[Planned]:
    """Written pages: keyed by their text and, for their `sitegen-*` blocks, what those show."""
    from sitegen.render.content import content_page
    from sitegen.render.report_blocks import select
    from sitegen.render.site import content_path

    planned = []
    for source, blocks in sources:
        selected = [select(block, views) for block in blocks]
        for problem in (s.problem for s in selected if s.problem):
            reporter.warning(f"content/{source.name}", problem)
        shown_runs = [(r.slug, _render_key(inputs.runs, r)) for s in selected for r in s.runs]

        def render(source=source, selected=selected) -> Page:
            page, problem = content_page(source, inputs.site, selected,
                                         lambda slug: cache.load_run(inputs.out, slug))
            if problem:
                reporter.warning(f"content/{source.name}", problem)
            return page

        shown = key(source.text, inputs.site.content_pages, selected, shown_runs)
        planned.append(Planned(content_path(source.name), shown, render))
    return planned


def _render_key(runs: dict[str, cache.RunRecord], run: Run | RunHead) -> str:
    record = runs.get(cache.run_key(run.root, run.run_id))
    return record.render_key if record else ""


def _shown(heads: list[RunHead], render_key: Callable[[RunHead], str]) -> list[tuple[str, str]]:
    """What a page shows of runs it renders whole: their render keys say when they changed."""
    return [(head.slug, render_key(head)) for head in heads]


def _whole_session(session: Session, whole: Callable[[RunHead], Run]) -> Session:
    entries = [Entry(whole(e.run), e.previous and whole(e.previous), e.direction_of) for e in session.entries]
    return Session(session.name, session.started_at, entries)



def _coverage_shown(cov: Coverage) -> list:
    """What the coverage page shows: each cell's state, its run's page and the requirements it
    missed (not the whole run: a new metric value changes no cell)."""
    def cell(c: Cell) -> tuple:
        return (c.state, c.run.slug, c.run.unmet_requirements) if c.run is not None else (c.state,)
    return [cov.sessions, [(row.benchmark, [cell(c) for c in row.cells]) for row in cov.rows]]


def _trend_heads(all_trends: list[Trend]) -> list[tuple[str, str, object, list[float | None]]]:
    """What the trends index shows of each trend: its name, newest point and sparkline."""
    from sitegen.render.trends import spark_values

    return [(t.benchmark, t.metric, t.points[-1], spark_values(t)) for t in all_trends]


def _day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))
