"""What a reader is: a name, a version, and a pure `read()` (detection is in `sitegen.readers`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sitegen.model import Run
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
