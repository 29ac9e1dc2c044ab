"""The layouts a run directory can have, and their readers.

Detection needs only a directory's name and entry names, so it lives here and costs no imports; a
reader's module is imported when a run of its layout is read (a no-op build imports none).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from sitegen.readers.base import Reader


class Layout(NamedTuple):
    name: str  # also the reader's module: sitegen.readers.<name>
    version: int  # bump when the reader reads differently: every run of the layout is read again
    claims: Callable[[str, Set[str]], bool]  # from the directory's name and its entry names


# Serving-benchmark result folders (FORMATS.md §1.2); the jobdir reader parses the same names.
RESULT_DIR = re.compile(r"(sglang|vllm|gap|sa-bench)_isl_(\d+)_osl_(\d+)")
CUSTOM_RESULT_PREFIX = "sa-bench_custom_"
EVENT_LOG = re.compile(r"events(_[0-9_]+)?\.jsonl")


def is_result_dir_name(name: str) -> bool:
    if name.startswith(CUSTOM_RESULT_PREFIX):
        return len(name) > len(CUSTOM_RESULT_PREFIX)
    return "_isl_" in name and RESULT_DIR.match(name) is not None


def _claims_jobdir(dir_name: str, names: Set[str]) -> bool:
    """A numeric job id first (`3667_1P_1D_20251110_192145`, `1543570`), and `{jobid}.json`, a
    result folder or the batch logs `log.out`/`log.err` among the entries."""
    job_id = dir_name.split("_", 1)[0]
    if not (job_id.isascii() and job_id.isdigit()):
        return False
    if f"{job_id}.json" in names or "log.out" in names or "log.err" in names:
        return True
    return any(map(is_result_dir_name, names))


def _claims_nightly(_dir_name: str, names: Set[str]) -> bool:
    """`benchmark_results/` (the older drivers), or the current runner's flat entry: the script's
    `params.json` beside the runner's `results.json` or `tasks.pkl`, or beside `metrics.json` and
    `logs/` (an entry the runner did not finish). `metrics.json`, `results.json` or `logs/` alone,
    or together without `params.json`, are too common to claim."""
    if "benchmark_results" in names:
        return True
    if "params.json" not in names:
        return "tasks.pkl" in names and "metrics.json" in names
    return "results.json" in names or "tasks.pkl" in names or ("metrics.json" in names and "logs" in names)


# A serving-benchmark client's own output dir: its signature files (FORMATS.md §1.5-1.6 and the
# clients' default names). vLLM's default result name:
# `{backend}-{rate}qps[-concurrency{N}]-{model}-{date}.json`
SERVING_CLIENT_FILES = {
    "profile_export_aiperf.json": "aiperf", "sweep_aggregate": "aiperf",
    "profile_export_genai_perf.json": "genai-perf", "benchmarks.json": "guidellm",
    "experiment_metadata.json": "genai-bench", "summary_lifecycle_metrics.json": "inference-perf",
    "stage_0_lifecycle_metrics.json": "inference-perf", "benchmark-rollup.csv": "sa-bench rollup",
}
VLLM_RESULT_NAME = re.compile(r"(.+?)-(?:inf|\d+(?:\.\d+)?)qps(?:-concurrency\d+)?-(.+)-(\d{8}-\d{6})\.json")
SGLANG_RESULT_NAME = re.compile(r"[a-z0-9-]+_\d{4}_\d+_(?:\d+_\d+|sharegpt)\.jsonl")


def serving_client(names: Set[str]) -> str | None:
    """The client whose output these entry names are, if any."""
    for name, client in SERVING_CLIENT_FILES.items():
        if name in names:
            return client
    for name in names:
        if name.endswith(".json") and "qps" in name and VLLM_RESULT_NAME.fullmatch(name):
            return "vllm bench serve"
        if name.endswith(".jsonl") and SGLANG_RESULT_NAME.fullmatch(name):
            return "sglang bench_serving"
    return None


def is_event_log_name(name: str) -> bool:
    """`events.jsonl`, or a newer DataJuicer writer's `events_<YYYYMMDD_HHMMSS>.jsonl`."""
    return name.startswith("events") and EVENT_LOG.fullmatch(name) is not None


# In detection order: the first layout that claims a directory reads it.
LAYOUTS: tuple[Layout, ...] = (
    Layout("sidecar", 4, lambda _name, names: "sidecar.json" in names),  # 4: summary stats, requeued, files
    Layout("jobdir", 3, _claims_jobdir),  # 3: other clients' files in result folders
    Layout("nightly", 4, _claims_nightly),  # 4: the current runner's flat entries, requirements_not_met
    Layout("eventlog", 3, lambda _name, names: any(map(is_event_log_name, names))),  # 3: its summary redacted
    Layout("serving", 1, lambda _name, names: serving_client(names) is not None),  # after all others
    Layout("mlflow", 3, lambda _name, _names: False),  # 3: file stores read from their files, never MLflow
)
# What each layout needs, told when a root holds none of them (README "Layouts read" has the detail).
LOOKED_FOR = {
    "sidecar": "training runs: a dir holding sidecar.json (stable-pretraining)",
    "jobdir": "serving jobs: a dir named by a numeric job id holding {jobid}.json, log.out/log.err "
              "or *_isl_*_osl_* result folders (srt-slurm)",
    "nightly": "nightly sessions: entries holding benchmark_results/, or params.json beside results.json "
               "or tasks.pkl (NeMo-Curator)",
    "eventlog": "processing jobs: a dir holding events.jsonl or events_<time>.jsonl (DataJuicer)",
    "serving": "serving-benchmark clients' output: profile_export_aiperf.json, benchmarks.json (guidellm), "
               "experiment_metadata.json (genai-bench), summary_lifecycle_metrics.json (inference-perf), "
               "vllm bench serve / sglang bench_serving results, benchmark-rollup.csv",
    "mlflow": "MLflow stores: an mlruns/ dir or an mlflow.db file, or a root that is a tracking URI",
}
_VERSIONS = {layout.name: layout.version for layout in LAYOUTS}
LAYOUT_NAMES = frozenset(_VERSIONS)


def no_runs_message() -> str:
    """What to tell a user whose root holds no run of any layout."""
    looked_for = "; ".join(LOOKED_FOR[layout.name] for layout in LAYOUTS)
    return (f"no runs found in this root; looked for {looked_for}. The minimum files of each layout "
            "are in the README, section \"Layouts read\"")


def layout_of(dir_name: str, names: Set[str]) -> str | None:
    """The name of the first layout that claims a directory with these entries, if any."""
    return next((layout.name for layout in LAYOUTS if layout.claims(dir_name, names)), None)


def reader_version(name: str) -> int:
    return _VERSIONS[name]


def reader_named(name: str) -> Reader:
    if name not in _VERSIONS:
        raise KeyError(name)
    return import_module(f"sitegen.readers.{name}")  # type: ignore[return-value]
