"""Roots that are MLflow tracking stores rather than directory trees: which ones, and their URIs.

A root is a store when it is a tracking URI (`sqlite:///…`, `http(s)://…`, `file:///…`) or a
directory that is an MLflow file store: one named `mlruns`, or one whose entries look like a file
store's (the default experiment `0/meta.yaml`, or `.trash/` beside experiment dirs with a
`meta.yaml`; git drops the empty `.trash/`). A
directory holding `mlruns/` is a directory root: discovery finds the store in it, beside other runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

SCHEMES = ("sqlite", "http", "https", "file")
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_SQLITE = "sqlite:///"


def scheme(root: str) -> str | None:
    """The URI scheme of a root written as a URI (`sqlite`, `http`, …), None for a path."""
    match = _URI.match(root)
    return match["scheme"].lower() if match else None


def has_credentials(uri: str) -> bool:
    """`http://user:secret@host`: the root appears on the site, so it must not carry these."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.username is not None or parts.password is not None


def absolute(uri: str, base: str | Path) -> str:
    """`sqlite:///relative.db` made absolute against `base` (sqlite's absolute form has 4 slashes)."""
    if not uri.lower().startswith(_SQLITE):
        return uri
    path, sep, query = uri[len(_SQLITE):].partition("?")
    if not path or path == ":memory:" or os.path.isabs(path):
        return uri
    return f"{_SQLITE}{os.path.normpath(os.path.join(base, os.path.expanduser(path)))}{sep}{query}"


def local_path(uri: str) -> str | None:
    """The database file of a `sqlite:///` URI or the directory of a `file:///` one."""
    if uri.lower().startswith(_SQLITE):
        return unquote(uri[len(_SQLITE):].partition("?")[0]) or None
    if scheme(uri) == "file":
        return unquote(urlsplit(uri).path) or None
    return None


def store_uri(root: str) -> str | None:
    """The tracking URI of a root that is an MLflow store; None for a directory tree of runs."""
    if scheme(root) is not None:
        return root
    return Path(root).resolve().as_uri() if _is_file_store(root) else None


def _is_file_store(path: str) -> bool:
    if not os.path.isdir(path):
        return False
    if os.path.basename(os.path.normpath(path)) == "mlruns":
        return True
    try:
        names = os.listdir(path)
    except OSError:
        return False
    experiments = [name for name in names
                   if name.isdigit() and os.path.isfile(os.path.join(path, name, "meta.yaml"))]
    return "0" in experiments or (".trash" in names and bool(experiments))
