"""The successor benchmark config (NeMo-Curator's `benchmarking/nightly-benchmark.yaml`).

`paths[]` name host directories (and where a container mounts them: used when sitegen itself
runs in a container, as the upstream runner decides, by `/.dockerenv`), `datasets[]` give each
dataset's formats, entries carry `requirements`, `ray` settings are merged session → entry, and a
block with `enabled: false` is left out. Placeholders: `{session_entry_dir}`,
`{curator_repo_dir}` (the config's folder's parent, as in the Curator repository),
`{dataset:NAME,FORMAT}`, `{<path name>}`, and `${VAR}` from the environment (only where sitegen
uses the value: an unset variable in a Slack block does not stop a run).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from sitegen.runner.matrix import (
    SAFE_NAME,
    MlflowSettings,
    PlannedEntry,
    RayOptions,
    Timeout,
    fill_placeholders,
)
from sitegen.runner.requirements import Requirement, requirement_problems

DEFAULT_TIMEOUT_S = 7200  # the upstream runner's defaults
DEFAULT_MAX_TIMEOUT_S = 14340
CONTAINER_PREFIX = "/MOUNT"
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
ObjectStore = int | float | Literal["default"] | None  # bytes, a fraction of memory, or Ray's choice


class PathMapping(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    host_path: str
    container_path: str | None = None  # default: /MOUNT<host_path>


class DatasetFormat(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    type: str
    path: str


class Dataset(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    formats: list[DatasetFormat]


class GpuStatsRecorder(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    interval_s: float = 1.0  # sitegen run records no GPU stats: accepted, shown in the plan


class Sink(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """mlflow (tracking_uri, experiment) is what `sitegen run --sink mlflow` uses; slack and gdrive
    blocks are accepted and not acted on (their keys are the upstream sinks')."""

    name: Literal["mlflow", "slack", "gdrive"]
    enabled: bool = True
    tracking_uri: str | None = None
    experiment: str | None = None
    live_updates: bool | None = None
    thread_replies_for_failures_or_warnings_only: bool | None = None
    channel_id: str | None = None
    default_metrics: list[str] = []
    ping_users_on_failure: bool | None = None
    drive_folder_id: str | None = None
    service_account_file: str | None = None


class SinkData(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    additional_metrics: list[str] = []
    ping_on_failure: list[str] = []


class BenchmarkEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    script: str
    args: str = ""
    enabled: bool = True
    timeout_s: Timeout | None = None
    script_base_path: str | None = None  # default: scripts/ beside the config
    requirements: list[Requirement] = []
    ray: dict[str, object] = {}  # over the session's ray, key by key
    object_store_size: ObjectStore = None
    delete_scratch: bool | None = None
    gpu_mem_use_warning_threshold: Fraction | None = None
    sink_data: list[SinkData] = []


class BenchmarkConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    entries: list[BenchmarkEntry]
    paths: list[PathMapping] = []
    datasets: list[Dataset] = []
    results_path: str | None = None  # deprecated upstream in favour of paths[]; still read
    datasets_path: str | None = None
    model_weights_path: str | None = None
    default_timeout_s: Timeout = DEFAULT_TIMEOUT_S
    max_timeout_s: Timeout = DEFAULT_MAX_TIMEOUT_S
    cleanup_timeout_s: int | None = None  # for job generators: accepted
    min_timeout_s: int | None = None
    sinks: list[Sink] = []
    delete_scratch: bool = True
    object_store_size: ObjectStore = 0.5
    gpu_mem_use_warning_threshold: Fraction | None = None
    gpu_stats_recorder: GpuStatsRecorder | None = None
    ray: dict[str, object] = {}  # num_cpus, num_gpus, enable_object_spilling for every entry
    viewer_url: str | None = None
    viewer_url_template: str | None = None
    run_reason: str | None = None


def parse(raw: dict, where: str) -> BenchmarkConfig:
    """The config, its disabled blocks dropped except entries (a plan lists them, as disabled)."""
    raw = {key: _drop_disabled(value) if key != "entries" else value for key, value in raw.items()}
    config = msgspec.convert(raw, BenchmarkConfig)
    problems = [problem for index, entry in enumerate(config.entries)
                for problem in requirement_problems(entry.requirements, f"entries[{index}] ({entry.name})")]
    ceiling = f"exceeds max_timeout_s {config.max_timeout_s}"
    problems += [f"entries[{i}] ({e.name}): timeout_s {e.timeout_s} {ceiling}"
                 for i, e in enumerate(config.entries) if (e.timeout_s or 0) > config.max_timeout_s]
    if config.default_timeout_s > config.max_timeout_s:
        problems.append(f"default_timeout_s {config.default_timeout_s} {ceiling}")
    problems += repeated([p.name for p in config.paths], "paths")
    if problems:
        raise ValueError("; ".join(problems))
    return config


def resolved_paths(config: BenchmarkConfig, in_container: bool) -> dict[str, str]:
    """Path name → the directory it means here: the host path, or the container path inside one."""
    if config.paths:
        return {p.name: _container_path(p) if in_container else p.host_path for p in config.paths}
    legacy = {"results_path": config.results_path, "datasets_path": config.datasets_path,
              "model_weights_path": config.model_weights_path}
    return {name: f"{CONTAINER_PREFIX}{path}" if in_container else path
            for name, path in legacy.items() if path is not None}


def datasets_of(config: BenchmarkConfig, paths: Mapping[str, str], env: Mapping[str, str],
                problems: list[str]) -> dict[str, dict[str, str]]:
    """`{dataset: {format: path}}` with path placeholders filled."""
    return {dataset.name: {form.type: fill_placeholders(
                form.path, {}, paths, env, f"datasets ({dataset.name})", problems, strict=True)
                for form in dataset.formats}
            for dataset in config.datasets}


def plan_benchmark_entries(
    config: BenchmarkConfig, config_path: str, datasets: Mapping[str, Mapping[str, str]],
    paths: Mapping[str, str], session_dir: Path, env: Mapping[str, str],
) -> tuple[list[PlannedEntry], list[str]]:
    """Every entry (disabled ones too, marked so) with its command filled in, and every problem."""
    config_dir = Path(config_path).resolve().parent
    places = {**paths, "curator_repo_dir": str(config_dir.parent)}
    problems: list[str] = []
    planned = []
    for index, entry in enumerate(config.entries):
        where = f"entries[{index}] ({entry.name})"
        if not SAFE_NAME.fullmatch(entry.name):
            problems.append(f"{where}: name {entry.name!r} is not a plain directory name")
            continue
        entry_dir = session_dir / entry.name
        here = {**places, "session_entry_dir": str(entry_dir)}

        def fill(text: str, here: dict[str, str] = here, where: str = where) -> str:
            return fill_placeholders(text, datasets, here, env, where, problems, strict=True)

        base = Path(fill(entry.script_base_path)) if entry.script_base_path else config_dir / "scripts"
        try:
            argv = [str(base / fill(entry.script)), *shlex.split(fill(entry.args))]
        except ValueError as exc:
            problems.append(f"{where}: args: {exc}")
            continue
        try:
            ray = msgspec.convert({**config.ray, **entry.ray}, RayOptions)
        except msgspec.ValidationError as exc:
            problems.append(f"{where}: ray: {exc}")
            continue
        store = entry.object_store_size if entry.object_store_size is not None else config.object_store_size
        planned.append(PlannedEntry(
            name=entry.name, argv=argv, timeout_s=entry.timeout_s or config.default_timeout_s,
            delete_scratch=config.delete_scratch if entry.delete_scratch is None else entry.delete_scratch,
            ray=ray, requirements=tuple(entry.requirements),
            object_store_bytes=_object_store_bytes(store), enabled=entry.enabled, add_results_path=False,
        ))
    return planned, problems + repeated([e.name for e in config.entries], "entries")


def mlflow_settings(config: BenchmarkConfig) -> MlflowSettings | None:
    sink = next((s for s in config.sinks if s.name == "mlflow" and s.enabled), None)
    if sink is None or not sink.tracking_uri:
        return None
    return MlflowSettings(sink.tracking_uri, sink.experiment or "sitegen")


def notes(config: BenchmarkConfig) -> list[str]:
    """What the config asks for that `sitegen run` does not do, told in the plan and at the start."""
    told = [f"sink {s.name}: not run by sitegen (only mlflow is, with --sink mlflow)"
            for s in config.sinks if s.enabled and s.name != "mlflow"]
    if config.gpu_stats_recorder and config.gpu_stats_recorder.interval_s > 0:
        told.append("gpu_stats_recorder: sitegen run records no gpustats.csv")
    return told


def _object_store_bytes(size: ObjectStore) -> int | None:
    """Bytes; a fraction is of this machine's memory; None or "default" lets Ray choose."""
    if size is None or size == "default":
        return None
    if isinstance(size, float):
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * size)
    return int(size)


def repeated(names: list[str], where: str) -> list[str]:
    return [f"{where}: {name!r} appears more than once"
            for name in sorted(set(names)) if names.count(name) > 1]


def _container_path(mapping: PathMapping) -> str:
    return mapping.container_path or f"{CONTAINER_PREFIX}{mapping.host_path}"


def _drop_disabled(value: object) -> object:
    """Blocks with `enabled: false` left out, at any depth (the upstream runner's rule)."""
    if isinstance(value, dict):
        return {k: _drop_disabled(v) for k, v in value.items() if not _disabled(v)}
    if isinstance(value, list):
        return [_drop_disabled(v) for v in value if not _disabled(v)]
    return value


def _disabled(value: object) -> bool:
    return isinstance(value, dict) and value.get("enabled", True) is False
