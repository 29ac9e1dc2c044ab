"""The executor's own summary of a job, `logs/processing_summary.json`, as a `ProcessingSummary`.

DataJuicer's partitioned executor wrote it from 2025-07 to 2025-09 (`_finalize_event_summary`:
start and end times, partition, operation and checkpoint counts, `errors[]`); its demo shows the
richer shape with `partition_details[]`, `operation_performance{}`, `resource_usage{}` and
`configuration{}`. Released versions (1.5, 1.6) write none. Pure; nothing in it is trusted.
"""

from __future__ import annotations

from sitegen.numbers import epoch_seconds, finite_number
from sitegen.snapshot import OperationPerformance, PartitionDetail, ProcessingSummary

MAX_ITEMS = 1000  # partitions, operations, errors kept for the page
MAX_TEXT = 2000
COUNTS = ("total_partitions", "completed_partitions", "failed_partitions", "total_operations",
          "completed_operations", "failed_operations", "checkpoints_created", "total_samples_processed",
          "total_samples_output", "success_rate")


def processing_summary(data: dict) -> ProcessingSummary:
    details = data.get("partition_details")
    performance = data.get("operation_performance")
    return ProcessingSummary(
        start_time=epoch_seconds(data.get("start_time")),
        end_time=epoch_seconds(data.get("end_time")),
        total_processing_time=_seconds(data.get("total_processing_time")),
        counts={name: number for name in COUNTS if (number := finite_number(data.get(name))) is not None},
        errors=[text for error in _list(data.get("errors")) if (text := _error(error))],
        partition_details=[_partition(d) for d in _list(details) if isinstance(d, dict)],
        operation_performance=[_operation(str(name)[:200], op) for name, op in
                               list(performance.items())[:MAX_ITEMS] if isinstance(op, dict)]
        if isinstance(performance, dict) else [],
        resource_usage=_numbers(data.get("resource_usage")),
        configuration=_scalars(data.get("configuration")),
    )


def _partition(detail: dict) -> PartitionDetail:
    return PartitionDetail(
        partition_id=str(detail.get("partition_id"))[:100],
        status=_text(detail.get("status")),
        processing_time=_seconds(detail.get("processing_time")),
        initial_sample_count=_count(detail.get("initial_sample_count")),
        final_sample_count=_count(detail.get("final_sample_count")),
        error_message=_text(detail.get("error_message") or detail.get("error")),
    )


def _operation(name: str, op: dict) -> OperationPerformance:
    return OperationPerformance(
        operation_name=name,
        total_executions=_count(op.get("total_executions")),
        successful_executions=_count(op.get("successful_executions")),
        failed_executions=_count(op.get("failed_executions")),
        average_duration=_seconds(op.get("average_duration")),
        total_samples_processed=_count(op.get("total_samples_processed")),
        total_samples_filtered=_count(op.get("total_samples_filtered")),
    )


def _error(error: object) -> str | None:
    """`error_details` says what went wrong, `message` where; the writer of 2025-07 gives only the latter."""
    if not isinstance(error, dict):
        return _text(error)
    details, message = _text(error.get("error_details")), _text(error.get("message"))
    return details or message


def _list(value: object) -> list:
    return value[:MAX_ITEMS] if isinstance(value, list) else []


def _numbers(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    pairs = list(value.items())[:MAX_ITEMS]
    return {str(k)[:200]: n for k, v in pairs if (n := finite_number(v)) is not None}


def _scalars(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        return {}
    pairs = list(value.items())[:MAX_ITEMS]
    return {str(k)[:200]: _scalar(v) for k, v in pairs if not isinstance(v, (dict, list))}


def _scalar(value: object) -> object:
    """Booleans, finite numbers that a cache can hold, and text; anything else as its text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    if isinstance(value, float) and finite_number(value) is not None:
        return value
    return str(value)[:MAX_TEXT]


def _seconds(value: object) -> float | None:
    number = finite_number(value)
    return number if number is not None and number >= 0 else None


def _count(value: object) -> int | None:
    number = finite_number(value)
    return int(number) if number is not None and 0 <= number < 2**63 else None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] if text else None
