"""The nightly matrix: which benchmark ran, passed or went missing in which session.

Pure: runs in, a `Coverage` out. Only runs with a `session` count; a benchmark is `Run.benchmark`
(or the run's name), a session starts at its earliest run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from msgspec import Struct

from sitegen.model import Run

# every state a cell can have, in the order totals are told; "" is a cell before the benchmark existed
STATES = ("passed", "partial", "failed", "missed requirement", "timed out", "broken", "running", "unknown",
          "missing")
_BY_STATUS = {"completed": "passed", "partial": "partial", "failed": "failed", "broken": "broken",
              "running": "running"}


class Cell(Struct, frozen=True):
    state: str  # one of STATES, or "" before the benchmark's first session
    run: Run | None = None  # the run behind the state; None when missing or empty


class CoverageRow(Struct, frozen=True):
    benchmark: str
    cells: list[Cell]  # one per session of `Coverage.sessions`, in that order


class SessionColumn(Struct, frozen=True):
    name: str
    started_at: float | None
    totals: dict[str, int]  # state → count, only states that occur


class Coverage(Struct, frozen=True):
    sessions: list[SessionColumn]  # newest first
    rows: list[CoverageRow]  # benchmarks by name


def coverage(runs: list[Run], max_sessions: int = 30) -> Coverage:
    """The newest `max_sessions` sessions × every benchmark seen in any session.

    A benchmark absent from a session after it first appeared (in any session, shown or not) is
    "missing" there. Should a session hold a benchmark twice, its latest run counts.
    """
    by_session: dict[str, dict[str, Run]] = defaultdict(dict)
    for run in sorted((r for r in runs if r.session is not None), key=_run_order):
        by_session[run.session][run.benchmark or run.name] = run  # type: ignore[index]
    starts = {name: _start(members.values()) for name, members in by_session.items()}
    oldest_first = sorted(by_session, key=lambda name: (starts[name] is not None, starts[name] or 0.0, name))
    first_seen: dict[str, int] = {}
    for index, name in enumerate(oldest_first):
        for benchmark in by_session[name]:
            first_seen.setdefault(benchmark, index)
    shown = oldest_first[::-1][:max(0, max_sessions)]
    position = {name: index for index, name in enumerate(oldest_first)}
    rows = [CoverageRow(benchmark, [_cell(by_session[s].get(benchmark), position[s] > first)
                                    for s in shown])
            for benchmark, first in sorted(first_seen.items())]
    columns = [SessionColumn(name, starts[name], _totals([row.cells[i].state for row in rows]))
               for i, name in enumerate(shown)]
    return Coverage(columns, rows)


def cell_state(run: Run) -> str:
    if "timed out" in run.badges:
        return "timed out"
    if run.unmet_requirements and run.status == "failed":
        return "missed requirement"
    return _BY_STATUS.get(run.status, "unknown")


def _cell(run: Run | None, after_first: bool) -> Cell:
    if run is not None:
        return Cell(cell_state(run), run)
    return Cell("missing" if after_first else "")


def _totals(states: list[str]) -> dict[str, int]:
    return {state: count for state in STATES if (count := states.count(state))}


def _run_order(run: Run) -> tuple[float, str]:
    return (run.created_at if run.created_at is not None else float("-inf"), run.run_id)


def _start(runs: Iterable[Run]) -> float | None:
    times = [r.created_at for r in runs if r.created_at is not None]
    return min(times) if times else None
