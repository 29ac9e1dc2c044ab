"""The pages about all runs made from the shards' summaries (a change reads its own shard and the
summaries of the others) are the pages a full build makes from every run: sessions, trends,
coverage, sweeps, serving curves, the quality page, the index and the content blocks alike."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from conftest import age, make_config, run_build, site_files, write_sidecar_run

from sitegen import __version__, cache, listings, shard_summaries, shards
from sitegen.render import index
from sitegen.render.compare import sweep_path
from sitegen.shard_summaries import summary_path

REPO = Path(__file__).resolve().parent.parent
REPORT = """\
---
title: Sweep report
---
```sitegen-table
filter: {status: completed}
sort: -train/loss
limit: 1
```

```sitegen-table
filter: {optimizer.lr: "0.001"}
columns: [name, status, optimizer.lr]
limit: 2
```

```sitegen-table
filter: {session: latest, seed: "29"}
```

```sitegen-trend
benchmark: fuzzy_dedup
metric: time_taken_s
```

```sitegen-regressions
```

```sitegen-compare
tag: sweep:7
```
"""


@pytest.fixture(autouse=True)
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards of a few runs, so that the examples make many, and an index that shows the newest
    run only (else a shard's newest rows would be all its runs)."""
    monkeypatch.setattr(shards, "RUNS_PER_SHARD", 8)
    monkeypatch.setattr(index, "INLINE_ROWS", 1)
    monkeypatch.setattr(shard_summaries, "INLINE_ROWS", 1)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The bundled examples (nightly sessions, serving jobs, sweeps, broken runs), plain runs with
    losses spread out, and a written page whose blocks select a few of them."""
    runs = tmp_path / "runs"
    subprocess.run([sys.executable, str(REPO / "examples" / "generate_examples.py"), "--out", str(runs)],
                   check=True)
    for i in range(30):
        write_sidecar_run(runs / "plain", f"run-{i:02d}", tags=["sweep:7"] if i % 4 == 0 else [],
                          hparams={"optimizer.lr": 0.01 if i % 3 else 0.001, "seed": i})
        _set(runs / "plain" / f"run-{i:02d}", summary={"train/loss": (i * 7 % 30) / 10},
             created_at=1_700_000_100 + i)  # newer than the broken run below
    broken = write_sidecar_run(runs / "plain", "broken")
    (broken / "sidecar.json").write_text('{"run_id": "broken", "status": ')  # the quality page lists it
    (tmp_path / "content").mkdir()
    shutil.copy(REPO / "content" / "acknowledged.yaml", tmp_path / "content")
    (tmp_path / "content" / "report.md").write_text(REPORT)
    age(runs)
    return tmp_path


def _set(run_dir: Path, **fields: object) -> None:
    sidecar = json.loads((run_dir / "sidecar.json").read_text())
    (run_dir / "sidecar.json").write_text(json.dumps({**sidecar, **fields}))
    age(run_dir)


def _config(home: Path, out: Path):
    return make_config(home / "runs", out, f"content: {home / 'content'}\n")


def _every_run_whole(patch: pytest.MonkeyPatch) -> None:
    """Every listing in every summary, and the analyses given whole runs instead of their heads:
    as if there were no summaries."""
    patch.setattr(shard_summaries, "notable", lambda run: True)
    patch.setattr(shard_summaries, "_head", lambda *place: shard_summaries._listing(*place).run)


def _build_and_compare(home: Path, out: Path) -> None:
    """Build `out`, and a copy of it as it was (the same cache: the same shards) with every
    run whole in every summary, as if there were no summaries; the two sites are the same."""
    oracle = home / "oracle"
    shutil.rmtree(oracle, ignore_errors=True)
    shutil.copytree(out, oracle)
    shutil.rmtree(oracle / "_build" / "summaries")
    run_build(_config(home, out))
    with pytest.MonkeyPatch.context() as patch:
        _every_run_whole(patch)
        run_build(_config(home, oracle))
    built, expected = site_files(out), site_files(oracle)
    assert built.keys() == expected.keys()
    assert [path for path in built if built[path] != expected[path]] == []


def _same_as_a_full_build(home: Path, out: Path) -> None:
    """The site at `out` is the one a full build makes with every run whole in every summary:
    every analysis over every run, as if there were no summaries."""
    fresh = home / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        _every_run_whole(patch)
        run_build(_config(home, fresh), full=True)
    built, expected = site_files(out), site_files(fresh)
    assert built.keys() == expected.keys()
    assert [path for path in built if built[path] != expected[path]] == []


def test_each_change_gives_the_site_a_full_build_gives(home: Path):
    out = home / "site"
    config = _config(home, out)
    run_build(config)
    assert len(_shards(out)) >= 8
    _same_as_a_full_build(home, out)
    plain = home / "runs" / "plain"
    _set(plain / "run-05", summary={"train/loss": 9.5})  # now first in the table sorted by loss
    _build_and_compare(home, out)
    _set(plain / "run-02", created_at=1_800_000_000, status="failed")  # the newest row, and a new status
    _build_and_compare(home, out)
    shutil.rmtree(plain / "run-04")  # one of the sweep compared on the written page
    nightly = sorted((home / "runs" / "nightly").iterdir())[-1]
    shutil.rmtree(nightly)  # the newest session: trends, coverage and the sessions' table change
    age(home / "runs")
    _build_and_compare(home, out)
    write_sidecar_run(plain, "run-new", hparams={"optimizer.lr": 0.01})  # placed in the newest shard
    _set(plain / "run-new", summary={"train/loss": 99.0}, created_at=1_900_000_000)
    age(home / "runs")
    _build_and_compare(home, out)
    shutil.rmtree(home / "runs" / "nightly")  # no session left: the newest session's table shows plain runs
    age(home / "runs")
    _build_and_compare(home, out)


def test_one_changed_run_reads_its_own_shard_only(home: Path, monkeypatch: pytest.MonkeyPatch):
    out = home / "site"
    config = _config(home, out)
    run_build(config)
    read = []
    real = listings.read_shard
    monkeypatch.setattr(listings, "read_shard", lambda out, shard: read.append(shard) or real(out, shard))
    before = _identities(out / "_build" / "summaries")
    _set(home / "runs" / "plain" / "run-05", summary={"train/loss": 9.5})
    run_build(config)
    key = cache.run_key(str(home / "runs"), "plain/run-05")
    assert read == [cache.load_manifest(str(out), __version__)[0].runs[key].shard]
    after = _identities(out / "_build" / "summaries")
    assert [name for name in after if after[name] != before.get(name)] == [Path(summary_path(read[0])).name]
    _same_as_a_full_build(home, out)


def _shards(out: Path) -> set[int]:
    return {record.shard for record in cache.load_manifest(str(out), __version__)[0].runs.values()}


def _identities(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.iterdir()}


@pytest.mark.parametrize("damage", [b"", b"\x93garbage", "listing"])
def test_a_damaged_summary_is_made_again(home: Path, damage: bytes | str):
    out = home / "site"
    config = _config(home, out)
    run_build(config)
    target = out / summary_path(0)
    if damage == "listing":  # a row sitegen would never write: markup in the serialized data
        target.write_bytes(target.read_bytes().replace(b'"completed"', b'"<complete"'))
    else:
        target.write_bytes(damage)
    _set(home / "runs" / "plain" / "run-05", summary={"train/loss": 9.5})
    run_build(config)
    _same_as_a_full_build(home, out)


def test_a_run_whose_head_reads_but_whole_does_not_is_taken_from_its_shard(home: Path):
    """A summary's listing damaged where heads do not look (the cache is input): the sweep page
    that needs the run whole reads it from its shard's listings instead."""
    out = home / "site"
    config = _config(home, out)
    plain = home / "runs" / "plain"
    for name in ("run-01", "run-29"):  # a sweep of their own, which no block on the written page shows
        _set(plain / name, tags=["sweep:9"])
    run_build(config)
    records = cache.load_manifest(str(out), __version__)[0].runs
    damaged, changed = (records[cache.run_key(str(home / "runs"), f"plain/run-{i}")] for i in ("01", "29"))
    assert damaged.shard != changed.shard
    target = out / summary_path(damaged.shard)
    summary = msgspec.msgpack.decode(target.read_bytes())
    runs = [run for run, _index_row, _runs_json_entry in summary[4] if run["run_id"] == damaged.run_id]
    runs[0]["env"] = 5  # a head skips it; the whole run's decoder refuses it
    target.write_bytes(msgspec.msgpack.encode(summary))
    _set(plain / "run-29", summary={"train/loss": 0.5})  # the sweep's page again
    run_build(config)
    _same_as_a_full_build(home, out)
    (out / listings.shard_path(damaged.shard)).unlink()  # and its listings and own cache lost too:
    (out / cache.cached_run_path(damaged.slug)).unlink()  # the run is shown as its head tells it
    _set(plain / "run-29", summary={"train/loss": 0.25})
    run_build(config)
    assert damaged.slug in (out / sweep_path("9")).read_text()


def test_a_summary_that_hides_its_newest_rows_draws_the_index_from_whole_runs_still(home: Path):
    """The cache is input: a summary that no longer names its shard's newest rows (one of them a
    notable run, known to the plan as a head only) gives an index without them, not a crash."""
    out = home / "site"
    config = _config(home, out)
    plain = home / "runs" / "plain"
    _set(plain / "run-29", tags=["sweep:9"], created_at=1_800_000_000)  # the newest run, and notable
    _set(plain / "run-01", tags=["sweep:9"])
    run_build(config)
    records = cache.load_manifest(str(out), __version__)[0].runs
    target = out / summary_path(records[cache.run_key(str(home / "runs"), "plain/run-29")].shard)
    summary = msgspec.msgpack.decode(target.read_bytes())
    summary[7] = []  # `Summary.newest`
    target.write_bytes(msgspec.msgpack.encode(summary))
    _set(plain / "run-05", summary={"train/loss": 9.5})  # in another shard: the hiding summary is read
    run_build(config)
    assert "run-29" not in (out / "index.html").read_text().split('"rows":')[1]


def test_a_damaged_row_among_the_newest_is_found_once_every_summary_is_merged(home: Path):
    """The index's first rows are decoded after the last summary is merged (their bytes copied
    out of each summary till then): a damaged one there still makes its summary again."""
    out = home / "site"
    config = _config(home, out)
    plain = home / "runs" / "plain"
    _set(plain / "run-29", created_at=1_800_000_000)  # the newest run, not notable
    run_build(config)
    records = cache.load_manifest(str(out), __version__)[0].runs
    target = out / summary_path(records[cache.run_key(str(home / "runs"), "plain/run-29")].shard)
    summary = msgspec.msgpack.decode(target.read_bytes())
    row = next(index for *_order, index in summary[7] if summary[4][index][0]["run_id"] == "plain/run-29")
    assert row not in summary[5]  # not analysed: decoded only as one of the index's rows
    summary[4][row][1] = b'{"name": "<script>"}'
    target.write_bytes(msgspec.msgpack.encode(summary))
    _set(plain / "run-05", summary={"train/loss": 9.5})  # in another shard: the damaged summary is read
    run_build(config)
    _same_as_a_full_build(home, out)


def test_only_a_tables_first_rows_among_every_shard_are_decoded(home: Path, monkeypatch: pytest.MonkeyPatch):
    """Each shard keeps its own first rows of each table; a build decodes only the first rows
    among all of them (and the notable runs, which every plan reads)."""
    out = home / "site"
    config = _config(home, out)
    run_build(config)
    _set(home / "runs" / "plain" / "run-05", summary={"train/loss": 99.0})  # first by loss
    decoded = []
    real = shard_summaries.decode_listing
    monkeypatch.setattr(shard_summaries, "decode_listing",
                        lambda raw: decoded.append(listing := real(raw)) or listing)
    run_build(config)
    plain = sorted(item.run.run_id for item in decoded
                   if item.run.run_id.startswith("plain/") and not shard_summaries.notable(item.run))
    assert plain == ["plain/run-05", "plain/run-27"]  # the newest of lr 0.001 not in the sweep
    _same_as_a_full_build(home, out)
