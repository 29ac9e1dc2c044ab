"""Events as DataJuicer's two writers append them to a job's event log (FORMATS.md §5.2), and
job dirs made of them: fixtures written from the schema, shared by the analysis and reader tests."""

from __future__ import annotations

import json
from pathlib import Path

T0 = 1754712053.0
OPS = ["clean_email_mapper", "text_length_filter", "document_deduplicator"]


def logger_event(kind: str, at: float, **fields: object) -> dict:
    """EventLogger.log_event: None fields omitted."""
    return {"event_type": kind, "timestamp": at, "event_id": f"{kind}_{int(at)}_ab12cd34",
            **{k: v for k, v in fields.items() if v is not None}}


def processing_event(kind: str, at: float, partition: int | None = None, **metadata: object) -> dict:
    """_log_processing_event: a fixed shape, nulls included."""
    return {"event_id": f"{kind}_{partition}_{int(at)}", "event_type": kind, "timestamp": at,
            "partition_id": partition, "operation_name": None, "operation_idx": None,
            "message": kind, "metadata": metadata or None, "error_details": None}


def op_events(partition: int, index: int, at: float, rows_in: int, rows_out: int,
              checkpoint: bool = True) -> list[dict]:
    name = OPS[index]
    common = dict(partition_id=partition, operation_name=name, operation_idx=index)
    events = [
        logger_event("op_start", at, **common, op_args={"min_len": 10},
                     metadata={"operation_idx": index, "start_time": at}),
        logger_event("op_complete", at + 2.0, **common, duration=2.0, input_rows=rows_in,
                     output_rows=rows_out, status="success",
                     metadata={"duration_seconds": 2.0, "input_rows": rows_in, "output_rows": rows_out}),
    ]
    if checkpoint:
        events.append(logger_event("checkpoint_save", at + 2.1, **common,
                                   checkpoint_path=f"/ckpt/p{partition}/op{index}.parquet"))
    return events


def finished_job(partitions: int = 2) -> list[dict]:
    events = [logger_event("job_start", T0, total_partitions=partitions, config={"np": 4},
                           metadata={"total_partitions": partitions, "config_summary": {
                               "executor_type": "ray_partitioned", "checkpoint_strategy": "every_op"}})]
    at = T0 + 1
    for p in range(partitions):
        events.append(processing_event("partition_creation_start", at, p, partition_id=p,
                                       total_partitions=partitions))
        events.append(processing_event("partition_creation_complete", at + 0.5, p, sample_count=1000))
        events.append(logger_event("partition_start", at + 1, partition_id=p))
        rows = 1000
        for index in range(3):
            events += op_events(p, index, at + 2 + 3 * index, rows, rows - 100)
            rows -= 100
        events.append(logger_event("partition_complete", at + 12, partition_id=p))
        at += 20
    events.append(logger_event("job_complete", at, metadata={"status": "completed"}))
    return events


def write_job(root: Path, name: str = "20250809_040053_a001de", events: list[dict] | None = None, *,
              summary: dict | None = None, plan: dict | None = None, logs: dict[str, str] | None = None,
              events_file: str = "events.jsonl", tail: str = "") -> Path:
    """A job dir: the event log (plus `tail`, e.g. a half-written line), and whichever of the
    summary, the plan and `logs/` files are given."""
    job = root / name
    job.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(event) for event in (finished_job() if events is None else events)]
    (job / events_file).write_text("".join(line + "\n" for line in lines) + tail)
    if summary is not None:
        (job / "job_summary.json").write_text(json.dumps(summary, indent=2))
    if plan is not None:
        (job / "dag_execution_plan.json").write_text(json.dumps(plan, indent=2))
    (job / "checkpoints").mkdir(exist_ok=True)
    for log_name, text in (logs or {}).items():
        (job / "logs").mkdir(exist_ok=True)
        (job / "logs" / log_name).write_text(text)
    return job
