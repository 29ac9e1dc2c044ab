"""`sitegen run` for real: a matrix of three entries, each on a Ray head of its own (one does
Ray work, one fails, one hangs past its timeout with a child process), then the site."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, int, str]:
    work = tmp_path_factory.mktemp("matrix")
    for name, text in (("work.py", WORK), ("fail.py", FAIL), ("hang.py", HANG), ("matrix.yaml", MATRIX)):
        (work / name).write_text(text)
    (work / "datasets.json").write_text(json.dumps({"numbers": {"jsonl": "/data/numbers.jsonl"}}))
    cwd = os.getcwd()
    os.chdir(work)  # the site goes to ./site, as for a user in their benchmark repo
    try:
        from contextlib import redirect_stdout
        from io import StringIO

        console = StringIO()
        with redirect_stdout(console):
            code = main(["run", "--matrix", "matrix.yaml", "--datasets", "datasets.json",
                         "--session-name", "nightly-run-20261123-020000", "-q"])
    finally:
        os.chdir(cwd)
    return work, code, console.getvalue()


def test_the_console_tells_the_session_entry_by_entry(session):
    work, code, console = session
    lines = console.splitlines()
    assert code == 1  # an entry failed
    session_dir = f"{work}/results/{SESSION}"
    assert lines[0] == f"session {SESSION} → {session_dir} (3 entries)"
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
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_the_site_is_built_over_the_results(session):
    work, _code, _console = session
    runs = {r["run_id"]: r for r in json.loads((work / "site" / "runs.json").read_text())["runs"]}
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
