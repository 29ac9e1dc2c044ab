"""What the pages about all runs need of each listings shard, kept beside it
(`_build/summaries/<i>.msgpack`), so that a change reads the shards it touched and the
summaries of the others, never every listing.

A shard's summary holds its totals, the versions of its index chunk and runs.json part, and
the listings the site-wide pages may name: its notable runs (`notable`), its newest rows (by
the index's order) and each content table's first rows in the table's order
(`report_blocks.ranked_candidates`), each newest row and table row decoded only when it is among
the site's first, and what comparisons match. An analysis in `report_pages` over the listings of
all summaries gives what it gives over every run: the tests build both ways and compare.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import re
from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from sitegen.analysis.trends import benchmark_of
from sitegen.cache import Listing
from sitegen.listings import Listings, decode_listing, inert, remove_shards
from sitegen.model import Run
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
_FORMAT = 4  # 3: tables' candidates ranked (`Summary.ranked`); 4: package lists apart
_VERSION = re.compile(r"[0-9a-f]{16}")


class Summary(msgspec.Struct, array_like=True):
    blocks: str  # `blocks_key`: of the content blocks whose candidates it holds, and of _FORMAT
    totals: Totals
    chunk_version: str  # `digest` of the shard's index rows
    part_version: str  # `digest` of its runs.json entries
    listings: list[msgspec.Raw]  # encoded `Listing`s (`_slim`), in the order of the records
    analysed: list[int]  # the listings every plan reads: notable runs and what comparisons match
    newest: list[tuple[float, str, str, int]]  # the shard's newest rows: `table_order` and listing
    ranked: list[list[tuple[int, Rank]]]  # for each block, a table's first rows: listing and rank
    packages: list[dict[str, str]]  # the distinct package lists of the listings' runs
    package_lists: list[int]  # for each listing, its run's list in `packages`


class SiteRuns(NamedTuple):
    """What the pages about all runs are made from."""

    listings: list[Listing]  # the notable runs and the rows of every block, by root and run id
    newest: list[Listing]  # the site's newest INLINE_ROWS runs, newest first
    totals: Totals
    versions: list[tuple[int, str, str]]  # each shard in use, and its chunk's and part's versions


_SUMMARY_DECODER = msgspec.msgpack.Decoder(Summary)


def notable(run: Run) -> bool:
    """A run the site-wide analyses look at: in a session, a sweep or a benchmark (sessions,
    trends, coverage, sweep pages), with serving points, or listed on the data-quality page."""
    return (benchmark_of(run) is not None or bool(run.points) or run.read_by_fallback
            or run.problem is not None or bool(run.warnings))


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
        key = blocks_key(blocks)
        summaries = {shard: self._summary(shard, key, blocks) for shard in self._listings.shards}
        while True:
            try:
                return _merge(summaries, blocks)
            except _Damaged as damaged:
                summaries[damaged.shard] = self._make(damaged.shard, key, blocks)

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
        for block in blocks:
            if block.kind != "table":  # a table's rows are ranked apart, below
                analysed.update(position[id(run)] for run in candidates(block, runs))
        ranked = [ranked_candidates(block, runs) for block in blocks]
        newest = heapq.nsmallest(INLINE_ROWS, range(len(runs)), key=lambda index: table_order(runs[index]))
        kept = sorted(analysed.union(newest, (index for rows in ranked for index, _rank in rows)))
        renumbered = {index: new for new, index in enumerate(kept)}
        packages, package_lists = _distinct([listings[index].run.packages for index in kept])
        self._made[shard] = Summary(
            key, totals(runs), digest(item.index_row for item in listings),
            digest(item.runs_json_entry for item in listings),
            [msgspec.Raw(msgspec.msgpack.encode(_slim(listings[index]))) for index in kept],
            sorted(renumbered[index] for index in analysed),
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


def _merge(summaries: dict[int, Summary], blocks: list[Block]) -> SiteRuns:
    decoded: dict[tuple[int, int], Listing] = {}
    for shard, summary in summaries.items():
        for index in summary.analysed:
            decoded[shard, index] = _listing(summary, shard, index)
    in_sessions = any(item.run.session is not None for item in decoded.values())
    for number, block in enumerate(blocks):
        if in_sessions and shows_latest_session(block):
            continue  # the table shows runs in a session, all of them decoded already
        rows = (((shard, index), rank) for shard, s in summaries.items() for index, rank in s.ranked[number])
        for shard, index in first_ranked(block, rows):
            if (shard, index) not in decoded:
                decoded[shard, index] = _listing(summaries[shard], shard, index)
    analysed = list(decoded.values())
    heads = ((*order, shard) for shard, summary in summaries.items() for order in summary.newest)
    newest = heapq.nsmallest(INLINE_ROWS, heads)
    for *_order, index, shard in newest:
        if (shard, index) not in decoded:
            decoded[shard, index] = _listing(summaries[shard], shard, index)
    return SiteRuns(
        sorted(analysed, key=lambda item: (item.run.root, item.run.run_id)),
        [decoded[shard, index] for *_order, index, shard in newest],
        add_totals(s.totals for s in summaries.values()),
        [(shard, s.chunk_version, s.part_version) for shard, s in sorted(summaries.items())],
    )


def _listing(summary: Summary, shard: int, index: int) -> Listing:
    try:
        listing = decode_listing(summary.listings[index])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Damaged(shard) from exc
    if not inert(listing):
        raise _Damaged(shard)
    packages = summary.packages[summary.package_lists[index]]  # one dict for the runs that share it
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
            and all(0 <= index < size for index in summary.analysed)
            and all(0 <= index < size for rows in summary.ranked for index, _rank in rows)
            and all(0 <= order[-1] < size for order in summary.newest)
            and len(summary.package_lists) == size
            and all(0 <= number < len(summary.packages) for number in summary.package_lists)):
        return summary
    return None
