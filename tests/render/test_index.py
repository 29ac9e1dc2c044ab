"""The index: its first rows as HTML, every run as data for site.js, all of it inert."""

from __future__ import annotations

import json
import re

from sitegen.model import Problem, Run
from sitegen.render.env import theme_dir
from sitegen.render.index import (
    INLINE_ROWS,
    ROW_COLUMNS,
    index_page,
    index_row,
    runs_json,
    runs_json_entry,
    runs_json_part,
)
from sitegen.render.site import SiteInfo

SITE = SiteInfo(title="t", theme=str(theme_dir("default")), version="0")
SCRIPT = "</script><script>alert(1)</script>"


def _run(i: int, **fields: object) -> Run:
    defaults = dict(run_id=f"r{i:05d}", root="/r", slug=f"s{i}", kind="sidecar", name=f"run {i}",
                    status="completed", created_at=1000.0 + i)
    return Run(**{**defaults, **fields})


def _index(runs: list[Run]) -> str:
    return index_page([(run, index_row(run)) for run in runs], SITE).data.decode()


def _payload(html: str) -> dict:
    text = re.search(r'<script type="application/json" id="runs-data">(.*?)</script>', html, re.S)[1]
    payload = json.loads(text)
    assert tuple(payload["columns"]) == ROW_COLUMNS
    return payload


def _data(html: str) -> list[dict]:
    payload = _payload(html)
    return [dict(zip(payload["columns"], row, strict=True)) for row in payload["rows"]]


def test_the_first_rows_are_html_and_data_newest_first_and_the_rest_are_counted():
    runs = [_run(i) for i in range(INLINE_ROWS + 50)]
    html = _index(runs)
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    assert body.count("<tr>") == INLINE_ROWS
    newest = [f"r{i:05d}" for i in reversed(range(INLINE_ROWS + 50))]
    assert re.findall(r'<div class="sub">(r\d+)</div>', body) == newest[:INLINE_ROWS]
    rows = _data(html)
    assert [row["run_id"] for row in rows] == newest[:INLINE_ROWS]
    assert _payload(html)["count"] == INLINE_ROWS + 50
    assert rows[0]["url"] == f"runs/s{INLINE_ROWS + 49}/index.html"
    assert "<noscript>The newest 100 of 150 runs" in html  # without scripts: where the rest are


def test_a_small_index_draws_every_row_and_says_nothing_of_more():
    html = _index([_run(1), _run(2)])
    assert html[html.index("<tbody>"):].count("<tr>") == 2 and "<noscript>" not in html


def test_row_data_holds_what_the_row_shows():
    broken = _run(1, tags=("a", "b"), badges=("legacy",), ended_at=1001.0 + 75.4, warnings=["w"],
                  problem=Problem(message="bad"), status="broken")
    (row,) = _data(_index([broken]))
    assert row["tags"] == ["a", "b"] and row["badges"] == ["legacy"]
    assert row["duration_text"] == "1m 15s" and row["created_text"] == "1970-01-01 00:16:41 UTC"
    assert row["warnings"] == 2 and row["broken"] is True and row["gpu"] == ""


def test_hostile_run_fields_stay_inert_in_the_data_and_the_html():
    runs = [_run(i, name=SCRIPT, run_id=SCRIPT + str(i), tags=(SCRIPT,), badges=(SCRIPT,), kind=SCRIPT)
            for i in range(INLINE_ROWS + 1)]
    html = _index(runs)
    assert html.count("<script") == html.count("</script>") == 3  # the data, compare.js and site.js
    assert all(row["name"] == SCRIPT for row in _data(html))


def test_runs_json_joins_each_runs_entry_by_root_and_run_id_into_valid_json():
    runs = [_run(2, root="/b"), _run(1, root="/b", name=SCRIPT), _run(3, root="/a")]
    page = runs_json_part(5, [(run, runs_json_entry(run)) for run in runs])
    assert page.path == "data/runs-0005.json"
    assert page.data.endswith(b"]}\n") and b"<" not in page.data
    data = json.loads(page.data)
    assert data["format"] == 2 and data["shard"] == 5
    assert [run["run_id"] for run in data["runs"]] == ["r00003", "r00001", "r00002"]
    assert data["runs"][1]["name"] == SCRIPT and data["runs"][1]["url"] == "runs/s1/index.html"


def test_runs_json_lists_its_parts():
    data = json.loads(runs_json(3, [0, 1]).data)
    assert data == {"format": 2, "count": 3, "parts": ["data/runs-0000.json", "data/runs-0001.json"]}
