"""Exact deduplication with Ray Data: hash each text, keep the first record of each hash."""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import ray


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--benchmark-results-path", required=True)
    args = parser.parse_args()
    ray.init()
    started = time.perf_counter()
    records = ray.data.read_json(args.input)

    def digest(batch):
        batch["digest"] = [hashlib.blake2b(t.encode(), digest_size=8).hexdigest() for t in batch["text"]]
        return batch

    hashed = records.map_batches(digest, batch_format="pandas")
    rows_in = hashed.count()
    unique = hashed.groupby("digest").count().count()
    took = time.perf_counter() - started
    with open(f"{args.benchmark_results_path}/params.json", "w") as handle:
        json.dump({"input": args.input, "hash": "blake2b-64"}, handle)
    with open(f"{args.benchmark_results_path}/metrics.json", "w") as handle:
        json.dump({"is_success": True, "time_taken": took, "rows_in": rows_in,
                   "num_removed": rows_in - unique, "rows_per_s": rows_in / took}, handle)
    print(f"{rows_in} rows, {rows_in - unique} duplicates removed in {took:.2f} s")


if __name__ == "__main__":
    main()
