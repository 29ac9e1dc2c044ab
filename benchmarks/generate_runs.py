"""Write N minimal sidecar runs fast and deterministically for the build benchmarks.

`--rows` sets the rows of each metrics.csv; `--tiny` writes runs of a sidecar and a 3-row CSV
(the million-run tree); `--touch-one` instead appends one row to one run's metrics.csv (the
one-run-changed measurement).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_TIME = 1_735_700_000  # 2025-01-01, so every file is far older than any racy-clean window
RUN_SPACING_S = 97  # one run starts every 97 s: unique <date>/<time> dirs
TINY_SPACING_S = 30  # a million tiny runs then end in 2025-12: every file's time is in the past
RUN_DURATION_S = 3600
BODY_VARIANTS = 8  # distinct metrics.csv bodies, reused round-robin
ROWS = 1000
VAL_EVERY = 50
HEADER = "step,epoch,train/loss,val/loss,lr\n"
SWEEP_EVERY = 10  # every 10th run belongs to a sweep of 100 runs


def run_rel(index: int, spacing_s: int = RUN_SPACING_S) -> str:
    """`<YYYYMMDD>/<HHMMSS>/<12 hex>` of run `index`, as the sidecar writer lays runs out."""
    moment = datetime.fromtimestamp(BASE_TIME + index * spacing_s, tz=UTC)
    run_id = f"{((index + 1) * 0x9E3779B97F4A7C15) % (1 << 48):012x}"
    return f"{moment:%Y%m%d}/{moment:%H%M%S}/{run_id}"


def csv_row(step: int, epoch: int, loss: float, val: float | None, lr: float) -> str:
    return f"{step},{epoch},{loss:.5f},{'' if val is None else f'{val:.5f}'},{lr:.4e}\n"


def csv_body(seed: int, rows: int = ROWS) -> str:
    """Rows of a noisy, decreasing loss; val/loss only every VAL_EVERY steps (sparse cells)."""
    rng = random.Random(seed)
    lines = []
    for step in range(rows):
        clean = 0.4 + 2.0 * (1 + step / 40) ** -0.8
        val = clean * 1.05 if (step + 1) % VAL_EVERY == 0 else None
        lr = 1e-3 * 0.5 * (1 + math.cos(math.pi * step / rows))
        lines.append(csv_row(step, step // 100, clean * rng.gauss(1, 0.03), val, lr))
    return "".join(lines)


def log_text(seed: int) -> str:
    """A few KB of console output."""
    rng = random.Random(seed)
    lines = [
        f"epoch {e:>3}  step {s:>6}  train/loss={rng.uniform(0.4, 2.5):.4f}  it/s={rng.uniform(8, 9):.2f}"
        for e in range(10)
        for s in range(e * 100, e * 100 + 100, 25)
    ]
    return "GPU available: True (cuda), used: True\n" + "\n".join(lines) + "\nTrainer.fit stopped.\n"


def sidecar(index: int, rel: str) -> str:
    created = BASE_TIME + index * RUN_SPACING_S
    tags = [f"sweep:{5000 + index // 1000}"] if index % SWEEP_EVERY == 0 else []
    hparams = {
        "model.name": f"net{index % 5}",
        "optimizer.lr": 10 ** -(2 + index % 3),
        "data.batch_size": 64 << (index % 3),
        "slurm.task_id": index % 100,
        "seed": index,
    }
    doc = {
        "schema_version": 1,
        "run_id": rel[-12:],
        "run_dir": f"/bench/runs/{rel}",
        "status": "completed",
        "created_at": created,
        "ended_at": created + RUN_DURATION_S,
        "updated_at": created + RUN_DURATION_S,
        "tags": tags,
        "notes": "",
        "hparams": hparams,
        "summary": {"train/loss": 0.45, "val/loss": 0.47},
        "checkpoint_path": None,
    }
    return json.dumps(doc, indent=2)


def write_file(path: str, text: str, mtime: float) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.utime(path, (mtime, mtime))


def generate(out: Path, runs: int, rows: int = ROWS) -> None:
    bodies = [HEADER + csv_body(seed, rows) for seed in range(BODY_VARIANTS)]
    logs = [log_text(seed) for seed in range(BODY_VARIANTS)]
    for index in range(runs):
        rel = run_rel(index)
        run_dir = os.path.join(out, rel)
        os.makedirs(run_dir, exist_ok=True)
        mtime = BASE_TIME + index * RUN_SPACING_S + RUN_DURATION_S
        variant = index % BODY_VARIANTS
        final = csv_row(rows, rows // 100, 0.45 + index % 97 / 1000, 0.47, 0.0)  # makes every file differ
        write_file(os.path.join(run_dir, "sidecar.json"), sidecar(index, rel), mtime)
        write_file(os.path.join(run_dir, "metrics.csv"), bodies[variant] + final, mtime)
        write_file(os.path.join(run_dir, "train.out"), f"run {rel}\n" + logs[variant], mtime)


TINY_SIDECAR = (
    '{"schema_version":1,"run_id":"%s","run_dir":"/bench/runs/%s","status":"completed",'
    '"created_at":%d,"ended_at":%d,"updated_at":%d,"tags":[],"notes":"","hparams":{"seed":%d},'
    '"summary":{"train/loss":0.45},"checkpoint_path":null}'
)


def generate_tiny(out: Path, runs: int) -> None:
    """Runs of a one-line sidecar and a 3-row metrics.csv, written with as few calls as possible:
    a 1,000,000-run tree for the no-op and one-changed measurements only."""
    made: set[str] = set()
    for index in range(runs):
        rel = run_rel(index, TINY_SPACING_S)
        day_time, run_id = rel.rsplit("/", 1)
        run_dir = os.path.join(out, rel)
        if day_time not in made:
            os.makedirs(os.path.join(out, day_time), exist_ok=True)
            made.add(day_time)
        os.mkdir(run_dir)
        created = BASE_TIME + index * TINY_SPACING_S
        mtime = created + RUN_DURATION_S
        sidecar = TINY_SIDECAR % (run_id, rel, created, mtime, mtime, index)
        write_file(os.path.join(run_dir, "sidecar.json"), sidecar, mtime)
        metrics = f"step,train/loss\n0,2.0\n1,1.{index % 10}\n2,0.9\n"
        write_file(os.path.join(run_dir, "metrics.csv"), metrics, mtime)


def write_wide_run(out: Path, metrics: int = 10, points: int = 100_000) -> Path:
    """One run with `metrics` dense series of `points` rows each (the page-weight case)."""
    rel = run_rel(0)
    run_dir = out / rel
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    names = [f"train/metric_{m:02d}" for m in range(metrics)]
    lines = ["step," + ",".join(names) + "\n"]
    for step in range(points):
        base = 2.0 * (1 + step / 500) ** -0.5
        lines.append(
            f"{step}," + ",".join(f"{base * rng.gauss(1, 0.05) + m:.5f}" for m in range(metrics)) + "\n"
        )
    mtime = BASE_TIME + RUN_DURATION_S
    write_file(str(run_dir / "sidecar.json"), sidecar(0, rel), mtime)
    write_file(str(run_dir / "metrics.csv"), "".join(lines), mtime)
    return run_dir


def touch_one(out: Path) -> Path:
    """Append one row to the first run's metrics.csv: its last row again, at the next step."""
    path = out / run_rel(0) / "metrics.csv"
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 200))
        step, rest = f.read().splitlines()[-1].decode().split(",", 1)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{int(step) + 1},{rest}\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="directory to write the runs into")
    parser.add_argument("--runs", type=int, default=10_000, help="how many runs (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=ROWS, help="rows of a metrics.csv (default: %(default)s)")
    parser.add_argument("--tiny", action="store_true", help="tiny runs: a sidecar and a 3-row metrics.csv")
    parser.add_argument("--touch-one", action="store_true", help="only append a row to one existing run")
    args = parser.parse_args(argv)
    if args.touch_one:
        print(f"appended a row to {touch_one(args.out)}")
        return 0
    start = time.perf_counter()
    if args.tiny:
        generate_tiny(args.out, args.runs)
    else:
        generate(args.out, args.runs, args.rows)
    print(f"wrote {args.runs} runs to {args.out} in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
