"""metrics.csv as training loggers write it, into one Series per metric column.

The hot path of reading a run: a plain numeric body is decoded as one JSON array at C speed;
anything else (quotes, NaN, text, ragged rows) falls back to the csv module row by row.
Handles sparse cells, a header rewritten wider mid-file, and rows with no step.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence

import msgspec

from sitegen.model import Series
from sitegen.readers._tolerant import parse_csv_lines

AXES = ("step", "epoch")
_MATRIX = msgspec.json.Decoder(list[list[float | None]])


def parse_metrics_lines(lines: list[str], warnings: list[str]) -> dict[str, Series]:
    """Series from CSV lines (header first); x is step, else epoch, else the row index ("row").

    A line repeating the header's first name (a header rewritten mid-file) starts a part read with it.
    """
    header = _cells(lines[0]) if lines else []
    if not header:
        return {}
    axis = next((name for name in AXES if name in header), "row")
    starts = _part_starts(lines, header[0])
    if len(starts) > 1:
        warnings.append(f"metrics.csv: header repeated {len(starts) - 1} times; parts read with their own")
    merged: dict[str, tuple[list[float], dict[str, list[float]]]] = {}
    tally = {"bad": 0, "no_x": 0, "long": 0}
    for part, (start, end) in enumerate(zip(starts, [*starts[1:], len(lines)], strict=True)):
        columns = _numeric_columns(_cells(lines[start]), lines[start + 1:end], start + 2, tally, warnings)
        _add_part(columns, axis, start - part, merged, tally)
    messages = {"bad": "cells are not finite numbers (NaN, Inf or text); skipped",
                "no_x": f"values have no {axis}; skipped",
                "long": "rows have more cells than the header; extra cells ignored"}
    warnings.extend(f"metrics.csv: {tally[key]} {text}" for key, text in messages.items() if tally[key])
    return {name: Series(ys, {k: v for k, v in xs.items() if len(v) == len(ys)})
            for name, (ys, xs) in merged.items() if ys}


Column = tuple[float | None, ...]


def _numeric_columns(header: list[str], body: list[str], first_line: int, tally: dict[str, int],
                     warnings: list[str]) -> dict[str, Column]:
    """Header name → one value per row (None where empty or not a finite number)."""
    matrix = _decode_as_json(body, len(header))
    if matrix is None:
        rows, problems = parse_csv_lines(body, "metrics.csv", first_line)
        warnings.extend(problems)
        matrix = [_row_values(row, len(header), tally) for row in rows]
    return dict(zip(header, zip(*matrix, strict=True), strict=False)) if matrix else {}


def _decode_as_json(body: list[str], width: int) -> list[list[float | None]] | None:
    """The fast path: plain numeric lines are a JSON array once empty cells read `null`.

    One C-level decode instead of a float() per cell; anything else (quotes, NaN, text, ragged
    rows) returns None and is read cell by cell.
    """
    if not body:
        return None
    text = "[[" + "],[".join(body) + "]]"
    text = text.replace(",,", ",null,").replace(",,", ",null,")  # twice: ",,," needs both passes
    text = text.replace("[,", "[null,").replace(",]", ",null]")
    try:
        matrix = _MATRIX.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(matrix) != len(body) or set(map(len, matrix)) != {width}:
        return None
    return matrix


def _row_values(row: list[str], width: int, tally: dict[str, int]) -> list[float | None]:
    if len(row) > width:
        tally["long"] += 1
    values: list[float | None] = [None] * width
    for i, cell in enumerate(row[:width]):
        if not cell:
            continue
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            values[i] = value
        else:
            tally["bad"] += 1
    return values


def _part_starts(lines: list[str], first: str) -> list[int]:
    """Where the header and its repeats are: lines starting with the header's first name."""
    if not first or _is_number(first) or "\n" + first not in "\n" + "\n".join(lines[1:]):
        return [0]
    return [i for i, line in enumerate(lines) if line.startswith(first) and _cells(line)[:1] == [first]]


def _add_part(columns: dict[str, Column], axis: str, first_row: int,
              merged: dict[str, tuple[list[float], dict[str, list[float]]]], tally: dict[str, int]) -> None:
    rows = len(next(iter(columns.values()), ()))
    x_by_row = columns.get(axis, (None,) * rows)
    if axis == "row":
        x_by_row = [float(first_row + i) for i in range(rows)]
    epochs = _forward_filled(columns["epoch"]) if axis == "step" and "epoch" in columns else None
    for name, column in columns.items():
        if name and name not in AXES:
            _add_points(merged.setdefault(name, ([], {})), column, axis, x_by_row, epochs, tally)


def _add_points(series: tuple[list[float], dict[str, list[float]]], column: Column, axis: str,
                x_by_row: Sequence[float | None], epochs: Sequence[float | None] | None,
                tally: dict[str, int]) -> None:
    present: Sequence[int] = range(len(column))
    if None in column:
        present = [i for i, value in enumerate(column) if value is not None]
    xs = _pick(x_by_row, present)
    if None in xs:
        tally["no_x"] += xs.count(None)
        present = [i for i in present if x_by_row[i] is not None]
        xs = _pick(x_by_row, present)
    ys, xs_by_axis = series
    ys.extend(_pick(column, present))
    xs_by_axis.setdefault(axis, []).extend(xs)
    epoch_xs = _pick(epochs, present) if epochs is not None else [None]
    if None not in epoch_xs:
        xs_by_axis.setdefault("epoch", []).extend(epoch_xs)


def _pick(values: Sequence, rows: Sequence[int]) -> list:
    return list(values) if rows == range(len(values)) else [values[i] for i in rows]


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _forward_filled(values: Column) -> Sequence[float | None]:
    if None not in values:
        return values
    last = None
    filled = []
    for value in values:
        last = value if value is not None else last
        filled.append(last)
    return filled
