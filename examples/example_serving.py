"""Six bundled serving-benchmark jobs (FORMATS.md §1, the srtctl layout `serving/<jobid>/`): three
dates × two topologies (1P/1D, 2P/1D) of one model at ISL/OSL 1024/1024, each a `{jobid}.json`
v2.0 and one sa-bench result JSON per concurrency. The last date runs a newer container, about
6 % faster; otherwise ±2 % noise from a fixed seed.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

DATES = ("2025-03-02 14:10:00", "2025-03-05 14:10:00", "2025-03-08 14:10:00")
TOPOLOGIES = ((1, 1), (2, 1))  # (prefill workers, decode workers), one node of 8 GPUs each
GPUS_PER_WORKER = 8
CONCURRENCIES = (4, 16, 64, 256)
ISL = OSL = 1024
CONTAINERS = ("lmsysorg+sglang+v0.4.3.post2-cu125", "lmsysorg+sglang+v0.4.3.post2-cu125",
              "lmsysorg+sglang+v0.4.4-cu125")
SPEEDUP = (1.0, 1.0, 1.06)
PEAK_TOKENS_PER_S = {1: 9000.0, 2: 12500.0}  # by prefill workers
SAMPLED_REQUESTS = 32  # per-request TTFTs kept in each file, for the page's histograms


def job_files() -> list[tuple[str, object, float]]:
    """(path under the runs dir, text or JSON value, mtime) of every file of every job."""
    files: list[tuple[str, object, float]] = []
    for day, generated in enumerate(DATES):
        for index, (prefill, decode) in enumerate(TOPOLOGIES):
            job_id = str(4101001 + 10 * day + index)
            created = datetime.strptime(generated, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            ended = created + 900.0 + 300.0 * len(CONCURRENCIES)
            rng = random.Random(f"serving/{job_id}")
            gpus = (prefill + decode) * GPUS_PER_WORKER
            results = f"logs/sa-bench_isl_{ISL}_osl_{OSL}"
            job = {f"{job_id}.json": _metadata(job_id, generated, prefill, decode, CONTAINERS[day]),
                   "config.yaml": _config(prefill, decode, CONTAINERS[day]),
                   "logs/benchmark.out": "".join(f"concurrency {c}: done\n" for c in CONCURRENCIES)
                   + "Benchmark completed successfully\n"}
            for number, concurrency in enumerate(CONCURRENCIES):
                name = (f"results_concurrency_{concurrency}_gpus_{gpus}_ctx_{prefill * GPUS_PER_WORKER}"
                        f"_gen_{decode * GPUS_PER_WORKER}.json")
                when = created + 900.0 + 300.0 * number
                job[f"{results}/{name}"] = _result(concurrency, prefill, SPEEDUP[day], when, rng)
            files += [(f"serving/{job_id}/{rel}", content, ended) for rel, content in job.items()]
    return files


def _metadata(job_id: str, generated: str, prefill: int, decode: int, container: str) -> dict[str, object]:
    """srtctl's flat v2.0 `{jobid}.json` (`src/srtctl/cli/submit.py`)."""
    return {
        "version": "2.0", "orchestrator": True, "job_id": job_id, "job_name": f"dsr1-{prefill}p{decode}d",
        "generated_at": generated,
        "model": {"path": "/lustre/models/DeepSeek-R1", "container": f"/lustre/images/{container}.sqsh",
                  "precision": "fp8"},
        "resources": {"gpu_type": "h100", "gpus_per_node": GPUS_PER_WORKER, "prefill_nodes": prefill,
                      "decode_nodes": decode, "agg_nodes": None, "prefill_workers": prefill,
                      "decode_workers": decode, "agg_workers": 0, "gpus_per_prefill": GPUS_PER_WORKER,
                      "gpus_per_decode": GPUS_PER_WORKER, "gpus_per_agg": None},
        "backend_type": "sglang", "frontend_type": "dynamo",
        "benchmark": {"type": "sa-bench", "isl": ISL, "osl": OSL,
                      "concurrencies": "x".join(map(str, CONCURRENCIES)), "req_rate": "inf"},
        "tags": ["serving", f"{prefill}P/{decode}D"],
    }


def _config(prefill: int, decode: int, container: str) -> str:
    return (f"name: dsr1-{prefill}p{decode}d\nmodel:\n  path: /lustre/models/DeepSeek-R1\n"
            f"  container: /lustre/images/{container}.sqsh\n  precision: fp8\n"
            f"resources:\n  gpu_type: h100\n  prefill_nodes: {prefill}\n  decode_nodes: {decode}\n"
            f"benchmark:\n  type: sa-bench\n  isl: {ISL}\n  osl: {OSL}\n")


def _result(concurrency: int, prefill: int, speedup: float, when: float, rng: random.Random) -> str:
    """One `benchmark_serving.py --save-result` file: compact JSON on one line, in its key order."""
    noise = 1.0 + rng.uniform(-0.02, 0.02)
    output = PEAK_TOKENS_PER_S[prefill] * speedup * noise * concurrency / (concurrency + 48)
    ttft = (180.0 + 2.2 * concurrency / prefill) / speedup * noise
    itl = (11.0 + 0.045 * concurrency) / speedup * noise
    e2el = ttft + itl * (OSL - 1)
    prompts = concurrency * 8
    duration = prompts * OSL / output
    ttfts = [round(ttft / 1000 * rng.uniform(0.6, 1.6), 4) for _ in range(SAMPLED_REQUESTS)]
    data: dict[str, object] = {
        "date": datetime.fromtimestamp(when, UTC).strftime("%Y%m%d-%H%M%S"), "backend": "dynamo",
        "model_id": "deepseek-ai/DeepSeek-R1", "tokenizer_id": "deepseek-ai/DeepSeek-R1", "best_of": 1,
        "num_prompts": prompts, "request_rate": "inf", "burstiness": 1.0, "max_concurrency": concurrency,
        "duration": round(duration, 3), "completed": prompts, "total_input_tokens": prompts * ISL,
        "total_output_tokens": prompts * OSL, "request_throughput": round(prompts / duration, 4),
        "request_goodput": None, "output_throughput": round(output, 2),
        "total_token_throughput": round(2 * output, 2), "ttfts": ttfts,
    }
    for metric, mean in (("ttft", ttft), ("tpot", itl), ("itl", itl), ("e2el", e2el)):
        data.update({f"mean_{metric}_ms": round(mean, 3), f"median_{metric}_ms": round(mean * 0.95, 3),
                     f"std_{metric}_ms": round(mean * 0.12, 3), f"p99_{metric}_ms": round(mean * 1.6, 3)})
    return json.dumps(data)
