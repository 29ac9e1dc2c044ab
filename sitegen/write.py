"""The one writer for everything under the output directory: atomic, only when bytes change."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

# O_TRUNC: a temporary left by a killed build with the same pid is simply overwritten.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_COPY_BLOCK = 1 << 20


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def write_atomic(path: str, data: bytes | Iterable[bytes], *, durable: bool = False) -> None:
    """Write `data` (or its blocks, in order) via a temporary file in the same directory and a rename.

    A reader (or a build killed mid-write) sees the old file or the new one, never a mix.
    Pages skip the per-file fsync (it would cost more than rendering them); the build
    flushes once with `os.sync()` before the manifest, which is written `durable`.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}.part")
    try:
        fd = os.open(tmp, _CREATE, 0o644)
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(tmp, _CREATE, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                handle.writelines(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def write_if_changed(path: str, data: bytes, previous_hash: str | None) -> tuple[str, bool]:
    """Write `data` unless the file already holds it; returns (content hash, written?).

    `previous_hash` is what the manifest says the file holds; without one (None or "": a
    --full build, a lost or distrusted cache) the file on disk is compared. A page deleted
    by hand comes back.
    """
    digest = content_hash(data)
    if not previous_hash:
        previous_hash = _hash_on_disk(path)
    if digest == previous_hash and os.path.exists(path):
        return digest, False
    write_atomic(path, data)
    return digest, True


def copy_if_changed(source: BinaryIO, path: str, previous_hash: str | None) -> tuple[str, bool]:
    """`write_if_changed` for a copy of the open file `source`, read a block at a time (a run's
    metrics.csv can be larger than the memory a build may take).

    The hash returned is of the bytes copied, should the source grow meanwhile.
    """
    digest = _hash_of(source)
    if not previous_hash:
        previous_hash = _hash_on_disk(path)
    if digest == previous_hash and os.path.exists(path):
        return digest, False
    source.seek(0)
    copied = _new_hash()
    write_atomic(path, _hashed_blocks(source, copied))
    return copied.hexdigest(), True


def _new_hash() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16)  # content_hash's


def _hash_of(handle: BinaryIO) -> str:
    return hashlib.file_digest(handle, _new_hash).hexdigest()


def _hashed_blocks(handle: BinaryIO, digest: hashlib.blake2b) -> Iterator[bytes]:
    while block := handle.read(_COPY_BLOCK):
        digest.update(block)
        yield block


def _hash_on_disk(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return _hash_of(handle)
    except OSError:
        return None


def remove(path: str, stop_at: str) -> None:
    """Delete a file we wrote, and the directories it leaves empty, up to `stop_at`."""
    _unlink_quietly(path)
    directory = os.path.dirname(path)
    stop = os.path.abspath(stop_at)
    while os.path.abspath(directory).startswith(stop + os.sep):
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = os.path.dirname(directory)


def remove_stale_temporaries(directory: str) -> None:
    """Temporaries left by a killed build; called under the build lock."""
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            if name.startswith(".tmp-") and name.endswith(".part"):
                _unlink_quietly(os.path.join(dirpath, name))


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
