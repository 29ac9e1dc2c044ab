"""The build cache is input too (DESIGN §8): the Pages workflow restores `_build/` from a cache that
others can write. A tampered manifest, journal, listing or cached run never makes a build delete,
read or publish anything outside what sitegen made, nor put markup in a page."""

from __future__ import annotations

import os
import shutil
import zlib
from pathlib import Path

import msgspec
import pytest
from conftest import make_config, run_build, site_files, write_sidecar_run
from runs_json import read_runs

from sitegen import __version__, cache, journal, packed_run
from sitegen.errors import OutputRefused, OutputUnwritable
from sitegen.listings import read_shard, shard_path
from sitegen.slug import run_slug

GONE = "20231114/221320/bbbbbbbbbbbb"


@pytest.fixture
def built(runs_root: Path, tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "site"
    run_build(make_config(runs_root, out))
    return runs_root, out


def victims(tmp_path: Path) -> list[Path]:
    files = [tmp_path / "victim.txt", tmp_path / "elsewhere" / "index.html"]
    for file in files:
        file.parent.mkdir(exist_ok=True)
        file.write_text("a user's file")
    return files


def link_pages_of_gone_run(root: Path, out: Path, target: Path) -> None:
    page_dir = out / "runs" / run_slug(str(root), GONE)
    shutil.rmtree(page_dir)
    page_dir.symlink_to(target)


def tamper_manifest(out: Path, edit) -> None:
    manifest, _ = cache.load_manifest(str(out), __version__)
    cache.save_manifest(str(out), edit(manifest), __version__)


def test_page_paths_in_the_manifest_that_leave_the_site_are_never_deleted(built, tmp_path):
    root, out = built
    files = victims(tmp_path)

    def edit(manifest: cache.Manifest) -> cache.Manifest:
        record = manifest.runs[cache.run_key(str(root), GONE)]
        evil = {"../victim.txt": "x", "/" + str(files[1]).lstrip("/"): "x", "runs/../../victim.txt": "x"}
        manifest.runs[cache.run_key(str(root), GONE)] = msgspec.structs.replace(
            record, slug="../../victim",
            pages=cache.pack_pages("../../victim", {**cache.record_pages(record), **evil}))
        manifest.pages["../victim.txt"] = cache.PageRecord("x", "x")
        return manifest

    tamper_manifest(out, edit)
    shutil.rmtree(root / GONE)
    reporter = run_build(make_config(root, out))
    assert all(file.read_text() == "a user's file" for file in files)
    assert any("outside the site" in note for note in reporter.report.notes)
    assert not (out / "runs" / run_slug(str(root), GONE)).exists()  # its real pages are gone


def test_a_run_directory_linked_out_of_the_site_is_not_followed_when_pruned(built, tmp_path):
    root, out = built
    files = victims(tmp_path)
    link_pages_of_gone_run(root, out, files[1].parent)
    shutil.rmtree(root / GONE)
    run_build(make_config(root, out))
    assert files[1].read_text() == "a user's file"


def test_a_tampered_journal_removes_nothing_outside_the_site(built, tmp_path):
    root, out = built
    files = victims(tmp_path)
    journal.announce(str(out), ["../victim.txt", str(files[1]), "_build/../../victim.txt", "index.html"])
    (out / "user.html").write_text("mine")
    journal.announce(str(out), ["../site/user.html"])
    run_build(make_config(root, out))
    assert all(file.read_text() == "a user's file" for file in files)
    assert (out / "user.html").read_text() == "mine"
    assert (out / "index.html").is_file()  # named by the journal, kept by the manifest
    assert not (out / "_build" / "journal").exists()


def test_cached_listings_holding_markup_are_made_again(built):
    root, out = built
    shard = out / shard_path(0)
    evil = [msgspec.structs.replace(item, index_row=b'["</script><script>alert(1)</script>"]')
            for item in read_shard(str(out), 0).values()]
    assert evil
    shard.write_bytes(msgspec.msgpack.encode(evil))
    write_sidecar_run(root, "20231116/000000/dddddddddddd")  # a change: the index is rendered again
    os.utime(root)
    run_build(make_config(root, out))
    assert b"alert(1)" not in (out / "index.html").read_bytes()


def test_a_cached_run_cannot_publish_a_file_from_outside_the_roots(built, tmp_path):
    root, out = built
    secret = tmp_path / "secret.txt"
    secret.write_text("API_TOKEN=hunter2")
    slug = run_slug(str(root), GONE)
    run = cache.load_run(str(out), slug)
    artifacts = [msgspec.structs.replace(a, source=str(secret)) for a in run.artifacts]
    cache.save_run(str(out), msgspec.structs.replace(run, artifacts=artifacts))
    run_build(make_config(root, out, "title: Another title\n"))  # re-rendered from the cache, not read
    assert not any(b"hunter2" in data for data in site_files(out).values())


def test_a_cached_run_of_another_slug_is_not_rendered_in_its_place(built, tmp_path):
    root, out = built
    slug = run_slug(str(root), GONE)
    run = cache.load_run(str(out), slug)
    escaped = msgspec.structs.replace(run, slug="../../escaped")
    (out / "_build" / "runs" / f"{slug}.msgpack").write_bytes(packed_run.pack(escaped))
    run_build(make_config(root, out, "title: Another title\n"))
    assert not (tmp_path / "escaped").exists() and not (out / "escaped").exists()
    assert b"Another title" in (out / "runs" / slug / "index.html").read_bytes()


def _repacked(run, **changes) -> bytes:
    """The run's packed bytes with parts of the pack replaced (`packed_run`'s own layout)."""
    packed = msgspec.msgpack.decode(packed_run.pack(run))
    for index, value in changes.items():
        packed[int(index.removeprefix("part"))] = value
    return msgspec.msgpack.encode(packed)


CACHED_RUN_DAMAGE = {
    "garbage": lambda run: b"\x93\xff not a run",
    "empty": lambda run: b"",
    "truncated": lambda run: packed_run.pack(run)[:-7],
    "the previous format (msgpack of the whole run)": lambda run: msgspec.msgpack.encode(run),
    "a newer format": lambda run: _repacked(run, part0=packed_run.FORMAT + 1),
    "values that inflate beyond their size": lambda run: _repacked(run, part4=zlib.compress(bytes(1 << 24))),
    "impossible lengths": lambda run: _repacked(run, part2=[1 << 40]),
    "a header of another size": lambda run: _repacked(run, part3=5),
    "a series naming a missing column": lambda run: _repacked(run, part1=[["loss", 99, {}, None]]),
}


@pytest.mark.parametrize("damage", CACHED_RUN_DAMAGE)
def test_a_damaged_or_foreign_cached_run_is_read_again(built, damage):
    root, out = built
    slug = run_slug(str(root), GONE)
    run = cache.load_run(str(out), slug)
    assert run is not None and run.series
    (out / "_build" / "runs" / f"{slug}.msgpack").write_bytes(CACHED_RUN_DAMAGE[damage](run))
    assert cache.load_run(str(out), slug) is None
    report = run_build(make_config(root, out, "title: Another title\n"))  # renders from the cache
    assert GONE in report.read
    assert cache.load_run(str(out), slug) == run
    assert b"Another title" in (out / "runs" / slug / "index.html").read_bytes()


def test_directory_listings_in_the_manifest_cannot_lead_out_of_the_roots(built, tmp_path):
    root, out = built
    outside = write_sidecar_run(tmp_path / "outside", "secret_run")

    def edit(manifest: cache.Manifest) -> cache.Manifest:
        entry = manifest.dirs[str(root)]
        manifest.dirs[str(root)] = msgspec.structs.replace(
            entry, subdirs=(*entry.subdirs, os.path.relpath(outside, root)))
        return manifest

    tamper_manifest(out, edit)
    reporter = run_build(make_config(root, out))
    assert "secret_run" not in str(read_runs(out))
    assert reporter.report.runs_total == 3


def test_pages_are_never_written_through_a_link_in_the_output(built, tmp_path):
    root, out = built
    files = victims(tmp_path)
    link_pages_of_gone_run(root, out, files[1].parent)
    with pytest.raises(OutputUnwritable, match="is a link out of the output directory"):
        run_build(make_config(root, out), full=True)
    assert sorted(p.name for p in files[1].parent.iterdir()) == ["index.html"]
    assert files[1].read_text() == "a user's file"


def test_a_cache_directory_linked_out_of_the_site_is_refused(built, tmp_path):
    root, out = built
    elsewhere = tmp_path / "elsewhere"
    shutil.move(out / "_build", elsewhere)
    (out / "_build").symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir())
    with pytest.raises(OutputRefused, match="_build is a link"):
        run_build(make_config(root, out), full=True)
    assert sorted(p.name for p in elsewhere.iterdir()) == before
