"""What a session will run: either config schema (sitegen's matrix, or NeMo-Curator's successor
`benchmarking/` config, told apart by its top-level keys) made into one plan, and the plan told
in words (`sitegen run --dry-run`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from sitegen.errors import ConfigError
from sitegen.runner import benchmark_config
from sitegen.runner.matrix import (
    MlflowSettings,
    PlannedEntry,
    SlackSettings,
    fill_env,
    load_datasets,
    load_matrix,
    plan_entries,
    read_config_yaml,
)

# keys only the successor config has: one of them at the top level picks its schema
SUCCESSOR_KEYS = frozenset({
    "paths", "datasets", "sinks", "results_path", "datasets_path", "model_weights_path", "max_timeout_s",
    "cleanup_timeout_s", "min_timeout_s", "object_store_size", "gpu_mem_use_warning_threshold",
    "gpu_stats_recorder", "ray", "viewer_url", "viewer_url_template", "run_reason",
})


class Plan(msgspec.Struct, frozen=True):
    schema: str  # "matrix" or "benchmarking"
    session_dir: Path
    results_dir: Path
    entries: list[PlannedEntry]
    mlflow: MlflowSettings | None = None
    slack: SlackSettings | None = None
    wandb: dict[str, object] | None = None
    notes: list[str] = []  # what the config asks that sitegen run does not do


def plan_session(
    config_path: str, datasets_path: str | None, session_name: str, results_dir: str | None,
    env: Mapping[str, str],
) -> Plan:
    """The plan; every problem with the config (datasets, formats, variables, placeholders,
    requirements) raised as one ConfigError."""
    raw = read_config_yaml(config_path)
    datasets = load_datasets(datasets_path)
    if isinstance(raw, dict) and SUCCESSOR_KEYS & set(raw):
        return _benchmarking_plan(config_path, raw, datasets, session_name, results_dir, env)
    matrix = load_matrix(config_path, raw)
    problems: list[str] = []
    chosen = results_dir or fill_env(matrix.results_dir or "results", env, "results_dir", problems)
    if problems:
        raise ConfigError(f"{config_path}: " + "; ".join(problems))
    # --results-dir is relative to the working dir; the matrix's results_dir to the matrix file
    config_dir = Path(config_path).resolve().parent
    base = Path(chosen) if results_dir or os.path.isabs(chosen) else config_dir / chosen
    session_dir = base.resolve() / session_name
    entries = plan_entries(matrix, config_path, datasets, session_dir, env)
    return Plan("matrix", session_dir, base.resolve(), entries, matrix.mlflow, matrix.slack, matrix.wandb)


def _benchmarking_plan(
    config_path: str, raw: dict, extra_datasets: Mapping[str, Mapping[str, str]], session_name: str,
    results_dir: str | None, env: Mapping[str, str],
) -> Plan:
    keys = ", ".join(sorted(SUCCESSOR_KEYS & set(raw)))
    which = f"read as a NeMo-Curator benchmarking/ config, for its keys {keys}"
    try:
        config = benchmark_config.parse(raw, config_path)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ConfigError(f"{config_path} ({which}): {exc}") from None
    problems: list[str] = []
    container = in_container()
    paths = {name: fill_env(path, env, f"paths ({name})", problems)
             for name, path in benchmark_config.resolved_paths(config, container).items()}
    if results_dir is None and "results_path" not in paths:
        problems.append("paths: no results_path (or pass --results-dir)")
    base = Path(results_dir or paths.get("results_path") or ".").resolve()
    session_dir = base / session_name
    datasets = {**benchmark_config.datasets_of(config, paths, env, problems), **extra_datasets}
    entries, entry_problems = benchmark_config.plan_benchmark_entries(
        config, config_path, datasets, paths, session_dir, env)
    problems += entry_problems
    if problems:
        raise ConfigError(f"{config_path}: " + "; ".join(problems))
    mlflow = benchmark_config.mlflow_settings(config)
    side = "container paths (/.dockerenv exists)" if container else "host paths"
    notes = [f"paths: {side}", *benchmark_config.notes(config)]
    return Plan("benchmarking", session_dir, base, entries, mlflow, notes=notes)


def in_container() -> bool:
    """Whether sitegen runs in a container, told as the upstream runner tells it."""
    return os.path.exists("/.dockerenv")


def describe(plan: Plan) -> str:
    """The plan as `sitegen run --dry-run` prints it: one block per entry."""
    enabled = sum(entry.enabled for entry in plan.entries)
    lines = [f"plan ({plan.schema} config): {enabled} of {len(plan.entries)} entries enabled, "
             f"session → {plan.session_dir}"]
    lines += [f"note: {note}" for note in plan.notes]
    for entry in plan.entries:
        state = "" if entry.enabled else "  (disabled: will not run)"
        lines.append(f"\nentry {entry.name}{state}")
        lines.append(f"  command:   python {' '.join(entry.argv)}")
        lines.append(f"  timeout:   {entry.timeout_s} s")
        lines.append(f"  resources: {_resources(entry)}")
        told = "; ".join(r.describe() for r in entry.requirements) or "none"
        lines.append(f"  requirements: {told}")
    return "\n".join(lines) + "\n"


def _resources(entry: PlannedEntry) -> str:
    ray = entry.ray
    cpus = f"{ray.num_cpus} CPUs" if ray.num_cpus is not None else "all CPUs"
    store = f"{entry.object_store_bytes} B" if entry.object_store_bytes else "Ray's default"
    spilling = "object spilling on" if ray.enable_object_spilling else "object spilling off"
    return f"{cpus}, {ray.num_gpus} GPUs, object store {store}, {spilling}"
