"""Site-wide pages: the index with its runs table, and runs.json for automation.

Both are split by shard (`sitegen.shards`) so that one changed run rewrites one part: the
table's rows are script files `data/runs-NNNN.js` that the index loads (scripts, because
browsers block fetch on file://), runs.json lists its parts `data/runs-NNNN.json`.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence

import msgspec

from sitegen.analysis.acknowledged import Flagged
from sitegen.analysis.sessions import Session
from sitegen.jsonsafe import dumps_for_script
from sitegen.model import Run, RunHead
from sitegen.render.env import Page, format_duration, format_time, render
from sitegen.render.run_page import run_url
from sitegen.render.site import QUALITY_PATH, TRENDS_PATH, SiteInfo, regression_path, session_path

RUNS_JSON_FORMAT = 2  # 1: every run in runs.json itself
RECENT_POINTS = 5  # a current step whose first bad point is older than this is on the trends page only
INLINE_ROWS = 100  # rows in the page's HTML and data; site.js loads the others from the chunks
_IN_A_STRING = ((b"\\", b"\\\\"), (b"'", b"\\'"), (b"\n", b"\\n"), (b"\r", b"\\r"))  # a JS '…' string

# The runs table as data: one short list per run, newest first. Drawing 10,000 rows as HTML
# made the index parse-bound (2.5 s in Chromium); the data parses in milliseconds.
ROW_COLUMNS = ("slug", "url", "name", "run_id", "badges", "status", "kind", "tags", "gpu",
               "created", "created_text", "duration", "duration_text", "warnings", "broken")


class Totals(msgspec.Struct, array_like=True):
    """What the index counts over every run: added up shard by shard (`add_totals`)."""

    count: int = 0
    statuses: dict[str, int] = {}
    tags: list[str] = []
    gpu_types: list[str] = []


def totals(runs: Iterable[Run]) -> Totals:
    runs = list(runs)
    statuses = dict(Counter(run.status for run in runs))
    return Totals(len(runs), statuses, sorted({t for run in runs for t in run.tags}),
                  sorted({_gpu(run) for run in runs} - {""}))


def add_totals(parts: Iterable[Totals]) -> Totals:
    count, statuses, tags, gpu_types = 0, Counter(), set(), set()
    for part in parts:
        count += part.count
        statuses.update(part.statuses)
        tags.update(part.tags)
        gpu_types.update(part.gpu_types)
    return Totals(count, dict(statuses), sorted(tags), sorted(gpu_types))


def index_page(rows: list[tuple[Run, bytes]], site: SiteInfo, sessions: list[Session] = (),
               flagged: list[Flagged] = (), chunks: list[tuple[str, str]] = (), counted: Totals | None = None,
               others: Sequence[Run | RunHead] = ()) -> Page:
    """The runs table, newest first, from each run and its `index_row`: the first rows as HTML
    and data, the `chunks` (path, version) that hold every row for site.js to load; with the
    recent regressions and improvements, the sessions (newest first) and the site's other
    pages linked above it. `rows` may be only the newest runs when `others` are the rest of the
    runs the page counts and links (the flagged, those in sweeps or with serving points, as
    heads) and `counted` totals them all."""
    runs = [run for run, _ in rows]
    counted = counted or totals(runs)
    about = [*runs, *others]
    first = heapq.nsmallest(INLINE_ROWS, rows, key=lambda item: table_order(item[0]))
    data_rows = b",".join(row for _, row in first).decode()
    data = render(
        site.theme, "index.html", site=site, root="", run_count=counted.count,
        inline_rows=[(run, run_url(run)) for run, _ in first],
        rows_json=f'{{"columns":{dumps_for_script(ROW_COLUMNS)},"count":{counted.count},'
                  f'"chunks":{dumps_for_script([f"{path}?v={version}" for path, version in chunks])},'
                  f'"rows":[{data_rows}]}}',
        status_counts=sorted(counted.statuses.items()), tags=counted.tags, gpu_types=counted.gpu_types,
        sessions=[(s.name, session_path(s.name), s.passed, s.failed) for s in sessions],
        flagged=sum(1 for run in about if run.doubtful),
        quality_path=QUALITY_PATH, recent=_recent(flagged), regression_path=regression_path,
        acknowledged=sum(1 for f in flagged if f.step.newest and f.state == "acknowledged"),
        links=_links(about, bool(sessions), bool(flagged) or any(run.benchmark for run in about)),
    )
    return Page("index.html", data)


def table_order(run: Run) -> tuple[float, str, str]:
    """The table's order, newest first; site.js sorts the loaded chunks the same way (pageOrder)."""
    return -(run.created_at or 0.0), run.run_id, run.slug


def chunk_path(shard: int) -> str:
    return f"data/runs-{shard:04d}.js"


def index_chunk(shard: int, rows: list[bytes]) -> Page:
    """A shard's rows of the table (`index_row`s) as a script that hands them to site.js as JSON
    text in a string: data that site.js parses (faster than a literal), never code, even if a
    row read back from the cache was not made by sitegen."""
    text = b"[%s]" % b",".join(rows)
    for unsafe, escaped in _IN_A_STRING:
        text = text.replace(unsafe, escaped)
    return Page(chunk_path(shard), b"sitegenIndexRows(%d,'%s');\n" % (shard, text))


def index_row(run: Run) -> bytes:
    """The run's row of the index's data (ROW_COLUMNS), made when the run is rendered."""
    return dumps_for_script([
        run.slug, run_url(run), run.name, run.run_id, run.badges, run.status, run.kind, run.tags,
        _gpu(run), run.created_at or 0, format_time(run.created_at), run.duration_s or 0,
        format_duration(run.duration_s), len(run.warnings) + (run.problem is not None),
        run.problem is not None,
    ]).encode()


def _gpu(run: Run) -> str:
    return run.compute.gpu_type or "" if run.compute else ""


def _recent(flagged: list[Flagged]) -> dict[str, list[Flagged]]:
    """Current steps that began recently, by what they mean for the reader."""
    shown = [f for f in flagged
             if f.step.newest and f.step.later < RECENT_POINTS and f.state != "acknowledged"]
    order = sorted(shown, key=lambda f: (-abs(f.step.change), f.step.benchmark, f.step.metric))
    return {
        "regressions": [f for f in order if f.step.kind == "regression" and f.state == "new"],
        "suspected": [f for f in order if f.step.kind == "regression" and f.state == "suspected"],
        "improvements": [f for f in order if f.step.kind == "improvement"],
    }


def _links(runs: list[Run | RunHead], has_sessions: bool, has_trends: bool) -> list[tuple[str, str]]:
    from sitegen.render.compare import SERVING_PATH, sweep_path
    from sitegen.render.coverage import COVERAGE_PATH

    links = []
    if has_trends:
        links.append(("Trends", TRENDS_PATH))
    if has_sessions:
        links.append(("Coverage of the nightly matrix", COVERAGE_PATH))
    if any(run.points for run in runs):
        links.append(("Serving curves compared", SERVING_PATH))
    sweeps = Counter(run.sweep for run in runs if run.sweep is not None)
    links += [(f"Sweep {sweep} compared", sweep_path(sweep))
              for sweep, count in sorted(sweeps.items()) if count > 1]
    return links


def runs_json_entry(run: Run) -> bytes:
    """The run's object in runs.json, made when the run is rendered."""
    # escaped like JSON in a page: run data stays inert even if the file is sniffed or inlined as HTML
    return dumps_for_script({
        "run_id": run.run_id, "root": run.root, "slug": run.slug, "kind": run.kind, "name": run.name,
        "status": run.status, "session": run.session, "benchmark": run.benchmark,
        "tags": list(run.tags), "badges": list(run.badges),
        "created_at": run.created_at, "ended_at": run.ended_at,
        "summary": run.summary, "url": run_url(run), "warnings": run.warnings,
        "problem": run.problem.message if run.problem else None,
    }).encode()


def runs_json(count: int, shards: list[int]) -> Page:
    """runs.json: how many runs there are and the parts that list them (one per shard in use)."""
    parts = dumps_for_script([part_path(shard) for shard in shards]).encode()
    return Page("runs.json", b'{"format":%d,"count":%d,"parts":%s}\n' % (RUNS_JSON_FORMAT, count, parts))


def part_path(shard: int) -> str:
    return f"data/runs-{shard:04d}.json"


def runs_json_part(shard: int, entries: list[tuple[Run, bytes]]) -> Page:
    """A shard's runs (`runs_json_entry`), by root and run id."""
    ordered = sorted(entries, key=lambda item: (item[0].root, item[0].run_id))
    joined = b",".join(entry for _, entry in ordered)
    data = b'{"format":%d,"shard":%d,"runs":[%s]}\n' % (RUNS_JSON_FORMAT, shard, joined)
    return Page(part_path(shard), data)
