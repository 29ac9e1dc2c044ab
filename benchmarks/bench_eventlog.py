"""Measure reading one DataJuicer job whose event log holds N events: the time and the peak
memory of a fresh process running the eventlog reader, and of `sitegen snapshot`. Prints a
Markdown table; never asserts.

    .venv/bin/python benchmarks/bench_eventlog.py --events 1000000

The job: 30 operations per partition, each with op_start, op_complete and checkpoint_save, the
partitions' own events, both writers' shapes interleaved; as many partitions as N needs. A
second, 4× smaller log of the same shape shows how memory grows with the log.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OPS = 30
EVENTS_PER_PARTITION = 4 + 3 * OPS  # creation start/complete, start, complete + 3 per op
READ = """
import resource, sys, time
start = time.perf_counter()
from sitegen.readers import eventlog
from sitegen.readers.base import ReadContext
run = eventlog.read(sys.argv[1], "job", ReadContext(root=sys.argv[2], allowed=()))
took = time.perf_counter() - start
assert run.problem is None, run.problem
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, run.snapshot.metadata.events_analyzed)
"""


def write_job(job: Path, events: int) -> int:
    """A finished job of about `events` events; returns how many were written."""
    partitions = max(1, events // EVENTS_PER_PARTITION)
    job.mkdir(parents=True, exist_ok=True)
    written = 0
    t = 1_754_712_053.0
    with open(job / "events.jsonl", "w") as out:
        def emit(event: dict) -> None:
            nonlocal written
            out.write(json.dumps(event) + "\n")
            written += 1

        settings = {"executor_type": "ray_partitioned", "checkpoint_strategy": "every_op"}
        emit({"event_type": "job_start", "timestamp": t, "total_partitions": partitions,
              "metadata": {"total_partitions": partitions, "config_summary": settings}})
        for p in range(partitions):
            emit({"event_id": f"c{p}", "event_type": "partition_creation_start", "timestamp": t,
                  "partition_id": p, "operation_name": None, "operation_idx": None, "message": "",
                  "metadata": {}, "error_details": None})
            emit({"event_id": f"d{p}", "event_type": "partition_creation_complete", "timestamp": t + 0.1,
                  "partition_id": p, "operation_name": None, "operation_idx": None, "message": "",
                  "metadata": {"sample_count": 10000}, "error_details": None})
            emit({"event_type": "partition_start", "timestamp": t + 0.2, "partition_id": p})
            rows = 10000
            for i in range(OPS):
                common = {"partition_id": p, "operation_name": f"op_{i:02d}_mapper", "operation_idx": i}
                emit({"event_type": "op_start", "timestamp": t + i, **common})
                emit({"event_type": "op_complete", "timestamp": t + i + 0.9, **common, "duration": 0.9,
                      "metadata": {"input_rows": rows, "output_rows": rows - 10}})
                emit({"event_type": "checkpoint_save", "timestamp": t + i + 0.95, **common,
                      "checkpoint_path": f"/ckpt/p{p}/op{i}.parquet"})
                rows -= 10
            emit({"event_type": "partition_complete", "timestamp": t + OPS, "partition_id": p})
            t += 1
        emit({"event_type": "job_complete", "timestamp": t + OPS, "metadata": {"status": "completed"}})
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=REPO / "bench-out" / "eventlog")
    args = parser.parse_args()
    rows = []
    for events in (args.events // 4, args.events):
        job = args.dir / f"{events}" / "20250809_040053_a001de"
        stamp = job / ".written"
        if not stamp.exists():
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(str(write_job(job, events)))
        written = int(stamp.read_text())
        size = (job / "events.jsonl").stat().st_size
        reads = [_read_once(job) for _ in range(args.repeat)]
        took = statistics.median(r[0] for r in reads)
        peak = max(r[1] for r in reads)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sitegen", "snapshot", str(job)], check=True,
                       stdout=subprocess.DEVNULL, cwd=REPO)
        snapshot_s = time.perf_counter() - start
        rows.append((written, size, took, peak, snapshot_s))
    print(f"DataJuicer job, {OPS} operations per partition; median of {args.repeat}\n")
    print("| events | log size | read (eventlog reader) | events / s | peak memory | `sitegen snapshot` |")
    print("|---|---|---|---|---|---|")
    for written, size, took, peak, snapshot_s in rows:
        print(f"| {written:,} | {size / 2**20:.0f} MiB | {took:.2f} s | {written / took:,.0f} | "
              f"{peak / 2**20:.0f} MiB | {snapshot_s:.2f} s |")


def _read_once(job: Path) -> tuple[float, int]:
    done = subprocess.run([sys.executable, "-c", READ, str(job), str(job.parent)], capture_output=True,
                          text=True, check=True, cwd=REPO)
    took, peak, _events = done.stdout.split()
    return float(took), int(peak)


if __name__ == "__main__":
    main()
