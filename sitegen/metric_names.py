"""What metric names mean: the alias table from what serving benchmarks write to the names pages
rely on, and which way is better for a metric, from its name (`direction`).

vLLM `benchmark_serving`, SGLang `bench_serving` and genai-perf name one measurement
differently (`e2el` vs `e2e_latency`, `"request_goodput:"` with a stray colon, `duration`
in seconds, genai-perf's `{"avg": …, "p99": …}` objects). `normalise` maps a result record to:

- throughputs: `request_throughput`, `output_throughput`, `total_token_throughput`,
  `input_throughput`, `request_goodput`, and `output_throughput_per_gpu` (derived, `per_gpu`)
- latencies: `{ttft|tpot|itl|e2el}_ms_{mean|median|std|p<P>}`, P as written ("p99", "p99.9")
- counts: `completed`, `duration_s`, `total_input_tokens`, `total_output_tokens`,
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
               "input_throughput", "request_goodput")
PER_GPU = "output_throughput_per_gpu"
LATENCY_KINDS = ("ttft", "tpot", "itl", "e2el")
COUNTS = ("completed", "duration_s", "total_input_tokens", "total_output_tokens",
          "request_rate", "max_concurrency")

# Per-request arrays (megabytes at high concurrency): never metrics; readers summarise or skip them.
PER_REQUEST_KEYS = frozenset({"input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors"})

ALIASES: dict[str, str] = {
    **{name: name for name in THROUGHPUTS},
    "request_goodput:": "request_goodput",  # the vendored vLLM copy's typo
    "completed": "completed",
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
    "input_config",
})

# genai-perf summaries hold objects such as {"unit": "ms", "avg": 1.2, "p50": …, "p99": …}
_GENAI_LATENCIES = {"time_to_first_token": "ttft", "time_per_output_token": "tpot",
                    "inter_token_latency": "itl", "request_latency": "e2el"}
_GENAI_AVERAGES = {"request_throughput": "request_throughput",
                   "output_token_throughput": "output_throughput", "request_count": "completed"}
_GENAI_IGNORED_STATS = frozenset({"unit", "min", "max"})
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
    concurrency = _genai_concurrency(raw.get("input_config"))
    if concurrency is not None:
        metrics.setdefault("max_concurrency", concurrency)
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


def _genai_concurrency(config: object) -> float | None:
    """genai-perf's configured concurrency: `input_config.perf_analyzer.stimulus.concurrency`."""
    for key in ("perf_analyzer", "stimulus", "concurrency"):
        if not isinstance(config, dict):
            return None
        config = config.get(key)
    return finite(config)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_infinite(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("inf", "+inf", "infinity", "+infinity")
    return isinstance(value, float) and value == math.inf
