"""An append-only file of framed records, each tagged with the id of the snapshot it follows.

A frame is its body's length and CRC32, then the body: the 8-byte snapshot id and the payload.
Reading stops at the first frame that is cut short or does not match its CRC (a build killed
while appending, or a damaged file): what follows it is never trusted, and the next append
overwrites it. Frames of another snapshot (left when a build was killed between writing a new
snapshot and removing the old log) are skipped.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import NamedTuple

from sitegen.write import flush_data, sync_directory

_HEAD = struct.Struct("<II")  # body length, CRC32 of the body
ID_BYTES = 8
_OPEN = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


class Replay(NamedTuple):
    payloads: list[bytes]  # of the frames tagged with the snapshot's id, in order
    end: int  # where the frames that can be trusted end: the next frame is written there


def read(path: str, snapshot_id: bytes) -> Replay:
    """The payloads appended after snapshot `snapshot_id`; none when the log is missing."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return Replay([], 0)
    payloads, offset, end = [], 0, 0
    while offset + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, offset)
        body = data[offset + _HEAD.size:offset + _HEAD.size + length]
        if length < ID_BYTES or len(body) != length or zlib.crc32(body) != crc:
            break
        offset += _HEAD.size + length
        if body[:ID_BYTES] == snapshot_id:
            payloads.append(body[ID_BYTES:])
            end = offset
    return Replay(payloads, end)


def append(path: str, snapshot_id: bytes, payload: bytes, end: int) -> int:
    """Write one frame at `end` (what `read` found trustworthy; anything after it is cut off),
    durably: the data and, for a new file, its directory entry. Returns the new end."""
    body = snapshot_id + payload
    frame = _HEAD.pack(len(body), zlib.crc32(body)) + body
    created = not os.path.exists(path)
    fd = os.open(path, _OPEN, 0o644)
    try:
        os.ftruncate(fd, end)
        os.lseek(fd, end, os.SEEK_SET)
        view = memoryview(frame)
        while view:
            view = view[os.write(fd, view):]
        flush_data(fd)
    finally:
        os.close(fd)
    if created:
        sync_directory(os.path.dirname(path))
    return end + len(frame)

