"""Every run's listing (`cache.Listing`: what the pages about all runs need of it), kept in the
build cache in shards (`_build/listings/<i>.msgpack`, `sitegen.shards`), so that one changed
run rewrites one shard and a page about one shard reads one file.

A listing comes from this build's outcome, else from its cached shard, else it is made again
from the run's cache (a shard lost or damaged); a shard is read only when asked for. A cached
listing is current: a run whose shown status changed (stalled) was rendered again.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Callable

import msgspec

from sitegen.cache import Listing, RunRecord, run_key
from sitegen.paths import CACHE_DIR
from sitegen.shards import MAX_SHARD, NEW, hashed_shard, placed
from sitegen.write import write_atomic

_DIRECTORY = "listings"
_KEPT_SHARDS = 2
LEGACY_MAX_SHARDS = 1 << 12  # the most shards a cache from before runs kept theirs had
_SHARD_DECODER = msgspec.msgpack.Decoder(list[Listing])
_LISTING_DECODER = msgspec.msgpack.Decoder(Listing)

Remake = Callable[[RunRecord], "Listing | None"]


def place(records: list[RunRecord], previous: dict[str, RunRecord], legacy_count: int) -> list[RunRecord]:
    """`records` (in order) each with its shard: the one it has, else, in a cache from before
    runs kept theirs (`legacy_count`: the shards then), the one its key hashed to, else, for a
    new run, the newest shard with room (`shards.placed`)."""
    if all(0 <= record.shard <= MAX_SHARD for record in records):
        return records  # no run is new: every build but those that found one
    legacy = 1 <= legacy_count <= LEGACY_MAX_SHARDS and legacy_count & (legacy_count - 1) == 0
    current = []
    for record in records:
        shard, key = record.shard, run_key(record.root, record.run_id)
        if shard == NEW and legacy and key in previous:
            shard = hashed_shard(key, legacy_count)
        current.append(shard)
    return [record if record.shard == shard else msgspec.structs.replace(record, shard=shard)
            for record, shard in zip(records, placed(current), strict=True)]


class Listings:
    """The listings of `runs` (by `cache.run_key`, in order, placed: each knows its shard);
    `fresh`: the encoded listings of the runs this build processed; `previous`: the runs of the
    last build, of which the keys `gone` are gone; `remake`: a listing from the run's cache
    (None if it is gone too)."""

    def __init__(
        self, out: str, runs: dict[str, RunRecord], fresh: dict[str, bytes], previous: dict[str, RunRecord],
        gone: list[str], remake: Remake,
    ) -> None:
        self.out, self._runs, self._fresh, self._remake = out, runs, fresh, remake
        self.first = not previous  # a first or a full build: files of other shards may lie about
        self._recent: dict[int, list[Listing | None]] = {}
        self._written: list[str] = []
        changed = {runs[key].shard for key in fresh}
        changed.update(previous[key].shard for key in gone if key in previous)  # a full build has no previous
        changed.discard(NEW)
        self._changed = frozenset(changed)
        self._dirty = set(changed)  # the shards to write (a lost listing made again adds its shard)

    @functools.cached_property
    def shards(self) -> list[int]:
        """The shards in use, in order."""
        return sorted(self._groups)

    def changed_shards(self) -> frozenset[int]:
        """The shards whose listings this build changed (a lost one is found only on reading it)."""
        return self._changed

    def emptied(self) -> list[int]:
        """The shards whose every run is gone."""
        return sorted(self._changed - self._groups.keys())

    def shard(self, index: int) -> list[Listing]:
        """The listings of shard `index`, in the order of the records."""
        return [item for item in self._shard(index) if item is not None]

    def _shard(self, index: int) -> list[Listing | None]:
        """Shard `index`'s listings, one per record (None: no listing could be made). Only the
        last few assembled are kept (a full build goes through every shard: its summary, then
        its chunk and part), and a changed shard is written as soon as it is assembled."""
        if index not in self._recent:
            while len(self._recent) >= _KEPT_SHARDS:
                del self._recent[next(iter(self._recent))]
            self._recent[index] = self._assemble(index)
            if index in self._dirty:
                self._write(index)
        return self._recent[index]

    def _write(self, index: int) -> None:
        path = shard_path(index)
        data = msgspec.msgpack.encode([item for item in self._recent[index] if item is not None])
        write_atomic(os.path.join(self.out, path), data, within=self.out)
        self._written.append(path)
        self._dirty.discard(index)

    @functools.cached_property
    def _groups(self) -> dict[int, list[RunRecord]]:
        """Each shard's records; made when first asked for (a no-op build asks for none)."""
        groups: dict[int, list[RunRecord]] = defaultdict(list)
        for record in self._runs.values():
            groups[record.shard].append(record)
        return dict(groups)

    def _assemble(self, index: int) -> list[Listing | None]:
        cached = read_shard(self.out, index)
        listings: list[Listing | None] = []
        for record in self._groups.get(index, []):
            key = run_key(record.root, record.run_id)
            if key in self._fresh:
                listings.append(decode_listing(self._fresh[key]))
            elif key in cached:
                listings.append(cached[key])
            else:
                self._dirty.add(index)
                listings.append(self._remake(record))
        return listings

    def save(self) -> list[str]:
        """Write the shards that changed and were not written yet, remove those of no run;
        returns the paths written by this build (relative to the output directory)."""
        for index in sorted(self._dirty & self._groups.keys()):
            self._shard(index)  # written as it is assembled
        remove_shards(self.out, _DIRECTORY, self.emptied(), every_other=self.first, kept=self.shards)
        return self._written


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


def decode_listing(data: bytes | msgspec.Raw) -> Listing:
    """An encoded `Listing`; msgspec.DecodeError or ValidationError when it is not one."""
    return _LISTING_DECODER.decode(data)


def inert(listing: Listing) -> bool:
    """The serialized rows go into pages as they are: made by `jsonsafe.dumps_for_script` they
    hold no `<`, so a listing that does was not written by sitegen and is made again."""
    return b"<" not in listing.index_row and b"<" not in listing.runs_json_entry


def remove_shards(out: str, directory: str, shards: list[int], every_other: bool, kept: list[int]) -> None:
    """Remove the files `<shard>.msgpack` of `shards` from the build cache's `directory`; with
    `every_other` (a first or full build), every such file but those of the `kept` shards."""
    path = os.path.join(out, CACHE_DIR, directory)
    if every_other:
        try:
            names = os.listdir(path)
        except OSError:
            return
        stems = [name.removesuffix(".msgpack") for name in names if name.endswith(".msgpack")]
        ours = {int(stem) for stem in stems if stem.isascii() and stem.isdigit() and str(int(stem)) == stem}
        shards = sorted(ours - set(kept))
    for shard in shards:
        try:
            os.unlink(os.path.join(path, f"{shard}.msgpack"))
        except FileNotFoundError:
            pass
