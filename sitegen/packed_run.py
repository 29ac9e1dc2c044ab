"""A run as the build cache keeps it, a third of its msgpack size: the run without its series
(msgpack) and the series' values as byte-shuffled float64, compressed together with zlib.

Shuffling puts the first byte of every float together, then every second byte, and so on: the
sign, exponent and high mantissa bytes of a metric's values repeat, and compress well once
they are side by side. Identical columns (the step axis that several series share) are stored
once. The bytes are input too (the cache can be restored from elsewhere): `unpack` raises
ValueError for anything that is not a whole run of this format, and never allocates more than
the run's declared size.
"""

from __future__ import annotations

import sys
import zlib
from array import array

import msgspec

from sitegen.model import Run, Series

FORMAT = 1
_FLOAT = 8  # bytes
_LEVEL = 3  # zlib: higher levels gain 1 % for twice the time (level 1 is slower on these bytes)
_MAX_BYTES = 1 << 30  # inflated: more is not a run this build wrote


class _PackedSeries(msgspec.Struct, array_like=True):
    name: str
    y: int  # index of its column
    x: dict[str, int]
    downsampled_from: int | None


class _Packed(msgspec.Struct, array_like=True):
    format: int
    series: list[_PackedSeries]
    lengths: list[int]  # of each column, in floats
    header_size: int  # bytes of the run without its series, msgpack
    data: bytes  # that header, then the columns one after another, shuffled; compressed


_DECODER = msgspec.msgpack.Decoder(_Packed)
_RUN_DECODER = msgspec.msgpack.Decoder(Run)


def pack(run: Run) -> bytes:
    columns: dict[bytes, int] = {}

    def column(values: list[float]) -> int:
        return columns.setdefault(_float_bytes(values), len(columns))

    series = [_PackedSeries(name, column(line.y), {axis: column(x) for axis, x in line.x.items()},
                            line.downsampled_from) for name, line in run.series.items()]
    header = msgspec.msgpack.encode(msgspec.structs.replace(run, series={}))
    data = zlib.compress(header + _shuffle(b"".join(columns)), _LEVEL)
    lengths = [len(column) // _FLOAT for column in columns]
    return msgspec.msgpack.encode(_Packed(FORMAT, series, lengths, len(header), data))


def unpack(data: bytes) -> Run:
    """The run `pack` wrote; ValueError when `data` is not one of this format."""
    try:
        packed = _DECODER.decode(data)
        if packed.format != FORMAT:
            raise ValueError(f"packed run format {packed.format}, expected {FORMAT}")
        floats = sum(packed.lengths)
        size = packed.header_size + floats * _FLOAT
        if min(packed.lengths, default=0) < 0 or not 0 <= packed.header_size <= size <= _MAX_BYTES:
            raise ValueError("packed run: impossible sizes")
        inflated = _inflate(packed.data, size)
        run = _RUN_DECODER.decode(inflated[:packed.header_size])
    except msgspec.MsgspecError as exc:
        raise ValueError(f"not a packed run: {exc}") from None
    columns = _columns(_unshuffle(inflated[packed.header_size:], floats), packed.lengths)
    try:
        series = {s.name: Series(columns[s.y], {a: columns[i] for a, i in s.x.items()}, s.downsampled_from)
                  for s in packed.series}
    except IndexError:
        raise ValueError("packed run: a series names a column it does not have") from None
    return msgspec.structs.replace(run, series=series)


def _float_bytes(values: list[float]) -> bytes:
    floats = array("d", values)
    if sys.byteorder == "big":  # the cache is little-endian wherever it was written
        floats.byteswap()
    return floats.tobytes()


def _shuffle(data: bytes) -> bytes:
    return b"".join(data[i::_FLOAT] for i in range(_FLOAT))


def _unshuffle(data: bytes, count: int) -> bytes:
    out = bytearray(len(data))
    for i in range(_FLOAT):
        out[i::_FLOAT] = data[i * count:(i + 1) * count]
    return bytes(out)


def _inflate(compressed: bytes, size: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, size)
    except zlib.error as exc:
        raise ValueError(f"packed run: {exc}") from None
    if len(data) != size or inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("packed run: its values do not match their declared size")
    return data


def _columns(data: bytes, lengths: list[int]) -> list[list[float]]:
    floats = array("d", data)
    if sys.byteorder == "big":
        floats.byteswap()
    columns, start = [], 0
    for length in lengths:
        columns.append(floats[start:start + length].tolist())
        start += length
    return columns
