"""Measure the index of a big site in headless Chromium: its weight, and how soon it can be used.

    .venv/bin/python benchmarks/bench_index.py --runs 10000 100000 --repeat 5
    .venv/bin/python benchmarks/bench_index.py --site bench-out/site-10000

`--runs` writes synthetic indexes (the index page and its row chunks, as the build writes them,
from generated runs) into a scratch directory; `--site` measures a built site. Each is opened
in Debian's Chromium (through the DevTools client the browser tests use) from disk (file://)
and over HTTP (python's http.server in a thread, browser cache off), and timed from the start
of navigation: first rows on screen (first contentful paint: the first rows are in the HTML),
interactive (the table's script has set its status line: filters and sorting answer), every
row loaded (the table's `data-loaded="all"`: search covers all runs), one search keystroke
over all runs after that, and one column sort. Medians; prints a Markdown table, never asserts.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from browser.cdp import Browser, devtools_port, launch  # noqa: E402

# Added to every page before its own scripts: notes when the table's script set its status
# line (interactive) and when it marked every row loaded.
WATCH = """new MutationObserver((_, observer) => {
  const count = document.getElementById('filter-count'), table = document.getElementById('runs');
  if (!window.__ready && count && count.textContent) window.__ready = performance.now();
  if (table && table.dataset.loaded === 'all') { window.__loaded = performance.now(); observer.disconnect(); }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});"""
LOADED = "window.__loaded > 0"
TIMINGS = """(() => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {paint: paint ? paint.startTime : null, ready: window.__ready, loaded: window.__loaded,
          rows: document.querySelectorAll('#runs tbody tr').length};
})()"""
SEARCH = """(() => {
  const box = document.getElementById('filter-text'), start = performance.now();
  box.value = 'zzz-no-such-run'; box.dispatchEvent(new Event('input'));
  const took = performance.now() - start;
  box.value = ''; box.dispatchEvent(new Event('input'));
  return took;
})()"""
SORT = """(() => {
  const th = document.querySelector('#runs thead th[data-sort="num"]'), start = performance.now();
  th.click();
  return performance.now() - start;
})()"""
FIGURES = ("first rows", "interactive", "every row loaded", "search keystroke", "sort a column")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, action="append", default=[], help="a built site")
    parser.add_argument("--runs", type=int, nargs="*", default=[], help="synthetic indexes of N runs")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    executable = shutil.which("chromium")
    if executable is None:
        sys.exit("chromium is not on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch:
        sites = [site.resolve() for site in args.site]
        for runs in args.runs:
            sites.append(synthetic_index(Path(scratch) / f"index-{runs}", runs))
        profile = Path(scratch) / "profile"
        profile.mkdir()
        process = launch(executable, profile)
        try:
            page = Browser(devtools_port(process, profile)).new_page()
            page.set_viewport(1280, 900)
            page.send("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
            page.send("Network.enable")
            page.send("Network.setCacheDisabled", cacheDisabled=True)
            print("| runs | index.html (gzipped) | row chunks (gzipped) | from | "
                  + " | ".join(FIGURES) + " | median of |")
            print("|---|---|---|---|" + "---|" * len(FIGURES) + "---|")
            for site in sites:
                with _served(site) as base:
                    index = site / "index.html"
                    for where, url in (("file://", index.as_uri()), ("HTTP", f"{base}index.html")):
                        samples = [_load(page, url) for _ in range(args.repeat)]
                        medians = [statistics.median(s[i] for s in samples) for i in range(len(FIGURES))]
                        times = " | ".join(f"{t:.0f} ms" for t in medians)
                        print(f"| {_count(site):,} | {_weight(site)} | {where} | {times} | {args.repeat} |",
                              flush=True)
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # Chromium and its helpers: its own session
            process.wait()


def synthetic_index(out: Path, count: int) -> Path:
    """The index of `count` generated runs, its row chunks and the theme's assets."""
    from sitegen.model import ComputeInfo, Run
    from sitegen.render.env import theme_dir
    from sitegen.render.index import chunk_path, index_chunk, index_page, index_row
    from sitegen.render.site import SiteInfo
    from sitegen.shards import NEW, placed

    statuses = ("completed", "completed", "completed", "failed", "running", "stalled")
    runs = [Run(run_id=f"nightly-{i // 200:05d}/bench-{i % 200:03d}", root="/runs", slug=f"run-{i:06d}",
                kind="nightly", name=f"bench-{i % 200:03d}", status=statuses[i % len(statuses)],
                created_at=1.7e9 + 86400 * (i // 200) + i % 200, ended_at=1.7e9 + 86400 * (i // 200) + 900,
                tags=("nightly", f"suite:{i % 7}"), warnings=["slow"] * (i % 13 == 0),
                compute=ComputeInfo(gpu_type=("H100", "A100")[i % 2]))
           for i in range(count)]
    rows = [(run, index_row(run)) for run in runs]
    shard_of = placed([NEW] * count)  # as a build places runs, in order
    shards = shard_of[-1] + 1 if count else 0
    members: list[list[bytes]] = [[] for _ in range(shards)]
    for (_run, row), shard in zip(rows, shard_of, strict=True):
        members[shard].append(row)
    site = SiteInfo(title=f"{count} runs", theme=str(theme_dir("default")), version="bench")
    chunks = [(chunk_path(shard), "1") for shard in range(shards)]
    (out / "data").mkdir(parents=True)
    for page in [index_page(rows, site, chunks=chunks), *(index_chunk(s, m) for s, m in enumerate(members))]:
        (out / page.path).write_bytes(page.data)
    shutil.copytree(theme_dir("default") / "static", out / "assets")
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _served:
    """The site over HTTP on a free loopback port, for the length of the `with`."""

    def __init__(self, site: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(site))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _count(site: Path) -> int:
    html = (site / "index.html").read_bytes()
    start = html.index(b'<script type="application/json" id="runs-data">')
    return json.loads(html[html.index(b">", start) + 1:html.index(b"</script>", start)])["count"]


def _weight(site: Path) -> str:
    html = (site / "index.html").read_bytes()
    chunks = [p.read_bytes() for p in sorted((site / "data").glob("runs-*.js"))]
    size = sum(len(c) for c in chunks)
    packed = sum(len(gzip.compress(c)) for c in chunks)
    return (f"{len(html) / 1e3:.0f} KB ({len(gzip.compress(html)) / 1e3:.0f} KB) | "
            f"{len(chunks)} files, {size / 1e6:.1f} MB ({packed / 1e6:.1f} MB)")


def _load(page, url: str) -> tuple[float, ...]:
    page.navigate("about:blank")
    page.navigate(url, timeout=120)
    page.wait_for(LOADED, timeout=120)
    timings = page.evaluate(TIMINGS)
    return (timings["paint"], timings["ready"], timings["loaded"], page.evaluate(SEARCH), page.evaluate(SORT))


if __name__ == "__main__":
    main()
