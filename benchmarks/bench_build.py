"""Measure `sitegen build` against issue 16's targets; print a Markdown table of each figure, its
target and ok or **MISS**. Never asserts.

Every comparison is timed in interleaved pairs (pairs.py) and reported as the median of the
per-pair ratios (or differences) with their spread: a no-op against the stat floor (a process
that starts the interpreter and stats every file of the tree), one run changed and one nightly
session of 200 entries added against a no-op, the full build against Hugo building one page per
run, and sitegen against `asv publish` on the same nightly history (bench_asv.py). A change is
waited out past the build's racy window (racy_window.py) before the build that reads it is timed,
so that the no-op after it reads nothing.

    make bench                                                               # 10,000 runs
    .venv/bin/python benchmarks/bench_build.py --runs 100000 --rows 20 --full-pairs 1  # < 30 min
    .venv/bin/python benchmarks/bench_build.py --million    # also 1,000,000 tiny runs (no-op, one changed)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bench_asv
import generate_benchmarks
import generate_runs
import hugo_site
import psutil
import racy_window
from pairs import Paired, measure_pairs, spread
from timed import CommandFailed, Timed, output_of, timed

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "sitegen.yaml"  # the timed builds run in REPO, so this is the config they use
MIB, GIB = 1 << 20, 1 << 30
SESSION_ENTRIES = 200
FIRST_ADDED_SESSION = 500  # nights after the generator's first (2026-05): apart from --mixed's 30
MIXED_JOBDIRS, MIXED_SESSIONS, MIXED_ENTRIES, MIXED_PROCESSING_JOBS = 1000, 30, 20, 100
WALK = """
import os, sys
def walk(path):
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path)
            else:
                entry.stat(follow_symlinks=False)
walk(sys.argv[1])
"""


@dataclass
class Figures:
    """Everything measured: seconds, bytes, counts, and the pairs behind the ratios."""

    runs: int = 0
    files: int = 0
    tree_bytes: int = 0
    full_s: tuple[float, ...] = ()
    hugo: Paired | None = None  # A: sitegen full build, B: hugo
    hugo_note: str = ""
    full_cpu_s: tuple[float, float] = (0.0, 0.0)
    noop: Paired | None = None  # A: no-op, B: stat floor + interpreter
    one: Paired | None = None  # A: one run changed, B: no-op
    session: Paired | None = None  # A: one session of 200 entries added, B: no-op
    runs_read: dict[str, int | None] = field(default_factory=dict)
    peak_full: int = 0
    peak_full_tree: int = 0
    peak_incremental: int = 0
    out_files: int = 0
    publishable_bytes: int = 0
    build_dir_bytes: int = 0
    page_bytes: int = 0
    page_points: int = 0
    million: Million | None = None
    asv: bench_asv.AsvFigures | None = None
    asv_note: str = ""


@dataclass
class Million:
    runs: int
    full_s: float | None  # None: the site of an earlier benchmark was reused
    noop: Paired
    one: Paired


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


class Bench:
    """One tree, its site, the settings every measurement shares, and what the builds showed."""

    def __init__(self, tree: Path, site: Path, settle_s: float, window_s: float) -> None:
        self.tree, self.site, self.settle_s, self.window_s = tree, site, settle_s, window_s
        self.report = site.parent / f"{site.name}-report.json"
        self.peak_incremental = 0
        self.runs_read: dict[str, int | None] = {}

    def build_timed(self, kind: str, full: bool = False) -> Timed:
        """One build as its own process; notes how many runs it read (its report) under `kind`."""
        # the report is asked for: a no-op leaves _build/report.json as it was
        cmd = [sys.executable, "-m", "sitegen", "build", "--root", str(self.tree), "--out", str(self.site),
               "--quiet", "--report", str(self.report), *(["--full"] if full else [])]
        result = timed(cmd, REPO)
        self.runs_read[kind] = self._report_runs_read()
        if not full:
            self.peak_incremental = max(self.peak_incremental, result.peak_bytes)
        return result

    def noop(self) -> float:
        return self.build_timed("no-op").seconds

    def floor(self) -> float:
        """The stat floor with the interpreter's start: a process that stats every file of the tree."""
        return timed([sys.executable, "-c", WALK, str(self.tree)], REPO).seconds

    def one_changed(self) -> float:
        changed = generate_runs.touch_one(self.tree)
        racy_window.wait_out([changed], self.window_s)
        return self.build_timed("one run changed").seconds

    def settle(self) -> None:
        """Let the disk write back what came before (deleting or writing 40,000 files on a
        discard-mounted ext4 slows the next seconds of writes), so each timed build starts alike."""
        os.sync()
        time.sleep(self.settle_s)

    def empty_and_settle(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        self.settle()

    def _report_runs_read(self) -> int | None:
        try:
            return int(json.loads(self.report.read_text())["runs_read"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def prepare_tree(workdir: Path, runs: int, rows: int, window_s: float, mixed: bool = False,
                 tiny: bool = False) -> Path:
    """Generate the tree once (a marker beside it lets later benchmarks reuse it) and wait until
    the build's racy window has passed over its newest directory or file."""
    name = f"tree-{runs}" + ("-tiny" if tiny else "") + (f"-r{rows}" if rows != generate_runs.ROWS else "")
    name += "-mixed" if mixed else ""
    tree, marker = workdir / name, workdir / f"{name}.done"
    if marker.exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    start = time.perf_counter()
    if tiny:
        generate_runs.generate_tiny(tree, runs)
    else:
        generate_runs.generate(tree, runs, rows)
    if mixed:
        generate_benchmarks.generate(tree, MIXED_JOBDIRS, MIXED_SESSIONS, MIXED_ENTRIES,
                                     MIXED_PROCESSING_JOBS)
    print(f"generated {name} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    racy_window.wait_out([tree], window_s)
    marker.touch()
    return tree


def files_and_bytes(directory: Path, skip: str = "") -> tuple[int, int]:
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(directory):
        if skip in dirnames and dirpath == str(directory):
            dirnames.remove(skip)
        files += len(filenames)
        size += sum(os.lstat(os.path.join(dirpath, name)).st_size for name in filenames)
    return files, size


def measure_full(bench: Bench, workdir: Path, pairs: int, figures: Figures) -> None:
    """Full builds into an empty output dir, interleaved with Hugo building the same runs' pages."""
    full_times: list[float] = []

    def full() -> float:
        bench.empty_and_settle(bench.site)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with PeakTreeRss() as sampler:
            result = bench.build_timed("full", full=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        figures.full_cpu_s = (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)
        figures.peak_full = max(figures.peak_full, result.peak_bytes)
        figures.peak_full_tree = max(figures.peak_full_tree, sampler.peak)
        full_times.append(result.seconds)
        return result.seconds

    hugo = hugo_site.hugo()
    if hugo is None:
        figures.hugo_note = "hugo not installed"
        for _ in range(pairs):
            full()
    else:
        site = workdir / f"hugo-{bench.tree.name}"
        marker = site.with_name(site.name + ".done")  # holds the page count
        if not marker.exists():
            shutil.rmtree(site, ignore_errors=True)
            marker.write_text(str(hugo_site.write_site(site, bench.tree)))

        def hugo_build() -> float:
            bench.empty_and_settle(site / "public")
            return timed([hugo, "--quiet"], site).seconds

        figures.hugo = measure_pairs(full, hugo_build, pairs)
        pages = int(marker.read_text())
        figures.hugo_note = f"Hugo {output_of([hugo, 'version'], site).split()[1]}, {pages:,} pages"
    figures.full_s = tuple(full_times)
    figures.out_files, figures.publishable_bytes = files_and_bytes(bench.site, skip="_build")
    build_files, figures.build_dir_bytes = files_and_bytes(bench.site / "_build")
    figures.out_files += build_files


def measure_incremental(bench: Bench, pairs: int, figures: Figures) -> None:
    """No-op against the floor, then one run changed and one session added, each against a no-op."""
    bench.noop()  # settle anything the first build after a full one still does
    bench.settle()
    figures.noop = measure_pairs(bench.noop, bench.floor, pairs)
    figures.one = measure_pairs(bench.one_changed, bench.noop, pairs)
    added: list[Path] = []

    def session_added() -> float:
        directory, _ = generate_benchmarks.write_session(bench.tree, FIRST_ADDED_SESSION + len(added),
                                                         SESSION_ENTRIES)
        added.append(directory)
        racy_window.wait_out([directory], bench.window_s)
        return bench.build_timed("session added").seconds

    try:
        figures.session = measure_pairs(session_added, bench.noop, pairs)
    finally:  # the tree stays as generated, for the next benchmark that reuses it
        for directory in added:
            shutil.rmtree(directory)
    figures.peak_incremental = bench.peak_incremental
    figures.runs_read = bench.runs_read


def measure_million(workdir: Path, runs: int, pairs: int, settle_s: float, window_s: float) -> Million:
    """A tree of tiny runs and its site, each made once (the site's full build takes an hour at a
    million runs here; a marker beside it lets later benchmarks reuse it); then no-op vs floor
    and one run changed vs no-op."""
    tree = prepare_tree(workdir, runs, generate_runs.ROWS, window_s, tiny=True)
    bench = Bench(tree, workdir / f"site-{tree.name}", settle_s, window_s)
    built = bench.site.with_name(bench.site.name + ".done")
    full_s = None
    if not built.exists():
        bench.empty_and_settle(bench.site)
        full_s = bench.build_timed("full", full=True).seconds
        built.touch()
    bench.noop()
    bench.settle()
    noop = measure_pairs(bench.noop, bench.floor, pairs)
    one = measure_pairs(bench.one_changed, bench.noop, pairs)
    return Million(runs, full_s, noop, one)


def measure_page_weight(workdir: Path, points: int) -> int:
    """Build one run with 10 series of `points` points; the size of its run page."""
    tree, out = workdir / f"wide-tree-{points}", workdir / f"wide-site-{points}"
    if not tree.with_name(tree.name + ".done").exists():
        shutil.rmtree(tree, ignore_errors=True)
        generate_runs.write_wide_run(tree, points=points)
        tree.with_name(tree.name + ".done").touch()
    shutil.rmtree(out, ignore_errors=True)
    timed([sys.executable, "-m", "sitegen", "build", "--root", str(tree), "--out", str(out), "--quiet"], REPO)
    pages = sorted(out.glob("runs/*/index.html"))
    if not pages:
        raise CommandFailed(f"no run page found under {out}/runs/*/index.html")
    return pages[0].stat().st_size


def measure_asv(workdir: Path, benchmarks: int, nights: int, pairs: int, figures: Figures) -> None:
    asv = bench_asv.asv_command()
    if asv is None:
        figures.asv_note = "asv not installed (`make bench-asv`)"
        return
    history = bench_asv.write_history(workdir, benchmarks, nights)
    figures.asv = bench_asv.measure(asv, history, pairs)


def verdict(ok: bool) -> str:
    return "ok" if ok else "**MISS**"


def noop_row(name: str, noop: Paired | None) -> tuple[str, str, str, str]:
    if noop is None:
        return name, "n/a", "< 1 s and ≤ 2 × floor", ""
    ok = noop.a_median < 1 and noop.ratio <= 2
    return (name, f"{noop.a_median:.3f} s (floor {noop.b_median:.3f} s)", "< 1 s and ≤ 2 × floor",
            f"{noop.ratio:.2f}× floor ({spread(noop.ratios)}), {verdict(ok)}")


def added_row(name: str, added: Paired | None, limit_s: float) -> tuple[str, str, str, str]:
    if added is None:
        return name, "n/a", f"≤ no-op + {limit_s} s", ""
    return (name, f"{added.a_median:.3f} s (no-op {added.b_median:.3f} s)", f"≤ no-op + {limit_s} s",
            f"+{added.difference:.3f} s ({spread(added.differences, ' s', 3)}), "
            f"{verdict(added.difference <= limit_s)}")


def rows(f: Figures) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, ratio and verdict) for every target of issue 16."""
    runs = max(f.runs, 1)
    hugo_ratio = (f.hugo_note if f.hugo is None else
                  f"{f.hugo.ratio:.2f}× Hugo ({spread(f.hugo.ratios)}), {verdict(f.hugo.ratio <= 5)}")
    hugo_value = "" if f.hugo is None else f" vs Hugo {f.hugo.b_median:.2f} s ({f.hugo_note})"
    full_median = sorted(f.full_s)[len(f.full_s) // 2] if f.full_s else 0.0
    per_run, build_per_run = f.publishable_bytes / runs, f.build_dir_bytes / runs
    table = [
        noop_row("no-op rebuild vs stat floor + interpreter", f.noop),
        added_row("one run changed", f.one, 0.3),
        added_row(f"one nightly session of {SESSION_ENTRIES} entries added", f.session, 1.0),
        ("peak memory, incremental build (largest process)", _mib(f.peak_incremental), "≤ 300 MiB",
         verdict(f.peak_incremental <= 300 * MIB)),
        ("peak memory, full build (largest process)", _mib(f.peak_full), "< 1 GiB",
         verdict(f.peak_full < GIB)),
        ("peak memory, full build (process tree, sampled)", _mib(f.peak_full_tree), "< 1 GiB",
         verdict(f.peak_full_tree < GIB)),
        ("full build" + hugo_value, f"{full_median:.2f} s", "≤ 5 × Hugo (at 10,000 runs)", hugo_ratio),
        ("full build, CPU time of all processes",
         f"{f.full_cpu_s[0]:.1f} s user, {f.full_cpu_s[1]:.1f} s system", "", ""),
        ("publishable bytes per run", f"{per_run / 1e3:,.1f} KB", "≤ 40 KB",
         f"{verdict(per_run <= 40e3)}; 10,000 runs ≈ {per_run * 1e4 / 1e6:,.0f} MB (GitHub Pages: 1 GB)"),
        ("`_build/` bytes per run", f"{build_per_run / 1e3:,.1f} KB", "≤ 20 KB",
         verdict(build_per_run <= 20e3)),
        ("output", f"{f.out_files:,} files, {(f.publishable_bytes + f.build_dir_bytes) / 1e6:,.0f} MB",
         "", ""),
    ]
    if f.page_bytes:
        table.append((f"run page, 10 series × {f.page_points:,} points", f"{f.page_bytes / 1024:,.0f} KB",
                      "< 300 KB", verdict(f.page_bytes < 300 * 1024)))
    if f.million is not None:
        m = f.million
        full = "reused from an earlier benchmark" if m.full_s is None else f"{m.full_s:.1f} s"
        table += [("full build, tiny runs (setup, not a target)", full, "", f"{m.runs:,} runs"),
                  noop_row(f"no-op rebuild, {m.runs:,} tiny runs", m.noop),
                  added_row(f"one run changed, {m.runs:,} tiny runs", m.one, 0.3)]
    return table + bench_asv.rows(f.asv, f.asv_note)


def table(f: Figures, pairs: int, window_s: float) -> str:
    head = (
        f"{f.runs:,} runs, {f.files:,} files, {f.tree_bytes / 1e6:,.0f} MB; {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}; Python {platform.python_version()}; medians of {pairs} interleaved pairs "
        f"(spread: min–max, IQR from 4 pairs); racy window {window_s:g} s waited out after each change\n\n"
        "| measure | value | target | ratio (spread), verdict |\n|---|---|---|---|\n"
    )
    reads = "".join(f"{kind}: {count}; " for kind, count in f.runs_read.items() if count is not None)
    foot = f"\nRuns read (build report): {reads.rstrip('; ')}\n" if reads else ""
    return head + "".join("| " + " | ".join(row) + " |\n" for row in rows(f)) + foot


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Say on stderr how long a part of the benchmark took (what a long run's time goes to)."""
    start = time.perf_counter()
    yield
    print(f"bench_build: {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)


def _mib(size: int) -> str:
    return f"{size / MIB:,.0f} MiB"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--runs", type=int, default=10_000, help="runs in the tree (default: %(default)s)")
    add("--rows", type=int, default=generate_runs.ROWS, help="rows of each metrics.csv (default: 1000)")
    # seven: on a shared 2-core machine the median of three pairs moved a 0.1 s difference by 0.15 s
    add("--pairs", "--repeat", type=int, default=7, help="interleaved pairs of each kind (default: 7)")
    add("--full-pairs", type=int, default=3, help="pairs of full build and Hugo (default: 3)")
    add("--mixed", action="store_true",
        help="add 1,000 serving job dirs, 30×20 nightly entries, 100 processing jobs")
    add("--million", dest="million_runs", action="store_const", const=1_000_000,
        help="also a 1,000,000-run tree of tiny runs: no-op and one changed")
    add("--million-runs", type=int, help="the same with this many tiny runs")
    add("--no-asv", action="store_true", help="skip the comparison with asv")
    add("--asv-benchmarks", type=int, default=200, help="asv history: entries a night (default: %(default)s)")
    add("--asv-nights", type=int, default=53, help="asv history: nights (default: %(default)s)")
    add("--wide-points", type=int, default=100_000, help="points of the page-weight run's series (0: skip)")
    add("--settle", type=float, default=1.0, help="seconds to let the disk settle before a full build")
    add("--workdir", type=Path, default=REPO / "bench-out", help="default: %(default)s")
    add("--markdown", type=Path, help="also write the table to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    extra = MIXED_JOBDIRS + MIXED_SESSIONS * MIXED_ENTRIES + MIXED_PROCESSING_JOBS if args.mixed else 0
    figures = Figures(runs=args.runs + extra)
    window_s = racy_window.configured_window_s(CONFIG)
    try:
        with phase("tree"):
            tree = prepare_tree(workdir, args.runs, args.rows, window_s, args.mixed)
            figures.files, figures.tree_bytes = files_and_bytes(tree)
        bench = Bench(tree, workdir / f"site-{tree.name.removeprefix('tree-')}", args.settle, window_s)
        with phase("full builds and Hugo"):
            measure_full(bench, workdir, args.full_pairs, figures)
        with phase("no-op, one run changed, one session added"):
            measure_incremental(bench, args.pairs, figures)
        if args.wide_points:
            with phase("page weight"):
                figures.page_bytes = measure_page_weight(workdir, args.wide_points)
                figures.page_points = args.wide_points
        if args.million_runs:
            with phase("tiny runs"):
                figures.million = measure_million(workdir, args.million_runs, args.pairs, args.settle,
                                                  window_s)
        if args.no_asv:
            figures.asv_note = "skipped (--no-asv)"
        else:
            with phase("asv history"):
                measure_asv(workdir, args.asv_benchmarks, args.asv_nights, args.pairs, figures)
    except (CommandFailed, ValueError) as exc:
        print(f"bench_build: {exc}", file=sys.stderr)
        return 1
    report = table(figures, args.pairs, window_s)
    print(report, end="")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
