"""Run one matrix entry into its directory, the layout the `nightly` reader reads:
`scratch/ ray_cluster/ logs/ artifacts/ benchmark_results/ results.json`; for a successor config,
whose args name `--benchmark-results-path={session_entry_dir}` themselves, the script's files sit
in the entry dir, as the current NeMo-Curator runner has them."""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from sitegen.runner.matrix import PlannedEntry
from sitegen.runner.ray_cluster import RayHead, kill_group
from sitegen.runner.requirements import unmet

SUBDIRS = ("scratch", "ray_cluster", "logs", "artifacts")
CAPTURE_TIMEOUT_S = 120


class EntryResult(msgspec.Struct):
    name: str
    entry_dir: str
    command: list[str]
    success: bool
    exit_code: int | None
    timed_out: bool
    exec_time_s: float
    error: str | None = None  # the driver's own problem (Ray did not start, the script is missing)
    requirements_not_met: dict[str, str] = {}  # metric → why, as NeMo-Curator's runner names it
    params: dict[str, object] = {}
    metrics: dict[str, object] = {}


def run_entry(entry: PlannedEntry, session_dir: Path, ray_address: str | None = None) -> EntryResult:
    """Run the entry on a Ray head of its own, or as a job on the cluster whose job server is at
    `ray_address`; never raises for the entry's own failures."""
    entry_dir = session_dir / entry.name
    for name in SUBDIRS + (("benchmark_results",) if entry.add_results_path else ()):
        (entry_dir / name).mkdir(parents=True, exist_ok=True)
    logs = entry_dir / "logs"
    results_dir = entry_dir / "benchmark_results" if entry.add_results_path else entry_dir
    command = [sys.executable, *entry.argv]
    if entry.add_results_path:
        command += ["--benchmark-results-path", str(results_dir)]
    started = time.time()
    head: RayHead | None = None
    exit_code, timed_out, error, exec_started, exec_time = None, False, None, None, 0.0
    try:
        if not Path(entry.argv[0]).is_file():
            raise FileNotFoundError(f"script not found: {entry.argv[0]}")
        if ray_address is None:
            head = RayHead(entry_dir / "ray_cluster", entry.ray, logs / "ray_startup.log",
                           entry.object_store_bytes)
            head.wait_ready()
        exec_started = time.time()
        if head is not None:
            exit_code, timed_out = _run_script(command, entry, entry_dir, head.client_env)
        else:
            exit_code, timed_out = _submit_job(command, entry, entry_dir, ray_address)
        exec_time = time.time() - exec_started
    except Exception as exc:  # Ray, the job server or the OS: the entry failed, the session goes on
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, OSError | RuntimeError) else str(exc)
    finally:
        if head is not None:
            head.stop()
    _capture_environment(entry_dir / "artifacts")
    params, metrics = _script_output(results_dir)
    said_success = metrics.get("is_success", True) is not False
    ran = error is None and exit_code == 0 and not timed_out
    # checked as the upstream runner checks them: only when the script exited 0; a metric, else a run value
    missed = unmet(entry.requirements, {"exec_time_s": exec_time, "exit_code": exit_code, **metrics}) \
        if ran else {}
    success = ran and said_success and not missed
    ended = time.time()
    results = {
        "run": {"name": entry.name, "cmd": " ".join(command), "started_at": started, "ended_at": ended,
                "exec_started_at": exec_started, "exec_time_s": round(exec_time, 3), "exit_code": exit_code,
                "timed_out": timed_out, "logs_dir": str(logs), **({"error": error} if error else {})},
        "ray": {"address": head.address if head else ray_address, "num_cpus": entry.ray.num_cpus,
                "num_gpus": entry.ray.num_gpus, "enable_object_spilling": entry.ray.enable_object_spilling},
        "env": {"hostname": socket.gethostname(), "ray_version": _ray_version(),
                "git_commit": os.environ.get("GIT_COMMIT", "unknown"),
                "image_digest": os.environ.get("IMAGE_DIGEST", "unknown")},
        "script_params_metrics": {"params": params, "metrics": metrics},
        "requirements_not_met": missed,
    }
    (entry_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if entry.delete_scratch:
        shutil.rmtree(entry_dir / "scratch", ignore_errors=True)
        (entry_dir / "scratch").mkdir()
    return EntryResult(entry.name, str(entry_dir), command, success, exit_code, timed_out,
                       round(exec_time, 3), error, missed, params, metrics)


def _run_script(command: list[str], entry: PlannedEntry, entry_dir: Path,
                client_env: dict[str, str]) -> tuple[int | None, bool]:
    """(exit code, timed out); the timeout kills the script's whole process tree."""
    env = {**os.environ, **client_env}
    logs = entry_dir / "logs"
    with open(logs / "stdout.log", "wb") as out, open(logs / "stderr.log", "wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=entry_dir / "scratch", env=env,
                                   start_new_session=True, stdin=subprocess.DEVNULL)
        try:
            return process.wait(timeout=entry.timeout_s), False
        except subprocess.TimeoutExpired:
            kill_group(process, grace_s=10.0)
            return process.returncode, True


def _submit_job(
    command: list[str], entry: PlannedEntry, entry_dir: Path, address: str
) -> tuple[int | None, bool]:
    """Run the command as a job on an existing cluster (Ray's job submission API; the script and
    the results dir must be on a filesystem the cluster sees). Its logs land in logs/stdout.log."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(address)
    resources = {"entrypoint_num_cpus": entry.ray.num_cpus} if entry.ray.num_cpus else {}
    # a job's entrypoint is a shell command: run it in the entry's scratch/, as a local entry is
    entrypoint = f"cd {shlex.quote(str(entry_dir / 'scratch'))} && {shlex.join(command)}"
    job_id = client.submit_job(entrypoint=entrypoint, **resources)
    record = {"address": address, "job_id": job_id}
    (entry_dir / "ray_cluster" / "cluster.json").write_text(json.dumps(record) + "\n")
    deadline = time.monotonic() + entry.timeout_s
    timed_out = False
    while not (status := client.get_job_status(job_id)).is_terminal():
        if time.monotonic() > deadline:
            client.stop_job(job_id)
            timed_out = True
            break
        time.sleep(0.5)
    (entry_dir / "logs" / "stdout.log").write_text(client.get_job_logs(job_id))
    info = client.get_job_info(job_id)
    code = getattr(info, "driver_exit_code", None)
    if code is None:
        code = 0 if status == JobStatus.SUCCEEDED else 1
    return code, timed_out


def _capture_environment(artifacts: Path) -> None:
    """pip freeze, conda's explicit list when conda exists, sys-env.json and compute.json."""
    from sitegen.compute import collect

    _capture([sys.executable, "-m", "pip", "freeze"], artifacts / "pip-freeze.txt")
    conda = shutil.which("conda")
    if conda:
        _capture([conda, "list", "--explicit"], artifacts / "conda-explicit.txt")
    sys_env = {"python": platform.python_version(), "platform": platform.platform(),
               "executable": sys.executable,
               "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
    (artifacts / "sys-env.json").write_text(json.dumps(sys_env, indent=2) + "\n")
    compute = msgspec.json.format(msgspec.json.encode(collect()), indent=2)
    (artifacts / "compute.json").write_bytes(compute + b"\n")


def _capture(command: list[str], target: Path) -> None:
    try:
        done = subprocess.run(command, capture_output=True, timeout=CAPTURE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        target.with_suffix(".error").write_text(f"{command[0]}: {exc}\n")
        return
    target.write_bytes(done.stdout)


def _script_output(results_dir: Path) -> tuple[dict[str, object], dict[str, object]]:
    found = []
    for name in ("params.json", "metrics.json"):
        try:
            value = json.loads((results_dir / name).read_text())
        except (OSError, ValueError):
            value = {}
        found.append(value if isinstance(value, dict) else {})
    return found[0], found[1]


def _ray_version() -> str:
    try:
        from importlib.metadata import version

        return version("ray")
    except Exception:  # ray not installed: the head could not have started either
        return "unknown"
