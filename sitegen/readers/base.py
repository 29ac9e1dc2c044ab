"""What a reader is: a name, a version, and a pure `read()` (detection is in `sitegen.readers`),
and what one read of a run directory keeps track of."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from sitegen.model import Run
from sitegen.numbers import finite_number
from sitegen.paths import resolve_within
from sitegen.redact import Redactor


@dataclass(frozen=True)
class ReadContext:
    """Everything a reader may use besides the run directory itself."""

    root: str  # the configured root the run was found under (absolute)
    allowed: tuple[str, ...]  # dirs that paths named in run data may point into
    redactor: Redactor = field(default_factory=Redactor)
    log_tail_bytes: int = 1024 * 1024


class Reader(Protocol):
    NAME: str

    def read(self, run_dir: str, run_id: str, ctx: ReadContext) -> Run:
        """Read one run. Never raises on bad data: problems become `Run.warnings`/`Run.problem`."""
        ...


def with_summary_from_series(run: Run) -> Run:
    """`run`, where it has a series but no summary value of a metric, with the series' last value
    as that value, named in `summary_from_series` (pages say "last value"). Any reader's runs."""
    lasts = {name: finite_number(series.y[-1]) for name, series in run.series.items()
             if name not in run.summary and series.y}
    lasts = {name: value for name, value in lasts.items() if value is not None}
    if not lasts:
        return run
    return msgspec.structs.replace(run, summary=dict(sorted({**run.summary, **lasts}.items())),
                                   summary_from_series=tuple(sorted(lasts)))


class Reading:
    """What one read of a run directory has seen: the paths it used (the run's inputs, which the
    cache stats) and the warnings it met. Links out of the configured roots are never followed:
    a site is often public."""

    def __init__(self, run_dir: str, allowed: tuple[str, ...]) -> None:
        self.run_dir = run_dir
        self.allowed = allowed
        self.inputs = {run_dir}
        self.warnings: list[str] = []

    def use(self, path: str) -> str:
        """`path` (relative to the run dir, or absolute) made absolute and recorded as an input."""
        path = os.path.join(self.run_dir, path)
        self.inputs.add(path)
        return path

    def warn(self, problem: str | None) -> None:
        if problem:
            self.warnings.append(problem)

    def inside(self, path: str) -> bool:
        """True when `path`, every link on the way resolved, stays inside the roots."""
        return resolve_within(path, self.run_dir, self.allowed) is not None

    @functools.cached_property
    def run_dir_inside(self) -> bool:
        return self.inside(self.run_dir)

    def below_inside(self, rel: str) -> bool:
        """`inside` for `rel`, relative to the run dir: the run dir resolved once, then only a
        link on the way down can lead out (an lstat per component, where `inside` resolves
        every component from /, and every root)."""
        if not self.run_dir_inside:
            return False
        path = self.run_dir
        for part in rel.split("/"):
            path = f"{path}/{part}"
            if part in ("", ".", "..") or os.path.islink(path):
                return self.inside(os.path.join(self.run_dir, rel))
        return True

    def entry_inside(self, path: str) -> bool:
        """`inside` for an entry of a directory already checked: only a link can lead out
        (checking only links keeps a read of many files cheap)."""
        return not os.path.islink(path) or self.inside(path)

    def followable(self, path: str) -> bool:
        """`entry_inside`, or False with a warning."""
        if self.entry_inside(path):
            return True
        self.warn(f"{os.path.relpath(path, self.run_dir)}: a link out of the configured roots; not followed")
        return False
