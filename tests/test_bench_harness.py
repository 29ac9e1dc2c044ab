"""The benchmark harness (benchmarks/): pairing, ratios and spreads, the racy-window wait, the
generators it times, and `bench_build.py` end to end at a tiny size. Nothing here asserts on time."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    """A benchmark module by its path: benchmarks/ stays off sys.path (its real_data.py would
    shadow the tests' own)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate_runs, hugo_site, racy_window, pairs = (_load(name) for name in
                                                ("generate_runs", "hugo_site", "racy_window", "pairs"))
Paired, measure_pairs, quartiles, spread = pairs.Paired, pairs.measure_pairs, pairs.quartiles, pairs.spread


def test_pairs_alternate_which_side_goes_first():
    order: list[str] = []

    def side(name: str, seconds: float):
        return lambda: order.append(name) or seconds

    paired = measure_pairs(side("a", 2.0), side("b", 1.0), pairs=4)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert paired.a == (2.0,) * 4 and paired.b == (1.0,) * 4


def test_a_ratio_is_the_median_of_the_pairs_not_the_ratio_of_the_medians():
    paired = Paired(a=(1.0, 4.0, 9.0), b=(1.0, 1.0, 3.0))
    assert paired.ratios == (1.0, 4.0, 3.0)
    assert paired.ratio == 3.0
    assert (paired.a_median, paired.b_median) == (4.0, 1.0)  # 4.0× would be the ratio of the medians
    assert paired.differences == (0.0, 3.0, 6.0) and paired.difference == 3.0


def test_spread_shows_the_range_and_from_four_values_the_quartiles():
    assert spread([1.0, 3.0]) == "1.00–3.00×"
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
    assert spread([1.0, 2.0, 3.0, 4.0, 5.0], " s", 1) == "1.0–5.0 s, IQR 2.0–4.0 s"
    assert quartiles([7.0]) == (7.0, 7.0)


def test_pairs_need_at_least_one_pair():
    with pytest.raises(ValueError, match="at least 1"):
        measure_pairs(lambda: 1.0, lambda: 1.0, 0)


def test_a_file_dated_ahead_of_the_clock_is_an_error_not_a_wait_of_years(tmp_path):
    ahead = tmp_path / "run"
    ahead.write_text("x")
    day = time.time() + 86_400
    os.utime(ahead, (day, day))
    with pytest.raises(ValueError, match="ahead of the clock"):
        racy_window.wait_out([tmp_path], 2.0)


def test_a_million_tiny_runs_are_dated_in_the_past():
    newest = generate_runs.BASE_TIME + 999_999 * generate_runs.TINY_SPACING_S + generate_runs.RUN_DURATION_S
    assert newest < time.time()
    assert generate_runs.run_rel(999_999, generate_runs.TINY_SPACING_S) < "20251231"


def test_the_racy_window_ends_one_window_after_the_newest_change(tmp_path):
    (tmp_path / "run" / "logs").mkdir(parents=True)
    for name, mtime_s in (("run/metrics.csv", 100), ("run/logs/out.log", 250), ("run/sidecar.json", 50)):
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (mtime_s, mtime_s))
    for directory in (tmp_path / "run" / "logs", tmp_path / "run"):
        os.utime(directory, (10, 10))
    assert racy_window.newest_mtime_ns([tmp_path / "run"]) == 250 * 10**9
    # the build calls a file racy while mtime >= start - window: the first settled start is one ns later
    assert racy_window.window_ends_ns(250 * 10**9, 2.0) == 252 * 10**9 + 1


def test_waiting_sleeps_until_the_clock_has_passed_the_end():
    now = [1_000]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += max(1, round(seconds * 1e9) // 2)  # a sleep that wakes early is slept again

    waited = racy_window.wait_until_ns(1_000 + 4 * 10**9, clock=lambda: now[0], sleep=sleep)
    assert now[0] >= 1_000 + 4 * 10**9 and len(slept) > 1 and waited == pytest.approx(sum(slept))
    assert racy_window.wait_until_ns(0, clock=lambda: 5, sleep=slept.append) == 0.0


def test_the_window_is_read_from_the_builds_config(tmp_path):
    config = tmp_path / "sitegen.yaml"
    config.write_text("build:\n  racy_window_s: 0.25\n")
    assert racy_window.configured_window_s(config) == 0.25


def test_tiny_runs_and_a_changed_row(tmp_path):
    generate_runs.generate_tiny(tmp_path, 3)
    runs = sorted(tmp_path.glob("*/*/*/sidecar.json"))
    assert len(runs) == 3
    csv = generate_runs.touch_one(tmp_path)
    assert csv.read_text().splitlines()[-2:] == ["2,0.9", "3,0.9"]


def test_the_hugo_page_has_front_matter_and_a_table_of_ten_numbers(tmp_path):
    generate_runs.generate(tmp_path / "tree", 2, rows=20)
    assert hugo_site.write_site(tmp_path / "site", tmp_path / "tree") == 2
    page = sorted((tmp_path / "site" / "content" / "runs").glob("*.md"))[0].read_text()
    assert page.startswith("{") and '"status": "completed"' in page
    cells = [cell.strip() for line in page.splitlines() if line.startswith("| ") and "---" not in line
             for cell in line.strip("|").split("|")[1:]]
    assert len(cells) == 12 and cells[:2] == ["first", "last"]  # the header, then 5 rows of 2 numbers


TARGET_ROWS = [
    "no-op rebuild vs stat floor + interpreter", "one run changed",
    "one nightly session of 200 entries added", "peak memory, incremental build",
    "peak memory, full build (largest process)", "full build", "publishable bytes per run",
    "`_build/` bytes per run", "no-op rebuild, 20 tiny runs", "one run changed, 20 tiny runs",
    "asv history: full build vs `asv publish`", "asv history: one session added vs one commit added",
]


@pytest.mark.slow
def test_bench_build_prints_a_row_for_every_target(tmp_path):
    cmd = [sys.executable, str(BENCHMARKS / "bench_build.py"), "--runs", "12", "--rows", "20", "--pairs", "1",
           "--full-pairs", "1", "--wide-points", "200", "--settle", "0", "--million-runs", "20",
           "--asv-benchmarks", "3", "--asv-nights", "2", "--workdir", str(tmp_path),
           "--markdown", str(tmp_path / "results.md")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    table = (tmp_path / "results.md").read_text()
    assert table == done.stdout
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    measures = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    for target in TARGET_ROWS:
        assert any(m.startswith(target) for m in measures), (target, measures)
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if len(cells) == 4 and cells[2] not in ("", "target"):  # a row with a target has a verdict
            assert re.search(r"\bok\b|\*\*MISS\*\*|not installed|skipped", cells[3]), line
    # each change was waited out past the racy window: the no-op after it read nothing
    assert "no-op: 0;" in table and "one run changed: 1;" in table and "session added: 200" in table
    assert not list((tmp_path / "tree-12-r20" / "nightly").glob("*"))  # added sessions removed again


@pytest.mark.slow
def test_bench_nightly_times_one_changed_entry_of_a_history(tmp_path):
    cmd = [sys.executable, str(BENCHMARKS / "bench_nightly.py"), "--entries", "3", "--nights", "4",
           "--pairs", "1", "--workdir", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr  # it fails when the changed build did not read the entry
    row = done.stdout.splitlines()[-1]
    assert re.fullmatch(r"\| 12 \| \d+\.\d{3} s \| \+-?\d+\.\d{3} s \(.+ s\) \| [\d,]+ MiB \|", row), row
    assert len(list((tmp_path / "nightly-3x4" / "nightly").iterdir())) == 4
