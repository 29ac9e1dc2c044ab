"""The theme: what it hashes to, and the jinja2 environment that renders it (where it lives:
`sitegen.config.theme_dir`)."""

from __future__ import annotations

import hashlib
import math
import time
from functools import cache
from pathlib import Path

import msgspec

from sitegen.config import theme_dir


class Page(msgspec.Struct, frozen=True):
    path: str  # relative to the output dir, "/"-separated
    data: bytes


def theme_files(theme: Path) -> list[Path]:
    return sorted(p for p in theme.rglob("*") if p.is_file() and not p.name.startswith("."))


def theme_fingerprint(theme: Path) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for path in theme_files(theme):
        digest.update(str(path.relative_to(theme)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.digest()


@cache
def environment(theme: str):  # -> jinja2.Environment, imported lazily
    import jinja2

    # autoescape=True for every template: select_autoescape skips names like run.html.j2
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(theme_dir(theme) / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # compiled templates, kept by jinja2 in a private per-user temp dir and keyed by each
        # template's source: a build that renders a few pages skips 0.2 s of compiling
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    env.filters.update(when=format_time, duration=format_duration, num=format_number, size=format_size)
    return env


def render(theme: str, template: str, **context: object) -> bytes:
    return render_text(theme, template, **context).encode()


def render_text(theme: str, template: str, **context: object) -> str:
    return environment(theme).get_template(template).render(**context)


def format_time(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def format_number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and 1e6 <= abs(value) < 1e15:  # a count: 2,000,000, not 2e+06
            return f"{value:,.0f}"
        return f"{value:.6g}"
    return str(value)


def format_size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)
