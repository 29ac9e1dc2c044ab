"""Serving-benchmark result files (FORMATS.md §1.5-1.6) as benchmark points and latency histograms.

A result folder `{type}_isl_{isl}_osl_{osl}/` (or `sa-bench_custom_<label>/`, or a client's own
output dir, `serving`) holds vLLM `benchmark_serving` / `vllm bench serve` files (one compact JSON
object each, one per concurrency), SGLang `bench_serving` JSON lines (one object per run,
appended), genai-perf or aiperf summaries, guidellm, genai-bench or inference-perf reports
(`client_results`), or sa-bench's `benchmark-rollup.csv`. Per-request arrays can be megabytes:
each record's top-level values are first kept as undecoded bytes (`msgspec.Raw`); only the
scalars, and the TTFT/ITL arrays for the histograms, are decoded.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

import msgspec

from sitegen.metric_names import PER_REQUEST_KEYS, finite, normalise, per_gpu
from sitegen.model import BenchPoint, Histogram
from sitegen.readers import CUSTOM_RESULT_PREFIX, RESULT_DIR
from sitegen.readers._tolerant import list_dir, loads_json, read_bytes, stat_or_none
from sitegen.readers.client_results import flatten, rollup_row

MAX_RESULT_BYTES = 256 * 1024 * 1024
HISTOGRAM_BUCKETS = 30
RESULT_SUFFIXES = (".json", ".jsonl")
ROLLUP = "benchmark-rollup.csv"
# Files clients write beside their results that hold no result (settings, per-request records,
# aggregates of results read elsewhere): aiperf, genai-bench, inference-perf
NOT_RESULTS = frozenset({
    "run_config.json", "inputs.json", "profile_export.jsonl", "profile_export_raw.jsonl",
    "profile_export_aiperf_sweep.json", "profile_export_aiperf_aggregate.json", "experiment_metadata.json",
    "validation.json", "per_request_lifecycle_metrics.json", "outputs.json",
})
INFERENCE_PERF_SUMMARY = "summary_lifecycle_metrics.json"  # all stages together: read without stage files

_FILE_CONCURRENCY = re.compile(r"(?:^|_)concurrency_(\d+)")
_FILE_GPUS = re.compile(r"(?:^|_)gpus_(\d+)")
_FILE_CTX_GEN = re.compile(r"(?:^|_)ctx_?(\d+)_gen_?(\d+)")
_RECORD = msgspec.json.Decoder(dict[str, msgspec.Raw])
_TTFTS = msgspec.json.Decoder(list[float | None])
_ITLS = msgspec.json.Decoder(list[list[float] | None])
_ERRORS = msgspec.json.Decoder(list[str | None])
_TAIL_SAMPLE = 100_000  # values sampled to find where a latency distribution's long tail starts


class ResultDir(NamedTuple):
    path: str
    curve: str  # "vllm isl 1024 / osl 1024", "sa-bench custom <label>"
    type: str
    isl: int | None
    osl: int | None


class Results(NamedTuple):
    points: list[BenchPoint]
    histograms: list[Histogram]
    warnings: list[str]
    inputs: list[str]  # result files read (the folders are the caller's inputs)


def result_dir(path: str) -> ResultDir | None:
    """What a folder's name says about the results in it, or None when it is not a result folder."""
    name = os.path.basename(path)
    match = RESULT_DIR.match(name)
    if match:
        kind, isl, osl = match[1], int(match[2]), int(match[3])
        return ResultDir(path, f"{kind} isl {isl} / osl {osl}", kind, isl, osl)
    if name.startswith(CUSTOM_RESULT_PREFIX) and len(name) > len(CUSTOM_RESULT_PREFIX):
        label = name[len(CUSTOM_RESULT_PREFIX):]
        return ResultDir(path, f"sa-bench custom {label}", "sa-bench", None, None)
    return None


def read_results(dirs: list[ResultDir], gpus: int | None, followable: Callable[[str], bool]) -> Results:
    """Points (sorted by curve, then x) and histograms from every JSON/JSONL file in `dirs`.

    `gpus` (the job's total, from its metadata) gives throughput per GPU; without it a file
    name's `gpus_<G>` (or `ctx<P>_gen<D>`) does. `followable` refuses links out of the roots.
    """
    warnings: list[str] = []
    inputs: list[str] = []
    dropped: set[str] = set()
    points: list[_Point] = []
    for folder in dirs:
        names = list_dir(folder.path)
        if names is None:
            warnings.append(f"{os.path.basename(folder.path)}: vanished or unreadable")
            continue
        records: list[_Record] = []
        for name in result_files(names):
            path = os.path.join(folder.path, name)
            if not followable(path):
                continue
            inputs.append(path)
            file_records, problems = _read_rollup(path) if name == ROLLUP else _read_records(path)
            warnings.extend(f"{os.path.basename(folder.path)}/{p}" for p in problems)
            # summarised at once: a record's raw values keep its whole file's bytes alive
            for record in file_records:
                records.extend(_summarise(name, record))
            del file_records
        points.extend(_points(folder, records, gpus, warnings, dropped))
    if dropped:
        shown = ", ".join(sorted(dropped)[:8]) + (", …" if len(dropped) > 8 else "")
        warnings.append(f"result files: {len(dropped)} keys are not known metrics or not numbers; "
                        f"not shown ({shown})")
    points.sort(key=lambda p: (p.point.curve, p.point.x))
    histograms = [h for p in points for h in p.histograms]
    return Results([p.point for p in points], histograms, warnings, inputs)


def result_files(names: list[str]) -> list[str]:
    """The names in a folder that may hold results, sorted."""
    staged = any(n.startswith("stage_") and n.endswith("_lifecycle_metrics.json") for n in names)
    return sorted(
        name for name in names
        if (name.endswith(RESULT_SUFFIXES) or name == ROLLUP) and not name.startswith(".")
        and name not in NOT_RESULTS and not (staged and name == INFERENCE_PERF_SUMMARY)
    )


class _Record(NamedTuple):
    """One result, its per-request arrays already reduced to histograms (named once placed)."""

    file_name: str
    scalars: dict[str, object]
    histograms: list[tuple[str, Histogram]]  # (metric, histogram)


class _Point(NamedTuple):
    point: BenchPoint
    histograms: list[Histogram]


# --- decoding ------------------------------------------------------------------------------------


def _read_records(path: str) -> tuple[list[dict], list[str]]:
    """The JSON objects in one result file: a single object, or one per line (JSON lines)."""
    name = os.path.basename(path)
    st = stat_or_none(path)
    cap = _size(MAX_RESULT_BYTES)
    if st is not None and st.st_size > MAX_RESULT_BYTES and not name.endswith(".jsonl"):
        return [], [f"{name}: larger than {cap}; not read"]
    data, problem = read_bytes(path, MAX_RESULT_BYTES)
    problems = [problem] if problem else []
    if not data or not data.strip():
        return [], problems or [f"{name}: empty"]
    if not data.isascii() and not _is_utf8(data):  # values stay bytes until used: say it once here
        problems.append(f"{name}: not valid UTF-8; values holding bad bytes are left out")
    first_end = data.find(b"\n")
    several_lines = first_end != -1 and bool(data[first_end:].strip())
    if several_lines and _decode(data[:first_end])[0] is not None:
        return _read_lines(name, data, problem is not None, problems)
    record, reason = _decode(data)  # one object, perhaps pretty-printed over several lines
    if record is not None:
        return [record], problems
    if several_lines:  # JSON lines whose first line is bad
        records, line_problems = _read_lines(name, data, problem is not None, [])
        if records:
            return records, [*problems, *line_problems]
    return [], [*problems, f"{name}: {reason}"]


def _read_lines(name: str, data: bytes, cut: bool, problems: list[str]) -> tuple[list[dict], list[str]]:
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    records: list[dict] = []
    bad: list[int] = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            record, _reason = _decode(line)
            if record is None:
                bad.append(number)
            else:
                records.append(record)
    if tail.strip():
        record, _reason = _decode(tail)
        if record is not None:
            records.append(record)
        elif not cut:  # at the size cap the cut is already reported
            problems.append(f"{name}: last line incomplete (still being written); {len(records)} lines read")
    if bad:
        problems.append(f"{name}: {len(bad)} invalid lines skipped (first at line {bad[0]})")
    return records, problems


def _decode(data: bytes) -> tuple[dict | None, str]:
    """An object whose values stay undecoded bytes; Python's json for Infinity/NaN tokens."""
    try:
        return _RECORD.decode(data), ""
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass
    except RecursionError:
        return None, "JSON nested too deeply"
    try:  # SGLang writes a bare Infinity; json.loads accepts it (normalise drops it)
        value = loads_json(data)
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    except ValueError as exc:
        return None, f"invalid JSON ({exc})"
    except RecursionError:
        return None, "JSON nested too deeply"
    if not isinstance(value, dict):
        return None, f"expected a JSON object, found {type(value).__name__}"
    return value, ""


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _plain(value: object, decoder: msgspec.json.Decoder | None = None) -> object:
    """A value decoded from its raw bytes (if it still is); None when it cannot be."""
    if not isinstance(value, msgspec.Raw):
        return value
    try:
        return decoder.decode(value) if decoder else msgspec.json.decode(value)
    except msgspec.DecodeError:
        pass
    except (RecursionError, UnicodeDecodeError):
        return None
    try:  # numbers beyond float range (1e999) and values of an unexpected shape
        return loads_json(bytes(value))
    except (ValueError, RecursionError):
        return None


# --- points --------------------------------------------------------------------------------------


def _read_rollup(path: str) -> tuple[list[dict], list[str]]:
    """sa-bench's `benchmark-rollup.csv`: one record per row."""
    name = os.path.basename(path)
    data, problem = read_bytes(path, MAX_RESULT_BYTES)
    if not data:
        return [], [problem or f"{name}: empty"]
    text = data.decode("utf-8", errors="replace")
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return [], [f"{name}: not a readable CSV ({exc})"]
    return [{**rollup_row(row), "config": row.get("Config"), "total_gpus": row.get("Total GPU Count")}
            for row in rows], [problem] if problem else []


def _summarise(file_name: str, record: dict) -> list[_Record]:
    """One result record, or several when a client nests them (`client_results.flatten`)."""
    scalars = {k: _plain(v) for k, v in record.items() if k not in PER_REQUEST_KEYS}
    flat = flatten(scalars)
    if flat is not None:
        return [_Record(file_name, r, []) for r in flat]
    return [_Record(file_name, scalars, _histograms(record))]


def _points(
    folder: ResultDir, records: list[_Record], gpus: int | None, warnings: list[str], dropped: set[str],
) -> list[_Point]:
    labels = {_label(r.scalars) for r in records}
    labels = {label for label in labels if label}
    ordinals: dict[str, int] = defaultdict(int)
    found = []
    for file_name, scalars, histograms in records:
        metrics, unknown = normalise(scalars)
        dropped.update(unknown)
        if not metrics:
            warnings.append(f"{os.path.basename(folder.path)}/{file_name}: no benchmark metrics; skipped")
            continue
        curve = folder.curve
        label = _label(scalars)
        if len(labels) > 1 and label:
            curve = f"{curve} · {label}"
        x_name, x = _x(metrics, scalars, file_name)
        if x is None:
            curve = f"{curve} · by result"
            ordinals[curve] += 1
            x = float(ordinals[curve])
        elif x_name != "concurrency":
            curve = f"{curve} · by {x_name}"
        metrics = per_gpu(metrics, gpus or _record_gpus(scalars) or _file_gpus(file_name))
        point = BenchPoint(curve=curve, x_name=x_name, x=x, metrics=metrics)
        where = f"{x_name} {x:g} ({curve})"
        named = [msgspec.structs.replace(h, name=f"{metric} @ {where}") for metric, h in histograms]
        found.append(_Point(point, named))
    return found


def _x(metrics: dict[str, float], scalars: dict, file_name: str) -> tuple[str, float | None]:
    """Concurrency (configured, else from the file name, else SGLang's measured one), else the
    request rate of a rate-driven run, else nothing (the caller numbers the results)."""
    if "max_concurrency" in metrics:
        return "concurrency", metrics["max_concurrency"]
    match = _FILE_CONCURRENCY.search(file_name)
    if match:
        return "concurrency", float(match[1])
    measured = finite(scalars.get("concurrency"))
    if measured is not None:
        return "concurrency", measured
    if "request_rate" in metrics:
        return "request_rate", metrics["request_rate"]
    return "result", None


def _label(scalars: dict) -> str | None:
    """What tells one record's curve from another's in a folder: SGLang's dataset, genai-bench's
    traffic scenario, a rollup row's config."""
    for key in ("dataset_name", "scenario", "config"):
        value = scalars.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _record_gpus(scalars: dict) -> int | None:
    number = finite(scalars.get("total_gpus"))
    return int(number) if number and number > 0 else None


def _file_gpus(file_name: str) -> int | None:
    """`results_concurrency_<C>_gpus_<G>_…` (srtctl) or `…_ctx<P>_gen<D>.json` (prefill + decode GPUs)."""
    match = _FILE_GPUS.search(file_name)
    if match:
        return int(match[1])
    match = _FILE_CTX_GEN.search(file_name)
    return int(match[1]) + int(match[2]) if match else None


# --- histograms ----------------------------------------------------------------------------------


def _histograms(record: dict) -> list[tuple[str, Histogram]]:
    """TTFT and ITL distributions (ms) of one result; failed requests (with an error) left out."""
    failed = _failed(record)
    histograms = []
    ttfts = _plain(record.get("ttfts"), _TTFTS)
    if isinstance(ttfts, list) and ttfts:
        keep = [t for i, t in enumerate(ttfts) if i not in failed]
        histogram = latency_histogram("ttft_ms", _seconds_to_ms(keep))
        histograms += [("ttft_ms", histogram)] if histogram else []
    itls = _plain(record.get("itls"), _ITLS)
    if isinstance(itls, list) and itls:
        flat = [t for i, row in enumerate(itls) if i not in failed and isinstance(row, list) for t in row]
        histogram = latency_histogram("itl_ms", _seconds_to_ms(flat))
        histograms += [("itl_ms", histogram)] if histogram else []
    return histograms


def _failed(record: dict) -> set[int]:
    errors = _plain(record.get("errors"), _ERRORS)
    if not isinstance(errors, list):
        return set()
    return {i for i, error in enumerate(errors) if isinstance(error, str) and error}


def _seconds_to_ms(values: list[object]) -> list[float]:
    numbers = (finite(v) for v in values)
    return [n * 1000.0 for n in numbers if n is not None and n >= 0]


def latency_histogram(name: str, values: list[float], buckets: int = HISTOGRAM_BUCKETS) -> Histogram | None:
    """Equal-width buckets from the smallest value; a long tail (beyond the 99th percentile, when
    it would squeeze the rest into a few buckets) gets the last bucket to itself."""
    if not values:
        return None
    low, high = min(values), max(values)
    if low == high:
        return Histogram(name, [low, low + 1.0], [len(values)])
    step = max(1, len(values) // _TAIL_SAMPLE)
    sample = sorted(values[::step])
    cut = sample[int(0.99 * (len(sample) - 1))]
    tail = low < cut and high - low > 4 * (cut - low)
    edges = _linear(low, cut if tail else high, buckets - 1 if tail else buckets)
    counts = [0] * (len(edges) - 1 + tail)
    last = len(edges) - 2  # the last equal-width bucket, closed on the right
    for value in values:
        if tail and value > cut:
            counts[-1] += 1
        else:
            counts[min(last, bisect.bisect_right(edges, value) - 1)] += 1
    return Histogram(name, [*edges, high] if tail else edges, counts)


def _linear(low: float, high: float, buckets: int) -> list[float]:
    width = (high - low) / buckets
    return [low + width * i for i in range(buckets)] + [high]


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"
