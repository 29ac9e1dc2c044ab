"""The layouts a run directory can have, and their readers.

Detection needs only a directory's name and entry names, so it lives here and costs no imports; a
reader's module is imported when a run of its layout is read (a no-op build imports none).
"""

from __future__ import annotations

from collections.abc import Callable, Set
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from sitegen.readers.base import Reader


class Layout(NamedTuple):
    name: str  # also the reader's module: sitegen.readers.<name>
    version: int  # bump when the reader reads differently: every run of the layout is read again
    claims: Callable[[str, Set[str]], bool]  # from the directory's name and its entry names


# In detection order: the first layout that claims a directory reads it.
LAYOUTS: tuple[Layout, ...] = (
    Layout("sidecar", 2, lambda _name, names: "sidecar.json" in names),
)
_VERSIONS = {layout.name: layout.version for layout in LAYOUTS}


def layout_of(dir_name: str, names: Set[str]) -> str | None:
    """The name of the first layout that claims a directory with these entries, if any."""
    return next((layout.name for layout in LAYOUTS if layout.claims(dir_name, names)), None)


def reader_version(name: str) -> int:
    return _VERSIONS[name]


def reader_named(name: str) -> Reader:
    if name not in _VERSIONS:
        raise KeyError(name)
    return import_module(f"sitegen.readers.{name}")  # type: ignore[return-value]
