"""`--executor ray`: a build's run jobs done by Ray tasks, in batches spread over the cluster
(`build.ray_address`, or RAY_ADDRESS, else a local Ray). Ray is started only for a build that
has runs to read or render: a no-op build never starts it.

- `read_on_ray`: the tasks only read; each run comes back as msgpack, and the driver caches,
  renders and writes it as a local build does.
- `run_on_ray` (`build.shared_out`: every worker sees the output directory): the tasks read,
  render and write the run pages and the run cache themselves, each file named first in the
  worker's own journal and made durable before the task returns. Only outcomes come back; the
  driver writes the pages about all runs and the manifest, once.

A task first checks that its worker runs the driver's sitegen (and, to render, sees its theme),
else `WorkerMismatch`; and before each run it writes, that the driver's build still holds the
lock (`cache.lock_token`), else `LockLost`: the tasks of a build whose driver died stop once
another build has taken the output directory over.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache as once
from pathlib import Path

import msgspec

from sitegen import __version__, cache
from sitegen.discover import Location
from sitegen.errors import LockLost, SitegenError, WorkerMismatch
from sitegen.run_jobs import JobSettings, RunJob, RunOutcome, read_batch, run_job
from sitegen.write import make_durable

MAX_BATCH = 64  # runs per task at most: a task's start-up is amortised, and a slow run holds few others
BATCHES_PER_WORKER = 4  # so that the workers done first take over the batches still waiting


class Driver(msgspec.Struct, frozen=True):
    """What a task checks before it works: the driver's code, theme and lock."""

    host: str
    code: str  # `code_fingerprint()`
    theme: str  # the theme's fingerprint; "" when the tasks only read
    lock_token: str  # the build's `cache.BuildLock.token`; "" when the tasks only read


def read_on_ray(jobs: list[RunJob], settings: JobSettings, address: str | None) -> list[RunJob]:
    """`jobs` with every run to read already read (`RunJob.run`), by Ray tasks."""
    reads = [job for job in jobs if job.read]
    if not reads:
        return jobs
    driver = Driver(socket.gethostname(), code_fingerprint(), theme="", lock_token="")
    with _connected(address) as ray:
        task = ray.remote(read_batch_checked).options(scheduling_strategy="SPREAD")
        shared = ray.put(settings)
        batches = _batches([job.location for job in reads], ray)
        refs = [task.remote(batch, shared, driver) for batch in batches]
        encoded = [data for results in _results(ray, refs) for data in results]
    read = {id(job): data for job, data in zip(reads, encoded, strict=True)}
    return [msgspec.structs.replace(job, run=read[id(job)]) if job.read else job for job in jobs]


def run_on_ray(
    jobs: list[RunJob], settings: JobSettings, address: str | None, lock_token: str
) -> Iterator[RunOutcome]:
    """Every job done by a Ray task writing into the shared output directory; the outcomes in
    the order of `jobs`. The build whose lock carries `lock_token` is the one they write for."""
    if not jobs:
        return
    driver = Driver(socket.gethostname(), code_fingerprint(), _theme_fingerprint(settings.site.theme),
                    lock_token)
    settings = msgspec.structs.replace(settings, per_worker_journal=True)
    with _connected(address) as ray:
        task = ray.remote(run_batch).options(scheduling_strategy="SPREAD")
        shared = ray.put(settings)
        refs = [task.remote(batch, shared, driver) for batch in _batches(jobs, ray)]
        for outcomes in _results(ray, refs):
            yield from outcomes


def read_batch_checked(locations: list[Location], settings: JobSettings, driver: Driver) -> list[bytes]:
    """A read-only task: the runs read, as msgpack."""
    _check_worker(driver, settings.site.theme)
    return read_batch(locations, settings)


def run_batch(jobs: list[RunJob], settings: JobSettings, driver: Driver) -> list[RunOutcome]:
    """A task writing into the shared output: each run read or taken from the cache, rendered
    and written, then everything it wrote made durable (the driver's manifest will name it)."""
    _check_worker(driver, settings.site.theme)
    outcomes = []
    for job in jobs:
        _check_fence(settings.out, driver)
        outcomes.append(run_job(job, settings))
    _make_durable(settings.out, outcomes)
    return outcomes


@once
def code_fingerprint() -> str:
    """sitegen's version and sources: a worker must run exactly the driver's code (a version
    number alone misses a checkout with local changes)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.blake2b(__version__.encode() + b"\0", digest_size=12)
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _theme_fingerprint(theme: str) -> str:
    from sitegen.render.env import theme_fingerprint

    return theme_fingerprint(Path(theme)).hex()


def _check_worker(driver: Driver, theme: str) -> None:
    host = socket.gethostname()
    if code_fingerprint() != driver.code:
        raise WorkerMismatch(
            f"the Ray worker on {host} runs another sitegen than the build on {driver.host} "
            f"(sitegen {__version__}, sources {code_fingerprint()} against {driver.code}); install the "
            "same sitegen on every node, or let the build ship its own (set build.ray_address and "
            "start no Ray in the process that builds)")
    if driver.theme and _theme_fingerprint(theme) != driver.theme:
        raise WorkerMismatch(
            f"the Ray worker on {host} sees another theme at {theme} than the build on {driver.host}; "
            "with build.shared_out the theme must be on a file system every worker sees, at the same path")


def _check_fence(out: str, driver: Driver) -> None:
    token = cache.lock_token(out)
    if token == driver.lock_token:
        return
    if token is None:
        raise LockLost(
            f"the Ray worker on {socket.gethostname()} finds no build lock in {out}: the output "
            "directory is not shared with it (build.shared_out: true says every worker sees it at "
            "that path), or the build has ended; set build.shared_out: false to write from here")
    raise LockLost(f"another build took {out} over while this one ran; this build's Ray tasks stopped "
                   "writing, and the other build completes the site")


def _make_durable(out: str, outcomes: list[RunOutcome]) -> None:
    """The files the task wrote and the directories of its renames and removals, flushed on this
    worker: on another machine, nothing the driver flushes reaches them."""
    make_durable(out, [
        path for outcome in outcomes for path in (
            *outcome.written, *outcome.removed,
            *([cache.cached_run_path(outcome.record.slug)] if outcome.read else []))
    ])


def _batches(items: list, ray: object) -> list[list]:
    """Several batches per worker CPU, each at most MAX_BATCH long."""
    workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = max(1, min(MAX_BATCH, -(-len(items) // (workers * BATCHES_PER_WORKER))))
    return [items[i:i + size] for i in range(0, len(items), size)]


def _results(ray: object, refs: list) -> Iterator[list]:
    """Each task's result in order; a task's SitegenError raised as itself, once the other
    tasks have ended: each stops at its next run when the build's lock is no longer its own, and
    none is left writing after this build. (No `ray.cancel`: cancelling a task whose reply is on
    its way aborts the driver in Ray 2.x, `Check failed: it != submissible_tasks_.end()`.)"""
    finished = 0
    try:
        for ref in refs:
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, SitegenError):
                    raise exc.cause from None
                raise
            finished += 1
            yield result
    except SitegenError:
        rest = refs[finished + 1:]
        if rest:
            ray.wait(rest, num_returns=len(rest))
        raise


@contextmanager
def _connected(address: str | None) -> Iterator[object]:
    """The `ray` module, connected: to the Ray this process already uses, else to one started
    for the build and stopped after it."""
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
        yield ray
    finally:
        if started_here:
            ray.shutdown()
