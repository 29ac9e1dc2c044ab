"""Real artifacts that other people's tools wrote, and the values the site must show for each.

One registry for `tests/test_real_data.py` (one site over all of them, checked value by value) and
`benchmarks/real_data.py` (the same build, printed as a table). Each artifact is laid out under
its own folder of one root, as a user's tree would hold it; the values it must show are parsed
from its raw files here, never written down by hand.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runs_json import read_runs

from sitegen.render.env import format_number, format_time

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "real"
SHARED_REALDATA = HERE.parent.parent / "shared" / "realdata"


class Unavailable(Exception):
    """The artifact cannot be laid out here (e.g. `../shared` is absent in a user's clone)."""


@dataclass(frozen=True)
class Shown:
    """A value the run page must show: `label` followed by `text` in the page's visible text."""

    run: str  # a part of the run id that names the run ("/" + this is matched at the end)
    label: str
    text: str


@dataclass(frozen=True)
class Artifact:
    name: str  # also its folder under the build root
    made_by: str
    runs: int  # runs it must give
    place: Callable[[Path], None]  # lays the artifact out in the given (new) folder
    shown: Callable[[Path], list[Shown]]  # from the placed raw files
    warned: tuple[str, ...] = ()  # runs that must carry a warning (a fault in the data itself)


def number(value: object) -> str:
    return format_number(value)


def when(epoch: float) -> str:
    return format_time(epoch)


def copy_tree(source: Path) -> Callable[[Path], None]:
    def place(dest: Path) -> None:
        if not source.exists():
            raise Unavailable(f"{source} is absent")
        shutil.copytree(source, dest, dirs_exist_ok=True)

    return place


def page_text(page: str) -> str:
    """The visible text of a page, one space between pieces."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def read_json(path: Path) -> object:
    return json.loads(path.read_text())



def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


STATS = ("last", "min", "max", "count")  # the columns of a run page's summary table


def _sidecar_shown(root: Path) -> list[Shown]:
    shown = []
    for sidecar in sorted(root.rglob("sidecar.json")):
        run = sidecar.parent
        meta = read_json(sidecar)
        hparams = _yaml(run / "hparams.yaml")
        stats = read_json(run / "summary.json")["metrics"]
        metric = sorted(stats)[0]
        shown += [Shown(run.name, "Created", when(meta["created_at"])),
                  Shown(run.name, "lr", number(hparams["lr"])),
                  Shown(run.name, metric, " ".join(number(stats[metric][part]) for part in STATS))]
    return shown


def _mlflow_shown(root: Path) -> list[Shown]:
    """From a file store's own files: each run's start time, a param and a metric's latest value."""
    shown = []
    for meta_file in sorted(root.glob("mlruns/*/*/meta.yaml")):
        run = meta_file.parent
        meta = _yaml(meta_file)
        if "start_time" not in meta:
            continue  # not a run: e.g. a logged model's record
        uuid = meta.get("run_id") or meta["run_uuid"]
        shown.append(Shown(uuid, "Created", when(meta["start_time"] / 1000)))
        for param in sorted((run / "params").glob("*"))[:1]:
            shown.append(Shown(uuid, param.name, number(param.read_text().strip())))
        for metric in sorted((run / "metrics").glob("*"))[:1]:
            points = [line.split() for line in metric.read_text().splitlines() if line.strip()]
            latest = max(points, key=lambda point: (int(point[2]), int(point[0])))  # MLflow's rule
            shown.append(Shown(uuid, metric.name, number(float(latest[1]))))
    return shown


def _nightly_shown(root: Path) -> list[Shown]:
    shown = []
    for params_file in sorted(root.glob("*/*/params.json")):
        entry = params_file.parent
        params = read_json(params_file)
        name = sorted(key for key, value in params.items() if isinstance(value, int | float))[0]
        shown.append(Shown(entry.name, name, number(params[name])))
        if (entry / "results.json").exists():
            started = read_json(entry / "results.json")["exec_started_at"]
            shown.append(Shown(entry.name, "Created", when(started)))
        if (entry / "metrics.json").exists():
            metrics = read_json(entry / "metrics.json")
            numeric = sorted(key for key, value in metrics.items()
                             if isinstance(value, int | float) and not isinstance(value, bool))
            shown.append(Shown(entry.name, numeric[0], number(metrics[numeric[0]])))
    return shown


def _datajuicer_shown(root: Path) -> list[Shown]:
    job = next(root.rglob("events_*.jsonl")).parent
    events = _json_lines(next(job.glob("events_*.jsonl")))
    start = events[0]
    failed = sum(event["event_type"] in ("partition_failed", "partition_error") for event in events)
    config = _yaml(job / "tiny-partitioned.yaml")
    min_len = next(op["text_length_filter"]["min_len"] for op in config["process"]
                   if "text_length_filter" in op)
    partitions = start["metadata"]["num_partitions"]
    return [Shown(job.name, "Created", when(start["timestamp"])),
            Shown(job.name, "process.1.text_length_filter.min_len", number(min_len)),
            Shown(job.name, "Partitions",
                  f"{partitions - failed} of {partitions} completed, {failed} failed")]


DEMO_JOB = "demo-partitioned-job"


def _place_datajuicer_demo(dest: Path) -> None:
    demo = SHARED_REALDATA / "data-juicer" / "demos" / "partition_and_checkpoint"
    if not demo.exists():
        raise Unavailable(f"{demo} is absent")
    job = dest / DEMO_JOB
    (job / "logs").mkdir(parents=True)
    shutil.copyfile(demo / "example_event_log.jsonl", job / "events.jsonl")
    shutil.copyfile(demo / "example_processing_summary.json", job / "logs" / "processing_summary.json")


def _datajuicer_demo_shown(root: Path) -> list[Shown]:
    summary = read_json(root / DEMO_JOB / "logs" / "processing_summary.json")
    return [Shown(DEMO_JOB, "Created", when(summary["start_time"])),
            Shown(DEMO_JOB, "partition_size", number(summary["configuration"]["partition_size"])),
            Shown(DEMO_JOB, "peak_memory_mb", number(summary["resource_usage"]["peak_memory_mb"]))]


def _values(run: str, *values: float) -> list[Shown]:
    """Numbers of a results table: each must appear among the page's cells."""
    return [Shown(run, "", number(float(value))) for value in values]


def _aiperf_shown(root: Path) -> list[Shown]:
    shown = []
    for export in sorted(root.rglob("profile_export_aiperf.json")):
        run = "sweep" if export.parent.name.startswith("concurrency_") else export.parent.name
        data = read_json(export)
        shown += _values(run, data["output_token_throughput"]["avg"], data["time_to_first_token"]["p99"],
                         data["request_latency"]["p90"])
    return shown


def _guidellm_shown(root: Path) -> list[Shown]:
    shown = []
    for benchmark in read_json(root / "runs" / "benchmarks.json")["benchmarks"]:
        metrics = benchmark["metrics"]
        shown += _values("runs", metrics["output_tokens_per_second"]["successful"]["mean"],
                         metrics["time_to_first_token_ms"]["successful"]["percentiles"]["p99"],
                         metrics["time_to_first_token_ms"]["successful"]["median"])
    return shown


def _genai_bench_shown(root: Path) -> list[Shown]:
    shown = []
    for result in sorted(root.rglob("*_num_concurrency_*.json")):
        metrics = read_json(result)["aggregated_metrics"]
        shown += _values("mock_run", metrics["mean_output_throughput_tokens_per_s"],
                         metrics["stats"]["ttft"]["p99"] * 1000, metrics["num_concurrency"])
    return shown


def _inference_perf_shown(root: Path) -> list[Shown]:
    shown = []
    for stage in sorted(root.rglob("stage_*_lifecycle_metrics.json")):
        successes = read_json(stage)["successes"]
        shown += _values(stage.parent.name, successes["throughput"]["output_tokens_per_sec"],
                         successes["latency"]["time_to_first_token"]["p99"] * 1000, successes["count"])
    return shown


def _bench_serving_shown(root: Path) -> list[Shown]:
    """vLLM's `vllm bench serve` JSON and SGLang's `bench_serving` JSONL share their key names."""
    shown = []
    for result in sorted(root.rglob("*.json*")):
        for line in _json_lines(result) if result.suffix == ".jsonl" else [read_json(result)]:
            shown += _values("runs", line["output_throughput"], line["p99_ttft_ms"], line["max_concurrency"])
    return shown


def _rollup_shown(root: Path) -> list[Shown]:
    import csv

    shown = []
    for rollup in sorted(root.rglob("benchmark-rollup.csv")):
        with rollup.open() as handle:
            for row in csv.DictReader(handle):
                shown += _values(rollup.parent.name, float(row["Concurrency"]),
                                 float(row["Output Token Throughput"]), float(row["Median TTFT"]))
    return shown


SGLANG_2024_JOBS = {
    "4242_1P_1D_20241120_120000": ("sglang_isl_1024_osl_1024", "llama_3_3_70b_online_output.jsonl"),
    "4243_1P_1D_20241120_120000": ("sglang_isl_1_osl_512", "deepseek_dp_mla_output.jsonl"),
}


def _place_sglang_2024(dest: Path) -> None:
    """Two files of an older SGLang (one line per request rate, `Infinity` as a rate), put in the result
    folders of job dirs, where a serving job keeps them; the job dirs have no metadata (legacy)."""
    outputs = SHARED_REALDATA / "sglang-bench-serving" / "sglang" / "outputs"
    if not outputs.exists():
        raise Unavailable(f"{outputs} is absent")
    for job, (folder, name) in SGLANG_2024_JOBS.items():
        (dest / job / folder).mkdir(parents=True)
        shutil.copyfile(outputs / name, dest / job / folder / name)


def _sglang_2024_shown(root: Path) -> list[Shown]:
    shown = []
    for job, (folder, name) in SGLANG_2024_JOBS.items():
        for line in _json_lines(root / job / folder / name):
            shown += _values(job, line["output_throughput"], line["median_ttft_ms"], line["median_itl_ms"])
    return shown


def _make_mlflow_store(dest: Path) -> None:
    """A file store written now by the MLflow installed here, its empty folders dropped as git does."""
    import subprocess
    import sys

    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        raise Unavailable("MLflow is not installed (pip install -e '.[test]')") from exc
    subprocess.run([sys.executable, str(FIXTURES / "make_mlflow_fixture.py"), str(dest)],
                   check=True, capture_output=True, timeout=600)


def _fixture(name: str) -> Callable[[Path], None]:
    return copy_tree(FIXTURES / name)


ARTIFACTS = [
    Artifact("stable-pretraining", "stable-pretraining 0.1.8 + Lightning 2.6.6 (fixture)", 3,
             _fixture("stable-pretraining/runs"), _sidecar_shown),
    Artifact("mlflow-1.30.1", "MLflow 1.30.1 file store, empty folders dropped (fixture)", 5,
             _fixture("mlflow-1.30.1"), _mlflow_shown),
    Artifact("mlflow-2.17.2", "MLflow 2.17.2 file store, empty folders dropped (fixture)", 5,
             _fixture("mlflow-2.17.2"), _mlflow_shown),
    Artifact("mlflow-2.17.2-notebook", "MLflow 2.17.2 run from a Jupyter kernel (fixture)", 1,
             _fixture("mlflow-2.17.2-notebook"), _mlflow_shown),
    Artifact("mlflow-installed", "file store written now by the installed MLflow, empty folders dropped", 5,
             _make_mlflow_store, _mlflow_shown),
    Artifact("nemo-curator", "NeMo-Curator benchmarking/run.py @ 1e2e4275 (fixture)", 6,
             _fixture("nemo-curator"), _nightly_shown,
             warned=("bad_tasks_pickle",)),  # the runner raised before writing results.json
    Artifact("data-juicer", "DataJuicer 1.6.1 partitioned job (fixture)", 1,
             _fixture("data-juicer/1.6.1"), _datajuicer_shown),
    Artifact("data-juicer-demo", "DataJuicer's demo event log and processing summary (../shared)", 1,
             _place_datajuicer_demo, _datajuicer_demo_shown),
    Artifact("aiperf", "aiperf 0.13.0 (fixture)", 2, _fixture("aiperf/runs"), _aiperf_shown),
    Artifact("guidellm", "guidellm 0.8.1 (fixture)", 1, _fixture("guidellm"), _guidellm_shown),
    Artifact("genai-bench", "genai-bench 0.0.5 (fixture)", 1,
             _fixture("genai-bench/runs"), _genai_bench_shown),
    Artifact("inference-perf", "inference-perf 0.7.0 (fixture)", 2,
             _fixture("inference-perf/runs"), _inference_perf_shown),
    Artifact("vllm-bench-serve", "vLLM 0.33.0 vllm bench serve (fixture)", 1,
             _fixture("vllm-bench-serve"), _bench_serving_shown),
    Artifact("sglang-bench-serving", "SGLang 0.5.23 bench_serving (fixture)", 1,
             _fixture("sglang-bench-serving"), _bench_serving_shown),
    Artifact("sglang-2024", "SGLang bench_serving JSONL of late 2024, h200-benchmarks (../shared)", 2,
             _place_sglang_2024, _sglang_2024_shown,
             warned=tuple(SGLANG_2024_JOBS)),  # job dirs without {jobid}.json: read the legacy way
    Artifact("srt-slurm", "srt-slurm sa-bench benchmark-rollup.csv ×2 (../shared)", 2,
             copy_tree(SHARED_REALDATA / "srt-slurm" / "issue-41603"), _rollup_shown),
]


@dataclass
class Outcome:
    """What one artifact gave in a build over all of them."""

    artifact: Artifact
    unavailable: str = ""
    found: int = 0
    broken: int = 0
    warned: list[str] = field(default_factory=list)  # run ids with warnings
    checked: int = 0
    missing: list[str] = field(default_factory=list)  # values the site does not show as in the file

    @property
    def correct(self) -> bool:
        expected = sorted(self.artifact.warned)
        return (not self.unavailable and self.found == self.artifact.runs and not self.broken
                and sorted(run.rsplit("/", 1)[-1] for run in self.warned) == expected and not self.missing)


def lay_out(root: Path) -> dict[str, str]:
    """Every artifact in its own folder of `root`; returns why each one that could not be is absent."""
    unavailable = {}
    for artifact in ARTIFACTS:
        try:
            artifact.place(root / artifact.name)
        except Unavailable as why:
            unavailable[artifact.name] = str(why)
    return unavailable


def audit(root: Path, out: Path, unavailable: dict[str, str]) -> list[Outcome]:
    """Each artifact's runs on the built site, and each value checked against its raw files."""
    runs = read_runs(out)
    outcomes = []
    for artifact in ARTIFACTS:
        laid_out = (root / artifact.name).exists()
        outcome = Outcome(artifact, unavailable.get(artifact.name, "" if laid_out else "not laid out"))
        outcomes.append(outcome)
        if outcome.unavailable:
            continue
        mine = [run for run in runs if run["run_id"].startswith(artifact.name + "/")]
        outcome.found = len(mine)
        outcome.broken = sum(run["status"] == "broken" for run in mine)
        outcome.warned = [run["run_id"] for run in mine if run["warnings"]]
        texts = {run["run_id"]: page_text((out / run["url"]).read_text()) for run in mine}
        for value in artifact.shown(root / artifact.name):
            outcome.checked += 1
            pages = [text for run_id, text in texts.items() if f"/{value.run}/" in f"{run_id}/"]
            wanted = f"{value.label} {value.text}".strip()
            if not any(f" {wanted} " in f" {text} " for text in pages):
                outcome.missing.append(f"{value.run}: {wanted}")
    return outcomes
