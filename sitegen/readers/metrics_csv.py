"""metrics.csv as training loggers write it, into one Series per metric column, in bounded memory.

The file is parsed a chunk of lines at a time: a plain numeric chunk is decoded as one JSON array
at C speed; a chunk with anything else (quotes, NaN, text, ragged rows) is tried again in small
pieces, and a piece that still fails is read cell by cell with the csv module. Handles sparse
cells, a header rewritten wider mid-file, and rows with no step.

A series longer than a plot shows is kept as the plot's points (min and max per bucket, with
`Series.downsampled_from`); the full file is published beside the page. The first pass holds every
point while there are few (HELD_POINTS); past that it only counts them, and a second pass over the
same bytes keeps each series' envelope, so memory never grows with the file.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence

import msgspec

from sitegen.analysis.downsample import PLOT_POINTS, Envelope
from sitegen.model import Series
from sitegen.readers._tolerant import CsvLines, csv_rows

AXES = ("step", "epoch")
HELD_POINTS = 100_000  # about 7 MB of Python floats; a file with more points is read twice
_PIECE = 128  # lines: a chunk that is not all plain numbers is tried again in pieces of this size
_MATRIX = msgspec.json.Decoder(list[list[float | None]])

Column = Sequence[float | None]


def read_metrics(lines: CsvLines, warnings: list[str], held_points: int = HELD_POINTS) -> dict[str, Series]:
    """Series from the CSV's lines (header first); x is step, else epoch, else the row index ("row").

    A line repeating the header's first name (a header rewritten mid-file) starts a part read with it.
    """
    held = _Held(held_points)
    fold = _Fold(held)
    fold.read(lines)
    warnings.extend(lines.problems)
    if lines.discard:
        return {}
    warnings.extend(fold.warnings())
    if held.complete:
        return held.series(fold.axis)
    enveloped = _Enveloped(held)
    _Fold(enveloped).read(lines)
    if enveloped.changed():
        warnings.append("metrics.csv: changed while it was read; its plots may miss points")
    return enveloped.series(fold.axis)


class _Held:
    """The first pass: each series' points while they are few in all, and always their counts."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.complete = True  # every point is held
        self.points = 0
        self.counts: dict[str, int] = {}  # in the order the series were found
        self.epochs: dict[str, int] = {}  # points with an epoch
        self._held: dict[str, tuple[list[float], list[float], list[float]]] = {}

    def add(self, name: str, ys: Column, xs: Column, epochs: Column | None) -> None:
        self.counts[name] = self.counts.get(name, 0) + len(ys)
        self.epochs[name] = self.epochs.get(name, 0) + (len(ys) if epochs is not None else 0)
        if not self.complete:
            return
        self.points += len(ys)
        if self.points > self.limit:
            self.complete = False
            self._held.clear()
            return
        y, x, epoch = self._held.setdefault(name, ([], [], []))
        y.extend(ys)
        x.extend(xs)
        epoch.extend(epochs or ())

    def keeps_epoch(self, name: str) -> bool:
        """Every point of the series has an epoch (the x axis is step), so it keeps that axis."""
        return self.epochs[name] == self.counts[name]

    def series(self, axis: str) -> dict[str, Series]:
        found = {}
        for name, count in self.counts.items():
            if not count:
                continue
            y, x, epoch = self._held[name]
            columns = (x, epoch) if self.keeps_epoch(name) else (x,)
            if count > PLOT_POINTS:
                envelope = Envelope(count, PLOT_POINTS, len(columns))
                envelope.add(y, *columns)
                y, columns = envelope.points()
            found[name] = _series(axis, y, columns, count)
        return found


class _Enveloped:
    """The second pass: each series as the points its plot shows, from its count in the first."""

    def __init__(self, held: _Held) -> None:
        self.envelopes = {name: (Envelope(count, PLOT_POINTS, 2 if held.keeps_epoch(name) else 1),
                                 held.keeps_epoch(name)) for name, count in held.counts.items() if count}
        self.counts = {name: 0 for name in self.envelopes}  # the first pass's, if the file is the same
        self.unexpected = False  # a point the first pass did not see

    def add(self, name: str, ys: Column, xs: Column, epochs: Column | None) -> None:
        if not ys:
            return
        if name not in self.envelopes:
            self.unexpected = True
            return
        self.counts[name] += len(ys)
        envelope, with_epoch = self.envelopes[name]
        if with_epoch and epochs is None:
            self.unexpected = True
        elif with_epoch:
            envelope.add(ys, xs, epochs)
        else:
            envelope.add(ys, xs)

    def changed(self) -> bool:
        """The file read differently the second time (rewritten in place between the passes)."""
        lengths = {name: envelope.length for name, (envelope, _with_epoch) in self.envelopes.items()}
        return self.unexpected or self.counts != lengths

    def series(self, axis: str) -> dict[str, Series]:
        found = {}
        for name, (envelope, _with_epoch) in self.envelopes.items():
            y, columns = envelope.points()
            if y:
                found[name] = _series(axis, y, columns, envelope.length)
        return found


def _series(axis: str, y: list[float], columns: Sequence[list[float]], count: int) -> Series:
    x = dict(zip((axis, "epoch"), columns, strict=False))
    return Series(y, x, downsampled_from=count if count > len(y) else None)


class _Fold:
    """One pass over the lines: parts, their rows, and each metric's points handed to `sink`."""

    def __init__(self, sink: _Held | _Enveloped) -> None:
        self.sink = sink
        self.axis = "row"
        self.header: list[str] | None = None
        self.first: str | None = None  # the header's first name, when a line repeating it starts a part
        self.part: _Part | None = None
        self.lines = 0  # lines seen, the header's included
        self.body_lines = 0  # lines seen in the parts' bodies
        self.repeats = 0
        self.part_problems: list[str] = []
        self.tally = {"bad": 0, "no_x": 0, "long": 0}

    def read(self, chunks: Iterable[list[str]]) -> None:
        for chunk in chunks:
            self._chunk(chunk)
        self._end_part()

    def warnings(self) -> list[str]:
        messages = {"bad": "cells are not finite numbers (NaN, Inf or text); skipped",
                    "no_x": f"values have no {self.axis}; skipped",
                    "long": "rows have more cells than the header; extra cells ignored"}
        found = [f"header repeated {self.repeats} times; parts read with their own"] if self.repeats else []
        found += self.part_problems
        found += [f"{self.tally[key]} {text}" for key, text in messages.items() if self.tally[key]]
        return [f"metrics.csv: {text}" for text in found]

    def _chunk(self, chunk: list[str]) -> None:
        start = 0
        if self.header is None:
            self._read_header(chunk[0])
            start = 1
        if not self.header:
            return  # no header: nothing to read
        for at in self._repeated_headers(chunk, start):
            self._body(chunk[start:at])
            self.repeats += 1
            self._start_part(_cells(chunk[at]))
            start = at + 1
        self._body(chunk[start:])

    def _read_header(self, line: str) -> None:
        self.header = _cells(line)
        if not self.header:
            return
        self.axis = next((name for name in AXES if name in self.header), "row")
        first = self.header[0]
        self.first = first if first and not _is_number(first) else None
        self._start_part(self.header)

    def _repeated_headers(self, chunk: list[str], start: int) -> list[int]:
        first = self.first
        if first is None or "\n" + first not in "\n" + "\n".join(chunk[start:]):
            return []
        return [i for i in range(start, len(chunk))
                if chunk[i].startswith(first) and _cells(chunk[i])[:1] == [first]]

    def _start_part(self, header: list[str]) -> None:
        self._end_part()
        self.part = _Part(header, self.axis, self.body_lines)
        self.lines += 1

    def _end_part(self) -> None:
        part = self.part
        if part is not None and part.errors:
            self.part_problems.append(f"{part.errors} lines unreadable, skipped ({part.first_error})")
        self.part = None

    def _body(self, lines: list[str]) -> None:
        if not lines or self.part is None:
            return
        part = self.part
        first_line = self.lines + 1
        self.lines += len(lines)
        self.body_lines += len(lines)
        matrix = self._values(lines, first_line)
        if not matrix:
            return
        columns = list(zip(*matrix, strict=True))
        x_by_row, epochs = part.axes(columns, len(matrix))
        for name, index in part.columns.items():
            if name and name not in AXES:
                self._add_points(name, columns[index], x_by_row, epochs)

    def _values(self, lines: list[str], first_line: int) -> list[list[float | None]]:
        """One row of values per readable line, one value per header name: pieces of plain numbers
        at C speed, the rest (a NaN here and there, text, quotes) cell by cell."""
        assert self.part is not None
        width = len(self.part.header)
        matrix = _decode_as_json(lines, width)
        if matrix is not None:
            return matrix
        if len(lines) > _PIECE:
            matrix = []
            for at in range(0, len(lines), _PIECE):
                matrix += self._values(lines[at:at + _PIECE], first_line + at)
            return matrix
        rows, errors = csv_rows(lines, first_line)
        self.part.note_errors(errors)
        return [_row_values(row, width, self.tally) for row in rows]

    def _add_points(self, name: str, column: Column, x_by_row: Column, epochs: Column | None) -> None:
        present: Sequence[int] = range(len(column))
        if None in column:
            present = [i for i, value in enumerate(column) if value is not None]
        xs = _pick(x_by_row, present)
        if None in xs:
            self.tally["no_x"] += xs.count(None)
            present = [i for i in present if x_by_row[i] is not None]
            xs = _pick(x_by_row, present)
        epoch_xs = _pick(epochs, present) if epochs is not None else None
        if epoch_xs is not None and None in epoch_xs:
            epoch_xs = None  # the series keeps an epoch axis only if every point has one
        self.sink.add(name, _pick(column, present), xs, epoch_xs)


class _Part:
    """A header and the rows read with it so far."""

    def __init__(self, header: list[str], axis: str, first_row: int) -> None:
        self.header = header
        self.columns = {name: i for i, name in enumerate(header)}  # a repeated name: its last column
        self.axis = axis
        self.first_row = first_row  # body lines before this part: the "row" axis counts on from here
        self.rows = 0  # rows read in this part
        self.epoch: float | None = None  # the last epoch seen, carried forward to rows without one
        self.errors = 0
        self.first_error = ""

    def axes(self, columns: list[tuple], rows: int) -> tuple[Column, Column | None]:
        """The x of each row, and its epoch (carried forward) when x is the step."""
        if self.axis == "row":
            x_by_row: Column = [float(self.first_row + self.rows + i) for i in range(rows)]
        else:
            x_by_row = columns[self.columns[self.axis]] if self.axis in self.columns else (None,) * rows
        self.rows += rows
        if self.axis != "step" or "epoch" not in self.columns:
            return x_by_row, None
        epochs = columns[self.columns["epoch"]]
        if None not in epochs:
            self.epoch = epochs[-1]
            return x_by_row, epochs
        filled = []
        for value in epochs:
            self.epoch = value if value is not None else self.epoch
            filled.append(self.epoch)
        return x_by_row, filled

    def note_errors(self, errors: list[str]) -> None:
        if errors and not self.errors:
            self.first_error = errors[0]
        self.errors += len(errors)


def _decode_as_json(body: list[str], width: int) -> list[list[float | None]] | None:
    """The fast path: plain numeric lines are a JSON array once empty cells read `null`.

    One C-level decode instead of a float() per cell; anything else (quotes, NaN, text, ragged
    rows, a `null` written out, which is text like any other) returns None and is read cell by cell.
    """
    if not body:
        return None
    text = "[[" + "],[".join(body) + "]]"
    if "null" in text:
        return None
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
