"""The build cache's storage (issue 16): the manifest as a snapshot and an append-only log, the
listings in shards, a no-op that writes nothing, and a cache of the previous format rebuilt once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import msgspec
import pytest
from conftest import age, make_config, run_build, write_sidecar_run

from sitegen import __version__, cache, discover, record_log, shards, write
from sitegen.discover import find_runs
from sitegen.listings import read_shard, shard_path
from sitegen.shard_summaries import summary_path

LATER = 1_700_000_100  # after the first build's files, outside the racy window
ID, OTHER = b"A" * record_log.ID_BYTES, b"B" * record_log.ID_BYTES


# --- the log's framing -------------------------------------------------------------


def test_the_log_gives_back_what_was_appended_after_its_snapshot(tmp_path):
    log = str(tmp_path / "log")
    end = record_log.append(log, OTHER, b"before the snapshot", 0)
    end = record_log.append(log, ID, b"one", end)
    end = record_log.append(log, ID, b"two", end)
    assert record_log.read(log, ID) == ([b"one", b"two"], end)
    assert record_log.read(str(tmp_path / "missing"), ID) == ([], 0)


@pytest.mark.parametrize("damage", ["cut", "flipped", "garbage"])
def test_a_torn_or_damaged_tail_is_ignored_and_overwritten_by_the_next_append(tmp_path, damage):
    log = tmp_path / "log"
    end = record_log.append(str(log), ID, b"kept", 0)
    whole = record_log.append(str(log), ID, b"the last frame", end)
    data = log.read_bytes()
    damaged = {"cut": data[:-3], "flipped": data[:-1] + bytes([data[-1] ^ 1]), "garbage": data + b"\x07" * 5}
    log.write_bytes(damaged[damage])
    replay = record_log.read(str(log), ID)
    assert replay.payloads == ([b"kept", b"the last frame"] if damage == "garbage" else [b"kept"])
    assert replay.end == (whole if damage == "garbage" else end)
    record_log.append(str(log), ID, b"next", replay.end)
    assert record_log.read(str(log), ID).payloads == [*replay.payloads, b"next"]


# --- the manifest on disk ------------------------------------------------------------


@pytest.fixture
def many_shards(monkeypatch):
    """A few runs spread over several listing shards (the real threshold is hundreds of runs)."""
    monkeypatch.setattr(shards, "RUNS_PER_SHARD", 1)


@pytest.fixture
def small_snapshot_folds_late(monkeypatch):
    """A test site's snapshot is a few KB, a change's frame about one: fold only when the log
    outgrows the snapshot, so that a few changes stay in the log."""
    monkeypatch.setattr(cache, "FOLD_AT", 1)


def stats(out: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under `out`: (inode, size, mtime)."""
    found = {}
    for path in out.rglob("*"):
        if path.is_file():
            st = path.stat()
            found[path.relative_to(out).as_posix()] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return found


def change_run(root: Path, run_id: str, when: float = LATER) -> None:
    run_dir = root / run_id
    with (run_dir / "metrics.csv").open("a") as handle:
        handle.write("20,2,0.01\n")
    age(run_dir, when=when)


def test_a_no_op_build_writes_nothing(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    before = stats(out)
    report = run_build(config).report
    assert (report.runs_read, report.pages_written) == (0, 0)
    assert stats(out) == before  # not the manifest, not report.json, no lock left


def test_the_report_asked_for_is_written_even_by_a_no_op(runs_root, tmp_path):
    from sitegen.pipeline import build

    out, asked = tmp_path / "site", tmp_path / "report.json"
    config = make_config(runs_root, out)
    run_build(config)
    build(config, report_file=str(asked))
    assert '"runs_read": 0' in asked.read_text()


def test_one_changed_run_appends_to_the_log_and_rewrites_its_listing_shard_only(
    runs_root, tmp_path, many_shards, small_snapshot_folds_late
):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    manifest, _ = cache.load_manifest(str(out), __version__)
    assert len({record.shard for record in manifest.runs.values()}) > 1
    before = stats(out)
    change_run(runs_root, "20231115/080000/cccccccccccc")
    assert run_build(config).read == ["20231115/080000/cccccccccccc"]
    after = stats(out)
    changed = {path for path in after if after[path] != before.get(path)}
    key = cache.run_key(str(runs_root), "20231115/080000/cccccccccccc")
    shard = manifest.runs[key].shard
    cache_files = {path for path in changed if path.startswith("_build/")}
    assert cache_files == {"_build/manifest-log", shard_path(shard), summary_path(shard),
                           "_build/report.json", f"_build/runs/{manifest.runs[key].slug}.msgpack"}
    assert "_build/manifest-snapshot.msgpack" not in changed


def test_the_manifest_replayed_from_the_log_is_the_one_a_full_build_saves(
    runs_root, tmp_path, small_snapshot_folds_late
):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    change_run(runs_root, "20231114/221320/aaaaaaaaaaaa")
    write_sidecar_run(runs_root, "20231116/000000/dddddddddddd")
    os.utime(runs_root)
    run_build(config)
    assert (out / "_build" / "manifest-log").stat().st_size > 0
    replayed, reason = cache.load_manifest(str(out), __version__)
    run_build(config, full=True)
    assert not (out / "_build" / "manifest-log").exists()
    saved, _ = cache.load_manifest(str(out), __version__)
    assert reason is None and len(replayed.runs) == 4
    assert replayed == saved


def test_the_log_is_folded_into_a_new_snapshot_once_it_grows(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    snapshot = out / "_build" / "manifest-snapshot.msgpack"
    first = snapshot.stat().st_ino
    for step in range(1, 20):
        change_run(runs_root, "20231115/080000/cccccccccccc", when=LATER + step)
        run_build(config)
        if snapshot.stat().st_ino != first:
            break
    assert snapshot.stat().st_ino != first, "the log never folded"
    assert not (out / "_build" / "manifest-log").exists()
    assert run_build(config).report.runs_read == 0


def test_a_torn_log_tail_costs_nothing(runs_root, tmp_path, small_snapshot_folds_late):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    change_run(runs_root, "20231115/080000/cccccccccccc")
    run_build(config)
    log = out / "_build" / "manifest-log"
    with log.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00half a fra")  # a build killed while appending
    report = run_build(config).report
    assert (report.runs_read, report.notes) == (0, [])
    change_run(runs_root, "20231114/221320/aaaaaaaaaaaa")
    assert run_build(config).read == ["20231114/221320/aaaaaaaaaaaa"]
    assert b"half a fra" not in log.read_bytes()
    assert run_build(config).report.runs_read == 0


def test_a_corrupt_snapshot_means_a_full_build_with_a_note(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    (out / "_build" / "manifest-snapshot.msgpack").write_bytes(b"\x85not a snapshot")
    report = run_build(config).report
    assert report.runs_read == 3
    assert report.notes == ["the build cache was unreadable; rebuilding everything"]


def test_a_snapshot_of_many_parts_reads_back_whole_and_one_cut_inside_a_part_is_unreadable(
    runs_root, tmp_path, monkeypatch
):
    monkeypatch.setattr(cache, "_RECORDS_PER_PART", 2)
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    saved, reason = cache.load_manifest(str(out), __version__)
    snapshot = out / "_build" / "manifest-snapshot.msgpack"
    data = snapshot.read_bytes()
    assert reason is None and len(saved.runs) == 3 and len(saved.dirs) > 4
    snapshot.write_bytes(data[:-3])
    unreadable = "the build cache was unreadable; rebuilding everything"
    assert cache.load_manifest(str(out), __version__)[1] == unreadable
    snapshot.write_bytes(data)
    assert cache.load_manifest(str(out), __version__) == (saved, None)


def test_a_snapshot_written_whole_by_the_previous_format_is_rebuilt_with_a_note(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    whole = {"format": 10, "version": __version__, "id": b"12345678", "manifest": {"runs": {}}}
    (out / "_build" / "manifest-snapshot.msgpack").write_bytes(msgspec.msgpack.encode(whole))
    report = run_build(config).report
    assert report.runs_read == 3
    assert report.notes == [
        f"the build cache is from another sitegen than {__version__}; rebuilding everything"]
    assert run_build(config).report.notes == []


def test_a_cache_of_the_previous_format_is_rebuilt_once_and_removed(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    build_dir = out / "_build"
    for name in ("manifest-snapshot.msgpack", "manifest-log"):
        (build_dir / name).unlink(missing_ok=True)
    (build_dir / "manifest.msgpack").write_bytes(b"\x86\xa6format\x08")  # what format 8 wrote, cut short
    (build_dir / "listings.msgpack").write_bytes(b"\x90")
    report = run_build(config).report
    assert report.runs_read == 3
    assert report.notes == [
        f"the build cache is from another sitegen than {__version__}; rebuilding everything"]
    assert not (build_dir / "manifest.msgpack").exists() and not (build_dir / "listings.msgpack").exists()
    assert run_build(config).report.notes == []


# --- the listings in shards ---------------------------------------------------------


def test_a_removed_run_leaves_its_shard_and_a_lost_shard_is_made_again(runs_root, tmp_path, many_shards):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    placed = {key: r.shard for key, r in cache.load_manifest(str(out), __version__)[0].runs.items()}
    gone = cache.run_key(str(runs_root), "20231114/221320/bbbbbbbbbbbb")
    shard = placed[gone]
    assert gone in read_shard(str(out), shard)
    shutil.rmtree(runs_root / "20231114/221320/bbbbbbbbbbbb")
    os.utime(runs_root / "20231114/221320")
    run_build(config)
    assert gone not in read_shard(str(out), shard)
    lost = placed[cache.run_key(str(runs_root), "20231115/080000/cccccccccccc")]
    (out / shard_path(lost)).unlink()
    (out / summary_path(lost)).unlink()  # a change now reads the shards without a summary
    write_sidecar_run(runs_root, "20231116/000000/dddddddddddd")
    os.utime(runs_root)
    run_build(config)
    assert cache.run_key(str(runs_root), "20231115/080000/cccccccccccc") in read_shard(str(out), lost)
    assert b"cccccccccccc" in (out / "index.html").read_bytes()


def test_a_cache_from_before_runs_kept_their_shard_is_read_where_it_hashed_them(runs_root, tmp_path):
    """Its listings are where their keys hashed to among `listing_shards`: they are read there
    (not made again from the runs' caches), and the runs keep those shards."""
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    manifest, _ = cache.load_manifest(str(out), __version__)
    listed = {key: item for index in {r.shard for r in manifest.runs.values()}
              for key, item in read_shard(str(out), index).items()}
    shutil.rmtree(out / "_build" / "listings")
    shutil.rmtree(out / "_build" / "summaries")
    for key in manifest.runs:  # the old layout: listings by hash, records without a shard
        path = out / shard_path(shards.hashed_shard(key, 4))
        old = msgspec.msgpack.decode(path.read_bytes(), type=list[cache.Listing]) if path.exists() else []
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(msgspec.msgpack.encode([*old, listed[key]]))
        (out / cache.cached_run_path(manifest.runs[key].slug)).unlink()  # so listings come from the shards
    runs = {key: msgspec.structs.replace(r, shard=shards.NEW) for key, r in manifest.runs.items()}
    cache.save_manifest(str(out), msgspec.structs.replace(manifest, runs=runs, listing_shards=4), __version__)
    write_sidecar_run(runs_root, "20231116/000000/dddddddddddd")
    os.utime(runs_root)
    assert run_build(config).read == ["20231116/000000/dddddddddddd"]
    after, _ = cache.load_manifest(str(out), __version__)
    assert {key: r.shard for key, r in after.runs.items() if key in runs} == {
        key: shards.hashed_shard(key, 4) for key in runs}
    index = (out / "index.html").read_bytes()
    assert all(manifest.runs[key].run_id.encode() in index for key in runs)


@pytest.mark.parametrize("one_call_above", [write.SYNC_FILE_SYSTEM_ABOVE, 1], ids=["per-file", "syncfs"])
def test_make_durable_flushes_what_exists_and_skips_what_is_gone(tmp_path, monkeypatch, one_call_above):
    monkeypatch.setattr(write, "SYNC_FILE_SYSTEM_ABOVE", one_call_above)
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "index.html").write_text("page")
    write.make_durable(str(tmp_path), ["runs/a/index.html", "runs/gone/index.html", "index.html"])
    write.make_durable(str(tmp_path), [])
    assert (tmp_path / "runs" / "a" / "index.html").read_text() == "page"


def test_a_record_whose_stamps_do_not_match_its_inputs_is_read_again(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    manifest, _ = cache.load_manifest(str(out), __version__)
    key = cache.run_key(str(runs_root), "20231115/080000/cccccccccccc")
    manifest.runs[key] = msgspec.structs.replace(manifest.runs[key], stamps=b"\x01" * 7)
    cache.save_manifest(str(out), manifest, __version__)
    assert run_build(config).read == ["20231115/080000/cccccccccccc"]
    assert run_build(config).report.runs_read == 0


def test_a_runs_pages_are_kept_as_one_string_and_read_back_whole(runs_root, tmp_path):
    out = tmp_path / "site"
    run_build(make_config(runs_root, out))
    manifest, _ = cache.load_manifest(str(out), __version__)
    record = next(iter(manifest.runs.values()))
    pages = cache.record_pages(record)
    assert f"runs/{record.slug}/index.html" in pages and all((out / path).is_file() for path in pages)
    assert f"runs/{record.slug}/" not in record.pages and cache.page_count(record) == len(pages)
    others = {**pages, "assets/shared.js": "1" * 32, "/etc/passwd": "2" * 32}  # any path read back as it was
    again = msgspec.structs.replace(record, pages=cache.pack_pages(record.slug, others))
    assert cache.record_pages(again) == others and cache.page_count(again) == len(others)
    assert cache.record_pages(msgspec.structs.replace(record, pages="index.html")) == {}  # a torn pair


def test_the_listings_remembered_are_those_a_walk_without_them_finds(runs_root, tmp_path, monkeypatch):
    out = tmp_path / "site"
    other = tmp_path / "other"
    write_sidecar_run(other, "20240101/000000/eeeeeeeeeeee")
    age(other)
    config = make_config(runs_root, out)
    run_build(msgspec.structs.replace(config, roots=[str(runs_root), str(other)]))

    def remembered():
        return cache.load_manifest(str(out), __version__)[0].dirs

    def walked():
        return find_runs([str(runs_root)], {}, skip=[str(out)]).dirs

    run_build(config)  # a root no longer walked: its listings go
    assert remembered() == walked()
    loaded = remembered()
    assert not run_build(config).report.pages_written
    assert remembered() == loaded
    shutil.rmtree(runs_root / "20231115")  # a directory gone, and all below it
    (runs_root / "20231114" / "221320" / "bbbbbbbbbbbb" / "sub").mkdir()  # below a run: not walked
    os.rename(runs_root / "20231114" / "221320" / "aaaaaaaaaaaa", runs_root / "20231114" / "moved")
    with monkeypatch.context() as patch:  # what a relisted directory lost is dropped as the walk goes
        patch.setattr(discover, "_reachable", lambda *args: pytest.fail("a second pass over the listings"))
        run_build(config)
    assert remembered() == walked()
    assert str(runs_root / "20231115") not in remembered()
    assert str(runs_root / "20231114" / "moved") in remembered()
    write_sidecar_run(runs_root, "20231114/221320")  # a run now: the directories below it are not walked
    with monkeypatch.context() as patch:
        patch.setattr(discover, "_reachable", lambda *args: pytest.fail("a second pass over the listings"))
        run_build(config)
    assert remembered() == walked()
    assert str(runs_root / "20231114" / "221320" / "bbbbbbbbbbbb") not in remembered()
