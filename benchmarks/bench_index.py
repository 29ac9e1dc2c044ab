"""Measure the index of a big site in headless Chromium: its weight, and how soon it can be used.

    .venv/bin/python benchmarks/bench_index.py bench-out/site-10000 --repeat 5

Opens `index.html` from disk in Debian's Chromium (through the DevTools client the browser
tests use), and reports the HTML's size (raw and gzipped, as a web server would send it),
the time to DOMContentLoaded, the time until the runs table answers (its filter count is set
by the theme's script: the page is interactive), and how long one filter keystroke and one
column sort take on all rows. Medians; prints a Markdown table, never asserts.
"""

from __future__ import annotations

import argparse
import gzip
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

READY = "(document.getElementById('filter-count') || {}).textContent > ''"
TIMINGS = """(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return {parsed: nav.domInteractive, dcl: nav.domContentLoadedEventEnd, ready: performance.now(),
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
            samples = [_load(page, index.as_uri()) for _ in range(args.repeat)]
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # Chromium and its helpers: its own session
            process.wait()
    parsed, dcl, ready, filtering, sorting = (statistics.median(s[i] for s in samples) for i in range(5))
    rows = samples[0][5]
    print("| rows | HTML | gzipped | HTML parsed | DOMContentLoaded (scripts set up) "
          "| interactive (table ready) | filter keystroke (script) | sort a column | median of |")
    print("|---|---|---|---|---|---|---|---|---|")
    weight = f"{len(html) / 1e6:.2f} MB | {len(gzip.compress(html)) / 1e3:.0f} KB"
    times = " | ".join(f"{t:.0f} ms" for t in (parsed, dcl, ready, filtering, sorting))
    print(f"| {rows:,} | {weight} | {times} | {args.repeat} |")


def _load(page, url: str) -> tuple[float, float, float, float, float, int]:
    page.navigate("about:blank")
    page.navigate(url, timeout=120)
    page.wait_for(READY, timeout=120)
    timings = page.evaluate(TIMINGS)
    return (timings["parsed"], timings["dcl"], timings["ready"], page.evaluate(FILTER), page.evaluate(SORT),
            timings["rows"])


if __name__ == "__main__":
    main()
