"""The one reporting seam: build events go to a Reporter; the build report is what it recorded."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import msgspec

REPORT_FORMAT = 1


class RunWarning(msgspec.Struct, frozen=True):
    run_id: str
    message: str


class BuildReport(msgspec.Struct):
    format: int = REPORT_FORMAT
    runs_total: int = 0
    runs_read: int = 0
    runs_cached: int = 0
    runs_failed: int = 0
    pages_written: int = 0
    pages_unchanged: int = 0
    pages_removed: int = 0
    warnings: list[RunWarning] = []
    notes: list[str] = []
    full: bool = False
    duration_s: float = 0.0


class Reporter:
    """Records every event into a BuildReport; subclasses also show them."""

    def __init__(self) -> None:
        self.report = BuildReport()
        self.touched: list[str] = []  # the files written or removed, relative to the output dir


    def note(self, message: str) -> None:
        self.report.notes.append(message)

    def stage(self, name: str, total: int = 0) -> None:
        """The build moved on to `name`; `total` runs to read in it, when it reads runs."""

    def run_read(self, run_id: str, warnings: list[str], failed: str | None,
                 badges: tuple[str, ...] = ()) -> None:
        """A run read in this build; `badges` mark runs read through a fallback (e.g. "legacy")."""
        self.report.runs_read += 1
        if failed:
            self.report.runs_failed += 1
            self.warning(run_id, failed)
        for message in warnings:
            self.warning(run_id, message)

    def runs_cached(self, count: int) -> None:
        self.report.runs_cached += count

    def page(self, path: str, written: bool) -> None:
        if written:
            self.report.pages_written += 1
            self.touched.append(path)
        else:
            self.report.pages_unchanged += 1

    def pages_unchanged(self, count: int) -> None:
        self.report.pages_unchanged += count

    def page_removed(self, path: str) -> None:
        self.report.pages_removed += 1
        self.touched.append(path)

    def warning(self, run_id: str, message: str) -> None:
        self.report.warnings.append(RunWarning(run_id, message))

    def done(self) -> None:
        """Called once at the end of a build."""


class ConsoleReporter(Reporter):
    """Warnings as they come, one summary line at the end; `quiet` keeps only problems.

    On a terminal a status line shows the stage and the runs read so far, rewritten in place
    (at most 10 times a second) and erased before anything else is printed; a log file or a
    pipe never sees it.
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._muted = False  # warnings already shown in a bordered block
        self._live = not quiet and _is_terminal(self.stream)
        self._stage, self._total, self._shown_at, self._status = "", 0, 0.0, False

    def note(self, message: str) -> None:
        super().note(message)
        if not self.quiet:
            self._print(f"info: {message}")

    def stage(self, name: str, total: int = 0) -> None:
        self._stage, self._total = name, total
        self._show(force=True)

    def _show(self, force: bool = False) -> None:
        if not self._live or not self._stage:
            return
        now = time.monotonic()
        if not force and now - self._shown_at < _REFRESH_S:
            return
        self._shown_at = now
        count = f" {self.report.runs_read}/{self._total}" if self._total else ""
        self.stream.write(f"\r\x1b[K{self._stage}{count}")
        self.stream.flush()
        self._status = True

    def _print(self, text: str) -> None:
        if self._status:
            self.stream.write("\r\x1b[K")
            self._status = False
        print(text.translate(_CONTROLS), file=self.stream)  # run ids and messages come from run data

    def run_read(self, run_id: str, warnings: list[str], failed: str | None,
                 badges: tuple[str, ...] = ()) -> None:
        if not badges:
            super().run_read(run_id, warnings, failed, badges)
            self._show()
            return
        # one bordered block per such run, printed when it is read (so not on a no-op build)
        rule = "━" * 80
        lines = [f"{', '.join(badges)} run: {run_id}", *(f"  {m}" for m in (failed, *warnings) if m)]
        self._print("\n".join([rule, *lines, rule]))
        self._muted = True
        try:
            super().run_read(run_id, warnings, failed, badges)
        finally:
            self._muted = False

    def warning(self, run_id: str, message: str) -> None:
        super().warning(run_id, message)
        if not self._muted:
            self._print(f"warning: {run_id}: {message}")

    def done(self) -> None:
        if not self.quiet:
            self._print(summary(self.report))


_REFRESH_S = 0.1
# Control characters a directory or file name may carry would move the cursor or recolour the terminal.
_CONTROLS = {c: "\ufffd" for c in (*range(0x20), 0x7f) if chr(c) not in "\n\t"}


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def summary(r: BuildReport) -> str:
    """The build's counts on one line."""
    return (f"built {r.runs_total} runs ({r.runs_read} read, {r.runs_cached} cached, "
            f"{r.runs_failed} failed); pages {r.pages_written} written, "
            f"{r.pages_unchanged} unchanged, {r.pages_removed} removed in {r.duration_s:.2f}s")


def encode_report(report: BuildReport) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


class RecordingReporter(Reporter):
    """Keeps every page event by path, for tests and tools that need more than counts."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[str] = []
        self.removed: list[str] = []
        self.read: list[str] = []

    def run_read(self, run_id: str, warnings: list[str], failed: str | None,
                 badges: tuple[str, ...] = ()) -> None:
        super().run_read(run_id, warnings, failed, badges)
        self.read.append(run_id)

    def page(self, path: str, written: bool) -> None:
        super().page(path, written)
        if written:
            self.written.append(path)

    def page_removed(self, path: str) -> None:
        super().page_removed(path)
        self.removed.append(path)
