"""Reader for training runs that keep a `sidecar.json` (stable-pretraining registry, FORMATS.md §4).

Reads the sidecar, summary.json, run_meta.json, hparams.yaml, heartbeat, metrics.csv, media.jsonl
and the run's logs (run dir, `hparams.output_dir`, submitit per-rank logs). A little over 300 lines
because metrics.csv, the hot path, is parsed column-wise here.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

import msgspec

from sitegen.model import Artifact, Media, Problem, Run, Scalar, Series
from sitegen.paths import resolve_within
from sitegen.readers._tolerant import (
    file_size,
    list_dir,
    mtime_or_none,
    parse_csv_lines,
    read_csv_lines,
    read_json,
    read_jsonl,
    read_yaml,
)
from sitegen.readers.base import ReadContext
from sitegen.readers.logs import FoundLogs, LogFile, log_files_in, logs_in_named_dir, read_logs, submitit_logs
from sitegen.redact import redact_text
from sitegen.slug import run_slug

NAME = "sidecar"

SIDECAR = "sidecar.json"
MAX_CSV_BYTES = 64 * 1024 * 1024
STATUS_ALIASES = {"success": "completed"}
AXES = ("step", "epoch")
_MAX_NESTING = 32
_LATEST_PLAUSIBLE_EPOCH = 1e11  # beyond year 5000: milliseconds or garbage, not seconds
_MATRIX = msgspec.json.Decoder(list[list[float | None]])


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
        summary=_read_summary(sidecar, reading),
        series=_read_metrics(reading) if reading.has("metrics.csv") else {},
        logs=logs,
        media=_read_media(reading) if reading.has("media.jsonl") else [],
        artifacts=_artifacts(reading),
    )
    return Run(
        run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME, **fields,
        warnings=reading.warnings, problem=problem, inputs=tuple(sorted(reading.inputs)),
    )


class _Reading:
    """What one read has seen: the run dir's entries, the paths it used, the warnings it met."""

    def __init__(self, run_dir: str, allowed: tuple[str, ...]) -> None:
        self.run_dir = run_dir
        self.allowed = allowed
        self.inputs = {run_dir}
        self.warnings: list[str] = []
        names = list_dir(run_dir)
        if names is None:
            self.warnings.append("run directory vanished or is unreadable")
        self.names = frozenset(names or ())

    def has(self, name: str) -> bool:
        return name in self.names

    def use(self, path: str) -> str:
        """Record `path` (relative to the run dir, or absolute) as an input and return it absolute."""
        path = os.path.join(self.run_dir, path)
        self.inputs.add(path)
        return path

    def warn(self, problem: str | None) -> None:
        if problem:
            self.warnings.append(problem)

    def followable(self, path: str) -> bool:
        """False, with a warning, for a link out of the configured roots (a site is often public)."""
        if self.inside_roots(path):
            return True
        self.warn(f"{os.path.basename(path)}: a link out of the configured roots; not followed")
        return False

    def inside_roots(self, path: str) -> bool:
        return not os.path.islink(path) or resolve_within(path, self.run_dir, self.allowed) is not None


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


def flatten(value: dict) -> dict[str, Scalar]:
    """Nested dicts and lists as dotted keys ("optim.lr", "layers.0"); dotted keys stay as they are."""
    flat: dict[str, Scalar] = {}
    for name, item in value.items():
        _flatten_into(flat, str(name), item, 1)
    return flat


def _flatten_into(flat: dict[str, Scalar], key: str, value: object, depth: int) -> None:
    if isinstance(value, (dict, list)) and value and depth >= _MAX_NESTING:
        flat[key] = "… (nested too deeply)"
        return
    if isinstance(value, dict) and value:
        for name, item in value.items():
            _flatten_into(flat, f"{key}.{name}", item, depth + 1)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten_into(flat, f"{key}.{index}", item, depth + 1)
    elif value is None or isinstance(value, (str, int, float, bool)):
        flat[key] = value
    else:
        flat[key] = str(value)  # empty containers, dates from YAML


def _read_summary(sidecar: dict, reading: _Reading) -> dict[str, float]:
    raw = sidecar.get("summary")
    summary = _numbers((raw if isinstance(raw, dict) else {}).items(), f"{SIDECAR}: summary", reading)
    metrics = _read_optional_json(reading, "summary.json").get("metrics")
    if isinstance(metrics, dict):
        lasts = ((k, v.get("last") if isinstance(v, dict) else v) for k, v in metrics.items())
        lasts = ((k, v) for k, v in lasts if k not in summary)
        summary.update(_numbers(lasts, "summary.json: metrics", reading))
    return dict(sorted(summary.items()))


def _numbers(items: Iterable[tuple[str, object]], where: str, reading: _Reading) -> dict[str, float]:
    numbers: dict[str, float] = {}
    dropped = []
    for name, value in items:
        number = _finite(value)
        if number is None:
            dropped.append(str(name))
        else:
            numbers[str(name)] = number
    if dropped:
        shown = ", ".join(dropped[:5]) + (", …" if len(dropped) > 5 else "")
        reading.warn(f"{where}: {len(dropped)} values are not finite numbers, dropped ({shown})")
    return numbers


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _status(value: object, reading: _Reading) -> str:
    if value is None:
        return "unknown"
    if not isinstance(value, str):
        reading.warn(f"{SIDECAR}: status is not a string; shown as unknown")
        return "unknown"
    status = value.strip().lower()
    return STATUS_ALIASES.get(status, status) or "unknown"


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
        return _finite(value)
    try:
        return _finite(float(value))
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
    lines, problems = read_csv_lines(path, MAX_CSV_BYTES)
    reading.warnings.extend(problems)
    return parse_metrics_lines(lines, reading.warnings)


def parse_metrics_lines(lines: list[str], warnings: list[str]) -> dict[str, Series]:
    """Series from CSV lines (header first); x is step, else epoch, else the row index ("row").

    A line repeating the header's first name (a header rewritten mid-file) starts a part read with it.
    """
    header = _cells(lines[0]) if lines else []
    if not header:
        return {}
    axis = next((name for name in AXES if name in header), "row")
    starts = _part_starts(lines, header[0])
    if len(starts) > 1:
        warnings.append(f"metrics.csv: header repeated {len(starts) - 1} times; parts read with their own")
    merged: dict[str, tuple[list[float], dict[str, list[float]]]] = {}
    tally = {"bad": 0, "no_x": 0, "long": 0}
    for part, (start, end) in enumerate(zip(starts, [*starts[1:], len(lines)], strict=True)):
        columns = _numeric_columns(_cells(lines[start]), lines[start + 1:end], start + 2, tally, warnings)
        _add_part(columns, axis, start - part, merged, tally)
    messages = {"bad": "cells are not finite numbers (NaN, Inf or text); skipped",
                "no_x": f"values have no {axis}; skipped",
                "long": "rows have more cells than the header; extra cells ignored"}
    warnings.extend(f"metrics.csv: {tally[key]} {text}" for key, text in messages.items() if tally[key])
    return {name: Series(ys, {k: v for k, v in xs.items() if len(v) == len(ys)})
            for name, (ys, xs) in merged.items() if ys}


Column = tuple[float | None, ...]


def _numeric_columns(header: list[str], body: list[str], first_line: int, tally: dict[str, int],
                     warnings: list[str]) -> dict[str, Column]:
    """Header name → one value per row (None where empty or not a finite number)."""
    matrix = _decode_as_json(body, len(header))
    if matrix is None:
        rows, problems = parse_csv_lines(body, "metrics.csv", first_line)
        warnings.extend(problems)
        matrix = [_row_values(row, len(header), tally) for row in rows]
    return dict(zip(header, zip(*matrix, strict=True), strict=False)) if matrix else {}


def _decode_as_json(body: list[str], width: int) -> list[list[float | None]] | None:
    """The fast path: plain numeric lines are a JSON array once empty cells read `null`.

    One C-level decode instead of a float() per cell; anything else (quotes, NaN, text, ragged
    rows) returns None and is read cell by cell.
    """
    if not body:
        return None
    text = "[[" + "],[".join(body) + "]]"
    text = text.replace(",,", ",null,").replace(",,", ",null,")  # twice: ",,," needs both passes
    text = text.replace("[,", "[null,").replace(",]", ",null]")
    try:
        matrix = _MATRIX.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(matrix) != len(body) or set(map(len, matrix)) != {width}:
        return None
    return matrix


def _row_values(row: list[str], width: int, tally: dict[str, int]) -> list[float | None]:
    if len(row) > width:
        tally["long"] += 1
    values: list[float | None] = [None] * width
    for i, cell in enumerate(row[:width]):
        if not cell:
            continue
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            values[i] = value
        else:
            tally["bad"] += 1
    return values


def _part_starts(lines: list[str], first: str) -> list[int]:
    """Where the header and its repeats are: lines starting with the header's first name."""
    if not first or _is_number(first) or "\n" + first not in "\n" + "\n".join(lines[1:]):
        return [0]
    return [i for i, line in enumerate(lines) if line.startswith(first) and _cells(line)[:1] == [first]]


def _add_part(columns: dict[str, Column], axis: str, first_row: int,
              merged: dict[str, tuple[list[float], dict[str, list[float]]]], tally: dict[str, int]) -> None:
    rows = len(next(iter(columns.values()), ()))
    x_by_row = columns.get(axis, (None,) * rows)
    if axis == "row":
        x_by_row = [float(first_row + i) for i in range(rows)]
    epochs = _forward_filled(columns["epoch"]) if axis == "step" and "epoch" in columns else None
    for name, column in columns.items():
        if name and name not in AXES:
            _add_points(merged.setdefault(name, ([], {})), column, axis, x_by_row, epochs, tally)


def _add_points(series: tuple[list[float], dict[str, list[float]]], column: Column, axis: str,
                x_by_row: Sequence[float | None], epochs: Sequence[float | None] | None,
                tally: dict[str, int]) -> None:
    present: Sequence[int] = range(len(column))
    if None in column:
        present = [i for i, value in enumerate(column) if value is not None]
    xs = _pick(x_by_row, present)
    if None in xs:
        tally["no_x"] += xs.count(None)
        present = [i for i in present if x_by_row[i] is not None]
        xs = _pick(x_by_row, present)
    ys, xs_by_axis = series
    ys.extend(_pick(column, present))
    xs_by_axis.setdefault(axis, []).extend(xs)
    epoch_xs = _pick(epochs, present) if epochs is not None else [None]
    if None not in epoch_xs:
        xs_by_axis.setdefault("epoch", []).extend(epoch_xs)


def _pick(values: Sequence, rows: Sequence[int]) -> list:
    return list(values) if rows == range(len(values)) else [values[i] for i in rows]


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _forward_filled(values: Column) -> Sequence[float | None]:
    if None not in values:
        return values
    last = None
    filled = []
    for value in values:
        last = value if value is not None else last
        filled.append(last)
    return filled


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
    """metrics.csv is published beside the run page (the full data behind downsampled plots)."""
    artifacts = []
    for name, publish_as in (("metrics.csv", "metrics.csv"), ("media.jsonl", None)):
        path = os.path.join(reading.run_dir, name)
        size = file_size(path) if reading.has(name) and reading.inside_roots(path) else None
        if size is not None:
            artifacts.append(Artifact(name, size, publish_as, path if publish_as else None))
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
