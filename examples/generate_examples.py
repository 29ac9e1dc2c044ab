"""Write the bundled example runs shown when no root is configured: sidecar training runs, a
DataJuicer processing job, nightly benchmark sessions and serving-benchmark jobs.

Deterministic: fixed seeds, fixed epoch times, fixed file mtimes; the default tree is replaced.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import struct
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

import example_jobs
import example_logs as logs
import example_serving
import example_sessions
import yaml
from example_runs import RUNS, SWEEP_ID, Row, RunSpec, training_rows

DEFAULT_OUT = Path(__file__).resolve().parent / "runs"
CACHE_DIR = "/home/alice/.cache/stable-pretraining"  # recorded by the writer as run_dir; nothing follows it
STARTUP_S = 75  # wall time from launch to the first step

Stats = dict[str, dict[str, float | int]]


def write(path: Path, content: str | bytes, mtime: float) -> None:
    """Write a file and give it a fixed mtime, so that two runs of this script give identical trees."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (mtime, mtime))


def write_json(path: Path, obj: object, mtime: float) -> None:
    write(path, json.dumps(obj, indent=2) + "\n", mtime)  # NaN/Infinity as Python writes them


def write_files(out: Path, files: list[tuple[str, object, float]]) -> None:
    """(path relative to `out`, text or a JSON value, mtime) → files."""
    for rel, content, mtime in files:
        if isinstance(content, str):
            write(out / rel, content, mtime)
        else:
            write_json(out / rel, content, mtime)


def epoch_time(created: str) -> float:
    return datetime.strptime(created, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def flatten(nested: dict[str, object], prefix: str = "") -> dict[str, object]:
    """`{"a": {"b": [1]}}` → `{"a.b.0": 1}`, as the sidecar writer flattens hparams."""
    flat: dict[str, object] = {}
    for key, value in nested.items():
        if isinstance(value, list):
            value = {str(i): v for i, v in enumerate(value)}
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def header(rows: list[Row]) -> list[str]:
    """Columns as spt's appending writer orders them: new keys go at the end, sorted among themselves."""
    columns: list[str] = []
    for row in rows:
        columns += sorted(k for k in row if k not in columns)
    return columns


def cell(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else format(value, ".6g")


def metrics_csv(rows: list[Row], partial_tail: bool) -> str:
    columns = header(rows)
    lines = [",".join(columns)] + [",".join(cell(row.get(c)) for c in columns) for row in rows]
    if not partial_tail:
        return "\n".join(lines) + "\n"
    # A hung writer flushed its buffer mid-row: the last line is cut and has no newline yet.
    return "\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2]


def metric_stats(rows: list[Row]) -> Stats:
    """summary.json's `{last, min, max, count}` per metric; NaN never wins a comparison."""
    stats: Stats = {}
    for row in rows:
        for name, value in row.items():
            if name in ("step", "epoch"):
                continue
            entry = stats.setdefault(name, {"last": value, "min": value, "max": value, "count": 0})
            entry["last"], entry["count"] = value, entry["count"] + 1
            if not math.isnan(value):
                entry["min"] = value if math.isnan(entry["min"]) else min(entry["min"], value)
                entry["max"] = value if math.isnan(entry["max"]) else max(entry["max"], value)
    return stats


def write_run(out: Path, spec: RunSpec) -> None:
    rows = training_rows(spec.curve, random.Random(spec.name))
    created = epoch_time(spec.created)
    updated = created + STARTUP_S + round(int(rows[-1]["step"]) * spec.curve.step_time)
    moment = datetime.fromtimestamp(created, tz=UTC)
    rel = f"{moment:%Y%m%d}/{moment:%H%M%S}/{spec.run_id}"
    run_dir = out / rel
    stats = metric_stats(rows)
    flat = flatten(spec.hparams)
    write_json(run_dir / "sidecar.json", sidecar(spec, rel, flat, stats, created, updated), updated)
    write(run_dir / "metrics.csv", metrics_csv(rows, spec.status == "running"), updated)
    write_json(run_dir / "summary.json", summary(spec, rel, rows, stats, updated), updated)
    write_json(run_dir / "run_meta.json", run_meta(spec, rel, flat), created + 1)
    write(run_dir / "hparams.yaml", yaml.safe_dump(spec.hparams, sort_keys=True), created + 2)
    write(run_dir / "heartbeat", b"", updated)
    if spec.media:
        write_media(run_dir, spec, rows, created, updated)
    write_logs(run_dir, spec, flat, rows, created, updated)


def sidecar(
    spec: RunSpec, rel: str, flat: dict[str, object], stats: Stats, created: float, updated: float
) -> dict[str, object]:
    return {
        "schema_version": 1,
        "run_id": spec.run_id,
        "run_dir": f"{CACHE_DIR}/runs/{rel}",
        "status": spec.status,
        "created_at": created,
        "ended_at": None if spec.status == "running" else updated,
        "updated_at": updated,
        "tags": list(spec.tags),
        "notes": spec.notes,
        "hparams": flat,
        "summary": {name: entry["last"] for name, entry in stats.items()},
        "checkpoint_path": f"{CACHE_DIR}/runs/{rel}/checkpoints/last.ckpt"
        if spec.status == "completed"
        else None,
    }


def summary(spec: RunSpec, rel: str, rows: list[Row], stats: Stats, updated: float) -> dict[str, object]:
    return {
        "schema_version": 1,
        "run_id": spec.run_id,
        "run_dir": f"{CACHE_DIR}/runs/{rel}",
        "updated_at": updated,
        "step": rows[-1]["step"],
        "epoch": rows[-1]["epoch"],
        "metrics": stats,
    }


def run_meta(spec: RunSpec, rel: str, flat: dict[str, object]) -> dict[str, object]:
    meta: dict[str, object] = {"run_dir": f"{CACHE_DIR}/runs/{rel}", "run_id": spec.run_id}
    if spec.task is not None:
        meta.update(slurm_job_id=str(SWEEP_ID + 1 + spec.task), slurm_array_task_id=str(spec.task))
    elif "slurm.job_id" in flat:
        meta["slurm_job_id"] = flat["slurm.job_id"]
    return meta


def tiny_png(rng: random.Random, size: int = 24) -> bytes:
    """A noisy grayscale blob; stored (level 0) deflate keeps the bytes identical across zlib builds."""
    cx, cy = rng.uniform(6, 18), rng.uniform(6, 18)

    def pixel(x: int, y: int) -> int:
        return min(255, int(255 * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 40)) + rng.randrange(20))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = b"".join(b"\x00" + bytes(pixel(x, y) for x in range(size)) for y in range(size))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(pixels, 0))
        + chunk(b"IEND", b"")
    )


def write_media(run_dir: Path, spec: RunSpec, rows: list[Row], created: float, updated: float) -> None:
    """Two logged images and their media.jsonl lines."""
    rng = random.Random(spec.name + "/media")
    tag = "val/samples"
    lines = []
    for i, step in enumerate((int(rows[len(rows) // 2]["step"]), int(rows[-1]["step"]))):
        path = f"media/{tag.replace('/', '__')}/{step:08d}_0.png"
        write(run_dir / path, tiny_png(rng), created + (updated - created) * (i + 1) / 2)
        lines.append(
            json.dumps(
                {
                    "step": step,
                    "tag": tag,
                    "type": "image",
                    "path": path,
                    "caption": f"validation samples at step {step}",
                }
            )
        )
    write(run_dir / "media.jsonl", "\n".join(lines) + "\n", updated)


def write_logs(
    run_dir: Path, spec: RunSpec, flat: dict[str, object], rows: list[Row], created: float, updated: float
) -> None:
    """Sweep tasks log per rank under output_dir's parent (submitit); the others to train.out/.err."""
    output_dir = Path(os.path.normpath(run_dir / str(flat["output_dir"]))) if "output_dir" in flat else None
    if spec.task is not None and output_dir is not None:
        folder = output_dir.parent / f"{SWEEP_ID}_{spec.task}" / ".submitit"
        for name, text in logs.rank_logs(spec, rows, created, updated).items():
            write(folder / name, text, updated)
        return
    stdout, stderr = logs.console_logs(spec, flat, rows, updated)
    write(run_dir / "train.out", stdout, updated)
    write(run_dir / "train.err", stderr, updated)
    if spec.output_log and output_dir is not None:
        write(output_dir / "eval.log", logs.eval_log(rows, updated), updated)


def stamp_dirs(out: Path) -> None:
    """Give every directory the newest mtime found inside it, deepest first."""
    for dirpath, dirnames, filenames in sorted(os.walk(out), key=lambda walk: -walk[0].count(os.sep)):
        entries = [os.path.join(dirpath, name) for name in dirnames + filenames]
        newest = max((os.stat(entry).st_mtime for entry in entries), default=0.0)
        os.utime(dirpath, (newest, newest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where to write the runs (default: %(default)s)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a non-empty --out other than the default"
    )
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        if args.out.resolve() != DEFAULT_OUT and not args.force:
            print(f"{args.out} is not empty; pass --force to replace it", file=sys.stderr)
            return 1
        shutil.rmtree(args.out)
    for spec in RUNS:
        write_run(args.out, spec)
    example_jobs.write_job(args.out, write, write_json)
    sessions, jobs = example_sessions.session_files(), example_serving.job_files()
    write_files(args.out, sessions + jobs)
    entries = len({tuple(rel.split("/")[:3]) for rel, _content, _mtime in sessions})
    jobs = len({rel.split("/")[1] for rel, _content, _mtime in jobs})
    stamp_dirs(args.out)
    print(f"wrote {len(RUNS)} training runs, a processing job, {entries} nightly entries "
          f"and {jobs} serving jobs to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
