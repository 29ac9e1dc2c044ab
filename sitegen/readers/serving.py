"""Reader for a serving-benchmark client's own output directory (no job dir around it).

aiperf's artifact dir (`profile_export_aiperf.json`; a sweep's parent with `sweep_aggregate/`
and one `concurrency_<N>/` artifact dir per value), genai-perf's (`profile_export_genai_perf.json`),
guidellm's `benchmarks.json`, a genai-bench experiment folder (`experiment_metadata.json`),
inference-perf's report dir (`*_lifecycle_metrics.json`), `vllm bench serve --save-result` files
under their default names, SGLang `bench_serving` JSON lines under theirs, and srt-slurm's
`benchmark-rollup.csv`. The results are read as in a job dir's result folder (`serving_results`);
this module says which client wrote them, for which model, and when.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sitegen.model import Problem, Run, Scalar
from sitegen.numbers import epoch_seconds
from sitegen.readers import VLLM_RESULT_NAME, serving_client
from sitegen.readers._tolerant import list_dir, read_json
from sitegen.readers.base import ReadContext, Reading
from sitegen.readers.serving_results import ResultDir, read_results, result_files
from sitegen.redact import redact_text
from sitegen.slug import run_slug

NAME = "serving"

SKIPPED_DIRS = frozenset({"logs", "aggregate", "sweep_aggregate"})  # aiperf: logs and sweep statistics
_METADATA_BYTES = 8 * 1024 * 1024


def read(run_dir: str, run_id: str, ctx: ReadContext) -> Run:
    """One client output directory; never raises on bad data (problems become warnings)."""
    run_dir = os.path.abspath(run_dir)
    dir_name = os.path.basename(run_dir)
    reading = Reading(run_dir, (ctx.root, *ctx.allowed))
    base = dict(run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME)
    names = list_dir(run_dir)
    if names is None or not reading.inside(run_dir):
        return Run(**base, name=dir_name, status="broken", inputs=(run_dir,),
                   problem=_problem(names is None))
    client = serving_client(set(names)) or "serving benchmark"
    folders = _folders(reading, names, client)
    about = _About()
    for folder in folders:
        _describe(reading, folder.path, about)
    _from_vllm_names(names, about)
    results = read_results(folders, None, reading.followable)
    reading.inputs.update(results.inputs)
    reading.warnings.extend(results.warnings)
    facts = {"Client": client, "Client version": about.version, "Model": about.model}
    return Run(
        **base,
        name=redact_text(f"{client} · {dir_name}"),
        status="completed" if results.points else "unknown",
        created_at=about.started, ended_at=about.ended,
        facts=ctx.redactor.mapping({k: v for k, v in facts.items() if v is not None}),
        benchmark=redact_text(" · ".join(part for part in (client, about.model) if part)),
        points=results.points,
        histograms=results.histograms,
        warnings=reading.warnings,
        inputs=tuple(sorted(reading.inputs)),
    )


def _problem(vanished: bool) -> Problem:
    if vanished:
        return Problem("run directory vanished or is unreadable")
    return Problem("run directory: a link out of the configured roots; not read")


def _folders(reading: Reading, names: list[str], client: str) -> list[ResultDir]:
    """The run dir, and each subdirectory a client wrote one result set in (an aiperf sweep's
    `concurrency_<N>/`): one curve, named after the client."""
    folders = [ResultDir(reading.run_dir, client, client, None, None)]
    for name in sorted(names):
        path = os.path.join(reading.run_dir, name)
        if name in SKIPPED_DIRS or name.startswith(".") or not os.path.isdir(path):
            continue
        if not reading.followable(path):
            continue
        entries = list_dir(path) or []
        if serving_client(set(entries)) or result_files(entries):
            reading.inputs.add(path)
            folders.append(ResultDir(path, client, client, None, None))
    return folders


class _About:
    """What the files say about the run besides its results."""

    def __init__(self) -> None:
        self.version: Scalar = None
        self.model: str | None = None
        self.started: float | None = None
        self.ended: float | None = None

    def saw(self, start: float | None, end: float | None) -> None:
        if start is not None:
            self.started = start if self.started is None else min(self.started, start)
        if end is not None:
            self.ended = end if self.ended is None else max(self.ended, end)


def _describe(reading: Reading, folder: str, about: _About) -> None:
    """Client version, model and times from the metadata each client writes."""
    for name, describe in _DESCRIBERS.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path) or not reading.followable(path):
            continue
        reading.inputs.add(path)
        value, problem = read_json(path, _METADATA_BYTES)
        if problem is None and not isinstance(value, dict):
            problem = f"{name}: expected a JSON object, found {type(value).__name__}"
        if problem is None:
            describe(value, about)
        elif name not in result_files([name]):  # else serving_results says what is wrong with it
            reading.warn(problem)


def _aiperf(doc: dict, about: _About) -> None:
    about.version = about.version or _text(doc.get("aiperf_version") or doc.get("genai_perf_version"))
    config = doc.get("input_config")
    models = _get(config, "models", "items") or _get(config, "model_names")  # 0.13; earlier aiperf
    models = models or _get(config, "endpoint", "model_names")
    if isinstance(models, list) and models:
        first = models[0]
        about.model = about.model or _text(first.get("name") if isinstance(first, dict) else first)
    about.saw(_iso(doc.get("start_time")), _iso(doc.get("end_time")))


def _guidellm(doc: dict, about: _About) -> None:
    about.version = about.version or _text(_get(doc, "metadata", "guidellm_version"))
    for benchmark in doc.get("benchmarks") or []:
        if not isinstance(benchmark, dict):
            continue
        backend = _get(benchmark, "config", "backend") or _get(benchmark, "worker", "backend_model")
        about.model = about.model or _text(backend.get("model") if isinstance(backend, dict) else backend)
        about.saw(epoch_seconds(benchmark.get("start_time")), epoch_seconds(benchmark.get("end_time")))


def _genai_bench(doc: dict, about: _About) -> None:
    about.version = about.version or _text(doc.get("benchmark_version"))
    about.model = about.model or _text(doc.get("api_model_name") or doc.get("model"))


_DESCRIBERS = {"profile_export_aiperf.json": _aiperf, "profile_export_genai_perf.json": _aiperf,
               "benchmarks.json": _guidellm, "experiment_metadata.json": _genai_bench}


def _from_vllm_names(names: list[str], about: _About) -> None:
    """Model and time from `vllm bench serve`'s default result names (`…-{model}-{YYYYMMDD-HHMMSS}.json`,
    the client's local time, read as UTC): the files themselves can be megabytes."""
    for name in sorted(names):
        match = VLLM_RESULT_NAME.fullmatch(name)
        if match:
            about.model = about.model or match[2]
            when = datetime.strptime(match[3], "%Y%m%d-%H%M%S").replace(tzinfo=UTC).timestamp()
            about.saw(when, when)


def _iso(value: object) -> float | None:
    """aiperf's `2026-12-05T12:23:56.120241`: local time without a zone, read as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _get(value: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
