"""What metric names mean: the alias table from what serving benchmarks write to the names pages
rely on, and which way is better for a metric, from its name (`direction`).

vLLM `benchmark_serving`/`vllm bench serve`, SGLang `bench_serving`, genai-perf and aiperf name
one measurement differently (`e2el` vs `e2e_latency`, `"request_goodput:"` with a stray colon,
`duration` in seconds, genai-perf's and aiperf's `{"unit": …, "avg": …, "p99": …}` objects).
`normalise` maps a result record to (other clients' files are first put in vLLM's words by
`sitegen.readers.client_results`):

- throughputs: `request_throughput`, `output_throughput`, `total_token_throughput`,
  `input_throughput`, `request_goodput`, `output_throughput_per_user`,
  `total_token_throughput_per_gpu`, and `output_throughput_per_gpu` (derived, `per_gpu`)
- latencies: `{ttft|tpot|itl|e2el}_ms_{mean|median|std|p<P>}`, P as written ("p99", "p99.9")
- counts: `completed`, `failed`, `duration_s`, `total_input_tokens`, `total_output_tokens`,
  `request_rate` (only when finite), `max_concurrency`

Values are finite floats only: NaN, ±Infinity, "inf" and null never become metrics.

`direction` reads the words of a name as loggers write them (`val/acc`, `train_acc_epoch`,
`eval/top1`, `mAP@50`, `test-f1`): errors and losses first (`top1_err` is an error), then
quality and throughput words, then times and sizes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from sitegen.numbers import finite

THROUGHPUTS = ("request_throughput", "output_throughput", "total_token_throughput",
               "input_throughput", "request_goodput", "output_throughput_per_user",
               "total_token_throughput_per_gpu")
PER_GPU = "output_throughput_per_gpu"
LATENCY_KINDS = ("ttft", "tpot", "itl", "e2el")
COUNTS = ("completed", "failed", "duration_s", "total_input_tokens", "total_output_tokens",
          "request_rate", "max_concurrency")

# Per-request arrays (megabytes at high concurrency): never metrics; readers summarise or skip them.
PER_REQUEST_KEYS = frozenset({"input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors",
                              "latencies", "start_times", "queue_times"})

ALIASES: dict[str, str] = {
    **{name: name for name in THROUGHPUTS},
    "request_goodput:": "request_goodput",  # the vendored vLLM copy's typo
    "completed": "completed",
    "failed": "failed",
    "total_throughput": "total_token_throughput",  # SGLang 0.5
    "duration": "duration_s",
    "total_input_tokens": "total_input_tokens",
    "total_output_tokens": "total_output_tokens",
    "request_rate": "request_rate",
    "max_concurrency": "max_concurrency",
}
_RAW_LATENCY_KINDS = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2el": "e2el", "e2e_latency": "e2el"}

# Run settings and labels, not measurements: ignored without a word. (SGLang's `concurrency`
# is the measured mean concurrency; readers may use it as the x axis.)
CONTEXT_KEYS = frozenset({
    "date", "backend", "model_id", "tokenizer_id", "best_of", "num_prompts", "burstiness",
    "dataset_name", "sharegpt_output_len", "random_input_len", "random_output_len",
    "random_range_ratio", "total_output_tokens_retokenized", "concurrency", "endpoint_type",
    "label", "reuse_http_connections", "benchmark_start_time_unix", "benchmark_end_time_unix",
    "input_config", "tag", "server_info", "total_input_text_tokens", "total_input_vision_tokens",
    "max_output_tokens_per_s", "max_concurrent_requests", "rtfx",  # vLLM 0.33 / SGLang 0.5 extras
    "scenario", "config", "total_gpus",  # genai-bench's traffic scenario; a rollup row's config and GPUs
})

# genai-perf summaries hold objects such as {"unit": "ms", "avg": 1.2, "p50": …, "p99": …}
_GENAI_LATENCIES = {"time_to_first_token": "ttft", "time_per_output_token": "tpot",
                    "inter_token_latency": "itl", "request_latency": "e2el"}
_GENAI_AVERAGES = {"request_throughput": "request_throughput", "output_token_throughput": "output_throughput",
                   "request_count": "completed", "total_token_throughput": "total_token_throughput",
                   "input_token_throughput": "input_throughput", "error_request_count": "failed",
                   "output_token_throughput_per_user": "output_throughput_per_user",
                   "total_isl": "total_input_tokens", "total_osl": "total_output_tokens",
                   "total_output_tokens": "total_output_tokens"}
_GENAI_SECONDS = {"benchmark_duration": "duration_s"}
# aiperf's further statistics (HTTP timings, token-usage checks, sliding-window throughputs …):
# known, and not shown
_AIPERF_EXTRA_PREFIXES = ("http_req_", "usage_", "total_usage_", "effective_", "active_", "osl_mismatch_")
_AIPERF_EXTRAS = frozenset({
    "time_to_second_token", "time_to_first_output_token", "inter_chunk_latency", "input_sequence_length",
    "output_sequence_length", "output_token_count", "e2e_output_token_throughput", "decode_duration",
    "prefill_throughput_per_user", "credit_to_start_latency", "tokens_in_flight", "request_error_rate",
    "completed_request_count", "goodput", "good_request_count",
})
_GENAI_IGNORED_STATS = frozenset({"unit", "min", "max", "sum", "count"})
_TO_S = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "": 1.0}
_TO_MS = {"ms": 1.0, "": 1.0, "ns": 1e-6, "us": 1e-3, "µs": 1e-3, "s": 1e3, "sec": 1e3}


def _words(*words: str) -> str:
    """Any of `words` as a word of a metric name: not inside a longer word (`acc` is not in
    `accelerator`), digits and separators (`/ _ . - @`) around it allowed (`acc1`, `top5_acc`)."""
    return r"(?<![a-z])(?:" + "|".join(words) + r")(?![a-z])"


# Errors and losses, lower is better, win over the words below: "top1_err" is an error.
_ERRORS = re.compile(_words(
    "loss(es)?", "nll", "errors?", "err", "wer", "cer", "mse", "rmse", "mae", "perplexity", "ppl",
    "fid", "bpd", "bits_per_dim", "regret", "miss_?rate",
))
_RATES = "throughput|goodput|tok_?s|qps|per_s(ec)?($|_)|speed|items|accuracy|score"
_HIGHER_IS_BETTER = re.compile(_RATES + "|" + _words(
    "acc", r"top[-_]?\d+", r"f\d+", "auroc", "auc", "auprc", r"map\d*", r"ap\d*", "precision", "recall",
    "bleu", r"rouge\w*", "meteor", "cider", "m?iou", "dice", "psnr", "ssim", "r2", "ndcg", "mrr", r"hits?",
    "win_?rate", "success_?rate", "reward", "return", "sps", "fps",
))
_LOWER_IS_BETTER = re.compile(r"time|latency|ttft|tpot|itl|e2el|duration|(^|_)ms($|_)|_s$|idle|memory|mem_")

_RAW_LATENCY = re.compile(r"(mean|median|std|p\d+(?:\.\d+)?)_(ttft|tpot|itl|e2el|e2e_latency)_ms")
_LATENCY = re.compile(r"(ttft|tpot|itl|e2el)_ms_(mean|median|std|p\d+(?:\.\d+)?)")
_PERCENTILE = re.compile(r"p\d+(?:\.\d+)?")


def normalise(raw: Mapping[str, object]) -> tuple[dict[str, float], list[str]]:
    """The record's metrics under their normalised names (sorted), and the raw keys dropped.

    Dropped: keys that look like measurements but are not known here, and known metrics whose
    value is not a finite number. Null values, settings (`CONTEXT_KEYS`), text labels (vLLM
    `--metadata` pairs), per-request arrays and an infinite `request_rate` are skipped silently.
    """
    metrics: dict[str, float] = {}
    dropped: list[str] = []
    for key, value in raw.items():
        if value is None or key in CONTEXT_KEYS or key in PER_REQUEST_KEYS:
            continue
        if isinstance(value, dict):
            _genai(key, value, metrics, dropped)
            continue
        name = _name(key)
        if name is None:
            if _is_number(value):
                dropped.append(key)
            continue
        number = finite(value)
        if number is not None:
            metrics[name] = number
        elif not (name == "request_rate" and _is_infinite(value)):
            dropped.append(key)
    for name, number in _genai_load(raw.get("input_config")).items():
        metrics.setdefault(name, number)
    return dict(sorted(metrics.items())), dropped


def per_gpu(metrics: dict[str, float], gpus: int | None) -> dict[str, float]:
    """`metrics` plus `output_throughput_per_gpu` when the total GPU count is known."""
    if not gpus or gpus <= 0 or "output_throughput" not in metrics:
        return metrics
    return dict(sorted({**metrics, PER_GPU: metrics["output_throughput"] / gpus}.items()))


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when the name does not say."""
    name = metric.lower()
    if _ERRORS.search(name):
        return -1
    if _HIGHER_IS_BETTER.search(name):
        return 1
    if _LOWER_IS_BETTER.search(name):
        return -1
    return 0


def is_latency(name: str) -> bool:
    return _LATENCY.fullmatch(name) is not None


def is_throughput(name: str) -> bool:
    return name in THROUGHPUTS or name == PER_GPU


def _name(key: str) -> str | None:
    if key in ALIASES:
        return ALIASES[key]
    match = _RAW_LATENCY.fullmatch(key)
    if match:
        return f"{_RAW_LATENCY_KINDS[match[2]]}_ms_{match[1]}"
    return None


def _genai(key: str, value: dict, metrics: dict[str, float], dropped: list[str]) -> None:
    if key in _GENAI_SECONDS:
        number = finite(value.get("avg"))
        scale = _TO_S.get(str(value.get("unit", "")).strip().lower())
        if number is None or scale is None:
            dropped.append(key)
        else:
            metrics[_GENAI_SECONDS[key]] = number * scale
        return
    if key in _AIPERF_EXTRAS or key.startswith(_AIPERF_EXTRA_PREFIXES):
        return
    if key in _GENAI_AVERAGES:
        number = finite(value.get("avg"))
        if number is None:
            dropped.append(key)
        else:
            metrics[_GENAI_AVERAGES[key]] = number
        return
    kind = _GENAI_LATENCIES.get(key)
    scale = _TO_MS.get(str(value.get("unit", "")).strip().lower())
    if kind is None or scale is None:
        if "avg" in value:
            dropped.append(key)
        return
    for stat, item in value.items():
        if stat in _GENAI_IGNORED_STATS:
            continue
        name = {"avg": "mean", "p50": "median", "std": "std"}.get(stat)
        name = name or (stat if _PERCENTILE.fullmatch(stat) else None)
        number = finite(item)
        if name is None or number is None:
            dropped.append(f"{key}.{stat}")
        else:
            metrics[f"{kind}_ms_{name}"] = number * scale


def _genai_load(config: object) -> dict[str, float]:
    """The configured concurrency or request rate of a genai-perf or aiperf run: genai-perf's
    `input_config.perf_analyzer.stimulus.concurrency`, aiperf's `input_config.loadgen`
    (`concurrency`, `request_rate`; early versions) or its profiling phase (`phases[]`: 0.13)."""
    if not isinstance(config, dict):
        return {}
    stimulus = _path(config, "perf_analyzer", "stimulus")
    loadgen = config.get("loadgen")
    phases = config.get("phases")
    if isinstance(phases, list):
        profiling = (p for p in phases if isinstance(p, dict) and p.get("kind", p.get("name")) == "profiling")
        loadgen = next(profiling, None)
    found = {}
    for source, key, name in ((stimulus, "concurrency", "max_concurrency"),
                              (loadgen, "concurrency", "max_concurrency"),
                              (loadgen, "request_rate", "request_rate"), (loadgen, "rate", "request_rate")):
        number = finite(source.get(key)) if isinstance(source, dict) else None
        if number is not None:
            found.setdefault(name, number)
    return found


def _path(value: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_infinite(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("inf", "+inf", "infinity", "+infinity")
    return isinstance(value, float) and value == math.inf
