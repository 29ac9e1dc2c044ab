"""Measure `sitegen build` against its targets in one run; print a Markdown table of figures and ratios.

Full, no-op and one-changed builds, peak memory, stat floor, Hugo, page weight; never asserts on times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import generate_benchmarks
import generate_runs
import psutil

REPO = Path(__file__).resolve().parent.parent
GIB = 1 << 30
MIXED_JOBDIRS, MIXED_SESSIONS, MIXED_ENTRIES, MIXED_PROCESSING_JOBS = 1000, 30, 20, 100
WALK = """
import os, sys, time
def walk(path):
    files = 0
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                files += walk(entry.path)
            else:
                entry.stat(follow_symlinks=False)
                files += 1
    return files
start = time.perf_counter()
files = walk(sys.argv[1])
print(time.perf_counter() - start, files)
"""


class BenchError(Exception):
    """A command the benchmark needs failed; the message says which and why."""


@dataclass
class Figures:
    """Everything measured, in seconds, bytes and counts."""

    runs: int = 0
    files: int = 0
    tree_bytes: int = 0
    full_s: float = 0.0
    noop_s: float = 0.0
    one_s: float = 0.0
    full_reads: int | None = None
    noop_reads: int | None = None
    one_reads: int | None = None
    peak_process_bytes: int = 0
    peak_tree_bytes: int = 0
    walk_s: float = 0.0
    start_s: float = 0.0
    hugo_s: float | None = None
    hugo_version: str = ""
    page_bytes: int = 0
    page_dir_bytes: int = 0
    wide_peak_tree_bytes: int = 0
    full_user_s: float = 0.0
    full_sys_s: float = 0.0
    out_files: int = 0
    out_bytes: int = 0
    copy_s: float = 0.0


class PeakTreeRss:
    """Samples the summed RSS of this process's descendants (a build and its workers) every 100 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakTreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while True:
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            if self._stop.wait(0.1):
                return


def run(cmd: list[str], cwd: Path = REPO) -> tuple[float, str]:
    """Wall time of one command and its stdout; BenchError with the end of stderr if it fails."""
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise BenchError(f"`{' '.join(cmd)}` exited with {result.returncode}:\n{tail}")
    return elapsed, result.stdout


def empty_and_settle(directory: Path) -> None:
    """Remove a previous output and let the disk finish with it (deleting 40,000 files on a
    discard-mounted ext4 slows the next seconds of writes), so each timed build starts alike."""
    shutil.rmtree(directory, ignore_errors=True)
    os.sync()
    time.sleep(1.0)


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def build_cmd(root: Path, out: Path, full: bool) -> list[str]:
    cmd = [sys.executable, "-m", "sitegen", "build", "--root", str(root), "--out", str(out), "--quiet",
           "--report", str(report_path(out))]  # a no-op leaves _build/report.json as it was
    return [*cmd, "--full"] if full else cmd


def report_path(out: Path) -> Path:
    return out.parent / f"{out.name}-report.json"


def runs_read(out: Path) -> int | None:
    """`runs_read` from the build report, to show that a no-op build read nothing."""
    try:
        return int(json.loads(report_path(out).read_text())["runs_read"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prepare_tree(workdir: Path, runs: int, mixed: bool = False) -> Path:
    """Generate the tree once; a marker beside it lets later benchmarks reuse it.

    `mixed` adds 1,000 serving job dirs (3 concurrencies each), 30 nightly sessions of 20
    entries and 100 DataJuicer processing jobs (8 partitions × 6 operations) beside the sidecar runs.
    """
    name = f"tree-{runs}-mixed" if mixed else f"tree-{runs}"
    tree, marker = workdir / name, workdir / f"{name}.done"
    if marker.exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    start = time.perf_counter()
    generate_runs.generate(tree, runs)
    if mixed:
        generate_benchmarks.generate(
            tree, MIXED_JOBDIRS, MIXED_SESSIONS, MIXED_ENTRIES, MIXED_PROCESSING_JOBS)
    print(f"generated {name} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    marker.touch()
    return tree


def tree_size(tree: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, filenames in os.walk(tree):
        files += len(filenames)
        size += sum(os.lstat(os.path.join(dirpath, name)).st_size for name in filenames)
    return files, size


def measure_builds(tree: Path, out: Path, repeat: int, figures: Figures) -> None:
    """Full builds into an empty output dir, then no-op and one-run-changed rebuilds."""

    def full() -> float:
        empty_and_settle(out)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with PeakTreeRss() as sampler:
            elapsed, _ = run(build_cmd(tree, out, full=True))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        figures.full_user_s = after.ru_utime - before.ru_utime
        figures.full_sys_s = after.ru_stime - before.ru_stime
        figures.peak_tree_bytes = max(figures.peak_tree_bytes, sampler.peak)
        return elapsed

    def incremental() -> float:
        return run(build_cmd(tree, out, full=False))[0]

    def one_changed() -> float:
        generate_runs.touch_one(tree)
        return incremental()

    figures.full_s = median_of(repeat, full)
    figures.full_reads = runs_read(out)
    # only builds have run as children so far: this is the largest single build process
    figures.peak_process_bytes = _children_maxrss()
    incremental()  # settle anything the first build after a full one still does
    os.sync()  # and let the disk write back the full build's gigabyte first: a no-op only reads
    time.sleep(1.0)
    figures.noop_s = median_of(repeat, incremental)
    figures.noop_reads = runs_read(out)
    figures.one_s = median_of(repeat, one_changed)
    figures.one_reads = runs_read(out)


def measure_copy_floor(out: Path, repeat: int, figures: Figures) -> None:
    """`cp -r` of the built output into an empty dir: what merely creating those files costs here."""
    figures.out_files, figures.out_bytes = tree_size(out)
    copy = out.with_name(out.name + "-copy")

    def cp() -> float:
        empty_and_settle(copy)
        return run(["cp", "-r", str(out), str(copy)])[0]

    figures.copy_s = median_of(repeat, cp)
    shutil.rmtree(copy, ignore_errors=True)


def _children_maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux


def measure_floor(tree: Path, repeat: int, figures: Figures) -> None:
    """A bare scandir+stat walk of the tree (timed inside its process) and a bare interpreter start."""

    def walk() -> float:
        return float(run([sys.executable, "-c", WALK, str(tree)])[1].split()[0])

    figures.walk_s = median_of(repeat, walk)
    figures.start_s = median_of(repeat, lambda: run([sys.executable, "-c", "pass"])[0])


def write_hugo_site(site: Path, tree: Path) -> None:
    """A minimal Hugo site with one content page per run (title, status, tags, params, summary)."""
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (site / "hugo.toml").write_text(
        'baseURL = "/"\ntitle = "bench"\ndisableKinds = ["taxonomy", "term", "RSS", "sitemap"]\n'
    )
    page = "<!doctype html><title>{{ .Title }}</title><h1>{{ .Title }}</h1>"
    (layouts / "single.html").write_text(
        page + "<p>{{ .Params.status }}</p><table>{{ range $k, $v := .Params.metrics }}"
        "<tr><td>{{ $k }}</td><td>{{ $v }}</td></tr>{{ end }}</table>{{ .Content }}\n"
    )
    (layouts / "list.html").write_text(
        page + "<ul>{{ range .Pages }}<li><a href='{{ .RelPermalink }}'>{{ .Title }}</a></li>{{ end }}</ul>\n"
    )
    content = site / "content" / "runs"
    content.mkdir(parents=True, exist_ok=True)
    for sidecar in sorted(tree.glob("*/*/*/sidecar.json")):
        doc = json.loads(sidecar.read_text())
        params = "\n".join(f"| {k} | {v} |" for k, v in doc["hparams"].items())
        front = {
            "title": doc["run_id"],
            "status": doc["status"],
            "tags": doc["tags"],
            "summary": doc["summary"],
        }
        (content / f"{doc['run_id']}.md").write_text(
            f"{json.dumps(front, indent=1)}\n\n| param | value |\n|---|---|\n{params}\n"
        )


def measure_hugo(workdir: Path, tree: Path, runs: int, repeat: int, figures: Figures) -> None:
    hugo = shutil.which("hugo")
    if hugo is None:
        return
    site, marker = workdir / f"hugo-{runs}", workdir / f"hugo-{runs}.done"
    if not marker.exists():
        shutil.rmtree(site, ignore_errors=True)
        write_hugo_site(site, tree)
        marker.touch()

    def build() -> float:
        empty_and_settle(site / "public")
        return run([hugo, "--quiet"], cwd=site)[0]

    figures.hugo_version = run([hugo, "version"])[1].split()[1]
    figures.hugo_s = median_of(repeat, build)


def measure_page_weight(workdir: Path, figures: Figures) -> None:
    """Build one run with 10 series of 100,000 points; weigh its run page."""
    tree, out = workdir / "wide-tree", workdir / "wide-site"
    if not (workdir / "wide-tree.done").exists():
        shutil.rmtree(tree, ignore_errors=True)
        generate_runs.write_wide_run(tree)
        (workdir / "wide-tree.done").touch()
    shutil.rmtree(out, ignore_errors=True)
    with PeakTreeRss() as sampler:
        run(build_cmd(tree, out, full=True))
    figures.wide_peak_tree_bytes = sampler.peak
    pages = sorted(out.glob("runs/*/index.html"))
    if not pages:
        raise BenchError(f"no run page found under {out}/runs/*/index.html")
    figures.page_bytes = pages[0].stat().st_size
    figures.page_dir_bytes = sum(p.stat().st_size for p in pages[0].parent.rglob("*") if p.is_file())


def verdict(ok: bool) -> str:
    return "ok" if ok else "**MISS**"


def table(f: Figures, repeat: int) -> str:
    floor = f.walk_s + f.start_s
    rows = [
        ("full build", f"{f.full_s:.2f} s", _hugo_target(f), _hugo_ratio(f), f.full_reads),
        ("full build, CPU time of all processes", f"{f.full_user_s:.2f} s user, {f.full_sys_s:.2f} s system",
         "", "", None),
        ("output floor: `cp -r` of the built site", f"{f.copy_s:.2f} s", "",
         f"{f.out_files:,} files, {f.out_bytes / 1e6:,.0f} MB", None),
        (
            "no-op rebuild",
            f"{f.noop_s:.3f} s",
            f"≤ 2 × floor = {2 * floor:.3f} s and < 1 s",
            f"{f.noop_s / floor:.2f}× floor, {verdict(f.noop_s <= 2 * floor and f.noop_s < 1)}",
            f.noop_reads,
        ),
        (
            "one run changed",
            f"{f.one_s:.3f} s",
            f"≤ no-op + 0.3 s = {f.noop_s + 0.3:.3f} s",
            f"+{f.one_s - f.noop_s:.3f} s, {verdict(f.one_s - f.noop_s <= 0.3)}",
            f.one_reads,
        ),
        (
            "peak memory, largest process (full)",
            _mib(f.peak_process_bytes),
            "< 1 GiB",
            f"{f.peak_process_bytes / GIB:.2f} GiB, {verdict(f.peak_process_bytes < GIB)}",
            None,
        ),
        (
            "peak memory, process tree (full, sampled)",
            _mib(f.peak_tree_bytes),
            "< 1 GiB",
            f"{f.peak_tree_bytes / GIB:.2f} GiB, {verdict(f.peak_tree_bytes < GIB)}",
            None,
        ),
        ("stat floor: scandir + stat walk", f"{f.walk_s:.3f} s", "", f"{f.files:,} files", None),
        ("stat floor: bare interpreter start", f"{f.start_s:.3f} s", "", "", None),
    ]
    if f.hugo_s is not None:
        hugo = f"Hugo {f.hugo_version} (`hugo --quiet`)"
        rows.append((hugo, _seconds(f.hugo_s), "", f"{f.runs:,} pages", None))
    if f.page_bytes:
        rows.append((
            "run page, 10 series × 100,000 points",
            f"{f.page_bytes / 1024:,.0f} KB",
            "< 300 KB",
            f"page dir {f.page_dir_bytes / 1024:,.0f} KB; build peak {_mib(f.wide_peak_tree_bytes)}",
            None,
        ))
    head = (
        f"{f.runs:,} runs, {f.files:,} files, {f.tree_bytes / 1e6:,.0f} MB; {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; median of {repeat}\n\n"
        "| measure | value | target | ratio | runs read |\n|---|---|---|---|---|\n"
    )
    return head + "".join(
        f"| {name} | {value} | {target} | {ratio} | {'' if reads is None else reads} |\n"
        for name, value, target, ratio, reads in rows
    )


def _hugo_target(f: Figures) -> str:
    return "≤ 5 × Hugo" if f.hugo_s is None else f"≤ 5 × Hugo = {5 * f.hugo_s:.2f} s"


def _hugo_ratio(f: Figures) -> str:
    if f.hugo_s is None:
        return "no `hugo` on PATH"
    return f"{f.full_s / f.hugo_s:.2f}× Hugo, {verdict(f.full_s <= 5 * f.hugo_s)}"


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the tree (default: %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="median of this many runs (default: %(default)s)"
    )
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-out", help="default: %(default)s")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--mixed", action="store_true",
                        help="add 1,000 serving job dirs, 30×20 nightly entries, 100 processing jobs")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    extra = MIXED_JOBDIRS + MIXED_SESSIONS * MIXED_ENTRIES + MIXED_PROCESSING_JOBS if args.mixed else 0
    figures = Figures(runs=args.runs + extra)
    site = workdir / (f"site-{args.runs}-mixed" if args.mixed else f"site-{args.runs}")
    try:
        tree = prepare_tree(workdir, args.runs, args.mixed)
        figures.files, figures.tree_bytes = tree_size(tree)
        measure_builds(tree, site, args.repeat, figures)
        measure_copy_floor(site, args.repeat, figures)
        measure_floor(tree, args.repeat, figures)
        if not args.mixed:  # Hugo and the page weight are about sidecar runs only
            measure_hugo(workdir, tree, args.runs, args.repeat, figures)
            measure_page_weight(workdir, figures)
    except BenchError as exc:
        print(f"bench_build: {exc}", file=sys.stderr)
        return 1
    report = table(figures, args.repeat)
    print(report, end="")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
