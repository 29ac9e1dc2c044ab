"""One entry changed in a nightly history, where every run is in a session and a trend (the
site a team has after a year of nightly runs): ENTRIES benchmarks × NIGHTS sessions written by
`generate_benchmarks.write_session`, built once, then interleaved pairs of one entry of the newest
night changed (its `time_taken` × 1.5, then back: a regression flagged, then cleared) against a
no-op. Prints one Markdown row: runs, no-op, the change over the no-op (median of the pairs'
differences, spread), and the largest peak memory of the changed builds.

    .venv/bin/python benchmarks/bench_nightly.py --entries 200 --nights 100    # 20,000 runs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import generate_benchmarks
import racy_window
from pairs import measure_pairs, spread
from timed import timed

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "sitegen.yaml"  # the timed builds run in REPO, so this is the config they use


def history(workdir: Path, entries: int, nights: int) -> Path:
    """The runs of the history, written once (a marker beside them)."""
    runs = workdir / f"nightly-{entries}x{nights}"
    marker = runs.with_name(runs.name + ".done")
    if not marker.exists():
        for night in range(nights):
            generate_benchmarks.write_session(runs, night, entries)
        racy_window.wait_out([runs], racy_window.configured_window_s(CONFIG))
        marker.touch()
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200, help="benchmarks a night (default: %(default)s)")
    parser.add_argument("--nights", type=int, default=100, help="sessions (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=4, help="no-op / change pairs (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-out")
    args = parser.parse_args(argv)
    runs = history(args.workdir, args.entries, args.nights)
    site = args.workdir / f"site-nightly-{args.entries}x{args.nights}"
    build = [sys.executable, "-m", "sitegen", "build", "--root", str(runs), "--out", str(site), "--quiet"]
    timed(build, REPO)  # the full build, or whatever the last run of this benchmark left to do
    window_s = racy_window.configured_window_s(CONFIG)
    night = sorted((runs / "nightly").iterdir())[-1]
    newest = sorted(night.iterdir())[0] / "benchmark_results" / "metrics.json"
    report = args.workdir / f"site-nightly-{args.entries}x{args.nights}-report.json"
    peaks = []

    def change() -> float:
        metrics = json.loads(newest.read_text())
        factor = 1.5 if len(peaks) % 2 == 0 else 1 / 1.5
        newest.write_text(json.dumps({**metrics, "time_taken": metrics["time_taken"] * factor}))
        racy_window.wait_out([newest], window_s)
        result = timed([*build, "--report", str(report)], REPO)
        read = json.loads(report.read_text())["runs_read"]
        if read != 1:
            raise SystemExit(f"the changed build read {read} runs, not the one changed: nothing measured")
        peaks.append(result.peak_bytes)
        return result.seconds

    paired = measure_pairs(change, lambda: timed(build, REPO).seconds, args.pairs)
    print("| runs | no-op | one entry changed, over the no-op | peak memory, changed |\n|---|---|---|---|")
    print(f"| {args.entries * args.nights:,} | {paired.b_median:.3f} s | +{paired.difference:.3f} s "
          f"({spread(paired.differences, ' s', 3)}) | {max(peaks) / 2**20:,.0f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
