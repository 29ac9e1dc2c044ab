"""The processing snapshot of a data-processing job, part of the model (`Run.snapshot`).

Its fields and their JSON names are those of DataJuicer's own snapshot command
(`data_juicer.utils.job.snapshot`), so that automation reading that JSON reads ours. Additions:
`metadata.event_types`; the overall status `partial` (the job ended, as DataJuicer's
`processing_complete` says, with some partitions failed; DataJuicer's analyser calls that
`in_progress`); and `processing_summary`, the job's `logs/processing_summary.json`, present only
when the job has one. How the values are computed is `sitegen.analysis.processing`. Times are
epoch seconds.
"""

from __future__ import annotations

from msgspec import Struct

NOT_STARTED, IN_PROGRESS, COMPLETED, FAILED, CHECKPOINTED, PARTIAL = (
    "not_started", "in_progress", "completed", "failed", "checkpointed", "partial")


class JobInfo(Struct, frozen=True):
    job_id: str
    executor_type: str | None = None
    status: str | None = None
    config_file: list[str] | str | None = None
    work_dir: str | None = None
    resumption_command: str | None = None
    error_message: str | None = None


class OverallProgress(Struct, frozen=True):
    overall_percentage: float
    partition_percentage: float
    operation_percentage: float


class Timing(Struct, frozen=True):
    start_time: float | None
    end_time: float | None
    duration_seconds: float | None
    duration_formatted: str | None
    job_summary_duration: float | None
    timing_source: str  # "job_summary" | "events"


class ProgressSummary(Struct, frozen=True):
    total_partitions: int
    completed_partitions: int
    failed_partitions: int
    in_progress_partitions: int
    partition_progress_percentage: float
    total_operations: int
    completed_operations: int
    failed_operations: int
    checkpointed_operations: int
    operation_progress_percentage: float


class CheckpointedOperation(Struct, frozen=True):
    operation_key: str
    operation_name: str
    checkpoint_time: float | None


class CheckpointProgress(Struct, frozen=True):
    percentage: float
    checkpointed_operations: list[CheckpointedOperation]
    checkpoint_coverage: float  # 0..1


class Checkpointing(Struct, frozen=True):
    strategy: str | None
    last_checkpoint_time: float | None
    checkpointed_operations_count: int
    resumable: bool
    checkpoint_progress: CheckpointProgress
    checkpoint_dir: str | None


class PartitionProgress(Struct, frozen=True):
    status: str
    sample_count: int | None
    creation_start_time: float | None
    creation_end_time: float | None
    processing_start_time: float | None
    processing_end_time: float | None
    current_operation: str | None
    completed_operations: list[str]
    failed_operations: list[str]
    checkpointed_operations: list[str]
    error_message: str | None
    progress_percentage: float


class OperationProgress(Struct, frozen=True):
    operation_name: str | None
    operation_idx: int | None
    status: str
    start_time: float | None
    end_time: float | None
    duration: float | None
    input_rows: int | None
    output_rows: int | None
    checkpoint_time: float | None
    error_message: str | None
    progress_percentage: float


class FilePaths(Struct, frozen=True):
    event_log_file: str | None = None
    event_log_dir: str | None = None
    checkpoint_dir: str | None = None
    metadata_dir: str | None = None
    backed_up_config_path: str | None = None


class SnapshotMetadata(Struct, frozen=True):
    snapshot_generated_at: str  # ISO time; on the site, when the event log was last written
    events_analyzed: int
    dag_plan_loaded: bool
    job_summary_loaded: bool
    job_summary_used: bool
    event_types: dict[str, int] = {}  # events read, by type as written (unknown types too)


class PartitionDetail(Struct, frozen=True):
    """One partition as `processing_summary.json` tells it."""

    partition_id: str
    status: str | None
    processing_time: float | None
    initial_sample_count: int | None
    final_sample_count: int | None
    error_message: str | None


class OperationPerformance(Struct, frozen=True):
    """One operation over all partitions as `processing_summary.json` tells it."""

    operation_name: str
    total_executions: int | None
    successful_executions: int | None
    failed_executions: int | None
    average_duration: float | None
    total_samples_processed: int | None
    total_samples_filtered: int | None


class ProcessingSummary(Struct, frozen=True):
    """The executor's own summary (`logs/processing_summary.json`, written by DataJuicer's
    partitioned executor of 2025-07 to 2025-09; later versions write none)."""

    start_time: float | None
    end_time: float | None
    total_processing_time: float | None
    counts: dict[str, float]  # total/completed/failed partitions and operations, samples, success_rate …
    errors: list[str]
    partition_details: list[PartitionDetail]
    operation_performance: list[OperationPerformance]
    resource_usage: dict[str, float]
    configuration: dict[str, object]


class ProcessingSnapshot(Struct, frozen=True, omit_defaults=True):
    job_info: JobInfo
    overall_status: str  # not_started, in_progress, completed, partial, failed
    overall_progress: OverallProgress
    job_start_time: float | None
    job_end_time: float | None
    total_duration: float | None
    timing: Timing
    progress_summary: ProgressSummary
    checkpointing: Checkpointing
    partition_progress: dict[str, PartitionProgress]  # by partition id
    operation_progress: dict[str, OperationProgress]  # by "p{partition}_op{index}_{name}"
    dag_structure: dict[str, object]  # {} without a plan
    file_paths: FilePaths
    metadata: SnapshotMetadata
    processing_summary: ProcessingSummary | None = None
