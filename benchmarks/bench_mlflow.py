"""Measure builds of an MLflow store: full, no-op and one-run-changed, read from the sqlite file
directly and through an `mlflow server` on loopback. Prints a Markdown table; never asserts.

    .venv/bin/python benchmarks/bench_mlflow.py --runs 1000 --steps 1000

The store (runs in groups of 10: a parent and 9 children; `loss` and `lr` logged at every step)
is generated once into --dir and reused while its size matches.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SITEGEN = [sys.executable, "-m", "sitegen", "build", "--quiet"]


def generate(uri: str, runs: int, steps: int) -> None:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 writes file stores only if told
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(uri)
    experiment = client.create_experiment("bench")
    parent = None
    for index in range(runs):
        tags = {"mlflow.parentRunId": parent} if index % 10 else {}
        run = client.create_run(experiment, run_name=f"run-{index:05d}", tags=tags).info
        parent = run.run_id if index % 10 == 0 else parent
        begun = run.start_time
        metrics = [Metric(name, value, begun + step * 1000, step) for step in range(steps)
                   for name, value in (("loss", 1 / (step + 1)), ("lr", 1e-3 * (1 - step / steps)))]
        client.log_batch(run.run_id, params=[Param("seed", str(index)), Param("batch_size", "256")])
        for start in range(0, len(metrics), 1000):  # MLflow's batch limit
            client.log_batch(run.run_id, metrics=metrics[start:start + 1000])
        client.set_terminated(run.run_id, "FAILED" if index % 97 == 0 else "FINISHED")


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(uri: str, work: Path, repeat: int) -> dict[str, float]:
    (work / "sitegen.yaml").write_text(f"roots: [{json.dumps(uri)}]\nout: site\n")
    full, noop, changed = [], [], []
    for _ in range(repeat):
        shutil.rmtree(work / "site", ignore_errors=True)
        full.append(timed(SITEGEN, work))
        noop.append(timed([*SITEGEN, "--report", "noop-report.json"], work))  # a no-op leaves _build/ alone
        report = json.loads((work / "noop-report.json").read_text())
        if report["runs_read"]:
            raise SystemExit(f"the no-op rebuild read {report['runs_read']} runs: {report['warnings'][:3]}")
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    one = client.search_runs(experiments, max_results=1)[0]
    for step in range(repeat):
        client.log_metric(one.info.run_id, "extra", float(step), step=step)
        changed.append(timed(SITEGEN, work))
    return {"full": statistics.median(full), "noop": statistics.median(noop),
            "changed": statistics.median(changed)}


def serve(db: Path, home: Path) -> tuple[str, subprocess.Popen]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    log = open(home / "server.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
         "--default-artifact-root", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port)],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return uri, process
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the MLflow server did not start; see {home / 'server.log'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=REPO / "bench-out" / "mlflow")
    parser.add_argument("--no-server", action="store_true", help="only the sqlite:/// root")
    parser.add_argument("--file-store", action="store_true",
                        help="an mlruns/ file store instead (read from its files; no server)")
    args = parser.parse_args()
    home = args.dir.resolve()
    home.mkdir(parents=True, exist_ok=True)
    db, stamp = home / ("mlruns" if args.file_store else "mlflow.db"), home / "generated.json"
    uri = db.as_uri() if args.file_store else f"sqlite:///{db}"
    wanted = {"runs": args.runs, "steps": args.steps, "uri": uri}
    if not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        shutil.rmtree(db, ignore_errors=True) if db.is_dir() else db.unlink(missing_ok=True)
        start = time.perf_counter()
        generate(uri, args.runs, args.steps)
        if args.file_store:  # files younger than the racy window would be read again by a no-op
            _age(db, time.time() - 3600)
        stamp.write_text(json.dumps(wanted))
        print(f"generated {args.runs} runs x {args.steps} steps in {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
    name = "file:// (mlruns/)" if args.file_store else "sqlite:/// (direct)"
    rows = [(name, measure(uri, _fresh(home / "site-root"), args.repeat))]
    if not args.no_server and not args.file_store:
        uri, process = serve(db, home)
        try:
            figures = measure(uri, _fresh(home / "http"), args.repeat)
            rows.append(("http:// (mlflow server, loopback)", figures))
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    print(f"{args.runs} MLflow runs x {args.steps} steps x 2 metrics; median of {args.repeat}\n")
    print("| root | full build | no-op rebuild | one run changed |\n|---|---|---|---|")
    for name, figures in rows:
        print(f"| {name} | {figures['full']:.2f} s | {figures['noop']:.2f} s | {figures['changed']:.2f} s |")


def _age(top: Path, when: float) -> None:
    for path in [top, *top.rglob("*")]:
        os.utime(path, (when, when))


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


if __name__ == "__main__":
    main()
