"""`--executor ray` with `build.shared_out`: run pages rendered and written by Ray tasks on a real
two-node cluster (`ray.cluster_utils.Cluster`, one CPU a node) give the local build's site, byte
for byte; the tasks of a build whose lock was taken over stop writing; worker journals go."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from conftest import OLD, age, run_build, write_sidecar_run
from job_events import write_job

from sitegen import __version__, cache, pipeline
from sitegen.config import Config, load_config
from sitegen.discover import find_runs
from sitegen.errors import LockLost, WorkerMismatch
from sitegen.slug import run_slug

ray = pytest.importorskip("ray", reason="needs ray (pip install -e '.[test]')")
from ray.cluster_utils import Cluster  # noqa: E402  (after the skip)

RUNS = 40
VOLATILE = {"_build/report.json",  # its build duration
            "_build/manifest-snapshot.msgpack"}  # its random id: compared decoded (`manifest`)


class FrozenClock:
    """The build's clock at one instant: both builds show a broken run "since" the same time."""

    @staticmethod
    def time() -> float:
        return 1_763_900_000.0


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes of one CPU each on this machine, the tests' process their driver."""
    if ray.is_initialized():
        ray.shutdown()
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, include_dashboard=False, log_to_driver=False)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cluster") / "runs"
    for index in range(RUNS):
        write_sidecar_run(root, f"sweep/{index:03d}", tags=["sweep:1"], rows=30, log="step 1 ok\n")
    write_job(root / "dj")
    (root / "broken").mkdir()
    (root / "broken" / "sidecar.json").write_text("{not json")
    age(root)
    return root


def cluster_config(root: Path, out: Path) -> Config:
    return load_config(None, roots=[str(root)], out=str(out),
                       **{"build.executor": "ray", "build.shared_out": True})


def every_file(out: Path) -> dict[str, bytes]:
    """Every file under `out`, the build cache included (but for its volatile report)."""
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*"))
            if path.is_file() and path.relative_to(out).as_posix() not in VOLATILE}


def manifest(out: Path) -> cache.Manifest:
    loaded, reason = cache.ManifestStore(str(out)).load(__version__)
    assert reason is None
    return loaded


def frozen_build(config: Config):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "time", FrozenClock)
        return run_build(config)


def test_a_full_build_on_the_cluster_is_the_local_build_byte_for_byte(cluster, root):
    out = root.parent / "site"  # both builds write there (the config, its `out` too, is in the cache)
    local = frozen_build(load_config(None, roots=[str(root)], out=str(out)))
    out.rename(root.parent / "local")
    on_cluster = frozen_build(cluster_config(root, out))
    assert on_cluster.report.runs_read == local.report.runs_read == RUNS + 2
    assert on_cluster.report.runs_failed == 1
    assert every_file(out) == every_file(root.parent / "local")
    assert manifest(out) == manifest(root.parent / "local")
    assert not (out / "_build" / "journal.d").exists()  # the workers' journals are gone
    assert ray.is_initialized()  # the build used the Ray it found, and left it running


def test_an_incremental_build_on_the_cluster_rewrites_only_the_changed_run(cluster, root, tmp_path):
    config = cluster_config(root, tmp_path / "site")
    run_build(config)
    changed = root / "sweep" / "007"
    with (changed / "metrics.csv").open("a") as handle:
        handle.write("30,3,0.05\n")
    age(changed, when=OLD + 100)
    again = run_build(config)
    assert again.read == ["sweep/007"]
    run_pages = {path for path in again.written if path.startswith("runs/")}
    assert {path.split("/")[1] for path in run_pages} == {run_slug(str(root), "sweep/007")}
    assert not (tmp_path / "site" / "_build" / "journal.d").exists()


def take_over(out: Path) -> None:
    """What another build does to a lock it judged stale: its own lock, with its own token, put
    in place (here by a process that has ended since, so that the next build takes it over)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    lock = out / "_build" / "lock"
    lock.with_name("lock.other").write_text(f"{socket.gethostname()} {done.stdout.strip()} othertoken\n")
    lock.with_name("lock.other").replace(lock)


def runs_with_pages(out: Path) -> int:
    return sum(1 for page in (out / "runs").glob("*/index.html")) if (out / "runs").is_dir() else 0


def test_a_build_whose_lock_was_taken_over_mid_build_is_fenced(cluster, root, tmp_path):
    out = tmp_path / "site"
    config = cluster_config(root, out)
    with cache.BuildLock(str(out)) as lock:
        settings = pipeline._job_settings(config, time.time())
        found = find_runs([str(root)], {}, relist=True, skip=[str(out)])
        jobs, _kept = pipeline.plan_run_jobs(found.locations, cache.Manifest(), settings)
        outcomes = pipeline.execute_on(config.build, jobs, settings, lock.token)
        first = next(outcomes)  # the first batch is written: this build is under way
        take_over(out)
        with pytest.raises(LockLost, match=r"another build took .* over while this one ran"):
            list(outcomes)
    written = runs_with_pages(out)
    assert first.written and 0 < written < len(jobs)  # the batches after the take-over wrote nothing
    journals = list((out / "_build" / "journal.d").iterdir())  # what the fenced tasks wrote
    assert len(journals) >= 2  # one per worker process: the batches were spread over both nodes

    report = run_build(config)  # takes the dead build's lock over and completes the site
    assert "a previous build was interrupted; finishing its work" in report.report.notes
    assert not (out / "_build" / "journal.d").exists()
    assert [p for p in out.rglob(".tmp-*")] == []
    assert runs_with_pages(out) == RUNS + 2


def test_tasks_refuse_to_write_without_the_build_lock(cluster, root, tmp_path):
    """A worker that does not see the lock (an output that is not shared with it) writes nothing."""
    out = tmp_path / "site"
    config = cluster_config(root, out)
    settings = pipeline._job_settings(config, time.time())
    found = find_runs([str(root)], {}, relist=True, skip=[str(out)])
    jobs, _kept = pipeline.plan_run_jobs(found.locations, cache.Manifest(), settings)
    with pytest.raises(LockLost, match="finds no build lock"):
        list(pipeline.execute_on(config.build, jobs, settings, "sometoken"))
    assert runs_with_pages(out) == 0


def test_a_worker_running_other_code_is_refused(cluster, root, tmp_path):
    from sitegen import ray_jobs

    out = tmp_path / "site"
    settings = pipeline._job_settings(cluster_config(root, out), time.time())
    found = find_runs([str(root)], {}, relist=True, skip=[str(out)])
    jobs, _kept = pipeline.plan_run_jobs(found.locations[:2], cache.Manifest(), settings)
    driver = ray_jobs.Driver(socket.gethostname(), "0" * 24, theme="", lock_token="")
    task = ray.remote(ray_jobs.run_batch)
    with pytest.raises(WorkerMismatch, match="runs another sitegen than the build"):
        ray.get(task.remote(jobs, settings, driver))
    other_theme = msgspec.structs.replace(driver, code=ray_jobs.code_fingerprint(), theme="00" * 16)
    with pytest.raises(WorkerMismatch, match="sees another theme"):
        ray.get(task.remote(jobs, settings, other_theme))
    assert not os.path.exists(out)
