"""A Ray head of its own for one entry: its CPUs and GPUs, its own temp dir and ports, torn down
afterwards (its whole process group), whatever happened to the entry."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sitegen.runner.matrix import RayOptions

START_TIMEOUT_S = 60.0


class RayHead:
    """`ray start --head --block` in its own session; `address` once it answers."""

    def __init__(
        self, cluster_dir: Path, options: RayOptions, log_path: Path, object_store_bytes: int | None = None
    ) -> None:
        self.cluster_dir = cluster_dir
        # Ray's unix sockets must fit in 107 bytes: a short temp dir, recorded in ray_cluster/
        self.temp_dir = tempfile.mkdtemp(prefix="sgray-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        ray = Path(sys.executable).with_name("ray")
        command = [str(ray) if ray.exists() else "ray", "start", "--head", "--block",
                   "--disable-usage-stats", "--include-dashboard=false",
                   f"--port={self.port}", f"--temp-dir={self.temp_dir}",
                   f"--dashboard-agent-listen-port={_free_port()}"]
        if options.num_cpus is not None:
            command.append(f"--num-cpus={options.num_cpus}")
        command.append(f"--num-gpus={options.num_gpus}")
        if object_store_bytes is not None:
            command.append(f"--object-store-memory={object_store_bytes}")
        if not options.enable_object_spilling:
            command.append('--system-config={"automatic_object_spilling_enabled": false}')
        self.command = command
        self.log = open(log_path, "ab")  # noqa: SIM115 - open for the head's lifetime
        # a token of this head's own (Ray enables token auth for local clusters since 2.59), given
        # to the entry's script through `client_env`; never written into the results tree
        self.client_env = {"RAY_ADDRESS": self.address, "RAY_AUTH_MODE": "token",
                           "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        env = {**os.environ, **self.client_env, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True, env=env)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"ray start exited with {code}; see logs/ray_startup.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    time.sleep(1.0)  # the GCS answers before the raylet has registered
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the Ray head did not answer on {self.address} within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Stop the head and everything it started; keep its logs in ray_cluster/."""
        if self.process.poll() is None:
            kill_group(self.process, grace_s=3.0)  # it would drain for 30 s; nothing is left to drain
        self.log.close()
        (self.cluster_dir / "cluster.json").write_text(json.dumps({
            "address": self.address, "command": self.command, "temp_dir": self.temp_dir}, indent=2) + "\n")
        logs = Path(self.temp_dir) / "session_latest" / "logs"
        if logs.is_dir():
            shutil.copytree(logs, self.cluster_dir / "logs", dirs_exist_ok=True, symlinks=True,
                            ignore_dangling_symlinks=True)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def kill_group(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM to the process's whole group, SIGKILL after `grace_s`: nothing it started survives."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
