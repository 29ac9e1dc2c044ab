"""Sessions: each entry compared with its previous appearance; pages show the change and its sense."""

from __future__ import annotations

import msgspec
import pytest

from sitegen.analysis.sessions import direction, package_changes, sessions
from sitegen.model import Run
from sitegen.render.env import theme_dir
from sitegen.render.sessions import quality_page, session_page
from sitegen.render.site import SiteInfo


def _run(session: str, entry: str, started: float, status: str = "completed", **summary: float) -> Run:
    return Run(run_id=f"{session}/{entry}", root="/r", slug=f"{session}-{entry}", kind="nightly",
               name=entry, status=status, session=session, benchmark=entry, created_at=started,
               summary=summary)


@pytest.mark.parametrize(("metric", "sense"), [
    ("time_taken", -1), ("exec_time_s", -1), ("ttft_ms_p99", -1), ("mean_latency", -1),
    ("output_throughput", 1), ("tokens_per_s", 1), ("qps", 1), ("num_removed", 0), ("is_success", 0),
])
def test_direction_from_the_name(metric, sense):
    assert direction(metric) == sense


def test_each_entry_is_compared_with_its_last_appearance():
    runs = [
        _run("s1", "dedup", 100, time_taken=100.0, num_removed=5.0, stage_a_process_time_sum=3.0),
        _run("s1", "sort", 100, time_taken=50.0),
        _run("s2", "sort", 200, time_taken=40.0),  # dedup did not run in s2
        _run("s3", "dedup", 300, time_taken=110.0, num_removed=5.0, stage_a_process_time_sum=9.0),
        _run("s3", "sort", 300, status="failed"),
    ]
    newest, middle, oldest = sessions(runs)
    assert [s.name for s in (newest, middle, oldest)] == ["s3", "s2", "s1"]
    assert (newest.passed, newest.failed) == (1, 1)
    dedup = next(e for e in newest.entries if e.run.benchmark == "dedup")
    assert dedup.previous.session == "s1"  # skipped s2, which did not run it
    assert dedup.changes["time_taken"].verdict == "worse"
    assert dedup.changes["time_taken"].percent == pytest.approx(10.0)
    assert dedup.changes["num_removed"].verdict == "same"
    assert "stage_a_process_time_sum" not in dedup.changes  # per-stage aggregates stay on the run page
    assert middle.entries[0].changes["time_taken"].verdict == "better"
    assert oldest.entries[0].changes == {}


def test_a_failed_session_is_skipped_as_a_baseline():
    runs = [_run("s1", "e", 1, time_taken=1.0), _run("s2", "e", 2, status="failed"),
            _run("s3", "e", 3, time_taken=2.0)]
    newest, failed, _ = sessions(runs)
    assert failed.entries[0].previous.session == "s1" and failed.entries[0].changes == {}
    assert newest.entries[0].previous.session == "s1"
    assert newest.entries[0].changes["time_taken"].verdict == "worse"


def test_package_changes():
    before = {"ray": "2.9.0", "numpy": "1.26.4", "old": "1", "PyYAML": "6.0"}
    after = {"ray": "2.10.0", "numpy": "1.26.4", "new": "0.1", "PyYAML": "6.0.1"}
    assert [(c.name, c.before, c.after) for c in package_changes(before, after)] == [
        ("new", None, "0.1"), ("old", "1", None), ("PyYAML", "6.0", "6.0.1"), ("ray", "2.9.0", "2.10.0")]
    assert package_changes(after, dict(after)) == []


def _site() -> SiteInfo:
    return SiteInfo(title="t", theme=str(theme_dir("default")), version="0")


def test_session_page_shows_deltas_coloured_by_sense_and_package_changes():
    first = _run("nightly-1", "dedup", 1, time_taken=100.0, output_throughput=10.0)
    second = _run("nightly-2", "dedup", 2, time_taken=120.0, output_throughput=12.0)
    first = msgspec.structs.replace(first, packages={"ray": "2.9"})
    second = msgspec.structs.replace(second, packages={"ray": "2.10"})
    newest = sessions([first, second])[0]
    page = session_page(newest, [], None, "nightly-1", _site())
    assert page.path.startswith("sessions/")
    html = page.data.decode()
    assert '<span class="delta-worse" title="was 100">+20.0% ▼</span>' in html
    assert '<span class="delta-better" title="was 10">+20.0% ▲</span>' in html
    assert "<th>ray</th><td>2.9 → 2.10</td>" in html
    assert 'href="../runs/nightly-2-dedup/index.html"' in html
    third = _run("nightly-3", "dedup", 3, time_taken=123.0, output_throughput=12.0)
    html = session_page(sessions([first, second, third])[0], [], "x", None, _site()).data.decode()
    assert '<span class="delta-worse minor" title="was 120">+2.5% ▼</span>' in html  # likely noise


def test_quality_page_lists_fallback_broken_and_warned_runs_first_broken():
    clean = _run("s", "clean", 1)
    legacy = Run(run_id="3667_1P_1D", root="/r", slug="j", kind="jobdir", name="3667", status="completed",
                 badges=("legacy",))
    html = quality_page([clean, legacy], _site()).data.decode()
    assert "1 of 2 runs" in html and '<span class="badge">legacy</span>' in html and "clean" not in html


def test_a_direction_from_the_config_colours_the_session_table():
    first = _run("nightly-1", "dedup", 1, widgets=10.0)
    second = _run("nightly-2", "dedup", 2, widgets=12.0)
    assert sessions([first, second])[0].entries[0].changes["widgets"].verdict == "changed"
    lower = sessions([first, second], direction_of=lambda metric: -1)
    assert lower[0].entries[0].changes["widgets"].verdict == "worse"
