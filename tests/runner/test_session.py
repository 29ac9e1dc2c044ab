"""`sitegen run` for real: a matrix of three entries, each on a Ray head of its own (one does
Ray work, one fails, one hangs past its timeout with a child process), then the site."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import mlflow_server
from runs_json import read_runs

from sitegen.cli import main

ray = pytest.importorskip("ray", reason="needs ray (pip install -e '.[test]')")

WORK = '''
import argparse, json, time
import ray
parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int)
parser.add_argument("--input")
parser.add_argument("--benchmark-results-path")
args = parser.parse_args()
ray.init()
@ray.remote
def square(x):
    return x * x
start = time.time()
total = sum(ray.get([square.remote(i) for i in range(args.size)]))
resources = ray.cluster_resources()
with open(f"{args.benchmark_results_path}/params.json", "w") as f:
    json.dump({"size": args.size, "input": args.input}, f)
with open(f"{args.benchmark_results_path}/metrics.json", "w") as f:
    json.dump({"is_success": True, "time_taken": time.time() - start, "total": total,
               "cluster_cpus": resources["CPU"]}, f)
print("total", total)
'''
FAIL = 'import sys\nprint("bad input", file=sys.stderr)\nraise SystemExit(3)\n'
HANG = '''
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open("child.pid", "w").write(str(child.pid))
time.sleep(300)
'''
SESSION = "nightly-run-20261123-020000"
MATRIX = """
default_timeout_s: 120
results_dir: results
mlflow:
  tracking_uri: ${TEST_MLFLOW_URI}
  experiment: nightly
slack:
  webhook_env: TEST_WEBHOOK_URL
x-ray: &one_cpu
  num_cpus: 1
entries:
  - name: squares
    script: work.py
    args: --size 50 --input {dataset:numbers,jsonl}
    ray: *one_cpu
  - name: fails
    script: fail.py
    ray: *one_cpu
  - name: hangs
    script: hang.py
    timeout_s: 3
    delete_scratch: false
    ray: *one_cpu
"""


class Hooks(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Hooks.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> str:
    server = http.server.HTTPServer(("127.0.0.1", 0), Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def tracking(tmp_path_factory) -> str:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as (uri, _home, _process):
        yield uri


@pytest.fixture(scope="module")
def session(tmp_path_factory, tracking, webhook) -> tuple[Path, int, str]:
    work = tmp_path_factory.mktemp("matrix")
    for name, text in (("work.py", WORK), ("fail.py", FAIL), ("hang.py", HANG), ("matrix.yaml", MATRIX)):
        (work / name).write_text(text)
    (work / "datasets.json").write_text(json.dumps({"numbers": {"jsonl": "/data/numbers.jsonl"}}))
    from contextlib import redirect_stdout
    from io import StringIO

    console = StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(console):
        patch.chdir(work)  # the site goes to ./site, as for a user in their benchmark repo
        patch.setenv("TEST_MLFLOW_URI", tracking)
        patch.setenv("TEST_WEBHOOK_URL", webhook)
        # the sink gives up on a request after 10 s; a loaded machine is no reason to here
        patch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
        code = main(["run", "--matrix", "matrix.yaml", "--datasets", "datasets.json",
                     "--session-name", "nightly-run-20261123-020000", "--sink", "mlflow", "-q"])
    return work, code, console.getvalue()


def test_the_console_tells_the_session_entry_by_entry(session):
    work, code, console = session
    lines = console.splitlines()
    assert code == 1  # an entry failed
    session_dir = f"{work}/results/{SESSION}"
    assert lines[0] == f"session {SESSION} → {session_dir} (3 entries, each on a Ray head of its own)"
    assert lines[1] == "  entry squares (1/3), timeout 120 s"
    assert lines[2] == f"    $ python {work}/work.py --size 50 --input /data/numbers.jsonl"
    assert lines[3].startswith("    ✅ ") and lines[3].endswith(f"logs: {session_dir}/squares/logs")
    assert lines[6].startswith("    ❌ exit code 3")
    assert lines[9].startswith("    ❌ timed out after 3 s")
    assert lines[-1].startswith(f"session {SESSION}: 1 passed, 2 failed in ")


def test_each_entry_leaves_the_nightly_layout(session):
    work, _code, _console = session
    entry = work / "results" / "nightly-run-20261123-020000" / "squares"
    assert sorted(p.name for p in entry.iterdir()) == [
        "artifacts", "benchmark_results", "logs", "ray_cluster", "results.json", "scratch"]
    results = json.loads((entry / "results.json").read_text())
    assert results["run"]["exit_code"] == 0 and results["run"]["timed_out"] is False
    assert results["run"]["cmd"].endswith(f"--benchmark-results-path {entry}/benchmark_results")
    assert results["ray"]["num_cpus"] == 1 and results["script_params_metrics"]["metrics"]["total"] == 40425
    assert results["script_params_metrics"]["metrics"]["cluster_cpus"] == 1.0  # the entry's own head
    assert (entry / "logs" / "stdout.log").read_text() == "total 40425\n"
    assert "Ray runtime started" in (entry / "logs" / "ray_startup.log").read_text()
    assert "ray==" in (entry / "artifacts" / "pip-freeze.txt").read_text()
    assert json.loads((entry / "artifacts" / "compute.json").read_text())["cpu_count"] >= 1
    cluster = json.loads((entry / "ray_cluster" / "cluster.json").read_text())
    assert not Path(cluster["temp_dir"]).exists()  # torn down, its logs kept in ray_cluster/logs
    assert "RAY_AUTH_TOKEN" not in json.dumps(cluster) and list((entry / "scratch").iterdir()) == []


def test_a_timeout_kills_the_whole_process_tree(session):
    work, _code, _console = session
    entry = work / "results" / "nightly-run-20261123-020000" / "hangs"
    results = json.loads((entry / "results.json").read_text())
    assert results["run"]["timed_out"] is True
    child = int((entry / "scratch" / "child.pid").read_text())
    assert not runs(child), f"the hanging script's child {child} still runs"


def runs(pid: int) -> bool:
    """Whether `pid` still runs code: a zombie does not (killed, and not yet reaped by whichever
    process adopted it; in a container that may be never)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:  # reaped meanwhile; or no /proc, and then os.kill has told
        return not Path("/proc/self").is_dir()
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_the_site_is_built_over_the_results(session):
    work, _code, _console = session
    runs = {r["run_id"]: r for r in read_runs(work / "site")}
    session_name = "nightly-run-20261123-020000"
    assert runs[f"{session_name}/squares"]["status"] == "completed"
    assert runs[f"{session_name}/fails"]["status"] == "failed"
    hangs = runs[f"{session_name}/hangs"]
    assert hangs["status"] == "failed" and hangs["badges"] == ["timed out"]
    page = (work / "site" / runs[f"{session_name}/squares"]["url"]).read_text()
    assert "<h2>Compute</h2>" in page and (work / "site" / "sessions").is_dir()


def test_an_unknown_dataset_stops_the_session_before_anything_runs(tmp_path: Path, capsys):
    (tmp_path / "matrix.yaml").write_text(MATRIX.replace("numbers,jsonl", "numbers,parquet"))
    (tmp_path / "datasets.json").write_text(json.dumps({"numbers": {"jsonl": "/data/numbers.jsonl"}}))
    code = main(["run", "--matrix", str(tmp_path / "matrix.yaml"),
                 "--datasets", str(tmp_path / "datasets.json"), "--no-build"])
    assert code == 2 and not (tmp_path / "results").exists()
    assert "dataset 'numbers' has no format 'parquet' (it has: jsonl)" in capsys.readouterr().err


def test_the_mlflow_sink_has_a_parent_run_and_a_child_per_entry(session, tracking):
    from mlflow import MlflowClient

    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name("nightly")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    parent = runs[SESSION]
    assert parent.info.status == "FAILED" and parent.data.metrics["entries_failed"] == 2.0
    children = {name: run for name, run in runs.items()
                if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(children) == {"squares", "fails", "hangs"}
    squares = children["squares"]
    assert squares.info.status == "FINISHED" and children["fails"].info.status == "FAILED"
    assert squares.data.params["script_size"] == "50" and squares.data.metrics["script_total"] == 40425.0
    assert squares.data.metrics["exit_code"] == 0.0 and children["hangs"].data.metrics["timed_out"] == 1.0
    listed = {a.path for a in client.list_artifacts(squares.info.run_id)}
    assert {"logs", "artifacts", "benchmark_results", "results.json"} <= listed


def test_the_webhook_gets_a_summary(session):
    texts = [hook["text"] for hook in Hooks.received]
    assert len(texts) == 1 and texts[0].startswith(f"sitegen session {SESSION}: 1 passed, 2 failed")
    assert "✅ squares" in texts[0] and "❌ hangs" in texts[0]


def test_a_sink_that_is_down_is_a_warning_and_the_results_are_on_disk(tmp_path: Path, capsys, monkeypatch):
    (tmp_path / "fail.py").write_text(FAIL)
    (tmp_path / "matrix.yaml").write_text(
        "mlflow: {tracking_uri: 'http://127.0.0.1:9', experiment: x}\n"
        "entries: [{name: quick, script: fail.py, ray: {num_cpus: 1}}]\n")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    code = main(["run", "--matrix", str(tmp_path / "matrix.yaml"), "--sink", "mlflow", "--no-build",
                 "--results-dir", str(tmp_path / "results"), "--session-name", "s"])
    out = capsys.readouterr().out
    assert code == 1 and "warning: mlflow sink: connection refused; the results stay on disk only" in out
    assert (tmp_path / "results" / "s" / "quick" / "results.json").is_file()


def test_entries_as_jobs_on_an_existing_cluster(tmp_path: Path):
    """--ray-address: a cluster the test starts (with its job server, token auth on); each entry
    is a job. `sitegen run` runs as its own process, as a user runs it (Ray reads its auth
    settings when it is imported)."""
    pytest.importorskip("ray.dashboard", reason="needs ray[default] (the job server)")
    from conftest import free_port

    from sitegen.runner.ray_cluster import kill_group

    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "t" * 32}
    port, dashboard = free_port(), free_port()
    ray_cli = Path(sys.executable).with_name("ray")
    with open(tmp_path / "head.log", "wb") as log:
        head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                                 f"--dashboard-port={dashboard}", "--dashboard-host=127.0.0.1",
                                 "--include-dashboard=true", "--disable-usage-stats"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        for name, text in (("work.py", WORK), ("hang.py", HANG)):
            (tmp_path / name).write_text(text)
        (tmp_path / "matrix.yaml").write_text(
            "entries:\n"
            "  - {name: squares, script: work.py, args: --size 20 --input x, ray: {num_cpus: 1}}\n"
            # the timeout counts from the submission: time for the job to start on a loaded machine
            "  - {name: hangs, script: hang.py, timeout_s: 15, delete_scratch: false, ray: {num_cpus: 1}}\n")
        address = f"http://127.0.0.1:{dashboard}"
        _wait_for_job_server(address, head)
        done = subprocess.run(
            [sys.executable, "-m", "sitegen", "run", "--matrix", str(tmp_path / "matrix.yaml"),
             "--ray-address", address, "--results-dir", str(tmp_path / "results"), "--session-name", "s",
             "--no-build"], env=env, capture_output=True, text=True, timeout=300)
    finally:
        kill_group(head, grace_s=3.0)  # as `sitegen run` stops its own heads: Ray would drain for 30 s
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"(2 entries, as jobs on {address})" in done.stdout
    squares = json.loads((tmp_path / "results" / "s" / "squares" / "results.json").read_text())
    assert squares["run"]["exit_code"] == 0 and squares["ray"]["address"] == address
    assert squares["script_params_metrics"]["metrics"]["total"] == 2470
    assert "total 2470" in (tmp_path / "results" / "s" / "squares" / "logs" / "stdout.log").read_text()
    hangs = json.loads((tmp_path / "results" / "s" / "hangs" / "results.json").read_text())
    assert hangs["run"]["timed_out"] is True
    assert (tmp_path / "results" / "s" / "hangs" / "scratch" / "child.pid").is_file()  # ran in scratch/


def _wait_for_job_server(address: str, head: subprocess.Popen) -> None:
    """Until the dashboard answers at all (401 without a token is an answer)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{address}/api/version", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"the Ray head with a job server did not start: {exc}")
            time.sleep(1)


def test_the_wandb_sink_writes_a_run_per_entry(tmp_path: Path, monkeypatch):
    """The run is complete on disk when `sitegen run` returns: W&B's service writes it after
    `run.finish()` has returned, and a nightly job may exit right then."""
    pytest.importorskip("wandb", reason="the wandb sink needs the wandb package")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    (tmp_path / "work.py").write_text(WORK)
    (tmp_path / "matrix.yaml").write_text(
        "wandb: {project: nightly-demo}\n"
        "entries: [{name: squares, script: work.py, args: --size 10 --input x, ray: {num_cpus: 1}}]\n")
    code = main(["run", "--matrix", str(tmp_path / "matrix.yaml"), "--sink", "wandb", "--no-build",
                 "--results-dir", str(tmp_path / "results"), "--session-name", "s"])
    assert code == 0
    files = list((tmp_path / "results" / "s" / "squares" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    records = wandb_records(files[0])
    kinds = [record.WhichOneof("record_type") for record in records]
    assert kinds[:1] == ["header"] and "exit" in kinds, kinds  # not just the file header
    run = next(record.run for record in records if record.HasField("run"))
    assert (run.project, run.run_group, run.display_name, run.job_type) == (
        "nightly-demo", "s", "squares", "benchmark-entry")
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["script_size"] == 10 and config["run_cmd"].startswith(sys.executable)
    history = {".".join(item.nested_key) or item.key: json.loads(item.value_json)
               for record in records if record.HasField("history") for item in record.history.item}
    assert history["script_total"] == 285 and history["success"] == 1 and history["exit_code"] == 0
    assert next(record.exit for record in records if record.HasField("exit")).exit_code == 0


def wandb_records(path: Path) -> list:
    """The records of a W&B transaction log (`.wandb`) as W&B's own reader sees them: its header,
    then LevelDB-log chunks in 32 KiB blocks (CRC-32 over type and payload), each record one of
    W&B's `Record` protobufs. A chunk that does not check out is a failure, not the end."""
    import struct
    import zlib

    from wandb.proto.wandb_internal_pb2 import Record

    data, block = path.read_bytes(), 32 * 1024
    assert data[:6] == b":W&B\xe1\xbe", data[:7]
    records, payload, position = [], b"", 7
    while position + 7 <= len(data):
        if block - position % block < 7 or data[position:position + 7] == bytes(7):
            position += block - position % block  # the rest of a block is zero padding
            continue
        checksum, length, kind = struct.unpack_from("<IHB", data, position)
        chunk = data[position + 7:position + 7 + length]
        assert len(chunk) == length and zlib.crc32(bytes([kind]) + chunk) == checksum, position
        payload, position = payload + chunk, position + 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            records.append(Record.FromString(payload))
            payload = b""
    assert position == len(data) and payload == b"", "the file ends inside a record"
    return records
