"""The sidecar reader on run trees written from FORMATS.md §4: what a user would see on the run page."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import msgspec
import pytest

from sitegen.analysis.status import live_until, settle_status
from sitegen.model import MetricStats, Run
from sitegen.readers import layout_of, sidecar
from sitegen.readers._tolerant import read_json, read_tail, read_yaml
from sitegen.readers.base import ReadContext, with_summary_from_series
from sitegen.readers.logs import find_first_error
from sitegen.redact import Redactor

CREATED = 1745588003.1
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write_run(run_dir: Path, **overrides: object) -> Path:
    """A run dir as the stable-pretraining registry writes it: sidecar.json plus a small metrics.csv."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "schema_version": 1, "run_id": "a3f1b2c4d5e6", "run_dir": str(run_dir),
        "status": "running", "created_at": CREATED, "ended_at": None, "updated_at": CREATED + 60,
        "tags": ["sweep:4242"], "notes": "", "hparams": {"optim.lr": 0.001},
        "summary": {"train/loss": 0.25}, "checkpoint_path": None,
    }
    data.update(overrides)
    (run_dir / "sidecar.json").write_text(json.dumps(data, indent=2))
    return run_dir


def write_csv(path: Path, header: list[str], rows: list[list[object]], end: str = "\r\n") -> None:
    """Rows as Lightning's csv writer puts them (CRLF line ends, empty cells for sparse metrics)."""
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text(end.join(lines) + end, newline="")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "cache" / "runs"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def run_dir(root: Path) -> Path:
    return write_run(root / "20260425" / "135323" / "a3f1b2c4d5e6")


def read(run_dir: Path, root: Path, *allowed: Path, tail: int = 1024 * 1024) -> Run:
    ctx = ReadContext(root=str(root), allowed=tuple(map(str, allowed)), log_tail_bytes=tail)
    run = sidecar.read(str(run_dir), run_dir.relative_to(root).as_posix(), ctx)
    msgspec.msgpack.encode(run)  # the build caches every Run
    return run


def warned(run: Run, *fragments: str) -> bool:
    return any(all(f in w for f in fragments) for w in run.warnings)


# --- sidecar.json and its companions -------------------------------------------------------------


def test_claims_by_the_sidecar_name_only():
    assert layout_of("run", {"sidecar.json", "metrics.csv"}) == "sidecar"
    assert layout_of("run", {"metrics.csv", ".sidecar.json.1234.tmp"}) is None


def test_a_complete_run(run_dir: Path, root: Path):
    write_run(
        run_dir, status="success", ended_at=CREATED + 3600, tags=["sweep:4242", "baseline"],
        notes="see https://alice:hunter2@wandb.example/run and --hf-token=hf_abcdefghijklmnopqrstuvwx",
        hparams={"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "data.batch.size": 32,
                 "hf_token": "hf_abcdefghijklmnopqrstuvwxyz", "max_tokens": 2048,
                 "tracking_uri": "https://bob:s3cret@mlflow.example/", "wandb": {"api_key": "abc"}},
        summary={"train/loss": 0.25, "val/acc": 0.75},
        checkpoint_path=str(run_dir / "checkpoints" / "last.ckpt"),
    )
    (run_dir / "summary.json").write_text(json.dumps({
        "schema_version": 1, "run_id": "a3f1b2c4d5e6", "step": 3, "epoch": 1,
        "metrics": {"train/loss": {"last": 9.0, "min": 0.1, "max": 9, "count": 3},
                    "lr": {"last": 0.001, "min": 0.001, "max": 0.1, "count": 3}}}))
    (run_dir / "run_meta.json").write_text(json.dumps(
        {"run_dir": str(run_dir), "run_id": "a3f1b2c4d5e6", "slurm_job_id": "777", "slurm_array_task_id": 3}))
    (run_dir / "heartbeat").write_text("")
    os.utime(run_dir / "heartbeat", (CREATED + 100, CREATED + 100))
    write_csv(run_dir / "metrics.csv", ["step", "epoch", "train/loss", "val/acc"],
              [[0, 0, 1.5, None], [1, 0, 1.25, None], [2, 1, 1.0, 0.5]])
    (run_dir / "media.jsonl").write_text(
        '{"step": 2, "tag": "val/samples", "type": "image", "path": "media/val__samples/00000002_0.png",'
        ' "caption": null}\n')

    run = read(run_dir, root)

    assert (run.kind, run.name, run.status) == ("sidecar", "a3f1b2c4d5e6", "completed")
    assert run.run_id == "20260425/135323/a3f1b2c4d5e6"
    assert run.slug.startswith("20260425-135323-a3f1b2c4d5e6-")
    assert (run.created_at, run.ended_at, run.updated_at) == (CREATED, CREATED + 3600, CREATED + 60)
    assert run.heartbeat_at == pytest.approx(CREATED + 100)
    assert run.tags == ("sweep:4242", "baseline") and run.sweep == "4242"
    assert "hunter2" not in run.notes and "hf_abcdefghijklmnopqrstuvwx" not in run.notes
    assert run.params["optim.lr"] == 0.1 and run.params["optim.betas.1"] == 0.99
    assert run.params["data.batch.size"] == 32
    assert run.params["hf_token"] == "***" and run.params["wandb.api_key"] == "***"
    assert run.params["max_tokens"] == 2048
    assert "s3cret" not in str(run.params["tracking_uri"])
    assert run.params["slurm.job_id"] == "777" and run.params["slurm.task_id"] == 3
    assert run.params["checkpoint_path"].endswith("checkpoints/last.ckpt")
    assert list(run.params) == sorted(run.params)
    assert run.summary == {"lr": 0.001, "train/loss": 0.25, "val/acc": 0.75}  # the sidecar wins
    assert run.series["train/loss"].y == [1.5, 1.25, 1.0]
    assert run.series["train/loss"].x == {"step": [0.0, 1.0, 2.0], "epoch": [0.0, 0.0, 1.0]}
    assert run.series["val/acc"].y == [0.5] and run.series["val/acc"].x["step"] == [2.0]
    assert set(run.series) == {"train/loss", "val/acc"}
    assert [(m.tag, m.type, m.step, m.path) for m in run.media] == [
        ("val/samples", "image", 2, "media/val__samples/00000002_0.png")]
    assert [(a.name, a.publish_as, a.source) for a in run.artifacts] == [
        ("metrics.csv", "metrics.csv", str(run_dir / "metrics.csv")), ("summary.json", None, None),
        ("run_meta.json", None, None), ("media.jsonl", None, None)]
    assert run.artifacts[0].size == (run_dir / "metrics.csv").stat().st_size
    assert run.summary_stats == {"lr": MetricStats(0.001, 0.1, 3), "train/loss": MetricStats(0.1, 9.0, 3)}
    assert run.summary_from_series == ()
    assert run.warnings == [] and run.problem is None
    names = {"sidecar.json", "metrics.csv", "summary.json", "run_meta.json", "heartbeat", "media.jsonl"}
    assert set(run.inputs) == {str(run_dir)} | {str(run_dir / n) for n in names}
    assert list(run.inputs) == sorted(run.inputs)


def test_nested_and_dotted_hparams_flatten_alike(root: Path):
    nested = read(write_run(root / "n", hparams={"model": {"layers": [{"width": 64}], "name": "vit"}}), root)
    dotted = read(write_run(root / "d", hparams={"model.layers.0.width": 64, "model.name": "vit"}), root)
    assert nested.params == dotted.params == {"model.layers.0.width": 64, "model.name": "vit"}


def test_hparams_yaml_fills_in_without_overriding(root: Path):
    plain = write_run(root / "plain", hparams={})
    (plain / "hparams.yaml").write_text("optim:\n  lr: 0.5\nseed: 7\nshape: !!python/tuple [3, 224]\n")
    assert read(plain, root).params == {"optim.lr": 0.5, "seed": 7, "shape.0": 3, "shape.1": 224}

    merged = write_run(root / "merged", hparams={"optim.lr": 0.1})
    (merged / "hparams.yaml").write_text("optim:\n  lr: 0.5\nseed: 7\n")
    assert read(merged, root).params == {"optim.lr": 0.1, "seed": 7}


def test_yaml_alias_bomb_is_refused(root: Path):
    run_dir = write_run(root / "bomb", hparams={})
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(9):
        name, previous = chr(98 + i), chr(97 + i)
        bomb.append(f"{name}: &{name} [*{previous},*{previous},*{previous}]")
    (run_dir / "hparams.yaml").write_text("\n".join(bomb) + "\n")
    run = read(run_dir, root)
    assert run.params == {} and warned(run, "hparams.yaml", "aliases are not allowed")


@pytest.mark.parametrize(("status", "shown"), [
    ("success", "completed"), ("Running", "running"), ("failed", "failed"), ("orphaned", "orphaned"),
    ("finished", "requeued"), ("", "unknown"), (None, "unknown"),
])
def test_status(root: Path, status: object, shown: str):
    run = read(write_run(root / "r", status=status), root)
    assert run.status == shown and run.warnings == []


def test_a_status_the_registry_never_writes_is_shown_as_written_with_a_warning(root: Path):
    run = read(write_run(root / "r", status="Preempted"), root)
    assert run.status == "preempted" and warned(run, "'Preempted'", "not one stable-pretraining writes")


def test_a_requeued_run_is_never_called_stalled(root: Path):
    run = read(write_run(root / "r", status="finished", updated_at=CREATED), root)
    assert live_until(run, 180.0) is None
    assert settle_status(run, now=CREATED + 10**6, heartbeat_timeout_s=180.0).status == "requeued"
    running = msgspec.structs.replace(run, status="running")
    assert settle_status(running, now=CREATED + 10**6, heartbeat_timeout_s=180.0).status == "stalled"


def test_summary_json_stats_that_are_not_numbers_are_left_out_with_a_warning(run_dir: Path, root: Path):
    (run_dir / "summary.json").write_text(json.dumps({"metrics": {
        "train/loss": {"last": 0.2, "min": "low", "max": 3.0, "count": 4},
        "grad": {"last": 1.0, "min": None, "max": None, "count": True},
        "lr": {"last": 0.1}}}).replace('"low"', "NaN"))
    run = read(run_dir, root)
    assert run.summary_stats == {"train/loss": MetricStats(None, 3.0, 4)}
    assert run.summary == {"grad": 1.0, "lr": 0.1, "train/loss": 0.25}
    assert warned(run, "summary.json: 2 metrics have a min, max or count that is not a finite number")


def test_checkpoints_are_listed_the_first_ones_only(run_dir: Path, root: Path):
    folder = run_dir / "checkpoints"
    folder.mkdir()
    for step in range(sidecar.MAX_LISTED_CHECKPOINTS + 2):
        (folder / f"step={step:04d}.ckpt").write_bytes(b"x" * 10)
    (folder / "nested").mkdir()
    run = read(run_dir, root)
    listed = [a for a in run.artifacts if a.name.startswith("checkpoints/")]
    assert len(listed) == sidecar.MAX_LISTED_CHECKPOINTS + 1
    assert listed[0].name == "checkpoints/step=0000.ckpt" and listed[0].publish_as is None
    assert (listed[-1].size, listed[-1].note) == (20, "2 more files, not listed")
    assert str(folder) in run.inputs and str(folder / "step=0000.ckpt") in run.inputs


def test_series_without_a_summary_value_give_their_last_value(run_dir: Path, root: Path):
    write_run(run_dir, summary={"val/acc": 0.9})
    write_csv(run_dir / "metrics.csv", ["step", "train/loss", "val/acc"], [[0, 2.0, None], [1, 1.5, 0.5]])
    run = with_summary_from_series(read(run_dir, root))
    assert run.summary == {"train/loss": 1.5, "val/acc": 0.9} and run.summary_from_series == ("train/loss",)
    assert with_summary_from_series(run) == run


def test_odd_field_types_give_warnings(root: Path):
    run = read(write_run(root / "r", status=3, created_at="yesterday", updated_at="1745588063.5",
                         ended_at="2025-04-25T12:00:00+00:00", tags="sweep:1", notes=["x"],
                         hparams=[1, 2], summary={"loss": "low", "acc": 0.5, "nan": math.nan}), root)
    assert run.status == "unknown" and warned(run, "status is not a string")
    assert run.created_at is None and warned(run, "created_at", "yesterday")
    assert run.updated_at == 1745588063.5 and run.ended_at == 1745582400.0
    assert run.tags == () and warned(run, "tags is not a list")
    assert run.notes == "" and warned(run, "notes is not a string")
    assert run.params == {} and warned(run, "hparams is not an object")
    assert run.summary == {"acc": 0.5} and warned(run, "summary", "2 values", "loss")


def test_lone_surrogates_in_json_and_yaml_become_replacement_characters(root: Path):
    """Found by fuzzing: Python's json and yaml decode `\\ud800` (and json its UTF-8 bytes) into a
    string that neither the cache nor a page can encode, and the build failed on the run."""
    run_dir = write_run(root / "r", notes="a\ud800b", tags=["\udfff"], hparams={"k\udc00": "v"}, summary={})
    (run_dir / "summary.json").write_bytes(b'{"metrics": {"loss\xed\xa0\x80": {"last": 1.0}}}')
    (run_dir / "hparams.yaml").write_text('name: "x\\ud800"\n')
    run = read(run_dir, root)  # encodes it as the cache does
    assert (run.notes, run.tags) == ("a\ufffdb", ("\ufffd",))
    assert run.params == {"k\ufffd": "v", "name": "x\ufffd"} and run.summary == {"loss\ufffd": 1.0}


@pytest.mark.parametrize(("content", "expected"), [
    (b'{"status": "running", "created_', "invalid JSON"),
    (b"[1, 2, 3]", "expected a JSON object, found list"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"notes": "\xff\xfe caf\xe9"}', "not valid UTF-8"),
    (b"", "invalid JSON"),
])
def test_broken_sidecar_makes_a_broken_run_with_what_else_could_be_read(root, content, expected):
    run_dir = root / "r"
    run_dir.mkdir()
    (run_dir / "sidecar.json").write_bytes(content)
    write_csv(run_dir / "metrics.csv", ["step", "loss"], [[0, 1.0], [1, 0.5]])
    run = read(run_dir, root)
    assert run.status == "broken" and run.problem is not None
    assert run.problem.message.startswith("sidecar.json: ") and expected in run.problem.message
    assert run.name == "r" and run.series["loss"].y == [1.0, 0.5]


def test_sidecar_that_vanished_dangles_or_loops(root: Path):
    gone = root / "gone"
    gone.mkdir()
    assert read(gone, root).problem.message == "sidecar.json: vanished or a dangling link"
    dangling = root / "dangling"
    dangling.mkdir()
    (dangling / "sidecar.json").symlink_to(dangling / "nowhere.json")
    assert "dangling" in read(dangling, root).problem.message
    loop = root / "loop"
    loop.mkdir()
    (loop / "sidecar.json").symlink_to(loop / "sidecar.json")
    run = read(loop, root)
    assert run.status == "broken" and "unreadable" in run.problem.message
    folder = root / "folder"
    (folder / "sidecar.json").mkdir(parents=True)
    assert read(folder, root).problem.message == "sidecar.json: not a regular file"


def test_temp_files_next_to_the_sidecar_are_ignored(run_dir: Path, root: Path):
    (run_dir / ".sidecar.json.8f2a.tmp").write_text('{"status": "fail')
    run = read(run_dir, root)
    assert run.status == "running" and run.warnings == []
    assert not any(".tmp" in path for path in run.inputs)


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their mode")
def test_unreadable_files_give_warnings(run_dir: Path, root: Path):
    write_csv(run_dir / "metrics.csv", ["step", "loss"], [[0, 1.0]])
    (run_dir / "metrics.csv").chmod(0)
    (run_dir / "sidecar.json").chmod(0)
    try:
        run = read(run_dir, root)
    finally:
        (run_dir / "metrics.csv").chmod(0o644)
        (run_dir / "sidecar.json").chmod(0o644)
    assert run.status == "broken" and "unreadable" in run.problem.message
    assert warned(run, "metrics.csv: unreadable")


def test_a_file_vanishing_between_listing_and_reading(run_dir: Path, root: Path, monkeypatch):
    real_list_dir = sidecar.list_dir
    listed = [*real_list_dir(str(run_dir)), "summary.json", "media.jsonl"]
    monkeypatch.setattr(sidecar, "list_dir", lambda path: listed)
    run = read(run_dir, root)
    assert warned(run, "summary.json: vanished") and warned(run, "media.jsonl: vanished")
    assert run.status == "running"


def test_directory_names_with_odd_characters(root: Path):
    run_dir = write_run(root / "sweep 3 ü" / "run?#%<>&'\"")
    write_csv(run_dir / "metrics.csv", ["step", "loss"], [[0, 1.0]])
    (run_dir / "train.out").write_text("hello\n")
    run = read(run_dir, root)
    assert run.warnings == [] and run.series["loss"].y == [1.0] and run.logs[0].text == "hello\n"
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in run.slug)


def test_secret_patterns_from_config(run_dir: Path, root: Path):
    write_run(run_dir, hparams={"cluster_pin": "1234", "pin_count": 3})
    ctx = ReadContext(root=str(root), allowed=(), redactor=Redactor([r"_pin$"]))
    run = sidecar.read(str(run_dir), "x", ctx)
    assert run.params == {"cluster_pin": "***", "pin_count": 3}


# --- metrics.csv ---------------------------------------------------------------------------------


def test_a_thousand_row_csv(run_dir: Path, root: Path):
    header = ["step", "epoch", "train/loss", "val/acc", "lr"]
    rows = [[i, i // 100, 1.0 / (i + 1), (i / 1000) if i % 50 == 0 else None, 0.001] for i in range(1000)]
    write_csv(run_dir / "metrics.csv", header, rows)
    run = read(run_dir, root)
    loss, acc, lr = run.series["train/loss"], run.series["val/acc"], run.series["lr"]
    assert loss.y == [1.0 / (i + 1) for i in range(1000)]
    assert loss.x["step"] == [float(i) for i in range(1000)]
    assert loss.x["epoch"] == [float(i // 100) for i in range(1000)]
    assert acc.y == [i / 1000 for i in range(0, 1000, 50)]
    assert acc.x["step"] == [float(i) for i in range(0, 1000, 50)]
    assert lr.y == [0.001] * 1000
    assert set(run.series) == {"train/loss", "val/acc", "lr"} and run.warnings == []


def test_bad_cells_are_counted_in_one_warning_and_the_rest_survives(run_dir: Path, root: Path):
    write_csv(run_dir / "metrics.csv", ["step", "epoch", "loss", "acc", "note"],
              [[0, 0, 1.0, "nan", "warmup"], [1, 0, "inf", 0.5, None], [2, 1, "-Infinity", 0.75, "x"],
               [3, 1, 0.25, "NaN", None]])
    run = read(run_dir, root)
    assert run.series["loss"].y == [1.0, 0.25] and run.series["loss"].x["step"] == [0.0, 3.0]
    assert run.series["acc"].y == [0.5, 0.75]
    assert "note" not in run.series  # a metric with no values is dropped
    assert [w for w in run.warnings if "not finite numbers" in w] == [
        "metrics.csv: 6 cells are not finite numbers (NaN, Inf or text); skipped"]


def test_a_half_written_last_line_is_pending(run_dir: Path, root: Path):
    (run_dir / "metrics.csv").write_text("step,loss\n0,1.0\n1,0.5\n2,0.2", newline="")
    run = read(run_dir, root)
    assert run.series["loss"].y == [1.0, 0.5]
    assert "metrics.csv: last line incomplete (still being written); 2 rows read" in run.warnings


def test_bom_crlf_and_blank_lines(run_dir: Path, root: Path):
    (run_dir / "metrics.csv").write_bytes(b"\xef\xbb\xbfstep,loss\r\n0,1.0\r\n\r\n1,0.5\r\n")
    run = read(run_dir, root)
    assert run.series["loss"].y == [1.0, 0.5] and run.series["loss"].x == {"step": [0.0, 1.0]}
    assert run.warnings == []


def test_rows_wider_than_the_header(run_dir: Path, root: Path):
    (run_dir / "metrics.csv").write_text("step,loss\n0,1.0\n1,0.5,0.9\n2,0.25\n")
    run = read(run_dir, root)
    assert run.series["loss"].y == [1.0, 0.5, 0.25]
    assert "metrics.csv: 1 rows have more cells than the header; extra cells ignored" in run.warnings


def test_header_rewritten_wider_mid_file(run_dir: Path, root: Path):
    (run_dir / "metrics.csv").write_text("step,loss\n0,1.0\n1,0.5\nstep,loss,val/acc\n2,0.25,0.8\n3,,0.9\n")
    run = read(run_dir, root)
    assert run.series["loss"].y == [1.0, 0.5, 0.25] and run.series["loss"].x["step"] == [0.0, 1.0, 2.0]
    assert run.series["val/acc"].y == [0.8, 0.9] and run.series["val/acc"].x["step"] == [2.0, 3.0]
    assert warned(run, "metrics.csv: header repeated 1 times")


def test_x_axis_is_step_else_epoch_else_row(root: Path):
    by_epoch = write_run(root / "epoch")
    (by_epoch / "metrics.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    assert read(by_epoch, root).series["loss"].x == {"epoch": [0.0, 1.0]}
    by_row = write_run(root / "row")
    (by_row / "metrics.csv").write_text("loss,acc\n1.0,\n0.5,0.7\n")
    run = read(by_row, root)
    assert run.series["loss"].x == {"row": [0.0, 1.0]} and run.series["acc"].x == {"row": [1.0]}


def test_values_without_a_step_and_sparse_epochs(run_dir: Path, root: Path):
    (run_dir / "metrics.csv").write_text("step,epoch,loss,acc\n0,0,1.0,\n,,0.5,\n2,,0.25,0.9\n")
    run = read(run_dir, root)
    assert run.series["loss"].y == [1.0, 0.25]
    assert run.series["loss"].x == {"step": [0.0, 2.0], "epoch": [0.0, 0.0]}  # epoch carried forward
    assert run.series["acc"].x == {"step": [2.0], "epoch": [0.0]}
    assert "metrics.csv: 1 values have no step; skipped" in run.warnings


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "metrics.csv: empty"),
    (b"\x00\x01\x02PK\x03\x04" * 500, "metrics.csv: looks binary; not read"),
    (b"step,loss\n0,\xff\xfe\n1,0.5\n", "metrics.csv: 1 cells are not finite numbers"),
    (b'step,loss\n0,1.0\n1,"' + b"x" * 200_000 + b'"\n2,0.5\n', "metrics.csv: 1 lines unreadable"),
    (b'step,loss\n0,1.0\n1,"unterminated\n2,0.5\n', "metrics.csv: 1 lines unreadable, skipped (line 3"),
])
def test_broken_metrics_give_a_warning_not_an_exception(run_dir: Path, root: Path, content, expected):
    (run_dir / "metrics.csv").write_bytes(content)
    run = read(run_dir, root)
    assert warned(run, expected), run.warnings
    assert run.status == "running"


def test_fast_and_careful_paths_agree(root: Path):
    rows = [[i, i // 3, 1.0 / (i + 1), None if i % 2 else i * 0.5] for i in range(30)]
    fast = write_run(root / "fast")
    write_csv(fast / "metrics.csv", ["step", "epoch", "loss", "acc"], rows)
    careful = write_run(root / "careful")
    write_csv(careful / "metrics.csv", ["step", "epoch", "loss", "acc", "tag"], [[*r, '"a,b"'] for r in rows])
    assert read(fast, root).series == read(careful, root).series


def test_a_fifo_named_metrics_csv_does_not_hang(run_dir: Path, root: Path):
    os.mkfifo(run_dir / "metrics.csv")
    run = read(run_dir, root)
    assert "metrics.csv: not a regular file" in run.warnings and run.artifacts == []


# --- media.jsonl ---------------------------------------------------------------------------------


def test_media_lines(run_dir: Path, root: Path):
    lines = [
        {"step": 1, "tag": "train/img", "type": "image", "path": "media/train__img/00000001_0.png",
         "caption": "token ghp_abcdefghijklmnopqrstuvwxyz0123"},
        {"step": 2, "tag": "train/vid", "type": "video", "path": "media/train__vid/00000002_0.mp4",
         "caption": None, "fps": 4, "format": "mp4"},
        {"step": 3, "tag": "x", "type": "image", "path": "../../../etc/passwd"},
        {"step": 4, "tag": "x", "type": "image", "path": "/etc/passwd"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n{not json}\n" + '{"step": 5, "tag": "tr'
    (run_dir / "media.jsonl").write_text(text)
    run = read(run_dir, root)
    assert [(m.type, m.step) for m in run.media] == [("image", 1), ("video", 2)]
    assert "ghp_" not in (run.media[0].caption or "")
    assert "media.jsonl: 1 invalid lines skipped (first at line 5)" in run.warnings
    assert "media.jsonl: last line incomplete (still being written); 4 lines read" in run.warnings
    assert "media.jsonl: 2 paths lead out of the run directory; ignored" in run.warnings


# --- logs ----------------------------------------------------------------------------------------


TRACEBACK = """\
epoch 0: loss 1.0
0 errors so far; error_rate=0.0
Traceback (most recent call last):
  File "train.py", line 3, in <module>
    main()
  File "train.py", line 2, in main
    raise ValueError("boom")
ValueError: boom
"""


def test_logs_in_the_run_dir(run_dir: Path, root: Path):
    (run_dir / "train.out").write_text(TRACEBACK + "export HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz\n")
    (run_dir / "train.err").write_text("srun: error: node12: task 0: Killed\n")
    (run_dir / "notes.log").write_text("not a run-dir log\n")
    run = read(run_dir, root)
    out, err = run.logs
    assert (out.name, out.kind, out.rank, out.slug) == ("train.out", "out", None, "train.out")
    assert (out.first_error, out.error_summary) == (3, "ValueError: boom")
    assert "hf_abcdefghijklmnopqrstuvwxyz" not in out.text
    assert out.size == (run_dir / "train.out").stat().st_size
    assert (err.name, err.kind, err.first_error) == ("train.err", "err", 1)
    assert err.error_summary == "srun: error: node12: task 0: Killed"
    assert {str(run_dir / "train.out"), str(run_dir / "train.err")} <= set(run.inputs)


def test_output_dir_and_submitit_rank_logs(root: Path):
    sweep_dir = root / "outputs" / "multirun"
    output_dir = sweep_dir / "4242_3"
    submitit = sweep_dir / "4242_3" / ".submitit"
    submitit.mkdir(parents=True)
    (output_dir / "train.log").write_text("INFO ok\n")
    for rank in (1, 0):
        (submitit / f"4242_3_{rank}_log.out").write_text(f"rank {rank} says hi\n")
        (submitit / f"4242_3_{rank}_log.err").write_text("")
    (submitit / "4242_3_submitted.pkl").write_bytes(b"\x80\x04.")
    (submitit / "4242_4_0_log.out").write_text("another task\n")
    run_dir = write_run(root / "r", hparams={"output_dir": str(output_dir), "slurm": {"task_id": 3}})
    run = read(run_dir, root)
    assert [(s.name, s.rank, s.slug) for s in run.logs] == [
        ("train.log", None, "train.log"),
        ("rank 0 .out", 0, "rank-0.out"), ("rank 0 .err", 0, "rank-0.err"),
        ("rank 1 .out", 1, "rank-1.out"), ("rank 1 .err", 1, "rank-1.err"),
    ]
    assert run.logs[1].text == "rank 0 says hi\n"
    assert {str(output_dir), str(submitit), str(submitit / "4242_3_0_log.out")} <= set(run.inputs)
    assert run.warnings == []


@pytest.mark.parametrize("where", ["flat", "run_meta"])
def test_submitit_task_id_from_flat_hparams_or_run_meta(root: Path, where: str):
    submitit = root / "out" / "9_1" / ".submitit"
    submitit.mkdir(parents=True)
    (submitit / "9_1_0_log.out").write_text("hi\n")
    hparams = {"output_dir": str(root / "out" / "9_1")}
    if where == "flat":
        hparams["slurm.task_id"] = "1"
    run_dir = write_run(root / "r", tags=["sweep:9"], hparams=hparams)
    if where == "run_meta":
        (run_dir / "run_meta.json").write_text(json.dumps({"slurm_job_id": "9", "slurm_array_task_id": 1}))
    assert [s.name for s in read(run_dir, root).logs] == ["rank 0 .out"]


def test_output_dir_outside_the_roots_is_not_followed(run_dir: Path, root: Path, tmp_path: Path):
    elsewhere = tmp_path / "home" / "alice"
    elsewhere.mkdir(parents=True)
    (elsewhere / "secrets.log").write_text("password=hunter2\n")
    write_run(run_dir, hparams={"output_dir": str(elsewhere)})
    run = read(run_dir, root)
    assert run.logs == []
    assert f"output_dir '{elsewhere}' is outside the configured roots; not followed" in run.warnings
    assert str(elsewhere) not in run.inputs
    allowed = read(run_dir, root, tmp_path / "home")
    assert [s.name for s in allowed.logs] == ["secrets.log"] and allowed.warnings == []


def test_relative_output_dir_and_links_out_of_the_roots(run_dir: Path, root: Path, tmp_path: Path):
    (run_dir / "logs").mkdir()
    (run_dir / "logs" / "job.log").write_text("fine\n")
    outside = tmp_path / "private.txt"
    outside.write_text("private\n")
    (run_dir / "stolen.out").symlink_to(outside)
    (run_dir / "metrics.csv").symlink_to(outside)
    (run_dir / "dangling.err").symlink_to(run_dir / "nothing")
    write_run(run_dir, hparams={"output_dir": "logs"})
    run = read(run_dir, root)
    assert [s.name for s in run.logs] == ["job.log"]
    assert "stolen.out: a link out of the configured roots; not followed" in run.warnings
    assert "metrics.csv: a link out of the configured roots; not followed" in run.warnings
    assert run.series == {} and run.artifacts == []
    assert "dangling.err: vanished or a dangling link" in run.warnings


def test_a_file_name_that_is_not_utf8_is_left_out(run_dir: Path, root: Path):
    """Found by fuzzing: a log named with bytes that are not UTF-8 became a stream name that neither
    the cache nor a page can encode, and the whole build stopped."""
    (run_dir / "train.out").write_text("step 1\n")
    (Path(os.fsdecode(bytes(run_dir) + b"/tr\xffain.out"))).write_text("step 1\n")
    run = read(run_dir, root)  # encodes it as the cache does
    assert [stream.name for stream in run.logs] == ["train.out"]


def test_log_tail_keeps_the_newest_output(run_dir: Path, root: Path):
    lines = [f"line {i}" for i in range(1000)]
    (run_dir / "train.out").write_text("\n".join(lines) + "\nValueError: late\n")
    stream = read(run_dir, root, tail=2000).logs[0]
    assert stream.truncated and len(stream.text.encode()) <= 2000
    assert stream.text.endswith("ValueError: late\n") and stream.text.startswith("line ")
    assert stream.text.splitlines()[stream.first_error - 1] == "ValueError: late"


def test_binary_log_is_not_shown(run_dir: Path, root: Path):
    (run_dir / "core.out").write_bytes(b"\x7fELF\x00\x00\x00\x00" * 200)
    run = read(run_dir, root)
    assert run.logs[0].text == "" and "core.out: looks binary; text not shown" in run.warnings


# What Ray 2.60 printed to stderr for `ray.init(include_dashboard=False, dashboard_port=8265)` with
# the port taken (run here); it starts without a dashboard, as `ray start --include-dashboard=false`
# in sitegen's runner does.
RAY_DASHBOARD_PORT_TAKEN = (
    "2026-12-07 01:44:39,289\tERROR services.py:1500 -- Failed to bind to 127.0.0.1:8265 because it's "
    "already occupied. You can use `ray start --dashboard-port ...` or `ray.init(dashboard_port=...)` to "
    "select a different port.\n")


@pytest.mark.parametrize(("text", "line", "summary"), [
    (TRACEBACK, 3, "ValueError: boom"),
    ("[rank0]: Traceback (most recent call last):\n[rank0]:   File \"a.py\", line 1\n"
     "[rank0]: torch.OutOfMemoryError: CUDA out of memory\n",
     1, "torch.OutOfMemoryError: CUDA out of memory"),
    ("ok\n2024-01-01 ERROR trainer: disk full\n", 2, "2024-01-01 ERROR trainer: disk full"),
    ("ok\nRuntimeError: CUDA error: device-side assert\n", 2, "RuntimeError: CUDA error: device-side assert"),
    ("0 errors\nerror_rate=0.1\nLOG_LEVEL=ERROR\nErrors: none\n", None, ""),
    ("Traceback (most recent call last):\n", 1, "Traceback (most recent call last):"),
    ("ERROR " + "x" * 500 + "\n", 1, "ERROR " + "x" * 193 + "…"),
    (RAY_DASHBOARD_PORT_TAKEN, None, ""),
    (RAY_DASHBOARD_PORT_TAKEN + "2026-12-07 01:44:40,001\tERROR trainer: disk full\n", 2,
     "2026-12-07 01:44:40,001\tERROR trainer: disk full"),
])
def test_first_error(text: str, line: int | None, summary: str):
    assert find_first_error(text) == (line, summary)


# --- tolerant helpers ----------------------------------------------------------------------------


def test_tolerant_json_yaml_and_tail(tmp_path: Path):
    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 100 + "1]")
    assert read_json(str(big), max_bytes=50) == (None, "big.json: larger than 50 bytes; not read")
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 5000 + "]" * 5000)
    assert read_yaml(str(deep))[1] == "deep.yaml: YAML nested too deeply"
    text = tmp_path / "t.log"
    text.write_bytes(b"first\nsecond \xff\nthird\n")
    tail, problem = read_tail(str(text), 12)
    assert problem is None and tail.text == "third\n" and tail.truncated and tail.size == 21
    assert read_tail(str(tmp_path / "missing.log"), 10) == (None, "missing.log: vanished or a dangling link")
