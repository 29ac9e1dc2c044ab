"""Reader for data-processing job dirs with an event log (DataJuicer's partitioned executor).

A job dir (`20250809_040053_a001de`) holds `events.jsonl` and, from newer writers,
`events_<YYYYMMDD_HHMMSS>.jsonl`; `job_summary.json`; `dag_execution_plan.json`; the backed-up
config; `checkpoints/`, `partitions/`, `metadata/`, `results/`; and `logs/` (`log.txt`,
`log_ERROR.txt`, …, `processing_summary.json`); from DataJuicer 1.5 on, `cli.yaml` (the original
command's arguments), and no `job_summary.json`. The events are streamed, never held, into
`sitegen.analysis.processing`, which computes the snapshot. FORMATS.md §5 has the schemas.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from sitegen.analysis.dag_plan import plan_operations
from sitegen.analysis.processing import SnapshotBuilder
from sitegen.analysis.processing_summary import processing_summary
from sitegen.model import Artifact, Problem, Run, Scalar
from sitegen.readers import is_event_log_name
from sitegen.readers._tolerant import JsonlStream, list_dir, read_json, read_yaml, stat_or_none
from sitegen.readers._values import flatten
from sitegen.readers.base import ReadContext, Reading
from sitegen.readers.logs import LogFile, read_logs
from sitegen.redact import Redactor, redact_text
from sitegen.slug import run_slug
from sitegen.snapshot import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PARTIAL,
    OperationProgress,
    PartitionProgress,
    ProcessingSnapshot,
    ProcessingSummary,
)

NAME = "eventlog"
SUMMARY = "job_summary.json"
PLAN = "dag_execution_plan.json"
CLI_ARGUMENTS = "cli.yaml"
PROCESSING_SUMMARY = "processing_summary.json"  # in logs/
LOGS_DIR = "logs"
LOG_SUFFIXES = (".txt", ".log", ".out", ".err")
CONFIG_SUFFIXES = (".yaml", ".yml")
EXECUTOR_METRICS = ("total_samples_processed", "total_samples_output", "success_rate", "checkpoints_created")
T = TypeVar("T", PartitionProgress, OperationProgress)
STATUSES = {COMPLETED: "completed", PARTIAL: "partial", FAILED: "failed", IN_PROGRESS: "running"}


def read(run_dir: str, run_id: str, ctx: ReadContext) -> Run:
    """One job dir as a run whose `snapshot` is the job's processing snapshot; never raises."""
    reading = _Reading(run_dir, (ctx.root, *ctx.allowed))
    snapshot, config = _snapshot(reading, os.path.basename(run_dir), ctx.redactor)
    header = dict(run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME,
                  name=os.path.basename(run_dir))
    if snapshot is None:
        problem = Problem(reading.warnings.pop(0) if reading.warnings else "no event log could be read")
        return Run(**header, status="broken", problem=problem, warnings=reading.warnings,
                   inputs=tuple(sorted(reading.inputs)))
    logs, log_problems = read_logs(_log_files(reading), ctx.log_tail_bytes)
    reading.warnings.extend(log_problems)
    ended = snapshot.overall_status in (COMPLETED, PARTIAL, FAILED)
    return Run(
        **header,
        status=STATUSES.get(snapshot.overall_status, "unknown"),
        created_at=snapshot.job_start_time,
        ended_at=snapshot.job_end_time if ended else None,
        updated_at=reading.last_written,
        heartbeat_at=None if ended else reading.last_written,
        facts=_facts(snapshot),
        params=dict(sorted(ctx.redactor.mapping(flatten(config)).items())),
        summary=_summary(snapshot),
        logs=logs,
        artifacts=_artifacts(reading),
        snapshot=snapshot,
        warnings=reading.warnings,
        inputs=tuple(sorted(reading.inputs)),
    )


def snapshot_of(job_dir: str) -> tuple[ProcessingSnapshot | None, list[str]]:
    """The snapshot of a job dir as `sitegen snapshot` prints it (generated now), and warnings;
    None when the directory holds no event log and no job summary."""
    job_dir = os.path.abspath(job_dir)
    reading = _Reading(job_dir, (job_dir,))
    if not reading.events and SUMMARY not in reading.names:
        return None, []
    snapshot, _config = _snapshot(reading, os.path.basename(job_dir), Redactor())
    if snapshot is not None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        snapshot = _with_generated_at(snapshot, now)
    return snapshot, reading.warnings


class _Reading(Reading):
    """A read of a job dir: its entries, its event logs, and when they were last written."""

    def __init__(self, run_dir: str, allowed: tuple[str, ...]) -> None:
        super().__init__(run_dir, allowed)
        self.names = frozenset(list_dir(run_dir) or ())
        self.events = sorted(filter(is_event_log_name, self.names), key=lambda n: (n != "events.jsonl", n))
        self.last_written: float | None = None

    def wrote(self, path: str) -> None:
        info = stat_or_none(path)
        if info is not None and (self.last_written is None or info.st_mtime > self.last_written):
            self.last_written = info.st_mtime


def _snapshot(reading: _Reading, job_id: str, redactor: Redactor) -> tuple[ProcessingSnapshot | None, dict]:
    """The snapshot and the job's config (its start event's over the backed-up file's over the
    processing summary's)."""
    plan = _json_object(reading, PLAN)
    builder = SnapshotBuilder(plan_operations(plan) if plan else ())
    config: dict = {}
    read_any = False
    for name in reading.events:
        path = reading.use(name)
        if not reading.followable(path):
            continue
        stream = JsonlStream(path)
        not_objects = 0
        for event in stream:
            if not isinstance(event, dict):
                not_objects += 1
                continue
            builder.add(event, name)
            if not config and isinstance(event.get("config"), dict):
                config = event["config"]
        read_any = read_any or stream.problem is None
        reading.warnings.extend(stream.problems)
        if not_objects:
            reading.warnings.append(f"{name}: {not_objects} lines are JSON but not objects, skipped")
        if stream.pending:
            reading.warnings.append(f"{name}: the last line is still being written; left out")
        reading.wrote(path)
    summary = _json_object(reading, SUMMARY)
    if not read_any and summary is None:
        if not reading.events:
            reading.warnings.insert(0, f"no event log (events.jsonl, events_*.jsonl) and no {SUMMARY}")
        return None, {}
    if not reading.events:
        reading.warnings.append(f"no event log: progress from {SUMMARY} only")
    reading.warnings.extend(builder.warnings())
    processing = _processing_summary(reading)
    # DataJuicer 1.5+ puts only a digest of the config in its start event; the backed-up file has the ops
    executor_config = processing.configuration if processing else {}
    config = {**executor_config, **_backed_up_config(reading, summary), **config}
    as_of = datetime.fromtimestamp(reading.last_written or 0, UTC).isoformat(timespec="seconds")
    snapshot = builder.finish(job_id, summary, plan, as_of, processing=processing,
                              cli_arguments=_cli_arguments(reading))
    return _redacted(snapshot, redactor), config


def _processing_summary(reading: _Reading) -> ProcessingSummary | None:
    if LOGS_DIR not in reading.names:
        return None
    value = _mapping(reading, f"{LOGS_DIR}/{PROCESSING_SUMMARY}", read_json, "a JSON object")
    return processing_summary(value) if value is not None else None


def _cli_arguments(reading: _Reading) -> list[str] | None:
    """The arguments the job was started with (`cli.yaml`: `{arguments: [--config, x.yaml, …]}`)."""
    value = _mapping(reading, CLI_ARGUMENTS, read_yaml, "a mapping")
    if value is None:
        return None
    arguments = value.get("arguments")
    if not (isinstance(arguments, list) and all(isinstance(a, str) for a in arguments)):
        reading.warn(f"{CLI_ARGUMENTS}: expected `arguments:` as a list of strings; ignored")
        return None
    return arguments


def _redacted(snapshot: ProcessingSnapshot, redactor: Redactor) -> ProcessingSnapshot:
    """Error messages, the resumption command, the plan's op configs and the executor's summary
    may carry credentials."""
    replace = msgspec.structs.replace
    info = snapshot.job_info
    return replace(
        snapshot,
        job_info=replace(info, **{name: redactor.tree(getattr(info, name)) for name in (
            "config_file", "work_dir", "resumption_command", "error_message")}),
        partition_progress={key: _error_redacted(part) for key, part in snapshot.partition_progress.items()},
        operation_progress={key: _error_redacted(op) for key, op in snapshot.operation_progress.items()},
        dag_structure=redactor.tree(snapshot.dag_structure),
        processing_summary=_summary_redacted(snapshot.processing_summary, redactor),
    )


def _summary_redacted(executor: ProcessingSummary | None, redactor: Redactor) -> ProcessingSummary | None:
    """The executor's summary shows its configuration, errors and partitions' errors."""
    if executor is None:
        return None
    return msgspec.structs.replace(
        executor, configuration=redactor.mapping(executor.configuration),
        errors=[redact_text(error) for error in executor.errors],
        partition_details=[_error_redacted(part) for part in executor.partition_details],
    )


def _json_object(reading: _Reading, name: str) -> dict | None:
    return _mapping(reading, name, read_json, "a JSON object")


def _mapping(reading: _Reading, rel: str, read: Callable[[str], tuple[object, str | None]],
             expected: str) -> dict | None:
    """The mapping in the job's file `rel` when it is there, else None; a file that cannot be
    read, or holds something else, is a warning."""
    folder, name = os.path.split(rel)
    if not folder and name not in reading.names:
        return None
    path = os.path.join(reading.run_dir, rel)
    if folder and not os.path.isfile(path):
        return None
    if not reading.followable(path):
        return None
    reading.use(rel)
    value, problem = read(path)
    reading.warn(problem and os.path.join(folder, problem))
    if problem is None and not isinstance(value, dict):
        reading.warn(f"{rel}: expected {expected}, found {type(value).__name__}; ignored")
    return value if isinstance(value, dict) else None


def _error_redacted(progress: T) -> T:
    if not progress.error_message:
        return progress
    return msgspec.structs.replace(progress, error_message=redact_text(progress.error_message))


def _backed_up_config(reading: _Reading, summary: dict | None) -> dict:
    named = os.path.basename(str((summary or {}).get("backed_up_config_path") or ""))
    candidates = [named] if named in reading.names else sorted(
        n for n in reading.names if n.endswith(CONFIG_SUFFIXES) and n != CLI_ARGUMENTS)
    for name in candidates[:1]:
        path = reading.use(name)
        if reading.followable(path):
            value, problem = read_yaml(path)
            reading.warn(problem)
            if isinstance(value, dict):
                return value
    return {}


def _log_files(reading: _Reading) -> list[LogFile]:
    if LOGS_DIR not in reading.names:
        return []
    logs_dir = reading.use(LOGS_DIR)
    if not reading.followable(logs_dir):
        return []
    files = []
    for name in sorted(list_dir(logs_dir) or ()):
        path = os.path.join(logs_dir, name)
        if name.endswith(LOG_SUFFIXES) and not name.startswith(".") and reading.followable(path):
            reading.inputs.add(path)
            kind = "err" if "ERROR" in name.upper() else "log"
            files.append(LogFile(path, name, kind))
    return files


def _facts(snapshot: ProcessingSnapshot) -> dict[str, Scalar]:
    info, progress, checkpoints = snapshot.job_info, snapshot.progress_summary, snapshot.checkpointing
    facts: dict[str, Scalar] = {"Job id": info.job_id}
    if info.executor_type:
        facts["Executor"] = info.executor_type
    if info.status and info.status != snapshot.overall_status:
        facts["Status in the job summary"] = info.status
    facts["Partitions"] = (f"{progress.completed_partitions} of {progress.total_partitions} completed, "
                           f"{progress.failed_partitions} failed")
    facts["Operations"] = (f"{progress.completed_operations + progress.checkpointed_operations} of "
                           f"{progress.total_operations} done, {progress.failed_operations} failed")
    if checkpoints.strategy:
        facts["Checkpoint strategy"] = checkpoints.strategy
    facts["Resumable"] = "yes" if checkpoints.resumable else "no (no checkpoint saved)"
    facts["Timing from"] = snapshot.timing.timing_source.replace("_", " ")
    if info.work_dir:
        facts["Work dir"] = info.work_dir
    facts["Events read"] = snapshot.metadata.events_analyzed
    return facts


def _summary(snapshot: ProcessingSnapshot) -> dict[str, float]:
    progress = snapshot.overall_progress
    summary = {
        "overall_progress_pct": progress.overall_percentage,
        "partition_progress_pct": progress.partition_percentage,
        "operation_progress_pct": progress.operation_percentage,
        "checkpoint_coverage_pct": snapshot.checkpointing.checkpoint_progress.percentage,
        "failed_partitions": float(snapshot.progress_summary.failed_partitions),
    }
    if snapshot.total_duration is not None:
        summary["duration_s"] = snapshot.total_duration
    executor = snapshot.processing_summary
    if executor is not None:  # its samples, success rate and resource use, to plot over nights
        summary.update({name: executor.counts[name] for name in EXECUTOR_METRICS if name in executor.counts})
        summary.update(executor.resource_usage)
    return summary


def _artifacts(reading: _Reading) -> list[Artifact]:
    """The job dir's own files and folders, listed (never published: data may be private)."""
    found = []
    for name in sorted(reading.names):
        if name.startswith("."):
            continue
        path = os.path.join(reading.run_dir, name)
        info = stat_or_none(path)
        if info is None:
            continue
        if os.path.isdir(path):
            found.append(Artifact(f"{name}/", 0, note="folder, not listed"))
        else:
            found.append(Artifact(name, info.st_size))
    return found


def _with_generated_at(snapshot: ProcessingSnapshot, when: str) -> ProcessingSnapshot:
    return msgspec.structs.replace(snapshot, metadata=msgspec.structs.replace(
        snapshot.metadata, snapshot_generated_at=when))
