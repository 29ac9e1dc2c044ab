"""How files that would grow with the number of runs are split, so that a change rewrites a
bounded part: the build cache's listings and their summaries, the index's rows, runs.json.

A run keeps the shard it was placed in. New runs fill the newest shard up to RUNS_PER_SHARD
runs, then open the next one: runs that arrive together (a nightly session of 200 entries)
land in one shard or two, and a changed run rewrites its own. A shard whose runs are all gone
is dropped, its number not reused.
"""

from __future__ import annotations

import hashlib
from collections import Counter

RUNS_PER_SHARD = 500
MAX_SHARD = (1 << 20) - 1  # a shard number read back from the cache (input) above this is not believed
NEW = -1  # the shard of a run not placed yet


def placed(shards: list[int]) -> list[int]:
    """Each run's shard, given `shards` (each run's, in the order runs are placed; NEW or a
    number beyond MAX_SHARD for a run to place): its own, else the newest shard while it holds
    fewer than RUNS_PER_SHARD runs, else the next."""
    sizes = Counter(shard for shard in shards if 0 <= shard <= MAX_SHARD)
    newest = max(sizes, default=0)
    result = []
    for shard in shards:
        if not 0 <= shard <= MAX_SHARD:
            if sizes[newest] >= RUNS_PER_SHARD and newest < MAX_SHARD:
                newest += 1
            sizes[newest] += 1
            shard = newest
        result.append(shard)
    return result


def hashed_shard(key: str, count: int) -> int:
    """Where a cache from before runs kept their shard put the run with key `key` (`cache.run_key`):
    by a hash of the key, among `count` (a power of two) shards."""
    digest = hashlib.blake2b(key.encode(errors="surrogateescape"), digest_size=4).digest()
    return int.from_bytes(digest, "little") & (count - 1)
