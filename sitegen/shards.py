"""How files that would grow with the number of runs are split, so that one changed run
rewrites one part: the build cache's listings, the index's row data, runs.json.

A run belongs to shard `shard_of(key, count)` of `count` shards (a power of two), chosen from
the number of runs with hysteresis: doubling the count splits every shard in two, and a site
whose run count wanders around a threshold does not re-shard on every build.
"""

from __future__ import annotations

import hashlib

RUNS_PER_SHARD = 500  # the aim; a shard holds between RUNS_PER_SHARD / 4 and 2 × that
MAX_SHARDS = 1 << 12


def shard_count(runs: int, previous: int = 1) -> int:
    """The number of shards for `runs` runs, given the count the last build used."""
    count = previous if 1 <= previous <= MAX_SHARDS and previous & (previous - 1) == 0 else 1
    while count < MAX_SHARDS and runs > 2 * RUNS_PER_SHARD * count:
        count *= 2
    while count > 1 and runs < RUNS_PER_SHARD * count // 4:
        count //= 2
    return count


def shard_of(key: str, count: int) -> int:
    """The shard of the run with cache key `key` (`cache.run_key`), stable across builds."""
    digest = hashlib.blake2b(key.encode(errors="surrogateescape"), digest_size=4).digest()
    return int.from_bytes(digest, "little") & (count - 1)
