"""The index's rows and runs.json split by shard: one changed run rewrites the index, its chunk
and its part of runs.json and nothing else that lists runs; the shard count is kept from build
to build, and a count that shrinks removes the chunks it no longer uses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import age, make_config, run_build, write_sidecar_run
from runs_json import read_runs

from sitegen import cache, shards
from sitegen.render.index import chunk_path, index_chunk, part_path

RUNS = 12


@pytest.fixture(autouse=True)
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards of a few runs, so that a dozen runs make several."""
    monkeypatch.setattr(shards, "RUNS_PER_SHARD", 2)


def _site(tmp_path: Path, runs: int = RUNS) -> tuple[Path, Path]:
    root = tmp_path / "runs"
    for i in range(runs):
        write_sidecar_run(root, f"day/run-{i:02d}")
    age(root)
    return root, tmp_path / "site"


def _chunk_text(data: str, shard: int) -> str:
    """The JSON a chunk hands to site.js: the one '…' string of its one call."""
    call = re.fullmatch(r"sitegenIndexRows\((\d+),'((?:[^'\\\n\r]|\\.)*)'\);\n", data)
    assert call and int(call[1]) == shard
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), call[2])


def _chunk_rows(out: Path, shard: int) -> list[list]:
    return json.loads(_chunk_text((out / chunk_path(shard)).read_text(), shard))


def _chunks(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in (out / "data").glob("runs-*.js"))


def test_each_run_is_in_the_chunk_and_part_of_its_shard(tmp_path: Path):
    root, out = _site(tmp_path)
    run_build(make_config(root, out))
    count = shards.shard_count(RUNS)
    assert count == 4 and _chunks(out) == [chunk_path(s) for s in range(count)]
    head = json.loads((out / "runs.json").read_text())
    assert head == {"format": 2, "count": RUNS, "parts": [part_path(s) for s in range(count)]}
    runs = read_runs(out)
    assert sorted(run["run_id"] for run in runs) == [f"day/run-{i:02d}" for i in range(RUNS)]
    for shard in range(count):
        in_part = [r["run_id"] for r in json.loads((out / part_path(shard)).read_text())["runs"]]
        in_chunk = sorted(row[3] for row in _chunk_rows(out, shard))  # ROW_COLUMNS: run_id is 4th
        expected = [r["run_id"] for r in runs if shards.shard_of(cache.run_key(r["root"], r["run_id"]), count)
                    == shard]
        assert in_part == sorted(expected) and in_chunk == sorted(expected)
    index = (out / "index.html").read_text()
    for shard in range(count):
        assert f"{chunk_path(shard)}?v=" in index


def test_one_changed_run_rewrites_one_chunk_and_one_part(tmp_path: Path):
    root, out = _site(tmp_path)
    config = make_config(root, out)
    run_build(config)
    assert run_build(config).written == []  # a no-op writes nothing
    changed = root / "day/run-05"
    with (changed / "metrics.csv").open("a") as handle:
        handle.write("99,9,0.5\n")
    sidecar = json.loads((changed / "sidecar.json").read_text())
    (changed / "sidecar.json").write_text(json.dumps({**sidecar, "status": "failed"}))
    age(changed)
    written = run_build(config).written
    shard = shards.shard_of(cache.run_key(str(root), "day/run-05"), 4)
    listing_runs = [p for p in written if p.startswith("data/") or p in ("index.html", "runs.json")]
    assert sorted(listing_runs) == sorted(["index.html", chunk_path(shard), part_path(shard)])
    status = {r["run_id"]: r["status"] for r in read_runs(out)}
    assert status["day/run-05"] == "failed"


def test_the_shard_count_is_kept_until_the_runs_are_far_fewer(tmp_path: Path):
    root, out = _site(tmp_path)
    config = make_config(root, out)
    run_build(config)
    for i in range(8, RUNS):  # 8 runs: a fresh site would have 2 shards, this one keeps its 4
        shutil.rmtree(root / f"day/run-{i:02d}")
    age(root)
    run_build(config)
    assert shards.shard_count(8) < 4
    assert len(_chunks(out)) == 4 and len(read_runs(out)) == 8
    for i in range(1, 8):  # 1 run: fewer shards, and the chunks and parts no longer used are gone
        shutil.rmtree(root / f"day/run-{i:02d}")
    age(root)
    removed = run_build(config).removed
    fewer = shards.shard_count(1, previous=4)
    assert fewer < 4 and _chunks(out) == [chunk_path(s) for s in range(fewer)]
    assert [r["run_id"] for r in read_runs(out)] == ["day/run-00"]
    assert sorted(p for p in removed if p.startswith("data/")) == sorted(
        [chunk_path(s) for s in range(fewer, 4)] + [part_path(s) for s in range(fewer, 4)])


def test_a_chunk_is_data_in_one_string_whatever_its_rows_hold():
    """Rows come back from the build cache, which is input: a row that is not sitegen's JSON
    must not end the string and run as script (site.js then fails to parse it, and says so)."""
    rows = [b'["it\'s",1]', b"'+alert(1)+'", b"\\'", b"x\n'alert(2)'\r"]
    page = index_chunk(7, rows)
    assert _chunk_text(page.data.decode(), 7) == "[" + ",".join(r.decode() for r in rows) + "]"


def test_the_index_page_holds_its_first_rows_only():
    """Its weight does not grow with the runs: the rows are in the chunks it names."""
    from sitegen.model import Run
    from sitegen.render.env import theme_dir
    from sitegen.render.index import INLINE_ROWS, index_page, index_row
    from sitegen.render.site import SiteInfo

    site = SiteInfo(title="t", theme=str(theme_dir("default")), version="0")

    def page(count: int) -> bytes:
        runs = [Run(run_id=f"r/{i:05d}", root="/r", slug=f"r-{i:05d}", name=f"r{i}", kind="sidecar",
                    status="completed", created_at=1.7e9 + i) for i in range(count)]
        chunks = [(chunk_path(s), "v") for s in range(4)]
        return index_page([(run, index_row(run)) for run in runs], site, chunks=chunks).data

    small, big = page(INLINE_ROWS), page(20 * INLINE_ROWS)
    data = json.loads(re.search(rb'<script type="application/json" id="runs-data">(.*?)</script>', big)[1])
    assert data["count"] == 20 * INLINE_ROWS and len(data["rows"]) == INLINE_ROWS
    newest = range(20 * INLINE_ROWS - 1, 19 * INLINE_ROWS - 1, -1)
    assert [row[3] for row in data["rows"]] == [f"r/{i:05d}" for i in newest]
    assert data["chunks"] == [f"{chunk_path(s)}?v=v" for s in range(4)]
    assert len(big) < len(small) + 1000
