from sitegen.shards import MAX_SHARDS, RUNS_PER_SHARD, shard_count, shard_of


def test_small_sites_have_one_shard():
    assert shard_count(0) == 1
    assert shard_count(2 * RUNS_PER_SHARD) == 1


def test_the_count_doubles_with_the_runs_and_stays_a_power_of_two():
    counts = [shard_count(runs) for runs in (1_000, 10_000, 100_000, 1_000_000)]
    assert counts == sorted(counts) and len(set(counts)) == 4
    assert all(c & (c - 1) == 0 for c in counts)
    assert shard_count(10**9) == MAX_SHARDS


def test_a_count_near_a_threshold_does_not_flip_back():
    grown = shard_count(2 * RUNS_PER_SHARD + 1)
    assert grown == 2
    assert shard_count(2 * RUNS_PER_SHARD - 1, previous=grown) == 2  # a run removed: kept
    assert shard_count(RUNS_PER_SHARD // 2 - 1, previous=grown) == 1


def test_a_garbled_previous_count_is_ignored():
    assert shard_count(10, previous=3) == 1
    assert shard_count(10, previous=-8) == 1


def test_doubling_splits_each_shard_in_two():
    keys = [f"/root\0run-{i}" for i in range(2000)]
    for key in keys:
        assert shard_of(key, 8) == shard_of(key, 16) % 8
    assert len({shard_of(key, 16) for key in keys}) == 16
