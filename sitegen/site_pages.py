"""The pages that belong to the whole site: assets, content pages, the index and runs.json.

Each is rewritten only when what it is made from changed; the index and runs.json
need the runs' listings, which are loaded only then.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sitegen import cache, journal
from sitegen.config import Config
from sitegen.listings import Listings
from sitegen.render.env import Page
from sitegen.render.site import content_path
from sitegen.reporting import Reporter
from sitegen.run_jobs import JobSettings
from sitegen.write import remove_page, write_if_changed

PLOTLY_JS = "assets/plotly.min.js"


def site_pages(
    config: Config, settings: JobSettings, runs: dict[str, cache.RunRecord],
    previous: dict[str, cache.PageRecord], listings: Listings, reporter: Reporter,
) -> tuple[dict[str, cache.PageRecord], list[str]]:
    """Write what changed among the site-wide pages; returns their records for the manifest,
    and the shard summaries written into the build cache."""
    pages: dict[str, cache.PageRecord] = {}
    summaries_written: list[str] = []
    out = settings.out

    def emit(key: str, render: Callable[[], list[Page]], paths: list[str]) -> None:
        if all(previous.get(p, _NONE).input_hash == key for p in paths) and paths:
            pages.update({p: previous[p] for p in paths})
            reporter.pages_unchanged(len(paths))
            return
        for page in render():
            journal.announce(out, [page.path])
            old = previous.get(page.path)
            digest, written = write_if_changed(
                os.path.join(out, page.path), page.data, old.content_hash if old else None, within=out
            )
            pages[page.path] = cache.PageRecord(key, digest)
            reporter.page(page.path, written)

    for name, source in _assets(Path(settings.site.theme)):
        emit(_hash((settings.site_key, _stamp_key(source))), lambda s=source, n=name: [_copy(n, s)], [name])

    content = _content_sources(config.content)
    site = functools.cache(lambda: _with_content_pages(settings, content))

    runs_key = _hash(itertools.chain(
        [settings.site_key], (f"{key}\0{r.render_key}" for key, r in runs.items()),
        (f"{n}\0{k}" for n, (_, k) in sorted(content.items())),
        [_acknowledgements_key(config.acknowledged, settings.now)],
    ))
    if previous.get("index.html", _NONE).input_hash == runs_key:  # no run, content or decision changed
        kept = [p for p in previous if p not in pages and not p.startswith(_ASSETS)]
        pages.update({p: previous[p] for p in kept})
        reporter.pages_unchanged(len(kept))
    else:
        from sitegen import report_pages
        from sitegen.shard_summaries import Summaries

        summaries = Summaries(out, listings)
        inputs = report_pages.Inputs(
            config, site(), settings.site_key, runs_key, out, settings.now,
            runs, {name: path for name, (path, _) in content.items()},
            summaries.site_runs, listings.shard,
        )
        for planned in report_pages.plan(inputs, reporter):
            emit(planned.key, lambda p=planned: [page for page in [p.render()] if page], [planned.path])
        summaries_written = summaries.save()

    for path in sorted(set(previous) - set(pages)):
        if remove_page(out, path):
            reporter.page_removed(path)
    return pages, summaries_written


_NONE = cache.PageRecord("", "")
_ASSETS = "assets/"


def _hash(parts: Iterable[str]) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(part.encode(errors="surrogateescape") + b"\0")
    return digest.hexdigest()


def _acknowledgements_key(path: str, now: float) -> str:
    """What `content/acknowledged.yaml` adds to the key of the pages about all runs: its stamp,
    and today's date while it exists (an acknowledgement expires with a date)."""
    stamp = cache.stamp(path)
    if stamp == cache.MISSING:
        return ""
    return f"{stamp!r}\0{time.strftime('%Y-%m-%d', time.gmtime(now))}"


def _stamp_key(path: Path) -> str:
    return repr(cache.stamp(str(path)))


def _assets(theme: Path) -> list[tuple[str, Path]]:
    static = theme / "static"
    files = sorted(p for p in static.rglob("*") if p.is_file()) if static.is_dir() else []
    assets = [(f"assets/{p.relative_to(static).as_posix()}", p) for p in files]
    plotly = _plotly_js()
    if plotly is not None:
        assets.append((PLOTLY_JS, plotly))
    return assets


def _plotly_js() -> Path | None:
    """plotly.min.js as the plotly package ships it, found without importing plotly."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def _copy(name: str, source: Path) -> Page:
    return Page(name, source.read_bytes())


def _content_sources(directory: str) -> dict[str, tuple[Path, str]]:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return {}
    return {
        e.name: (Path(e.path), _stamp_key(Path(e.path)))
        for e in entries
        if e.name.endswith(".md") and not e.name.startswith(".") and e.is_file()
    }


def _with_content_pages(settings: JobSettings, content: dict[str, tuple[Path, str]]):
    import msgspec

    from sitegen.render.content import ContentSource, content_title

    listed = []
    for name, (path, _) in sorted(content.items()):
        text = path.read_text(encoding="utf-8", errors="replace")
        listed.append((content_title(ContentSource(name, text)), content_path(name)))
    return msgspec.structs.replace(settings.site, content_pages=tuple(listed))
