"""What the pages about all runs need of each listings shard, kept beside it
(`_build/summaries/<i>.msgpack`), so that a change reads the shards it touched and the
summaries of the others, never every listing.

A shard's summary holds its totals, the versions of its index chunk and runs.json part, and
the listings the site-wide pages may name: its notable runs (`notable`), its newest rows (by
the index's order), each content table's first rows in the table's order
(`report_blocks.ranked_candidates`) and what comparisons match. The analyses read the notable
runs' heads (`RunHead`: a fraction of the decoding); a notable run is decoded whole only for a
page rendered about it, and a newest row or table row only when it is among the site's first.
An analysis in `report_pages` over the heads of all summaries gives what it gives over every
run: the tests build both ways and compare.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

import msgspec

from sitegen.analysis.trends import benchmark_of
from sitegen.cache import Listing
from sitegen.listings import Listings, decode_listing, inert, remove_shards
from sitegen.model import Run, RunHead
from sitegen.paths import CACHE_DIR
from sitegen.render.index import INLINE_ROWS, Totals, add_totals, table_order, totals
from sitegen.render.report_blocks import (
    Block,
    Rank,
    candidates,
    first_ranked,
    ranked_candidates,
    shows_latest_session,
)
from sitegen.write import write_atomic

_DIRECTORY = "summaries"
_FORMAT = 5  # 3: tables' candidates ranked (`Summary.ranked`); 4: package lists apart; 5: `candidates`
_VERSION = re.compile(r"[0-9a-f]{16}")


class Summary(msgspec.Struct, array_like=True):
    blocks: str  # `blocks_key`: of the content blocks whose candidates it holds, and of _FORMAT
    totals: Totals
    chunk_version: str  # `digest` of the shard's index rows
    part_version: str  # `digest` of its runs.json entries
    listings: list[msgspec.Raw]  # encoded `Listing`s (`_slim`), in the order of the records
    analysed: list[int]  # the notable runs: every plan reads their heads
    candidates: list[int]  # what comparisons match: every plan reads them whole
    newest: list[tuple[float, str, str, int]]  # the shard's newest rows: `table_order` and listing
    ranked: list[list[tuple[int, Rank]]]  # for each block, a table's first rows: listing and rank
    packages: list[dict[str, str]]  # the distinct package lists of the listings' runs
    package_lists: list[int]  # for each listing, its run's list in `packages`


class _HeadListing(msgspec.Struct, array_like=True):
    """A `Listing` decoded for its run's head only."""

    run: RunHead
    index_row: bytes
    runs_json_entry: bytes


class SiteRuns:
    """What the pages about all runs are made from: the notable runs' heads, the runs content
    blocks may show, the site's newest runs, and any notable run whole (`whole`) when a page
    about it is rendered."""

    def __init__(self, summaries: dict[int, Summary], heads: dict[tuple[int, int], RunHead],
                 shown: list[Run], newest: list[Listing], shard: Callable[[int], list[Listing]]) -> None:
        self.heads = sorted(heads.values(), key=lambda head: (head.root, head.run_id))
        self.shown = shown  # comparisons' matches and tables' first rows, whole
        self.newest = newest  # the site's newest INLINE_ROWS runs, newest first
        self.totals = add_totals(s.totals for s in summaries.values())
        # each shard in use, and its chunk's and part's versions
        self.versions = [(number, s.chunk_version, s.part_version) for number, s in sorted(summaries.items())]
        self._summaries, self._shard = summaries, shard
        self._where = {(head.root, head.run_id): place for place, head in heads.items()}
        self._whole: dict[tuple[int, int], Run] = {}

    def whole(self, head: RunHead) -> Run:
        """The run of a head, decoded once. A listing whose head decoded but whose whole does
        not (the cache is input) is taken from its shard's listings instead, and where no
        listing of it could be made again either, the run is shown as its head tells it."""
        place = self._where[head.root, head.run_id]
        if place not in self._whole:
            shard, index = place
            try:
                self._whole[place] = _listing(self._summaries[shard], shard, index).run
            except _Damaged:
                listed = (item.run for item in self._shard(shard)
                          if (item.run.root, item.run.run_id) == (head.root, head.run_id))
                self._whole[place] = next(listed, None) or Run(**msgspec.structs.asdict(head))
        return self._whole[place]


def _heads_only(summary: Summary) -> Summary:
    """What `whole` needs of `summary`: the listings of its notable runs, copied out of the
    file's bytes so that those can be let go (at 100,000 runs, 39 MB of listings, most of them
    rows that were candidates for the index or a table and are not shown)."""
    listings = [_LET_GO] * len(summary.listings)
    for index in summary.analysed:
        listings[index] = summary.listings[index].copy()
    return msgspec.structs.replace(summary, listings=listings, newest=[], ranked=[])


_LET_GO = msgspec.Raw(b"")
_SUMMARY_DECODER = msgspec.msgpack.Decoder(Summary)
_HEAD_DECODER = msgspec.msgpack.Decoder(_HeadListing)


def notable(run: Run) -> bool:
    """A run the site-wide analyses look at: in a session, a sweep or a benchmark (sessions,
    trends, coverage, sweep pages), with serving points, or listed on the data-quality page."""
    return benchmark_of(run) is not None or bool(run.points) or run.doubtful


def blocks_key(blocks: list[Block]) -> str:
    """What a summary's candidates answer: the content blocks, and how summaries choose them."""
    return hashlib.blake2b(msgspec.msgpack.encode([_FORMAT, blocks]), digest_size=12).hexdigest()


def digest(serialized: Iterable[bytes]) -> str:
    """What a part made of serialized rows shows, in a few bytes (hashing beats encoding them again)."""
    return hashlib.blake2b(b"\0".join(serialized), digest_size=8).hexdigest()


class _Damaged(Exception):
    """A summary read back from the cache holds a listing sitegen did not write."""

    def __init__(self, shard: int) -> None:
        self.shard = shard


class Summaries:
    """The summaries of `listings`' shards: read back where the shard did not change, else made
    from the shard's listings and saved."""

    def __init__(self, out: str, listings: Listings) -> None:
        self.out, self._listings = out, listings
        self._stale = listings.changed_shards()
        self._made: dict[int, Summary] = {}

    def site_runs(self, blocks: list[Block]) -> SiteRuns:
        """The summaries merged one at a time, so that only one's bytes are held at once; a
        summary found damaged is made again from its shard's listings, and the merge begun again."""
        key = blocks_key(blocks)
        while True:
            merged = _Merged(blocks)
            try:
                for shard in reversed(self._listings.shards):  # the newest rows first: fewer kept then let go
                    merged.add(shard, self._summary(shard, key, blocks))
                return merged.site_runs(self._listings.shard)
            except _Damaged as damaged:
                self._make(damaged.shard, key, blocks)

    def save(self) -> list[str]:
        """Write the summaries made by this build, remove those of shards no run is in; returns
        the paths written (relative to the output directory)."""
        written = []
        for shard, summary in sorted(self._made.items()):
            path = summary_path(shard)
            write_atomic(os.path.join(self.out, path), msgspec.msgpack.encode(summary), within=self.out)
            written.append(path)
        gone, first = self._listings.emptied(), self._listings.first
        remove_shards(self.out, _DIRECTORY, gone, every_other=first, kept=self._listings.shards)
        return written

    def _summary(self, shard: int, key: str, blocks: list[Block]) -> Summary:
        if shard in self._made:
            return self._made[shard]
        if shard not in self._stale:
            cached = _read(self.out, shard)
            if cached is not None and cached.blocks == key and len(cached.ranked) == len(blocks):
                return cached
        return self._make(shard, key, blocks)

    def _make(self, shard: int, key: str, blocks: list[Block]) -> Summary:
        listings = self._listings.shard(shard)
        runs = [item.run for item in listings]
        position = {id(run): index for index, run in enumerate(runs)}
        analysed = {index for index, run in enumerate(runs) if notable(run)}
        matched = {position[id(run)] for block in blocks if block.kind != "table"  # tables: ranked below
                   for run in candidates(block, runs)}
        ranked = [ranked_candidates(block, runs) for block in blocks]
        newest = heapq.nsmallest(INLINE_ROWS, range(len(runs)), key=lambda index: table_order(runs[index]))
        kept = sorted(analysed.union(matched, newest, (index for rows in ranked for index, _rank in rows)))
        renumbered = {index: new for new, index in enumerate(kept)}
        packages, package_lists = _distinct([listings[index].run.packages for index in kept])
        self._made[shard] = Summary(
            key, totals(runs), digest(item.index_row for item in listings),
            digest(item.runs_json_entry for item in listings),
            [msgspec.Raw(msgspec.msgpack.encode(_slim(listings[index]))) for index in kept],
            sorted(renumbered[index] for index in analysed),
            sorted(renumbered[index] for index in matched),
            [(*table_order(runs[index]), renumbered[index]) for index in newest],
            [[(renumbered[index], rank) for index, rank in rows] for rows in ranked],
            packages, package_lists,
        )
        return self._made[shard]


def _slim(listing: Listing) -> Listing:
    """A listing as a summary keeps it: without its runs.json entry (runs.json's parts are made
    from the shards) and its run's packages (a night's runs share one list: `_distinct`)."""
    return Listing(msgspec.structs.replace(listing.run, packages={}), listing.index_row, b"")


def _distinct(lists: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[int]]:
    """The distinct lists of `lists`, and for each list its number among them."""
    encoded = [msgspec.msgpack.encode(packages) for packages in lists]
    numbers: dict[bytes, int] = {}
    distinct: list[dict[str, str]] = []
    for packages, key in zip(lists, encoded, strict=True):
        if key not in numbers:
            numbers[key] = len(distinct)
            distinct.append(packages)
    return distinct, [numbers[key] for key in encoded]


class _Merged:
    """What the summaries added so far give: the notable runs' heads, the runs comparisons match
    (whole), and the first rows of each table and of the index among theirs, kept encoded
    (copied out of their summary's bytes) until the last summary is added."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.summaries: dict[int, Summary] = {}  # `_heads_only`
        self.heads: dict[tuple[int, int], RunHead] = {}
        self.shown: dict[tuple[int, int], Listing] = {}
        self.ranked: list[list[tuple[tuple[int, int], Rank]]] = [[] for _block in blocks]
        self.newest: list[tuple[float, str, str, tuple[int, int]]] = []  # `table_order`, then place
        self.encoded: dict[tuple[int, int], _Encoded] = {}  # the places in `ranked` and `newest`

    def add(self, number: int, summary: Summary) -> None:
        heads = {(number, index): _head(summary, number, index) for index in summary.analysed}
        shown = {(number, index): _listing(summary, number, index) for index in summary.candidates}
        self.summaries[number] = _heads_only(summary)
        self.heads.update(heads)
        self.shown.update(shown)
        for block, rows, kept in zip(self.blocks, summary.ranked, self.ranked, strict=True):
            kept += [((number, index), rank) for index, rank in rows]
            kept[:] = first_ranked(block, ((row, row[1]) for row in kept))  # a table's order is total
        orders = [(*order, (number, index)) for *order, index in summary.newest]
        self.newest = heapq.nsmallest(INLINE_ROWS, self.newest + orders)  # by slug at worst: they differ
        wanted = [place for rows in self.ranked for place, _rank in rows] + [row[3] for row in self.newest]
        self.encoded = {place: self.encoded.get(place) or _encoded(summary, *place) for place in wanted}

    def site_runs(self, shard: Callable[[int], list[Listing]]) -> SiteRuns:
        shown = self.shown
        in_sessions = any(head.session is not None for head in self.heads.values())
        for block, rows in zip(self.blocks, self.ranked, strict=True):
            if in_sessions and shows_latest_session(block):
                continue  # the table shows runs in a session: notable, `whole` when it is planned
            for place, _rank in rows:
                if place not in shown:
                    shown[place] = self.encoded[place].decode()
        newest = [shown.get(place) or self.encoded[place].decode() for *_order, place in self.newest]
        whole = sorted((item.run for item in shown.values()), key=lambda run: (run.root, run.run_id))
        return SiteRuns(self.summaries, self.heads, whole, newest, shard)


class _Encoded(NamedTuple):
    """A summary's listing, copied out of the summary's bytes, to decode if it is shown."""

    place: tuple[int, int]  # shard, index in the summary
    listing: msgspec.Raw
    packages: dict[str, str]

    def decode(self) -> Listing:
        return _decoded(self.listing, self.packages, self.place[0])


def _encoded(summary: Summary, shard: int, index: int) -> _Encoded:
    packages = summary.packages[summary.package_lists[index]]
    return _Encoded((shard, index), summary.listings[index].copy(), packages)


def _head(summary: Summary, shard: int, index: int) -> RunHead:
    try:
        listing = _HEAD_DECODER.decode(summary.listings[index])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Damaged(shard) from exc
    if not inert(listing):
        raise _Damaged(shard)
    return listing.run


def _listing(summary: Summary, shard: int, index: int) -> Listing:
    return _decoded(summary.listings[index], summary.packages[summary.package_lists[index]], shard)


def _decoded(encoded: msgspec.Raw, packages: dict[str, str], shard: int) -> Listing:
    """A summary's listing, with its run's packages (one dict for the runs that share it)."""
    try:
        listing = decode_listing(encoded)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Damaged(shard) from exc
    if not inert(listing):
        raise _Damaged(shard)
    if not packages:
        return listing
    return Listing(msgspec.structs.replace(listing.run, packages=packages), listing.index_row, b"")


def summary_path(shard: int) -> str:
    """Where shard `shard`'s summary lies, relative to the output directory."""
    return f"{CACHE_DIR}/{_DIRECTORY}/{shard}.msgpack"


def _read(out: str, shard: int) -> Summary | None:
    """The summary in the file of shard `shard`; None when it is missing or not one sitegen
    wrote (the cache is input: its versions go into URLs, its indexes into lists)."""
    try:
        with open(os.path.join(out, summary_path(shard)), "rb") as handle:
            summary = _SUMMARY_DECODER.decode(handle.read())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    size = len(summary.listings)
    if (_VERSION.fullmatch(summary.chunk_version) and _VERSION.fullmatch(summary.part_version)
            and all(0 <= index < size for index in (*summary.analysed, *summary.candidates))
            and all(0 <= index < size for rows in summary.ranked for index, _rank in rows)
            and all(0 <= order[-1] < size for order in summary.newest)
            and len(summary.package_lists) == size
            and all(0 <= number < len(summary.packages) for number in summary.package_lists)):
        return summary
    return None
