"""Reader for training runs that keep a `sidecar.json` (stable-pretraining registry, FORMATS.md §4).

Reads the sidecar, summary.json, run_meta.json, hparams.yaml, heartbeat, metrics.csv, media.jsonl
and the run's logs (run dir, `hparams.output_dir`, submitit per-rank logs). metrics.csv itself
is parsed by `metrics_csv`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from sitegen.model import Artifact, Media, MetricStats, Problem, Run, Scalar, Series
from sitegen.numbers import finite_number
from sitegen.paths import resolve_within
from sitegen.readers._tolerant import (
    CsvLines,
    file_size,
    list_dir,
    mtime_or_none,
    read_json,
    read_jsonl,
    read_yaml,
)
from sitegen.readers._values import flatten
from sitegen.readers.base import ReadContext, Reading
from sitegen.readers.logs import FoundLogs, LogFile, log_files_in, logs_in_named_dir, read_logs, submitit_logs
from sitegen.readers.metrics_csv import read_metrics
from sitegen.redact import redact_text
from sitegen.slug import run_slug

NAME = "sidecar"

SIDECAR = "sidecar.json"
MAX_CSV_BYTES = 64 * 1024 * 1024
# What stable-pretraining's RegistryLogger writes: "running", then the status Lightning finalizes
# with, "success" mapped to "completed" (a bare "success" from before that mapping), "failed", and
# anything else as given: Lightning's SLURM auto-requeue handler finalizes with "finished" before
# `scontrol requeue` ends the job, which resumes later in the same run dir and says "running" again.
# "orphaned" is what its registry index calls a run whose dir is gone.
STATUS_ALIASES = {"success": "completed", "finished": "requeued"}
KNOWN_STATUSES = frozenset({"running", "completed", "failed", "requeued", "orphaned"})
LISTED_FILES = ("summary.json", "hparams.yaml", "run_meta.json", "media.jsonl")  # listed, not published
CHECKPOINTS = "checkpoints"
MAX_LISTED_CHECKPOINTS = 50
_LATEST_PLAUSIBLE_EPOCH = 1e11  # beyond year 5000: milliseconds or garbage, not seconds


def read(run_dir: str, run_id: str, ctx: ReadContext) -> Run:
    """One sidecar run; never raises on bad data (problems become warnings, or `problem`)."""
    run_dir = os.path.abspath(run_dir)
    if resolve_within(run_dir, run_dir, (ctx.root, *ctx.allowed)) is None:  # a dir link out of the roots
        problem = Problem("run directory: a link out of the configured roots; not read")
        return Run(run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME,
                   name=os.path.basename(run_dir), status="broken", problem=problem, inputs=(run_dir,))
    reading = _Reading(run_dir, (ctx.root, *ctx.allowed))
    sidecar, problem = _read_sidecar(reading)
    params = _read_params(sidecar, reading)
    tags = _tags(sidecar.get("tags"), reading)
    logs, log_problems = read_logs(_find_logs(reading, params, tags), ctx.log_tail_bytes)
    reading.warnings.extend(log_problems)
    run_name = sidecar.get("run_id")
    summary, summary_stats = _read_summary(sidecar, reading)
    fields = dict(
        name=run_name if isinstance(run_name, str) and run_name else os.path.basename(reading.run_dir),
        status="broken" if problem else _status(sidecar.get("status"), reading),
        created_at=_epoch(sidecar, "created_at", reading),
        ended_at=_epoch(sidecar, "ended_at", reading),
        updated_at=_epoch(sidecar, "updated_at", reading),
        heartbeat_at=mtime_or_none(reading.use("heartbeat")) if reading.has("heartbeat") else None,
        tags=tags,
        notes=_notes(sidecar.get("notes"), reading),
        params=dict(sorted(ctx.redactor.mapping(params).items())),
        summary=summary,
        summary_stats=summary_stats,
        series=_read_metrics(reading) if reading.has("metrics.csv") else {},
        logs=logs,
        media=_read_media(reading) if reading.has("media.jsonl") else [],
        artifacts=_artifacts(reading),
    )
    return Run(
        run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME, **fields,
        warnings=reading.warnings, problem=problem, inputs=tuple(sorted(reading.inputs)),
    )


class _Reading(Reading):
    """A read of a sidecar run: the run dir's entries, too."""

    def __init__(self, run_dir: str, allowed: tuple[str, ...]) -> None:
        super().__init__(run_dir, allowed)
        names = list_dir(run_dir)
        if names is None:
            self.warnings.append("run directory vanished or is unreadable")
        self.names = frozenset(names or ())

    def has(self, name: str) -> bool:
        return name in self.names


# --- sidecar.json, summary.json, run_meta.json, hparams.yaml --------------------------------


def _read_sidecar(reading: _Reading) -> tuple[dict, Problem | None]:
    path = reading.use(SIDECAR)
    if not reading.followable(path):
        return {}, Problem(f"{SIDECAR}: a link out of the configured roots")
    value, problem = read_json(path)
    if problem:
        return {}, Problem(problem)
    if not isinstance(value, dict):
        return {}, Problem(f"{SIDECAR}: expected a JSON object, found {type(value).__name__}")
    return value, None


def _read_optional_json(reading: _Reading, name: str) -> dict:
    if not reading.has(name) or not reading.followable(path := reading.use(name)):
        return {}
    value, problem = read_json(path)
    reading.warn(problem)
    if value is not None and not isinstance(value, dict):
        reading.warn(f"{name}: expected a JSON object, found {type(value).__name__}; ignored")
    return value if isinstance(value, dict) else {}


def _read_params(sidecar: dict, reading: _Reading) -> dict[str, Scalar]:
    """Flat, not yet redacted params: sidecar hparams, then hparams.yaml and run_meta.json fill gaps."""
    hparams = sidecar.get("hparams")
    if hparams is not None and not isinstance(hparams, dict):
        reading.warn(f"{SIDECAR}: hparams is not an object; ignored")
    params = flatten(hparams) if isinstance(hparams, dict) else {}
    if reading.has("hparams.yaml") and reading.followable(path := reading.use("hparams.yaml")):
        value, problem = read_yaml(path)
        reading.warn(problem)
        for key, item in (flatten(value) if isinstance(value, dict) else {}).items():
            params.setdefault(key, item)
    meta = _read_optional_json(reading, "run_meta.json")
    for source, key in (("slurm_job_id", "slurm.job_id"), ("slurm_array_task_id", "slurm.task_id")):
        if key not in params and isinstance(meta.get(source), (str, int)):
            params[key] = meta[source]
    checkpoint = sidecar.get("checkpoint_path")
    if isinstance(checkpoint, str) and checkpoint:
        params.setdefault("checkpoint_path", checkpoint)
    return params


def _read_summary(sidecar: dict, reading: _Reading) -> tuple[dict[str, float], dict[str, MetricStats]]:
    """The sidecar's last values (summary.json's where the sidecar has none), and summary.json's
    min, max and count of each metric."""
    raw = sidecar.get("summary")
    summary = _numbers((raw if isinstance(raw, dict) else {}).items(), f"{SIDECAR}: summary", reading)
    metrics = _read_optional_json(reading, "summary.json").get("metrics")
    if not isinstance(metrics, dict):
        return dict(sorted(summary.items())), {}
    lasts = ((k, v.get("last") if isinstance(v, dict) else v) for k, v in metrics.items())
    lasts = ((k, v) for k, v in lasts if k not in summary)
    summary.update(_numbers(lasts, "summary.json: metrics", reading))
    return dict(sorted(summary.items())), _summary_stats(metrics, summary, reading)


def _summary_stats(metrics: dict, summary: dict[str, float], reading: _Reading) -> dict[str, MetricStats]:
    stats, unusable = {}, 0
    for name, value in sorted(metrics.items()):
        if isinstance(value, dict) and str(name) in summary:
            found, bad = _stats(value)
            unusable += bad
            if found != MetricStats():
                stats[str(name)] = found
    if unusable:
        reading.warn(f"summary.json: {unusable} metrics have a min, max or count that is not a finite "
                     "number; those values are not shown")
    return stats


def _stats(value: dict) -> tuple[MetricStats, bool]:
    """One metric's min, max and count from summary.json, and whether any of them was unusable."""
    low, high, count = (value.get(key) for key in ("min", "max", "count"))
    counted = isinstance(count, int) and not isinstance(count, bool) and count >= 0
    stats = MetricStats(min=finite_number(low), max=finite_number(high), count=count if counted else None)
    pairs = zip((low, high, count), (stats.min, stats.max, stats.count), strict=True)
    return stats, any(given is not None and kept is None for given, kept in pairs)


def _numbers(items: Iterable[tuple[str, object]], where: str, reading: _Reading) -> dict[str, float]:
    numbers: dict[str, float] = {}
    dropped = []
    for name, value in items:
        number = finite_number(value)
        if number is None:
            dropped.append(str(name))
        else:
            numbers[str(name)] = number
    if dropped:
        shown = ", ".join(dropped[:5]) + (", …" if len(dropped) > 5 else "")
        reading.warn(f"{where}: {len(dropped)} values are not finite numbers, dropped ({shown})")
    return numbers


def _status(value: object, reading: _Reading) -> str:
    if value is None:
        return "unknown"
    if not isinstance(value, str):
        reading.warn(f"{SIDECAR}: status is not a string; shown as unknown")
        return "unknown"
    status = value.strip().lower()
    status = STATUS_ALIASES.get(status, status)
    if status and status not in KNOWN_STATUSES:
        reading.warn(f"{SIDECAR}: status {value[:40]!r} is not one stable-pretraining writes "
                     "(running, completed, failed, finished); shown as written")
    return status or "unknown"


def _epoch(sidecar: dict, key: str, reading: _Reading) -> float | None:
    value = sidecar.get(key)
    if value is None:
        return None
    seconds = _to_epoch(value)
    if seconds is None or not 0 <= seconds < _LATEST_PLAUSIBLE_EPOCH:
        reading.warn(f"{SIDECAR}: {key} is not a time in epoch seconds ({str(value)[:40]!r}); ignored")
        return None
    return seconds


def _to_epoch(value: object) -> float | None:
    if not isinstance(value, str):
        return finite_number(value)
    try:
        return finite_number(float(value))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _tags(value: object, reading: _Reading) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        reading.warn(f"{SIDECAR}: tags is not a list; ignored")
        return ()
    tags = tuple(tag for tag in value if isinstance(tag, str))
    if len(tags) != len(value):
        reading.warn(f"{SIDECAR}: {len(value) - len(tags)} tags are not strings; ignored")
    return tags


def _notes(value: object, reading: _Reading) -> str:
    if value is None or isinstance(value, str):
        return redact_text(value or "")
    reading.warn(f"{SIDECAR}: notes is not a string; ignored")
    return ""


# --- metrics.csv ------------------------------------------------------------------------------


def _read_metrics(reading: _Reading) -> dict[str, Series]:
    path = reading.use("metrics.csv")
    if not reading.followable(path):
        return {}
    with CsvLines(path, MAX_CSV_BYTES) as lines:
        return read_metrics(lines, reading.warnings)


# --- media, artifacts, logs -------------------------------------------------------------------


def _read_media(reading: _Reading) -> list[Media]:
    path = reading.use("media.jsonl")
    if not reading.followable(path):
        return []
    records, problems = read_jsonl(path)
    reading.warnings.extend(problems)
    media = [item for item in map(_media_item, records) if item is not None]
    inside = [item for item in media if not _leaves_run_dir(item.path)]
    if len(media) < len(records):
        reading.warn(f"media.jsonl: {len(records) - len(media)} entries without a path; skipped")
    if len(inside) < len(media):
        reading.warn(f"media.jsonl: {len(media) - len(inside)} paths lead out of the run directory; ignored")
    return inside


def _media_item(record: object) -> Media | None:
    if not isinstance(record, dict) or not isinstance(record.get("path"), str) or not record["path"]:
        return None
    tag, kind, step, caption = (record.get(k) for k in ("tag", "type", "step", "caption"))
    return Media(
        tag=tag if isinstance(tag, str) else "",
        type=kind if isinstance(kind, str) else "image",
        path=record["path"],
        step=step if isinstance(step, int) and not isinstance(step, bool) else None,
        caption=redact_text(caption) if isinstance(caption, str) else None,
    )


def _leaves_run_dir(path: str) -> bool:
    return os.path.isabs(path) or ".." in path.replace("\\", "/").split("/")


def _artifacts(reading: _Reading) -> list[Artifact]:
    """The run's files: metrics.csv published beside the run page (the full data behind downsampled
    plots); the other files the logger writes and the checkpoints listed (hparams.yaml may hold
    secrets that params show redacted, so nothing else is published)."""
    artifacts = []
    for name in ("metrics.csv", *LISTED_FILES):
        path = os.path.join(reading.run_dir, name)
        size = file_size(path) if reading.has(name) and reading.entry_inside(path) else None
        if size is not None:
            published = name == "metrics.csv"
            artifacts.append(Artifact(name, size, name if published else None, path if published else None))
    if reading.has(CHECKPOINTS):
        artifacts += _checkpoints(reading)
    return artifacts


def _checkpoints(reading: _Reading) -> list[Artifact]:
    """The files in checkpoints/ (Lightning's ModelCheckpoint), by name, the first ones only."""
    folder = reading.use(CHECKPOINTS)
    if not reading.followable(folder):
        return []
    listed = []
    for name in list_dir(folder) or []:
        path = os.path.join(folder, name)
        size = file_size(path) if reading.entry_inside(path) else None
        if size is not None:
            listed.append((f"{CHECKPOINTS}/{name}", size))
    shown = listed[:MAX_LISTED_CHECKPOINTS]
    for name, _size in shown:
        reading.use(name)
    artifacts = [Artifact(name, size) for name, size in shown]
    if len(listed) > len(shown):
        rest = listed[len(shown):]
        artifacts.append(Artifact(f"{CHECKPOINTS}/…", sum(size for _name, size in rest),
                                  note=f"{len(rest)} more files, not listed"))
    return artifacts


def _find_logs(reading: _Reading, params: dict[str, Scalar], tags: tuple[str, ...]) -> list[LogFile]:
    files = log_files_in(reading.run_dir, reading.names, ("out", "err"))
    for found in _output_dir_logs(reading, params, tags):
        files += found.files
        reading.warn(found.problem)
        if found.listed:
            reading.use(found.listed)
    for log in files:
        reading.use(log.path)
    return [log for log in files if reading.followable(log.path)]


def _output_dir_logs(
    reading: _Reading, params: dict[str, Scalar], tags: tuple[str, ...]
) -> Iterator[FoundLogs]:
    output_dir = params.get("output_dir")
    if not isinstance(output_dir, str) or not output_dir.strip():
        return
    where = (reading.run_dir, reading.allowed)
    found = logs_in_named_dir("output_dir", output_dir, *where, ("out", "err", "log"))
    yield found
    sweep = next((tag[len("sweep:"):] for tag in tags if tag.startswith("sweep:")), None)
    task = params.get("slurm.task_id")
    if found.listed and sweep and isinstance(task, (str, int, float)):
        task_id = str(int(task)) if isinstance(task, float) and task.is_integer() else str(task)
        yield submitit_logs(output_dir, f"{sweep}_{task_id}", *where)
