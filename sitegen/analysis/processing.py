"""The processing snapshot of a job (`sitegen.snapshot`) from its events, summary and plan.

Pure: the reader streams events into `SnapshotBuilder.add` one at a time, so a log of
millions of events takes memory bounded by the job's partitions and operations.

What it reads, where DataJuicer's writers disagree (FORMATS.md §5):
- three vocabularies for one concept, mapped by `ALIASES` (`operation_complete` → `op_complete`);
- nulls written or omitted; rows, errors and times at the top level or in `metadata`;
- events out of order: the state of a partition or an operation is that of its latest event
  by timestamp, whatever order the lines come in.

Where DataJuicer's own analyser is wrong, this one keeps its JSON but not its mistakes:
partitions are known from any event naming them (not only `partition_creation_start`, which
the newer writer puts in another file); a partition's progress is its share of the plan's
operations (DataJuicer assumes 8); an operation in progress is 0 % (DataJuicer guesses from the
clock, assuming operations take one second); checkpointed operations count as done in the
operation percentage; totals count the partitions announced and the operations planned, not only
those already seen; a job that ended with some partitions failed is `partial` (DataJuicer: in
progress), with all of them `failed`; the resumption command is one a shell takes
(`sitegen.analysis.resumption`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sitegen.analysis.dag_plan import dag_structure, plan_operations, sort_key
from sitegen.analysis.resumption import resumption_command
from sitegen.numbers import epoch_seconds, finite_number
from sitegen.snapshot import (
    CHECKPOINTED,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    NOT_STARTED,
    PARTIAL,
    CheckpointedOperation,
    Checkpointing,
    CheckpointProgress,
    FilePaths,
    JobInfo,
    OperationProgress,
    OverallProgress,
    PartitionProgress,
    ProcessingSnapshot,
    ProcessingSummary,
    ProgressSummary,
    SnapshotMetadata,
    Timing,
)

ALIASES = {
    "operation_start": "op_start",
    "operation_complete": "op_complete",
    "operation_error": "op_failed",
    "operation_failed": "op_failed",
    "operation_checkpoint": "checkpoint_save",
    "processing_start": "job_start",
    "processing_complete": "job_complete",
    "processing_error": "job_failed",
}
KNOWN = frozenset({
    "job_start", "job_complete", "job_failed", "job_restart",
    "partition_start", "partition_complete", "partition_failed", "partition_resume",
    "partition_creation_start", "partition_creation_complete",
    "op_start", "op_complete", "op_failed", "checkpoint_save", "checkpoint_load",
    "dag_build_start", "dag_build_complete", "dag_node_ready", "dag_node_start", "dag_node_complete",
    "dag_node_failed", "dag_parallel_group_start", "dag_parallel_group_complete",
    "dag_execution_plan_saved", "dag_execution_plan_loaded",
}) | frozenset(ALIASES)
MAX_MESSAGE = 2000
# DataJuicer 1.5+ stamps an event before taking the log's lock: the threads that run partitions
# side by side write lines a fraction of a second out of order, which is no fault of the log
THREAD_RACE_S = 1.0


@dataclass(slots=True)
class _Latest:
    """A status that the latest event by timestamp decides (ties: the later line)."""

    status: str | None = None
    at: float = -math.inf

    def set(self, status: str, at: float | None) -> None:
        at = -math.inf if at is None else at
        if at >= self.at:
            self.status, self.at = status, at


@dataclass(slots=True)
class _Operation:
    partition: object
    index: int | None
    name: str | None
    outcome: _Latest = field(default_factory=_Latest)
    start: float | None = None
    end: float | None = None
    duration: float | None = None
    input_rows: int | None = None
    output_rows: int | None = None
    checkpoint_time: float | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.outcome.status == FAILED:
            return FAILED
        if self.checkpoint_time is not None:
            return CHECKPOINTED
        return self.outcome.status or IN_PROGRESS

    @property
    def done(self) -> bool:
        return self.status in (COMPLETED, CHECKPOINTED)


@dataclass(slots=True)
class _Partition:
    explicit: _Latest = field(default_factory=_Latest)
    sample_count: int | None = None
    creation_start: float | None = None
    creation_end: float | None = None
    processing_start: float | None = None
    processing_end: float | None = None
    error: str | None = None


class SnapshotBuilder:
    """Folds a job's events, one at a time, into what the snapshot needs.

    `pipeline`: the operation names of the job's plan, in order. DataJuicer 1.5+ numbers
    `op_start`/`op_complete` within a checkpoint group (every one is op 0 with `every_op`) and
    `checkpoint_save` within the pipeline: an operation named once in the pipeline takes its index
    from there, so that its events meet under one key."""

    def __init__(self, pipeline: list[str] | tuple[str, ...] = ()) -> None:
        names = Counter(pipeline)
        self.pipeline_index = {name: i for i, name in enumerate(pipeline) if names[name] == 1}
        self.partitions: dict[object, _Partition] = {}
        self.operations: dict[str, _Operation] = {}
        self.types: Counter[str] = Counter()
        self.events = 0
        self.declared_partitions = 0
        self.job_start: float | None = None
        self.job_end: float | None = None
        self.job_outcome = _Latest()
        self.job_error: str | None = None
        self.reported = Counter[str]()  # completed and failed partitions, as the job's end event counts them
        self.knows_resume_flag = False  # the writer takes `--resume` (DataJuicer 1.5.5+)
        self.executor: str | None = None
        self.strategy: str | None = None
        self.last_checkpoint: float | None = None
        self.out_of_order = 0
        self.untimed = 0
        self._last_time: dict[str, float] = {}

    def add(self, event: dict, source: str = "") -> None:
        """One event as its writer wrote it (any dict; nothing in it is trusted)."""
        self.events += 1
        raw_type = event.get("event_type")
        raw_type = raw_type if isinstance(raw_type, str) else "(no event_type)"
        self.types[raw_type[:100]] += 1
        kind = ALIASES.get(raw_type, raw_type)
        at = epoch_seconds(event.get("timestamp"))
        if at is None:
            self.untimed += 1
        elif at < self._last_time.get(source, -math.inf) - THREAD_RACE_S:
            self.out_of_order += 1
        else:
            self._last_time[source] = max(at, self._last_time.get(source, at))
        meta = event.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        if kind.startswith("job_"):
            self._job_event(kind, at, event, meta)
        elif kind.startswith("partition_"):
            self._partition_event(kind, at, event, meta)
        elif kind in ("op_start", "op_complete", "op_failed", "checkpoint_save"):
            self._operation_event(kind, at, event, meta)

    # --- job ---------------------------------------------------------------------------------

    def _job_event(self, kind: str, at: float | None, event: dict, meta: dict) -> None:
        total = _count(event.get("total_partitions")) or _count(meta.get("total_partitions"))
        self.declared_partitions = max(self.declared_partitions, total or 0)
        if kind == "job_start":
            if at is not None and (self.job_start is None or at < self.job_start):
                self.job_start = at
            self._job_settings(event, meta)
        elif kind in ("job_complete", "job_failed"):
            if at is not None and (self.job_end is None or at > self.job_end):
                self.job_end = at
            self.job_outcome.set(COMPLETED if kind == "job_complete" else FAILED, at)
            self._report(event, meta)
            if kind == "job_failed":
                self.job_error = _error(event, meta) or self.job_error
        elif kind == "job_restart":
            self.job_outcome.set(IN_PROGRESS, at)

    def _report(self, *places: dict) -> None:
        for state in (COMPLETED, FAILED):
            counts = [_count(place.get(f"{state}_partitions")) for place in places]
            self.reported[state] = max([self.reported[state], *filter(None, counts)])

    def _job_settings(self, event: dict, meta: dict) -> None:
        """The executor and checkpoint strategy, wherever the writer put them (DataJuicer's
        analyser looks only at `metadata.checkpoint_strategy`, where the writer never puts it)."""
        summary = meta.get("config_summary") if isinstance(meta.get("config_summary"), dict) else {}
        config = event.get("config") if isinstance(event.get("config"), dict) else {}
        checkpoint = config.get("checkpoint") if isinstance(config.get("checkpoint"), dict) else {}
        for place in (summary, meta, config):
            self.executor = self.executor or _text(place.get("executor_type"))
        self.knows_resume_flag = self.knows_resume_flag or "resume_requested" in meta
        strategies = (meta.get("checkpoint_strategy"), summary.get("checkpoint_strategy"),
                      checkpoint.get("strategy"))
        self.strategy = self.strategy or next(filter(None, map(_text, strategies)), None)

    # --- partitions --------------------------------------------------------------------------

    def _partition(self, event: dict, meta: dict) -> _Partition | None:
        pid = _partition_id(event.get("partition_id", meta.get("partition_id")))
        if pid is None:
            return None
        return self.partitions.setdefault(pid, _Partition())

    def _partition_event(self, kind: str, at: float | None, event: dict, meta: dict) -> None:
        total = _count(meta.get("total_partitions"))
        self.declared_partitions = max(self.declared_partitions, total or 0)
        part = self._partition(event, meta)
        if part is None:
            return
        samples = _count(meta.get("sample_count"))
        if kind == "partition_creation_start":
            part.creation_start = _earliest(part.creation_start, at)
        elif kind == "partition_creation_complete":
            part.creation_end = _latest(part.creation_end, at)
            part.sample_count = samples if samples is not None else part.sample_count
        elif kind in ("partition_start", "partition_resume"):
            part.processing_start = _earliest(part.processing_start, at)
            part.explicit.set(IN_PROGRESS, at)
            if part.sample_count is None:
                part.sample_count = samples
        elif kind == "partition_complete":  # the writer of 2025-07 logs failures so too (`success: false`)
            part.processing_end = _latest(part.processing_end, at)
            part.explicit.set(FAILED if meta.get("success") is False else COMPLETED, at)
            if meta.get("success") is False:
                part.error = _error(event, meta) or _text(meta.get("error")) or part.error
        elif kind == "partition_failed":
            part.processing_end = _latest(part.processing_end, at)
            part.explicit.set(FAILED, at)
            part.error = _error(event, meta) or part.error

    # --- operations --------------------------------------------------------------------------

    def _operation_event(self, kind: str, at: float | None, event: dict, meta: dict) -> None:
        part = self._partition(event, meta)
        pid = _partition_id(event.get("partition_id", meta.get("partition_id")))
        name = _text(event.get("operation_name"))
        index = self.pipeline_index.get(name) if name is not None else None
        if index is None:
            index = _count(event.get("operation_idx", meta.get("operation_idx")))
        key = f"p{pid}_op{index}_{name}"
        op = self.operations.get(key)
        if op is None:
            op = self.operations[key] = _Operation(pid, index, name)
        if kind == "op_start":
            op.start = _earliest(op.start, at)
            op.outcome.set(IN_PROGRESS, at)
            return
        if kind == "checkpoint_save":
            op.checkpoint_time = _latest(op.checkpoint_time, at)
            self.last_checkpoint = _latest(self.last_checkpoint, at)
            return
        op.end = _latest(op.end, at)
        op.outcome.set(COMPLETED if kind == "op_complete" else FAILED, at)
        durations = (finite_number(event.get("duration")), finite_number(meta.get("duration_seconds")))
        op.duration = next((d for d in durations if d is not None), op.duration)
        rows_in, rows_out = _rows(event, meta)
        op.input_rows = rows_in if rows_in is not None else op.input_rows
        op.output_rows = rows_out if rows_out is not None else op.output_rows
        if kind == "op_failed":
            op.error = _error(event, meta) or op.error
            if part is not None:
                part.explicit.set(FAILED, at)
                part.error = part.error or op.error

    # --- the snapshot ------------------------------------------------------------------------

    def warnings(self) -> list[str]:
        found = []
        unknown = sorted(t for t in self.types if t not in KNOWN)
        if unknown:
            listed = ", ".join(f"{t} ({self.types[t]})" for t in unknown[:10])
            found.append(f"events of unknown types kept as counts: {listed}")
        if self.out_of_order:
            found.append(f"{self.out_of_order} events are older than the line before them; "
                         "each partition and operation shows its latest event by time")
        if self.untimed:
            found.append(f"{self.untimed} events have no valid timestamp")
        return found

    def finish(self, job_id: str, summary: dict | None, plan: dict | None, generated_at: str, *,
               processing: ProcessingSummary | None = None,
               cli_arguments: list[str] | None = None) -> ProcessingSnapshot:
        """`summary`: `job_summary.json`; `processing`: `logs/processing_summary.json`;
        `cli_arguments`: the original command's (`cli.yaml`)."""
        summary = summary if isinstance(summary, dict) else None
        plan = plan if isinstance(plan, dict) else None
        s = summary or {}
        if processing is not None:
            self._report(processing.counts)
        planned = plan_operations(plan) if plan else []
        per_partition = len(planned) or max(Counter(op.partition for op in self.operations.values()).values(),
                                            default=0)
        by_partition: dict[object, list[_Operation]] = {}
        for op in sorted(self.operations.values(), key=_op_order):
            by_partition.setdefault(op.partition, []).append(op)
        partitions = {str(pid): _partition_progress(part, by_partition.get(pid, []), per_partition)
                      for pid, part in sorted(self.partitions.items(), key=lambda kv: sort_key(kv[0]))}
        operations = {key: self._operation_progress(op)
                      for key, op in sorted(self.operations.items(), key=lambda kv: _op_order(kv[1]))}
        states = Counter(p.status for p in partitions.values())
        total_partitions = max(len(partitions), self.declared_partitions)
        op_states = Counter(op.status for op in operations.values())
        total_operations = max(len(operations), per_partition * total_partitions)
        done_ops = op_states[COMPLETED] + op_states[CHECKPOINTED]
        partition_pct = _percent(states[COMPLETED], total_partitions)
        operation_pct = _percent(done_ops, total_operations)

        start, end, duration, source = self._timing(s, processing)
        overall = self._overall_status(states, total_partitions, s)
        checkpointed = [CheckpointedOperation(key, op.operation_name or "", op.checkpoint_time)
                        for key, op in operations.items() if op.status == CHECKPOINTED]
        coverage = _percent(len(checkpointed), total_operations)
        return ProcessingSnapshot(
            job_info=JobInfo(
                job_id=job_id,
                executor_type=_text(s.get("executor_type")) or self.executor,
                status=_text(s.get("status")) or overall,
                config_file=_config_files(s.get("config_file")),
                work_dir=_text(s.get("work_dir")),
                resumption_command=resumption_command(
                    job_id, arguments=cli_arguments, config_file=s.get("config_file"),
                    written=_text(s.get("resumption_command")), resume_flag=self.knows_resume_flag),
                error_message=_text(s.get("error_message")) or self.job_error,
            ),
            overall_status=overall,
            overall_progress=OverallProgress(round((partition_pct + operation_pct) / 2, 2),
                                             partition_pct, operation_pct),
            job_start_time=start,
            job_end_time=end,
            total_duration=duration,
            timing=Timing(start, end, duration, human_duration(duration) if duration is not None else None,
                          finite_number(s.get("duration")), source),
            progress_summary=ProgressSummary(
                total_partitions=total_partitions, completed_partitions=states[COMPLETED],
                failed_partitions=states[FAILED], in_progress_partitions=states[IN_PROGRESS],
                partition_progress_percentage=partition_pct if total_partitions else 100.0,
                total_operations=total_operations, completed_operations=op_states[COMPLETED],
                failed_operations=op_states[FAILED], checkpointed_operations=op_states[CHECKPOINTED],
                operation_progress_percentage=operation_pct if total_operations else 100.0,
            ),
            checkpointing=Checkpointing(
                strategy=self.strategy, last_checkpoint_time=self.last_checkpoint,
                checkpointed_operations_count=len(checkpointed), resumable=bool(checkpointed),
                checkpoint_progress=CheckpointProgress(coverage, checkpointed, round(coverage / 100, 4)),
                checkpoint_dir=_text(s.get("checkpoint_dir")),
            ),
            partition_progress=partitions,
            operation_progress=operations,
            dag_structure=dag_structure(plan) if plan else {},
            file_paths=FilePaths(*(_text(s.get(name)) for name in FilePaths.__struct_fields__)),
            metadata=SnapshotMetadata(generated_at, self.events, plan is not None, summary is not None,
                                      summary is not None, dict(sorted(self.types.items()))),
            processing_summary=processing,
        )

    def _timing(self, summary: dict, processing: ProcessingSummary | None
                ) -> tuple[float | None, float | None, float | None, str]:
        """Start, end, duration and where they come from: the job summary, else the executor's
        processing summary, else the events."""
        start = epoch_seconds(summary.get("start_time"))
        end = epoch_seconds(summary.get("end_time"))
        duration = finite_number(summary.get("duration"))
        source = "job_summary"
        if start is None and processing is not None and processing.start_time is not None:
            start, end = processing.start_time, processing.end_time
            duration = processing.total_processing_time
            source = "processing_summary"
        elif start is None:
            source = "events"
        start = start if start is not None else self.job_start
        end = end if end is not None else self.job_end
        if duration is None and start is not None and end is not None:
            duration = max(0.0, end - start)
        return start, end, duration, source

    @staticmethod
    def _operation_progress(op: _Operation) -> OperationProgress:
        duration = op.duration
        if op.start is not None and op.end is not None and op.end >= op.start:
            duration = op.end - op.start
        return OperationProgress(
            operation_name=op.name, operation_idx=op.index, status=op.status,
            start_time=op.start, end_time=op.end, duration=duration,
            input_rows=op.input_rows, output_rows=op.output_rows, checkpoint_time=op.checkpoint_time,
            error_message=op.error, progress_percentage=100.0 if op.done else 0.0,
        )

    def _overall_status(self, states: Counter[str], total: int, summary: dict) -> str:
        """A job that ended with some partitions failed is `partial`, as DataJuicer's own end
        event tells it ("completed", with `failed_partitions`); with all of them, `failed`."""
        said = summary.get("status")
        if self.job_outcome.status == FAILED or said == "failed":
            return FAILED
        if self.job_outcome.status == COMPLETED or said == "completed":
            if not max(states[FAILED], self.reported[FAILED]):
                return COMPLETED
            return PARTIAL if max(states[COMPLETED], self.reported[COMPLETED]) else FAILED
        if not self.events and not states:
            return NOT_STARTED
        if total and states[COMPLETED] == total:
            return COMPLETED
        if states[FAILED] and not states[COMPLETED] and not states[IN_PROGRESS]:
            return FAILED
        return IN_PROGRESS


def _partition_progress(part: _Partition, ops: list[_Operation], per_partition: int) -> PartitionProgress:
    done = [op.name or "" for op in ops if op.done]
    failed = [op.name or "" for op in ops if op.status == FAILED]
    started = [op for op in ops if op.start is not None]
    current = max(started, key=lambda op: op.start).name if started else None
    status = part.explicit.status or (FAILED if failed else IN_PROGRESS if ops else NOT_STARTED)
    progress = 100.0 if status == COMPLETED else _percent(len(done), max(per_partition, len(ops)))
    return PartitionProgress(
        status=status, sample_count=part.sample_count,
        creation_start_time=part.creation_start, creation_end_time=part.creation_end,
        processing_start_time=part.processing_start, processing_end_time=part.processing_end,
        current_operation=current, completed_operations=done, failed_operations=failed,
        checkpointed_operations=[op.name or "" for op in ops if op.status == CHECKPOINTED],
        error_message=part.error, progress_percentage=progress,
    )


def human_duration(seconds: float) -> str:
    """`45s`, `4m 31s`, `1h 1m 1s` (DataJuicer's format)."""
    whole = int(seconds)
    hours, minutes, secs = whole // 3600, whole % 3600 // 60, whole % 60
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _rows(event: dict, meta: dict) -> tuple[int | None, int | None]:
    rows_in = _count(meta.get("input_rows"))
    rows_in = rows_in if rows_in is not None else _count(event.get("input_rows"))
    rows_out = _count(meta.get("output_rows"))
    rows_out = rows_out if rows_out is not None else _count(event.get("output_rows"))
    processed, filtered = _count(meta.get("samples_processed")), _count(meta.get("samples_filtered"))
    if rows_in is None and processed is not None:  # the demo log's vocabulary
        rows_in = processed
        if rows_out is None and filtered is not None:
            rows_out = max(0, processed - filtered)
    return rows_in, rows_out


def _error(event: dict, meta: dict) -> str | None:
    for value in (event.get("error_message"), event.get("error_details"), meta.get("error_message"),
                  event.get("message") if event.get("error_type") else None):
        text = _text(value)
        if text:
            return text[:MAX_MESSAGE]
    return None


def _config_files(value: object) -> list[str] | str | None:
    if isinstance(value, list):
        return [str(v)[:MAX_MESSAGE] for v in value[:20]]
    return _text(value)


def _partition_id(value: object) -> object:
    """Partition ids as their writers give them: ints (or digit strings), else their text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value)[:100]
    return int(text) if text.isdigit() else text


def _op_order(op: _Operation) -> tuple:
    return (sort_key(op.partition), op.index if op.index is not None else math.inf, op.name or "")


def _count(value: object) -> int | None:
    number = finite_number(value)
    return int(number) if number is not None and number >= 0 else None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text[:MAX_MESSAGE] if text else None


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _earliest(current: float | None, at: float | None) -> float | None:
    return at if current is None or (at is not None and at < current) else current


def _latest(current: float | None, at: float | None) -> float | None:
    return at if current is None or (at is not None and at > current) else current
