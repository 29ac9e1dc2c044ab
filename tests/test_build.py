"""The incremental build rules of DESIGN §4, as a user sees them on disk and in the report."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import tracemalloc
from pathlib import Path

import msgspec
import pytest
from conftest import age, make_config, run_build, site_files, write_sidecar_run
from data_js import data_js_payload, decode_column
from runs_json import read_runs

from sitegen import __version__, cache, journal
from sitegen.analysis.downsample import PLOT_POINTS, downsample
from sitegen.errors import OutputLocked, RootNotFound, StrictFailure
from sitegen.readers import LAYOUT_NAMES, LOOKED_FOR
from sitegen.render.compare import sweep_path
from sitegen.render.index import chunk_path, part_path
from sitegen.slug import run_slug
from sitegen.write import content_hash, copy_if_changed


def test_first_build_writes_the_site(runs_root, tmp_path):
    out = tmp_path / "site"
    rep = run_build(make_config(runs_root, out))
    report = rep.report
    assert (report.runs_total, report.runs_read, report.runs_failed) == (3, 3, 0)
    assert (out / "index.html").is_file() and (out / "assets" / "plotly.min.js").is_file()
    runs = read_runs(out)
    assert [r["run_id"] for r in runs] == [
        "20231114/221320/aaaaaaaaaaaa", "20231114/221320/bbbbbbbbbbbb", "20231115/080000/cccccccccccc"]
    for run in runs:
        page = out / run["url"]
        assert page.is_file()
        assert (page.parent / "metrics.csv").is_file()
    saved = json.loads((out / "_build" / "report.json").read_text())
    assert saved["runs_total"] == 3 and saved["pages_written"] == report.pages_written


def test_second_build_reads_and_writes_nothing(runs_root, tmp_path):
    config = make_config(runs_root, tmp_path / "site")
    first = run_build(config).report
    second = run_build(config).report
    assert second.runs_read == 0 and second.runs_cached == 3
    assert second.pages_written == 0 and second.pages_removed == 0
    assert second.pages_unchanged == first.pages_written


def test_appending_a_row_rereads_only_that_run(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    metrics = runs_root / "20231115/080000/cccccccccccc/metrics.csv"
    with metrics.open("a") as handle:
        handle.write("20,2,0.01\n")
    age(metrics.parent, when=cache_old_enough())
    rep = run_build(config)
    assert rep.read == ["20231115/080000/cccccccccccc"]
    slug = json_slug(out, "20231115/080000/cccccccccccc")
    allowed = {f"runs/{slug}/{name}" for name in ("index.html", "metrics.csv", "data.js")}
    allowed |= {"index.html", chunk_path(0), part_path(0)}  # three runs: one shard
    assert f"runs/{slug}/metrics.csv" in rep.written
    assert set(rep.written) <= allowed
    assert b"0.01" in (out / "runs" / slug / "metrics.csv").read_bytes()



def test_a_file_added_to_a_run_directory_rereads_that_run(runs_root, tmp_path):
    """Only the run directory's own stamp changes (discovery stats it once for the walk and the
    run's inputs alike)."""
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    run_dir = runs_root / "20231115/080000/cccccccccccc"
    (run_dir / "train.err").write_text("a warning from rank 0\n")
    for path in (run_dir / "train.err", run_dir):  # the run's other files keep their stamps
        os.utime(path, (cache_old_enough(), cache_old_enough()))
    assert run_build(config).read == ["20231115/080000/cccccccccccc"]
    assert b"a warning from rank 0" in (out / "runs" / json_slug(out, "20231115/080000/cccccccccccc")
                                        / "logs" / "train.err.html").read_bytes()

def test_a_sweep_runs_new_rows_re_render_its_data_and_a_new_summary_its_comparison(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    run_dir = runs_root / "20231114/221320/aaaaaaaaaaaa"
    with (run_dir / "metrics.csv").open("a") as handle:
        handle.write("20,2,0.01\n")
    age(run_dir, when=cache_old_enough())
    written = run_build(config).written
    slug = json_slug(out, "20231114/221320/aaaaaaaaaaaa")
    assert f"runs/{slug}/data.js" in written and sweep_path("7") not in written  # series: in data.js
    sidecar = json.loads((run_dir / "sidecar.json").read_text())
    sidecar["summary"]["train/loss"] = 0.05
    (run_dir / "sidecar.json").write_text(json.dumps(sidecar))
    age(run_dir, when=cache_old_enough())
    written = run_build(config).written
    assert sweep_path("7") in written and "coverage.html" not in written


def test_deleting_a_run_removes_its_pages_only(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    slug = json_slug(out, "20231114/221320/bbbbbbbbbbbb")
    shutil.rmtree(runs_root / "20231114/221320/bbbbbbbbbbbb")
    rep = run_build(config)
    assert not (out / "runs" / slug).exists()
    assert f"runs/{slug}/index.html" in rep.removed
    # and the comparison of its sweep, which has one run left
    assert [p for p in rep.removed if slug not in p] == [sweep_path("7")]
    assert len(read_runs(out)) == 2


def test_a_run_deleted_as_another_is_added_is_removed(runs_root, tmp_path, monkeypatch):
    """As many runs as before, one of them new: the one gone is still found and removed, and
    the manifest's log records it."""
    monkeypatch.setattr(cache, "FOLD_AT", 1)  # this small site's change goes to the log
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    slug = json_slug(out, "20231114/221320/bbbbbbbbbbbb")
    shutil.rmtree(runs_root / "20231114/221320/bbbbbbbbbbbb")
    write_sidecar_run(runs_root, "20231114/221320/dddddddddddd")
    os.utime(runs_root / "20231114/221320")
    rep = run_build(config)
    assert rep.read == ["20231114/221320/dddddddddddd"]
    assert f"runs/{slug}/index.html" in rep.removed and not (out / "runs" / slug).exists()
    assert sorted(run["run_id"] for run in read_runs(out)) == [
        "20231114/221320/aaaaaaaaaaaa", "20231114/221320/dddddddddddd", "20231115/080000/cccccccccccc"]
    kept = cache.load_manifest(str(out), __version__)[0].runs  # the change the manifest's log holds
    assert sorted(record.run_id for record in kept.values()) == [
        "20231114/221320/aaaaaaaaaaaa", "20231114/221320/dddddddddddd", "20231115/080000/cccccccccccc"]


def test_template_change_rerenders_without_rereading(runs_root, tmp_path):
    theme = tmp_path / "theme"
    shutil.copytree(Path(__file__).resolve().parent.parent / "themes" / "default", theme)
    out = tmp_path / "site"
    config = make_config(runs_root, out, theme=str(theme))
    run_build(config)
    run_template = theme / "templates" / "run.html"
    text = run_template.read_text().replace("<h2>Parameters</h2>", "<h2>Hyperparameters</h2>")
    run_template.write_text(text)
    from sitegen.render.env import environment
    environment.cache_clear()
    rep = run_build(config)
    assert rep.read == []
    assert rep.report.pages_written >= 3
    page = out / "runs" / json_slug(out, "20231115/080000/cccccccccccc") / "index.html"
    assert "Hyperparameters" in page.read_text()


def test_config_change_rerenders_without_rereading(runs_root, tmp_path):
    out = tmp_path / "site"
    run_build(make_config(runs_root, out))
    rep = run_build(make_config(runs_root, out, yaml_text="title: Nightly numbers\n"))
    assert rep.read == [] and "index.html" in rep.written
    assert "Nightly numbers" in (out / "index.html").read_text()


def test_a_long_metrics_csv_is_published_whole_and_plotted_from_its_envelope(runs_root, tmp_path):
    run_dir = runs_root / "20231115/080000/cccccccccccc"
    loss = [1 + (i % 97) / 100 + (i == 12_345) for i in range(20_000)]
    lines = ["step,epoch,train/loss"] + [f"{i},{i // 1000},{y!r}" for i, y in enumerate(loss)]
    (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    age(run_dir)
    out = tmp_path / "site"
    run_build(make_config(runs_root, out))
    slug = json_slug(out, "20231115/080000/cccccccccccc")
    published = out / "runs" / slug / "metrics.csv"
    assert published.read_bytes() == (run_dir / "metrics.csv").read_bytes()
    data_js = (out / "runs" / slug / "data.js").read_bytes()
    plotted = data_js_payload(data_js)["series"]["train/loss"]
    x, _y = downsample([float(i) for i in range(20_000)], loss, PLOT_POINTS)
    assert decode_column(plotted["x"]) == x and 12_345 in decode_column(plotted["x"])  # the spike's step
    rep = run_build(make_config(runs_root, out, yaml_text="title: Nightly numbers\n"))
    assert rep.read == [] and f"runs/{slug}/index.html" in rep.written
    assert f"runs/{slug}/metrics.csv" not in rep.written  # unchanged: not copied again
    published.unlink()
    rep = run_build(make_config(runs_root, out, yaml_text="title: Weekly numbers\n"))
    assert f"runs/{slug}/metrics.csv" in rep.written  # deleted by hand: back
    assert published.read_bytes() == (run_dir / "metrics.csv").read_bytes()


def test_an_empty_log_is_named_on_the_run_page_and_has_no_page_of_its_own(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "site"
    run_dir = write_sidecar_run(runs, "quiet", log="")
    config = make_config(runs, out)
    run_build(config)
    (run_page,) = out.glob("runs/*/index.html")
    log_page = run_page.parent / "logs" / "train.out.html"
    assert "train.out <span class=\"sub\">(empty)</span>" in run_page.read_text()
    assert not log_page.exists()
    (run_dir / "train.out").write_text("epoch 1 loss 0.5\n")
    age(run_dir)
    run_build(config)
    assert '<a href="logs/train.out.html">train.out</a>' in run_page.read_text() and log_page.exists()
    (run_dir / "train.out").write_text("")
    age(run_dir)
    run_build(config)
    assert not log_page.exists() and "(empty)" in run_page.read_text()


def test_a_published_file_is_copied_a_block_at_a_time(tmp_path):
    source = tmp_path / "metrics.csv"
    source.write_bytes(b"0123456789abcdef" * (1 << 20))  # 16 MiB
    target = tmp_path / "site" / "runs" / "r" / "metrics.csv"
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        with source.open("rb") as handle:
            digest, written = copy_if_changed(handle, str(target), None, within=str(tmp_path / "site"))
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert written and peak < 4 << 20  # blocks of 1 MiB, never the whole file
    assert target.read_bytes() == source.read_bytes() and digest == content_hash(source.read_bytes())
    with source.open("rb") as handle:
        assert copy_if_changed(handle, str(target), digest, within=str(tmp_path / "site")) == (digest, False)
    assert [p.name for p in target.parent.iterdir()] == ["metrics.csv"]  # no temporary left


def test_identical_input_gives_identical_site(runs_root, tmp_path):
    run_build(make_config(runs_root, tmp_path / "a"), full=True)
    run_build(make_config(runs_root, tmp_path / "b"), full=True)
    assert site_files(tmp_path / "a") == site_files(tmp_path / "b")


def test_full_ignores_the_cache(runs_root, tmp_path):
    config = make_config(runs_root, tmp_path / "site")
    run_build(config)
    rep = run_build(config, full=True)
    assert rep.report.runs_read == 3 and rep.report.pages_written == 0


def test_corrupt_manifest_means_full_build_not_error(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    (out / "_build" / "manifest-snapshot.msgpack").write_bytes(b"\x93garbage")
    rep = run_build(config)
    assert rep.report.runs_read == 3
    assert any("cache" in note for note in rep.report.notes)


def test_unreadable_sidecar_keeps_last_good_data(runs_root, tmp_path):
    out = tmp_path / "site"
    config = make_config(runs_root, out)
    run_build(config)
    run_dir = runs_root / "20231115/080000/cccccccccccc"
    (run_dir / "sidecar.json").write_text('{"schema_version": 1, "run_id": ')
    age(run_dir, when=cache_old_enough())
    rep = run_build(config)
    assert rep.report.runs_failed == 1
    page = (out / "runs" / json_slug(out, "20231115/080000/cccccccccccc") / "index.html").read_text()
    assert "could not be read" in page and "last good read" in page
    assert "train/loss" in page  # the metrics from the last good read are still shown


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(RootNotFound, match="not a directory"):
        run_build(make_config(tmp_path / "nope", tmp_path / "site"))


def test_strict_fails_when_a_run_failed(runs_root, tmp_path):
    (runs_root / "20231115/080000/cccccccccccc/sidecar.json").write_text("[1, 2")
    with pytest.raises(StrictFailure):
        run_build(make_config(runs_root, tmp_path / "site"), strict=True)
    assert (tmp_path / "site" / "index.html").is_file()  # the site is built all the same


def test_a_live_lock_stops_a_second_build(runs_root, tmp_path):
    out = tmp_path / "site"
    lock = out / "_build" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{socket.gethostname()} {os.getpid()}\n")
    with pytest.raises(OutputLocked, match="another build"):
        run_build(make_config(runs_root, out))
    assert not (out / "index.html").exists()


def test_a_stale_lock_is_taken_over(runs_root, tmp_path):
    out = tmp_path / "site"
    lock = out / "_build" / "lock"
    (lock.parent / "listings").mkdir(parents=True)
    lock.write_text(f"{socket.gethostname()} 999999999\n")
    (out / "runs" / "gone").mkdir(parents=True)
    journal.announce(str(out), ["runs/gone/index.html"])  # as the killed build did before writing
    ours = [out / "runs" / "gone" / ".tmp-4242-index.html.part",
            out / "_build" / ".tmp-4242-manifest-snapshot.msgpack.part",
            out / "_build" / "listings" / ".tmp-4242-0.msgpack.part"]
    users = [out / "runs" / ".tmp-left.part", out / "runs" / "gone" / ".tmp-4242-notes.txt.part",
             out / ".tmp-1-index.html.part"]
    for path in ours + users:
        path.write_text("half a page")
    rep = run_build(make_config(runs_root, out))
    assert rep.report.runs_read == 3 and not lock.exists()
    assert [p for p in ours if p.exists()] == []
    assert [p for p in users if p.exists()] == users  # only sitegen's own temporaries, where it wrote


def test_what_a_dead_ray_worker_wrote_is_cleaned_like_the_builds_own(runs_root, tmp_path):
    """A Ray task writing into a shared output records its files in its worker's own journal
    (`_build/journal.d/<host>.<pid>`): the next build removes them and their temporaries too."""
    out = tmp_path / "site"
    lock = out / "_build" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{socket.gethostname()} 999999999 sometoken\n")
    (out / "runs" / "gone").mkdir(parents=True)
    journal.announce(str(out), ["runs/gone/index.html"], per_worker=True)
    ours = [out / "runs" / "gone" / "index.html", out / "runs" / "gone" / ".tmp-4242-index.html.part"]
    for path in ours:
        path.write_text("half a page")
    not_a_journal = out / "_build" / "journal.d" / "notes.txt"
    not_a_journal.write_text("runs/20231114/index.html\0")
    rep = run_build(make_config(runs_root, out))
    assert rep.report.runs_read == 3
    assert "a previous build was interrupted; finishing its work" in rep.report.notes
    assert [p for p in ours if p.exists()] == []
    assert list(not_a_journal.parent.iterdir()) == [not_a_journal]  # what is not a journal is not read


def test_a_new_run_is_found_in_a_listed_directory(runs_root, tmp_path):
    config = make_config(runs_root, tmp_path / "site")
    run_build(config)
    write_sidecar_run(runs_root, "20231115/080000/dddddddddddd")
    os.utime(runs_root / "20231115/080000", None)
    rep = run_build(config)
    assert rep.read == ["20231115/080000/dddddddddddd"]


def cache_old_enough() -> float:
    """A time after the first build's files but outside the racy window."""
    return 1_700_000_100


def json_slug(out: Path, run_id: str) -> str:
    runs = read_runs(out)
    return next(r["slug"] for r in runs if r["run_id"] == run_id)


def test_manifest_records_every_run(runs_root, tmp_path):
    out = tmp_path / "site"
    run_build(make_config(runs_root, out))
    manifest, reason = cache.load_manifest(str(out), __import__("sitegen").__version__)
    assert reason is None and len(manifest.runs) == 3


def test_a_new_reader_version_rereads_its_runs(runs_root, tmp_path, monkeypatch):
    import sitegen.readers

    config = make_config(runs_root, tmp_path / "site")
    run_build(config)
    monkeypatch.setitem(sitegen.readers._VERSIONS, "sidecar", sitegen.readers.reader_version("sidecar") + 1)
    rep = run_build(config)
    assert rep.report.runs_read == 3
    assert rep.report.pages_written == 0  # the same data renders the same pages
    assert run_build(config).report.runs_read == 0


def test_two_builds_of_the_same_input_write_the_same_bytes(runs_root, tmp_path, monkeypatch):
    """A broken run says since when from its files' times, not from the build's clock."""
    (runs_root / "20231115/080000/cccccccccccc/sidecar.json").write_text("{not json")
    age(runs_root)
    first = tmp_path / "first"
    run_build(make_config(runs_root, first))
    later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: later)
    second = tmp_path / "second"
    run_build(make_config(runs_root, second))
    assert site_files(first) == site_files(second)
    page = (first / "runs" / run_slug(str(runs_root), "20231115/080000/cccccccccccc") / "index.html")
    assert "could not be read since 2023-11-14" in page.read_text()


def test_a_root_without_any_layout_says_what_was_looked_for(runs_root, tmp_path):
    empty = tmp_path / "elsewhere"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "metrics.csv").write_text("step,loss\n0,1.0\n")  # no sidecar.json: not a run
    config = make_config(runs_root, tmp_path / "site")
    config = msgspec.structs.replace(config, roots=[str(runs_root), str(empty)])
    report = run_build(config).report
    assert report.runs_total == 3
    [warning] = [w for w in report.warnings if w.run_id == str(empty)]
    assert "no runs found" in warning.message and 'README, section "Layouts read"' in warning.message
    for looked_for in LOOKED_FOR.values():
        assert looked_for in warning.message
    assert all(w.run_id != str(runs_root) for w in report.warnings)
    assert set(LOOKED_FOR) == LAYOUT_NAMES
