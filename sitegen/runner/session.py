"""A session: every entry of the matrix in turn, one going on after another fails, with the
hierarchical console log (session, entry, command, ✅/❌ with duration, where the logs are)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import msgspec

from sitegen.errors import ConfigError
from sitegen.readers.mlflow_store import describe
from sitegen.runner.entry import EntryResult, run_entry
from sitegen.runner.matrix import SAFE_NAME
from sitegen.runner.plan import Plan, plan_session
from sitegen.runner.sinks import Sink, make_sinks


class SessionResult(msgspec.Struct):
    name: str
    session_dir: str
    results_dir: str
    entries: list[EntryResult]
    duration_s: float

    @property
    def failed(self) -> list[EntryResult]:
        return [entry for entry in self.entries if not entry.success]


def run_session(
    matrix_path: str, datasets_path: str | None, *, session_name: str | None = None,
    results_dir: str | None = None, sink: str = "none", ray_address: str | None = None,
    console: TextIO | None = None,
) -> SessionResult:
    """Run the matrix (either schema, see plan.py); every problem with it (datasets, formats,
    variables, requirements) is raised as one ConfigError before anything runs."""
    plan = plan_for(matrix_path, datasets_path, session_name, results_dir)
    name, session_dir, planned = plan.session_dir.name, plan.session_dir, plan.entries
    if session_dir.exists() and any(session_dir.iterdir()):
        raise ConfigError(f"{session_dir} already holds a session; choose another --session-name")

    def say(line: str) -> None:
        print(line, file=console or sys.stdout, flush=True)

    sinks = make_sinks(plan, sink, dict(os.environ), lambda message: say(f"warning: {message}"))
    session_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    where = f"as jobs on {ray_address}" if ray_address else "each on a Ray head of its own"
    say(f"session {name} → {session_dir} ({len(planned)} entries, {where})")
    for note in plan.notes:
        say(f"note: {note}")
    _notify(sinks, "session_started", say, name, session_dir)
    results = []
    for number, entry in enumerate(planned, 1):
        if not entry.enabled:
            say(f"  entry {entry.name} ({number}/{len(planned)}): disabled, skipped")
            continue
        say(f"  entry {entry.name} ({number}/{len(planned)}), timeout {entry.timeout_s} s")
        say(f"    $ python {' '.join(entry.argv)}")
        result = run_entry(entry, session_dir, ray_address)
        results.append(result)
        say(f"    {_verdict(result)}   logs: {Path(result.entry_dir) / 'logs'}")
        _notify(sinks, "entry_finished", say, result)
    duration = time.monotonic() - started
    outcome = SessionResult(name, str(session_dir), str(plan.results_dir), results, round(duration, 1))
    passed = len(results) - len(outcome.failed)
    say(f"session {name}: {passed} passed, {len(outcome.failed)} failed in {duration:.1f} s")
    _notify(sinks, "session_finished", say, outcome)
    return outcome


def plan_for(
    config_path: str, datasets_path: str | None, session_name: str | None = None,
    results_dir: str | None = None,
) -> Plan:
    """The session's plan (`sitegen run --dry-run` prints it); the session name defaults to the time."""
    name = session_name or time.strftime("nightly-run-%Y%m%d-%H%M%S")
    if not SAFE_NAME.fullmatch(name):
        raise ConfigError(f"--session-name {name!r}: use letters, digits, '.', '_' and '-' only")
    return plan_session(config_path, datasets_path, name, results_dir, dict(os.environ))


def _notify(sinks: list[Sink], event: str, say: Callable[[str], None], *args: object) -> None:
    """Tell each sink; one that fails is warned about once and told nothing more."""
    for sink in list(sinks):
        try:
            getattr(sink, event)(*args)
        except Exception as exc:  # a sink is never a reason to stop a session
            say(f"warning: {sink.name} sink: {describe(exc)}; it is off for the rest of the session "
                "(the results on disk are complete)")
            sinks.remove(sink)


def _verdict(result: EntryResult) -> str:
    if result.success:
        return f"✅ {result.exec_time_s:.1f} s"
    if result.error:
        return f"❌ {result.error}"
    if result.timed_out:
        return f"❌ timed out after {result.exec_time_s:.0f} s"
    if result.exit_code != 0:
        return f"❌ exit code {result.exit_code} after {result.exec_time_s:.1f} s"
    if result.requirements_not_met:
        return f"❌ requirements not met: {'; '.join(result.requirements_not_met.values())}"
    return f"❌ is_success is false after {result.exec_time_s:.1f} s"
