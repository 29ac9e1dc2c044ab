"""The jobdir reader on serving-benchmark job dirs written from FORMATS.md §1: what a user would see."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from conftest import SHARED, age, make_config, run_build
from runs_json import read_runs

from sitegen.model import Run
from sitegen.readers import jobdir, layout_of
from sitegen.readers.base import ReadContext
from sitegen.redact import Redactor

JOB = "3667_1P_1D_20251110_192145"
WHEN = 1762802505.0  # 2025-11-10 19:21:45, the directory's wall-clock time read as UTC
ROOT = str(Path(__file__).resolve().parents[2])
SGLANG_SAMPLES = SHARED / "realdata" / "sglang-bench-serving" / "sglang" / "outputs"


def v1_meta(**run_overrides: object) -> dict:
    """`{jobid}.json` v1.0 as `create_job_metadata()` writes it: profiler values are all strings."""
    run = {
        "slurm_job_id": "3667", "run_date": "20251110_192145", "job_name": "dynamo_setup",
        "account": "infra", "partition": "batch", "time_limit": "04:00:00",
        "container": "/lustre/images/lmsysorg+sglang+v0.5.4.post3-cu129-arm64.sqsh",
        "model_dir": "/models/DeepSeek-R1-FP4", "config_dir": "/configs", "gpus_per_node": 4,
        "network_interface": "enP6p9s0np0", "gpu_type": "gb200-fp8", "script_variant": "max-tpt",
        "use_init_location": False, "enable_config_dump": True, "run_in_ci": False,
        "mode": "disaggregated", "prefill_nodes": 1, "decode_nodes": 12,
        "prefill_workers": 1, "decode_workers": 1,
        "enable_multiple_frontends": True, "num_additional_frontends": 9,
    }
    run.update(run_overrides)
    return {
        "version": "1.0", "generated_at": "2025-11-10 19:21:45", "run_metadata": run,
        "profiler_metadata": {"type": "vllm", "isl": "1024", "osl": "1024",
                              "concurrencies": "1024x2048x4096", "req-rate": "inf"},
    }


def v2_meta(**overrides: object) -> dict:
    """srtctl's flat v2.0 (`src/srtctl/cli/submit.py`)."""
    data = {
        "version": "2.0", "orchestrator": True, "job_id": "1543570", "job_name": "glm5-ctx4-gen1",
        "generated_at": "2026-04-21 21:10:22",
        "model": {"path": "/lustre/models/nvidia_GLM-5-NVFP4", "container": "/lustre/i/trtllm-1.1.sqsh",
                  "precision": "nvfp4"},
        "resources": {"gpu_type": "gb200", "gpus_per_node": 4, "prefill_nodes": 2, "decode_nodes": 4,
                      "agg_nodes": None, "prefill_workers": 4, "decode_workers": 1, "agg_workers": 0,
                      "gpus_per_prefill": 2, "gpus_per_decode": 16, "gpus_per_agg": None},
        "backend_type": "trtllm", "frontend_type": "dynamo",
        "benchmark": {"type": "sa-bench", "isl": 1024, "osl": 1024},
        "tags": ["nightly", "glm5"], "setup_script": "setup.sh",
    }
    data.update(overrides)
    return data


def vllm_result(concurrency: int, requests: int = 4, **overrides: object) -> dict:
    """One `benchmark_serving.py --save-result` file of the vendored copy (`"request_goodput:"`)."""
    data: dict = {
        "date": "20251110-193000", "backend": "dynamo", "model_id": "deepseek-ai/DeepSeek-R1",
        "tokenizer_id": "deepseek-ai/DeepSeek-R1", "best_of": 1, "num_prompts": requests,
        "request_rate": "inf", "burstiness": 1.0, "max_concurrency": concurrency,
        "duration": 100.0, "completed": requests, "total_input_tokens": 1024 * requests,
        "total_output_tokens": 1024 * requests, "request_throughput": 0.5 * concurrency,
        "request_goodput:": None, "output_throughput": 10.0 * concurrency,
        "total_token_throughput": 20.0 * concurrency,
        "input_lens": [1024] * requests, "output_lens": [1024] * requests,
        "ttfts": [0.1 * (i + 1) for i in range(requests)], "itls": [[0.01, 0.02]] * requests,
        "generated_texts": ["hello"] * requests, "errors": [""] * requests,
    }
    for metric in ("ttft", "tpot", "itl", "e2el"):
        data.update({f"mean_{metric}_ms": 10.0, f"median_{metric}_ms": 9.0,
                     f"std_{metric}_ms": 1.0, f"p99_{metric}_ms": 20.0})
    data.update(overrides)
    return data


def write_job(
    root: Path, name: str = JOB, *, meta: dict | str | None = None, results: dict[str, object] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """A job dir: `{jobid}.json` (a dict, raw text, or none), result files by relative path, other files."""
    job = root / name
    job.mkdir(parents=True, exist_ok=True)
    job_id = name.split("_")[0]
    if meta is not None:
        (job / f"{job_id}.json").write_text(meta if isinstance(meta, str) else json.dumps(meta, indent=2))
    for rel, content in (results or {}).items():
        path = job / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (bytes, str)):
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        else:
            path.write_text(json.dumps(content))  # compact, on one line, as json.dump writes it
    for rel, text in (files or {}).items():
        (job / rel).parent.mkdir(parents=True, exist_ok=True)
        (job / rel).write_text(text)
    return job


def read(job: Path, root: Path, redactor: Redactor | None = None) -> Run:
    ctx = ReadContext(root=str(root), allowed=(), redactor=redactor or Redactor())
    run = jobdir.read(str(job), job.relative_to(root).as_posix(), ctx)
    msgspec.msgpack.encode(run)  # the build caches every Run
    return run


def warned(run: Run, *fragments: str) -> bool:
    return any(all(f in w for f in fragments) for w in run.warnings)


def metrics_are_finite(run: Run) -> bool:
    return all(math.isfinite(v) for p in run.points for v in p.metrics.values())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("dir_name", "names"), [
    (JOB, {"3667.json", "log.out"}),
    ("3667_4A_20251110_192145", {"3667.json"}),
    ("3667", {"log.err"}),
    ("1543570", {"1543570.json", "config.yaml", "logs"}),
    (JOB, {"vllm_isl_1024_osl_1024"}),
    (JOB, {"sglang_isl_8192_osl_1024", "node1_config.json"}),
    (JOB, {"gap_isl_128_osl_128"}),
    (JOB, {"sa-bench_isl_1024_osl_1024"}),
    (JOB, {"sa-bench_custom_long-context"}),
])
def test_claims_job_dirs(dir_name: str, names: set[str]):
    assert layout_of(dir_name, names) == "jobdir"


@pytest.mark.parametrize(("dir_name", "names"), [
    ("run_3667", {"3667.json", "log.out"}),  # the job id must come first
    ("job3667_1P_1D", {"log.out"}),
    ("٣٦٦٧_1P_1D", {"٣٦٦٧.json"}),  # Arabic-Indic digits are not a SLURM job id
    ("3667_1P_1D_20251110_192145", {"3668.json", "notes.txt"}),  # another job's metadata
    ("3667", {"trtllm_isl_1024_osl_1024", "sa-bench_custom_", "results"}),
    ("20231114", {"221320"}),  # a sidecar tree's date level
    ("3667", {"sidecar.json", "log.out"}),  # the sidecar layout comes first
])
def test_does_not_claim_other_dirs(dir_name: str, names: set[str]):
    assert layout_of(dir_name, names) != "jobdir"


# --- {jobid}.json: the fast path -----------------------------------------------------------------


def test_v1_metadata_facts_and_params(root: Path):
    meta = v1_meta(custom_knob="on")
    meta["extra"] = {"nested": {"depth": 2}, "list": [1, 2, 3]}
    job = write_job(root, meta=meta, results={"vllm_isl_1024_osl_1024/c64.json": vllm_result(64)})
    run = read(job, root)

    assert (run.kind, run.name, run.status) == ("jobdir", "3667 · 1P/1D · 2025-11-10 19:21", "completed")
    assert run.created_at == WHEN and run.badges == () and run.warnings == [] and run.problem is None
    assert run.slug.startswith("3667_1p_1d_20251110_192145-")
    assert run.facts == {
        "Job id": "3667", "Metadata": "{jobid}.json v1.0", "Mode": "disaggregated",
        "Topology": "1P/1D (workers)",  # the directory's numbers count workers ...
        "Prefill workers": 1, "Decode workers": 1,
        "Prefill nodes": 1, "Decode nodes": 12,  # ... not nodes: both are shown, labelled
        "GPUs per node": 4, "Total GPUs": 52, "GPU type": "gb200-fp8",
        "Container": "sglang+v0.5.4.post3-cu129-arm64", "Model": "DeepSeek-R1-FP4",
        "Benchmark tool": "vllm", "ISL": 1024, "OSL": 1024, "Concurrencies": "1024, 2048, 4096",
        "Request rate": "inf",
    }
    assert list(run.facts)[:4] == ["Job id", "Metadata", "Mode", "Topology"]
    # every field the facts do not show is kept, with dotted keys
    assert run.params["run_metadata.custom_knob"] == "on"
    assert run.params["run_metadata.account"] == "infra"
    assert run.params["run_metadata.enable_config_dump"] is True
    assert run.params["run_metadata.num_additional_frontends"] == 9
    assert run.params["run_metadata.container"].endswith("arm64.sqsh")  # the full path, too
    assert run.params["extra.nested.depth"] == 2 and run.params["extra.list"] == "1, 2, 3"
    assert not {"version", "generated_at", "run_metadata.run_date", "run_metadata.prefill_nodes",
                "profiler_metadata.isl"} & set(run.params)  # shown as facts or as the creation time
    assert list(run.params) == sorted(run.params)


def test_v1_aggregated(root: Path):
    meta = v1_meta(slurm_job_id="3700", mode="aggregated", agg_nodes=4, agg_workers=2)
    for key in ("prefill_nodes", "decode_nodes", "prefill_workers", "decode_workers"):
        del meta["run_metadata"][key]
    run = read(write_job(root, "3700_2A_20251111_080000", meta=meta), root)
    assert run.name == "3700 · 2A · 2025-11-10 19:21"  # run_date wins over the directory name
    assert run.facts["Topology"] == "2A (workers)"
    assert [run.facts[k] for k in ("Aggregated workers", "Aggregated nodes", "Total GPUs")] == [2, 4, 16]
    assert "Prefill workers" not in run.facts and run.warnings == [], run.warnings
    assert run.status == "unknown"  # no results, no errors in the logs


def test_v2_metadata(root: Path):
    meta = v2_meta()
    meta["resources"]["new_field"] = "kept"
    job = write_job(root, "1543570", meta=meta, results={
        "logs/sa-bench_isl_1024_osl_1024/results_concurrency_4_gpus_24_ctx_8_gen_16.json":
            vllm_result(4, **{"request_goodput": 1.5})})
    run = read(job, root)
    assert run.name == "1543570 · 4P/1D · 2026-04-21 21:10"
    assert run.created_at == 1776805822.0  # generated_at, UTC in v2
    assert run.tags == ("nightly", "glm5")
    assert run.facts["Metadata"] == "{jobid}.json v2.0" and run.facts["Mode"] == "disaggregated"
    assert (run.facts["Prefill workers"], run.facts["Decode workers"]) == (4, 1)
    assert (run.facts["Prefill nodes"], run.facts["Decode nodes"]) == (2, 4)
    assert (run.facts["GPUs per prefill worker"], run.facts["GPUs per decode worker"]) == (2, 16)
    assert run.facts["Total GPUs"] == 24  # workers × GPUs per worker
    assert (run.facts["Model"], run.facts["Precision"], run.facts["Container"]) == (
        "nvidia_GLM-5-NVFP4", "nvfp4", "trtllm-1.1")
    tools = ("Backend", "Frontend", "Benchmark tool")
    assert [run.facts[k] for k in tools] == ["trtllm", "dynamo", "sa-bench"]
    assert "Aggregated workers" not in run.facts and run.warnings == [], run.warnings
    assert run.params == {
        "job_name": "glm5-ctx4-gen1", "model.container": "/lustre/i/trtllm-1.1.sqsh",
        "model.path": "/lustre/models/nvidia_GLM-5-NVFP4", "orchestrator": True,
        "resources.new_field": "kept", "setup_script": "setup.sh",
    }
    (point,) = run.points
    assert point.curve == "sa-bench isl 1024 / osl 1024" and point.x == 4
    assert point.metrics["request_goodput"] == 1.5
    assert point.metrics["output_throughput_per_gpu"] == pytest.approx(40.0 / 24)


def test_v2_aggregated_and_gpus_from_nodes(root: Path):
    resources = {"gpu_type": "h100", "gpus_per_node": 8, "agg_nodes": 2, "agg_workers": 2,
                 "prefill_nodes": None, "decode_nodes": None, "prefill_workers": 0, "decode_workers": 0}
    run = read(write_job(root, "77", meta=v2_meta(job_id=77, resources=resources, tags=None)), root)
    assert run.facts["Mode"] == "aggregated" and run.facts["Topology"] == "2A (workers)"
    assert run.facts["Total GPUs"] == 16  # nodes × GPUs per node
    assert run.tags == () and run.warnings == [], run.warnings


def test_wrong_types_in_the_metadata_give_warnings_naming_the_field(root: Path):
    meta = v1_meta(prefill_workers="2", decode_workers="two", decode_nodes=None, gpus_per_node=[4],
                   run_date="yesterday", mode=7)
    meta["profiler_metadata"] = "vllm; isl=1024"
    run = read(write_job(root, meta=meta), root)
    assert warned(run, "3667.json: run_metadata.prefill_workers: expected a number", "'2'; read as 2")
    assert warned(run, "3667.json: run_metadata.decode_workers: expected a whole number", "'two'")
    assert warned(run, "3667.json: run_metadata.decode_nodes", "null")
    assert warned(run, "3667.json: run_metadata.gpus_per_node", "a list")
    assert warned(run, "3667.json: run_metadata.run_date: not a time", "yesterday")
    assert warned(run, "3667.json: run_metadata.mode: expected a string")
    assert warned(run, "3667.json: profiler_metadata: expected an object, found str")
    assert run.facts["Prefill workers"] == 2 and "Decode workers" not in run.facts
    assert "Topology" not in run.facts and "Total GPUs" not in run.facts
    assert run.created_at == WHEN  # from generated_at
    assert run.status == "unknown" and run.problem is None


def test_v2_wrong_types(root: Path):
    meta = v2_meta(resources="4 nodes", model=None, tags="nightly", generated_at=12)
    meta["benchmark"]["isl"] = "1k"
    run = read(write_job(root, "1543570", meta=meta), root)
    assert warned(run, "1543570.json: resources: expected an object, found str")
    assert warned(run, "1543570.json: model: expected an object, found null")
    assert warned(run, "1543570.json: tags: expected a list, found str")
    assert warned(run, "1543570.json: generated_at: expected a string")
    assert warned(run, "1543570.json: benchmark.isl: expected a whole number", "'1k'")
    assert run.tags == () and run.created_at is None and run.name == "1543570"
    assert run.facts["Job id"] == "1543570" and run.params["resources"] == "4 nodes"


@pytest.mark.parametrize(("content", "expected"), [
    ('{"version": "1.0", "run_metadata": {"slurm_job_id": "36', "3667.json: invalid JSON"),
    ("[1, 2]", "3667.json: expected a JSON object, found list"),
    ('"just a string"', "3667.json: expected a JSON object, found str"),
])
def test_unreadable_metadata_makes_a_broken_run_with_what_else_could_be_read(root, content, expected):
    job = write_job(root, meta=content, results={"vllm_isl_1024_osl_1024/c8.json": vllm_result(8)})
    run = read(job, root)
    assert run.status == "broken" and run.problem.message.startswith(expected)
    assert run.badges == () and len(run.points) == 1
    assert run.name == "3667 · 1P/1D · 2025-11-10 19:21"  # from the directory name


def test_lone_surrogates_in_the_metadata_become_replacement_characters(root: Path):
    """Found by fuzzing: Python's json decodes `\\ud800`, and the UTF-8 form of a surrogate, into a
    string that neither the cache nor a page can encode."""
    job = write_job(root, meta=v1_meta(job_name="a\ud800b"))
    meta = job / "3667.json"
    meta.write_bytes(meta.read_bytes().replace(b'"infra"', b'"in\xed\xa0\x80fra"'))
    run = read(job, root)  # encodes it as the cache does
    assert run.params["run_metadata.job_name"] == "a\ufffdb"
    assert run.params["run_metadata.account"] == "in\ufffdfra"


def test_counts_beyond_64_bits_are_not_counts(root: Path):
    """Found by fuzzing: a count beyond 64 bits (a number, a float or digits) in the metadata or
    the directory name reached the Run, which the cache (msgpack) could not hold."""
    resources = {**v2_meta()["resources"], "gpus_per_node": -(2**63) - 1025, "prefill_nodes": 1e30,
                 "decode_nodes": "99999999999999999999999"}
    run = read(write_job(root, "1543570", meta=v2_meta(resources=resources)), root)  # encodes it as cached
    assert "GPUs per node" not in run.facts and "Prefill nodes" not in run.facts
    legacy = write_job(root, "3601_99999999999999999999P_1D_20251101_080910", files={"log.out": "ok\n"})
    legacy = read(legacy, root)
    assert legacy.facts["Decode workers"] == 1 and "Prefill workers" not in legacy.facts


def test_secrets_in_the_metadata_are_redacted(root: Path):
    meta = v1_meta(hf_token="hf_abcdefghijklmnopqrstuvwxyz", slack_webhook="https://hooks.example/x",
                   max_tokens=4096, total_output_tokens=8, registry="https://bob:s3cret@registry.example/")
    meta["profiler_metadata"]["api-key"] = "sk-live-123"
    meta["run_metadata"]["container"] = "https://alice:hunter2@images.example/lmsysorg+sglang+v1.sqsh"
    run = read(write_job(root, meta=meta), root, Redactor([r"network_interface$"]))
    assert run.params["run_metadata.hf_token"] == "***"
    assert run.params["run_metadata.slack_webhook"] == "***"
    assert run.params["profiler_metadata.api-key"] == "***"
    assert run.params["run_metadata.network_interface"] == "***"  # a pattern from the config
    assert run.params["run_metadata.max_tokens"] == 4096  # benchmark data, not a token
    assert run.params["run_metadata.total_output_tokens"] == 8
    encoded = msgspec.json.encode(run).decode()
    for secret in ("hf_abcdefghijklmnopqrstuvwxyz", "s3cret", "sk-live-123", "hunter2", "hooks.example"):
        assert secret not in encoded
    assert run.facts["Container"] == "sglang+v1"


# --- the legacy path -----------------------------------------------------------------------------


def test_legacy_dir_without_metadata(root: Path):
    log_err = "".join(f"setup line {i}\n" for i in range(20))
    log_err += "+ srun --container-image=/lustre/ishandhanani+sglang+v0.5.4.post2-dyn.sqsh --no-container\n"
    folder = "sglang_isl_2048_osl_128/isl_2048_osl_128"
    job = write_job(root, "3600_2P_4D_20251101_080910", results={
        f"{folder}_concurrency_{c}_req_rate_inf_ctx2_gen4.json": vllm_result(c) for c in (16, 32)
    }, files={"log.err": log_err, "log.out": "CONTAINER_IMAGE=/other/x+wrong.sqsh\n"})
    run = read(job, root)
    assert run.badges == ("legacy",)
    assert run.warnings[0] == "no 3600.json: metadata parsed from the directory name and logs (legacy)"
    assert run.name == "3600 · 2P/4D · 2025-11-01 08:09" and run.created_at == 1761984550.0
    assert run.facts == {
        "Job id": "3600", "Metadata": "legacy (directory name and logs)", "Mode": "disaggregated",
        "Topology": "2P/4D (workers)", "Prefill workers": 2, "Decode workers": 4,
        "Container": "sglang+v0.5.4.post2-dyn",  # log.err is read before log.out
        "Benchmark tool": "sglang", "ISL": 2048, "OSL": 128,
    }
    assert [p.x for p in run.points] == [16, 32] and run.status == "completed"
    # no metadata, so no node counts: throughput per GPU from the file names (ctx2 + gen4 GPUs)
    assert run.points[0].metrics["output_throughput_per_gpu"] == pytest.approx(160.0 / 6)
    assert {str(job / "3600.json"), str(job / "log.err")} <= set(run.inputs)


def test_legacy_container_only_in_the_first_hundred_lines(root: Path):
    late = "".join(f"line {i}\n" for i in range(150)) + "CONTAINER_IMAGE=/i/a+late.sqsh\n"
    run = read(write_job(root, "3601_1A_20251101_080910", files={"log.err": late, "log.out": "ok\n"}), root)
    assert "Container" not in run.facts and run.facts["Topology"] == "1A (workers)"
    logs = {"log.err": "nothing\n", "log.out": "CONTAINER_IMAGE=/i/b+found.sqsh\n"}
    run = read(write_job(root, "3602_1A_20251101_080910", files=logs), root)
    assert run.facts["Container"] == "found"


def test_legacy_plain_numeric_dir(root: Path):
    run = read(write_job(root, "3100", files={"log.out": "started\n"}), root)
    assert run.name == "3100" and run.created_at is None and run.badges == ("legacy",)
    assert run.facts == {"Job id": "3100", "Metadata": "legacy (directory name and logs)"}


def test_an_eight_digit_job_id_is_not_a_date(root: Path):
    run = read(write_job(root, "20251101_1P_1D_20251110_192145", files={"log.out": ""}), root)
    assert run.created_at == WHEN


# --- the benchmark key: what a trend follows over dates ------------------------------------------


def test_the_benchmark_key_is_gpu_topology_and_lengths_without_concurrency(root: Path):
    v1 = read(write_job(root, meta=v1_meta(), results={
        "vllm_isl_1024_osl_1024/c64.json": vllm_result(64)}), root)
    other_concurrencies = v1_meta(slurm_job_id="3668")
    other_concurrencies["profiler_metadata"]["concurrencies"] = "8x16"
    later = read(write_job(root, "3668_1P_1D_20251112_000000", meta=other_concurrencies, results={
        "vllm_isl_1024_osl_1024/c8.json": vllm_result(8)}), root)
    assert v1.benchmark == later.benchmark == "gb200-fp8 · 1P/1D · isl 1024 / osl 1024"

    v2 = read(write_job(root, "1543570", meta=v2_meta()), root)
    assert v2.benchmark == "gb200 · 4P/1D · isl 1024 / osl 1024"
    resources = {"gpu_type": "h100", "gpus_per_node": 8, "agg_nodes": 2, "agg_workers": 2}
    aggregated = v2_meta(job_id=77, resources=resources, benchmark={"type": "sa-bench"})
    assert read(write_job(root, "77", meta=aggregated), root).benchmark == "h100 · 2A"


def test_a_legacy_benchmark_key_leaves_out_what_is_unknown(root: Path):
    folder = "sglang_isl_2048_osl_128/isl_2048_osl_128_concurrency_16_req_rate_inf_ctx2_gen4.json"
    legacy = read(write_job(root, "3600_2P_4D_20251101_080910", results={folder: vllm_result(16)},
                            files={"log.err": "hello\n"}), root)
    assert legacy.badges == ("legacy",) and legacy.benchmark == "2P/4D · isl 2048 / osl 128"
    bare = read(write_job(root, "3100", files={"log.out": "started\n"}), root)
    assert bare.benchmark is None


# --- results -------------------------------------------------------------------------------------


def test_vllm_results_normalised(root: Path):
    results = {f"vllm_isl_1024_osl_1024/isl_1024_osl_1024_concurrency_{c}_req_rate_inf_ctx1_gen1.json":
               vllm_result(c, **{"p99.9_ttft_ms": 30.0, "peak_output_tokens_per_s": 99.0})
               for c in (256, 64, 1024)}
    results["vllm_isl_1024_osl_1024/readme.txt"] = "not a result"
    results["vllm_isl_8192_osl_1024/c1.json"] = vllm_result(1, **{"request_goodput:": 0.25})
    run = read(write_job(root, meta=v1_meta(), results=results), root)
    assert [(p.curve, p.x) for p in run.points] == [
        ("vllm isl 1024 / osl 1024", 64), ("vllm isl 1024 / osl 1024", 256),
        ("vllm isl 1024 / osl 1024", 1024), ("vllm isl 8192 / osl 1024", 1)]
    point = run.points[0]
    assert point.x_name == "concurrency"
    assert point.metrics == {
        "completed": 4.0, "duration_s": 100.0, "max_concurrency": 64.0,
        "request_throughput": 32.0, "output_throughput": 640.0, "total_token_throughput": 1280.0,
        "output_throughput_per_gpu": 640.0 / 52, "total_input_tokens": 4096.0, "total_output_tokens": 4096.0,
        **{f"{m}_ms_{s}": v for m in ("ttft", "tpot", "itl", "e2el")
           for s, v in (("mean", 10.0), ("median", 9.0), ("std", 1.0), ("p99", 20.0))},
        "ttft_ms_p99.9": 30.0,
    }  # "inf" request rate and a null goodput are absent, not NaN
    assert run.points[3].metrics["request_goodput"] == 0.25  # the key with the stray colon
    assert warned(run, "result files: 1 keys are not known metrics", "peak_output_tokens_per_s")
    assert metrics_are_finite(run)


def test_sglang_jsonl_with_infinity_and_e2e_latency(root: Path):
    line = {
        "backend": "sglang", "dataset_name": "random", "request_rate": float("inf"), "max_concurrency": 32,
        "sharegpt_output_len": None, "random_input_len": 1024, "random_output_len": 1024,
        "random_range_ratio": 1.0, "duration": 50.0, "completed": 320, "total_input_tokens": 327680,
        "total_output_tokens": 327680, "total_output_tokens_retokenized": 327600,
        "request_throughput": 6.4, "input_throughput": 6553.6, "output_throughput": 6553.6,
        "mean_e2e_latency_ms": 5000.0, "median_e2e_latency_ms": 4900.0, "std_e2e_latency_ms": 100.0,
        "p99_e2e_latency_ms": 5500.0, "mean_ttft_ms": 200.0, "median_ttft_ms": 190.0, "std_ttft_ms": 20.0,
        "p99_ttft_ms": 400.0, "mean_tpot_ms": 4.5, "median_tpot_ms": 4.4, "std_tpot_ms": 0.2,
        "p99_tpot_ms": 5.0, "mean_itl_ms": 4.5, "median_itl_ms": 4.3, "std_itl_ms": 1.0, "p95_itl_ms": 6.0,
        "p99_itl_ms": 9.0, "concurrency": 31.2, "accept_length": None,
    }
    lines = [json.dumps(line), json.dumps({**line, "max_concurrency": 64, "mean_ttft_ms": float("nan")})]
    assert "Infinity" in lines[0] and "NaN" in lines[1]  # Python's json.dumps writes the bare tokens
    job = write_job(root, meta=v1_meta(), results={
        "sglang_isl_1024_osl_1024/sglang_1110_320_1024_1024.jsonl": "\n".join(lines) + "\n"})
    run = read(job, root)
    assert [p.x for p in run.points] == [32, 64]
    metrics = run.points[0].metrics
    assert "request_rate" not in metrics and "total_token_throughput" not in metrics
    assert metrics["input_throughput"] == 6553.6 and metrics["e2el_ms_mean"] == 5000.0
    assert metrics["e2el_ms_p99"] == 5500.0 and metrics["itl_ms_p95"] == 6.0
    assert not any("e2e_latency" in name for name in metrics)
    assert "ttft_ms_mean" not in run.points[1].metrics  # NaN never becomes a metric
    assert warned(run, "result files: 1 keys are not known metrics or not numbers", "mean_ttft_ms")
    assert metrics_are_finite(run)


@pytest.mark.skipif(not SGLANG_SAMPLES.is_dir(), reason="the real SGLang samples in ../shared are absent")
def test_real_sglang_bench_serving_output(root: Path):
    files = {f"sglang_isl_1024_osl_1024/{p.name}": p.read_bytes() for p in SGLANG_SAMPLES.glob("*.jsonl")}
    assert len(files) == 2
    run = read(write_job(root, meta=v1_meta(), results=files), root)
    curves = {p.curve for p in run.points}
    assert curves == {  # older SGLang: no max_concurrency, so rate-driven runs are plotted by rate
        "sglang isl 1024 / osl 1024 · random · by request_rate",
        "sglang isl 1024 / osl 1024 · sharegpt · by request_rate",
        "sglang isl 1024 / osl 1024 · random · by result",  # Infinity: neither concurrency nor rate
    }
    random = [p for p in run.points if p.curve.endswith("random · by request_rate")]
    assert [p.x for p in random] == [1, 2, 4, 8, 16] and random[0].x_name == "request_rate"
    assert random[0].metrics["e2el_ms_median"] == pytest.approx(7819.046192569658)
    assert random[0].metrics["request_rate"] == 1.0 and random[0].metrics["duration_s"] > 0
    (flood,) = [p for p in run.points if p.curve.endswith("by result")]
    assert "request_rate" not in flood.metrics and flood.metrics["output_throughput"] > 0
    assert len(run.points) == 8 and run.warnings == [] and metrics_are_finite(run)


def test_huge_per_request_arrays_become_histograms(root: Path):
    requests = 20_000
    result = vllm_result(512, requests=requests)
    result["ttfts"] = [0.05 + (i % 100) / 1000 for i in range(requests)]
    result["ttfts"][0] = 30.0  # one stalled request: a long tail
    result["itls"] = [[0.01 + (j % 10) / 1000 for j in range(40)] for _ in range(requests)]
    result["generated_texts"] = ["lorem ipsum dolor " * 40] * requests
    result["errors"] = [""] * (requests - 2) + ["Server disconnected", "timeout"]
    job = write_job(root, meta=v1_meta(), results={"vllm_isl_1024_osl_1024/c512.json": result})
    assert (job / "vllm_isl_1024_osl_1024/c512.json").stat().st_size > 20_000_000
    run = read(job, root)
    ttft, itl = run.histograms
    assert ttft.name == "ttft_ms @ concurrency 512 (vllm isl 1024 / osl 1024)"
    assert itl.name == "itl_ms @ concurrency 512 (vllm isl 1024 / osl 1024)"
    assert sum(ttft.counts) == requests - 2 and sum(itl.counts) == (requests - 2) * 40  # failures left out
    assert len(ttft.counts) == 30 and len(ttft.edges) == 31
    assert ttft.edges[0] == pytest.approx(50.0) and ttft.edges[-1] == pytest.approx(30_000.0)
    # what lies beyond the 99th percentile gets one bucket, so the rest are not squeezed into one
    assert ttft.counts[-1] <= requests // 100 and ttft.edges[-2] < 150 and max(ttft.counts) < requests // 10
    assert itl.edges[0] == pytest.approx(10.0) and itl.edges[-1] == pytest.approx(19.0)
    assert len(msgspec.msgpack.encode(run)) < 16_000  # the arrays are gone
    assert run.points[0].metrics["completed"] == requests


def test_malformed_results_give_warnings_and_keep_the_rest(root: Path):
    good = json.dumps(vllm_result(8))
    jsonl_lines = [json.dumps(vllm_result(c)) for c in (1, 2)]
    job = write_job(root, meta=v1_meta(), results={
        "vllm_isl_1024_osl_1024/c8.json": good,
        "vllm_isl_1024_osl_1024/c16.json": good[: len(good) // 2],  # truncated
        "vllm_isl_1024_osl_1024/c32.json": "[" * 100_000 + "]" * 100_000,
        "vllm_isl_1024_osl_1024/c64.json": b'{"backend": "\xff\xfe"}',
        "vllm_isl_1024_osl_1024/empty.json": "",
        "vllm_isl_1024_osl_1024/list.json": "[1, 2, 3]",
        "vllm_isl_1024_osl_1024/meta.json": '{"note": "not a result"}',
        "sglang_isl_1024_osl_1024/run.jsonl": "\n".join([jsonl_lines[0], "{oops", jsonl_lines[1], '{"dur']),
    })
    run = read(job, root)
    assert [(p.curve.split()[0], p.x) for p in run.points] == [("sglang", 1), ("sglang", 2), ("vllm", 8)]
    assert warned(run, "vllm_isl_1024_osl_1024/c16.json: invalid JSON")
    assert warned(run, "vllm_isl_1024_osl_1024/c32.json: ")
    assert warned(run, "vllm_isl_1024_osl_1024/c64.json: ")
    assert warned(run, "vllm_isl_1024_osl_1024/empty.json: empty")
    assert warned(run, "vllm_isl_1024_osl_1024/list.json: expected a JSON object, found list")
    assert warned(run, "vllm_isl_1024_osl_1024/meta.json: no benchmark metrics; skipped")
    assert warned(run, "sglang_isl_1024_osl_1024/run.jsonl: 1 invalid lines skipped (first at line 2)")
    assert warned(run, "run.jsonl: last line incomplete (still being written); 2 lines read")
    assert run.status == "completed"


def test_bad_bytes_in_a_result_string_are_named(root: Path):
    """Found by fuzzing: a string holding bad bytes was left out without a word (the rest is kept)."""
    result = json.dumps(vllm_result(8)).encode().replace(b'"dynamo"', b'"dyn\x80amo"')
    run = read(write_job(root, meta=v1_meta(), results={"vllm_isl_1024_osl_1024/c8.json": result}), root)
    assert [p.x for p in run.points] == [8]
    assert warned(run, "c8.json: not valid UTF-8; values holding bad bytes are left out")


def test_a_result_file_over_the_cap_is_not_read(root: Path, monkeypatch):
    from sitegen.readers import serving_results

    monkeypatch.setattr(serving_results, "MAX_RESULT_BYTES", 1000)
    job = write_job(root, meta=v1_meta(), results={
        "vllm_isl_1024_osl_1024/big.json": vllm_result(8, requests=100),
        "vllm_isl_1024_osl_1024/small.json": {"max_concurrency": 4, "output_throughput": 1.0},
        "sglang_isl_1024_osl_1024/many.jsonl": "\n".join(
            json.dumps({"max_concurrency": c, "output_throughput": 1.0}) for c in range(100)) + "\n",
    })
    run = read(job, root)
    assert warned(run, "big.json: larger than")
    assert warned(run, "many.jsonl: larger than", "only the first")
    sglang = [p for p in run.points if p.curve.startswith("sglang")]
    assert 10 < len(sglang) < 100 and any(p.x == 4 for p in run.points)


def test_srtctl_golden_result_names_the_concurrency_and_gpus(root: Path):
    golden = {"duration": 20.0, "benchmark_start_time_unix": 1.7e9, "benchmark_end_time_unix": 1.7e9 + 20,
              "completed": 40}
    job = write_job(root, "1600000", files={"logs/benchmark.out": "Benchmark completed successfully\n"},
                    results={"logs/sa-bench_isl_8192_osl_1024/results_concurrency_4_gpus_8_ctx_4_gen_4.json":
                             golden})
    run = read(job, root)
    (point,) = run.points
    assert (point.curve, point.x_name, point.x) == ("sa-bench isl 8192 / osl 1024", "concurrency", 4)
    assert point.metrics == {"completed": 40.0, "duration_s": 20.0}
    assert run.warnings == ["no 1600000.json: metadata parsed from the directory name and logs (legacy)"]


def test_genai_perf_summary(root: Path):
    summary = {
        "request_throughput": {"unit": "requests/sec", "avg": 2.5},
        "output_token_throughput": {"unit": "tokens/sec", "avg": 300.0},
        "time_to_first_token": {"unit": "ms", "avg": 50.0, "p50": 45.0, "p99": 90.0, "min": 1.0, "std": 5.0},
        "inter_token_latency": {"unit": "ns", "avg": 8_000_000.0, "p90": 9_000_000.0},
        "request_latency": {"unit": "ms", "avg": 900.0},
        "input_config": {"perf_analyzer": {"stimulus": {"concurrency": 16}}},
    }
    run = read(write_job(root, meta=v1_meta(), results={"gap_isl_128_osl_128/summary.json": summary}), root)
    (point,) = run.points
    assert (point.curve, point.x) == ("gap isl 128 / osl 128", 16)
    assert point.metrics == {
        "e2el_ms_mean": 900.0, "itl_ms_mean": 8.0, "itl_ms_p90": 9.0, "max_concurrency": 16.0,
        "output_throughput": 300.0, "output_throughput_per_gpu": 300.0 / 52, "request_throughput": 2.5,
        "ttft_ms_mean": 50.0, "ttft_ms_median": 45.0, "ttft_ms_p99": 90.0, "ttft_ms_std": 5.0,
    }


def test_no_results(root: Path):
    quiet = read(write_job(root, meta=v1_meta(), files={"log.out": "waiting for workers\n"}), root)
    assert quiet.status == "unknown" and quiet.points == [] and quiet.histograms == []
    traceback = "Traceback (most recent call last):\n  File \"x\"\nRuntimeError: NCCL timeout\n"
    failed = read(write_job(root, "3668_1P_1D_20251110_192145", meta=v1_meta(slurm_job_id="3668"), files={
        "node1_decode_w0.err": traceback, "vllm_isl_1024_osl_1024/.keep": ""}), root)
    assert failed.status == "failed" and failed.points == []
    assert failed.logs[0].error_summary == "RuntimeError: NCCL timeout"


# --- logs, files, inputs -------------------------------------------------------------------------


def test_logs_configs_and_inputs(root: Path, tmp_path: Path):
    outside = tmp_path / "private.out"
    outside.write_text("private\n")
    dump = {"filename": "node1_config.json", "gpu_info": {"count": 4},
            "config": {"server_args": {"tp_size": 4, "api_key": None, "max_total_tokens": 8192}},
            "environment": {"PATH": "/usr/bin", "NCCL_DEBUG": "INFO"}}
    leaky = {**dump, "environment": {"HF_TOKEN": "hf_abcdefghijklmnopqrstuvwx"}}
    job = write_job(root, "1543570", meta=v2_meta(), results={
        "logs/sa-bench_isl_1024_osl_1024/results_concurrency_8_gpus_24_ctx_8_gen_16.json": vllm_result(8)},
        files={
            "log.out": "ok\n", "logs/infra.out": "nats ready\n", "logs/log.out": "inner\n",
            "logs/node1_prefill_w0.err": "srun: error: node1: task 0: Killed\n", "logs/notes.txt": "x",
            "node1_config.json": json.dumps(dump), "node2_config.json": json.dumps(leaky),
            "sbatch_script.sh": "#!/bin/bash\n#SBATCH --nodes=2\nexport MAX_TOKENS=8\n",
            "config.yaml": "model:\n  path: /m\nhf_token: abc123\n", "recipe.lock.yaml": "x: 1\n",
        })
    (job / "stolen.err").symlink_to(outside)
    run = read(job, root)
    # named by file; a name taken by the job dir gets the folder (ordered as logs.read_logs orders)
    assert [s.name for s in run.logs] == ["infra.out", "log.out", "logs/log.out", "node1_prefill_w0.err"]
    assert all(s.rank is None for s in run.logs)
    assert "stolen.err: a link out of the configured roots; not followed" in run.warnings
    assert [(a.name, a.publish_as, a.source) for a in run.artifacts] == [
        ("config.yaml", None, None),
        ("node1_config.json", "node1_config.json", str(job / "node1_config.json")),
        ("node2_config.json", None, None),
        ("sbatch_script.sh", "sbatch_script.sh", str(job / "sbatch_script.sh")),
    ]
    assert run.artifacts[0].note == "not published: holds a secret-looking value (hf_token)"
    assert run.artifacts[2].note == "not published: holds credential-like values"
    assert run.artifacts[1].size == (job / "node1_config.json").stat().st_size
    results = job / "logs" / "sa-bench_isl_1024_osl_1024"
    assert {str(job), str(job / "1543570.json"), str(job / "logs"), str(results),
            str(results / "results_concurrency_8_gpus_24_ctx_8_gen_16.json"), str(job / "logs" / "infra.out"),
            str(job / "node1_config.json"), str(job / "sbatch_script.sh")} <= set(run.inputs)
    assert str(job / "logs" / "notes.txt") not in run.inputs
    assert list(run.inputs) == sorted(run.inputs) and run.status == "completed"


def test_a_huge_line_in_a_published_file_is_checked_in_linear_time(root: Path):
    """Found by fuzzing: the secret check of a file to publish, tried at every position of a long
    run of letters, backtracked for hours. A child process, so that a regression fails (the
    timeout is 1,000 times what the read takes) instead of hanging."""
    files = {"config.yaml": "x" * 300_000 + "\n", "sbatch_script.sh": "ok\n"}
    job = write_job(root, meta=v1_meta(), files=files)
    code = ("import sys; from sitegen.readers import jobdir; from sitegen.readers.base import ReadContext; "
            "run = jobdir.read(sys.argv[1], 'job', ReadContext(root=sys.argv[2], allowed=())); "
            "assert [a.name for a in run.artifacts] == ['config.yaml', 'sbatch_script.sh']")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code, str(job), str(root)], env=env, check=True, timeout=60)


def test_result_folder_linked_out_of_the_roots(root: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c1.json").write_text(json.dumps(vllm_result(1)))
    job = write_job(root, meta=v1_meta())
    (job / "vllm_isl_1_osl_1").symlink_to(elsewhere, target_is_directory=True)
    run = read(job, root)
    assert run.points == []
    assert "vllm_isl_1_osl_1: a link out of the configured roots; not followed" in run.warnings


def test_a_run_dir_that_vanished(root: Path):
    run = read(root / JOB, root)
    assert run.status == "broken" and run.problem.message == "run directory vanished or is unreadable"


# --- a whole build -------------------------------------------------------------------------------


def test_build_shows_a_job_dir_and_reads_nothing_the_second_time(tmp_path: Path):
    root = tmp_path / "runs"
    folder = "vllm_isl_1024_osl_1024/isl_1024_osl_1024"
    files = {"log.out": "started\n", "node1_decode_w0.err": "warming up\n",
             "node1_config.json": '{"config": {"server_args": {"tp_size": 4}}}'}
    job = write_job(root / "logs", meta=v1_meta(), files=files, results={
        f"{folder}_concurrency_{c}_req_rate_inf_ctx1_gen1.json": vllm_result(c) for c in (64, 128)})
    legacy = write_job(root / "logs", "3500_1P_2D_20251001_000000", files={"log.err": "hello\n"})
    age(root)
    out = tmp_path / "site"
    config = make_config(root, out)
    first = run_build(config)
    assert first.report.runs_read == 2 and first.report.runs_failed == 0
    runs = {r["run_id"]: r for r in read_runs(out)}
    page = out / runs[f"logs/{JOB}"]["url"]
    html = page.read_text()
    assert "3667 · 1P/1D · 2025-11-10 19:21" in html and "vllm isl 1024 / osl 1024" in html
    assert "1P/1D (workers)" in html and "Decode nodes" in html
    assert (page.parent / "logs" / "log.out.html").is_file()
    assert (page.parent / "logs" / "node1_decode_w0.err.html").is_file()
    assert (page.parent / "node1_config.json").read_bytes() == (job / "node1_config.json").read_bytes()
    assert runs[f"logs/{legacy.name}"]["kind"] == "jobdir"
    assert any("(legacy)" in w.message for w in first.report.warnings)

    second = run_build(config)
    assert second.read == [] and second.report.runs_cached == 2 and second.report.pages_written == 0


def test_a_legacy_run_is_one_bordered_warning_once_and_listed_on_the_quality_page(tmp_path: Path, capsys):
    from sitegen.cli import main

    root = tmp_path / "runs"
    write_job(root, meta=v1_meta(), results={"vllm_isl_1024_osl_1024/c64.json": vllm_result(64)})
    write_job(root, "3500_1P_2D_20251001_000000", files={"log.err": "hello\n"})
    age(root)
    args = ["build", "--root", str(root), "--out", str(tmp_path / "site")]
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    rule = "━" * 80
    assert err.count(rule) == 2
    block = err[err.index(rule):len(err) - err[::-1].index(rule)]
    assert block[1] == "legacy run: 3500_1P_2D_20251001_000000"
    assert "no 3500.json" in block[2]
    assert main(args) == 0
    assert rule not in capsys.readouterr().err  # not repeated on a no-op build
    quality = (tmp_path / "site" / "quality.html").read_text()
    assert "3500_1P_2D_20251001_000000" in quality and JOB not in quality
