"""What every page knows about the site it belongs to, and where site-wide pages live."""

from __future__ import annotations

import msgspec

from sitegen.slug import run_slug, slugify


class SiteInfo(msgspec.Struct, frozen=True):
    title: str
    theme: str
    version: str
    content_pages: tuple[tuple[str, str], ...] = ()  # (title, path) for the index's page list


def relative_root(page_path: str) -> str:
    """The prefix from a page back to the site root: every link on the site is relative."""
    depth = page_path.count("/")
    return "../" * depth


def slug_url(slug: str) -> str:
    """The page of the run with `slug` (`run_page.run_url`)."""
    return f"runs/{slug}/index.html"


def content_path(name: str) -> str:
    """The page of a Markdown file from the content directory."""
    return f"pages/{slugify(name.removesuffix('.md'))}.html"


def session_path(name: str) -> str:
    """The page of a nightly session (names are free text: slug plus a hash, never a clash)."""
    return f"sessions/{run_slug('session', name)}.html"


QUALITY_PATH = "quality.html"


def trend_path(benchmark: str) -> str:
    return f"trends/{run_slug('trend', benchmark)}.html"


def regression_path(benchmark: str, metric: str, first_bad_run_id: str) -> str:
    """The triage page of a step (one per benchmark, metric and first bad run)."""
    return f"regressions/{run_slug(first_bad_run_id, f'{benchmark} {metric}')}.html"


TRENDS_PATH = "trends/index.html"
REGRESSIONS_JSON = "regressions.json"
