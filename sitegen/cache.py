"""The only module that decides staleness: fingerprints, the manifest, racy files, the lock.

The manifest is msgpack (never pickle) with a format version, kept as a snapshot and a log
of each build's changes (`ManifestStore`); a missing, corrupt or old manifest means a full
build, never an error. The snapshot is written and read in parts, so that its bytes (84 MB at
100,000 runs) are never held whole beside the manifest they decode to. Over 500 lines: the
lock stays beside the manifest until the fence being added to it lands; then it can move to a
module of its own.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import operator
import os
import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import msgspec

from sitegen import packed_run, record_log
from sitegen.errors import OutputLocked, OutputUnwritable
from sitegen.model import Run
from sitegen.paths import CACHE_DIR, is_slug
from sitegen.shards import NEW
from sitegen.write import sync_directory, write_atomic

if TYPE_CHECKING:  # imported when steps are loaded: a no-op build never needs them
    from sitegen.analysis.regressions import Rule, Step
    from sitegen.analysis.trends import Trend
    from sitegen.render.report_blocks import Block

MANIFEST_FORMAT = 11
MISSING = (0, 0, -1, 0)

Stamp = tuple[int, int, int, int]  # mtime_ns, ctime_ns, size, inode


class DirEntry(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """A listed directory: its mtime, its sub-directories, the reader that claims it, and its
    entries that are MLflow stores (an `mlruns/` folder, an `mlflow.db` file)."""

    mtime_ns: int
    subdirs: tuple[str, ...]  # tuples: an empty one costs nothing, and a run's directory has none
    reader: str | None
    stores: tuple[str, ...] = ()


class RunRecord(msgspec.Struct, array_like=True, gc=False):
    root: str
    run_id: str
    run_dir: str
    reader: str
    reader_version: int
    slug: str
    inputs: str  # relative to run_dir, joined by "\0" (`pack_inputs`): one string, not a list of them
    stamps: bytes  # theirs, in `pack_stamps`' 32 bytes each, not tuples of four Python ints
    token: str  # a store run's change token (no files to stamp); "" for directory runs
    fingerprint: str
    racy: bool
    shown_status: str  # the status its pages show
    live_until: float | None  # when a live run would be shown as stalled, if no input changes
    render_key: str  # what its pages were rendered from
    pages: str  # its output paths and their content hashes, in `pack_pages`' one string
    shard: int = NEW  # its listing's shard (`shards.placed`); NEW in a cache from before shards were kept


class PageRecord(msgspec.Struct, array_like=True, gc=False):
    input_hash: str
    content_hash: str


class Manifest(msgspec.Struct):
    dirs: dict[str, DirEntry] = {}
    runs: dict[str, RunRecord] = {}  # key: root + "\0" + run_id
    pages: dict[str, PageRecord] = {}  # site-wide pages (index, runs.json, content, assets)
    listing_shards: int = 1  # the shards in use: in a cache from before runs kept theirs, their hash's count


def cache_dir(out: str) -> str:
    return os.path.join(out, CACHE_DIR)


def load_manifest(out: str, version: str) -> tuple[Manifest, str | None]:
    """The previous build's manifest, or an empty one and the reason for a full build."""
    return ManifestStore(out).load(version)


def save_manifest(out: str, manifest: Manifest, version: str) -> None:
    """Write `manifest` as a whole new snapshot (what a build does now and then)."""
    ManifestStore(out).save(manifest, version)
_OTHER_VERSION = "the build cache is from another sitegen than {}; rebuilding everything"
_UNREADABLE = "the build cache was unreadable; rebuilding everything"
_SNAPSHOT = "manifest-snapshot.msgpack"
_LOG = "manifest-log"
_FORMAT_8 = ("manifest.msgpack", "listings.msgpack")  # whole, rewritten by every build
FOLD_AT = 4  # a new snapshot once the log is more than 1/FOLD_AT of it


class _Head(msgspec.Struct):
    """The snapshot's first part; the ones that follow are `_Change`s applied in order."""

    format: int = 0
    version: str = ""
    id: bytes = b""  # what the log's frames that follow this snapshot are tagged with
    listing_shards: int = 1
    parts: int = 0


class _Unreadable(Exception):
    pass


class _OtherVersion(Exception):
    pass


class _Change(msgspec.Struct, omit_defaults=True):
    """What one build changed in the manifest: a frame of the log."""

    runs: dict[str, RunRecord] = {}
    runs_removed: list[str] = []
    pages: dict[str, PageRecord] = {}
    pages_removed: list[str] = []
    dirs: dict[str, DirEntry] = {}
    dirs_removed: list[str] = []
    listing_shards: int = 0  # 0: as before


class ManifestStore:
    """The manifest on disk: a snapshot, written whole now and then, and a log of what each
    build changed since (so that a build writes what it changed, and a no-op nothing)."""

    def __init__(self, out: str) -> None:
        self.directory = cache_dir(out)
        self._saved: Manifest | None = None  # the manifest as on disk, when it was loaded
        self._id = b""
        self._snapshot_bytes = 0
        self._log_end = 0

    def load(self, version: str) -> tuple[Manifest, str | None]:
        """The previous build's manifest, or an empty one and the reason for a full build."""
        manifest, reason = self._read(version)
        if manifest is None:
            return Manifest(), reason
        self._saved = manifest
        return _copy(manifest), None

    def _read(self, version: str) -> tuple[Manifest | None, str | None]:
        try:
            with open(os.path.join(self.directory, _SNAPSHOT), "rb") as handle:
                head, manifest = _read_snapshot(handle, version)
                snapshot_bytes = handle.tell()
        except FileNotFoundError:
            old = os.path.exists(os.path.join(self.directory, _FORMAT_8[0]))
            return None, _OTHER_VERSION.format(version) if old else None
        except _OtherVersion:
            return None, _OTHER_VERSION.format(version)
        except (OSError, _Unreadable):
            return None, _UNREADABLE
        replay = record_log.read(os.path.join(self.directory, _LOG), head.id)
        try:
            changes = [_CHANGE_DECODER.decode(payload) for payload in replay.payloads]
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None, _UNREADABLE
        for change in changes:
            _apply(manifest, change)
        self._id, self._snapshot_bytes, self._log_end = head.id, snapshot_bytes, replay.end
        return manifest, None

    def save(self, manifest: Manifest, version: str) -> bool:
        """Record `manifest` durably; False when it is the one loaded (nothing is written)."""
        if self._saved is None:
            self._fold(manifest, version)
            return True
        change = _change(self._saved, manifest)
        if change == _NO_CHANGE:
            return False
        payload = msgspec.msgpack.encode(change)
        if (self._log_end + len(payload)) * FOLD_AT > self._snapshot_bytes:
            self._fold(manifest, version)
        else:
            log = os.path.join(self.directory, _LOG)
            self._log_end = record_log.append(log, self._id, payload, self._log_end)
        self._saved = manifest
        return True

    def _fold(self, manifest: Manifest, version: str) -> None:
        """A new snapshot, then no log: frames of the old snapshot left by a kill are skipped."""
        self._id = os.urandom(record_log.ID_BYTES)
        path = os.path.join(self.directory, _SNAPSHOT)
        parts = _snapshot_parts(manifest, version, self._id)
        write_atomic(path, parts, within=os.path.dirname(self.directory), durable=True)
        for name in (_LOG, *_FORMAT_8):
            _unlink_quietly(os.path.join(self.directory, name))
        sync_directory(self.directory)
        self._snapshot_bytes, self._log_end = os.path.getsize(path), 0


_CHANGE_DECODER = msgspec.msgpack.Decoder(_Change)
_HEAD_DECODER = msgspec.msgpack.Decoder(_Head)
_NO_CHANGE = _Change()
_PART_LENGTH = struct.Struct("<I")
_RECORDS_PER_PART = 4096


def _snapshot_parts(manifest: Manifest, version: str, snapshot_id: bytes) -> Iterator[bytes]:
    """The snapshot's bytes, a part at a time, each after its length: the head, then changes
    that each add up to _RECORDS_PER_PART records to an empty manifest."""
    tables = {"runs": manifest.runs, "pages": manifest.pages, "dirs": manifest.dirs}
    parts = sum(-(-len(records) // _RECORDS_PER_PART) for records in tables.values())
    head = _Head(MANIFEST_FORMAT, version, snapshot_id, manifest.listing_shards, parts)
    changes = (_Change(**{name: part}) for name, records in tables.items() for part in _split(records))
    for payload in map(msgspec.msgpack.encode, itertools.chain([head], changes)):
        yield _PART_LENGTH.pack(len(payload)) + payload


def _split(records: dict) -> Iterator[dict]:
    items = iter(records.items())
    while part := dict(itertools.islice(items, _RECORDS_PER_PART)):
        yield part


def _read_snapshot(handle: BinaryIO, version: str) -> tuple[_Head, Manifest]:
    try:
        head = _HEAD_DECODER.decode(_read_part(handle))
        if head.format != MANIFEST_FORMAT or head.version != version:
            raise _OtherVersion
        if len(head.id) != record_log.ID_BYTES:
            raise _Unreadable
        manifest = Manifest(listing_shards=head.listing_shards)
        for _ in range(head.parts):
            _apply(manifest, _CHANGE_DECODER.decode(_read_part(handle)))
    except (_Unreadable, msgspec.DecodeError, msgspec.ValidationError):
        if _earlier_format(handle):
            raise _OtherVersion from None
        raise _Unreadable from None
    return head, manifest


def _read_part(handle: BinaryIO) -> bytes:
    size = handle.read(_PART_LENGTH.size)
    if len(size) != _PART_LENGTH.size:
        raise _Unreadable
    (length,) = _PART_LENGTH.unpack(size)
    payload = handle.read(length)
    if len(payload) != length:
        raise _Unreadable
    return payload


def _earlier_format(handle: BinaryIO) -> bool:
    """Whether an unreadable snapshot is one an earlier format wrote whole (msgpack, its format first)."""
    handle.seek(0)
    try:
        head = msgspec.msgpack.decode(handle.read(), type=_Head)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False
    return head.format != MANIFEST_FORMAT


def _copy(manifest: Manifest) -> Manifest:
    """A manifest whose dicts the build may change without changing the one loaded."""
    return Manifest(dict(manifest.dirs), dict(manifest.runs), dict(manifest.pages), manifest.listing_shards)


def _change(old: Manifest, new: Manifest) -> _Change:
    runs, runs_removed = _changed(old.runs, new.runs)
    pages, pages_removed = _changed(old.pages, new.pages)
    dirs, dirs_removed = _changed(old.dirs, new.dirs)
    shards = new.listing_shards if new.listing_shards != old.listing_shards else 0
    return _Change(runs, runs_removed, pages, pages_removed, dirs, dirs_removed, shards)


def _changed(old: dict, new: dict) -> tuple[dict, list[str]]:
    """What `new` changed or added, and the keys it lost: none, without looking at every key,
    when it holds as many as `old` besides those it added. A value that is the very object `old`
    holds (most of them: a build keeps what did not change) is passed over at C speed."""
    replaced = itertools.compress(new, map(operator.is_not, map(old.get, new), new.values()))
    changed = {key: new[key] for key in replaced if old.get(key) != new[key]}
    added = sum(1 for key in changed if key not in old)
    if len(new) - added == len(old):
        return changed, []
    return changed, [key for key in old if key not in new]


def _apply(manifest: Manifest, change: _Change) -> None:
    for records, updated, removed in ((manifest.runs, change.runs, change.runs_removed),
                                      (manifest.pages, change.pages, change.pages_removed),
                                      (manifest.dirs, change.dirs, change.dirs_removed)):
        records.update(updated)
        for key in removed:
            records.pop(key, None)
    manifest.listing_shards = change.listing_shards or manifest.listing_shards


def distrust_outputs(manifest: Manifest) -> Manifest:
    """The manifest after an interrupted build: what it says about inputs holds, what it says
    about pages may not (the killed build may have rewritten pages for an input that has since
    changed back). Every page is rendered again and compared with the bytes on disk."""
    runs = {key: msgspec.structs.replace(
                record, render_key="", pages=pack_pages(record.slug, dict.fromkeys(record_pages(record), "")))
            for key, record in manifest.runs.items()}
    pages = {path: PageRecord("", "") for path in manifest.pages}
    return msgspec.structs.replace(manifest, runs=runs, pages=pages)


def run_key(root: str, run_id: str) -> str:
    return f"{root}\0{run_id}"


# --- fingerprints -----------------------------------------------------------------


def stamp(path: str) -> Stamp:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return MISSING
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def fingerprint(reader_version: int, stamps: list[Stamp], content: bytes) -> str:
    """Stamps say when to read again; the content makes a same-stamp (racy) change visible."""
    digest = hashlib.blake2b(msgspec.msgpack.encode([reader_version, stamps]), digest_size=12)
    digest.update(content)
    return digest.hexdigest()


def is_racy(
    stamps: list[Stamp], build_started_ns: int, window_s: float, token: str = "", failed: bool = False
) -> bool:
    """Whether the next build reads the run again even if nothing seems to change: a file touched
    within the window before the build started may still change unseen; a store run whose read
    failed most likely met a network blip (its last good data is shown meanwhile)."""
    if token:
        return failed
    limit = build_started_ns - int(window_s * 1e9)
    return any(mtime >= limit for mtime, _ctime, size, _ino in stamps if size >= 0)


def unchanged(record: RunRecord, token: str = "", dir_stamp: Stamp | None = None) -> bool:
    """True when every input of a cached run stats exactly as it did when it was read, or, for a
    run in a tracking store, when the store gives the same change token as then. `dir_stamp`:
    the run directory's stamp when the caller has it (discovery stat'ed it)."""
    if record.racy:
        return False
    if token or record.token:
        return token == record.token
    inputs = input_stamps(record)
    if inputs is None:
        return False
    run_dir = record.run_dir if dir_stamp is not None else None
    for path, old in inputs:  # noqa: SIM110 (a loop: faster than all() on the no-op's hottest line)
        if (dir_stamp if path == run_dir else stamp(path)) != old:
            return False
    return True


def relative_inputs(run_dir: str, inputs: tuple[str, ...]) -> list[str]:
    return [os.path.relpath(p, run_dir) for p in inputs] or ["."]


_PACKED_STAMP = struct.Struct("<qqqQ")


def pack_inputs(relative: list[str]) -> str:
    return "\0".join(relative)


def pack_stamps(stamps: list[Stamp]) -> bytes:
    return b"".join(_PACKED_STAMP.pack(*s) for s in stamps)


def input_stamps(record: RunRecord) -> Iterator[tuple[str, Stamp]] | None:
    """Each input of a directory run (its full path) with its stamp when it was read, one by one;
    None when the record does not hold one stamp per input (the manifest is input too)."""
    relative = record.inputs.split("\0") if record.inputs else []
    if len(record.stamps) != _PACKED_STAMP.size * len(relative):
        return None
    base = record.run_dir
    paths = (f"{base}/{rel}" if rel != "." else base for rel in relative)
    return zip(paths, _PACKED_STAMP.iter_unpack(record.stamps), strict=True)


def pack_pages(slug: str, pages: dict[str, str]) -> str:
    """A run's pages as one string of `path\0hash` pairs (a dict of strings costs a kilobyte a
    run in memory): a path in the run's own directory without its `runs/<slug>/`, another one
    after a `/` (the manifest is input too: it may name any path)."""
    own = f"runs/{slug}/"
    return "\0".join(f"{path.removeprefix(own) if path.startswith(own) else '/' + path}\0{digest}"
                      for path, digest in pages.items())


def record_pages(record: RunRecord) -> dict[str, str]:
    """The run's pages (output path → content hash) from `pack_pages`; none when malformed."""
    if not record.pages:
        return {}
    parts = record.pages.split("\0")
    if len(parts) % 2:
        return {}
    own = f"runs/{record.slug}/"
    return {path[1:] if path.startswith("/") else own + path: digest
            for path, digest in zip(parts[::2], parts[1::2], strict=True)}


def page_count(record: RunRecord) -> int:
    return (record.pages.count("\0") + 1) // 2 if record.pages else 0


# --- cached runs ------------------------------------------------------------------


class Listing(msgspec.Struct, array_like=True):
    """A run as the pages about all runs need it: its header, and its entries in the index's
    data and in runs.json, serialized when the run was rendered (so that one changed run does
    not serialize every other run again)."""

    run: Run
    index_row: bytes
    runs_json_entry: bytes


def cached_run_path(slug: str) -> str:
    """Where a run's cache lies, relative to the output directory."""
    return f"{CACHE_DIR}/runs/{slug}.msgpack"


def slug_of_cached_run(path: str) -> str | None:
    """The slug of a `cached_run_path`, or None when `path` is not one."""
    head, _, name = path.rpartition("/")
    slug = name.removesuffix(".msgpack")
    return slug if head == f"{CACHE_DIR}/runs" and slug != name and is_slug(slug) else None


def _run_path(out: str, slug: str) -> str:
    if not is_slug(slug):  # slugs are read back from the manifest and the cache: input too
        raise ValueError(f"not a run slug: {slug!r}")
    return os.path.join(out, cached_run_path(slug))


def save_run(out: str, run: Run) -> bytes:
    """Cache the run (`packed_run`); returns its encoding, so that its fingerprint can include it."""
    data = packed_run.pack(run)
    write_atomic(_run_path(out, run.slug), data, within=out)
    return data


def load_run(out: str, slug: str) -> Run | None:
    """The cached run of `slug`; None when it is missing, unreadable, of another format or not
    that run's."""
    try:
        with open(_run_path(out, slug), "rb") as handle:
            run = packed_run.unpack(handle.read())
    except (OSError, ValueError):
        return None
    return run if run.slug == slug else None


def drop_run(out: str, slug: str) -> None:
    try:
        os.unlink(_run_path(out, slug))
    except (FileNotFoundError, ValueError):
        pass


def header(run: Run) -> Run:
    """The run without its bulky parts: what lists, tables and analysis need (a processing
    job's snapshot alone can hold hundreds of thousands of operations). Benchmark points stay:
    a job has a few dozen, and trends and serving comparisons are made of them."""
    logs = [msgspec.structs.replace(s, text="") for s in run.logs]
    return msgspec.structs.replace(run, series={}, logs=logs, media=[], histograms=[],
                                   artifacts=[], models=[], stages={}, snapshot=None, inputs=())


# --- what the pages about many runs reuse: steps found in trends, content pages' blocks ------

def trend_key(trend: Trend, rule: Rule) -> str:
    """What a trend's steps depend on: its points and its metric's rule."""
    return hashlib.blake2b(msgspec.msgpack.encode((trend, rule)), digest_size=12).hexdigest()


def text_key(text: str) -> str:
    """What a content page's blocks depend on: its text (finding them needs a Markdown parser)."""
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def load_steps(out: str) -> dict[str, list[Step]]:
    """The steps of each trend of the last build, by `trend_key`; empty when unreadable."""
    from sitegen.analysis.regressions import Step

    return _load_reused(out, "steps.msgpack", dict[str, list[Step]])


def save_steps(out: str, steps: dict[str, list[Step]]) -> None:
    _save(out, "steps.msgpack", msgspec.msgpack.encode(steps))


def load_content_blocks(out: str) -> dict[str, list[Block]]:
    """The blocks of each content page of the last build, by `text_key`; empty when unreadable."""
    from sitegen.render.report_blocks import Block

    return _load_reused(out, "content-blocks.msgpack", dict[str, list[Block]])


def save_content_blocks(out: str, blocks: dict[str, list[Block]]) -> None:
    _save(out, "content-blocks.msgpack", msgspec.msgpack.encode(blocks))


def _save(out: str, name: str, data: bytes) -> None:
    write_atomic(os.path.join(cache_dir(out), name), data, within=out)


def _load_reused(out: str, name: str, kind: type) -> dict:
    try:
        with open(os.path.join(cache_dir(out), name), "rb") as handle:
            return msgspec.msgpack.decode(handle.read(), type=kind)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return {}


# --- the lock ---------------------------------------------------------------------


# A file system without hard links (vfat, exFAT, some SMB mounts) answers os.link with one of
# these: the lock is then created with O_EXCL and written next (empty for a moment: see _is_stale).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


class _Holder(NamedTuple):
    """What a lock file says: host and pid (None when its content does not parse), its last
    heartbeat (its mtime), and which file it is."""

    host: str
    pid: int | None
    beat: float
    file_id: tuple[int, int]


class BuildLock:
    """A lock file with host, pid and a heartbeat (flock does nothing on many NFS mounts).

    The lock is written to a temporary and hard-linked into place (which fails if a lock
    exists), so that it never exists without its content. A lock whose heartbeat is older
    than `stale_after_s`, or whose process is gone on this host, is taken over; `took_over`
    tells the build to clean up after the dead one. `token`, written into the lock, is the
    fence: a task writing for this build on another machine checks `lock_token` before it
    writes, so that it stops once a build that took over holds the output directory.
    """

    def __init__(self, out: str, stale_after_s: float = 120.0, beat_every_s: float = 10.0) -> None:
        self.path = os.path.join(cache_dir(out), "lock")
        self.stale_after_s = stale_after_s
        self.beat_every_s = beat_every_s
        self.took_over = False
        self.token = secrets.token_hex(12)
        self._identity = f"{socket.gethostname()} {os.getpid()} {self.token}\n".encode()
        self._file_id: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuildLock:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        except OSError as exc:
            out = os.path.dirname(os.path.dirname(self.path))
            raise OutputUnwritable(f"cannot write the site to {out}: {exc.strerror}; "
                                   "choose another --out or 'out' in sitegen.yaml") from None
        for _attempt in range(3):
            if self._place():
                self._thread = threading.Thread(target=self._beat, daemon=True)
                self._thread.start()
                return self
            holder = self._read_holder()
            if holder is None:
                continue  # released meanwhile: try again
            if not self._is_stale(holder):
                raise OutputLocked(self._busy_message(holder))
            self.took_over |= self._remove_stale(holder)
        raise OutputLocked(self._busy_message(self._read_holder()))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        holder = self._read_holder()
        if holder is not None and holder.file_id == self._file_id:  # else another build took it over
            _unlink_quietly(self.path)

    def _beat(self) -> None:
        while not self._stop.wait(self.beat_every_s):
            try:
                os.utime(self.path)
            except OSError:
                return

    def _temporary(self, kind: str) -> str:
        """A file beside the lock that only this process uses; one left by a killed process is
        harmless (nothing reads it) and replaced by the next one with the same host and pid."""
        host = "".join(c if c.isalnum() or c in ".-" else "_" for c in socket.gethostname())
        return f"{self.path}.{host}.{os.getpid()}.{kind}.tmp"

    def _place(self) -> bool:
        """Put this build's lock in place, whole, unless there is one; True if it is ours."""
        temporary = self._temporary("new")
        _unlink_quietly(temporary)  # left by a killed process with this pid, perhaps linked to a lock
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._identity)
            try:
                os.link(temporary, self.path)
            except FileExistsError:
                pass  # see the link count: NFS retries a link whose reply was lost, and fails
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise
                return self._create_exclusively()
            linked = os.stat(temporary)
            if linked.st_nlink != 2:
                return False
            self._file_id = (linked.st_dev, linked.st_ino)
            return True
        finally:
            _unlink_quietly(temporary)

    def _create_exclusively(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(self._identity)
            created = os.fstat(handle.fileno())
        self._file_id = (created.st_dev, created.st_ino)
        return True

    def _read_holder(self) -> _Holder | None:
        """Who holds the lock; None when there is no lock (or it cannot be read)."""
        try:
            with open(self.path, "rb") as handle:
                text = handle.read(1024).decode("utf-8", errors="replace")
                st = os.fstat(handle.fileno())
        except OSError:
            return None
        host, pid, _token = _lock_fields(text)
        parsed = int(pid) if pid.isascii() and pid.isdigit() else None
        return _Holder(host, parsed, st.st_mtime, (st.st_dev, st.st_ino))

    def _is_stale(self, holder: _Holder) -> bool:
        if time.time() - holder.beat > self.stale_after_s:
            return True
        if holder.pid is None:
            # Content that does not parse is judged by its age alone, never taken over at once: an
            # older sitegen creates its lock with O_EXCL and writes host and pid just after, and an
            # NFS client may see a new file before its content, so a build may be starting behind
            # it right now. A live holder beats every few seconds; a garbled lock left by a user
            # or a crash is taken over once it is older than a live one can be.
            return False
        return holder.host == socket.gethostname() and not _alive(holder.pid)

    def _remove_stale(self, holder: _Holder) -> bool:
        """Delete the stale lock; True if it was this build that did. It is moved aside first, and
        put back if it is not the file judged stale any more (another build took over first)."""
        aside = self._temporary("stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False  # another build removed it first
        moved = os.stat(aside)
        if (moved.st_dev, moved.st_ino) == holder.file_id:
            os.unlink(aside)
            return True
        os.rename(aside, self.path)  # a live build's lock: give it back
        return False

    def _busy_message(self, holder: _Holder | None) -> str:
        who = f"pid {holder.pid} on {holder.host}" if holder and holder.pid is not None else "another process"
        return (
            f"another build ({who}) is writing this output directory; wait for it to finish, "
            f"or delete {self.path} if that build is gone"
        )


def _lock_fields(text: str) -> tuple[str, str, str]:
    """Host, pid and token of a lock ("host pid token"; an older sitegen wrote "host pid");
    a pid of "" when the content has another form."""
    words = text.split()
    if len(words) not in (2, 3):
        return (words[0] if words else ""), "", ""
    return words[0], words[1], words[2] if len(words) == 3 else ""


def lock_token(out: str) -> str | None:
    """The token of the build holding `out`'s lock now ("" for a lock without one); None when
    no lock can be read. Read through open(): NFS revalidates a file on open, so a task on
    another machine sees a lock that was taken over."""
    try:
        with open(os.path.join(cache_dir(out), "lock"), "rb") as handle:
            text = handle.read(1024).decode("utf-8", errors="replace")
    except OSError:
        return None
    return _lock_fields(text)[2]


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
