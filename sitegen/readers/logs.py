"""Log streams for any reader: find log files, keep their redacted tail, point at the first error.

Directories named inside run data (`output_dir`, submitit dirs) are listed only when
`sitegen.paths.resolve_within` accepts them: a run file must not publish `/var/log`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sitegen.model import LogStream
from sitegen.paths import resolve_within
from sitegen.readers._tolerant import list_dir, read_tail
from sitegen.redact import redact_text
from sitegen.slug import unique_slugs

LOG_KINDS = {".out": "out", ".err": "err", ".log": "log"}
TRACEBACK = "Traceback (most recent call last):"
SUMMARY_MAX_CHARS = 200

_KIND_ORDER = {"out": 0, "err": 1, "log": 2}
_TRACEBACK_SCAN_LINES = 500
_SAFE_JOB_ID = re.compile(r"[A-Za-z0-9_.-]+")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Plain literals keep the scan of a 1 MiB tail fast (lookbehinds make it ~20x slower);
# `_is_error_at` then rejects substrings such as "ERRORS" or "LOG_LEVEL=ERROR".
_ERROR_WORDS = re.compile(
    r"ERROR|FATAL|CRITICAL|Error:|Exception:|CUDA error|Killed|srun: error|slurmstepd: error"
    r"|Segmentation fault"
)
# Lines the tools sitegen starts print as errors when nothing is wrong: kept in the log, never
# a run's first error. Ray (2.60) logs at ERROR that the dashboard's port is taken even when the
# dashboard is off (`--include-dashboard=false`), and starts without it.
_HARMLESS = re.compile(r"Failed to bind to \S+ because it's already occupied")


class FoundLogs(NamedTuple):
    """Log files found in a directory named by run data, the directory listed, or why not."""

    files: list[LogFile]
    listed: str | None = None  # the resolved directory, an input of the run
    problem: str | None = None


class LogFile(NamedTuple):
    """A log file found for a run, before it is read."""

    path: str
    name: str  # label shown to users: the file name, or "rank 0 .out"
    kind: str  # "out" | "err" | "log"
    rank: int | None = None


def log_kind(file_name: str) -> str | None:
    """"out", "err" or "log" from the file's suffix, or None for anything else."""
    return LOG_KINDS.get(os.path.splitext(file_name)[1])


def log_files_in(directory: str, names: Iterable[str], kinds: Iterable[str]) -> list[LogFile]:
    """Files among `names` (entries of `directory`) whose suffix is one of `kinds`."""
    wanted = set(kinds)
    found = []
    for name in names:
        kind = log_kind(name)
        if kind in wanted:
            found.append(LogFile(os.path.join(directory, name), name, kind))
    return found


def logs_in_named_dir(
    label: str, named: str, run_dir: str, allowed: Sequence[str], kinds: Iterable[str]
) -> FoundLogs:
    """Log files in the directory that run data names as `label` (e.g. "output_dir"), if it may be followed.

    `named` is relative to `run_dir` unless absolute.
    """
    resolved = resolve_within(named, run_dir, allowed)
    if resolved is None:
        shown = redact_text(named)[:200]
        return FoundLogs([], problem=f"{label} {shown!r} is outside the configured roots; not followed")
    return FoundLogs(log_files_in(resolved, list_dir(resolved) or (), kinds), resolved)


def submitit_logs(output_dir: str, job: str, run_dir: str, allowed: Sequence[str]) -> FoundLogs:
    """Per-rank logs `{parent(output_dir)}/{job}/.submitit/{job}_{rank}_log.{out,err}`, job = sweep_task."""
    if not _SAFE_JOB_ID.fullmatch(job):
        return FoundLogs([])
    parent = os.path.dirname(os.path.normpath(os.path.join(run_dir, os.path.expanduser(output_dir))))
    resolved = resolve_within(os.path.join(parent, job, ".submitit"), run_dir, allowed)
    if resolved is None:
        return FoundLogs([], problem=f"submitit logs of {job} are outside the configured roots; not followed")
    pattern = re.compile(rf"{re.escape(job)}_(\d+)_log\.(out|err)")
    files = []
    for name in list_dir(resolved) or ():
        match = pattern.fullmatch(name)
        if match:
            rank, kind = int(match[1]), match[2]
            files.append(LogFile(os.path.join(resolved, name), f"rank {rank} .{kind}", kind, rank))
    return FoundLogs(files, resolved)


def read_logs(files: Sequence[LogFile], tail_bytes: int) -> tuple[list[LogStream], list[str]]:
    """Streams for `files` in a stable order (unranked by name, then by rank), and problems met.

    The same file reached twice (a link, or output_dir == run dir) becomes one stream.
    """
    unique: dict[str, LogFile] = {}
    for log in sorted(files, key=_order):
        unique.setdefault(os.path.realpath(log.path), log)
    logs = list(unique.values())
    slugs = unique_slugs([_slug_source(log) for log in logs])
    streams: list[LogStream] = []
    problems: list[str] = []
    for log, slug in zip(logs, slugs, strict=True):
        stream, problem = _read_stream(log, slug, tail_bytes)
        if problem:
            problems.append(problem)
        if stream is not None:
            streams.append(stream)
    return streams, problems


def find_first_error(text: str) -> tuple[int | None, str]:
    """1-based line of the first traceback (else first error line) in `text`, and a one-line summary."""
    start = text.find(TRACEBACK)
    if start != -1:
        line_start = text.rfind("\n", 0, start) + 1
        return _line_number(text, start), _traceback_summary(text, line_start, start)
    for match in _ERROR_WORDS.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line = text[line_start:line_end if line_end != -1 else None]
        if _is_error_at(text, match) and not _HARMLESS.search(line):
            return _line_number(text, match.start()), _trim(line)
    return None, ""


def _read_stream(log: LogFile, slug: str, tail_bytes: int) -> tuple[LogStream | None, str | None]:
    tail, problem = read_tail(log.path, tail_bytes)
    if tail is None:
        return None, problem
    if tail.binary:
        stream = LogStream(log.name, slug, log.kind, log.rank, tail.size, truncated=tail.truncated)
        return stream, f"{os.path.basename(log.path)}: looks binary; text not shown"
    text = redact_text(tail.text)
    first_error, summary = find_first_error(text)
    problem = None
    if tail.undecodable:
        problem = f"{os.path.basename(log.path)}: not valid UTF-8; bad bytes shown as \ufffd"
    return LogStream(log.name, slug, log.kind, log.rank, tail.size, text, tail.truncated,
                     first_error, summary), problem


def _is_error_at(text: str, match: re.Match[str]) -> bool:
    """"ValueError:" is an error; "ERRORS", "error_rate" and "LOG_LEVEL=ERROR" are not."""
    if match[0].endswith(":"):
        return True
    before = text[match.start() - 1] if match.start() else " "
    after = text[match.end()] if match.end() < len(text) else " "
    return not (before.isalnum() or before in "_=" or after.isalnum() or after == "_")


def _traceback_summary(text: str, line_start: int, header_at: int) -> str:
    """The exception line that ends the traceback; lines may share a prefix such as "[rank0]: "."""
    prefix = text[line_start:header_at]
    header_end = text.find("\n", header_at)
    if header_end == -1:
        return TRACEBACK
    lines = text[header_end + 1:].split("\n", _TRACEBACK_SCAN_LINES)[:_TRACEBACK_SCAN_LINES]
    for line in lines:
        body = line[len(prefix):] if prefix and line.startswith(prefix) else line
        body = body.rstrip("\r")
        if body.strip() and not body[0].isspace():
            return _trim(body)
    return TRACEBACK


def _line_number(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _trim(line: str) -> str:
    line = _ANSI.sub("", line)
    line = line[line.rfind("\r") + 1:].strip()
    return line if len(line) <= SUMMARY_MAX_CHARS else line[:SUMMARY_MAX_CHARS - 1] + "…"


def _order(log: LogFile) -> tuple[bool, int, str, int, str]:
    stem = os.path.splitext(os.path.basename(log.path))[0]
    return (log.rank is not None, log.rank or 0, stem, _KIND_ORDER.get(log.kind, 9), log.path)


def _slug_source(log: LogFile) -> str:
    return f"rank-{log.rank}.{log.kind}" if log.rank is not None else log.name
