"""One unit of parallel build work per run: read it or reuse the cache, keep the last
good data when a read fails, settle its status, and render and write its pages."""

from __future__ import annotations

import hashlib
import os
import sys

import msgspec

from sitegen import cache, journal
from sitegen.analysis.status import live_until, settle_status
from sitegen.discover import Location
from sitegen.model import FALLBACK_BADGES, Problem, Run
from sitegen.paths import resolve_within
from sitegen.readers import reader_named, reader_version
from sitegen.render.site import SiteInfo
from sitegen.shards import NEW
from sitegen.write import copy_if_changed, remove_page, write_if_changed


class JobSettings(msgspec.Struct, frozen=True):
    """What every run job needs, sent once to each worker process."""

    out: str
    site: SiteInfo
    site_key: str
    allowed: tuple[str, ...]
    redact: tuple[str, ...]
    log_tail_bytes: int
    now: float
    started_ns: int
    racy_window_s: float
    heartbeat_timeout_s: float
    per_worker_journal: bool = False  # a Ray task writing into a shared output (`journal.announce`)


class RunJob(msgspec.Struct, frozen=True):
    location: Location
    record: cache.RunRecord | None
    read: bool  # False: the cached Run is still good, only its pages need rendering
    run: bytes | None = None  # the Run already read elsewhere (a Ray task), msgpack


class RunOutcome(msgspec.Struct):
    listing: bytes  # msgpack of the run's cache.Listing
    record: cache.RunRecord
    read: bool
    failed: str | None
    warnings: list[str]
    fallback: tuple[str, ...]  # the run's FALLBACK_BADGES, when it was read
    written: list[str]
    unchanged: int
    removed: list[str]


def render_key(site_key: str, fingerprint: str, status: str) -> str:
    data = f"{site_key}\0{fingerprint}\0{status}".encode()
    return hashlib.blake2b(data, digest_size=12).hexdigest()


_settings: JobSettings | None = None


_build_pid = 0


def init_worker(settings: JobSettings, build_pid: int) -> None:
    """Set up a pool worker: it dies with the build that started it (a SIGKILLed build must not
    leave workers that go on writing into its output)."""
    global _settings, _build_pid
    _settings, _build_pid = settings, build_pid
    _die_with_parent()
    _exit_if_orphaned()


def run_job_in_worker(job: RunJob) -> RunOutcome:
    assert _settings is not None
    _exit_if_orphaned()  # where the kernel cannot signal it (not Linux)
    return run_job(job, _settings)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel SIGKILLs this process when its parent exits (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the parent-pid check still stops a job from starting


_PR_SET_PDEATHSIG = 1


def _exit_if_orphaned() -> None:
    if os.getppid() != _build_pid:
        os._exit(1)


def run_job(job: RunJob, settings: JobSettings) -> RunOutcome:
    loc = job.location
    run = None if job.read else cache.load_run(settings.out, job.record.slug)
    read = run is None
    record = job.record
    if read:
        run, record = _read(loc, job.record, settings, job.run)
    shown = settle_status(run, settings.now, settings.heartbeat_timeout_s)
    key = render_key(settings.site_key, record.fingerprint, shown.status)
    record = msgspec.structs.replace(
        record, shown_status=shown.status, live_until=live_until(run, settings.heartbeat_timeout_s)
    )
    written, unchanged, removed = [], 0, []
    if record.render_key != key:
        written, unchanged, removed, pages = _write_pages(shown, cache.record_pages(record), settings)
        record = msgspec.structs.replace(record, render_key=key, pages=cache.pack_pages(record.slug, pages))
    else:
        unchanged = cache.page_count(record)
    return RunOutcome(
        listing=msgspec.msgpack.encode(listing(shown)),
        record=record,
        read=read,
        failed=run.problem.message if read and run.problem else None,
        warnings=list(run.warnings) if read else [],
        fallback=tuple(b for b in run.badges if b in FALLBACK_BADGES) if read else (),
        written=written,
        unchanged=unchanged,
        removed=removed,
    )


def listing(run: Run) -> cache.Listing:
    from sitegen.render.index import index_row, runs_json_entry

    return cache.Listing(cache.header(run), index_row(run), runs_json_entry(run))


def read_run(loc: Location, s: JobSettings) -> Run:
    """Only the reading: what a Ray task does for the driver."""
    from sitegen.readers.base import ReadContext, with_summary_from_series
    from sitegen.redact import Redactor

    ctx = ReadContext(root=loc.root, allowed=s.allowed, redactor=Redactor(s.redact),
                      log_tail_bytes=s.log_tail_bytes)
    return with_summary_from_series(reader_named(loc.reader).read(loc.run_dir, loc.run_id, ctx))


def read_batch(locations: list[Location], settings: JobSettings) -> list[bytes]:
    """Runs read and returned as msgpack (compact, and decoded by the driver into the model)."""
    return [msgspec.msgpack.encode(read_run(loc, settings)) for loc in locations]


def _read(
    loc: Location, old: cache.RunRecord | None, s: JobSettings, read_elsewhere: bytes | None = None
) -> tuple[Run, cache.RunRecord]:
    run = read_run(loc, s) if read_elsewhere is None else msgspec.msgpack.decode(read_elsewhere, type=Run)
    inputs = [] if loc.token else cache.relative_inputs(loc.run_dir, run.inputs)  # a store run has no files
    stamps = [cache.stamp(os.path.join(loc.run_dir, rel)) for rel in inputs]
    if run.problem is not None:
        run = _keep_last_good(run, cache.load_run(s.out, run.slug), _newest(stamps, loc.run_dir))
    journal.announce(s.out, [cache.cached_run_path(run.slug)], per_worker=s.per_worker_journal)
    encoded = cache.save_run(s.out, run)
    record = cache.RunRecord(
        root=loc.root, run_id=loc.run_id, run_dir=loc.run_dir, reader=loc.reader,
        reader_version=reader_version(loc.reader), slug=run.slug,
        inputs=cache.pack_inputs(inputs), stamps=cache.pack_stamps(stamps),
        token=loc.token, fingerprint=cache.fingerprint(reader_version(loc.reader), stamps, encoded),
        racy=cache.is_racy(stamps, s.started_ns, s.racy_window_s, loc.token, run.problem is not None),
        shown_status=run.status, live_until=None,
        render_key=old.render_key if old else "",
        pages=cache.pack_pages(run.slug, cache.record_pages(old)) if old else "",
        shard=old.shard if old else NEW,
    )
    return run, record


def _newest(stamps: list[cache.Stamp], run_dir: str) -> float | None:
    """When the run's files last changed (a deleted file changes its directory); None for a
    store run. Pages say a run is broken since then, not since a build's clock: two builds of
    the same input write the same bytes."""
    mtimes = [mtime for mtime, _ctime, size, _ino in [*stamps, cache.stamp(run_dir)] if size >= 0]
    return max(mtimes) / 1e9 if mtimes else None


def _keep_last_good(broken: Run, previous: Run | None, changed_at: float | None) -> Run:
    """A run that became unreadable keeps its last good data, with the problem and since when."""
    since = changed_at
    if previous is not None and previous.problem is not None and previous.problem.since:
        since = previous.problem.since
    problem = Problem(broken.problem.message, since)
    if previous is None or (previous.problem is not None and previous.stale_since is None):
        return msgspec.structs.replace(broken, problem=problem)
    return msgspec.structs.replace(
        previous, problem=problem, stale_since=previous.stale_since or since, inputs=broken.inputs
    )


def _publish(
    source: str, out: str, target: str, previous: str | None, allowed: tuple[str, ...]
) -> tuple[str | None, bool]:
    """Copy a run file beside its page (the full data one click away), a block at a time, if it
    lies where runs may point: a run rendered from the cache names its files as the cache says."""
    if resolve_within(source, "/", allowed) is None:
        return None, False
    try:
        handle = open(source, "rb")  # noqa: SIM115 (closed below)
    except OSError:
        return previous, False  # vanished since it was read: keep the copy we have
    with handle:
        return copy_if_changed(handle, target, previous, within=out)


def _write_pages(
    run: Run, previous: dict[str, str], s: JobSettings
) -> tuple[list[str], int, list[str], dict[str, str]]:
    from sitegen.render.run_page import artifact_name, run_dir, run_pages

    rendered = run_pages(run, s.site)
    published = [(f"{run_dir(run)}/{artifact_name(a)}", a.source) for a in run.artifacts
                 if a.publish_as and a.source]
    journal.announce(s.out, [page.path for page in rendered] + [path for path, _ in published],
                     per_worker=s.per_worker_journal)
    written, unchanged, pages = [], 0, {}
    for page in rendered:
        target = os.path.join(s.out, page.path)
        digest, did_write = write_if_changed(target, page.data, previous.get(page.path), within=s.out)
        pages[page.path] = digest
        if did_write:
            written.append(page.path)
        else:
            unchanged += 1
    for path, source in published:
        digest, did_write = _publish(source, s.out, os.path.join(s.out, path), previous.get(path), s.allowed)
        if digest is None:
            continue
        pages[path] = digest
        if did_write:
            written.append(path)
        else:
            unchanged += 1
    removed = [path for path in sorted(set(previous) - set(pages)) if remove_page(s.out, path)]
    return written, unchanged, removed, pages
