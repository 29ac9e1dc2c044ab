"""The one writer for everything under the output directory: atomic, only when bytes change."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from sitegen.errors import OutputUnwritable
from sitegen.paths import is_site_path

# O_TRUNC: a temporary left by a killed build with the same pid is simply overwritten.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_COPY_BLOCK = 1 << 20


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def write_atomic(
    path: str, data: bytes | Iterable[bytes], *, within: str | None, durable: bool = False
) -> None:
    """Write `data` (or its blocks, in order) via a temporary file in the same directory and a rename.

    A reader (or a build killed mid-write) sees the old file or the new one, never a mix.
    Pages skip the fsync here; the build makes the files it wrote durable together
    (`make_durable`) before the manifest, which is written `durable`.
    A file in the output directory `within` is never written through a link below it (the
    output may be restored from a cache others can write); None: a path the user named.
    """
    directory, name = os.path.split(path)
    if within is not None and not stays_inside(within, directory):
        raise OutputUnwritable(f"{directory} is a link out of the output directory {within}; "
                               "remove it (sitegen never writes through a link in its output)")
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


SYNC_FILE_SYSTEM_ABOVE = 2000  # files; above, one syncfs is cheaper than an fdatasync each (BENCHMARKS.md)


def make_durable(out: str, paths: Iterable[str], threads: int = 16) -> None:
    """Flush the files at `paths` (relative to `out`, written by this build; a missing one is
    skipped) and the directories that hold them, up to `out`: what a machine-wide `sync()`
    would do for them alone. fsync waits on the disk without the GIL, so threads overlap the
    waits; for thousands of files (a full build), one syncfs of the output's file system."""
    files = [os.path.join(out, path) for path in paths]
    if not files or (len(files) > SYNC_FILE_SYSTEM_ABOVE and _sync_file_system(out)):
        return
    directories = {out}
    for path in files:
        directory = os.path.dirname(path)
        while directory not in directories and len(directory) > len(out):
            directories.add(directory)
            directory = os.path.dirname(directory)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(_flush_file, files))
        list(pool.map(sync_directory, sorted(directories)))


def _sync_file_system(path: str) -> bool:
    """syncfs(2) of the file system that holds `path` (Linux): its dirty data, this build's
    among it, and no other file system's; False where the call is missing or fails."""
    import ctypes

    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        return syncfs(fd) == 0
    finally:
        os.close(fd)


def _flush_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # removed since, or not a file this build can open: nothing of ours to flush
        return
    try:
        flush_data(fd)
    finally:
        os.close(fd)


flush_data = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def sync_directory(path: str) -> None:
    """Make the entries of directory `path` (files created, renamed, removed) durable; quietly
    nothing where the file system cannot (some refuse an fsync of a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_if_changed(path: str, data: bytes, previous_hash: str | None, *, within: str) -> tuple[str, bool]:
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
    write_atomic(path, data, within=within)
    return digest, True


def copy_if_changed(
    source: BinaryIO, path: str, previous_hash: str | None, *, within: str
) -> tuple[str, bool]:
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
    write_atomic(path, _hashed_blocks(source, copied), within=within)
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


def remove_page(out: str, path: str) -> bool:
    """Delete a file the build wrote at `path` (relative to `out`, as the manifest or the journal
    name it), and the directories it leaves empty. False, and nothing touched, when the path
    is not of a form sitegen writes or leads out of `out` through a link: both are read back
    from files in the output directory, which others may have written."""
    target = os.path.join(out, path)
    if not is_site_path(path) or not stays_inside(out, os.path.dirname(target)):
        return False
    remove(target, stop_at=out)
    return True


def stays_inside(out: str, directory: str) -> bool:
    """Whether `directory` is `out` or below it with no link on the way (`out` itself may be
    a link: the user chose it). A part that does not exist yet is made by the writer."""
    rel = os.path.relpath(directory, out)
    if rel == os.curdir:
        return True
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return False
    path = out
    for part in rel.split(os.sep):
        path = os.path.join(path, part)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return False
        except OSError:  # missing (made by the writer) or unusable (the writer says why)
            return True
    return True


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


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
