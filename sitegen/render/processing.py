"""What a run page shows of a processing snapshot: progress bars, the partitions × operations
grid, the timeline (Gantt), rows in and out per operation, checkpoints, errors with links to
the log lines that tell them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sitegen.model import LogStream
from sitegen.render.figures import bar_chart, timeline_figure
from sitegen.snapshot import CHECKPOINTED, COMPLETED, FAILED, IN_PROGRESS, ProcessingSnapshot

MAX_GRID_ROWS = 500
MAX_TIMELINE_BARS = 5000
MAX_ERRORS = 50
STATUS_MARKS = {COMPLETED: "✓", CHECKPOINTED: "◆", FAILED: "✗", IN_PROGRESS: "…"}


Column = tuple[int | None, str]  # an operation: its index in the pipeline and its name


class Bar(NamedTuple):
    label: str
    percent: float
    detail: str


class GridRow(NamedTuple):
    partition: str
    status: str
    cells: list[str | None]  # an operation's status in this partition, None: not run


class OperationRow(NamedTuple):
    index: int | None
    name: str
    done: int
    failed: int
    partitions: int
    checkpointed: int
    rows_in: int | None
    rows_out: int | None
    seconds: float

    @property
    def removed_percent(self) -> float | None:
        if not self.rows_in or self.rows_out is None:
            return None
        return 100.0 * (self.rows_in - self.rows_out) / self.rows_in


class ErrorLine(NamedTuple):
    where: str
    message: str
    href: str | None  # the log line that shows it


class ProcessingView(NamedTuple):
    bars: list[Bar]
    columns: list[str]
    grid: list[GridRow]
    grid_hidden: int
    operations: list[OperationRow]
    errors: list[ErrorLine]
    figures: list[tuple[str, dict]]


def processing_view(snapshot: ProcessingSnapshot, logs: Sequence[tuple[LogStream, str | None]],
                    ) -> ProcessingView:
    """`logs`: the run's streams with their page URLs (relative to the run page; None: empty)."""
    columns = _columns(snapshot)
    operations = _operation_rows(snapshot, columns)
    figures = []
    if snapshot.operation_progress:
        figures.append(("Timeline: each operation on each partition", _timeline(snapshot)))
    if any(row.rows_in is not None for row in operations):
        names = [row.name for row in operations]
        figures.append(("Rows in and out per operation", bar_chart(names, {
            "rows in": [row.rows_in for row in operations], "rows out": [row.rows_out for row in operations]},
            "rows")))
    grid = _grid(snapshot, columns)
    return ProcessingView(
        bars=_bars(snapshot), columns=[name for _index, name in columns], grid=grid[:MAX_GRID_ROWS],
        grid_hidden=max(0, len(grid) - MAX_GRID_ROWS), operations=operations,
        errors=_errors(snapshot, logs), figures=figures,
    )


def _bars(snapshot: ProcessingSnapshot) -> list[Bar]:
    progress, summary = snapshot.overall_progress, snapshot.progress_summary
    checkpoints = snapshot.checkpointing.checkpoint_progress
    done = summary.completed_operations + summary.checkpointed_operations
    return [
        Bar("Overall", progress.overall_percentage, "mean of partitions and operations"),
        Bar("Partitions", progress.partition_percentage,
            f"{summary.completed_partitions} of {summary.total_partitions} completed, "
            f"{summary.failed_partitions} failed, {summary.in_progress_partitions} in progress"),
        Bar("Operations", progress.operation_percentage,
            f"{done} of {summary.total_operations} done, {summary.failed_operations} failed"),
        Bar("Checkpoints", checkpoints.percentage,
            f"{len(checkpoints.checkpointed_operations)} of {summary.total_operations} operations"),
    ]


def _columns(snapshot: ProcessingSnapshot) -> list[Column]:
    """The operations in pipeline order: (index, name) as the events name them."""
    seen = {(op.operation_idx, op.operation_name or "?") for op in snapshot.operation_progress.values()}
    return sorted(seen, key=lambda c: (c[0] is None, c[0] if c[0] is not None else 0, c[1]))


def _grid(snapshot: ProcessingSnapshot, columns: list[Column]) -> list[GridRow]:
    position = {column: i for i, column in enumerate(columns)}
    cells: dict[str, list[str | None]] = {}
    for key, op in snapshot.operation_progress.items():
        partition = _partition_of(key)
        row = cells.setdefault(partition, [None] * len(columns))
        row[position[(op.operation_idx, op.operation_name or "?")]] = op.status
    rows = [GridRow(pid, part.status, cells.pop(pid, [None] * len(columns)))
            for pid, part in snapshot.partition_progress.items()]
    rows += [GridRow(pid, IN_PROGRESS, row) for pid, row in cells.items()]  # ops of unnamed partitions
    return rows


def _operation_rows(snapshot: ProcessingSnapshot, columns: list[Column]) -> list[OperationRow]:
    rows = []
    for index, name in columns:
        ops = [op for op in snapshot.operation_progress.values()
               if op.operation_idx == index and (op.operation_name or "?") == name]
        rows_in = [op.input_rows for op in ops if op.input_rows is not None]
        rows_out = [op.output_rows for op in ops if op.output_rows is not None]
        rows.append(OperationRow(
            index=index, name=name, done=sum(op.status in (COMPLETED, CHECKPOINTED) for op in ops),
            failed=sum(op.status == FAILED for op in ops), partitions=len(ops),
            checkpointed=sum(op.status == CHECKPOINTED for op in ops),
            rows_in=sum(rows_in) if rows_in else None, rows_out=sum(rows_out) if rows_out else None,
            seconds=sum(op.duration or 0.0 for op in ops),
        ))
    return rows


def _timeline(snapshot: ProcessingSnapshot) -> dict:
    """One bar per operation run: partition on y, from its start to its end (or to the last
    thing the log knows, while it runs), one colour per operation."""
    origin = snapshot.job_start_time
    starts = [op.start_time for op in snapshot.operation_progress.values() if op.start_time is not None]
    if not starts:
        return timeline_figure([], "seconds")
    origin = origin if origin is not None else min(starts)
    known = [t for op in snapshot.operation_progress.values() for t in (op.start_time, op.end_time) if t]
    horizon = max([*known, snapshot.job_end_time or 0.0])
    bars = []
    for key, op in list(snapshot.operation_progress.items())[:MAX_TIMELINE_BARS]:
        if op.start_time is None:
            continue
        duration = max((op.end_time if op.end_time is not None else horizon) - op.start_time, 0.0)
        lane = "partition " + _partition_of(key)
        bars.append((op.operation_name or "?", lane, op.start_time - origin, duration, op.status))
    return timeline_figure(bars, "seconds from the job's start")


def _partition_of(operation_key: str) -> str:
    """The partition of DataJuicer's operation key `p{partition}_op{index}_{name}`."""
    return operation_key[1:].split("_op", 1)[0]


def _errors(snapshot: ProcessingSnapshot, logs: Sequence[tuple[LogStream, str | None]]) -> list[ErrorLine]:
    found = []
    if snapshot.job_info.error_message:
        found.append(("job", snapshot.job_info.error_message))
    found += [(f"partition {pid}", part.error_message)
              for pid, part in snapshot.partition_progress.items() if part.error_message]
    told = {message for _where, message in found}
    found += [(key, op.error_message) for key, op in snapshot.operation_progress.items()
              if op.error_message and op.error_message not in told]
    if snapshot.processing_summary is not None:
        told = {message for _where, message in found}
        found += [("processing summary", error) for error in snapshot.processing_summary.errors
                  if error not in told]
    return [ErrorLine(where, message, _log_line(message, logs)) for where, message in found[:MAX_ERRORS]]


def _log_line(message: str, logs: Sequence[tuple[LogStream, str | None]]) -> str | None:
    """The first log line that holds the message's first line (error logs first)."""
    needle = message.strip().splitlines()[0][:200] if message.strip() else ""
    if len(needle) < 8:
        return None
    for stream, url in sorted(logs, key=lambda item: item[0].kind != "err"):
        at = stream.text.find(needle)
        if at >= 0:
            return f"{url}#L{stream.text.count(chr(10), 0, at) + 1}"
    return None


def snapshot_text(snapshot: ProcessingSnapshot, warnings: Sequence[str] = ()) -> str:
    """A compact summary for a terminal (`sitegen snapshot --human-readable`)."""
    info, summary, timing = snapshot.job_info, snapshot.progress_summary, snapshot.timing
    checkpoints = snapshot.checkpointing
    lines = [f"Job {info.job_id}  {snapshot.overall_status.upper()}"
             + (f"  ({info.executor_type})" if info.executor_type else "")]
    if timing.start_time is not None:
        when = _utc(timing.start_time)
        took = f", took {timing.duration_formatted}" if timing.duration_formatted else ""
        lines.append(f"Started     {when}{took} (from {timing.timing_source})")
    done = summary.completed_operations + summary.checkpointed_operations
    lines += [
        f"Progress    {snapshot.overall_progress.overall_percentage:.1f} % overall",
        f"Partitions  {summary.completed_partitions} of {summary.total_partitions} completed, "
        f"{summary.failed_partitions} failed, {summary.in_progress_partitions} in progress",
        f"Operations  {done} of {summary.total_operations} done, {summary.failed_operations} failed",
        f"Checkpoints {len(checkpoints.checkpoint_progress.checkpointed_operations)} of "
        f"{summary.total_operations} operations"
        + (f", strategy {checkpoints.strategy}" if checkpoints.strategy else "")
        + (f", last at {_utc(checkpoints.last_checkpoint_time)}" if checkpoints.last_checkpoint_time else "")
        + ("; resumable" if checkpoints.resumable else "; not resumable"),
    ]
    if info.resumption_command:
        lines.append(f"Resume with {info.resumption_command}")
    errors = _errors(snapshot, [])
    if errors:
        lines.append("Errors")
        lines += [f"  {error.where}: {error.message.strip().splitlines()[0][:200]}" for error in errors[:10]]
        if len(errors) > 10:
            lines.append(f"  … {len(errors) - 10} more in the JSON output")
    lines += [f"warning: {warning}" for warning in warnings]
    return "\n".join(lines) + "\n"


def _utc(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
