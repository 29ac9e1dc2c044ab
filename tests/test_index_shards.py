"""The index's rows and runs.json split by shard: one changed run rewrites the index, its chunk
and its part of runs.json and nothing else that lists runs; runs added together fill the newest
shard, and a shard whose runs are all gone takes its chunk and part with it."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import age, make_config, run_build, write_sidecar_run
from runs_json import read_runs

from sitegen import __version__, cache, shards
from sitegen.listings import shard_path
from sitegen.render.index import chunk_path, index_chunk, part_path
from sitegen.shard_summaries import summary_path

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


def _shard_of(out: Path) -> dict[str, int]:
    """Each run's shard, as the build placed it."""
    return {r.run_id: r.shard for r in cache.load_manifest(str(out), __version__)[0].runs.values()}


def test_each_run_is_in_the_chunk_and_part_of_its_shard(tmp_path: Path):
    root, out = _site(tmp_path)
    run_build(make_config(root, out))
    shard_of = _shard_of(out)
    in_use = sorted(set(shard_of.values()))
    assert in_use == list(range(RUNS // 2))  # filled in order, two runs a shard
    assert _chunks(out) == [chunk_path(s) for s in in_use]
    head = json.loads((out / "runs.json").read_text())
    assert head == {"format": 2, "count": RUNS, "parts": [part_path(s) for s in in_use]}
    runs = read_runs(out)
    assert sorted(run["run_id"] for run in runs) == [f"day/run-{i:02d}" for i in range(RUNS)]
    for shard in in_use:
        in_part = [r["run_id"] for r in json.loads((out / part_path(shard)).read_text())["runs"]]
        in_chunk = sorted(row[3] for row in _chunk_rows(out, shard))  # ROW_COLUMNS: run_id is 4th
        expected = sorted(run_id for run_id, placed in shard_of.items() if placed == shard)
        assert in_part == expected and in_chunk == expected
    index = (out / "index.html").read_text()
    for shard in in_use:
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
    shard = _shard_of(out)["day/run-05"]
    listing_runs = [p for p in written if p.startswith("data/") or p in ("index.html", "runs.json")]
    assert sorted(listing_runs) == sorted(["index.html", chunk_path(shard), part_path(shard)])
    status = {r["run_id"]: r["status"] for r in read_runs(out)}
    assert status["day/run-05"] == "failed"


def test_runs_added_together_fill_the_newest_shard(tmp_path: Path):
    """A nightly session's runs land in a shard or two, not one in every shard."""
    root, out = _site(tmp_path, runs=5)  # shards 0, 1 full, 2 holding one run
    config = make_config(root, out)
    run_build(config)
    before = _shard_of(out)
    for i in range(3):
        write_sidecar_run(root, f"night/entry-{i}")
    os.utime(root)  # a new directory in the root
    written = run_build(config).written
    after = _shard_of(out)
    assert {run_id: after[run_id] for run_id in before} == before  # no run moved
    assert [after[f"night/entry-{i}"] for i in range(3)] == [2, 3, 3]
    assert sorted(p for p in written if p.startswith("data/")) == sorted(
        [chunk_path(2), part_path(2), chunk_path(3), part_path(3)])
    assert len(read_runs(out)) == 8


def test_a_shard_whose_runs_are_gone_is_removed_with_its_chunk_and_part(tmp_path: Path):
    root, out = _site(tmp_path)
    config = make_config(root, out)
    run_build(config)
    shard_of = _shard_of(out)
    emptied = shard_of["day/run-02"]
    for run_id in [run_id for run_id, shard in shard_of.items() if shard == emptied]:
        shutil.rmtree(root / run_id)
    shutil.rmtree(root / "day/run-07")  # and one run of another shard
    os.utime(root / "day")
    removed = run_build(config).removed
    assert sorted(p for p in removed if p.startswith("data/")) == [chunk_path(emptied), part_path(emptied)]
    assert not (out / shard_path(emptied)).exists() and not (out / summary_path(emptied)).exists()
    assert len(read_runs(out)) == RUNS - 3
    assert _chunks(out) == [chunk_path(s) for s in sorted(set(_shard_of(out).values()))]


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


def test_a_full_build_removes_what_the_last_build_made_and_it_no_longer_makes(tmp_path: Path):
    """Runs placed afresh take other shard numbers: the old chunks and parts, and the pages of
    runs deleted since, go; the runs' listings and summaries are those of the shards in use."""
    root, out = _site(tmp_path)
    config = make_config(root, out)
    run_build(config)
    for i in (0, 1, 2, 3):  # shards 0 and 1 emptied: the incremental build keeps 2 … 5
        shutil.rmtree(root / f"day/run-{i:02d}")
    os.utime(root / "day")
    run_build(config)
    assert json.loads((out / "runs.json").read_text())["count"] == RUNS - 4
    assert _chunks(out) == [chunk_path(s) for s in range(2, 6)]
    slug_page = next(p for p in (out / "runs").iterdir() if "run-11" in p.name)
    shutil.rmtree(root / "day/run-11")  # deleted, then a full build
    os.utime(root / "day")
    run_build(config, full=True)
    in_use = sorted(set(_shard_of(out).values()))
    assert in_use == list(range(4))  # 7 runs placed afresh, two a shard
    assert _chunks(out) == [chunk_path(s) for s in in_use]
    assert sorted(p.relative_to(out).as_posix() for p in (out / "data").glob("runs-*.json")) == [
        part_path(s) for s in in_use]
    for directory in ("listings", "summaries"):
        names = sorted(p.name for p in (out / "_build" / directory).iterdir())
        assert names == sorted(f"{s}.msgpack" for s in in_use)
    assert not slug_page.exists() and len(read_runs(out)) == RUNS - 5
