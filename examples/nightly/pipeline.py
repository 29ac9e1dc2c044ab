"""A Ray Data pipeline over JSONL records: read, normalise, filter short texts, count words."""

from __future__ import annotations

import argparse
import json
import time

import ray


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--min-words", type=int, default=6)
    parser.add_argument("--benchmark-results-path", required=True)
    args = parser.parse_args()
    ray.init()
    started = time.perf_counter()
    records = ray.data.read_json(args.input)
    rows_in = records.count()

    def normalise(batch):
        batch["text"] = [text.lower().strip() for text in batch["text"]]
        batch["words"] = [len(text.split()) for text in batch["text"]]
        return batch

    normalised = records.map_batches(normalise, batch_format="pandas")
    kept = normalised.filter(lambda row: row["words"] >= args.min_words)
    rows_out = kept.count()
    words = kept.sum("words")
    took = time.perf_counter() - started
    with open(f"{args.benchmark_results_path}/params.json", "w") as handle:
        json.dump({"input": args.input, "min_words": args.min_words}, handle)
    with open(f"{args.benchmark_results_path}/metrics.json", "w") as handle:
        json.dump({"is_success": rows_out > 0, "time_taken": took, "rows_in": rows_in, "rows_out": rows_out,
                   "words": words, "rows_per_s": rows_in / took}, handle)
    print(f"{rows_in} rows in, {rows_out} kept, {words} words, {took:.2f} s")


if __name__ == "__main__":
    main()
