"""The layouts a run directory can have, and their readers.

Detection needs only a directory's name and entry names, so it lives here and costs no imports; a
reader's module is imported when a run of its layout is read (a no-op build imports none).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from sitegen.readers.base import Reader


class Layout(NamedTuple):
    name: str  # also the reader's module: sitegen.readers.<name>
    version: int  # bump when the reader reads differently: every run of the layout is read again
    claims: Callable[[str, Set[str]], bool]  # from the directory's name and its entry names


# Serving-benchmark result folders (FORMATS.md §1.2); the jobdir reader parses the same names.
RESULT_DIR = re.compile(r"(sglang|vllm|gap|sa-bench)_isl_(\d+)_osl_(\d+)")
CUSTOM_RESULT_PREFIX = "sa-bench_custom_"
EVENT_LOG = re.compile(r"events(_[0-9_]+)?\.jsonl")


def is_result_dir_name(name: str) -> bool:
    if name.startswith(CUSTOM_RESULT_PREFIX):
        return len(name) > len(CUSTOM_RESULT_PREFIX)
    return "_isl_" in name and RESULT_DIR.match(name) is not None


def _claims_jobdir(dir_name: str, names: Set[str]) -> bool:
    """A numeric job id first (`3667_1P_1D_20251110_192145`, `1543570`), and `{jobid}.json`, a
    result folder or the batch logs `log.out`/`log.err` among the entries."""
    job_id = dir_name.split("_", 1)[0]
    if not (job_id.isascii() and job_id.isdigit()):
        return False
    if f"{job_id}.json" in names or "log.out" in names or "log.err" in names:
        return True
    return any(map(is_result_dir_name, names))


def is_event_log_name(name: str) -> bool:
    """`events.jsonl`, or a newer DataJuicer writer's `events_<YYYYMMDD_HHMMSS>.jsonl`."""
    return name.startswith("events") and EVENT_LOG.fullmatch(name) is not None


# In detection order: the first layout that claims a directory reads it.
LAYOUTS: tuple[Layout, ...] = (
    Layout("sidecar", 3, lambda _name, names: "sidecar.json" in names),  # 3: long series kept as envelopes
    Layout("jobdir", 2, _claims_jobdir),
    Layout("nightly", 3, lambda _name, names: "benchmark_results" in names),
    Layout("eventlog", 1, lambda _name, names: any(map(is_event_log_name, names))),
    Layout("mlflow", 2, lambda _name, _names: False),  # 2: stores found under roots, committed stores read
)
_VERSIONS = {layout.name: layout.version for layout in LAYOUTS}
LAYOUT_NAMES = frozenset(_VERSIONS)


def layout_of(dir_name: str, names: Set[str]) -> str | None:
    """The name of the first layout that claims a directory with these entries, if any."""
    return next((layout.name for layout in LAYOUTS if layout.claims(dir_name, names)), None)


def reader_version(name: str) -> int:
    return _VERSIONS[name]


def reader_named(name: str) -> Reader:
    if name not in _VERSIONS:
        raise KeyError(name)
    return import_module(f"sitegen.readers.{name}")  # type: ignore[return-value]
