"""Compute metadata from fake machines: environments, a cgroup tree, an `nvidia-smi` on PATH."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from sitegen.cli import main
from sitegen.compute import GIB, Machine, collect, slurm_count, slurm_gpus

SECRET = "hf_" + "C" * 34
H100 = "NVIDIA H100 80GB HBM3"
SMI_ROWS = [f"{i}, {H100}, 81559, 9.0, GPU-{c * 4}" for i, c in enumerate("abcd")]


def fake_smi(bin_dir: Path, rows: list[str], old_driver: bool = False) -> Path:
    """An nvidia-smi that answers --query-gpu like the real one (an old one refuses compute_cap)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "nvidia-smi"
    body = "\n".join(f"echo '{row}'" for row in rows)
    refuse = ('case "$1" in *compute_cap*) echo \'Field "compute_cap" is not a valid field to query.\'; '
              'exit 2;; esac\n') if old_driver else ""
    script.write_text(f"#!/bin/sh\n{refuse}{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def cgroup_tree(root: Path, v2_limit: str | None = None, v1_limit: str | None = None) -> Path:
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "cgroup").write_text("0::/system.slice/job.scope\n")
    if v2_limit is not None:
        scope = root / "sys" / "fs" / "cgroup" / "system.slice" / "job.scope"
        scope.mkdir(parents=True)
        (scope / "memory.max").write_text(v2_limit + "\n")
    if v1_limit is not None:
        memory = root / "sys" / "fs" / "cgroup" / "memory"
        memory.mkdir(parents=True)
        (memory / "memory.limit_in_bytes").write_text(v1_limit + "\n")
    return root


def machine(tmp_path: Path, env: dict[str, str] | None = None, **kwargs: object) -> Machine:
    return Machine(env={"PATH": str(tmp_path / "empty-bin"), **(env or {})}, root=str(tmp_path / "root"),
                   **kwargs)


@pytest.mark.parametrize(("value", "count"), [("32", 32), ("16(x2)", 32), ("2,2", 4), ("4(x2),8", 16),
                                              ("", None), ("lots", None), ("0", None)])
def test_slurm_counts(value, count):
    assert slurm_count(value) == count


@pytest.mark.parametrize(("value", "parsed"), [("4", (None, 4)), ("a100:4", ("a100", 4)),
                                               ("gpu:h100:8", ("h100", 8)), ("gpu", (None, None))])
def test_slurm_gpu_forms(value, parsed):
    assert slurm_gpus(value) == parsed


def test_a_laptop_without_gpus_or_limits(tmp_path: Path):
    info = collect(machine(tmp_path, {"USER": "alice"}))
    assert info.user == "alice" and info.hostname and info.python_version and info.platform
    assert info.cpu_source == "process affinity" and info.cpu_count == len(os.sched_getaffinity(0))
    assert info.memory_source == "psutil" and info.memory_gb > 0
    assert (info.gpu_count, info.gpus, info.gpu_source) == (0, [], None)
    assert info.unavailable == {"nvidia-smi": "not on PATH"} and info.slurm == {} and info.ray == {}


def test_a_slurm_job_with_a_cgroup_limit_and_four_gpus(tmp_path: Path):
    bin_dir = fake_smi(tmp_path / "bin", SMI_ROWS)
    cgroup_tree(tmp_path / "root", v2_limit=str(64 * GIB))
    env = {"PATH": str(bin_dir), "SLURM_JOB_ID": "1543570", "SLURM_CPUS_PER_TASK": "16",
           "SLURM_CPUS_ON_NODE": "64", "SLURM_MEM_PER_NODE": "500000", "SLURM_GPUS_ON_NODE": "4",
           "SLURM_JOB_NAME": f"nightly --hf-token {SECRET}", "SLURM_PARTITION": "batch", "HOME": "/home/a"}
    info = collect(Machine(env=env, root=str(tmp_path / "root")))
    assert (info.cpu_count, info.cpu_source) == (16, "SLURM_CPUS_PER_TASK")
    assert (info.memory_gb, info.memory_source) == (64.0, "cgroup v2")
    assert (info.gpu_count, info.gpu_source, info.gpu_type) == (4, "SLURM_GPUS_ON_NODE", H100)
    assert info.gpus[0].memory_gb == 79.65 and info.gpus[0].compute_capability == "9.0"
    assert info.slurm["slurm_job_id"] == "1543570" and "home" not in info.slurm
    assert SECRET not in json.dumps(info.slurm) and "nightly" in info.slurm["slurm_job_name"]


def test_cuda_visible_devices_chooses_among_the_gpus(tmp_path: Path):
    bin_dir = fake_smi(tmp_path / "bin", SMI_ROWS)
    info = collect(machine(tmp_path, {"PATH": str(bin_dir), "CUDA_VISIBLE_DEVICES": "1,GPU-dddd"}))
    assert info.gpu_count == 2 and [g.index for g in info.gpus] == [1, 3]
    assert info.gpu_source == "CUDA_VISIBLE_DEVICES"
    none = collect(machine(tmp_path, {"PATH": str(bin_dir), "CUDA_VISIBLE_DEVICES": "-1"}))
    assert none.gpu_count == 0 and none.gpus == []


def test_an_old_driver_without_compute_capability(tmp_path: Path):
    rows = ["0, Tesla V100-SXM2-16GB, 16160, GPU-eeee"]
    info = collect(machine(tmp_path, {"PATH": str(fake_smi(tmp_path / "bin", rows, old_driver=True))}))
    assert info.gpu_count == 1 and info.gpu_source == "nvidia-smi"
    assert info.gpus[0].name == "Tesla V100-SXM2-16GB" and info.gpus[0].compute_capability is None


def test_a_broken_nvidia_smi_is_a_reason_not_a_failure(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not "
                                        "communicate with the NVIDIA driver.'\nexit 9\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    info = collect(machine(tmp_path, {"PATH": str(bin_dir)}))
    assert info.gpu_count == 0
    assert info.unavailable["nvidia-smi"].startswith("exit 9: NVIDIA-SMI has failed")


def test_a_hanging_nvidia_smi_times_out(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\n/bin/sleep 30 &\nwait\n")  # a child holds the pipe
    (bin_dir / "nvidia-smi").chmod(0o755)
    info = collect(machine(tmp_path, {"PATH": str(bin_dir)}, timeout_s=0.5))
    assert "could not run" in info.unavailable["nvidia-smi"] and info.gpu_count == 0


@pytest.mark.parametrize(("tree", "env", "expected"), [
    ({"v1_limit": str(8 * GIB)}, {}, (8.0, "cgroup v1")),
    ({"v1_limit": str(2**63 - 4096)}, {"SLURM_MEM_PER_NODE": "2048"}, (2.0, "SLURM_MEM_PER_NODE")),
    ({"v2_limit": "max"}, {"SLURM_MEM_PER_CPU": "1024", "SLURM_CPUS_ON_NODE": "16(x2)"},
     (32.0, "SLURM_MEM_PER_CPU × CPUs")),
])
def test_memory_comes_from_the_tightest_known_limit(tmp_path: Path, tree, env, expected):
    cgroup_tree(tmp_path / "root", **tree)
    info = collect(machine(tmp_path, env))
    assert (info.memory_gb, info.memory_source) == expected


def test_slurm_cpus_on_node_when_no_per_task_count(tmp_path: Path):
    info = collect(machine(tmp_path, {"SLURM_CPUS_ON_NODE": "16(x2)"}))
    assert (info.cpu_count, info.cpu_source) == (32, "SLURM_CPUS_ON_NODE")


def test_ray_resources_only_when_ray_already_runs(tmp_path: Path):
    ray = pytest.importorskip("ray", reason="needs ray (pip install -e '.[ray]')")
    assert collect(machine(tmp_path)).ray == {} and not ray.is_initialized()  # never started by us
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        info = collect(machine(tmp_path))
    finally:
        ray.shutdown()
    assert info.ray["CPU"] == 1.0 and not any(key.startswith("node:") for key in info.ray)


def test_the_compute_command_prints_json(capsys):
    assert main(["compute"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cpu_count"] >= 1 and "unavailable" in printed and "gpus" in printed
