"""What the machine a run executes on offers: CPUs, memory, GPUs, SLURM job, Ray cluster.

`collect()` never fails: a probe that cannot answer is left out, with its reason in
`ComputeInfo.unavailable`. Each value records where it came from, in the order a scheduler's
limits win over what the hardware has: SLURM's allocation, then cgroup limits, then the
process's view. Every captured text is redacted (a job name or a submit dir can carry a token).
Nothing here imports torch, and Ray's resources are read only when Ray is already running.
"""

from __future__ import annotations

import getpass
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sitegen.model import ComputeInfo, Gpu
from sitegen.redact import Redactor

SLURM_VARIABLES = (
    "SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_NODELIST", "SLURM_JOB_NUM_NODES", "SLURM_NTASKS",
    "SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE", "SLURM_MEM_PER_NODE", "SLURM_MEM_PER_CPU",
    "SLURM_GPUS_PER_NODE", "SLURM_GPUS_ON_NODE", "SLURM_TASKS_PER_NODE", "SLURM_PARTITION",
    "SLURM_CLUSTER_NAME", "SLURM_SUBMIT_DIR", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
    "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SUBMITIT_JOB_ID",
)
NO_LIMIT = 1 << 56  # cgroup v1 writes about 2^63 for "no limit"
GIB = 1024**3
_GPU_QUERY = ("index", "name", "memory.total", "compute_cap", "uuid")


@dataclass(frozen=True)
class Machine:
    """Where the probes look: the environment, the filesystem root holding /proc and /sys, and
    how long nvidia-smi may take. Tests point these at fakes."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    root: str = "/"
    timeout_s: float = 10.0


def collect(machine: Machine | None = None, redactor: Redactor | None = None) -> ComputeInfo:
    machine = machine or Machine()
    redactor = redactor or Redactor()
    unavailable: dict[str, str] = {}
    env = machine.env
    cpus, cpu_source = _cpu_count(env)
    memory_gb, memory_source = _memory_gb(machine, cpus, unavailable)
    gpus, gpu_count, gpu_type, gpu_source = _gpus(machine, unavailable)
    slurm = {name.lower(): str(redactor.value(name, env[name])) for name in SLURM_VARIABLES if name in env}
    return ComputeInfo(
        hostname=_probe("hostname", socket.gethostname, unavailable),
        platform=platform.platform(),
        python_version=platform.python_version(),
        user=_probe("user", lambda: env.get("USER") or getpass.getuser(), unavailable),
        cpu_count=cpus, cpu_source=cpu_source, cpu_architecture=platform.machine() or None,
        memory_gb=memory_gb, memory_source=memory_source,
        gpu_count=gpu_count, gpu_type=redact(redactor, gpu_type), gpus=gpus, gpu_source=gpu_source,
        slurm=slurm, ray=_ray_resources(unavailable), unavailable=unavailable,
    )


def redact(redactor: Redactor, text: str | None) -> str | None:
    return None if text is None else str(redactor.value("", text))


# --- CPUs ----------------------------------------------------------------------------------------


def _cpu_count(env: Mapping[str, str]) -> tuple[int | None, str | None]:
    """SLURM's allocation per task, then per node, then the CPUs this process may run on."""
    for name in ("SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"):
        count = slurm_count(env.get(name, ""))
        if count:
            return count, name
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)), "process affinity"
    count = os.cpu_count()
    return count, "os.cpu_count" if count else None


def slurm_count(value: str) -> int | None:
    """SLURM's counts: `32`, `16(x2)` (16 on each of 2 nodes), `2,2` or `4(x2),8`; None otherwise."""
    total = 0
    for part in value.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:\(x(\d+)\))?\s*", part)
        if not match:
            return None
        total += int(match[1]) * int(match[2] or 1)
    return total or None


# --- memory --------------------------------------------------------------------------------------


def _memory_gb(
    machine: Machine, cpus: int | None, unavailable: dict[str, str]
) -> tuple[float | None, str | None]:
    """The cgroup limit (v2, then v1), then SLURM's allocation, then the machine's memory."""
    for source, read in (("cgroup v2", _cgroup_v2_limit), ("cgroup v1", _cgroup_v1_limit)):
        limit = read(machine.root)
        if limit is not None:
            return round(limit / GIB, 2), source
    env = machine.env
    per_node = slurm_count(env.get("SLURM_MEM_PER_NODE", ""))
    if per_node:
        return round(per_node / 1024, 2), "SLURM_MEM_PER_NODE"
    per_cpu = slurm_count(env.get("SLURM_MEM_PER_CPU", ""))
    node_cpus = slurm_count(env.get("SLURM_CPUS_ON_NODE", "")) or cpus
    if per_cpu and node_cpus:
        return round(per_cpu * node_cpus / 1024, 2), "SLURM_MEM_PER_CPU × CPUs"
    try:
        import psutil

        return round(psutil.virtual_memory().total / GIB, 2), "psutil"
    except Exception as exc:  # psutil missing or refusing in a sandbox
        unavailable["memory"] = f"no cgroup limit, no SLURM allocation, psutil failed: {exc}"
        return None, None


def _cgroup_v2_limit(root: str) -> int | None:
    """memory.max of this process's cgroup (from /proc/self/cgroup), else of the root cgroup."""
    base = os.path.join(root, "sys/fs/cgroup")
    paths = []
    for line in _read(os.path.join(root, "proc/self/cgroup")).splitlines():
        if line.startswith("0::"):
            paths.append(os.path.join(base, line[3:].lstrip("/"), "memory.max"))
    paths.append(os.path.join(base, "memory.max"))
    for path in paths:
        text = _read(path).strip()
        if text.isdigit():
            return int(text)
    return None


def _cgroup_v1_limit(root: str) -> int | None:
    text = _read(os.path.join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes")).strip()
    return int(text) if text.isdigit() and int(text) < NO_LIMIT else None


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(4096)
    except OSError:
        return ""


# --- GPUs ----------------------------------------------------------------------------------------


def _gpus(machine: Machine, unavailable: dict[str, str]) -> tuple[list[Gpu], int, str | None, str | None]:
    """(GPUs with details, count, type, where the count came from): CUDA_VISIBLE_DEVICES
    restricts what nvidia-smi lists; SLURM's GPU allocation counts when nothing else does."""
    env = machine.env
    listed = _nvidia_smi(machine, unavailable)
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        if ids in (["-1"], ["NoDevFiles"]):
            ids = []
        gpus = [g for g in listed if str(g.index) in ids or (g.uuid and g.uuid in ids)]
        return gpus, len(ids), _gpu_type(gpus), "CUDA_VISIBLE_DEVICES"
    for name in ("SLURM_GPUS_ON_NODE", "SLURM_GPUS_PER_NODE"):
        kind, count = slurm_gpus(env.get(name, ""))
        if count:
            return listed[:count], count, _gpu_type(listed) or kind, name
    if listed:
        return listed, len(listed), _gpu_type(listed), "nvidia-smi"
    return [], 0, None, None


def slurm_gpus(value: str) -> tuple[str | None, int | None]:
    """`4`, `a100:4` or `gpu:a100:4` → (type, count)."""
    parts = value.strip().split(":")
    if not parts[-1].isdigit():
        return None, None
    kind = parts[-2] if len(parts) >= 2 and parts[-2] != "gpu" else None
    return kind, int(parts[-1])


def _gpu_type(gpus: list[Gpu]) -> str | None:
    names = sorted({g.name for g in gpus if g.name})
    return " + ".join(names) if names else None


def _nvidia_smi(machine: Machine, unavailable: dict[str, str]) -> list[Gpu]:
    command = shutil.which("nvidia-smi", path=machine.env.get("PATH", os.defpath))
    if command is None:
        unavailable["nvidia-smi"] = "not on PATH"
        return []
    for query in (_GPU_QUERY, [f for f in _GPU_QUERY if f != "compute_cap"]):  # older drivers lack it
        argv = [command, f"--query-gpu={','.join(query)}", "--format=csv,noheader,nounits"]
        try:
            code, out = _run(argv, machine)
        except (OSError, subprocess.SubprocessError) as exc:
            unavailable["nvidia-smi"] = f"could not run: {exc}"[:200]
            return []
        if code == 0:
            return [gpu for line in out.splitlines() if (gpu := _gpu_line(query, line))]
    unavailable["nvidia-smi"] = f"exit {code}: {out.strip()[:200]}"
    return []


def _run(argv: list[str], machine: Machine) -> tuple[int, str]:
    """(exit code, stdout and stderr) of a probe command; on timeout its whole process group
    is killed, so a hung driver call cannot hold the build through a child keeping the pipe."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(machine.env), start_new_session=True)
    try:
        out, _ = process.communicate(timeout=machine.timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, out


def _gpu_line(query: Sequence[str], line: str) -> Gpu | None:
    values = dict(zip(query, (v.strip() for v in line.split(",")), strict=False))
    if not values.get("index", "").isdigit():
        return None
    memory = values.get("memory.total", "")
    try:
        memory_gb = round(float(memory) / 1024, 2)  # MiB with nounits
    except ValueError:
        memory_gb = None
    capability = values.get("compute_cap") or None
    return Gpu(index=int(values["index"]), name=values.get("name") or None, memory_gb=memory_gb,
               compute_capability=capability if capability not in ("[N/A]", "N/A") else None,
               uuid=values.get("uuid") or None)


# --- Ray and the rest ----------------------------------------------------------------------------


def _ray_resources(unavailable: dict[str, str]) -> dict[str, float]:
    """The cluster's resources when this process is already connected to Ray; never starts it."""
    ray = sys.modules.get("ray")
    if ray is None or not getattr(ray, "is_initialized", lambda: False)():
        return {}
    try:
        return {str(k): float(v) for k, v in sorted(ray.cluster_resources().items())
                if not str(k).startswith("node:")}
    except Exception as exc:  # a cluster going away mid-call
        unavailable["ray"] = f"cluster_resources failed: {exc}"[:200]
        return {}


def _probe(name: str, probe, unavailable: dict[str, str]) -> str | None:
    try:
        return probe() or None
    except Exception as exc:  # getpass without a passwd entry, a hostname lookup in a sandbox
        unavailable[name] = f"{type(exc).__name__}: {exc}"[:200]
        return None
