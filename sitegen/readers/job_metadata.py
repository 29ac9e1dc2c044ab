"""What a serving-benchmark job was (FORMATS.md §1.3-1.4): `{jobid}.json` v1.0 or v2.0, else the
legacy parse of the directory name, the batch logs and the result folder names.

Times carry no zone in these files (v1 writes local time, v2 UTC, directory names local time);
all are read as UTC, so a page shows the wall-clock time the job's files show.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sitegen.model import Scalar
from sitegen.readers._tolerant import read_bytes

_MISSING = object()
_COMPACT_TIME = "%Y%m%d_%H%M%S"  # run_date and directory names
_SPACED_TIME = "%Y-%m-%d %H:%M:%S"  # generated_at
_MAX_NESTING = 32
_INT64 = range(-(2**63), 2**63)  # what the cache (msgpack) holds, and every count ever seen
_CONTAINER_SCAN_LINES = 100
_CONTAINER_SCAN_BYTES = 256 * 1024
_CONTAINER = re.compile(r"(?:CONTAINER_IMAGE=|--container-image[= ]|Container:\s*)[\"']?([^\s\"']+\.sqsh)")
_DISAGG_DIR = re.compile(r"_(\d+)P_(\d+)D(?:_|$)")
_AGG_DIR = re.compile(r"_(\d+)A(?:_|$)")


@dataclass
class JobMeta:
    """A job's metadata, whichever way it was found; counts are ints, unknown ones None."""

    format: str  # "v1.0", "v2.0", "legacy"
    job_id: str
    created_at: float | None = None
    mode: str | None = None  # "disaggregated" | "aggregated"
    prefill_workers: int | None = None
    decode_workers: int | None = None
    agg_workers: int | None = None
    prefill_nodes: int | None = None
    decode_nodes: int | None = None
    agg_nodes: int | None = None
    gpus_per_node: int | None = None
    gpus_per_prefill: int | None = None  # GPUs per worker (v2 only)
    gpus_per_decode: int | None = None
    gpus_per_agg: int | None = None
    gpu_type: str | None = None
    container: str | None = None
    model: str | None = None
    precision: str | None = None
    backend: str | None = None
    frontend: str | None = None
    benchmark: str | None = None
    isl: Scalar = None
    osl: Scalar = None
    concurrencies: str | None = None
    request_rate: Scalar = None
    tags: tuple[str, ...] = ()
    params: dict[str, Scalar] = field(default_factory=dict)  # every other scalar leaf, dotted


def topology(meta: JobMeta) -> str | None:
    """"1P/1D" (prefill/decode workers) or "4A" (aggregated workers), as the directory names have it."""
    if meta.prefill_workers is not None and meta.decode_workers is not None:
        return f"{meta.prefill_workers}P/{meta.decode_workers}D"
    if meta.agg_workers is not None:
        return f"{meta.agg_workers}A"
    return None


def total_gpus(meta: JobMeta) -> int | None:
    """The job's GPUs: workers × GPUs per worker (v2 `gpus_per_prefill/decode/agg`), else
    nodes × `gpus_per_node` (v1 and v2); None when neither is known."""
    if meta.mode == "aggregated":
        per_worker = [(meta.agg_workers, meta.gpus_per_agg)]
        nodes = [meta.agg_nodes]
    else:
        per_worker = [(meta.prefill_workers, meta.gpus_per_prefill),
                      (meta.decode_workers, meta.gpus_per_decode)]
        nodes = [meta.prefill_nodes, meta.decode_nodes]
    if all(w is not None and g is not None for w, g in per_worker):
        total = sum(w * g for w, g in per_worker)  # type: ignore[operator]
    elif meta.gpus_per_node is not None and all(n is not None for n in nodes):
        total = sum(nodes) * meta.gpus_per_node  # type: ignore[arg-type]
    else:
        return None
    return total or None


def container_name(image: str) -> str:
    """`/p/ishandhanani+sglang+v0.5.4.post2-dyn.sqsh` → `sglang+v0.5.4.post2-dyn` (srt-slurm's rule)."""
    name = image.rstrip("/").rsplit("/", 1)[-1].removesuffix(".sqsh")
    return name.split("+", 1)[1] if "+" in name else name


# --- {jobid}.json ----------------------------------------------------------------------------------


def from_json(data: dict, file_name: str, job_id: str, dir_name: str, warnings: list[str]) -> JobMeta:
    """Metadata from a decoded `{jobid}.json`: v1 when it has `run_metadata`, else flat v2."""
    if "run_metadata" in data:
        meta, used = _v1(data, file_name, job_id, warnings)
    else:
        version = data.get("version")
        if version not in ("2.0", 2, 2.0, None):
            shown = str(version)[:20]
            warnings.append(f"{file_name}: version {shown!r} is unknown; read as the flat v2.0 format")
        meta, used = _v2(data, file_name, job_id, warnings)
    if meta.created_at is None:
        meta.created_at = dir_name_time(dir_name)
    meta.params = {key: value for key, value in _leaves(data, "", 0) if key not in used}
    return meta


def _v1(data: dict, file_name: str, job_id: str, warnings: list[str]) -> tuple[JobMeta, set[str]]:
    top = _Fields(file_name, "", data, warnings)
    run = _Fields(file_name, "run_metadata", data.get("run_metadata"), warnings)
    profiler = _Fields(file_name, "profiler_metadata", data.get("profiler_metadata", {}), warnings)
    meta = JobMeta("v1.0", run.text("slurm_job_id", number_ok=True) or job_id)
    meta.created_at = run.time("run_date", _COMPACT_TIME) or top.time("generated_at", _SPACED_TIME)
    meta.mode = run.text("mode")
    _counts(meta, run, ("prefill_workers", "decode_workers", "agg_workers",
                        "prefill_nodes", "decode_nodes", "agg_nodes", "gpus_per_node"))
    meta.gpu_type = run.text("gpu_type")
    meta.container = run.text("container", consume=False)
    model_dir = run.text("model_dir", consume=False)
    meta.model = _basename(model_dir) if model_dir else None
    meta.benchmark = profiler.text("type")
    meta.isl = profiler.count("isl", strings_ok=True)
    meta.osl = profiler.count("osl", strings_ok=True)
    meta.concurrencies = profiler.concurrencies("concurrencies")
    meta.request_rate = profiler.rate("req-rate")
    return meta, {"version", "generated_at", *top.used, *run.used, *profiler.used}


def _v2(data: dict, file_name: str, job_id: str, warnings: list[str]) -> tuple[JobMeta, set[str]]:
    top = _Fields(file_name, "", data, warnings)
    model = _Fields(file_name, "model", data.get("model", {}), warnings)
    resources = _Fields(file_name, "resources", data.get("resources", {}), warnings)
    bench = _Fields(file_name, "benchmark", data.get("benchmark", {}), warnings)
    meta = JobMeta("v2.0", top.text("job_id", number_ok=True) or job_id)
    meta.created_at = top.time("generated_at", _SPACED_TIME)
    _counts(meta, resources, ("prefill_workers", "decode_workers", "agg_workers", "prefill_nodes",
                              "decode_nodes", "agg_nodes", "gpus_per_node", "gpus_per_prefill",
                              "gpus_per_decode", "gpus_per_agg"))
    meta.gpu_type = resources.text("gpu_type")
    meta.container = model.text("container", consume=False)
    path = model.text("path", consume=False)
    meta.model = _basename(path) if path else None
    meta.precision = model.text("precision")
    meta.backend = top.text("backend_type")
    meta.frontend = top.text("frontend_type")
    meta.benchmark = bench.text("type")
    meta.isl = bench.count("isl", strings_ok=True)
    meta.osl = bench.count("osl", strings_ok=True)
    meta.concurrencies = bench.concurrencies("concurrencies")
    rate_key = next((k for k in ("req_rate", "req-rate", "request_rate") if k in bench.data), None)
    meta.request_rate = bench.rate(rate_key) if rate_key else None
    meta.tags = _tags(data.get("tags", _MISSING), file_name, warnings)
    return meta, {"version", "tags", *top.used, *model.used, *resources.used, *bench.used}


def _counts(meta: JobMeta, fields: _Fields, names: tuple[str, ...]) -> None:
    """Read the worker/node/GPU counts; the other mode's counts may be null or absent quietly.

    v1 names its mode; v2 is aggregated when `agg_workers > 0` (as srt-slurm's loader decides).
    """
    if meta.format == "v2.0":
        agg = _whole(fields.data.get("agg_workers"))
        mode = "aggregated" if agg else "disaggregated"
    else:
        mode = meta.mode or _infer_mode(fields.data)
    meta.mode = mode
    other = ("prefill_", "decode_", "gpus_per_prefill", "gpus_per_decode") if mode == "aggregated" \
        else ("agg_", "gpus_per_agg")
    for name in names:
        setattr(meta, name, fields.count(name, quiet_null=name.startswith(other)))
    if mode == "aggregated":
        meta.prefill_workers = meta.decode_workers = meta.prefill_nodes = meta.decode_nodes = None
    else:
        meta.agg_workers = meta.agg_nodes = None


def _infer_mode(data: dict) -> str | None:
    if data.get("prefill_workers") is not None or data.get("decode_workers") is not None:
        return "disaggregated"
    if data.get("agg_workers") is not None:
        return "aggregated"
    return None


class _Fields:
    """Typed reads from one object of the metadata; each wrong type is a warning naming the field."""

    def __init__(self, file_name: str, where: str, data: object, warnings: list[str]) -> None:
        self.prefix = f"{file_name}: {where}." if where else f"{file_name}: "
        self.where = f"{where}." if where else ""
        self.warnings = warnings
        self.used: set[str] = set()
        if not isinstance(data, dict):
            warnings.append(f"{file_name}: {where}: expected an object, found {_type(data)}; ignored")
            data = {}
        self.data: dict = data

    def concurrencies(self, key: str) -> str | None:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return None
        self.used.add(self.where + key)
        shown = _concurrencies(value)
        if shown is None:
            self._warn(key, f"expected a list or 'AxBxC', found {_shown(value)}; ignored")
        return shown

    def rate(self, key: str) -> Scalar:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return None
        self.used.add(self.where + key)
        rate = _rate(value)
        if rate is None:
            self._warn(key, f"expected a number or 'inf', found {_shown(value)}; ignored")
        return rate

    def count(self, key: str, strings_ok: bool = False, quiet_null: bool = False) -> int | None:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return None
        self.used.add(self.where + key)
        if value is None and quiet_null:
            return None
        number = _whole(value)
        if isinstance(value, str) and number is not None and not strings_ok:
            self._warn(key, f"expected a number, found the string {value[:20]!r}; read as {number}")
        elif number is None:
            self._warn(key, f"expected a whole number, found {_shown(value)}; ignored")
        return number

    def text(self, key: str, number_ok: bool = False, consume: bool = True) -> str | None:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return None
        if consume:
            self.used.add(self.where + key)
        if isinstance(value, str):
            return value.strip() or None
        if number_ok and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        self._warn(key, f"expected a string, found {_shown(value)}; ignored")
        return None

    def time(self, key: str, pattern: str) -> float | None:
        text = self.text(key)
        if text is None:
            return None
        when = _parse_time(text, pattern)
        if when is None:
            self._warn(key, f"not a time in the format {pattern!r} ({text[:30]!r}); ignored")
        return when

    def _warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.prefix}{key}: {message}")


def _tags(value: object, file_name: str, warnings: list[str]) -> tuple[str, ...]:
    if value is _MISSING or value is None:
        return ()
    if not isinstance(value, list):
        warnings.append(f"{file_name}: tags: expected a list, found {_type(value)}; ignored")
        return ()
    tags = tuple(tag.strip() for tag in value if isinstance(tag, str) and tag.strip())
    if len(tags) != len(value):
        warnings.append(f"{file_name}: tags: {len(value) - len(tags)} are not strings; ignored")
    return tags


def _concurrencies(value: object) -> str | None:
    """"1024x2048x4096" or [1024, 2048, 4096] → "1024, 2048, 4096"."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        parts = [p.strip() for p in value.split("x")]
        return ", ".join(parts) if all(p.isdigit() for p in parts) else value.strip()
    return None


def _rate(value: object) -> Scalar:
    """A finite rate as a number; "inf" (or an infinite float) as the word "inf"; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else None
    return int(value) if float(value).is_integer() and int(value) in _INT64 else float(value)


# --- legacy: names and logs ------------------------------------------------------------------------


def from_names(dir_name: str, job_id: str, log_paths: list[str]) -> tuple[JobMeta, list[str]]:
    """Topology and date from the directory name, the container from the batch logs.

    Returns the metadata and the log files read for the container (inputs of the run).
    """
    meta = JobMeta("legacy", job_id, created_at=dir_name_time(dir_name))
    disagg = _DISAGG_DIR.search(dir_name)
    agg = _AGG_DIR.search(dir_name)
    if disagg:
        meta.mode = "disaggregated"
        meta.prefill_workers, meta.decode_workers = _whole(disagg[1]), _whole(disagg[2])
    elif agg:
        meta.mode, meta.agg_workers = "aggregated", _whole(agg[1])
    read = []
    for path in log_paths:
        read.append(path)
        image = _container_in_log(path)
        if image:
            meta.container = image
            break
    return meta, read


def _container_in_log(path: str) -> str | None:
    data, _problem = read_bytes(path, _CONTAINER_SCAN_BYTES)
    if not data:
        return None
    for line in data.decode("utf-8", errors="replace").splitlines()[:_CONTAINER_SCAN_LINES]:
        match = _CONTAINER.search(line)
        if match:
            return match[1]
    return None


def dir_name_time(dir_name: str) -> float | None:
    """`<jobid>_…_<YYYYMMDD>_<HHMMSS>`: the first 8-digit part after the job id is the date, the
    next 6-digit part its time (else midnight). The job id itself is never taken for a date."""
    parts = dir_name.split("_")[1:]
    for index, part in enumerate(parts):
        if len(part) == 8 and _digits(part):
            following = parts[index + 1] if index + 1 < len(parts) else ""
            clock = following if len(following) == 6 and _digits(following) else "000000"
            when = _parse_time(f"{part}_{clock}", _COMPACT_TIME)
            if when is not None:
                return when
    return None


# --- helpers ---------------------------------------------------------------------------------------


def _parse_time(text: str, pattern: str) -> float | None:
    try:
        moment = datetime.strptime(text.strip(), pattern)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _whole(value: object) -> int | None:
    """A whole number that the cache can hold (64 bits); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and _digits(value.strip()) and len(value.strip()) <= 18:
        value = int(value.strip())
    return value if isinstance(value, int) and value in _INT64 else None


def _leaves(value: object, key: str, depth: int) -> Iterator[tuple[str, Scalar]]:
    """Scalar leaves with dotted keys; a list of scalars becomes one comma-separated string."""
    if isinstance(value, (dict, list)) and value and depth >= _MAX_NESTING:
        yield key, "… (nested too deeply)"
    elif isinstance(value, dict) and value:
        for name, item in value.items():
            yield from _leaves(item, f"{key}.{name}" if key else str(name), depth + 1)
    elif isinstance(value, list) and value:
        if all(item is None or isinstance(item, (str, int, float, bool)) for item in value):
            yield key, ", ".join(str(item) for item in value)
        else:
            for index, item in enumerate(value):
                yield from _leaves(item, f"{key}.{index}", depth + 1)
    elif value is None or isinstance(value, (str, int, float, bool)):
        yield key, value
    else:
        yield key, str(value)


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _shown(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value[:20]!r}"
    if isinstance(value, (dict, list)):
        return f"a {'list' if isinstance(value, list) else 'object'}"
    return f"{type(value).__name__} {str(value)[:20]}"
