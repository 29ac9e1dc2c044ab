"""Ten bundled nightly sessions (FORMATS.md §3.2, as `sitegen run` writes them) of four entries,
with things for trends and triage to find:

- fuzzy_dedup's time_taken_s steps up 12 % from session 8 on, when pyarrow 17.0.0 → 18.0.0
  (a new image for every entry that night);
- dedup_exact fails in session 5 (a traceback in stderr.log), pipeline times out in session 6;
- sort_small is missing from session 9;
- dedup_exact's peak_memory_mb drops 18 % from session 9 on (an improvement).

Every other value is its entry's base with ±2 % noise from a fixed seed.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

SESSIONS = [f"nightly-2025-03-{day:02d}" for day in range(1, 11)]
STEP_SESSION, STEP_ENTRY, STEP = 8, "fuzzy_dedup", 1.12  # sessions are numbered from 1
FAILED = (5, "dedup_exact")
TIMED_OUT = (6, "pipeline")
MISSING = (9, "sort_small")
IMPROVED = (9, "dedup_exact", "peak_memory_mb", 0.82)
NOISE = 0.02
TIMEOUT_S = 1800
RESULTS_DIR = "/lustre/nightly/results"  # where the driver ran; recorded, never followed

# entry → (script, rows processed, base time_taken_s, base peak_memory_mb, params)
ENTRIES: dict[str, tuple[str, int, float, float, dict[str, object]]] = {
    "dedup_exact": ("dedup.py", 2_000_000, 180.0, 6200.0,
                    {"input_path": "/lustre/data/cc-2025-02/records.jsonl", "hash": "blake2b-64",
                     "executor": "ray_data"}),
    "fuzzy_dedup": ("fuzzy_dedup.py", 2_000_000, 620.0, 14800.0,
                    {"input_path": "/lustre/data/cc-2025-02/records.jsonl", "num_bands": 20,
                     "minhashes_per_band": 13, "cache_dir": "/scratch/fuzzy-cache", "executor": "ray_data"}),
    "sort_small": ("sort.py", 250_000, 42.0, 1800.0,
                   {"input_path": "/lustre/data/records_small.jsonl", "sort_key": "id"}),
    "pipeline": ("pipeline.py", 1_000_000, 310.0, 9100.0,
                 {"input_path": "/lustre/data/records_large.jsonl", "output_path": "/scratch/pipeline-out",
                  "min_words": 6}),
}
PACKAGES = {"aiohttp": "3.11.13", "fsspec": "2025.2.0", "msgspec": "0.19.0", "numpy": "1.26.4",
            "pandas": "2.2.3", "pyarrow": "17.0.0", "pydantic": "2.10.6", "ray": "2.43.0",
            "scipy": "1.15.2", "xxhash": "3.5.0"}
UPGRADED = {"pyarrow": "18.0.0"}
PYTHON, PLATFORM = "3.12.3", "Linux-5.15.0-131-generic-x86_64-with-glibc2.35"
COMPUTE = {
    "hostname": "cpu-node-07", "platform": PLATFORM, "python_version": PYTHON, "cpu_count": 64,
    "cpu_source": "SLURM_CPUS_PER_TASK", "cpu_architecture": "x86_64", "memory_gb": 512.0,
    "memory_source": "SLURM_MEM_PER_NODE", "gpu_count": 0,
    "slurm": {"slurm_job_id": "772301", "slurm_partition": "cpu-batch", "slurm_cpus_per_task": "64"},
}
TRACEBACK = """\
Traceback (most recent call last):
  File "/opt/bench/dedup.py", line 41, in <module>
    main()
  File "/opt/bench/dedup.py", line 27, in main
    unique = hashed.groupby("digest").count().count()
  File "/opt/venv/lib/python3.12/site-packages/ray/data/dataset.py", line 2712, in count
    return self._plan.execute().num_rows()
  File "/opt/venv/lib/python3.12/site-packages/ray/_private/worker.py", line 2772, in get
    raise value
ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.
Memory on the node (IP: 10.0.3.7) was 487.52GB / 512.00GB (0.952), which exceeds the threshold 0.95.
"""


def session_files() -> list[tuple[str, object, float]]:
    """(path under the runs dir, text or JSON value, mtime) of every file of every session."""
    files: list[tuple[str, object, float]] = []
    for number, session in enumerate(SESSIONS, 1):
        at = datetime.strptime(session, "nightly-%Y-%m-%d").replace(hour=2, tzinfo=UTC).timestamp()
        for entry in ENTRIES:
            if (number, entry) == MISSING:
                continue
            entry_files, ended = _entry(number, session, entry, at)
            files += [(f"nightly/{session}/{entry}/{rel}", content, ended)
                      for rel, content in entry_files.items()]
            at = ended + 2.0
    return files


def _entry(number: int, session: str, entry: str, started: float) -> tuple[dict[str, object], float]:
    """One entry's files and the time it ended."""
    script, rows, base_time, base_memory, params = ENTRIES[entry]
    rng = random.Random(f"{session}/{entry}")
    took = base_time * (STEP if entry == STEP_ENTRY and number >= STEP_SESSION else 1.0) * _noise(rng)
    memory = base_memory * _noise(rng)
    if entry == IMPROVED[1] and number >= IMPROVED[0]:
        memory *= IMPROVED[3]
    failed, timed_out = (number, entry) == FAILED, (number, entry) == TIMED_OUT
    exec_started = started + 8.0
    exec_time = TIMEOUT_S if timed_out else (took * 0.4 if failed else took + 5.0)
    ended = round(exec_started + exec_time + 3.0, 3)
    metrics = {"is_success": True, "time_taken_s": round(took, 3),
               "throughput_rows_per_s": round(rows / took, 1), "peak_memory_mb": round(memory, 1),
               "rows_processed": rows}
    entry_dir = f"{RESULTS_DIR}/{session}/{entry}"
    command = (f"/opt/venv/bin/python /opt/bench/{script} --input {params['input_path']} "
               f"--benchmark-results-path {entry_dir}/benchmark_results")
    image = _image(number)
    files: dict[str, object] = {
        "benchmark_results/params.json": params,
        "results.json": {
            "run": {"name": entry, "cmd": command, "started_at": started, "ended_at": ended,
                    "exec_started_at": exec_started, "exec_time_s": round(exec_time, 3),
                    "exit_code": -9 if timed_out else (1 if failed else 0), "timed_out": timed_out,
                    "logs_dir": f"{entry_dir}/logs"},
            "ray": {"address": "127.0.0.1:6379", "num_cpus": 64, "num_gpus": 0,
                    "enable_object_spilling": True},
            "env": {"hostname": COMPUTE["hostname"], "ray_version": PACKAGES["ray"],
                    "git_commit": _hex(f"commit {image}", 9), "image_digest": f"sha256:{_hex(image, 64)}"},
            "script_params_metrics": {"params": params, "metrics": {} if failed or timed_out else metrics},
        },
        "logs/ray_startup.log": f"Local node IP: 10.0.3.7\nRay runtime started at {_clock(started + 6)}.\n",
        "logs/stdout.log": _stdout(entry, rows, took, failed, timed_out),
        "logs/stderr.log": _stderr(started, failed),
        "artifacts/pip-freeze.txt": "".join(f"{n}=={v}\n" for n, v in sorted(_packages(number).items())),
        "artifacts/sys-env.json": {"python": PYTHON, "platform": PLATFORM,
                                   "executable": "/opt/venv/bin/python", "cuda_visible_devices": ""},
        "artifacts/compute.json": COMPUTE,
    }
    if not (failed or timed_out):
        files["benchmark_results/metrics.json"] = metrics
    return files, ended


def _noise(rng: random.Random) -> float:
    return 1.0 + rng.uniform(-NOISE, NOISE)


def _packages(number: int) -> dict[str, str]:
    return {**PACKAGES, **UPGRADED} if number >= STEP_SESSION else PACKAGES


def _image(number: int) -> str:
    """The container image of a night: a new one when the packages changed."""
    return "curator-bench:2025.03.08" if number >= STEP_SESSION else "curator-bench:2025.02.24"


def _stdout(entry: str, rows: int, took: float, failed: bool, timed_out: bool) -> str:
    lines = [f"{entry}: reading {rows} rows"]
    lines += [f"{entry}: {done} of {rows} rows" for done in range(rows // 4, rows, rows // 4)]
    if timed_out:
        return "\n".join(lines[:3]) + "\n"  # killed mid-run: no summary line
    if failed:
        return "\n".join(lines[:2]) + "\n"
    return "\n".join([*lines, f"{entry}: {rows} rows in {took:.2f} s"]) + "\n"


def _stderr(started: float, failed: bool) -> str:
    text = f"{_clock(started + 7)},482\tINFO worker.py:1841 -- Connected to Ray cluster.\n"
    return text + TRACEBACK if failed else text


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]
