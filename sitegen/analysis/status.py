"""The status a run is shown with, which for a live run depends on when we look."""

from __future__ import annotations

import time

import msgspec

from sitegen.model import TERMINAL_STATUSES, Run

# Not live and not over: a requeued job waits in the scheduler's queue (no heartbeat is due) and says
# "running" again when it resumes; a stalled run has been called stalled already.
_WAITING_STATUSES = frozenset({"stalled", "requeued"})


def live_until(run: Run, heartbeat_timeout_s: float) -> float | None:
    """When a run that says it is live will be shown as stalled, unless it beats again."""
    if run.status in TERMINAL_STATUSES or run.status in _WAITING_STATUSES:
        return None
    last = run.heartbeat_at if run.heartbeat_at is not None else run.updated_at
    return None if last is None else last + heartbeat_timeout_s


def settle_status(run: Run, now: float, heartbeat_timeout_s: float) -> Run:
    """A run that says it is running but whose heartbeat went quiet is shown as stalled."""
    until = live_until(run, heartbeat_timeout_s)
    if until is None or now <= until:
        return run
    last = until - heartbeat_timeout_s
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last))
    note = f"status says {run.status!r} but the last heartbeat was at {when}: shown as stalled"
    return msgspec.structs.replace(run, status="stalled", warnings=[*run.warnings, note])
