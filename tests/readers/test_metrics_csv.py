"""metrics.csv in bounded memory: a long series is kept as the points its plot shows, the result is
the same whatever the chunk size and however many passes, and no value is held as a Python object."""

from __future__ import annotations

import math
import os
import random
import tracemalloc
from pathlib import Path

import pytest

from sitegen.analysis.downsample import PLOT_POINTS, downsample
from sitegen.model import Series
from sitegen.readers._tolerant import CsvLines
from sitegen.readers.metrics_csv import HELD_POINTS, read_metrics

MAX_BYTES = 64 * 1024 * 1024


def read(path: Path, chunk_bytes: int = 64 * 1024, held_points: int = HELD_POINTS,
         ) -> tuple[dict[str, Series], list[str]]:
    warnings: list[str] = []
    with CsvLines(str(path), MAX_BYTES, chunk_bytes) as lines:
        series = read_metrics(lines, warnings, held_points)
    return series, warnings


def test_a_long_series_is_kept_as_the_points_its_plot_shows(tmp_path: Path):
    rng = random.Random(1)
    loss = [2.0 / (1 + i / 100) + rng.gauss(0, 0.01) for i in range(5000)]
    loss[3333] = 9.5  # a spike the plot must show
    lines = ["step,epoch,loss,val"] + [f"{i},{i // 1000},{y!r},{'0.5' if i % 10 == 0 else ''}"
                                       for i, y in enumerate(loss)]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines) + "\n")
    series, warnings = read(path)
    steps = [float(i) for i in range(5000)]
    x, y = downsample(steps, loss, PLOT_POINTS)
    epochs = [float(step // 1000) for step in x]
    assert series["loss"] == Series(y, {"step": x, "epoch": epochs}, downsampled_from=5000)
    assert (3333.0, 9.5) in zip(series["loss"].x["step"], series["loss"].y, strict=True)
    val = series["val"]  # 500 points: kept whole
    assert val.downsampled_from is None and val.x["step"] == steps[::10] and val.y == [0.5] * 500
    assert warnings == []


def _quirky_csv(path: Path, rows: int = 3000) -> None:
    """Every metrics.csv quirk of FORMATS.md §4.3 and the tolerant reader, in one long file."""
    rng = random.Random(7)
    lines = ["step,epoch,train/loss,val/acc,lr"]
    for i in range(rows):
        if i == 1500:
            lines.append("step,epoch,train/loss,val/acc,lr,grad_norm")  # the header rewritten wider
        cells = [str(i), str(i // 100) if i % 7 else "", f"{rng.uniform(0, 3):.6f}",
                 f"{i / rows:.4f}" if i % 50 == 0 else "", "0.001"]
        if i >= 1500:
            cells.append(f"{rng.uniform(0, 1):.5f}")
        if i % 97 == 0:
            cells[2] = rng.choice(["nan", "inf", "text", '"1,5"', "null"])
        if i % 301 == 0:
            cells.append("9")  # wider than its header
        if i % 403 == 0:
            cells[0] = ""  # no step
        if i % 211 == 0:
            cells[3] = '"unterminated'
        lines.append(",".join(cells))
        if i % 500 == 0:
            lines.append("")
    text = "\r\n".join(lines) + "\r\n" + "3000,30,0.5"  # a last line still being written
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())


@pytest.mark.parametrize(("chunk_bytes", "held_points"), [
    (64 * 1024, 0),  # read twice: the envelopes from the second pass
    (300, HELD_POINTS),  # a few lines a chunk, the header repeat and bad lines across chunks
    (300, 0),
    (4096, 2000),  # given up on holding mid-file
    (MAX_BYTES, HELD_POINTS),  # the whole file in one chunk
])
def test_any_chunk_size_and_either_pass_give_the_same_series_and_warnings(tmp_path: Path, chunk_bytes: int,
                                                                          held_points: int):
    path = tmp_path / "metrics.csv"
    _quirky_csv(path)
    expected, expected_warnings = read(path)
    assert [(name, len(line.y), line.downsampled_from) for name, line in expected.items()] == [
        ("train/loss", 1000, 2948), ("val/acc", 59, None), ("lr", 501, 2978), ("grad_norm", 1000, 1489)]
    assert expected["grad_norm"].x["step"][0] == 1500.0 and list(expected["lr"].x) == ["step", "epoch"]
    assert expected_warnings == [
        "metrics.csv: last line incomplete (still being written); 3001 rows read",
        "metrics.csv: header repeated 1 times; parts read with their own",
        "metrics.csv: 8 lines unreadable, skipped (line 2: unexpected end of data)",
        "metrics.csv: 7 lines unreadable, skipped (line 1691: unexpected end of data)",
        "metrics.csv: 30 cells are not finite numbers (NaN, Inf or text); skipped",
        "metrics.csv: 18 values have no step; skipped",
        "metrics.csv: 9 rows have more cells than the header; extra cells ignored",
    ]
    assert read(path, chunk_bytes, held_points) == (expected, expected_warnings)


def test_reading_a_200000_row_csv_holds_far_less_than_the_file(tmp_path: Path):
    """A reader holding every value as a Python float (32+ bytes each, 13× the file) fails this."""
    rng = random.Random(0)
    path = tmp_path / "metrics.csv"
    with path.open("w") as out:
        out.write("step,epoch,train/loss,val/loss,lr,grad_norm\n")
        for step in range(200_000):
            val = f"{rng.random():.5f}" if step % 50 == 0 else ""
            loss, lr, grad_norm = rng.random(), math.cos(step), rng.random()
            out.write(f"{step},{step // 1000},{loss:.5f},{val},{lr:.5e},{grad_norm:.6f}\n")
    size = os.path.getsize(path)
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        series, warnings = read(path)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert warnings == [] and series["train/loss"].downsampled_from == 200_000
    assert peak < 2 * size, f"{peak / 2**20:.1f} MiB to read {size / 2**20:.1f} MiB"  # ~7 MiB for 8 MiB


def test_the_second_pass_reads_the_bytes_the_first_saw(tmp_path: Path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n0,1.0\n1,0.5\n")
    with CsvLines(str(path), MAX_BYTES) as lines:
        first = [line for chunk in lines for line in chunk]
        with path.open("a") as handle:
            handle.write("2,0.25\n")  # appended meanwhile: not read
        replacement = tmp_path / "new.csv"
        replacement.write_text("step,loss,acc\n9,9,9\n")
        os.replace(replacement, path)  # replaced meanwhile: the open file is read again
        second = [line for chunk in lines for line in chunk]
    assert first == second == ["step,loss", "0,1.0", "1,0.5"]
