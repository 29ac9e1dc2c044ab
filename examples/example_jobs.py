"""A bundled DataJuicer processing job (FORMATS.md §5): a partitioned run over 6 partitions
of 5 operations, both event writers interleaved in `events.jsonl`, one partition failed in the
deduplicator, a job summary with the resumption command, the execution plan and the logs."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

JOB_ID = "20250308_021500_5f3a9c"
STARTED = 1741400100.0  # 2025-03-08 02:15:00 UTC
OPS = ["clean_html_mapper", "whitespace_normalization_mapper", "text_length_filter",
       "language_id_score_filter", "document_minhash_deduplicator"]
KEEP = [1.0, 1.0, 0.86, 0.91, 0.78]  # share of rows each operation keeps
PARTITIONS = 6
FAILED_PARTITION, FAILED_OP = 4, 4
ERROR = "RuntimeError: ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory"


def job_files() -> tuple[dict[str, object], float]:
    """{relative path: text or JSON value} of the job dir, and the time of its last event."""
    rng = random.Random(7)
    settings = {"dataset_path": "data/cc-2025-08.jsonl", "executor_type": "ray_partitioned",
                "partition_size": 50000, "checkpoint_strategy": "every_op", "storage_format": "parquet",
                "compression": "snappy"}
    config = {"project_name": "cc-cleaning", "np": 8, "executor_type": "ray_partitioned",
              "checkpoint": {"enabled": True, "strategy": "every_op"}, "partition_size": 50000}
    events: list[dict] = [_event("job_start", STARTED, total_partitions=PARTITIONS, config=config,
                                 metadata={"total_partitions": PARTITIONS, "config_summary": settings})]
    log = [f"2025-03-08 02:15:00 | INFO | job {JOB_ID}: {PARTITIONS} partitions"]
    at = STARTED + 2.0
    for p in range(PARTITIONS):
        events.append(_processing("partition_creation_start", at, p, partition_id=p,
                                  total_partitions=PARTITIONS))
        events.append(_processing("partition_creation_complete", at + 1.5, p, sample_count=50000,
                                  file_size_bytes=61_000_000 + 1000 * p, duration_seconds=1.5))
        at += 2.0
    for p in range(PARTITIONS):
        start = STARTED + 15 + p * 4.0
        events.append(_event("partition_start", start, partition_id=p, metadata={"sample_count": 50000}))
        rows, t = 50000, start + 0.5
        for index, name in enumerate(OPS):
            common = {"partition_id": p, "operation_name": name, "operation_idx": index}
            events.append(_event("op_start", t, **common))
            took = round(rng.uniform(4, 9) * (2.5 if "dedup" in name else 1.0), 2)
            if (p, index) == (FAILED_PARTITION, FAILED_OP):
                events.append(_event("op_failed", t + took, **common, error_message=ERROR,
                                     metadata={"retry_count": 2, "error_type": "OutOfMemoryError"}))
                events.append(_event("partition_failed", t + took + 0.1, partition_id=p, error_message=ERROR))
                log.append(f"{_clock(t + took)} | ERROR | partition {p}, {name}: {ERROR}")
                break
            out = int(rows * KEEP[index] * rng.uniform(0.98, 1.0))
            events.append(_event("op_complete", t + took, **common, duration=took, input_rows=rows,
                                 output_rows=out, metadata={"duration_seconds": took, "input_rows": rows,
                                                            "output_rows": out}))
            events.append(_event("checkpoint_save", t + took + 0.3, **common,
                                 checkpoint_path=f"checkpoints/partition_{p:06d}/op_{index:03d}_{name}.parquet"))
            rows, t = out, t + took + 0.5
        else:
            events.append(_event("partition_complete", t, partition_id=p,
                                 metadata={"final_sample_count": rows}))
            log.append(f"{_clock(t)} | INFO | partition {p} done: {rows} rows kept")
    end = max(e["timestamp"] for e in events) + 1.0
    events.append(_event("job_failed", end, error_message=f"1 of {PARTITIONS} partitions failed",
                         metadata={"failure_time": end, "error_type": "PartitionFailure"}))
    events.sort(key=lambda e: e["timestamp"])
    work_dir = "./outputs/partition-checkpoint-eventlog"
    summary = {
        "job_id": JOB_ID, "start_time": STARTED, "work_dir": work_dir, "job_dir": f"{work_dir}/{JOB_ID}",
        "config_file": ["configs/demo/partition-checkpoint-eventlog.yaml"],
        "backed_up_config_path": f"{work_dir}/{JOB_ID}/partition-checkpoint-eventlog.yaml",
        "executor_type": "ray_partitioned", "status": "failed",
        "resumption_command": "dj-process --config "
                              f"[Path_fr(configs/demo/partition-checkpoint-eventlog.yaml)] --job_id {JOB_ID}",
        "event_log_file": f"{work_dir}/{JOB_ID}/events.jsonl", "event_log_dir": f"{work_dir}/{JOB_ID}/logs",
        "checkpoint_dir": f"{work_dir}/{JOB_ID}/checkpoints", "metadata_dir": f"{work_dir}/{JOB_ID}/metadata",
        "end_time": end, "duration": round(end - STARTED, 3),
        "error_message": f"1 of {PARTITIONS} partitions failed",
    }
    plan = {"nodes": {f"op_{i}": {"node_id": f"op_{i}", "op_name": name, "op_type": name.rsplit("_", 1)[-1],
                                  "config": {}, "dependencies": [f"op_{i - 1}"] if i else [],
                                  "dependents": [f"op_{i + 1}"] if i < len(OPS) - 1 else [],
                                  "execution_order": i, "estimated_duration": 0.0, "metadata": {}}
                      for i, name in enumerate(OPS)},
            "edges": [{"source": f"op_{i}", "target": f"op_{i + 1}"} for i in range(len(OPS) - 1)],
            "execution_plan": [f"op_{i}" for i in range(len(OPS))], "parallel_groups": [],
            "metadata": {"created_at": STARTED + 1, "total_nodes": len(OPS), "total_edges": len(OPS) - 1,
                         "parallel_groups_count": 0}}
    files: dict[str, object] = {
        "events.jsonl": "".join(json.dumps(e) + "\n" for e in events),
        "job_summary.json": summary,
        "dag_execution_plan.json": plan,
        "partition-checkpoint-eventlog.yaml": "project_name: cc-cleaning\nexecutor_type: ray_partitioned\n",
        "logs/log.txt": "\n".join(line for line in log if "ERROR" not in line) + "\n",
        "logs/log_ERROR.txt": "\n".join(line for line in log if "ERROR" in line) + "\n",
    }
    return files, end


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _event(kind: str, at: float, **fields: object) -> dict:
    """EventLogger's shape: None fields left out."""
    return {"event_type": kind, "timestamp": round(at, 3), "event_id": f"{kind}_{int(at)}",
            "job_id": JOB_ID, **fields}


def _processing(kind: str, at: float, partition: int, **metadata: object) -> dict:
    """The partitioned executor's own shape: every field, nulls included."""
    return {"event_id": f"{kind}_{partition}_{int(at)}", "event_type": kind, "timestamp": round(at, 3),
            "partition_id": partition, "operation_name": None, "operation_idx": None,
            "message": kind.replace("_", " "), "metadata": metadata, "error_details": None}


def write_job(out: Path, write, write_json) -> None:
    """Write the job under `out/dj-outputs/` with the example writer's helpers (fixed mtimes)."""
    files, end = job_files()
    job = out / "dj-outputs" / JOB_ID
    for rel, content in files.items():
        if isinstance(content, str):
            write(job / rel, content, end)
        else:
            write_json(job / rel, content, end)
    (job / "checkpoints").mkdir(exist_ok=True)
