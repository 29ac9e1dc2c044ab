"""Shared fixtures: small sidecar run trees written from the FORMATS schema, and builds."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitegen.config import Config, load_config
from sitegen.reporting import RecordingReporter

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
OLD = 1_700_000_000  # a fixed past time: files this old are never racy


def write_sidecar_run(
    root: Path, rel: str, *, status: str = "completed", rows: int = 20, tags: list[str] | None = None,
    hparams: dict[str, object] | None = None, log: str | None = "epoch 1 loss 0.5\n", notes: str = "",
) -> Path:
    """A run dir like the stable-pretraining registry writes (FORMATS.md §4), with old mtimes."""
    run_dir = root / rel
    run_dir.mkdir(parents=True, exist_ok=True)
    sidecar = {
        "schema_version": 1, "run_id": rel.rsplit("/", 1)[-1], "run_dir": str(run_dir),
        "status": status, "created_at": OLD, "ended_at": OLD + 600 if status != "running" else None,
        "updated_at": OLD + 600, "tags": tags or [], "notes": notes,
        "hparams": hparams or {"optimizer.lr": 0.001, "max_tokens": 2048},
        "summary": {"train/loss": 0.1}, "checkpoint_path": None,
    }
    (run_dir / "sidecar.json").write_text(json.dumps(sidecar, indent=2))
    lines = ["step,epoch,train/loss"] + [f"{i},{i // 10},{1.0 / (i + 1):.6f}" for i in range(rows)]
    (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    if log is not None:
        (run_dir / "train.out").write_text(log)
    age(run_dir)
    return run_dir


def age(path: Path, when: float = OLD) -> None:
    """Set old mtimes on a tree, so the racy-file rule does not force re-reads in tests."""
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            os.utime(os.path.join(dirpath, name), (when, when))
        os.utime(dirpath, (when, when))


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    write_sidecar_run(root, "20231114/221320/aaaaaaaaaaaa", tags=["sweep:7"])
    write_sidecar_run(root, "20231114/221320/bbbbbbbbbbbb", tags=["sweep:7"], status="failed",
                      log="Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom\n")
    write_sidecar_run(root, "20231115/080000/cccccccccccc")
    age(root)
    return root


def make_config(root: Path, out: Path, yaml_text: str = "", **overrides: object) -> Config:
    """A config as `sitegen.yaml` beside the runs would give, with the given overrides."""
    file = root.parent / "sitegen.yaml"
    file.write_text(yaml_text)
    return load_config(str(file), roots=[str(root)], out=str(out), **overrides)


def run_build(config: Config, **kwargs: object) -> RecordingReporter:
    from sitegen.pipeline import build

    reporter = RecordingReporter()
    build(config, reporter=reporter, **kwargs)
    return reporter


def site_files(out: Path) -> dict[str, bytes]:
    """Every published file of a site (the build cache excluded)."""
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and not rel.startswith("_build/"):
            files[rel] = path.read_bytes()
    return files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(process: subprocess.Popen) -> None:
    """A server and its workers: the process group it was started in."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def mlflow_server(home: Path) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """A real `mlflow server` on loopback with a sqlite backend; skips the test if it cannot start.
    A free port can be taken by another process before the server binds it: then another port."""
    for _attempt in range(3):
        uri, process = _start_mlflow_server(home)
        if process is not None:
            break
    else:
        pytest.skip(f"the MLflow server found no free port: {_log_tail(home / 'server.log')}")
    try:
        yield uri, home, process
    finally:
        stop_process_group(process)


def _start_mlflow_server(home: Path) -> tuple[str, subprocess.Popen | None]:
    """The server answering at its URI, or None if its port was taken meanwhile."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{home}/mlflow.db",
               "--default-artifact-root", str(home / "artifacts"), "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
    # no job runner: it starts a pool of Huey consumers that the tests never use, and those take
    # CPU for seconds and make the server slow to stop
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(home / "server.log", "wb") as log:
        process = subprocess.Popen(command, cwd=home, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while not (process.poll() is None and _answers(f"{uri}/health")):
        if process.poll() is not None and "address already in use" in _log_tail(home / "server.log"):
            return uri, None
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process_group(process)
            pytest.skip(f"the MLflow server could not start ({command}):\n{_log_tail(home / 'server.log')}")
        time.sleep(0.3)
    return uri, process


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:] if path.is_file() else "(no log)"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the interpreter's teardown once every result is reported, when Ray was
    used: its core worker, started and stopped several times in this process, can crash that
    teardown with a segmentation fault after all tests passed (ray-project/ray#31145; seen here
    once in five full runs under load), which would fail `make test`."""
    if "ray" in sys.modules and _EXIT_STATUS in config.stash:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[_EXIT_STATUS])
