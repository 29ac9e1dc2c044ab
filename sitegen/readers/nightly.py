"""Reader for one entry of a NeMo-Curator nightly benchmark session (FORMATS.md §3).

An entry `{session}/{entry}/` holds the script's `params.json, metrics.json, tasks.pkl`: in
`benchmark_results/` (the nightly_benchmarking driver, and the benchmarking/ runner until
2026-01-06), or directly in the entry dir (the runner since, which passes
`--benchmark-results-path={session_entry_dir}`). Beside them: `logs/*.log`,
`artifacts/{pip-freeze.txt, conda-explicit.txt, sys-env.json}` (older) or the session's
`env.json`/`packages.txt` (newer), an optional `gpustats.csv`, and the driver's `results.json`:
the nightly_benchmarking shape (`run`/`ray`/`env`/`script_params_metrics`), the runner's flat one
(`name, run_id, cmd, exec_time_s, exit_code, timed_out, metrics, params, success, warnings,
requirements_not_met …`), or a `results.jsonl` as the old README names it (its last valid line).
The current runner writes results.json only once an entry is done: a flat entry with the
script's metrics but no results.json is one whose runner stopped or raised, which the runner
counts as failed. `tasks.pkl` is never opened: loading a pickle runs code.

Times come from results.json, else from the session name's timestamp, else from file mtimes.
The session name (`nightly-run-YYYYMMDD-HHMMSS`, `benchmark-run__YYYY-MM-DD__HH-MM-SS`,
`benchmark-run__YYYY-MM-DD_HH-MM-SS_UTC`) is read as UTC: the driver formats it in the machine's
local time (even the name that says UTC), which the name does not record, so on a machine not
set to UTC the time is off by its offset. It is the session's start, not the
entry's (entries run one after another).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from datetime import UTC, datetime
from typing import NamedTuple

import msgspec

from sitegen.model import Artifact, ComputeInfo, Problem, Run, Scalar
from sitegen.numbers import finite_number
from sitegen.readers._tolerant import (
    file_size,
    list_dir,
    mtime_or_none,
    read_json,
    read_jsonl,
)
from sitegen.readers._values import flatten
from sitegen.readers.base import ReadContext, Reading
from sitegen.readers.env_capture import CAPTURES, SESSION_CAPTURES, merge_packages, read_capture
from sitegen.readers.logs import LogFile, log_kind, read_logs
from sitegen.readers.stage_metrics import group_stages
from sitegen.redact import redact_text
from sitegen.slug import run_slug

NAME = "nightly"

COMPUTE = "compute.json"
RESULTS_DIR = "benchmark_results"
TASKS_NOTE = "not read: a pickle can run code when loaded"
MAX_FACT_CHARS = 2000
MAX_DRIVER_WARNINGS = 20

_STREAM_KINDS = {"stdout": "out", "stderr": "err"}
_LATEST_PLAUSIBLE_EPOCH = 1e11  # beyond year 5000: milliseconds or garbage, not seconds
_SESSION_TIMES = (
    (re.compile(r"(?<!\d)(\d{8}-\d{6})(?!\d)"), "%Y%m%d-%H%M%S"),  # nightly-run-20250901-020000
    (re.compile(r"(\d{4}-\d{2}-\d{2})__?(\d{2}-\d{2}-\d{2})"), "%Y-%m-%d %H-%M-%S"),  # benchmark-run__…
)


def read(run_dir: str, run_id: str, ctx: ReadContext) -> Run:
    """One benchmark entry; never raises on bad data (problems become warnings, or `problem`)."""
    run_dir = os.path.abspath(run_dir)
    session = os.path.basename(os.path.dirname(run_dir)) or None
    benchmark = os.path.basename(run_dir)
    base = dict(run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME, session=session,
                benchmark=benchmark, name=f"{benchmark} · {session}" if session else benchmark)
    reading = _Reading(run_dir, (ctx.root, *ctx.allowed))
    inside = reading.run_dir_inside
    names = reading.listing("") if inside else None
    if names is None:
        where = "vanished or is unreadable" if inside else "a link out of the configured roots; not read"
        return Run(**base, status="broken", problem=Problem(f"entry directory: {where}"), inputs=(run_dir,))

    script = _script_files(reading, names)
    driver, driver_problem = _read_driver(reading, names)
    script_metrics, metrics_problem = _read_object(reading, script.names, script.path("metrics.json"))
    problem = _problem(script, driver, driver_problem, script_metrics, metrics_problem, reading)
    metrics = {**_dict_field(driver, "metrics", reading), **(script_metrics or {})}  # the script's file wins
    unmet = _unmet_requirements(driver, reading)
    status, badges = _status(metrics, driver, reading)
    if status != "failed" and (unmet or _runner_stopped(script, driver, script_metrics)):
        status = "failed"
    summary = _summary(metrics, reading)
    stages = group_stages(summary)
    params = _params(reading, script, driver, ctx)
    facts = _facts(driver, ctx, reading)
    _driver_notes(driver, reading)
    packages, env, artifacts = _environment(reading, names, ctx)
    compute = _compute(reading, names, ctx)
    env = _lift_env_facts({**_driver_env(driver, ctx), **env}, facts)
    artifacts += _tasks_artifact(reading, script)
    logs, log_problems = read_logs(_find_logs(reading, names), ctx.log_tail_bytes)
    reading.warnings.extend(log_problems)
    created_at, ended_at = _times(driver, session, reading)  # last: mtimes of every input are a fallback
    return Run(
        **base, status="broken" if problem else status, badges=badges, created_at=created_at,
        ended_at=ended_at, facts=facts, params=params, summary=summary, logs=logs, artifacts=artifacts,
        env=env, packages=packages, compute=compute, stages=stages, unmet_requirements=unmet,
        warnings=reading.warnings, problem=problem, inputs=tuple(sorted(reading.inputs)),
    )


class _Reading(Reading):
    """A read of a session entry, whose files lie in subdirectories: every path is checked on its
    way down from the entry dir."""

    def listing(self, rel: str) -> frozenset[str] | None:
        """Entry names of a directory of the entry ("" for the entry itself), or None when absent."""
        path = self.use(rel) if rel else self.run_dir
        names = list_dir(path) if path else None
        return frozenset(names) if names is not None else None

    def use(self, rel: str) -> str | None:  # type: ignore[override]
        """`rel` made absolute and recorded as an input; None, with a warning, for a link out of the roots."""
        if not self.below_inside(rel):
            self.warn(f"{rel}: a link out of the configured roots; not followed")
            return None
        path = os.path.join(self.run_dir, rel)
        self.inputs.add(path)
        return path


# --- results.json, metrics.json, params.json -----------------------------------------------------


class _ScriptFiles(NamedTuple):
    """Where the script's params.json, metrics.json and tasks.pkl are: `benchmark_results/` or the
    entry dir itself ("")."""

    folder: str
    names: frozenset[str] | None  # the folder's entries; None when benchmark_results is unreadable

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name


def _script_files(reading: _Reading, names: frozenset[str]) -> _ScriptFiles:
    if RESULTS_DIR in names:
        return _ScriptFiles(RESULTS_DIR, reading.listing(RESULTS_DIR))
    return _ScriptFiles("", names)


def _read_object(
    reading: _Reading, names: frozenset[str] | None, rel: str
) -> tuple[dict | None, str | None]:
    """A JSON object; (None, None) when `names`, its directory's entries, lack it; (None, why) when
    it cannot be read."""
    name = os.path.basename(rel)
    if not names or name not in names:
        return None, None
    path = reading.use(rel)
    if path is None:
        return None, f"{name}: a link out of the configured roots"
    if name.endswith(".jsonl"):  # the old README's name: the last line that holds an object
        records, problems = read_jsonl(path)
        reading.warnings.extend(problems)
        value = next((record for record in reversed(records) if isinstance(record, dict)), None)
        return value, None if value is not None else f"{name}: no line holds a JSON object"
    value, problem = read_json(path)
    if problem is None and not isinstance(value, dict):
        problem = f"{name}: expected a JSON object, found {type(value).__name__}"
    return (value, None) if problem is None else (None, problem)


def _read_driver(reading: _Reading, names: frozenset[str]) -> tuple[dict | None, str | None]:
    """The driver's results as one flat dict (both shapes), from results.json, else results.jsonl."""
    name = "results.json" if "results.json" in names else "results.jsonl"
    results, problem = _read_object(reading, names, name)
    return (flat_results(results) if results is not None else None), problem


def flat_results(results: dict) -> dict:
    """Both results.json shapes as one flat dict: `run` fields lifted to the top (run-level metrics
    may sit in either place), script params/metrics as `params`/`metrics`, `ray` from
    `ray_cluster_data` (or `ray_data`, its first name) when the runner names it so."""
    run = results.get("run")
    flat = {**results, **run} if isinstance(run, dict) else dict(results)
    scripts = next((flat[key] for key in ("script_params_metrics", "script_persisted_data")
                    if isinstance(flat.get(key), dict)), {})
    for key in ("params", "metrics"):
        if flat.get(key) is None and key in scripts:
            flat[key] = scripts[key]
    for key in ("ray_cluster_data", "ray_data"):
        if flat.get("ray") is None and isinstance(flat.get(key), dict):
            flat["ray"] = flat[key]
    return flat


def _problem(
    script: _ScriptFiles, driver: dict | None, driver_problem: str | None,
    metrics: dict | None, metrics_problem: str | None, reading: _Reading,
) -> Problem | None:
    """Broken when benchmark_results is no directory or no result could be read; other trouble warns."""
    if script.names is None:
        reading.warn(driver_problem)
        return Problem(f"{RESULTS_DIR}: not a readable directory")
    if metrics_problem:
        reading.warn(driver_problem)
        if not isinstance((driver or {}).get("metrics"), dict):
            return Problem(metrics_problem)
        reading.warn(f"{metrics_problem}; the driver's copy in results.json is shown")
        return None
    if driver_problem:
        if metrics is None:
            return Problem(driver_problem)
        reading.warn(driver_problem)
    elif driver is None and metrics is None:
        reading.warn(f"no results yet: neither {script.path('metrics.json')} nor results.json "
                     "(still running, or the script wrote none)")
    elif driver is None and not script.folder:
        reading.warn("results.json is missing: the runner stopped or raised before it finished this entry "
                     "(it counts such an entry as failed; requirements were not checked); the script's "
                     "metrics.json is shown")
    return None


def _runner_stopped(script: _ScriptFiles, driver: dict | None, script_metrics: dict | None) -> bool:
    """A flat entry with the script's metrics but no results.json: the current runner writes it
    last, so its absence means the runner did not finish the entry."""
    return not script.folder and driver is None and script_metrics is not None


def _unmet_requirements(driver: dict | None, reading: _Reading) -> dict[str, str]:
    """The runner's `requirements_not_met`: metric → why (`throughput_docs_per_sec < 3500`)."""
    unmet = (driver or {}).get("requirements_not_met")
    if unmet is None:
        return {}
    if not isinstance(unmet, dict):
        reading.warn("results.json: requirements_not_met is not an object; ignored")
        return {}
    return {_trim(str(metric)): _trim(redact_text(why if isinstance(why, str) else _as_text(why)))
            for metric, why in sorted(unmet.items(), key=lambda item: str(item[0]))}


def _params(
    reading: _Reading, script: _ScriptFiles, driver: dict | None, ctx: ReadContext
) -> dict[str, Scalar]:
    """params.json, flattened; the driver's copy fills gaps. Redacted, sorted, NaN/Inf as text."""
    script_params, problem = _read_object(reading, script.names, script.path("params.json"))
    reading.warn(problem)
    params = flatten(script_params or {})
    for key, value in flatten(_dict_field(driver, "params", reading)).items():
        params.setdefault(key, value)
    params = {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in params.items()}
    return dict(sorted(ctx.redactor.mapping(params).items()))


def _dict_field(driver: dict | None, key: str, reading: _Reading) -> dict:
    value = driver.get(key) if driver else None
    if value is not None and not isinstance(value, dict):
        reading.warn(f"results.json: {key} is not an object; ignored")
        return {}
    return value or {}


# --- status, times, facts ------------------------------------------------------------------------


def _status(metrics: dict, driver: dict | None, reading: _Reading) -> tuple[str, tuple[str, ...]]:
    """Failed if anything says so (is_success/success false, a non-zero exit code, a timeout),
    completed if something says it succeeded, else unknown."""
    said: list[bool] = []
    if "is_success" in metrics:
        said += _flag(metrics, "is_success", "metrics.json", reading)
    timed_out = _flag(driver or {}, "timed_out", "results.json", reading)
    said += _flag(driver or {}, "success", "results.json", reading) + [not t for t in timed_out]
    exit_code = _exit_code(driver, reading)
    if exit_code is not None:
        said.append(exit_code == 0)
    badges = ("timed out",) if True in timed_out else ()
    if False in said:
        return "failed", badges
    return ("completed" if said else "unknown"), badges


def _flag(data: dict, key: str, where: str, reading: _Reading) -> list[bool]:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return [] if value is None else [value]
    reading.warn(f"{where}: {key} is not true or false ({str(value)[:40]!r}); ignored")
    return []


def _exit_code(driver: dict | None, reading: _Reading) -> int | None:
    value = (driver or {}).get("exit_code")
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    reading.warn(f"results.json: exit_code is not an integer ({str(value)[:40]!r}); ignored")
    return None


def _times(driver: dict | None, session: str | None, reading: _Reading) -> tuple[float | None, float | None]:
    """Start and end: results.json, else the session name (start) and the result files' mtimes."""
    driver = driver or {}
    started, ended = _epoch(driver, "started_at", reading), _epoch(driver, "ended_at", reading)
    exec_started = _epoch(driver, "exec_started_at", reading)
    exec_time = finite_number(driver.get("exec_time_s"))
    started = started if started is not None else exec_started
    if ended is None and exec_started is not None and exec_time is not None:
        ended = exec_started + exec_time
    if started is None:
        started = session_time(session or "")
    if started is not None and ended is not None:
        return started, ended
    inside = reading.run_dir + os.sep
    files = [path for path in reading.inputs if path.startswith(inside) and file_size(path) is not None]
    if started is None:
        started = min(filter(None, map(mtime_or_none, files)), default=None)
    if ended is None:
        results = [p for p in files if os.path.basename(p) in _RESULT_FILES]
        ended = max(filter(None, map(mtime_or_none, results)), default=None)
    return started, ended


def session_time(name: str) -> float | None:
    """Epoch seconds from a session name's timestamp, read as UTC (see the module docstring)."""
    for pattern, layout in _SESSION_TIMES:
        match = pattern.search(name)
        if match:
            try:
                return datetime.strptime(" ".join(match.groups()), layout).replace(tzinfo=UTC).timestamp()
            except ValueError:
                return None
    return None


def _epoch(driver: dict, key: str, reading: _Reading) -> float | None:
    value = driver.get(key)
    if value is None:
        return None
    seconds = finite_number(value)
    if seconds is None or not 0 <= seconds < _LATEST_PLAUSIBLE_EPOCH:
        reading.warn(f"results.json: {key} is not a time in epoch seconds ({str(value)[:40]!r}); ignored")
        return None
    return seconds


_RESULT_FILES = ("metrics.json", "results.json", "results.jsonl")
_DRIVER_FACTS = (  # (label, section of results.json or None for the top level, key, type shown)
    ("Exit code", None, "exit_code", int), ("Timed out", None, "timed_out", bool),
    ("Exec time (s)", None, "exec_time_s", float), ("Run ID", None, "run_id", str),
    ("Hostname", "env", "hostname", str), ("Git commit", "env", "git_commit", str),
    ("Image digest", "env", "image_digest", str), ("Ray version", "env", "ray_version", str),
    ("Ray address", "ray", "address", str), ("Ray CPUs", "ray", "num_cpus", float),
    ("Ray GPUs", "ray", "num_gpus", float), ("Object spilling", "ray", "enable_object_spilling", bool),
    # the current runner's ray_cluster_data is Ray's cluster_resources()
    ("Ray CPUs", "ray", "CPU", float), ("Ray GPUs", "ray", "GPU", float),
    ("Ray object store (bytes)", "ray", "object_store_memory", float),
)
_STATUS_FIELDS = ("exit_code", "timed_out")  # a wrong type is already reported by _status


def _facts(driver: dict | None, ctx: ReadContext, reading: _Reading) -> dict[str, Scalar]:
    """What the entry was, labelled for people; strings redacted and trimmed."""
    if not driver:
        return {}
    facts: dict[str, Scalar] = {}
    command = _command(driver.get("cmd"))
    if command:
        facts["Command"] = _trim(redact_text(command))
    elif driver.get("cmd") is not None:
        reading.warn("results.json: cmd is neither a string nor a list of strings; not shown")
    sections = {None: driver, **{name: _dict_field(driver, name, reading) for name in ("env", "ray")}}
    for label, section, key, kind in _DRIVER_FACTS:
        value = sections[section].get(key)
        shown = _typed(value, kind)
        if shown is not None:
            facts[label] = _trim(str(ctx.redactor.value(key, shown))) if isinstance(shown, str) else shown
        elif value is not None and key not in _STATUS_FIELDS:
            where = f"{section}.{key}" if section else key
            reading.warn(f"results.json: {where} is not a {_TYPE_NAMES[kind]}; not shown")
    return facts


_TYPE_NAMES = {str: "string", int: "whole number", float: "number", bool: "true or false"}


def _typed(value: object, kind: type) -> Scalar:
    """`value` if it is of the kind a fact shows (a finite number; true/false is no number), else None."""
    if kind is bool or isinstance(value, bool):
        return value if kind is bool and isinstance(value, bool) else None
    if kind is float:
        return value if finite_number(value) is not None else None  # type: ignore[return-value]
    return value if isinstance(value, kind) else None  # type: ignore[return-value]


def _lift_env_facts(env: dict[str, str], facts: dict[str, Scalar]) -> dict[str, str]:
    """The successor's env.json holds what the older results.json `env` held: shown as facts."""
    for label, section, key, _kind in _DRIVER_FACTS:
        if section == "env" and key in env and label not in facts:
            facts[label] = env.pop(key)
    return env


def _driver_notes(driver: dict | None, reading: _Reading) -> None:
    """What the driver itself reported: the successor's `warnings` list, an `error` message."""
    notes = (driver or {}).get("warnings")
    if isinstance(notes, list):
        for note in notes[:MAX_DRIVER_WARNINGS]:
            reading.warn(f"driver: {_trim(redact_text(note if isinstance(note, str) else _as_text(note)))}")
        if len(notes) > MAX_DRIVER_WARNINGS:
            reading.warn(f"driver: {len(notes) - MAX_DRIVER_WARNINGS} more warnings not shown")
    error = (driver or {}).get("error")
    if isinstance(error, str) and error.strip():
        reading.warn(f"driver error: {_trim(redact_text(error.strip()))}")


def _command(cmd: object) -> str | None:
    if isinstance(cmd, str):
        return cmd
    if isinstance(cmd, list) and all(isinstance(part, str) for part in cmd):
        return shlex.join(cmd)
    return None


def _driver_env(driver: dict | None, ctx: ReadContext) -> dict[str, str]:
    """The driver's env capture beyond what the facts show (platform, python …), as text."""
    env = driver.get("env") if driver else None
    if not isinstance(env, dict):
        return {}
    shown = {key for _label, section, key, _kind in _DRIVER_FACTS if section == "env"}
    plain = {str(k): _as_text(v) for k, v in env.items()
             if k not in shown and not isinstance(v, (dict, list))}
    return {k: str(v) for k, v in ctx.redactor.mapping(plain).items()}


# --- metrics and stages --------------------------------------------------------------------------


def _summary(metrics: dict, reading: _Reading) -> dict[str, float]:
    """Finite numbers only; booleans (is_success …) are flags, not metrics, and leave silently."""
    summary: dict[str, float] = {}
    dropped = []
    for name, value in metrics.items():
        if isinstance(value, bool):
            continue
        number = finite_number(value)
        if number is None:
            dropped.append(str(name))
        else:
            summary[str(name)] = number
    if dropped:
        shown = ", ".join(dropped[:5]) + (", …" if len(dropped) > 5 else "")
        reading.warn(f"metrics: {len(dropped)} values are not finite numbers, dropped ({shown})")
    return dict(sorted(summary.items()))


# --- environment captures, artifacts -------------------------------------------------------------


def _environment(
    reading: _Reading, names: frozenset[str], ctx: ReadContext
) -> tuple[dict[str, str], dict[str, str], list[Artifact]]:
    """Packages, the environment, and the captures and gpustats.csv as artifacts (see env_capture).
    The successor writes no captures per entry but `packages.txt` and `env.json` per session:
    they stand in for what the entry lacks."""
    listed = (reading.listing("artifacts") if "artifacts" in names else None) or frozenset()
    found = [(name, reading.use(f"artifacts/{name}"), f"artifacts/{name}")
             for name in CAPTURES if name in listed]
    for name, stands_for in SESSION_CAPTURES.items():
        path = os.path.join(os.path.dirname(reading.run_dir), name)
        if stands_for not in listed and reading.inside(path):
            reading.inputs.add(path)  # stat'ed even when absent: its appearance is a change
            if file_size(path) is not None:
                found.append((stands_for, path, f"{name} (session)"))
    values: dict[str, dict[str, str]] = {}
    artifacts: list[Artifact] = []
    for kind, path, shown_as in found:
        capture = read_capture(path, ctx.redactor) if path else None
        if capture is None:
            continue
        reading.warnings.extend(capture.problems)
        if capture.size is None:
            continue
        values[kind] = capture.values
        publish = None if capture.why_not else os.path.basename(path)
        artifacts.append(Artifact(shown_as, capture.size, publish, publish and path, capture.why_not or ""))
    path = reading.use("gpustats.csv") if "gpustats.csv" in names else None
    size = file_size(path) if path else None
    if size is not None:
        artifacts.append(Artifact("gpustats.csv", size, "gpustats.csv", path))
    packages = merge_packages(values.get("pip-freeze.txt", {}), values.get("conda-explicit.txt", {}))
    return packages, values.get("sys-env.json", {}), artifacts


def _compute(reading: _Reading, names: frozenset[str], ctx: ReadContext) -> ComputeInfo | None:
    """`artifacts/compute.json`, as `sitegen run` writes it (`sitegen compute`'s JSON)."""
    listed = (reading.listing("artifacts") if "artifacts" in names else None) or frozenset()
    if COMPUTE not in listed:
        return None
    value, problem = _read_object(reading, listed, f"artifacts/{COMPUTE}")
    reading.warn(problem)
    if value is None:
        return None
    try:
        return msgspec.convert(ctx.redactor.tree(value), ComputeInfo)
    except msgspec.ValidationError as exc:
        reading.warn(f"artifacts/{COMPUTE}: {exc}; not shown")
        return None


def _tasks_artifact(reading: _Reading, script: _ScriptFiles) -> list[Artifact]:
    """tasks.pkl is listed by its size (a stat); it is never opened."""
    if not script.names or "tasks.pkl" not in script.names:
        return []
    path = reading.use(script.path("tasks.pkl"))
    size = file_size(path) if path else None
    if size is None:
        return []
    return [Artifact(script.path("tasks.pkl"), size, None, None, TASKS_NOTE)]


# --- logs ----------------------------------------------------------------------------------------


def _find_logs(reading: _Reading, entry_names: frozenset[str]) -> list[LogFile]:
    """`logs/*.log` (stdout, stderr, ray_startup; the successor's stdouterr …), named by their stem."""
    names = reading.listing("logs") if "logs" in entry_names else None
    files = []
    for name in sorted(names or ()):
        stem, suffix = os.path.splitext(name)
        kind = log_kind(name)
        if kind is None or name.startswith("."):
            continue
        path = reading.use(f"logs/{name}")
        if path is not None:
            files.append(LogFile(path, stem if suffix == ".log" else name, _STREAM_KINDS.get(stem, kind)))
    return files


# --- values --------------------------------------------------------------------------------------


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _trim(text: str) -> str:
    return text if len(text) <= MAX_FACT_CHARS else text[:MAX_FACT_CHARS - 1] + "…"
