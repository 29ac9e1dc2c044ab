"""`--executor ray`: the runs to read are read by Ray tasks, in batches, on a local Ray or an
existing cluster (`build.ray_address`, or RAY_ADDRESS); each batch comes back as msgpack and the
driver caches, renders and writes as a local build does, so the site is byte-identical.
Ray is started only for a build that has runs to read: a no-op build never starts it."""

from __future__ import annotations

import os

import msgspec

from sitegen.run_jobs import JobSettings, RunJob, read_batch

BATCH = 64  # runs per task: a task's start-up is amortised, and a slow run holds few others


def read_on_ray(jobs: list[RunJob], settings: JobSettings, address: str | None) -> list[RunJob]:
    """`jobs` with every run to read already read (`RunJob.run`), by Ray tasks."""
    reads = [job for job in jobs if job.read]
    if not reads:
        return jobs
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        # "local": a Ray of our own, never whichever cluster `ray start` last left on this node
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        # on a cluster, the workers may not have sitegen installed: ship this package with the tasks
        package = os.path.dirname(os.path.abspath(__file__))
        runtime_env = {"py_modules": [package]} if address != "local" else None
        ray.init(address=address, runtime_env=runtime_env, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    try:
        task = ray.remote(read_batch)
        batches = [reads[i:i + BATCH] for i in range(0, len(reads), BATCH)]
        encoded = ray.get([task.remote([job.location for job in batch], settings) for batch in batches])
    finally:
        if started_here:
            ray.shutdown()
    read = {id(job): data for batch, results in zip(batches, encoded, strict=True)
            for job, data in zip(batch, results, strict=True)}
    return [msgspec.structs.replace(job, run=read[id(job)]) if job.read else job for job in jobs]
