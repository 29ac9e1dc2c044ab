"""Pages written by people: Markdown files from the content directory (trusted)."""

from __future__ import annotations

import msgspec

from sitegen.render.env import Page, render
from sitegen.render.markdown import split_front_matter, trusted_html
from sitegen.render.site import SiteInfo, content_path, relative_root


class ContentSource(msgspec.Struct, frozen=True):
    name: str  # file name relative to the content dir
    text: str


def content_title(source: ContentSource) -> str:
    meta, body, _problem = split_front_matter(source.text)
    if isinstance(meta.get("title"), str):
        return meta["title"]
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return source.name.removesuffix(".md")


def content_page(source: ContentSource, site: SiteInfo) -> tuple[Page, str | None]:
    meta, body, problem = split_front_matter(source.text)
    path = content_path(source.name)
    data = render(
        site.theme, "page.html", site=site, root=relative_root(path),
        title=content_title(source), meta=meta, body_html=trusted_html(body),
    )
    return Page(path, data), problem
