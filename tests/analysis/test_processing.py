"""The processing snapshot from events written the ways DataJuicer's writers write them (FORMATS.md §5)."""

from __future__ import annotations

import pytest
from job_events import OPS, T0, finished_job, logger_event, processing_event

from sitegen.analysis.dag_plan import plan_operations
from sitegen.analysis.processing import SnapshotBuilder, human_duration


def snapshot_of(events: list[dict], summary: dict | None = None, plan: dict | None = None, **sources: str):
    builder = SnapshotBuilder()
    for event in events:
        builder.add(event, sources.get("source", "events.jsonl"))
    return builder.finish("20250809_040053_a001de", summary, plan, "2025-08-09T04:10:00+00:00"), builder


def test_a_finished_job_from_both_writers_interleaved():
    snap, builder = snapshot_of(finished_job())
    assert snap.overall_status == "completed" and snap.job_info.status == "completed"
    assert snap.job_info.executor_type == "ray_partitioned" and snap.checkpointing.strategy == "every_op"
    assert snap.progress_summary.total_partitions == 2 and snap.progress_summary.completed_partitions == 2
    assert snap.progress_summary.total_operations == 6 and snap.progress_summary.checkpointed_operations == 6
    assert snap.overall_progress.overall_percentage == 100.0
    assert snap.checkpointing.resumable and snap.checkpointing.checkpoint_progress.checkpoint_coverage == 1.0
    part = snap.partition_progress["0"]
    assert part.sample_count == 1000
    assert (part.creation_start_time, part.creation_end_time) == (T0 + 1, T0 + 1.5)
    assert part.completed_operations == OPS and part.checkpointed_operations == OPS
    op = snap.operation_progress["p1_op2_document_deduplicator"]
    assert (op.input_rows, op.output_rows, op.duration, op.status) == (800, 700, 2.0, "checkpointed")
    assert list(snap.operation_progress)[:3] == [f"p0_op{i}_{name}" for i, name in enumerate(OPS)]
    assert snap.timing.timing_source == "events" and snap.total_duration == 41.0
    assert snap.timing.duration_formatted == "41s"
    assert snap.metadata.events_analyzed == len(finished_job()) and not snap.metadata.job_summary_loaded
    assert snap.metadata.event_types["op_start"] == 6
    assert builder.warnings() == []


def test_the_job_summary_gives_timing_and_job_info():
    summary = {"job_id": "x", "start_time": T0 - 5, "end_time": T0 + 100, "duration": 105.0,
               "status": "completed", "executor_type": "ray_partitioned",
               "resumption_command": "dj-process --config cfg.yaml --job_id 20250809_040053_a001de",
               "config_file": ["configs/demo/partition-checkpoint-eventlog.yaml"], "work_dir": "/out",
               "checkpoint_dir": "/out/ckpt", "event_log_file": "/out/events.jsonl"}
    snap, _ = snapshot_of(finished_job(), summary)
    assert snap.timing.timing_source == "job_summary" and snap.job_start_time == T0 - 5
    assert snap.total_duration == 105.0 and snap.timing.duration_formatted == "1m 45s"
    assert snap.job_info.resumption_command.startswith("dj-process") and snap.job_info.work_dir == "/out"
    assert snap.checkpointing.checkpoint_dir == "/out/ckpt"
    assert snap.file_paths.event_log_file == "/out/events.jsonl"
    assert snap.metadata.job_summary_loaded and snap.metadata.job_summary_used


def test_a_running_job_shows_its_progress_so_far():
    events = finished_job(partitions=4)
    cut = next(i for i, e in enumerate(events) if e["event_type"] == "op_start" and e["partition_id"] == 2)
    snap, _ = snapshot_of(events[:cut + 1])
    assert snap.overall_status == "in_progress" and snap.job_end_time is None
    assert snap.progress_summary.total_partitions == 4  # announced by job_start
    assert snap.progress_summary.completed_partitions == 2
    assert snap.progress_summary.total_operations == 12  # 3 per partition, planned or not yet seen
    assert snap.overall_progress.partition_percentage == 50.0
    assert snap.overall_progress.operation_percentage == 50.0
    running = snap.partition_progress["2"]
    assert running.status == "in_progress" and running.current_operation == OPS[0]
    assert running.progress_percentage == 0.0
    assert snap.operation_progress[f"p2_op0_{OPS[0]}"].status == "in_progress"


def test_a_failed_operation_fails_its_partition_and_an_ended_job_is_partial():
    events = finished_job()
    failed = logger_event("op_failed", T0 + 30, partition_id=1, operation_name=OPS[1], operation_idx=1,
                          error_message="ValueError: bad sample 2501", metadata={"retry_count": 0})
    events = [e for e in events if not (e.get("partition_id") == 1 and (
        e["event_type"] == "partition_complete"
        or (e["event_type"] in ("op_complete", "checkpoint_save") and e["operation_idx"] >= 1)))]
    events.insert(-1, failed)
    snap, _ = snapshot_of(events)
    assert snap.overall_status == "partial"  # ended, as DataJuicer says, with partition 0 of 2 done
    part = snap.partition_progress["1"]
    assert part.status == "failed" and part.error_message == "ValueError: bad sample 2501"
    assert part.failed_operations == [OPS[1]]
    assert snap.operation_progress[f"p1_op1_{OPS[1]}"].error_message == "ValueError: bad sample 2501"
    assert snap.progress_summary.failed_operations == 1


def test_a_job_failed_event_and_its_error():
    failed = logger_event("job_failed", T0 + 9, error_message="OOM", error_type="MemoryError")
    events = [*finished_job()[:5], failed]
    snap, _ = snapshot_of(events)
    assert snap.overall_status == "failed" and snap.job_info.error_message == "OOM"


def test_state_follows_the_latest_event_whatever_the_line_order():
    events = finished_job(partitions=1)
    shuffled = list(reversed(events))
    snap, builder = snapshot_of(shuffled)
    ordered, _ = snapshot_of(events)
    assert snap.partition_progress == ordered.partition_progress
    assert snap.operation_progress == ordered.operation_progress
    assert snap.overall_status == "completed"
    assert "older than the line before them" in builder.warnings()[0]


def test_a_retried_operation_ends_completed():
    start = logger_event("op_start", T0, partition_id=0, operation_name="m", operation_idx=0)
    failed = logger_event("op_failed", T0 + 1, partition_id=0, operation_name="m", operation_idx=0,
                          error_message="transient")
    again = logger_event("op_start", T0 + 2, partition_id=0, operation_name="m", operation_idx=0)
    done = logger_event("op_complete", T0 + 3, partition_id=0, operation_name="m", operation_idx=0)
    snap, _ = snapshot_of([start, failed, again, done])
    assert snap.operation_progress["p0_op0_m"].status == "completed"


def test_the_demo_vocabulary_is_read_through_aliases():
    events = [
        processing_event("processing_start", T0, executor_type="ray_partitioned"),
        processing_event("partition_start", T0 + 1, 0, sample_count=10000),
        {**processing_event("operation_start", T0 + 2, 0), "operation_name": "text_length_filter",
         "operation_idx": 0},
        {**processing_event("operation_complete", T0 + 3, 0, samples_processed=10000, samples_filtered=1250),
         "operation_name": "text_length_filter", "operation_idx": 0},
        {**processing_event("operation_checkpoint", T0 + 3.1, 0), "operation_name": "text_length_filter",
         "operation_idx": 0},
        {**processing_event("partition_failed", T0 + 4, 1), "error_details": "ValueError: x"},
        processing_event("processing_complete", T0 + 5, total_partitions=2),
    ]
    snap, builder = snapshot_of(events)
    op = snap.operation_progress["p0_op0_text_length_filter"]
    assert (op.status, op.input_rows, op.output_rows) == ("checkpointed", 10000, 8750)
    assert snap.partition_progress["1"].error_message == "ValueError: x"
    assert snap.overall_status == "failed" and snap.job_end_time == T0 + 5
    assert snap.job_info.executor_type == "ray_partitioned" and builder.warnings() == []


def test_unknown_events_and_bad_values_are_counted_never_fatal():
    events = [
        {"event_type": "gpu_telemetry", "timestamp": T0, "metadata": {"util": 0.9}},
        {"event_type": "op_start", "timestamp": "yesterday", "partition_id": {"a": 1}, "operation_idx": "x"},
        {"event_type": None},
        {"event_type": "op_complete", "timestamp": float("nan"), "partition_id": 3, "operation_name": ["x"],
         "metadata": "not a dict", "input_rows": -5, "output_rows": True},
        {"event_type": "partition_start", "timestamp": T0 + 1, "partition_id": "7"},
        {"event_type": "job_start", "timestamp": T0, "metadata": {"total_partitions": "many"}},
    ]
    snap, builder = snapshot_of(events)
    assert snap.metadata.event_types["gpu_telemetry"] == 1
    assert snap.metadata.event_types["(no event_type)"] == 1
    warnings = builder.warnings()
    assert "gpu_telemetry (1)" in warnings[0] and "(no event_type) (1)" in warnings[0]
    assert any("no valid timestamp" in w for w in warnings)
    assert "7" in snap.partition_progress and snap.overall_status == "in_progress"
    op = snap.operation_progress["p3_opNone_None"]
    assert op.input_rows is None and op.output_rows is None


def test_no_events_at_all():
    snap, _ = snapshot_of([])
    assert snap.overall_status == "not_started"
    assert snap.progress_summary.partition_progress_percentage == 100.0
    assert snap.partition_progress == {} and snap.dag_structure == {}


def test_the_plan_gives_the_operations_per_partition():
    plan = {"nodes": {f"n{i}": {"node_id": f"n{i}", "op_name": name, "execution_order": i}
                      for i, name in reversed(list(enumerate([*OPS, "extra_op"])))},
            "edges": [{"a": 1}], "execution_plan": ["n0", "n1"], "parallel_groups": [],
            "metadata": {"total_nodes": 4}}
    assert plan_operations(plan) == [*OPS, "extra_op"]
    snap, _ = snapshot_of(finished_job(partitions=1)[:6], plan=plan)
    assert snap.progress_summary.total_operations == 4
    assert snap.dag_structure == {"total_nodes": 4, "total_edges": 1, "parallel_groups": 0,
                                  "execution_plan": ["n0", "n1"], "metadata": {"total_nodes": 4}}
    assert snap.metadata.dag_plan_loaded


@pytest.mark.parametrize(("plan", "names"), [
    ({"process": [{"clean_email_mapper": {}}, {"text_length_filter": {"min_len": 10}}]},
     ["clean_email_mapper", "text_length_filter"]),
    ({"operations": [{"name": "a"}, {"type": "b"}, "c"]}, ["a", "b", "c"]),
    ({"nodes": "garbage"}, []),
])
def test_plan_operations_in_other_shapes(plan, names):
    assert plan_operations(plan) == names


@pytest.mark.parametrize(("seconds", "text"), [(45.9, "45s"), (271, "4m 31s"), (3661, "1h 1m 1s"), (0, "0s")])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text
