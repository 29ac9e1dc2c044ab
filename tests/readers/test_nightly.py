"""The nightly reader on benchmark entries written from FORMATS.md §3: what a user sees on the run page."""

from __future__ import annotations

import ast
import json
import math
import os
import pickle
import re
from pathlib import Path

import msgspec
import pytest
from conftest import age, make_config, run_build
from runs_json import read_runs

from sitegen.model import Run
from sitegen.readers import env_capture, layout_of, nightly, stage_metrics
from sitegen.readers.base import ReadContext
from sitegen.readers.env_capture import merge_packages, parse_conda_explicit, parse_pip_freeze
from sitegen.readers.stage_metrics import group_stages

SESSION = "nightly-run-20250901-020000"
SESSION_START = 1756692000.0  # 2025-09-01 02:00:00 UTC
STARTED = 1756692100.5
ENDED = STARTED + 321.25
SECRET = "s3cr3tPassw0rd"
HF_TOKEN = "hf_abcdefghijklmnopqrstuvwxyz012345"

STAGE_METRICS = {
    "stage_file_partitioning_process_time_sum": 12.0, "stage_file_partitioning_process_time_mean": 3.0,
    "stage_file_partitioning_process_time_std": 0.5, "stage_file_partitioning_num_items_processed_sum": 40.0,
    "stage_file_partitioning_num_items_processed_mean": 10.0,
    "stage_file_partitioning_num_items_processed_std": 0.0,
    "jsonl_reader_actor_idle_time_sum": 1.5, "jsonl_reader_actor_idle_time_mean": 0.5,
    "jsonl_reader_actor_idle_time_std": 0.1,
}
SCRIPT_METRICS = {"is_success": True, "time_taken": 321.0, "num_removed": 1234, "num_output_tasks": 64}
PARAMS = {"executor": "xenna", "input_path": "/raid/cleaned_cc", "id_field": "_curator_dedup_id",
          "files_per_partition": 1, "max_files": 100, "use_id_generator": False,
          "storage": {"endpoint": f"https://bob:{SECRET}@s3.example/bucket", "hf_token": HF_TOKEN}}


def nightly_results(params: dict, metrics: dict, **run: object) -> dict:
    """results.json as the nightly_benchmarking driver writes it (one object, FORMATS.md §3.2)."""
    return {
        "run": {"name": "removal_curator_dedup_id_xenna",
                "cmd": f"python removal_benchmark.py --executor xenna --hf-token={HF_TOKEN}",
                "started_at": STARTED, "ended_at": ENDED, "exec_started_at": STARTED + 5,
                "logs_dir": "/raid/results/logs", **run},
        "ray": {"address": "127.0.0.1:6379", "num_cpus": 128, "num_gpus": 0, "enable_object_spilling": False},
        "env": {"hostname": "dgx-07", "ray_version": "2.49.0", "git_commit": "13d43f58f",
                "image_digest": "unknown"},
        "script_params_metrics": {"params": params, "metrics": {**metrics, **STAGE_METRICS}},
    }


def successor_results(params: dict, metrics: dict, **fields: object) -> dict:
    """The successor's flat results.json (benchmarking/, FORMATS.md §3.3)."""
    return {
        "name": "removal_curator_dedup_id_xenna", "run_id": "removal_curator_dedup_id_xenna-1756692100",
        "cmd": ["python", "removal_benchmark.py", "--executor", "xenna"],
        "started_at": STARTED, "ended_at": ENDED, "exec_started_at": STARTED + 5, "exec_time_s": 316.25,
        "exit_code": 0, "timed_out": False, "logs_dir": "/raid/results/logs",
        "ray_cluster_data": {"num_cpus": 64, "num_gpus": 8}, "gpu_stats": [], "warnings": [],
        "metrics": {**metrics, **STAGE_METRICS}, "params": params, "success": True, **fields,
    }


def write_entry(
    session_dir: Path, name: str = "removal_curator_dedup_id_xenna", *,
    params: object = PARAMS, metrics: object = SCRIPT_METRICS, results: object = "nightly",
    results_name: str = "results.json", logs: dict[str, str] | None = None,
    artifacts: dict[str, str] | None = None, tasks: bytes | None = b"\x80\x04]\x94.",
) -> Path:
    """An entry dir as the driver leaves it; `None` leaves a file out, `str` writes it verbatim."""
    entry = session_dir / name
    (entry / "benchmark_results").mkdir(parents=True, exist_ok=True)
    for file_name, value in (("params.json", params), ("metrics.json", metrics)):
        if value is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            (entry / "benchmark_results" / file_name).write_text(text)
    if tasks is not None:
        (entry / "benchmark_results" / "tasks.pkl").write_bytes(tasks)
    if results == "nightly":
        results = nightly_results(params if isinstance(params, dict) else {}, SCRIPT_METRICS)
    if results is not None:
        (entry / results_name).write_text(results if isinstance(results, str) else json.dumps(results))
    logs = {"stdout.log": "reading 100 files\ndone\n", "stderr.log": "", "ray_startup.log": "ray started\n"} \
        if logs is None else logs
    for file_name, text in logs.items():
        (entry / "logs").mkdir(exist_ok=True)
        (entry / "logs" / file_name).write_text(text)
    sys_env = {"python": "3.12.3", "platform": "Linux-x86_64", "executable": "/usr/bin/python3",
               "cuda_visible_devices": "0,1"}
    if artifacts is None:
        artifacts = {"pip-freeze.txt": "numpy==1.26.4\nray==2.49.0\n", "sys-env.json": json.dumps(sys_env)}
    for file_name, text in artifacts.items():
        (entry / "artifacts").mkdir(exist_ok=True)
        (entry / "artifacts" / file_name).write_text(text)
    return entry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def session_dir(root: Path) -> Path:
    return root / SESSION


def read(entry: Path, root: Path, *allowed: Path) -> Run:
    ctx = ReadContext(root=str(root), allowed=tuple(map(str, allowed)))
    run = nightly.read(str(entry), entry.relative_to(root).as_posix(), ctx)
    msgspec.msgpack.encode(run)  # the build caches every Run
    json.dumps(msgspec.to_builtins(run), allow_nan=False)  # pages embed it: no NaN, no Infinity
    return run


def warned(run: Run, *fragments: str) -> bool:
    return any(all(f in w for f in fragments) for w in run.warnings)


# --- detection -----------------------------------------------------------------------------------


def test_claims_entries_of_every_runner_layout_and_not_their_neighbours():
    assert layout_of("removal_xenna", {"benchmark_results", "logs", "artifacts", "results.json"}) == "nightly"
    assert layout_of("anything", {"benchmark_results"}) == "nightly"
    flat = {"params.json", "metrics.json", "tasks.pkl", "results.json", "logs", "ray_cluster"}
    assert layout_of("modifier_raydata", flat) == "nightly"  # the current runner: no benchmark_results/
    assert layout_of("timed_out", {"params.json", "results.json", "logs"}) == "nightly"  # no metrics.json
    assert layout_of("unfinished", {"params.json", "metrics.json", "logs"}) == "nightly"  # no results.json
    assert layout_of("unfinished", {"params.json", "metrics.json", "tasks.pkl"}) == "nightly"
    assert layout_of(SESSION, {"removal_xenna", "env.json", "packages.txt"}) is None  # the session
    assert layout_of("data_setup_x", {"results.json", "logs"}) is None  # the runner's data setups
    assert layout_of("entry", {"results.json", "logs", "metrics.json"}) is None
    assert layout_of("experiment", {"metrics.json"}) is None
    assert layout_of("experiment", {"params.json", "metrics.json"}) is None  # a common pair elsewhere
    assert layout_of("entry", {"benchmark_results.tmp", "benchmark_results_old"}) is None
    assert layout_of("run", {"sidecar.json", "benchmark_results"}) == "sidecar"  # detection order


# --- a whole entry -------------------------------------------------------------------------------


def test_a_successful_entry(session_dir: Path, root: Path):
    entry = write_entry(session_dir, artifacts={
        "pip-freeze.txt": "numpy==1.26.4\nPyYAML==6.0.1\n",
        "conda-explicit.txt": "@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/linux-64/"
                              "python-3.12.3-hab00c5b_0_cpython.conda#0123abcd\n",
        "sys-env.json": json.dumps({"python": "3.12.3", "platform": "Linux-x86_64",
                                    "executable": "/usr/bin/python3", "cuda_visible_devices": "0,1"}),
    })
    run = read(entry, root)

    assert (run.kind, run.status, run.problem, run.warnings) == ("nightly", "completed", None, [])
    assert (run.session, run.benchmark) == (SESSION, "removal_curator_dedup_id_xenna")
    assert run.name == f"removal_curator_dedup_id_xenna · {SESSION}"
    assert run.run_id == f"{SESSION}/removal_curator_dedup_id_xenna"
    assert run.slug.startswith("nightly-run-20250901-020000-removal_curator_dedup_id_xenna-")
    assert (run.created_at, run.ended_at) == (STARTED, ENDED)
    assert run.badges == ()
    assert run.facts == {
        "Command": "python removal_benchmark.py --executor xenna --hf-token=***",
        "Hostname": "dgx-07", "Git commit": "13d43f58f", "Image digest": "unknown", "Ray version": "2.49.0",
        "Ray address": "127.0.0.1:6379", "Ray CPUs": 128, "Ray GPUs": 0, "Object spilling": False,
    }
    assert run.params["executor"] == "xenna" and run.params["max_files"] == 100
    assert run.params["use_id_generator"] is False
    assert run.params["storage.hf_token"] == "***"
    assert run.params["storage.endpoint"] == "https://***@s3.example/bucket"
    assert list(run.params) == sorted(run.params)
    assert "is_success" not in run.summary
    assert run.summary["time_taken"] == 321.0 and run.summary["num_removed"] == 1234
    assert run.summary["stage_file_partitioning_process_time_mean"] == 3.0  # driver keys kept as they are
    assert set(run.summary) == {"time_taken", "num_removed", "num_output_tasks", *STAGE_METRICS}
    assert run.stages == {
        "jsonl_reader": {"actor_idle_time": {"sum": 1.5, "mean": 0.5, "std": 0.1}},
        "stage_file_partitioning": {
            "num_items_processed": {"sum": 40.0, "mean": 10.0, "std": 0.0},
            "process_time": {"sum": 12.0, "mean": 3.0, "std": 0.5},
        },
    }
    assert [(s.name, s.kind, s.slug) for s in run.logs] == [
        ("ray_startup", "log", "ray_startup"), ("stderr", "err", "stderr"), ("stdout", "out", "stdout")]
    assert run.logs[2].text == "reading 100 files\ndone\n"
    assert run.packages == {"numpy": "1.26.4", "python": "3.12.3", "PyYAML": "6.0.1"}
    assert run.env == {"cuda_visible_devices": "0,1", "executable": "/usr/bin/python3",
                       "platform": "Linux-x86_64", "python": "3.12.3"}
    artifacts = {a.name: a for a in run.artifacts}
    for name in ("pip-freeze.txt", "conda-explicit.txt", "sys-env.json"):
        artifact = artifacts[f"artifacts/{name}"]
        assert (artifact.publish_as, artifact.source) == (name, str(entry / "artifacts" / name))
        assert artifact.size == (entry / "artifacts" / name).stat().st_size and artifact.note == ""
    tasks = artifacts["benchmark_results/tasks.pkl"]
    assert (tasks.size, tasks.publish_as, tasks.source) == (5, None, None)
    assert tasks.note == "not read: a pickle can run code when loaded"
    files = ["results.json", "benchmark_results/params.json", "benchmark_results/metrics.json",
             "benchmark_results/tasks.pkl", "logs/stdout.log", "logs/stderr.log", "logs/ray_startup.log",
             "artifacts/pip-freeze.txt", "artifacts/conda-explicit.txt", "artifacts/sys-env.json"]
    dirs = ["benchmark_results", "logs", "artifacts"]
    assert set(run.inputs) == {str(entry)} | {str(entry / rel) for rel in files + dirs}
    assert list(run.inputs) == sorted(run.inputs)


def test_a_failed_entry_without_metrics_or_driver_results(session_dir: Path, root: Path):
    entry = write_entry(session_dir, params=None, metrics={"is_success": False}, results=None, tasks=None,
                        logs={"stderr.log": "Traceback (most recent call last):\n  File \"r.py\"\n"
                                            "FileNotFoundError: /raid/cleaned_cc\n"}, artifacts={})
    run = read(entry, root)
    assert run.status == "failed" and run.problem is None and run.warnings == []
    assert run.summary == {} and run.stages == {} and run.params == {} and run.facts == {}
    assert run.created_at == SESSION_START  # no results.json: the session name's time (UTC)
    assert run.ended_at == (entry / "benchmark_results" / "metrics.json").stat().st_mtime
    assert run.logs[0].error_summary == "FileNotFoundError: /raid/cleaned_cc"
    assert run.artifacts == [] and run.packages == {} and run.env == {}


def test_a_timed_out_entry(session_dir: Path, root: Path):
    results = successor_results(PARAMS, {}, exit_code=-9, timed_out=True, success=False, exec_time_s=1800.0)
    entry = write_entry(session_dir, metrics=None, results=results, logs={"stdouterr.log": "working\n"})
    run = read(entry, root)
    assert (run.status, run.badges) == ("failed", ("timed out",))
    assert run.facts["Timed out"] is True and run.facts["Exit code"] == -9
    assert run.facts["Exec time (s)"] == 1800.0
    assert [s.name for s in run.logs] == ["stdouterr"]


@pytest.mark.parametrize(("exit_code", "timed_out", "is_success", "success", "status"), [
    (0, False, True, True, "completed"),
    (0, False, True, False, "failed"),  # the successor's requirements were not met
    (1, False, None, None, "failed"),
    (0, None, False, None, "failed"),
    (0, None, None, None, "completed"),  # the nightly driver's own rule: return code 0
    (None, None, None, None, "unknown"),
])
def test_status_from_every_signal(session_dir, root, exit_code, timed_out, is_success, success, status):
    fields = {"exit_code": exit_code, "timed_out": timed_out, "success": success}
    results = successor_results({}, {}, **fields)
    metrics = {"time_taken": 1.0} if is_success is None else {"is_success": is_success}
    run = read(write_entry(session_dir, metrics=metrics, results=results), root)
    assert run.status == status and run.warnings == []


# --- the driver's results file in its three shapes -----------------------------------------------


def test_results_json_jsonl_and_the_successor_format_read_alike(root: Path):
    nested = write_entry(root / "s1", results=nightly_results(PARAMS, SCRIPT_METRICS))
    older = {"run": {"name": "x", "started_at": 1.0}, "script_params_metrics": {"metrics": {}}}
    lines = [json.dumps(older), "{not json", json.dumps(nightly_results(PARAMS, SCRIPT_METRICS))]
    jsonl = write_entry(root / "s2", results="\n".join(lines) + "\n", results_name="results.jsonl")
    flat = write_entry(root / "s3", results=successor_results(PARAMS, SCRIPT_METRICS))
    runs = [read(entry, root) for entry in (nested, jsonl, flat)]

    assert [r.status for r in runs] == ["completed"] * 3
    assert [(r.created_at, r.ended_at) for r in runs] == [(STARTED, ENDED)] * 3
    assert runs[0].summary == runs[1].summary == runs[2].summary
    assert runs[0].stages == runs[1].stages == runs[2].stages != {}
    assert runs[0].facts == runs[1].facts
    assert runs[0].warnings == [] and runs[2].warnings == []
    assert runs[1].warnings == ["results.jsonl: 1 invalid lines skipped (first at line 2)"]
    assert runs[2].facts == {
        "Command": "python removal_benchmark.py --executor xenna", "Exit code": 0, "Timed out": False,
        "Exec time (s)": 316.25, "Run ID": "removal_curator_dedup_id_xenna-1756692100",
        "Ray CPUs": 64, "Ray GPUs": 8,
    }
    assert str(jsonl / "results.jsonl") in runs[1].inputs


def test_successor_params_fill_gaps_and_its_warnings_are_shown(session_dir: Path, root: Path):
    results = successor_results(
        {"ray_num_cpus": 64, "entry_timeout_s": 1800, "executor": "from-driver"}, {"is_success": True},
        warnings=["GPU memory in use before the run: 3%", f"token leaked? --api-key={SECRET}"],
        cmd=["python", "bench.py", "--input", "/data/my files", f"--webhook={SECRET}"],
    )
    entry = write_entry(session_dir, params={"executor": "xenna"}, metrics=None, results=results)
    (entry / "gpustats.csv").write_text("timestamp,gpu,util\n1,0,95\n")
    run = read(entry, root)
    assert run.params == {"entry_timeout_s": 1800, "executor": "xenna", "ray_num_cpus": 64}
    assert run.facts["Command"] == "python bench.py --input '/data/my files' --webhook=***"
    assert warned(run, "driver: GPU memory in use before the run: 3%")
    assert not any(SECRET in w for w in run.warnings)
    gpustats = next(a for a in run.artifacts if a.name == "gpustats.csv")
    assert (gpustats.publish_as, gpustats.source) == ("gpustats.csv", str(entry / "gpustats.csv"))


def test_the_first_benchmarking_runner_flat_results_in_benchmark_results(session_dir: Path, root: Path):
    """benchmarking/run.py 2025-11-10 … 2026-01-06: benchmark_results/ still, results.json flat, its
    Ray facts under `ray_data`, unmet requirements named in `requirements_not_met`."""
    results = successor_results(PARAMS, SCRIPT_METRICS, success=False, ray_data={"num_cpus": 16},
                                requirements_not_met={"num_removed": "num_removed != 1000"})
    del results["ray_cluster_data"]
    run = read(write_entry(session_dir, results=results), root)
    assert run.status == "failed" and run.unmet_requirements == {"num_removed": "num_removed != 1000"}
    assert run.facts["Ray CPUs"] == 16 and run.warnings == []


def test_a_missing_script_metrics_file_uses_the_drivers_copy(session_dir: Path, root: Path):
    run = read(write_entry(session_dir, metrics=None), root)
    assert run.status == "completed" and run.summary["num_removed"] == 1234 and run.warnings == []


# --- stage metrics -------------------------------------------------------------------------------


def test_stage_metrics_group_on_the_last_known_metric_name():
    summary = {
        "task_reader_stage_process_time_sum": 10.0, "task_reader_stage_process_time_mean": 2.0,
        "task_reader_stage_process_time_std": 0.5,
        # a stage whose own name holds a known metric name: split on the last occurrence
        "dedup_num_items_processed_filter_num_items_processed_mean": 7.0,
        "dedup_num_items_processed_filter_input_data_size_mb_sum": 12.5,
        # a custom metric of a known stage: all three aggregates, as the driver writes them
        "task_reader_stage_rows_dropped_sum": 3.0, "task_reader_stage_rows_dropped_mean": 1.0,
        "task_reader_stage_rows_dropped_std": 0.0,
        # a script's own key: only a mean, so not taken for a custom stage metric
        "task_reader_stage_worker_time_s_mean": 0.2,
        # the driver's empty stage name (`f"{''}_{metric}_{agg}"`)
        "_actor_idle_time_sum": 4.0,
        # plain script metrics
        "time_taken": 300.0, "throughput_docs_per_sec_mean": 12.0, "process_time_sum": 1.0,
    }
    assert group_stages(summary) == {
        "(unnamed)": {"actor_idle_time": {"sum": 4.0}},
        "dedup_num_items_processed_filter": {"input_data_size_mb": {"sum": 12.5},
                                             "num_items_processed": {"mean": 7.0}},
        "task_reader_stage": {"process_time": {"sum": 10.0, "mean": 2.0, "std": 0.5},
                              "rows_dropped": {"sum": 3.0, "mean": 1.0, "std": 0.0}},
    }
    assert group_stages({"time_taken": 1.0}) == {}


# --- environment captures ------------------------------------------------------------------------


PIP_FREEZE = f"""\
# generated by uv pip freeze
--index-url https://alice:{SECRET}@pypi.example/simple
numpy==1.26.4
PyYAML==6.0.1
nemo-curator[all]==0.9.0  # pinned
weird===1.0-local
torch @ file:///wheels/torch-2.4.0-cp312-linux_x86_64.whl
private-lib @ git+https://alice:{SECRET}@git.example/private-lib.git@v1.2
-e git+https://bob:{SECRET}@github.com/NVIDIA-NeMo/Curator.git@13d43f58f#egg=nemo_curator_dev
-e /home/alice/src/my-tools

this is not a requirement
"""

CONDA_EXPLICIT = """\
# This file may be used to create an environment using:
# $ conda create --name <env> --file <this file>
# platform: linux-64
@EXPLICIT
https://conda.anaconda.org/conda-forge/linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2
https://conda.anaconda.org/conda-forge/linux-64/ca-certificates-2024.2.2-hbcca054_0.conda#2f4327a1cb
https://conda.anaconda.org/conda-forge/linux-64/python-3.12.3-hab00c5b_0_cpython.conda
https://conda.anaconda.org/conda-forge/noarch/pyyaml-6.0.1-pyhd8ed1ab_0.conda
https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.0-py312_0.conda
not-a-package-url
"""


def test_pip_freeze_lines():
    packages, unparsed = parse_pip_freeze(PIP_FREEZE)
    assert packages == {
        "numpy": "1.26.4", "PyYAML": "6.0.1", "nemo-curator": "0.9.0", "weird": "1.0-local",
        "torch": "torch @ file:///wheels/torch-2.4.0-cp312-linux_x86_64.whl",
        "private-lib": "private-lib @ git+https://***@git.example/private-lib.git@v1.2",
        "nemo_curator_dev": "-e git+https://***@github.com/NVIDIA-NeMo/Curator.git@13d43f58f#egg=nemo_curator_dev",
        "my-tools": "-e /home/alice/src/my-tools",
    }
    assert unparsed == ["this is not a requirement"]
    assert SECRET not in json.dumps(packages)


def test_conda_explicit_lines_fill_in_where_pip_has_nothing():
    conda, unparsed = parse_conda_explicit(CONDA_EXPLICIT)
    assert conda == {"_libgcc_mutex": "0.1", "ca-certificates": "2024.2.2", "python": "3.12.3",
                     "pyyaml": "6.0.1", "numpy": "1.26.0"}
    assert unparsed == ["not-a-package-url"]
    merged = merge_packages({"numpy": "1.26.4", "PyYAML": "6.0.1"}, conda)
    assert merged == {"_libgcc_mutex": "0.1", "ca-certificates": "2024.2.2", "numpy": "1.26.4",
                      "python": "3.12.3", "PyYAML": "6.0.1"}


def test_captures_on_the_run(session_dir: Path, root: Path):
    env = {"python": "3.12.3", "platform": "Linux", "executable": "/opt/venv/bin/python",
           "cuda_visible_devices": None, "gpus": ["H100", "H100"], "extra": {"HF_TOKEN": HF_TOKEN}}
    token_channel = ("https://conda.anaconda.org/t/tk-0123456789abcdef/private/linux-64/"
                     "secret-pkg-1.0-0.conda\n")
    entry = write_entry(session_dir, artifacts={
        "pip-freeze.txt": PIP_FREEZE, "conda-explicit.txt": CONDA_EXPLICIT + token_channel,
        "sys-env.json": json.dumps(env),
    })
    run = read(entry, root)
    assert run.packages["torch"].startswith("torch @ file:///wheels/") and run.packages["python"] == "3.12.3"
    assert run.packages["secret-pkg"] == "1.0" and run.packages["numpy"] == "1.26.4"
    assert run.env == {"cuda_visible_devices": "null", "executable": "/opt/venv/bin/python",
                       "extra.HF_TOKEN": "***", "gpus.0": "H100", "gpus.1": "H100",
                       "platform": "Linux", "python": "3.12.3"}
    assert warned(run, "pip-freeze.txt: 1 lines are not packages", "this is not a requirement")
    assert warned(run, "conda-explicit.txt: 1 lines are not packages")
    for artifact in run.artifacts[:3]:  # the raw files would show what the page hides
        assert (artifact.publish_as, artifact.source) == (None, None)
        assert artifact.note == "not published: it holds credentials (redacted in what is shown)"
    blob = json.dumps(msgspec.to_builtins(run))
    assert SECRET not in blob and HF_TOKEN not in blob and "tk-0123456789abcdef" not in blob


def test_the_successors_session_captures_stand_in_for_the_entrys(session_dir: Path, root: Path):
    """benchmarking/ writes `env.json` and `packages.txt` once per session, none per entry."""
    successor = write_entry(session_dir, "successor", metrics=None, artifacts={},
                            results=successor_results({}, {"is_success": True}))
    own = write_entry(session_dir, "own_captures")
    session_files = {str(session_dir / "env.json"), str(session_dir / "packages.txt")}
    assert session_files <= set(read(successor, root).inputs)  # absent yet, but stat'ed: they may appear
    (session_dir / "packages.txt").write_text("nemo-curator==25.9.0\nray==2.49.0\n")
    (session_dir / "env.json").write_text(json.dumps({
        "hostname": "dgx-07", "platform": "Linux-6.8", "total_system_memory_bytes": 2 * 1024**4,
        "ray_version": "2.49.0", "git_commit": "1e2e4275", "image_digest": "sha256:abc",
        "python_version": "3.12.3", "cuda_visible_devices": "8X NVIDIA H100 80GB HBM3",
        "default_object_store_size_bytes": 536870912000}))

    run = read(successor, root)
    assert run.packages == {"nemo-curator": "25.9.0", "ray": "2.49.0"}
    assert (run.facts["Hostname"], run.facts["Git commit"], run.facts["Ray version"]) == (
        "dgx-07", "1e2e4275", "2.49.0")
    assert run.env["platform"] == "Linux-6.8" and run.env["total_system_memory_bytes"] == str(2 * 1024**4)
    assert "hostname" not in run.env  # shown once, as a fact
    assert [(a.name, a.publish_as, a.source) for a in run.artifacts[:2]] == [
        ("packages.txt (session)", "packages.txt", str(session_dir / "packages.txt")),
        ("env.json (session)", "env.json", str(session_dir / "env.json"))]
    assert run.warnings == []

    own_run = read(own, root)  # an entry's own captures win; the session's are not even looked at
    assert own_run.packages == {"numpy": "1.26.4", "ray": "2.49.0"} and "Hostname" in own_run.facts
    assert not any(path.startswith(str(session_dir / "env.json")) for path in own_run.inputs)


def test_broken_captures_warn(session_dir: Path, root: Path, monkeypatch):
    monkeypatch.setattr(env_capture, "MAX_CAPTURE_BYTES", 64)
    entry = write_entry(session_dir, artifacts={"pip-freeze.txt": "numpy==1.26.4\n" * 10,
                                                "sys-env.json": '{"python": "3.1'})
    (entry / "artifacts" / "conda-explicit.txt").write_bytes(b"\x00\x01\x02\x03" * 50)
    run = read(entry, root)
    artifacts = {a.name: a for a in run.artifacts}
    assert run.packages == {"numpy": "1.26.4"} and run.env == {}
    assert warned(run, "pip-freeze.txt: larger than 64 bytes; only the first 64 bytes read")
    assert artifacts["artifacts/pip-freeze.txt"].note == env_capture.TOO_LARGE
    assert artifacts["artifacts/pip-freeze.txt"].size == 140
    assert warned(run, "conda-explicit.txt: looks binary; not read")
    assert artifacts["artifacts/conda-explicit.txt"].publish_as is None
    assert warned(run, "sys-env.json: invalid JSON")
    assert run.status == "completed"


def test_integers_beyond_64_bits_are_read_as_floats(session_dir: Path, root: Path):
    """Found by fuzzing: a params.json integer beyond 64 bits could not be cached (msgpack)."""
    entry = write_entry(session_dir, params={"seed": 2**64, "offset": -(2**63) - 1, "huge": int("9" * 400)})
    run = read(entry, root)  # encodes it as the cache does
    assert run.params == {"huge": "inf", "offset": -9.223372036854776e18, "seed": 1.8446744073709552e19}


# --- tasks.pkl -----------------------------------------------------------------------------------


class _Trap:
    """Unpickling this creates `marker`: proof that something loaded the pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_tasks_pkl_is_listed_and_never_opened(session_dir: Path, root: Path, tmp_path: Path):
    pickle.loads(pickle.dumps(_Trap(tmp_path / "loaded")))
    assert (tmp_path / "loaded").exists()  # the trap is real

    marker = tmp_path / "UNPICKLED"
    trap = pickle.dumps(_Trap(marker))
    entry = write_entry(session_dir, tasks=trap)
    run = read(entry, root)
    out = tmp_path / "site"
    age(root)
    run_build(make_config(root, out))
    assert not marker.exists()
    tasks = next(a for a in run.artifacts if a.name.endswith("tasks.pkl"))
    assert (tasks.size, tasks.publish_as, tasks.note) == (len(trap), None, nightly.TASKS_NOTE)
    assert not list(out.rglob("tasks.pkl"))


def test_the_reader_never_imports_pickle():
    for module in (nightly, env_capture, stage_metrics):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert not imported & {"pickle", "pickletools", "_pickle", "dill", "cloudpickle", "joblib"}, module
        assert "pickle.load" not in Path(module.__file__).read_text()


# --- bad data ------------------------------------------------------------------------------------


def test_nan_and_infinity_from_pythons_json_are_dropped(session_dir: Path, root: Path):
    metrics = {"is_success": True, "time_taken": 12.5, "throughput": math.nan, "peak": math.inf,
               "floor": -math.inf, "stage_a_process_time_mean": math.nan, "stage_a_process_time_sum": 3.0}
    text = json.dumps(metrics)  # Python writes bare NaN / Infinity tokens
    assert "NaN" in text and "Infinity" in text
    params = json.dumps({"alpha": math.nan, "beta": 1.0})
    run = read(write_entry(session_dir, params=params, metrics=text, results=None), root)
    assert run.summary == {"stage_a_process_time_sum": 3.0, "time_taken": 12.5}
    assert run.stages == {"stage_a": {"process_time": {"sum": 3.0}}}
    dropped = "throughput, peak, floor, stage_a_process_time_mean"
    assert [w for w in run.warnings if "not finite" in w] == [
        f"metrics: 4 values are not finite numbers, dropped ({dropped})"]
    assert run.params == {"alpha": "nan", "beta": 1.0}
    assert run.status == "completed"


def test_wrong_types_give_warnings_not_exceptions(session_dir: Path, root: Path):
    results = {"run": {"cmd": {"not": "a command"}, "started_at": "yesterday", "ended_at": 1e15,
                       "exit_code": "0", "timed_out": "yes"},
               "ray": "local", "env": ["hostname"], "success": 1,
               "script_params_metrics": {"params": [1, 2], "metrics": "fast"}}
    metrics = {"is_success": "true", "time_taken": "12s", "tags": ["a"], "nested": {"x": 1}, "n": None,
               "ok": 2}
    entry = write_entry(session_dir, params=[1, 2, 3], metrics=metrics, results=results)
    run = read(entry, root)
    assert run.status == "unknown" and run.problem is None and run.badges == ()
    assert run.summary == {"ok": 2.0} and run.params == {} and run.facts == {}
    for fragment in ("metrics.json: is_success is not true or false", "results.json: success is not true",
                     "results.json: timed_out is not true", "results.json: exit_code is not an integer",
                     "results.json: started_at is not a time", "results.json: ended_at is not a time",
                     "results.json: ray is not an object", "results.json: env is not an object",
                     "results.json: params is not an object", "results.json: metrics is not an object",
                     "params.json: expected a JSON object, found list",
                     "metrics: 5 values are not finite numbers, dropped (is_success, time_taken, tags"):
        assert warned(run, fragment), (fragment, run.warnings)
    assert run.created_at == SESSION_START


@pytest.mark.parametrize(("metrics", "results", "broken", "expected"), [
    ('{"is_success": true, "time_tak', None, True, "metrics.json: invalid JSON"),
    ('{"is_success": true, "time_tak', "nightly", False, "metrics.json: invalid JSON"),
    ("[1, 2]", None, True, "metrics.json: expected a JSON object, found list"),
    ("[" * 100_000 + "]" * 100_000, None, True, "metrics.json: JSON nested too deeply"),
    ('{"is_success": true}', '{"run": {"started_at": 17', False, "results.json: invalid JSON"),
    (None, '{"run": {"started_at": 17', True, "results.json: invalid JSON"),
    (None, "", True, "results.json: invalid JSON"),
])
def test_truncated_or_invalid_json(session_dir, root, metrics, results, broken, expected):
    entry = write_entry(session_dir, metrics=metrics, results=results)
    run = read(entry, root)
    if broken:
        assert run.status == "broken" and run.problem.message.startswith(expected)
    else:
        assert run.status == "completed" and run.problem is None and warned(run, expected)
    assert [s.name for s in run.logs] == ["ray_startup", "stderr", "stdout"]  # the rest is still read


def test_an_entry_without_results_yet(session_dir: Path, root: Path):
    run = read(write_entry(session_dir, params=None, metrics=None, results=None, tasks=None), root)
    assert run.status == "unknown" and run.problem is None
    assert warned(run, "no results yet: neither benchmark_results/metrics.json nor results.json")
    assert run.updated_at is None and run.heartbeat_at is None  # never shown as stalled


def test_benchmark_results_that_is_not_a_directory(root: Path):
    entry = root / "adhoc" / "entry"
    entry.mkdir(parents=True)
    (entry / "benchmark_results").write_text("oops")
    run = read(entry, root)
    assert run.status == "broken" and run.problem.message == "benchmark_results: not a readable directory"


def test_an_entry_that_vanished(root: Path):
    run = read(root / SESSION / "gone", root)
    assert run.status == "broken" and run.problem.message == "entry directory: vanished or is unreadable"
    assert run.session == SESSION and run.benchmark == "gone"


def test_links_out_of_the_roots_are_not_followed(session_dir: Path, root: Path, tmp_path: Path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "auth.log").write_text("password=hunter2\n")
    (private / "freeze.txt").write_text("secret-internal==1.0\n")
    entry = write_entry(session_dir, logs={"stdout.log": "ok\n"}, artifacts={})
    (entry / "artifacts").mkdir()
    (entry / "logs" / "stderr.log").symlink_to(private / "auth.log")
    (entry / "artifacts" / "pip-freeze.txt").symlink_to(private / "freeze.txt")
    run = read(entry, root)
    assert [s.name for s in run.logs] == ["stdout"]
    assert run.packages == {} and not any(a.name.endswith("pip-freeze.txt") for a in run.artifacts)
    assert "logs/stderr.log: a link out of the configured roots; not followed" in run.warnings
    assert "artifacts/pip-freeze.txt: a link out of the configured roots; not followed" in run.warnings
    assert not any(str(private) in path for path in run.inputs)
    allowed = read(entry, root, private)
    assert [s.name for s in allowed.logs] == ["stderr", "stdout"]
    assert allowed.packages == {"secret-internal": "1.0"}

    linked = root / "linked-session" / "entry"
    linked.parent.mkdir()
    outside = write_entry(tmp_path / "elsewhere", "entry")
    linked.symlink_to(outside)
    run = read(linked, root)
    assert run.status == "broken" and "a link out of the configured roots" in run.problem.message


def test_a_directory_link_on_the_way_down_is_followed_only_into_the_roots(session_dir: Path, root: Path,
                                                                          tmp_path: Path):
    private = tmp_path / "private-logs"
    private.mkdir()
    (private / "stdout.log").write_text("token=hunter2\n")
    shared = root / "shared-artifacts"  # inside the roots: a link there is followed
    shared.mkdir()
    (shared / "pip-freeze.txt").write_text("numpy==2.0.0\n")
    entry = write_entry(session_dir, logs={}, artifacts={})
    (entry / "logs").symlink_to(private, target_is_directory=True)
    (entry / "artifacts").symlink_to(shared, target_is_directory=True)
    run = read(entry, root)
    assert run.logs == [] and "logs: a link out of the configured roots; not followed" in run.warnings
    assert not any(str(private) in path for path in run.inputs)
    assert run.packages == {"numpy": "2.0.0"}


# --- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("nightly-run-20250901-020000", SESSION_START),
    ("benchmark-run__2025-09-01__02-00-00", SESSION_START),
    ("benchmark-run__2025-09-01_02-00-00_UTC", SESSION_START),  # the runner since 2026-01-06
    ("removal-nightly-run-20250901-020000-retry", SESSION_START),
    ("nightly-run-20251399-020000", None),  # not a date
    ("adhoc", None),
])
def test_session_names_give_a_utc_start(name: str, expected: float | None):
    assert nightly.session_time(name) == expected


def test_times_fall_back_to_file_mtimes(root: Path):
    entry = write_entry(root / "adhoc", metrics={"is_success": True}, results=None, params={"a": 1})
    os.utime(entry / "benchmark_results" / "params.json", (1_700_000_000, 1_700_000_000))
    os.utime(entry / "benchmark_results" / "metrics.json", (1_700_000_600, 1_700_000_600))
    run = read(entry, root)
    assert (run.created_at, run.ended_at) == (1_700_000_000, 1_700_000_600)


# --- a whole build -------------------------------------------------------------------------------


def test_a_build_of_two_sessions(root: Path, tmp_path: Path):
    for session in ("nightly-run-20250901-020000", "nightly-run-20250902-020000"):
        write_entry(root / session, "removal_xenna")
        write_entry(root / session, "removal_ray_data", metrics={"is_success": False}, results=None)
    age(root)
    out = tmp_path / "site"
    config = make_config(root, out)
    first = run_build(config).report
    assert (first.runs_total, first.runs_read, first.runs_failed) == (4, 4, 0)
    runs = read_runs(out)
    assert sorted((r["session"], r["benchmark"], r["kind"], r["status"]) for r in runs) == [
        ("nightly-run-20250901-020000", "removal_ray_data", "nightly", "failed"),
        ("nightly-run-20250901-020000", "removal_xenna", "nightly", "completed"),
        ("nightly-run-20250902-020000", "removal_ray_data", "nightly", "failed"),
        ("nightly-run-20250902-020000", "removal_xenna", "nightly", "completed"),
    ]
    for run in runs:
        page = out / run["url"]
        assert page.is_file()
        assert (page.parent / "pip-freeze.txt").is_file()
        assert run["benchmark"] in page.read_text()
    assert not list(out.rglob("tasks.pkl"))

    second = run_build(config).report
    assert (second.runs_read, second.runs_cached, second.pages_written) == (0, 4, 0)


def test_compute_metadata_written_by_sitegen_run_is_shown(session_dir: Path, root: Path, tmp_path: Path):
    from test_compute import SMI_ROWS, fake_smi

    from sitegen.compute import Machine, collect

    secret = "hf_" + "K" * 34
    env = {"PATH": str(fake_smi(tmp_path / "bin", SMI_ROWS[:2])), "SLURM_JOB_ID": "77",
           "SLURM_JOB_NAME": f"curator {secret}"}
    captured = msgspec.json.encode(collect(Machine(env=env, root=str(tmp_path / "no-root")))).decode()
    entry = write_entry(session_dir, artifacts={"compute.json": captured})
    run = read(entry, root)
    assert run.compute.gpu_count == 2 and run.compute.gpu_type == "NVIDIA H100 80GB HBM3"
    assert run.compute.slurm["slurm_job_id"] == "77" and secret not in json.dumps(run.compute.slurm)

    bad = write_entry(session_dir, "bad_compute", artifacts={"compute.json": '{"gpu_count": "many"}'})
    run = read(bad, root)
    assert run.compute is None and warned(run, "artifacts/compute.json", "Expected `int`")


def test_the_index_filters_by_gpu_type(session_dir: Path, root: Path, tmp_path: Path):
    from conftest import age, make_config, run_build
    from test_compute import SMI_ROWS, fake_smi

    from sitegen.compute import Machine, collect

    env = {"PATH": str(fake_smi(tmp_path / "bin", SMI_ROWS[:1]))}
    captured = msgspec.json.encode(collect(Machine(env=env, root=str(tmp_path / "no-root")))).decode()
    write_entry(session_dir, artifacts={"compute.json": captured})
    write_entry(session_dir, "cpu_only")
    age(root)
    out = tmp_path / "site"
    run_build(make_config(root, out))
    index = (out / "index.html").read_text()
    assert '<select id="filter-gpu"><option value="">any</option>' in index
    assert '<option>NVIDIA H100 80GB HBM3</option>' in index
    rows = json.loads(re.search(r'<script type="application/json" id="runs-data">(.*?)</script>', index)[1])
    gpus = {row[rows["columns"].index("gpu")] for row in rows["rows"]}
    assert gpus == {"NVIDIA H100 80GB HBM3", ""}  # site.js filters on it
    page = next(p for p in out.glob("runs/*/index.html") if "removal_curator" in p.parent.name).read_text()
    assert "<th>GPU 0</th><td>NVIDIA H100 80GB HBM3, 79.65 GiB, compute capability 9.0</td>" in page
