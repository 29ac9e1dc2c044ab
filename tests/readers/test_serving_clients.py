"""What real serving-benchmark clients wrote, shown on the site: each value checked against the raw
file it came from. The files were written by the clients themselves, run once against loopback
servers (tests/fixtures/real/serving_clients/run_clients.sh; each client's PROVENANCE.md), because
none of them belongs in the test venv (each pins its own torch/transformers). srt-slurm's
`benchmark-rollup.csv` is real sa-bench output read from ../shared."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SHARED, age, make_config, run_build
from runs_json import read_runs

from sitegen.readers import layout_of
from sitegen.render.env import format_number

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
CLIENTS = ("aiperf", "guidellm", "genai-bench", "inference-perf", "vllm-bench-serve", "sglang-bench-serving")
ROLLUPS = SHARED / "realdata" / "srt-slurm" / "issue-41603"


class Site:
    def __init__(self, out: Path, report) -> None:
        self.out = out
        self.report = report
        self.runs = {r["run_id"]: r for r in read_runs(out)}

    def run(self, run_id: str) -> dict:
        run = self.runs[run_id]
        assert run["kind"] == "serving", run
        assert run["warnings"] == [], run["warnings"]
        return run

    def table(self, run_id: str, curve: str) -> dict[float, dict[str, str]]:
        """The results table of one curve on the run page: x → column → the text shown."""
        page = (self.out / self.run(run_id)["url"]).read_text()
        match = re.search(rf"<h3>{re.escape(html.escape(curve))}</h3>\s*<div class=\"scroll\">(.*?)</table>",
                          page, re.S)
        assert match, f"no table {curve!r} on the page of {run_id}"
        header = re.findall(r"<th>(.*?)</th>", match[1].split("</thead>")[0])
        rows = {}
        for row in re.findall(r"<tr><th class=\"num\">(.*?)</th>(.*?)</tr>", match[1]):
            cells = re.findall(r"<td class=\"num\">(.*?)</td>", row[1])
            rows[row[0]] = dict(zip(header[1:], cells, strict=True))
        return rows

    def page(self, run_id: str) -> str:
        return (self.out / self.run(run_id)["url"]).read_text()


def shown(value: float) -> str:
    return format_number(float(value))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    base = tmp_path_factory.mktemp("clients")
    root = base / "runs"
    for client in CLIENTS:
        shutil.copytree(REAL / client / "runs", root / client)
    age(root)
    config = make_config(root, base / "site")
    site = Site(base / "site", run_build(config))
    again = run_build(config)
    assert again.read == [] and again.report.pages_written == 0  # a no-op rebuild reads nothing
    return site


def test_every_client_output_is_discovered_and_read_without_warnings(site: Site):
    assert sorted(site.runs) == [
        "aiperf/rate20", "aiperf/sweep", "genai-bench/mock_run", "guidellm", "inference-perf/concurrent",
        "inference-perf/constant", "sglang-bench-serving", "vllm-bench-serve",
    ]
    assert site.report.report.runs_failed == 0 and site.report.report.warnings == []
    assert all(r["kind"] == "serving" and r["status"] == "completed" for r in site.runs.values())


def test_aiperf_sweep(site: Site):
    table = site.table("aiperf/sweep", "aiperf")
    starts = []
    for folder in ("concurrency_1", "concurrency_4"):
        raw = json.loads((REAL / "aiperf/runs/sweep" / folder / "profile_export_aiperf.json").read_text())
        (phase,) = raw["input_config"]["phases"]
        row = table[shown(phase["concurrency"])]
        assert row["output_throughput"] == shown(raw["output_token_throughput"]["avg"])
        assert row["ttft_ms_p99"] == shown(raw["time_to_first_token"]["p99"])
        assert row["itl_ms_median"] == shown(raw["inter_token_latency"]["p50"])
        assert row["duration_s"] == shown(raw["benchmark_duration"]["avg"])
        starts.append(datetime.fromisoformat(raw["start_time"]).replace(tzinfo=UTC))
    page = site.page("aiperf/sweep")
    assert min(starts).strftime("%Y-%m-%d %H:%M") in page
    assert "0.13.0" in page and "mock-model" in page


def test_aiperf_request_rate(site: Site):
    raw = json.loads((REAL / "aiperf/runs/rate20/profile_export_aiperf.json").read_text())
    (phase,) = raw["input_config"]["phases"]
    row = site.table("aiperf/rate20", "aiperf · by request_rate")[shown(phase["rate"])]
    assert row["request_throughput"] == shown(raw["request_throughput"]["avg"])
    assert row["e2el_ms_p90"] == shown(raw["request_latency"]["p90"])
    assert row["completed"] == shown(raw["request_count"]["avg"])


def test_guidellm(site: Site):
    raw = json.loads((REAL / "guidellm/runs/benchmarks.json").read_text())
    table = site.table("guidellm", "guidellm")
    assert len(table) == len(raw["benchmarks"]) == 2
    for benchmark in raw["benchmarks"]:
        metrics = benchmark["metrics"]
        row = table[shown(benchmark["config"]["strategy"]["streams"])]
        assert row["request_throughput"] == shown(metrics["requests_per_second"]["successful"]["mean"])
        ttft = metrics["time_to_first_token_ms"]["successful"]
        assert row["ttft_ms_p99"] == shown(ttft["percentiles"]["p99"])
        assert row["ttft_ms_median"] == shown(ttft["median"])
        assert row["e2el_ms_mean"] == shown(metrics["request_latency"]["successful"]["mean"] * 1000)
    first = min(b["start_time"] for b in raw["benchmarks"])
    page = site.page("guidellm")
    assert datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%d %H:%M") in page
    assert raw["metadata"]["guidellm_version"] in page


def test_genai_bench(site: Site):
    table = site.table("genai-bench/mock_run", "genai-bench")
    files = sorted((REAL / "genai-bench/runs/mock_run").glob("D64_32_*.json"))
    assert len(files) == len(table) == 2
    for path in files:
        raw = json.loads(path.read_text())
        aggregated = raw["aggregated_metrics"]
        stats = aggregated["stats"]
        assert raw["_time_unit"] == "s"
        row = table[shown(aggregated["num_concurrency"])]
        assert row["output_throughput"] == shown(aggregated["mean_output_throughput_tokens_per_s"])
        assert row["ttft_ms_p99"] == shown(stats["ttft"]["p99"] * 1000)
        assert row["tpot_ms_median"] == shown(stats["tpot"]["p50"] * 1000)
        assert row["completed"] == shown(aggregated["num_completed_requests"])
        assert row["duration_s"] == shown(aggregated["run_duration"])


@pytest.mark.parametrize(("run", "x_key"), [("concurrent", "concurrency"), ("constant", "requested_rate")])
def test_inference_perf(site: Site, run: str, x_key: str):
    curve = "inference-perf" if x_key == "concurrency" else "inference-perf · by request_rate"
    table = site.table(f"inference-perf/{run}", curve)
    stages = sorted((REAL / "inference-perf/runs" / run).glob("stage_*_lifecycle_metrics.json"))
    assert len(stages) == len(table) == 2
    for path in stages:
        raw = json.loads(path.read_text())
        successes = raw["successes"]
        row = table[shown(raw["load_summary"][x_key])]
        assert row["output_throughput"] == shown(successes["throughput"]["output_tokens_per_sec"])
        assert row["ttft_ms_p99"] == shown(successes["latency"]["time_to_first_token"]["p99"] * 1000)
        assert row["tpot_ms_median"] == shown(successes["latency"]["time_per_output_token"]["median"] * 1000)
        assert row["completed"] == shown(successes["count"])


def test_vllm_bench_serve(site: Site):
    table = site.table("vllm-bench-serve", "vllm bench serve")
    files = sorted((REAL / "vllm-bench-serve/runs").glob("*.json"))
    assert len(files) == len(table) == 2
    for path in files:
        raw = json.loads(path.read_text())
        row = table[shown(raw["max_concurrency"])]
        assert row["output_throughput"] == shown(raw["output_throughput"])
        assert row["ttft_ms_p99"] == shown(raw["p99_ttft_ms"])
        assert row["e2el_ms_median"] == shown(raw["median_e2el_ms"])
        assert row["failed"] == shown(raw["failed"])
    page = site.page("vllm-bench-serve")
    first = min(json.loads(p.read_text())["date"] for p in files)
    assert datetime.strptime(first, "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M") in page
    assert "ttft_ms @ concurrency 4 (vllm bench serve)" in page  # per-request TTFTs as a histogram


def test_sglang_bench_serving(site: Site):
    table = site.table("sglang-bench-serving", "sglang bench_serving")
    (path,) = (REAL / "sglang-bench-serving/runs").glob("*.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == len(table) == 2
    for raw in lines:
        row = table[shown(raw["max_concurrency"])]
        assert row["total_token_throughput"] == shown(raw["total_throughput"])
        assert row["ttft_ms_p99"] == shown(raw["p99_ttft_ms"])
        assert row["e2el_ms_median"] == shown(raw["median_e2e_latency_ms"])


@pytest.mark.skipif(not ROLLUPS.is_dir(), reason="srt-slurm's rollup CSVs in ../shared/realdata are absent")
def test_srt_slurm_benchmark_rollup(tmp_path: Path):
    root = tmp_path / "runs"
    shutil.copytree(ROLLUPS, root)
    age(root)
    reporter = run_build(make_config(root, tmp_path / "site"))
    site = Site(tmp_path / "site", reporter)
    assert sorted(site.runs) == sorted(p.parent.name for p in ROLLUPS.glob("*/benchmark-rollup.csv"))
    for run_id in site.runs:
        with open(ROLLUPS / run_id / "benchmark-rollup.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for raw in rows:
            curve = "sa-bench rollup" + (f" · {raw['Config']}" if len(rows) > 1 else "")
            row = site.table(run_id, curve)[shown(float(raw["Concurrency"]))]
            assert row["output_throughput"] == shown(float(raw["Output Token Throughput"]))
            assert row["ttft_ms_median"] == shown(float(raw["Median TTFT"]))
            per_gpu = float(raw["Total Token Throughput per GPU"])
            assert row["total_token_throughput_per_gpu"] == shown(per_gpu)
            gpus = float(raw["Total GPU Count"])
            assert row["output_throughput_per_gpu"] == shown(float(raw["Output Token Throughput"]) / gpus)


# --- discovery -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("names", "layout"), [
    ({"profile_export_aiperf.json", "profile_export.jsonl", "logs"}, "serving"),
    ({"concurrency_1", "concurrency_4", "sweep_aggregate", "logs"}, "serving"),  # an aiperf sweep
    ({"profile_export_genai_perf.json"}, "serving"),
    ({"benchmarks.json"}, "serving"),
    ({"experiment_metadata.json", "D64_32_text-to-text_num_concurrency_1_time_3s.json"}, "serving"),
    ({"summary_lifecycle_metrics.json", "config.yaml"}, "serving"),
    ({"vllm-infqps-concurrency4-mock-model-20261205-124409.json"}, "serving"),
    ({"sglang-oai_1205_24_64_32.jsonl"}, "serving"),
    ({"benchmark-rollup.csv"}, "serving"),
    ({"results.json", "summary.json", "benchmark.json"}, None),
    ({"vllm-bench.json", "sglang_output.jsonl"}, None),
])
def test_client_output_dirs_are_claimed_by_their_signature_files(names: set[str], layout: str | None):
    assert layout_of("out", names) == layout


@pytest.mark.parametrize(("dir_name", "names", "layout"), [
    ("run", {"sidecar.json", "benchmarks.json"}, "sidecar"),
    ("3667_1P_1D_20251110_192145", {"3667.json", "profile_export_aiperf.json"}, "jobdir"),
    ("session", {"benchmark_results", "benchmarks.json"}, "nightly"),
    ("job", {"events.jsonl", "experiment_metadata.json"}, "eventlog"),
])
def test_the_serving_layout_never_takes_another_layouts_dir(dir_name: str, names: set[str], layout: str):
    assert layout_of(dir_name, names) == layout


def test_client_files_in_a_job_dirs_result_folder(tmp_path: Path):
    """A client's output copied into a job dir's result folder is read there, with the job's GPUs."""
    from test_jobdir import read, v1_meta, write_job

    aiperf = (REAL / "aiperf/runs/sweep/concurrency_4").iterdir()
    results = {f"gap_isl_64_osl_32/{p.name}": p.read_bytes() for p in aiperf}
    results["vllm_isl_64_osl_32/benchmarks.json"] = (REAL / "guidellm/runs/benchmarks.json").read_bytes()
    run = read(write_job(tmp_path, meta=v1_meta(), results=results), tmp_path)
    assert run.warnings == []
    by_curve = {(p.curve, p.x): p for p in run.points}
    raw = json.loads((REAL / "aiperf/runs/sweep/concurrency_4/profile_export_aiperf.json").read_text())
    point = by_curve["gap isl 64 / osl 32", 4.0]
    assert point.metrics["output_throughput"] == raw["output_token_throughput"]["avg"]
    assert point.metrics["output_throughput_per_gpu"] == raw["output_token_throughput"]["avg"] / 52
    assert {x for curve, x in by_curve if curve.startswith("vllm")} == {1.0, 4.0}
