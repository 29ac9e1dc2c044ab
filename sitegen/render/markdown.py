"""Markdown to HTML: trusted pages from content/ allow raw HTML, text from runs does not."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import yaml


@cache
def _renderer(trusted: bool):  # -> markdown_it.MarkdownIt, imported lazily
    from markdown_it import MarkdownIt

    # the commonmark preset allows raw HTML; run notes must never carry it
    md = MarkdownIt("commonmark", {"html": trusted, "linkify": False}).enable("table")
    if trusted:
        md.add_render_rule("fence", _fence)
    return md


def _fence(self, tokens, idx, options, env) -> str:
    """A fence the page's hook renders itself (a live figure), else the usual code block."""
    hook = env.get("fence") if isinstance(env, dict) else None
    html = hook(tokens[idx].info, tokens[idx].content) if hook else None
    return html if html is not None else type(self).fence(self, tokens, idx, options, env)


def untrusted_html(text: str) -> str:
    """Markdown from run data (notes): raw HTML shown as text, unsafe link schemes refused."""
    return _renderer(False).render(text)


def trusted_html(text: str, fence: Callable[[str, str], str | None] | None = None) -> str:
    """Markdown from content/ (raw HTML allowed); `fence(info, body)` may render a fenced block."""
    return _renderer(True).render(text, {"fence": fence} if fence else {})


def fences(text: str) -> list[tuple[str, str]]:
    """(info, body) of every fenced block, in order."""
    return [(t.info, t.content) for t in _renderer(True).parse(text) if t.type == "fence"]


def split_front_matter(text: str) -> tuple[dict[str, object], str, str | None]:
    """(front matter, body, problem) of a Markdown page starting with a `---` YAML block."""
    if not text.startswith("---"):
        return {}, text, None
    head, sep, body = text[3:].partition("\n---")
    if not sep:
        return {}, text, "front matter has no closing '---'"
    try:
        meta = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        return {}, body.partition("\n")[2], f"front matter is not valid YAML: {str(exc).splitlines()[0]}"
    if not isinstance(meta, dict):
        return {}, body.partition("\n")[2], "front matter is not a mapping"
    return meta, body.partition("\n")[2], None
