"""The build pipeline: find runs, read what changed, render what depends on it, prune, save."""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Iterable, Iterator

from sitegen import __version__, cache, journal, tracking_uri
from sitegen.analysis.status import settle_status
from sitegen.config import BuildConfig, Config, theme_dir
from sitegen.discover import Location, Walk, find_store_runs
from sitegen.errors import RootNotFound, StrictFailure
from sitegen.listings import Listings, place
from sitegen.out_dir import check_out_dir
from sitegen.readers import no_runs_message, reader_version
from sitegen.reporting import BuildReport, Reporter, encode_report
from sitegen.run_jobs import JobSettings, RunJob, RunOutcome, init_worker, listing, run_job, run_job_in_worker
from sitegen.site_pages import site_pages
from sitegen.write import make_durable, remove_page, write_atomic

POOL_THRESHOLD = 24  # fewer jobs than this run in-process: a pool costs more than it saves


def build(
    config: Config, *, full: bool = False, strict: bool = False,
    reporter: Reporter | None = None, report_file: str | None = None, allow_foreign_out: bool = False,
) -> BuildReport:
    """Build (or bring up to date) the site for `config`; returns the build report.
    `allow_foreign_out`: write into a non-empty output directory that sitegen did not make."""
    reporter = reporter or Reporter()
    started = time.time()
    dir_roots, store_uris = _check_roots(config.roots)
    out = config.out
    check_out_dir(out, config.roots, allow_foreign=allow_foreign_out)
    with cache.BuildLock(out) as lock:
        store = cache.ManifestStore(out)
        manifest, reason = (cache.Manifest(), None) if full else store.load(__version__)
        if reason:
            reporter.note(reason)
        leftovers = journal.leftovers(out)  # what an unfinished build may have written
        if lock.took_over:
            reporter.note("a previous build was interrupted; finishing its work")
            manifest = cache.distrust_outputs(manifest)
        if lock.took_over or leftovers:
            journal.remove_temporaries(out, leftovers)
        settings = _job_settings(config, started)
        relist = full or _periodic_relist(config)
        reporter.stage("finding runs")
        walk = Walk(dir_roots, manifest.dirs, relist=relist, skip=[out])
        jobs, kept = plan_run_jobs(walk.runs(), manifest, settings)
        _report_empty_roots(dir_roots, walk.roots_with_runs, reporter)
        made = _made_before(out, manifest, full)
        stores = find_store_runs(_store_roots(store_uris, walk.stores), made.runs, settings.started_ns,
                                 settings.racy_window_s)
        _report_unreachable(stores.unreachable, stores.kept, reporter)
        store_jobs, store_kept = plan_run_jobs(stores.locations, manifest, settings)
        jobs = sorted(jobs, key=lambda job: (job.location.root, job.location.run_id)) + store_jobs
        kept += store_kept
        reporter.stage("reading runs", total=sum(job.read for job in jobs))
        outcomes = execute_on(config.build, jobs, settings, lock.token)
        records, changed = collect(outcomes, kept + stores.kept, reporter)
        records = place(records, manifest.runs, manifest.listing_shards)
        runs = {cache.run_key(r.root, r.run_id): r for r in records}
        gone = _gone(made.runs, runs, changed)
        prune(out, made, gone, reporter)
        reporter.stage("writing site pages")
        listings = Listings(out, runs, changed, manifest.runs, gone,
                            lambda record: _remake_listing(out, record, settings))
        previous_pages = manifest.pages if not full else dict.fromkeys(made.pages, cache.PageRecord("", ""))
        page_records, summaries = site_pages(config, settings, runs, previous_pages, listings, reporter)
        run_caches = [cache.cached_run_path(runs[key].slug) for key in changed]  # this build may have written
        make_durable(out, [*listings.save(), *summaries, *reporter.touched, *run_caches])
        saved = store.save(cache.Manifest(walk.dirs, runs, page_records, manifest.listing_shards),
                           __version__)  # after every file it names is on disk
        if leftovers:  # a set of every file the manifest keeps is worth making only then
            for path in journal.sweep(out, leftovers, _kept_files(runs.values(), page_records)):
                reporter.page_removed(path)
        journal.close(out)
        report = _finish(reporter, len(runs), full, started, out, report_file, saved)
    if strict and report.runs_failed:
        failed = report.runs_failed
        raise StrictFailure(f"{failed} run(s) could not be read (--strict); see the warnings above")
    return report


def _check_roots(roots: Iterable[str]) -> tuple[list[str], list[str]]:
    """The directory roots, and the tracking URIs of the roots that are MLflow stores."""
    dirs, stores = [], []
    hint = "check 'roots' in sitegen.yaml or --root"
    for root in roots:
        uri = tracking_uri.store_uri(root)
        if uri is None and not os.path.isdir(root):
            raise RootNotFound(f"root {root!r} is not a directory; {hint}")
        path = tracking_uri.local_path(uri) if uri else None
        if path is not None and not os.path.exists(path):
            raise RootNotFound(f"root {root!r}: {path} does not exist; {hint}")
        (dirs if uri is None else stores).append(uri or root)
    return dirs, stores


def _report_empty_roots(roots: list[str], used: set[str], reporter: Reporter) -> None:
    """A root in which no layout was recognised is most likely a mistake: say what was looked for."""
    for root in roots:
        if root not in used:
            reporter.warning(root, no_runs_message())


def _store_roots(configured: list[str], found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(root, tracking URI) of each store to read, once: a store found under a directory root
    that is also configured as a root (or found under two roots) is read as the first one."""
    stores, seen = [], set()
    for root, uri in [(uri, uri) for uri in configured] + found:
        path = tracking_uri.local_path(uri)
        key = os.path.realpath(path) if path else uri
        if key not in seen:
            seen.add(key)
            stores.append((root, uri))
    return stores


def _made_before(out: str, manifest: cache.Manifest, full: bool) -> cache.Manifest:
    """What the last build made: a `--full` build ignores it for what it reads and renders, but
    keeps the runs of an unreachable store and removes the pages no longer made."""
    return cache.load_manifest(out, __version__)[0] if full else manifest


def _report_unreachable(
    unreachable: list[tuple[str, str]], kept: list[cache.RunRecord], reporter: Reporter
) -> None:
    for uri, why in unreachable:
        count = sum(1 for record in kept if record.root == uri)
        shown = f"showing the {count} runs from the last build" if count else "no runs from an earlier build"
        reporter.warning(uri, f"mlflow store unreachable ({why}); {shown}")  # run_id: the store


def _job_settings(config: Config, started: float) -> JobSettings:
    from sitegen.render.env import theme_fingerprint
    from sitegen.render.site import SiteInfo

    theme = theme_dir(config.theme)
    key = hashlib.blake2b(digest_size=12)
    for part in (__version__.encode(), config.fingerprint(), theme_fingerprint(theme)):
        key.update(part + b"\0")
    return JobSettings(
        out=config.out,
        site=SiteInfo(title=config.title, theme=str(theme), version=__version__),
        site_key=key.hexdigest(),
        allowed=tuple(config.roots) + tuple(config.safety.allow_paths),
        redact=tuple(config.safety.redact),
        log_tail_bytes=config.build.log_tail_kib * 1024,
        now=started,
        started_ns=int(started * 1e9),
        racy_window_s=config.build.racy_window_s,
        heartbeat_timeout_s=config.build.heartbeat_timeout_s,
    )


def _periodic_relist(config: Config) -> bool:
    """One build in `relist_every`, drawn at random: a no-op build writes nothing, so builds
    are not counted."""
    every = config.build.relist_every
    return every > 0 and random.randrange(every) == 0


def plan_run_jobs(
    locations: Iterable[Location], manifest: cache.Manifest, settings: JobSettings
) -> tuple[list[RunJob], list[cache.RunRecord]]:
    """Jobs for runs to read or re-render; records of runs whose pages are up to date."""
    from sitegen.run_jobs import render_key

    jobs, kept = [], []
    for loc in locations:
        record = manifest.runs.get(cache.run_key(loc.root, loc.run_id))
        if (record is None or record.reader != loc.reader
                or record.reader_version != reader_version(loc.reader)
                or not cache.unchanged(record, loc.token, loc.stamp)):
            jobs.append(RunJob(loc, record, read=True))
        elif record.render_key != render_key(
            settings.site_key, record.fingerprint, record_status(record, settings)
        ):
            jobs.append(RunJob(loc, record, read=False))
        else:
            kept.append(record)
    return jobs, kept


def record_status(record: cache.RunRecord, settings: JobSettings) -> str:
    """The status a cached run would be shown with now (a live run may have stalled)."""
    if record.live_until is not None and settings.now > record.live_until:
        return "stalled"
    return record.shown_status


def execute_on(
    build: BuildConfig, jobs: list[RunJob], settings: JobSettings, lock_token: str
) -> Iterator[RunOutcome]:
    """The jobs done by the configured executor (the Ray one writes only for the build whose
    lock carries `lock_token`)."""
    if build.executor != "ray":
        return execute(jobs, settings, build.workers)
    from sitegen.ray_jobs import read_on_ray, run_on_ray

    if build.shared_out:
        return run_on_ray(jobs, settings, build.ray_address, lock_token)
    return execute(read_on_ray(jobs, settings, build.ray_address), settings, build.workers)


def execute(jobs: list[RunJob], settings: JobSettings, workers: int) -> Iterator[RunOutcome]:
    workers = workers or os.cpu_count() or 1
    if len(jobs) < POOL_THRESHOLD or workers == 1:
        yield from (run_job(job, settings) for job in jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context(method),
        initializer=init_worker, initargs=(settings, os.getpid()),
    ) as pool:
        yield from pool.map(run_job_in_worker, jobs, chunksize=max(1, min(64, len(jobs) // (workers * 8))))


def collect(
    outcomes: Iterable[RunOutcome], kept: list[cache.RunRecord], reporter: Reporter,
) -> tuple[list[cache.RunRecord], dict[str, bytes]]:
    """Every run's record, and the encoded listings of the runs that were processed."""
    records = list(kept)
    changed: dict[str, bytes] = {}
    for outcome in outcomes:
        records.append(outcome.record)
        changed[cache.run_key(outcome.record.root, outcome.record.run_id)] = outcome.listing
        if outcome.read:
            reporter.run_read(outcome.record.run_id, outcome.warnings, outcome.failed, outcome.fallback)
        for path in outcome.written:
            reporter.page(path, written=True)
        reporter.pages_unchanged(outcome.unchanged)
        for path in outcome.removed:
            reporter.page_removed(path)
    reporter.runs_cached(len(records) - reporter.report.runs_read)
    reporter.pages_unchanged(sum(cache.page_count(r) for r in kept))
    records.sort(key=lambda r: (r.root, r.run_id))
    return records, changed


def _remake_listing(out: str, record: cache.RunRecord, settings: JobSettings) -> cache.Listing | None:
    """A run's listing made again from its cache (the listings' shard was lost)."""
    run = cache.load_run(out, record.slug)
    if run is None:
        return None
    return listing(settle_status(run, settings.now, settings.heartbeat_timeout_s))


def _gone(previous: dict[str, cache.RunRecord], runs: dict[str, cache.RunRecord], changed: dict[str, bytes],
          ) -> list[str]:
    """The keys of the runs of the last build that are gone: none, without looking at every run,
    when the runs are as many as before less the new ones (a run not in the last build was read)."""
    new = sum(1 for key in changed if key not in previous)
    if len(runs) - new == len(previous):
        return []
    return [key for key in previous if key not in runs]


def prune(out: str, manifest: cache.Manifest, gone: list[str], reporter: Reporter) -> None:
    """Remove the pages and cache of runs that are gone; nothing else is ever removed."""
    refused = []
    for key in gone:
        record = manifest.runs[key]
        for path in cache.record_pages(record):
            if remove_page(out, path):
                reporter.page_removed(path)
            else:
                refused.append(path)
        cache.drop_run(out, record.slug)
    if refused:
        reporter.note(f"the build cache named {len(refused)} file(s) outside the site, such as "
                      f"{refused[0]!r}; left alone (was {cache.cache_dir(out)} written by someone else?)")


def _kept_files(records: Iterable[cache.RunRecord], pages: dict[str, cache.PageRecord]) -> set[str]:
    """Every file the saved manifest knows: run pages, run caches and site pages."""
    kept = set(pages)
    for record in records:
        kept.update(cache.record_pages(record))
        kept.add(cache.cached_run_path(record.slug))
    return kept


def _finish(
    reporter: Reporter, runs_total: int, full: bool, started: float, out: str, report_file: str | None,
    saved: bool,
) -> BuildReport:
    report = reporter.report
    report.runs_total = runs_total
    report.full = full
    report.duration_s = round(time.time() - started, 3)
    data = encode_report(report)
    if saved or reporter.touched or report.warnings or report.notes:  # else a no-op: it writes nothing
        write_atomic(os.path.join(cache.cache_dir(out), "report.json"), data, within=out)
    if report_file:
        write_atomic(os.path.abspath(report_file), data, within=None)  # where the user asked
    reporter.done()
    return report
