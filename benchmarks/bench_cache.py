"""Measure the build cache's manifest alone at sizes a run tree of this machine cannot reach
quickly: the records of a built site (`--site`) repeated under new keys up to N runs, saved as
a snapshot. Prints a Markdown table; never asserts.

    .venv/bin/python benchmarks/bench_cache.py --site bench-out/site --runs 100000 1000000

For each size, in fresh processes (medians of `--repeat`): loading the manifest (the snapshot
and the replay of a log of 20 one-run changes), its peak resident memory, and saving one changed
run, as this storage does it (one frame appended and flushed) and as format 8 did (the whole
manifest encoded, written and fsync'ed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sitegen import __version__, cache  # noqa: E402
from sitegen.write import write_atomic  # noqa: E402

LOGGED_CHANGES = 20
MEASURE = """
import sys, time
sys.path.insert(0, {repo!r})
from sitegen import __version__, cache
start = time.perf_counter()
manifest, reason = cache.load_manifest({out!r}, __version__)
took = time.perf_counter() - start
assert reason is None and len(manifest.runs) == {runs}, reason
print(took, peak())
"""
BASELINE = """
import sys
sys.path.insert(0, {repo!r})
from sitegen import __version__, cache
print(peak())
"""
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) parent into the child.
PEAK = """
def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
"""


def grown(template: cache.Manifest, runs: int) -> cache.Manifest:
    """`template`'s records repeated under new run ids (and slugs, and page paths) to `runs`."""
    records = list(template.runs.values())
    grown_runs = {}
    for n in range(runs):
        record = records[n % len(records)]
        run_id, slug = f"{record.run_id}-{n}", f"{record.slug}-{n}"
        pages = {path.replace(record.slug, slug): digest for path, digest in record.pages.items()}
        grown_runs[cache.run_key(record.root, run_id)] = msgspec.structs.replace(
            record, run_id=run_id, slug=slug, run_dir=f"{record.run_dir}-{n}", pages=pages)
    return cache.Manifest(template.dirs, grown_runs, template.pages, template.listing_shards)


def changed_one(manifest: cache.Manifest, n: int) -> cache.Manifest:
    key = list(manifest.runs)[n % len(manifest.runs)]
    runs = dict(manifest.runs)
    runs[key] = msgspec.structs.replace(runs[key], render_key=f"{n:024x}")
    return cache.Manifest(manifest.dirs, runs, manifest.pages, manifest.listing_shards)


def rewrite(path: str, manifest: cache.Manifest, out: str) -> None:
    """What every build of format 8 did, a no-op too."""
    write_atomic(path, msgspec.msgpack.encode(manifest), within=out, durable=True)


def seconds(function) -> float:
    import time

    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(template: cache.Manifest, runs: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as out:
        os.makedirs(cache.cache_dir(out))
        manifest = grown(template, runs)
        cache.save_manifest(out, manifest, __version__)
        store = cache.ManifestStore(out)
        manifest, _ = store.load(__version__)
        appends = []
        for n in range(LOGGED_CHANGES):
            manifest = changed_one(manifest, n)
            appends.append(seconds(lambda m=manifest: store.save(m, __version__)))
        whole = os.path.join(out, "whole.msgpack")
        rewrites = [seconds(lambda: rewrite(whole, manifest, out))
                    for _ in range(repeat)]
        loads, peaks = [], []
        for _ in range(repeat):
            script = PEAK + MEASURE.format(repo=str(REPO), out=out, runs=runs)
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
            took, peak = done.stdout.split()
            loads.append(float(took))
            peaks.append(int(peak))
        snapshot = os.path.getsize(os.path.join(cache.cache_dir(out), "manifest-snapshot.msgpack"))
        return {"load": statistics.median(loads), "peak": statistics.median(peaks), "snapshot": snapshot,
                "append": statistics.median(appends), "rewrite": statistics.median(rewrites)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", required=True, help="an output directory built by this sitegen")
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    template, reason = cache.load_manifest(args.site, __version__)
    if reason or not template.runs:
        parser.error(f"{args.site}: no manifest of this sitegen ({reason or 'no runs'})")
    done = subprocess.run([sys.executable, "-c", PEAK + BASELINE.format(repo=str(REPO))],
                          capture_output=True, text=True, check=True)
    constant = int(done.stdout)
    print(f"the interpreter with sitegen.cache imported: {constant / 2**20:.0f} MiB peak\n")
    print("| runs | snapshot | load (with a 20-frame log) | peak memory of the load | save one change: "
          "append a frame | whole manifest rewritten (format 8) |")
    print("|---|---|---|---|---|---|")
    for runs in args.runs:
        m = measure(template, runs, args.repeat)
        print(f"| {runs:,} | {m['snapshot'] / 2**20:.1f} MB | {m['load']:.3f} s "
              f"| {m['peak'] / 2**20:.0f} MiB | {m['append'] * 1000:.1f} ms | {m['rewrite']:.3f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
