"""Every run's listing (`cache.Listing`: what the pages about all runs need of it), kept in the
build cache in shards by run key (`_build/listings/<i>.msgpack`), so that one changed run
rewrites one shard and a page about one shard reads one file.

A listing comes from this build's outcome, else from its cached shard, else it is made again
from the run's cache (a shard lost or damaged); a shard is read only when asked for. A cached
listing is current: a run whose shown status changed (stalled) was rendered again.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection

import msgspec

from sitegen.cache import Listing, RunRecord, cache_dir, run_key
from sitegen.paths import CACHE_DIR
from sitegen.shards import MAX_SHARDS, shard_of
from sitegen.write import write_atomic

_DIRECTORY = "listings"
_SHARD_DECODER = msgspec.msgpack.Decoder(list[Listing])
_LISTING_DECODER = msgspec.msgpack.Decoder(Listing)

Remake = Callable[[RunRecord], "Listing | None"]


class Listings:
    """The listings of `records` in `count` shards; `fresh`: the encoded listings of the runs
    this build processed; `previous`: the keys of the runs of the last build, whose shards
    were `cached_count`; `remake`: a listing from the run's cache (None if it is gone too)."""

    def __init__(
        self, out: str, records: list[RunRecord], fresh: dict[str, bytes], count: int,
        previous: Collection[str], cached_count: int, remake: Remake,
    ) -> None:
        self.out, self.count, self._fresh, self._remake = out, count, fresh, remake
        self._resharded = count != cached_count
        self._cached_count = cached_count
        self._records = records
        self._loaded: dict[int, list[Listing | None]] = {}
        self._dirty = set(range(count)) if self._resharded else {shard_of(key, count) for key in fresh}
        if fresh or len(records) != len(previous):  # else no run is new, so none is gone
            present = {run_key(r.root, r.run_id) for r in records}
            self._dirty.update(shard_of(key, count) for key in previous if key not in present)

    def changed_shards(self) -> set[int]:
        """The shards whose listings this build changed (so far: a lost one is found on reading)."""
        return set(self._dirty)

    def shard(self, index: int) -> list[Listing]:
        """The listings of shard `index`, in the order of the records."""
        return [item for item in self._shard(index) if item is not None]

    def _shard(self, index: int) -> list[Listing | None]:
        """Shard `index`'s listings, one per record (None: no listing could be made)."""
        if index not in self._loaded:
            self._loaded[index] = self._assemble(index)
        return self._loaded[index]

    @functools.cached_property
    def _groups(self) -> list[list[RunRecord]]:
        """Each shard's records; made when a shard is first asked for (a no-op build asks for none)."""
        groups: list[list[RunRecord]] = [[] for _ in range(self.count)]
        for record in self._records:
            groups[shard_of(run_key(record.root, record.run_id), self.count)].append(record)
        return groups

    @functools.cached_property
    def _all_cached(self) -> dict[str, Listing]:
        """Every listing in the last build's shards, when they were split otherwise (the count
        comes from the manifest: input, so only a count `shard_count` gives is believed)."""
        count = self._cached_count
        if not (1 <= count <= MAX_SHARDS and count & (count - 1) == 0):
            return {}
        merged: dict[str, Listing] = {}
        for index in range(count):
            merged.update(read_shard(self.out, index))
        return merged

    def _assemble(self, index: int) -> list[Listing | None]:
        cached = self._all_cached if self._resharded else read_shard(self.out, index)
        listings: list[Listing | None] = []
        for record in self._groups[index]:
            key = run_key(record.root, record.run_id)
            if key in self._fresh:
                listings.append(_LISTING_DECODER.decode(self._fresh[key]))
            elif key in cached:
                listings.append(cached[key])
            else:
                self._dirty.add(index)
                listings.append(self._remake(record))
        return listings

    def save(self) -> list[str]:
        """Write the shards that changed, remove those beyond the count; returns the paths
        written (relative to the output directory)."""
        written = []
        for index in sorted(self._dirty):
            path = shard_path(index)
            data = msgspec.msgpack.encode(self.shard(index))
            write_atomic(os.path.join(self.out, path), data, within=self.out)
            written.append(path)
        if self._resharded:
            remove_beyond(self.out, _DIRECTORY, self.count)
        return written


def shard_path(index: int) -> str:
    """Where shard `index` lies, relative to the output directory."""
    return f"{CACHE_DIR}/{_DIRECTORY}/{index}.msgpack"


def read_shard(out: str, index: int) -> dict[str, Listing]:
    """The listings in shard `index`'s file by run key; empty when it is missing or unreadable."""
    try:
        with open(os.path.join(out, shard_path(index)), "rb") as handle:
            listings = _SHARD_DECODER.decode(handle.read())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return {}
    return {run_key(item.run.root, item.run.run_id): item for item in listings if inert(item)}


def inert(listing: Listing) -> bool:
    """The serialized rows go into pages as they are: made by `jsonsafe.dumps_for_script` they
    hold no `<`, so a listing that does was not written by sitegen and is made again."""
    return b"<" not in listing.index_row and b"<" not in listing.runs_json_entry


def remove_beyond(out: str, name: str, count: int) -> None:
    """Remove the shards' files `<i>.msgpack` of the cache's directory `name` from `count` on."""
    directory = os.path.join(cache_dir(out), name)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for entry in names:
        stem = entry.removesuffix(".msgpack")
        if stem != entry and stem.isascii() and stem.isdigit() and int(stem) >= count:
            os.unlink(os.path.join(directory, entry))
