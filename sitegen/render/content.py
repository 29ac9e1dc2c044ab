"""Pages written by people: Markdown files from the content directory (trusted), with live
figures and tables from `sitegen-*` blocks."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from sitegen.jsonsafe import dumps_for_script
from sitegen.model import Run
from sitegen.render.env import Page, render
from sitegen.render.markdown import fences, split_front_matter, trusted_html
from sitegen.render.report_blocks import PREFIX, Block, Selected, block_html, parse_block
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


def content_blocks(source: ContentSource) -> list[Block]:
    """The page's `sitegen-*` blocks, in order."""
    if PREFIX not in source.text:  # most pages: no Markdown parser needed to know
        return []
    _meta, body, _problem = split_front_matter(source.text)
    return [b for b in (parse_block(info, text) for info, text in fences(body)) if b is not None]


def content_page(source: ContentSource, site: SiteInfo, selected: list[Selected] = (),
                 load_run: Callable[[str], Run | None] = lambda slug: None) -> tuple[Page, str | None]:
    """The page, and a problem with its front matter; `selected` are its blocks, resolved."""
    meta, body, problem = split_front_matter(source.text)
    path = content_path(source.name)
    root = relative_root(path)
    figures: dict[str, dict] = {}
    pending = iter(selected)

    def fence(info: str, text: str) -> str | None:
        if parse_block(info, text) is None:
            return None
        chosen = next(pending, None)
        return block_html(chosen, site.theme, root, figures, load_run) if chosen else None

    body_html = trusted_html(body, fence)
    data = render(
        site.theme, "page.html", site=site, root=root, title=content_title(source), meta=meta,
        body_html=body_html, figures_json=dumps_for_script(figures) if figures else "",
    )
    return Page(path, data), problem
