from sitegen.shards import MAX_SHARD, NEW, RUNS_PER_SHARD, hashed_shard, placed


def test_new_runs_fill_the_newest_shard_then_open_the_next():
    assert placed([NEW] * (2 * RUNS_PER_SHARD + 1)) == [0] * RUNS_PER_SHARD + [1] * RUNS_PER_SHARD + [2]
    assert placed([]) == []


def test_a_placed_run_keeps_its_shard_and_new_ones_go_after_the_newest():
    shards = [0, 5, 0, NEW, 3, NEW]
    assert placed(shards) == [0, 5, 0, 5, 3, 5]
    full = [4] * RUNS_PER_SHARD
    assert placed([*full, NEW, 1]) == [*full, 5, 1]


def test_a_shard_number_not_sitegen_could_write_is_placed_again():
    assert placed([2, -7, MAX_SHARD + 1, 10**30]) == [2, 2, 2, 2]


def test_a_cache_from_before_placing_hashed_each_key_among_a_power_of_two():
    keys = [f"/root\0run-{i}" for i in range(2000)]
    for key in keys:
        assert hashed_shard(key, 8) == hashed_shard(key, 16) % 8
    assert len({hashed_shard(key, 16) for key in keys}) == 16
