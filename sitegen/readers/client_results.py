"""Other serving-benchmark clients' result files, put in vLLM `benchmark_serving`'s words.

`serving_results` reads vLLM, SGLang, genai-perf and aiperf records as they are; these clients
nest theirs differently, so each document becomes flat records (`mean_ttft_ms`, `p99_itl_ms`,
`request_throughput`, `max_concurrency` or `request_rate`, …) that `metric_names.normalise` knows:

- guidellm `benchmarks.json` (0.3 … 0.8): one record per benchmark of `benchmarks[]`; statistics
  `metrics.<name>.successful.{mean, median, std_dev, percentiles.p99}`, the load in the
  benchmark's `config.strategy` (`args.strategy` before 0.4)
- genai-bench, one JSON per scenario and concurrency: `aggregated_metrics` with `stats` in the
  file's `_time_unit` (seconds by default)
- inference-perf `stage_<N>_lifecycle_metrics.json` / `summary_lifecycle_metrics.json`:
  `load_summary` and `successes.latency` (seconds) / `successes.throughput`
- srt-slurm's sa-bench `benchmark-rollup.csv`: one row per config and concurrency

A `None` from `flatten` means the document is none of these (it is read as it is).
"""

from __future__ import annotations

from collections.abc import Mapping

from sitegen.numbers import finite

LATENCY_PERCENTILES = ("p90", "p95", "p99", "p99.9")
# guidellm's percentile keys: p001 is 0.1 %, p999 99.9 %
_GUIDELLM_PERCENTILES = {"p90": "p90", "p95": "p95", "p99": "p99", "p999": "p99.9"}
_GUIDELLM_LATENCIES = {"time_to_first_token_ms": ("ttft", 1.0), "inter_token_latency_ms": ("itl", 1.0),
                       "time_per_output_token_ms": ("tpot", 1.0), "request_latency": ("e2el", 1000.0)}
_GUIDELLM_RATES = {"requests_per_second": "request_throughput",
                   "output_tokens_per_second": "output_throughput",
                   "tokens_per_second": "total_token_throughput",
                   "prompt_tokens_per_second": "input_throughput"}
_GENAI_BENCH_LATENCIES = {"ttft": "ttft", "tpot": "tpot", "e2e_latency": "e2el"}
_GENAI_BENCH_RATES = {"requests_per_second": "request_throughput",
                      "mean_output_throughput_tokens_per_s": "output_throughput",
                      "mean_input_throughput_tokens_per_s": "input_throughput",
                      "mean_total_tokens_throughput_tokens_per_s": "total_token_throughput",
                      "num_completed_requests": "completed", "num_error_requests": "failed",
                      "run_duration": "duration"}
_INFERENCE_PERF_LATENCIES = {"time_to_first_token": "ttft", "inter_token_latency": "itl",
                             "time_per_output_token": "tpot", "request_latency": "e2el"}
_INFERENCE_PERF_RATES = {"requests_per_sec": "request_throughput",
                         "output_tokens_per_sec": "output_throughput",
                         "input_tokens_per_sec": "input_throughput",
                         "total_tokens_per_sec": "total_token_throughput"}
ROLLUP_COLUMNS = {
    "Concurrency": "max_concurrency", "Total Token Throughput": "total_token_throughput",
    "Output Token Throughput": "output_throughput", "Median TTFT": "median_ttft_ms",
    "Median TPOT": "median_tpot_ms", "Median ITL": "median_itl_ms",
    "Output Token Throughput per User": "output_throughput_per_user",
    "Total Token Throughput per GPU": "total_token_throughput_per_gpu",
}
_TO_MS = {"s": 1000.0, "ms": 1.0}


def flatten(document: Mapping[str, object]) -> list[dict[str, object]] | None:
    """The records of a guidellm, genai-bench or inference-perf document, or None for others."""
    if isinstance(document.get("benchmarks"), list):
        return [_guidellm(b) for b in document["benchmarks"] if isinstance(b, dict)]
    if isinstance(document.get("aggregated_metrics"), dict):
        return [_genai_bench(document["aggregated_metrics"], document.get("_time_unit"))]
    if isinstance(document.get("load_summary"), dict) and isinstance(document.get("successes"), dict):
        return [_inference_perf(document)]
    return None


def rollup_row(row: Mapping[str, str]) -> dict[str, object]:
    """One row of `benchmark-rollup.csv`; cells stay text (`normalise` reads numbers in text)."""
    record: dict[str, object] = {name: row.get(column) for column, name in ROLLUP_COLUMNS.items()}
    return {key: value for key, value in record.items() if value not in (None, "")}


# --- guidellm ------------------------------------------------------------------------------------


def _guidellm(benchmark: dict) -> dict[str, object]:
    metrics = _dict(benchmark.get("metrics"))
    record: dict[str, object] = {**_guidellm_load(benchmark), "duration": benchmark.get("duration")}
    for name, field in _GUIDELLM_RATES.items():
        record[field] = _successful(metrics, name).get("mean")
    for name, (kind, scale) in _GUIDELLM_LATENCIES.items():
        stats = _successful(metrics, name)
        percentiles = _dict(stats.get("percentiles"))
        values = {"mean": stats.get("mean"), "median": stats.get("median"), "std": stats.get("std_dev")}
        values |= {ours: percentiles.get(theirs) for theirs, ours in _GUIDELLM_PERCENTILES.items()}
        record |= _scaled(kind, values, scale)
    totals = _dict(metrics.get("request_totals"))  # 0.3: run_stats.requests_made
    totals = totals or _dict(_dict(benchmark.get("run_stats")).get("requests_made"))
    record |= {"completed": totals.get("successful"), "failed": totals.get("errored"),
               "total_input_tokens": _successful(metrics, "prompt_token_count").get("total_sum"),
               "total_output_tokens": _successful(metrics, "output_token_count").get("total_sum")}
    return record


def _guidellm_load(benchmark: dict) -> dict[str, object]:
    """Concurrency (synchronous is 1, concurrent its `streams`) or the target rate of a run."""
    strategy = _dict(_dict(benchmark.get("config")).get("strategy")) or _dict(
        _dict(benchmark.get("args")).get("strategy"))
    kind = strategy.get("type_")
    if kind == "synchronous":
        return {"max_concurrency": 1}
    if kind == "concurrent":
        return {"max_concurrency": strategy.get("streams")}
    if kind in ("constant", "poisson", "async"):
        return {"request_rate": strategy.get("rate")}
    return {}  # throughput: as fast as it goes, neither a concurrency nor a rate


def _successful(metrics: dict, name: str) -> dict:
    return _dict(_dict(metrics.get(name)).get("successful"))


# --- genai-bench ---------------------------------------------------------------------------------


def _genai_bench(aggregated: dict, time_unit: object) -> dict[str, object]:
    scale = _TO_MS.get(time_unit if isinstance(time_unit, str) else "s", 1000.0)
    record: dict[str, object] = {field: aggregated.get(name) for name, field in _GENAI_BENCH_RATES.items()}
    record["scenario"] = aggregated.get("scenario")
    if aggregated.get("iteration_type", "num_concurrency") == "num_concurrency":
        record["max_concurrency"] = aggregated.get("num_concurrency")
    stats = _dict(aggregated.get("stats"))
    for name, kind in _GENAI_BENCH_LATENCIES.items():
        values = _dict(stats.get(name))
        chosen = {"mean": values.get("mean"), "median": values.get("p50"), "std": values.get("stddev")}
        chosen |= {p: values.get(p) for p in LATENCY_PERCENTILES}
        record |= _scaled(kind, chosen, scale)
    record["total_input_tokens"] = _dict(stats.get("num_input_tokens")).get("sum")
    record["total_output_tokens"] = _dict(stats.get("num_output_tokens")).get("sum")
    return record


# --- inference-perf ------------------------------------------------------------------------------


def _inference_perf(document: Mapping[str, object]) -> dict[str, object]:
    load = _dict(document.get("load_summary"))
    successes = _dict(document.get("successes"))
    record: dict[str, object] = {"duration": document.get("benchmark_time_seconds"),
                                 "completed": successes.get("count"),
                                 "failed": _dict(document.get("failures")).get("count")}
    if "concurrency" in load:
        record["max_concurrency"] = load.get("concurrency")
    elif "requested_rate" in load:
        record["request_rate"] = load.get("requested_rate")
    throughput = _dict(successes.get("throughput"))
    record |= {field: throughput.get(name) for name, field in _INFERENCE_PERF_RATES.items()}
    latency = _dict(successes.get("latency"))
    for name, kind in _INFERENCE_PERF_LATENCIES.items():
        values = _dict(latency.get(name))
        chosen = {"mean": values.get("mean"), "median": values.get("median")}
        chosen |= {p: values.get(p) for p in LATENCY_PERCENTILES}
        record |= _scaled(kind, chosen, 1000.0)
    return record


# --- helpers -------------------------------------------------------------------------------------


def _scaled(kind: str, values: dict[str, object], scale: float) -> dict[str, object]:
    """`{stat}_{kind}_ms` from values in another unit; what is not a finite number is left out."""
    scaled = {}
    for stat, value in values.items():
        number = finite(value)
        if number is not None:
            scaled[f"{stat}_{kind}_ms"] = number * scale
    return scaled


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}
