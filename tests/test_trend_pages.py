"""Trends, regressions and triage as a user sees them: a planted nightly tree built into a site."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from conftest import age, make_config, run_build

DAY = 86400
START = 1_740_000_000
ENTRIES = ("dedup", "sort", "pipeline")
TRACEBACK = 'Traceback (most recent call last):\n  File "sort.py", line 3\nMemoryError: out of memory\n'


def write_entry(root: Path, session: int, entry: str, metrics: dict[str, float] | None,
                packages: str = "numpy==1.26.4\npyarrow==17.0.0\n", stderr: str = "",
                prefix: str = "nightly") -> Path:
    """An entry as the successor nightly driver leaves it (FORMATS.md §3.3); no metrics: it failed."""
    name = f"{prefix}-{session:02d}"
    folder = root / name / entry
    (folder / "benchmark_results").mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "artifacts").mkdir(exist_ok=True)
    started = START + session * DAY
    ok = metrics is not None
    results = {
        "name": entry, "cmd": ["python", f"{entry}.py", "--input", f"/data/{entry}"],
        "started_at": started, "ended_at": started + 300, "exec_time_s": 290.0,
        "exit_code": 0 if ok else 1, "timed_out": False, "success": ok,
        "metrics": {**(metrics or {}), "is_success": ok}, "params": {"input_path": f"/data/{entry}"},
    }
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "benchmark_results" / "metrics.json").write_text(json.dumps(results["metrics"]))
    (folder / "logs" / "stdouterr.log").write_text(stderr or "done\n")
    (folder / "artifacts" / "pip-freeze.txt").write_text(packages)
    return folder


def plant(root: Path, sessions: int = 12, step_at: int = 9) -> None:
    rng = random.Random(7)
    for session in range(sessions):
        for entry in ENTRIES:
            if entry == "sort" and session == 5:
                write_entry(root, session, entry, None, stderr=TRACEBACK)
                continue
            slower = entry == "dedup" and session >= step_at
            metrics = {"time_taken_s": 100.0 * (1.15 if slower else 1.0) * (1 + rng.uniform(-0.02, 0.02)),
                       "throughput_rows_per_s": 5000.0 * (1 + rng.uniform(-0.02, 0.02))}
            upgraded = entry == "dedup" and session >= step_at
            write_entry(root, session, entry, metrics,
                        packages=f"numpy==1.26.4\npyarrow=={'18.0.0' if upgraded else '17.0.0'}\n")
    age(root)


@pytest.fixture
def built(tmp_path: Path):
    root = tmp_path / "nightly"
    plant(root)
    out = tmp_path / "site"
    config = make_config(root, out)
    run_build(config)
    return root, out, config


def regressions(out: Path) -> list[dict]:
    return json.loads((out / "regressions.json").read_text())["regressions"]


def test_a_planted_regression_is_flagged_with_its_triage(built):
    _, out, _ = built
    [step] = regressions(out)
    assert (step["benchmark"], step["metric"], step["kind"], step["state"]) == (
        "dedup", "time_taken_s", "regression", "new")
    assert (step["session"], step["last_good"]["label"], step["first_bad"]["label"]) == (
        "nightly-09", "nightly-08", "nightly-09")
    assert step["change"] == pytest.approx(0.15, abs=0.05) and step["direction"] == "lower"
    for url in (step["last_good"]["url"], step["first_bad"]["url"], step["triage_url"], step["trend_url"]):
        assert (out / url).is_file(), url
    triage = (out / step["triage_url"]).read_text()
    assert "<th>pyarrow</th><td>17.0.0 → 18.0.0</td>" in triage
    assert "python dedup.py --input /data/dedup" in triage  # how to reproduce both runs
    assert 'href="../runs/' in triage


def test_the_regression_is_on_the_index_the_session_page_and_the_trend_plot(built):
    _, out, _ = built
    [step] = regressions(out)
    index = (out / "index.html").read_text()
    assert "<h2>Regressions</h2>" in index and step["triage_url"] in index
    session_pages = [p for p in (out / "sessions").iterdir() if "nightly-09" in p.name]
    assert step["triage_url"] in session_pages[0].read_text()
    figures = _figures(out / step["trend_url"])
    marked = [t for f in figures.values() for t in f["data"] if t.get("name") == "regressions"]
    assert len(marked) == 1 and marked[0]["x"] == ["nightly-09"]


def test_a_failed_session_is_marked_and_breaks_no_trend(built):
    _, out, _ = built
    trends_index = (out / "trends/index.html").read_text()
    sort_page = out / re.search(r'href="\.\./(trends/[^"]*sort[^"]*)"', trends_index)[1]
    traces = {t["name"]: t for f in _figures(sort_page).values() for t in f["data"]}
    assert traces["failed"]["x"] == ["nightly-05"]
    line = next(t for name, t in traces.items() if name not in ("failed",))
    assert len(line["x"]) == 12 and line["y"][5] is None and line["connectgaps"]


def test_an_acknowledgement_is_shown_and_no_longer_counted_as_new(built):
    root, out, config = built
    content = root.parent / "content"
    content.mkdir()
    (content / "acknowledged.yaml").write_text(
        "- benchmark: dedup\n  metric: time_taken_s\n  from: nightly-09\n"
        "  reason: pyarrow 18 reads small files slower\n  until: 2999-01-01\n")
    run_build(config)
    [step] = regressions(out)
    assert step["state"] == "acknowledged"
    assert step["acknowledged"]["reason"] == "pyarrow 18 reads small files slower"
    index = (out / "index.html").read_text()
    assert "<h2>Regressions</h2>" not in index and "1 acknowledged" in index
    (content / "acknowledged.yaml").write_text(
        "- {benchmark: dedup, metric: time_taken_s, from: nightly-09, reason: r, until: 2000-01-01}\n"
        "- nonsense\n")
    rep = run_build(config)
    assert regressions(out)[0]["state"] == "new" and regressions(out)[0]["acknowledged"]["expired"]
    assert any("acknowledged.yaml" in w.run_id and w.message == "entry 2: expected a mapping"
               for w in rep.report.warnings)


def test_a_changed_run_re_renders_only_the_pages_that_show_it(built):
    root, _, config = built
    assert run_build(config).written == []
    write_entry(root, 3, "sort", {"time_taken_s": 101.0, "throughput_rows_per_s": 4990.0})
    age(root)
    written = set(run_build(config).written)
    sessions = {p for p in written if p.startswith("sessions/")}
    # its session, and the next one, whose changes are measured against it
    assert sorted(p.split("/")[1][:10] for p in sessions) == ["nightly-03", "nightly-04"]
    assert any(p.startswith("trends/sort") for p in written)
    assert not any(p.startswith(("trends/dedup", "trends/pipeline", "regressions/")) for p in written)
    assert "data/runs-0000.json" in written  # its part of runs.json (one shard)


def _figures(page: Path) -> dict:
    html = page.read_text()
    found = re.search(r'<script type="application/json" id="figures">(.*?)</script>', html, re.S)
    return json.loads(found[1])


REPORT = """---
title: Weekly report
---
# Week 10

Dedup got slower:

```sitegen-trend
benchmark: dedup
metric: time_taken_s
```

```sitegen-regressions
```

```sitegen-table
filter: {session: latest}
columns: [name, status, time_taken_s]
sort: -time_taken_s
```

```sitegen-compare
runs: [nightly-00/sort, nightly-01/sort]
```

```sitegen-trend
benchmark: nonesuch
```

```python
print("a plain code block stays one")
```
"""


def test_a_report_embeds_live_figures_and_tables_and_follows_the_data(built):
    root, out, config = built
    content = root.parent / "content"
    content.mkdir()
    (content / "weekly.md").write_text(REPORT)
    rep = run_build(config)
    html = (out / "pages/weekly.html").read_text()
    figures = _figures(out / "pages/weekly.html")
    assert len(figures) == 1 + 0 + 0  # the trend (the runs compared have no series)
    assert [t["name"] for t in figures["plot-0"]["data"]] == ["time_taken_s", "regressions"]
    assert html.count('class="step step-regression step-new"') == 2  # under the trend, and the list
    table = html.split('class="block block-table')[1].split("</table>")[0]
    assert table.count("<tr>") == 4 and "dedup · nightly-11" in table  # header + the 3 entries of the newest
    assert "nightly-00/sort" not in html and "sort · nightly-00" in html and "sort · nightly-01" in html
    assert "sitegen-trend: no trend for benchmark &#39;nonesuch&#39;" in html
    assert '<code class="language-python">print(' in html
    assert any(w.run_id == "content/weekly.md" and "nonesuch" in w.message for w in rep.report.warnings)
    assert 'src="../assets/plotly.min.js"' in html

    write_entry(root, 2, "pipeline", {"time_taken_s": 99.0, "throughput_rows_per_s": 5001.0})
    age(root)
    assert "pages/weekly.html" not in run_build(config).written  # it shows nothing of that run
    write_entry(root, 11, "sort", {"time_taken_s": 250.0, "throughput_rows_per_s": 5001.0})
    age(root)
    assert "pages/weekly.html" in run_build(config).written  # the newest session's table changed
    assert "250" in (out / "pages/weekly.html").read_text()


def test_a_reports_blocks_are_parsed_again_only_when_its_text_changes(built, monkeypatch):
    from sitegen.render import content

    root, out, config = built
    report = root.parent / "content" / "weekly.md"
    report.parent.mkdir()
    report.write_text(REPORT)
    run_build(config)
    parsed, real = [], content.content_blocks
    monkeypatch.setattr(content, "content_blocks", lambda source: parsed.append(source.name) or real(source))
    write_entry(root, 11, "sort", {"time_taken_s": 250.0, "throughput_rows_per_s": 5001.0})
    age(root)
    assert "pages/weekly.html" in run_build(config).written and parsed == []  # its blocks from the cache
    assert "250" in (out / "pages/weekly.html").read_text()
    report.write_text(REPORT.replace("sort: -time_taken_s", "sort: time_taken_s"))
    run_build(config)
    assert parsed == ["weekly.md"]


def test_steps_are_detected_again_only_in_the_trends_that_changed(built, monkeypatch):
    from sitegen import report_pages

    root, out, config = built
    detected, real = [], report_pages.detect

    def counted(trend, rule):
        detected.append(trend.benchmark)
        return real(trend, rule)

    monkeypatch.setattr(report_pages, "detect", counted)
    write_entry(root, 4, "sort", {"time_taken_s": 100.5, "throughput_rows_per_s": 5003.0})
    age(root)
    run_build(config)
    assert sorted(detected) == ["sort", "sort"]  # its two metrics; dedup's and pipeline's reused
    assert regressions(out)[0]["benchmark"] == "dedup"


def test_each_metric_says_which_way_is_better_even_without_a_change(built):
    _, out, _ = built
    trends_index = (out / "trends/index.html").read_text()
    page = (out / re.search(r'href="\.\./(trends/[^"]*pipeline[^"]*)"', trends_index)[1]).read_text()
    assert "time_taken_s <span class=\"sub\">lower is better" in page
    assert "throughput_rows_per_s <span class=\"sub\">higher is better" in page


def test_only_an_existing_acknowledgements_file_makes_the_date_part_of_the_pages_key(tmp_path: Path):
    from sitegen.site_pages import _acknowledgements_key

    path = str(tmp_path / "acknowledged.yaml")
    assert _acknowledgements_key(path, START) == _acknowledgements_key(path, START + DAY) == ""
    (tmp_path / "acknowledged.yaml").write_text("[]\n")
    assert _acknowledgements_key(path, START) != _acknowledgements_key(path, START + DAY)


def test_a_session_page_follows_its_runs_where_nothing_is_compared(built):
    """The first session's entries have nothing to compare with: a new value of theirs is on its
    page all the same (the page's key is made of its runs' render keys, not only of changes)."""
    root, out, config = built
    [page] = (out / "sessions").glob("nightly-00-*.html")
    write_entry(root, 0, "sort", {"time_taken_s": 123.25, "throughput_rows_per_s": 5000.0})
    age(root)
    assert page.relative_to(out).as_posix() in run_build(config).written
    assert "123.25" in page.read_text()


def test_a_summary_keeps_a_package_list_once_for_the_runs_that_share_it(built):
    from sitegen import shard_summaries

    _, out, _ = built
    [path] = (out / "_build" / "summaries").iterdir()
    summary = shard_summaries._read(str(out), int(path.stem))
    assert len(summary.listings) == 36  # every run is in a session: notable
    assert sorted(lists["pyarrow"] for lists in summary.packages) == ["17.0.0", "18.0.0"]


def _spark_rows(out: Path) -> dict[str, tuple[list[tuple[float, float]], str, str]]:
    """Each metric row of the trends index: its sparkline's points, newest value and change."""
    rows = {}
    page = (out / "trends/index.html").read_text()
    row = re.compile(r'<td>([^<]+)</td>\s*<td>(?:<svg class="spark[^"]*"[^>]*>(.*?)</svg>)?</td>\s*'
                     r'<td class="num">([^<]*)</td>\s*'
                     r'<td class="num">(?:<span[^>]*>[^<]*</span>)?([^<]*)</td>', re.S)
    for metric, lines, latest, change in row.findall(page):
        points = [tuple(map(float, p.split(","))) for line in re.findall(r'points="([^"]*)"', lines)
                  for p in line.split()]
        rows[metric] = (points, latest, change)
    return rows


def test_the_trends_index_draws_each_metrics_newest_values_and_its_last_change(tmp_path):
    root, out = tmp_path / "runs", tmp_path / "site"
    for session, value in enumerate([100.0, 110.0, None, 130.0, 143.0]):
        write_entry(root, session, "sort", None if value is None else {"time_taken_s": value, "rows": 5.0})
    age(root)
    config = make_config(root, out)
    run_build(config)
    rows = _spark_rows(out)
    points, latest, change = rows["time_taken_s"]
    assert (latest, change) == ("143", "+10.0%")  # from the value before it
    assert [x for x, _y in points] == [0.0, 30.0, 90.0, 120.0]  # a failed night breaks the line
    assert [y for _x, y in points] == [23.0, 17.9, 7.7, 1.0]  # (1 - (v - low) / (high - low)) * 22 + 1
    assert [y for _x, y in rows["rows"][0]] == [12.0] * 4 and rows["rows"][2] == "+0.0%"  # flat: the middle
    write_entry(root, 1, "sort", {"time_taken_s": 143.0, "rows": 5.0})  # an earlier night read again
    age(root)
    run_build(config)
    assert [y for _x, y in _spark_rows(out)["time_taken_s"][0]][:2] == [23.0, 1.0]  # the index follows it


def test_a_metric_at_a_new_level_shows_the_steps_change_on_the_trends_index(built):
    _, out, _ = built
    [step] = regressions(out)
    page = (out / "trends/index.html").read_text()
    benchmark = next(body for body in page.split("<tbody>") if f'>{step["benchmark"]}</a></th>' in body)
    row = re.search(rf'<td>{step["metric"]}</td>.*?</tr>', benchmark, re.S)[0]
    assert f'<span class="bad">▼ </span>{step["change"] * 100:+.1f}%' in row  # from the baseline
    assert 'class="spark bad"' in row


def test_a_run_page_links_the_trend_page_its_values_are_on(built):
    _, out, _ = built
    linked = {}
    for page in out.glob("runs/*/index.html"):
        found = re.search(r'<dt>Trend</dt><dd><a href="\.\./\.\./([^"]+)">', page.read_text())
        if found:
            linked[page] = found[1]
    assert linked and all((out / target).is_file() for target in linked.values())
    assert len(set(linked.values())) > 1  # each entry its own benchmark's page


def test_a_value_that_is_not_finite_breaks_the_sparkline_like_a_failed_night():
    from sitegen.analysis.trends import Point, Trend
    from sitegen.render.trends import spark_values

    values = [1.0, float("inf"), 2.0, float("nan"), None, 3.0]
    points = [Point(f"s{i}", f"r{i}", f"n{i}", float(i), v, "completed") for i, v in enumerate(values)]
    assert spark_values(Trend("b", "m", "session", points)) == [1.0, None, 2.0, None, None, 3.0]
