"""The one alias table: raw benchmark keys (vLLM, SGLang, genai-perf) to the names pages use."""

from __future__ import annotations

import math

import pytest

from sitegen.metric_names import direction, finite, is_latency, is_throughput, normalise, per_gpu


@pytest.mark.parametrize(("raw", "name"), [
    ("request_throughput", "request_throughput"),
    ("output_throughput", "output_throughput"),
    ("total_token_throughput", "total_token_throughput"),
    ("input_throughput", "input_throughput"),  # SGLang
    ("request_goodput", "request_goodput"),
    ("request_goodput:", "request_goodput"),  # the vendored vLLM typo
    ("duration", "duration_s"),
    ("completed", "completed"),
    ("total_input_tokens", "total_input_tokens"),
    ("total_output_tokens", "total_output_tokens"),
    ("max_concurrency", "max_concurrency"),
    ("request_rate", "request_rate"),
    ("mean_ttft_ms", "ttft_ms_mean"),
    ("median_tpot_ms", "tpot_ms_median"),
    ("std_itl_ms", "itl_ms_std"),
    ("p99_e2el_ms", "e2el_ms_p99"),
    ("p99.9_ttft_ms", "ttft_ms_p99.9"),
    ("p95_itl_ms", "itl_ms_p95"),
    ("mean_e2e_latency_ms", "e2el_ms_mean"),  # SGLang
    ("p99_e2e_latency_ms", "e2el_ms_p99"),
])
def test_aliases(raw: str, name: str):
    assert normalise({raw: 12.5}) == ({name: 12.5}, [])


def test_values_that_never_become_metrics():
    metrics, dropped = normalise({
        "request_rate": "inf", "request_goodput:": None, "mean_ttft_ms": math.nan, "p99_itl_ms": math.inf,
        "completed": True, "output_throughput": "fast", "duration": "12.5",
        "date": "20251110-193000", "backend": "vllm", "num_prompts": 80, "burstiness": 1.0,
        "concurrency": 31.5, "my_metadata_label": "nightly",
        "ttfts": [0.1], "itls": [[0.01]], "generated_texts": ["x"], "errors": [""],
        "accept_length": 2.5, "peak_output_tokens_per_s": 900,
    })
    assert metrics == {"duration_s": 12.5}
    assert sorted(dropped) == ["accept_length", "completed", "mean_ttft_ms", "output_throughput",
                               "p99_itl_ms", "peak_output_tokens_per_s"]
    assert normalise({"request_rate": math.inf}) == ({}, [])
    assert normalise({"request_rate": 4}) == ({"request_rate": 4.0}, [])


def test_genai_perf_objects():
    metrics, dropped = normalise({
        "time_to_first_token": {"unit": "ms", "avg": 5.0, "p50": 4.0, "p99": 9.0, "min": 1.0, "max": 10.0},
        "inter_token_latency": {"unit": "ns", "avg": 2_000_000.0},
        "request_throughput": {"unit": "requests/sec", "avg": 3.0},
        "output_token_throughput_per_user": {"unit": "tokens/sec/user", "avg": 50.0},
        "gpu_power_usage": {"unit": "W", "avg": 300.0},
        "http_req_waiting": {"unit": "ms", "avg": 1.0},  # aiperf's own statistics: known, not shown
        "input_config": {"perf_analyzer": {"stimulus": {"concurrency": 8}}},
    })
    assert metrics == {"itl_ms_mean": 2.0, "max_concurrency": 8.0, "output_throughput_per_user": 50.0,
                       "request_throughput": 3.0, "ttft_ms_mean": 5.0, "ttft_ms_median": 4.0,
                       "ttft_ms_p99": 9.0}
    assert dropped == ["gpu_power_usage"]


@pytest.mark.parametrize(("config", "load"), [
    ({"loadgen": {"concurrency": 16, "request_rate": None}}, {"max_concurrency": 16.0}),  # early aiperf
    ({"loadgen": {"concurrency": None, "request_rate": 2.5}}, {"request_rate": 2.5}),
    ({"phases": [{"name": "warmup", "concurrency": 2}, {"kind": "profiling", "concurrency": 4}]},
     {"max_concurrency": 4.0}),  # aiperf 0.13
    ({"phases": [{"kind": "profiling", "type": "poisson", "rate": 20.0}]}, {"request_rate": 20.0}),
])
def test_aiperf_load(config: dict, load: dict):
    assert normalise({"input_config": config}) == (load, [])


def test_helpers():
    assert is_latency("ttft_ms_p99.9") and is_latency("e2el_ms_median")
    assert not is_latency("e2e_latency_ms_mean") and not is_latency("ttft_ms_min")
    assert is_throughput("request_goodput") and is_throughput("output_throughput_per_gpu")
    assert not is_throughput("request_rate")
    assert per_gpu({"output_throughput": 80.0}, 8)["output_throughput_per_gpu"] == 10.0
    assert per_gpu({"output_throughput": 80.0}, None) == {"output_throughput": 80.0}
    assert per_gpu({"completed": 1.0}, 8) == {"completed": 1.0}
    values = (1, "2", True, None, "nan", math.inf, "x", [1])
    assert [finite(v) for v in values] == [1.0, 2.0, None, None, None, None, None, None]


@pytest.mark.parametrize("metric", [
    "acc", "val/acc", "train_acc_epoch", "acc@1", "val/accuracy", "eval/top1", "top-5", "top5_acc",
    "f1", "test-f1", "macro_f1_score", "auroc", "val_auc", "mAP", "mAP@50", "map50_95", "bleu", "rougeL",
    "recall@10", "ndcg@10", "miou", "psnr", "episode_return", "train/reward_mean",
    "output_throughput", "tokens_per_s", "qps", "request_goodput",
])
def test_higher_is_better(metric: str):
    assert direction(metric) == 1


@pytest.mark.parametrize("metric", [
    "loss", "val/loss", "train/loss_step", "val_loss_epoch", "nll", "perplexity", "val_ppl", "error",
    "top1_err", "eval/top1_error", "wer", "fid", "fid_score", "mse", "val/mae",
    "time_taken", "exec_time_s", "ttft_ms_p99", "e2el_ms_mean", "itl_ms_p99.9", "mean_latency", "duration_s",
])
def test_lower_is_better(metric: str):
    assert direction(metric) == -1


@pytest.mark.parametrize("metric", [
    "lr", "epoch", "step", "grad_norm", "accelerator_count", "heatmap_size", "num_removed", "is_success",
    "completed", "max_concurrency", "request_rate", "total_input_tokens", "stderr_lines",
])
def test_no_direction(metric: str):
    assert direction(metric) == 0
