"""A distributed sort with Ray Data: records ordered by score."""

from __future__ import annotations

import argparse
import itertools
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
    ordered = ray.data.read_json(args.input).sort("score")
    scores = [row["score"] for row in ordered.take(1000)]
    rows = ordered.count()
    took = time.perf_counter() - started
    in_order = all(a <= b for a, b in itertools.pairwise(scores))
    with open(f"{args.benchmark_results_path}/params.json", "w") as handle:
        json.dump({"input": args.input, "key": "score"}, handle)
    with open(f"{args.benchmark_results_path}/metrics.json", "w") as handle:
        json.dump({"is_success": in_order, "time_taken": took, "rows": rows, "rows_per_s": rows / took},
                  handle)
    print(f"sorted {rows} rows in {took:.2f} s")


if __name__ == "__main__":
    main()
