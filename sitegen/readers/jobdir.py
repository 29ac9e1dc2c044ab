"""Reader for serving-benchmark job directories (srt-slurm / Dynamo SLURM jobs, FORMATS.md §1).

Legacy `<jobid>_<P>P_<D>D_<YYYYMMDD>_<HHMMSS>/` dirs and srtctl `outputs/<jobid>/` dirs (logs and
results under `logs/`). What the job was comes from `{jobid}.json` (`job_metadata`), or, without
it, from the directory name and the batch logs (the run gets the "legacy" badge); results come
from `{type}_isl_{isl}_osl_{osl}/` folders (`serving_results`).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

from sitegen.model import Artifact, LogStream, Problem, Run, Scalar
from sitegen.readers import is_result_dir_name
from sitegen.readers._tolerant import file_size, list_dir, read_bytes, read_json
from sitegen.readers.base import ReadContext, Reading
from sitegen.readers.job_metadata import JobMeta, container_name, from_json, from_names, topology, total_gpus
from sitegen.readers.logs import LogFile, log_files_in, read_logs
from sitegen.readers.serving_results import ResultDir, read_results, result_dir
from sitegen.redact import Redactor, is_secret_key, redact_text
from sitegen.slug import run_slug, unique_slugs

NAME = "jobdir"

LOGS_DIR = "logs"  # srtctl: worker logs and result folders live here
LEGACY_LOGS = ("log.err", "log.out")  # where the legacy path looks for the container, in this order
PUBLISHED_FILES = ("sbatch_script.sh", "config.yaml")  # besides the `*_config.json` SGLang dumps
MAX_PUBLISH_BYTES = 4 * 1024 * 1024  # a published file is checked for secrets first, whole
LEGACY_BADGE = "legacy"

# `KEY=value`, `key: value`, `"key": "value"`: the key's words decide whether the value is a secret
# `key: value`, `key=value`, `"key": "value"`; a name is tried from the start of its run of name
# characters only and never backtracked into (tried at every position, a 300 kB line took hours)
_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_.-])[\"']?[0-9.-]*+([A-Za-z_][A-Za-z0-9_.-]*+)[\"']?\s*+[:=]\s*+[\"']?([^\s\"',}\]]+)"
)
_EMPTY_VALUES = frozenset({"null", "none", "~", "false", "''", "{", "["})


def read(run_dir: str, run_id: str, ctx: ReadContext) -> Run:
    """One job directory; never raises on bad data (problems become warnings, or `problem`)."""
    run_dir = os.path.abspath(run_dir)
    dir_name = os.path.basename(run_dir)
    job_id = dir_name.split("_", 1)[0]
    base = dict(run_id=run_id, root=ctx.root, slug=run_slug(ctx.root, run_id), kind=NAME)
    reading = _Reading(run_dir, (ctx.root, *ctx.allowed))
    if reading.problem:
        problem = Problem(reading.problem)
        return Run(**base, name=dir_name, status="broken", problem=problem, inputs=(run_dir,))
    meta, problem, badges = _metadata(reading, dir_name, job_id)
    folders = _result_dirs(reading)
    _fill_from_folders(meta, folders)
    gpus = total_gpus(meta)
    results = read_results(folders, gpus, reading.followable)
    reading.inputs.update(results.inputs)
    reading.warnings.extend(results.warnings)
    logs = _read_logs(reading, ctx.log_tail_bytes)
    return Run(
        **base,
        name=_name(meta),
        status="broken" if problem else _status(bool(results.points), logs),
        created_at=meta.created_at,
        tags=meta.tags,
        badges=badges,
        facts=ctx.redactor.mapping(_facts(meta, gpus)),
        benchmark=benchmark_key(meta),
        params=dict(sorted(ctx.redactor.mapping(meta.params).items())),
        points=results.points,
        histograms=results.histograms,
        logs=logs,
        artifacts=_artifacts(reading, ctx.redactor),
        warnings=reading.warnings,
        problem=problem,
        inputs=tuple(sorted(reading.inputs)),
    )


class _Reading(Reading):
    """A read of a job dir: the entries of the job dir and of its `logs/`, too."""

    def __init__(self, run_dir: str, allowed: tuple[str, ...]) -> None:
        super().__init__(run_dir, allowed)
        self.problem: str | None = None
        names = list_dir(run_dir)
        if not self.inside(run_dir):  # a dir link out of the roots
            self.problem = "run directory: a link out of the configured roots; not read"
        elif names is None:
            self.problem = "run directory vanished or is unreadable"
        self.names = frozenset(names or ())
        self.logs_dir = os.path.join(run_dir, LOGS_DIR)
        self.log_names: frozenset[str] = frozenset()
        if LOGS_DIR in self.names and os.path.isdir(self.logs_dir) and self.followable(self.logs_dir):
            self.inputs.add(self.logs_dir)
            self.log_names = frozenset(list_dir(self.logs_dir) or ())

    def entries(self) -> list[tuple[str, str]]:
        """(label, absolute path) of every entry of the job dir, then of its `logs/`."""
        found = [(name, os.path.join(self.run_dir, name)) for name in sorted(self.names)]
        found += [(f"{LOGS_DIR}/{name}", os.path.join(self.logs_dir, name))
                  for name in sorted(self.log_names)]
        return found


# --- metadata --------------------------------------------------------------------------------------


def _metadata(
    reading: _Reading, dir_name: str, job_id: str
) -> tuple[JobMeta, Problem | None, tuple[str, ...]]:
    """`{jobid}.json` when present (unreadable: the run is broken); else the legacy parse."""
    file_name = f"{job_id}.json"
    path = reading.use(file_name)  # an input even when missing: it may appear later
    if file_name in reading.names and reading.followable(path):
        value, problem = read_json(path)
        if problem is None and not isinstance(value, dict):
            problem = f"{file_name}: expected a JSON object, found {type(value).__name__}"
        if problem is None:
            meta = from_json(value, file_name, job_id, dir_name, reading.warnings)
            if meta.job_id != job_id:
                reading.warnings.append(f"{file_name}: job id {meta.job_id!r} differs from the directory's "
                                        f"{job_id!r}")
            return meta, None, ()
        return _from_names(reading, dir_name, job_id), Problem(problem), ()
    meta = _from_names(reading, dir_name, job_id)
    reading.warnings.insert(0, f"no {file_name}: metadata parsed from the directory name and logs (legacy)")
    return meta, None, (LEGACY_BADGE,)


def _from_names(reading: _Reading, dir_name: str, job_id: str) -> JobMeta:
    logs = [os.path.join(reading.run_dir, name) for name in LEGACY_LOGS if name in reading.names]
    meta, read = from_names(dir_name, job_id, [p for p in logs if reading.followable(p)])
    reading.inputs.update(read)
    return meta


def _fill_from_folders(meta: JobMeta, folders: list[ResultDir]) -> None:
    """Benchmark type, ISL and OSL from the result folder names when the metadata lacks them."""
    if meta.benchmark is None:
        meta.benchmark = _one_or_list([f.type for f in folders])
    if meta.isl is None:
        meta.isl = _one_or_list([f.isl for f in folders if f.isl is not None])
    if meta.osl is None:
        meta.osl = _one_or_list([f.osl for f in folders if f.osl is not None])


def _one_or_list(values: list) -> Scalar:
    distinct = sorted(set(values))
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else ", ".join(map(str, distinct))


def _facts(meta: JobMeta, gpus: int | None) -> dict[str, Scalar]:
    """What the job was, labelled for people. Directory names count workers, not nodes: both shown."""
    shape = topology(meta)
    source = {"v1.0": "{jobid}.json v1.0", "v2.0": "{jobid}.json v2.0",
              "legacy": "legacy (directory name and logs)"}.get(meta.format, meta.format)
    facts: list[tuple[str, Scalar]] = [
        ("Job id", meta.job_id), ("Metadata", source), ("Mode", meta.mode),
        ("Topology", f"{shape} (workers)" if shape else None),
        ("Prefill workers", meta.prefill_workers), ("Decode workers", meta.decode_workers),
        ("Prefill nodes", meta.prefill_nodes), ("Decode nodes", meta.decode_nodes),
        ("Aggregated workers", meta.agg_workers), ("Aggregated nodes", meta.agg_nodes),
        ("GPUs per node", meta.gpus_per_node), ("GPUs per prefill worker", meta.gpus_per_prefill),
        ("GPUs per decode worker", meta.gpus_per_decode), ("GPUs per aggregated worker", meta.gpus_per_agg),
        ("Total GPUs", gpus), ("GPU type", meta.gpu_type),
        ("Container", container_name(meta.container) if meta.container else None),
        ("Model", meta.model), ("Precision", meta.precision), ("Backend", meta.backend),
        ("Frontend", meta.frontend), ("Benchmark tool", meta.benchmark), ("ISL", meta.isl), ("OSL", meta.osl),
        ("Concurrencies", meta.concurrencies), ("Request rate", meta.request_rate),
    ]
    return {label: value for label, value in facts if value is not None and value != ""}


def benchmark_key(meta: JobMeta) -> str | None:
    """"gb200-fp8 · 1P/1D · isl 1024 / osl 1024": the job's configuration, whose runs a trend
    follows over dates. Concurrency is left out: each point carries its own."""
    lengths = " / ".join(f"{name} {value}" for name, value in (("isl", meta.isl), ("osl", meta.osl))
                         if value is not None)
    parts = [meta.gpu_type, topology(meta), lengths]
    return redact_text(" · ".join(part for part in parts if part)) or None


def _name(meta: JobMeta) -> str:
    """"3667 · 1P/1D · 2025-11-10 19:21": job id, workers, the time the job's files show."""
    when = None
    if meta.created_at is not None:
        when = datetime.fromtimestamp(meta.created_at, UTC).strftime("%Y-%m-%d %H:%M")
    return redact_text(" · ".join(part for part in (meta.job_id, topology(meta), when) if part))


def _status(has_results: bool, logs: list[LogStream]) -> str:
    if has_results:
        return "completed"
    return "failed" if any(stream.first_error is not None for stream in logs) else "unknown"


# --- results, logs, files --------------------------------------------------------------------------


def _result_dirs(reading: _Reading) -> list[ResultDir]:
    folders = []
    for label, path in reading.entries():
        name = os.path.basename(label)
        if is_result_dir_name(name) and os.path.isdir(path) and reading.followable(path):
            folder = result_dir(path)
            if folder is not None:
                reading.inputs.add(path)  # its mtime moves when a result file is added
                folders.append(folder)
    return folders


def _read_logs(reading: _Reading, tail_bytes: int) -> list[LogStream]:
    files = log_files_in(reading.run_dir, reading.names, ("out", "err"))
    taken = {log.name for log in files}
    for log in log_files_in(reading.logs_dir, reading.log_names, ("out", "err")):
        files.append(log._replace(name=f"{LOGS_DIR}/{log.name}") if log.name in taken else log)
    readable: list[LogFile] = []
    for log in files:
        reading.inputs.add(log.path)
        if reading.followable(log.path):
            readable.append(log)
    streams, problems = read_logs(readable, tail_bytes)
    reading.warnings.extend(problems)
    return streams


def _artifacts(reading: _Reading, redactor: Redactor) -> list[Artifact]:
    """SGLang config dumps, the sbatch script and config.yaml, published beside the run page
    unless they hold secret-looking values (the copy would not be redacted)."""
    found = [(label, path) for label, path in reading.entries()
             if label.endswith("_config.json") or label in PUBLISHED_FILES]
    publish_names = unique_slugs([label.replace("/", "-") for label, _ in found])
    artifacts = []
    for (label, path), publish_as in zip(found, publish_names, strict=True):
        size = file_size(path)
        if size is None or not reading.followable(path):
            continue
        reading.inputs.add(path)
        reason = _unpublishable(path, redactor)
        if reason:
            artifacts.append(Artifact(label, size, note=reason))
        else:
            artifacts.append(Artifact(label, size, publish_as, path))
    return artifacts


def _unpublishable(path: str, redactor: Redactor) -> str | None:
    """Why a file must not be copied to the site as it is, or None."""
    data, problem = read_bytes(path, MAX_PUBLISH_BYTES)
    if data is None:
        return f"not published: {problem}"
    if problem:
        return f"not published: larger than {MAX_PUBLISH_BYTES // (1024 * 1024)} MiB, not checked for secrets"
    text = data.decode("utf-8", errors="replace")
    if redact_text(text) != text:
        return "not published: holds credential-like values"
    for match in _ASSIGNMENT.finditer(text):
        if match[2].lower() not in _EMPTY_VALUES and is_secret_key(match[1], redactor.extra):
            return f"not published: holds a secret-looking value ({match[1][:40]})"
    return None
