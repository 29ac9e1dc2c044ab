"""The nightly matrix: each benchmark's state in each session, missing ones told from new ones."""

from __future__ import annotations

import msgspec

from sitegen.analysis.coverage import coverage
from sitegen.model import Run

DAY = 86400.0


def _run(session: str, entry: str, day: int, status: str = "completed", badges: tuple[str, ...] = ()) -> Run:
    return Run(run_id=f"{session}/{entry}", root="/r", slug=f"{session}-{entry}", kind="nightly",
               name=f"{entry} · {session}", status=status, session=session, benchmark=entry,
               created_at=day * DAY + len(entry), badges=badges)


def _grid(cov) -> dict[str, str]:
    return {row.benchmark: " ".join(cell.state or "." for cell in row.cells) for row in cov.rows}


def test_states_missing_and_not_yet_run_newest_session_first():
    runs = [
        _run("s1", "dedup", 1), _run("s1", "sort", 1),
        _run("s2", "dedup", 2, "failed"), _run("s2", "sort", 2, "failed", ("timed out",)),
        _run("s3", "dedup", 3, "broken"),  # sort missing
        _run("s4", "dedup", 4, "running"), _run("s4", "sort", 4), _run("s4", "fuzzy", 4, "unknown"),
        Run(run_id="job", root="/r", slug="job", kind="jobdir", name="job", status="completed"),
    ]
    cov = coverage(runs)
    assert [s.name for s in cov.sessions] == ["s4", "s3", "s2", "s1"]
    assert _grid(cov) == {
        "dedup": "running broken failed passed",
        "fuzzy": "unknown . . .",  # before its first session: empty, not missing
        "sort": "passed missing timed out passed",
    }
    assert [s.totals for s in cov.sessions] == [
        {"passed": 1, "running": 1, "unknown": 1}, {"broken": 1, "missing": 1},
        {"failed": 1, "timed out": 1}, {"passed": 2},
    ]
    sort = next(row for row in cov.rows if row.benchmark == "sort")
    assert sort.cells[0].run.run_id == "s4/sort" and sort.cells[1].run is None


def test_sessions_are_ordered_by_their_start_not_their_name_and_capped():
    runs = [_run(f"night-{name}", "e", day) for name, day in (("b", 1), ("a", 2), ("c", 3))]
    cov = coverage(runs, max_sessions=2)
    assert [s.name for s in cov.sessions] == ["night-c", "night-a"]
    assert cov.sessions[0].started_at == runs[2].created_at


def test_missing_counts_appearances_in_sessions_beyond_the_cap():
    runs = [_run("s1", "old", 1), _run("s1", "e", 1), _run("s2", "e", 2), _run("s3", "e", 3)]
    cov = coverage(runs, max_sessions=2)
    assert _grid(cov) == {"e": "passed passed", "old": "missing missing"}


def test_a_benchmark_twice_in_a_session_shows_its_latest_run():
    runs = [_run("s1", "e", 1, "failed"), _run("s1", "e", 2)]
    runs[1] = msgspec.structs.replace(runs[1], run_id="s1/e-retry")
    (row,) = coverage(runs).rows
    assert [c.state for c in row.cells] == ["passed"] and row.cells[0].run.run_id == "s1/e-retry"


def test_no_sessions():
    cov = coverage([Run(run_id="r", root="/r", slug="r", kind="sidecar", name="r", status="completed")])
    assert cov.sessions == [] and cov.rows == []


def test_a_partial_run_has_a_state_of_its_own():
    cov = coverage([_run("s1", "dedup", 1), _run("s2", "dedup", 2, "partial")])
    assert _grid(cov) == {"dedup": "partial passed"}
    assert cov.sessions[0].totals == {"partial": 1}
