"""Measure the index of a big site in headless Chromium: its weight, and how soon it can be used.

    .venv/bin/python benchmarks/bench_index.py bench-out/site-10000 --repeat 5

Opens `index.html` from disk in Debian's Chromium (through the DevTools client the browser
tests use), and reports the HTML's size (raw and gzipped, as a web server would send it),
the time to DOMContentLoaded, the time until the runs table answers (its filter count is set
by the theme's script: the page is interactive), and how long one filter keystroke, one
column sort (on all rows) and drawing the next rows take. Medians; prints a Markdown table,
never asserts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser.cdp import Browser, devtools_port, launch  # noqa: E402

# Added to every page before its own scripts: notes the moment the theme's script sets the count.
WATCH_READY = """new MutationObserver((_, observer) => {
  const count = document.getElementById('filter-count');
  if (count && count.textContent) { window.__ready = performance.now(); observer.disconnect(); }
}).observe(document, {subtree: true, childList: true, characterData: true});"""
READY = "window.__ready > 0"
TIMINGS = """(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return {parsed: nav.domInteractive, dcl: nav.domContentLoadedEventEnd, ready: window.__ready,
          rows: document.querySelectorAll('#runs tbody tr').length};
})()"""
FILTER = """(() => {
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
MORE = """(() => {
  const start = performance.now();
  document.getElementById('runs-more').click();
  return performance.now() - start;
})()"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    index = args.site.resolve() / "index.html"
    html = index.read_bytes()
    executable = shutil.which("chromium")
    if executable is None:
        sys.exit("chromium is not on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch:
        profile = Path(scratch) / "profile"
        profile.mkdir()
        process = launch(executable, profile)
        try:
            page = Browser(devtools_port(process, profile)).new_page()
            page.set_viewport(1280, 900)
            page.send("Page.addScriptToEvaluateOnNewDocument", source=WATCH_READY)
            samples = [_load(page, index.as_uri()) for _ in range(args.repeat)]
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # Chromium and its helpers: its own session
            process.wait()
    medians = [statistics.median(sample[i] for sample in samples) for i in range(6)]
    runs = _runs(html)
    print("| runs | rows in the HTML | HTML | gzipped | HTML parsed | DOMContentLoaded | interactive "
          "(table ready) | filter keystroke | sort a column | draw the next rows | median of |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    weight = f"{len(html) / 1e6:.2f} MB | {len(gzip.compress(html)) / 1e3:.0f} KB"
    times = " | ".join(f"{t:.0f} ms" for t in medians)
    print(f"| {runs:,} | {samples[0][6]:,} | {weight} | {times} | {args.repeat} |")


def _runs(html: bytes) -> int:
    start = html.index(b'<script type="application/json" id="runs-data">')
    data = html[html.index(b">", start) + 1:html.index(b"</script>", start)]
    return len(json.loads(data)["rows"])


def _load(page, url: str) -> tuple[float, ...]:
    page.navigate("about:blank")
    page.navigate(url, timeout=120)
    page.wait_for(READY, timeout=120)
    timings = page.evaluate(TIMINGS)
    return (timings["parsed"], timings["dcl"], timings["ready"], page.evaluate(FILTER), page.evaluate(SORT),
            page.evaluate(MORE), timings["rows"])


if __name__ == "__main__":
    main()
