"""Write serving-benchmark job dirs and nightly sessions for the build benchmarks, deterministically.

Job dirs follow FORMATS.md §1 (`{jobid}_{P}P_{D}D_{date}_{time}/` with a v1.0 `{jobid}.json`,
one vLLM result JSON per concurrency with per-request arrays, logs); sessions follow §3
(`nightly-run-<ts>/<entry>/` with params, metrics, results.json, logs, environment snapshots).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_TIME = 1_735_700_000  # 2025-01-01: far older than any racy-clean window
CONCURRENCIES = (64, 256, 1024)
REQUESTS_PER_RESULT = 256  # length of the per-request arrays in each result file
PACKAGES = [f"package-{i:03d}" for i in range(120)]


def _write(path: str, text: str, mtime: float) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.utime(path, (mtime, mtime))


def _stamp(moment: float, fmt: str) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime(fmt)


def generate_jobdirs(out: Path, count: int) -> None:
    for index in range(count):
        job_id = 3000 + index
        moment = BASE_TIME + index * 600
        prefill, decode = 1 + index % 2, 1 + index % 4
        name = f"{job_id}_{prefill}P_{decode}D_{_stamp(moment, '%Y%m%d_%H%M%S')}"
        job = out / "jobs" / name
        results = job / "vllm_isl_1024_osl_1024"
        results.mkdir(parents=True, exist_ok=True)
        mtime = moment + 3600
        meta = {
            "version": "1.0", "generated_at": _stamp(moment, "%Y-%m-%d %H:%M:%S"),
            "run_metadata": {
                "slurm_job_id": str(job_id), "run_date": _stamp(moment, "%Y%m%d_%H%M%S"),
                "job_name": "dynamo_setup", "container": "/c/lmsysorg+sglang+v0.5.4.post3-cu129.sqsh",
                "gpus_per_node": 4, "gpu_type": "gb200-fp8", "mode": "disaggregated",
                "prefill_nodes": prefill, "decode_nodes": decode * 2,
                "prefill_workers": prefill, "decode_workers": decode,
            },
            "profiler_metadata": {"type": "vllm", "isl": "1024", "osl": "1024",
                                  "concurrencies": "x".join(map(str, CONCURRENCIES)), "req-rate": "inf"},
        }
        _write(str(job / f"{job_id}.json"), json.dumps(meta, indent=2), mtime)
        rng = random.Random(index)
        for concurrency in CONCURRENCIES:
            file = results / f"isl_1024_osl_1024_concurrency_{concurrency}_req_rate_inf_ctx1_gen1.json"
            _write(str(file), json.dumps(_vllm_result(rng, concurrency, prefill + decode)), mtime)
        _write(str(job / "log.out"), f"job {job_id} started\n" * 20, mtime)
        _write(str(job / "log.err"), "CONTAINER_IMAGE=/c/lmsysorg+sglang+v0.5.4.post3-cu129.sqsh\n", mtime)


def _vllm_result(rng: random.Random, concurrency: int, workers: int) -> dict:
    throughput = 40.0 * concurrency ** 0.8 * workers * rng.uniform(0.95, 1.05)
    ttfts = [rng.lognormvariate(-3, 0.5) for _ in range(REQUESTS_PER_RESULT)]
    result = {
        "date": "20250101-000000", "backend": "dynamo", "model_id": "deepseek-ai/DeepSeek-R1",
        "request_rate": "inf", "burstiness": 1.0, "max_concurrency": concurrency,
        "duration": 120.0, "completed": REQUESTS_PER_RESULT, "total_input_tokens": 1024 * REQUESTS_PER_RESULT,
        "total_output_tokens": 1024 * REQUESTS_PER_RESULT, "request_throughput": throughput / 1024,
        "request_goodput:": None, "output_throughput": throughput, "total_token_throughput": 2 * throughput,
        "input_lens": [1024] * REQUESTS_PER_RESULT, "output_lens": [1024] * REQUESTS_PER_RESULT,
        "ttfts": ttfts, "itls": [[rng.uniform(0.005, 0.02) for _ in range(8)] for _ in ttfts],
        "generated_texts": ["lorem ipsum " * 8] * REQUESTS_PER_RESULT, "errors": [""] * REQUESTS_PER_RESULT,
    }
    for metric, scale in (("ttft", 80.0), ("tpot", 8.0), ("itl", 8.0), ("e2el", 9000.0)):
        value = scale * (1 + concurrency / 512) * rng.uniform(0.9, 1.1)
        result.update({f"mean_{metric}_ms": value, f"median_{metric}_ms": value * 0.95,
                       f"std_{metric}_ms": value * 0.2, f"p99_{metric}_ms": value * 2.1})
    return result


def generate_sessions(out: Path, sessions: int, entries: int) -> None:
    for s in range(sessions):
        write_session(out, s, entries)


def write_session(out: Path, session: int, entries: int) -> tuple[Path, list[dict[str, float]]]:
    """Night `session` (one day apart from the last): its directory and each entry's metrics."""
    moment = BASE_TIME + session * 86_400
    directory = out / "nightly" / f"nightly-run-{_stamp(moment, '%Y%m%d-%H%M%S')}"
    width = max(2, len(str(entries - 1)))
    metrics = [_write_entry(directory / f"entry_{e:0{width}d}", session, e, moment) for e in range(entries)]
    return directory, metrics


def _write_entry(entry: Path, session: int, index: int, moment: float) -> dict[str, float]:
    for sub in ("benchmark_results", "logs", "artifacts"):
        (entry / sub).mkdir(parents=True, exist_ok=True)
    rng = random.Random(session * 1000 + index)
    mtime = moment + 7200
    ok = rng.random() > 0.05
    params = {"executor": "ray_data", "input_path": f"/data/set-{index}", "files_per_partition": 8}
    metrics = {"is_success": ok, "time_taken": 300 * rng.uniform(0.97, 1.03), "num_output_tasks": 64}
    for stage in ("read", "dedup", "write"):
        for metric in ("process_time", "num_items_processed"):
            for agg, value in (("sum", 100.0), ("mean", 10.0), ("std", 1.0)):
                metrics[f"{stage}_{metric}_{agg}"] = value * rng.uniform(0.9, 1.1)
    results = {
        "run": {"name": entry.name, "cmd": f"python bench.py --entry {index}", "started_at": moment,
                "ended_at": moment + metrics["time_taken"], "logs_dir": str(entry / "logs")},
        "ray": {"address": "127.0.0.1:6379", "num_cpus": 8, "num_gpus": 0, "enable_object_spilling": False},
        "env": {"hostname": "node-1", "ray_version": "2.9.0", "git_commit": "abc123",
                "image_digest": "unknown"},
        "script_params_metrics": {"params": params, "metrics": metrics},
    }
    _write(str(entry / "benchmark_results" / "params.json"), json.dumps(params), mtime)
    _write(str(entry / "benchmark_results" / "metrics.json"), json.dumps(metrics), mtime)
    _write(str(entry / "results.json"), json.dumps(results), mtime)
    _write(str(entry / "logs" / "stdout.log"), "processing\n" * 50, mtime)
    stderr = "" if ok else "Traceback (most recent call last):\nOSError: disk full\n"
    _write(str(entry / "logs" / "stderr.log"), stderr, mtime)
    versions = "\n".join(f"{p}==1.{(session // 10 + i) % 7}.0" for i, p in enumerate(PACKAGES))
    _write(str(entry / "artifacts" / "pip-freeze.txt"), versions + "\n", mtime)
    _write(str(entry / "artifacts" / "sys-env.json"),
           json.dumps({"python": "3.11.7", "platform": "Linux", "executable": "/usr/bin/python3",
                       "cuda_visible_devices": ""}), mtime)
    return metrics


def generate_processing_jobs(out: Path, count: int, partitions: int = 8, ops: int = 6) -> None:
    """DataJuicer job dirs: an event log of `partitions` × `ops` operations, a summary, a log."""
    for j in range(count):
        moment = BASE_TIME + j * 3600
        job = out / "dj" / f"{_stamp(moment, '%Y%m%d_%H%M%S')}_{j:06x}"
        lines = [{"event_type": "job_start", "timestamp": moment, "total_partitions": partitions}]
        for p in range(partitions):
            lines.append({"event_type": "partition_start", "timestamp": moment + p, "partition_id": p})
            for i in range(ops):
                common = {"partition_id": p, "operation_name": f"op_{i}_filter", "operation_idx": i}
                at = moment + p + i * 0.1
                lines += [{"event_type": "op_start", "timestamp": at, **common},
                          {"event_type": "op_complete", "timestamp": at + 0.05, **common,
                           "metadata": {"input_rows": 1000 - i, "output_rows": 999 - i}},
                          {"event_type": "checkpoint_save", "timestamp": at + 0.06, **common}]
            lines.append({"event_type": "partition_complete", "timestamp": moment + p + 1, "partition_id": p})
        lines.append({"event_type": "job_complete", "timestamp": moment + partitions + 1})
        mtime = moment + partitions + 2
        (job / "logs").mkdir(parents=True, exist_ok=True)
        _write(str(job / "events.jsonl"), "".join(json.dumps(line) + "\n" for line in lines), mtime)
        summary = {"job_id": job.name, "start_time": moment, "end_time": mtime, "duration": mtime - moment,
                   "status": "completed", "executor_type": "ray_partitioned",
                   "resumption_command": f"dj-process --config cfg.yaml --job_id {job.name}"}
        _write(str(job / "job_summary.json"), json.dumps(summary), mtime)
        _write(str(job / "logs" / "log.txt"), "INFO processing\n" * 20, mtime)


def generate(out: Path, jobdirs: int, sessions: int, entries: int, processing_jobs: int = 0) -> None:
    generate_jobdirs(out, jobdirs)
    generate_sessions(out, sessions, entries)
    generate_processing_jobs(out, processing_jobs)
    for dirpath, _dirs, _files in os.walk(out):  # directories too: nothing is recent
        os.utime(dirpath, (BASE_TIME, BASE_TIME))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="directory to write into (jobs/ and nightly/ below it)")
    parser.add_argument("--jobdirs", type=int, default=1000, help="job dirs (default: %(default)s)")
    parser.add_argument("--sessions", type=int, default=30, help="nightly sessions (default: %(default)s)")
    parser.add_argument("--entries", type=int, default=20, help="entries per session (default: %(default)s)")
    parser.add_argument("--processing-jobs", type=int, default=100,
                        help="DataJuicer jobs (default: %(default)s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    generate(args.out, args.jobdirs, args.sessions, args.entries, args.processing_jobs)
    print(f"wrote {args.jobdirs} job dirs, {args.processing_jobs} processing jobs and "
          f"{args.sessions}×{args.entries} session entries "
          f"to {args.out} in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
