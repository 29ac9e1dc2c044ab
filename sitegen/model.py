"""The one data model every reader produces and every page consumes.

Frozen msgspec Structs, encodable to msgpack for the build cache. Nothing here
opens a file; pages and analysis never branch on `Run.kind`.
"""

from __future__ import annotations

from msgspec import Struct

from sitegen.snapshot import ProcessingSnapshot

Scalar = str | int | float | bool | None

TERMINAL_STATUSES = frozenset({"completed", "partial", "failed", "orphaned", "broken"})
# badges of runs read without their layout's metadata: loud in the build output, on the quality page
FALLBACK_BADGES = frozenset({"legacy"})


class Series(Struct, frozen=True):
    """One metric over time: `y` against one or more x axes of equal length.

    `x` maps an axis name ("step", "epoch", "time", "row") to its values; the
    first key is the default axis. Missing cells are simply absent (sparse).
    A reader may keep a long series as the points its plot shows (min and max per
    bucket, `sitegen.analysis.downsample`); `downsampled_from` is then its full length.
    """

    y: list[float]
    x: dict[str, list[float]]
    downsampled_from: int | None = None


class MetricStats(Struct, frozen=True):
    """A metric over its whole run, as the writer counted it (stable-pretraining's summary.json)."""

    min: float | None = None
    max: float | None = None
    count: int | None = None


class BenchPoint(Struct, frozen=True):
    """One measurement of a benchmark curve, e.g. all metrics at one concurrency.

    `curve` names the curve the point belongs to ("isl 1024 / osl 1024"); metric names are
    normalised by the reader (see `sitegen.metric_names`), so pages can pick them up by name.
    """

    curve: str
    x_name: str
    x: float
    metrics: dict[str, float]


class Histogram(Struct, frozen=True):
    """A distribution summarised for a page (per-request latencies are never kept raw)."""

    name: str  # e.g. "ttft_ms @ concurrency 64 (isl 1024 / osl 1024)"
    edges: list[float]  # len(counts) + 1 bucket edges
    counts: list[int]


class LogStream(Struct, frozen=True):
    """One log stream of a run; `text` holds its tail (newest output kept)."""

    name: str
    slug: str
    kind: str  # "out" | "err" | "log"
    rank: int | None
    size: int
    text: str = ""
    truncated: bool = False  # only the tail of a larger file is in `text`
    first_error: int | None = None  # 1-based line in `text` where a traceback/error starts
    error_summary: str = ""

    @property
    def empty(self) -> bool:
        """Nothing was written to it: the run page says so instead of linking a page of nothing."""
        return self.size == 0 and not self.text


class Media(Struct, frozen=True):
    tag: str
    type: str
    path: str
    step: int | None = None
    caption: str | None = None


class Artifact(Struct, frozen=True):
    """A file of the run, listed on its page; published beside it when `publish_as` is set."""

    name: str
    size: int
    publish_as: str | None = None  # a plain file name in the run's page dir
    source: str | None = None  # absolute path, checked by the reader; never shown
    note: str = ""  # shown beside it, e.g. why a file is not read


class LoggedModel(Struct, frozen=True):
    """A model a run logged (an MLflow 3 `LoggedModel`), with its own params, metrics and files."""

    name: str
    model_id: str
    status: str = ""
    created_at: float | None = None
    params: dict[str, Scalar] = {}
    metrics: dict[str, float] = {}
    files: list[Artifact] = []


class Gpu(Struct, frozen=True):
    index: int
    name: str | None = None
    memory_gb: float | None = None
    compute_capability: str | None = None  # "9.0"
    uuid: str | None = None


class ComputeInfo(Struct, frozen=True):
    """The machine a run executed on (`sitegen.compute`); `*_source` says where a value came from."""

    hostname: str | None = None
    platform: str | None = None
    python_version: str | None = None
    user: str | None = None
    cpu_count: int | None = None
    cpu_source: str | None = None  # SLURM_CPUS_PER_TASK, SLURM_CPUS_ON_NODE, process affinity
    cpu_architecture: str | None = None
    memory_gb: float | None = None
    memory_source: str | None = None  # cgroup v2, cgroup v1, SLURM_MEM_PER_NODE, psutil
    gpu_count: int = 0
    gpu_type: str | None = None
    gpus: list[Gpu] = []
    gpu_source: str | None = None  # CUDA_VISIBLE_DEVICES, SLURM_GPUS_ON_NODE, nvidia-smi
    slurm: dict[str, str] = {}  # lower-cased SLURM_* variables
    ray: dict[str, float] = {}  # the Ray cluster's resources, when the run was under Ray
    unavailable: dict[str, str] = {}  # probe → why it could not answer


class RunRef(Struct, frozen=True):
    """Another run of the same root, e.g. a parent or a child run in a tracking store."""

    run_id: str
    name: str


class Problem(Struct, frozen=True):
    """Why a run could not be read; `since` is when a build first saw it."""

    message: str
    since: float | None = None


class _Labelled(Struct, frozen=True):
    """What a run and its head tell from their tags and badges."""

    @property
    def sweep(self) -> str | None:
        for tag in self.tags:
            if tag.startswith("sweep:"):
                return tag[len("sweep:"):]
        return None

    @property
    def read_by_fallback(self) -> bool:
        return not FALLBACK_BADGES.isdisjoint(self.badges)

    @property
    def doubtful(self) -> bool:
        """Read through a fallback, broken, or read with warnings: listed on the data-quality page."""
        return self.read_by_fallback or self.problem is not None or bool(self.warnings)


class Run(_Labelled, frozen=True):
    run_id: str  # path relative to its root, "/"-separated
    root: str  # the root as configured
    slug: str  # unique, safe for URLs and file names
    kind: str  # the reader's name
    name: str
    # running, completed, partial (ended, part of its work failed), failed, orphaned, stalled, requeued,
    # broken, unknown
    status: str
    created_at: float | None = None
    ended_at: float | None = None
    updated_at: float | None = None
    heartbeat_at: float | None = None
    tags: tuple[str, ...] = ()
    badges: tuple[str, ...] = ()  # short labels on the page and the index, e.g. "legacy"
    notes: str = ""
    facts: dict[str, Scalar] = {}  # what the run was (topology, container, …), labelled for people
    params: dict[str, Scalar] = {}
    summary: dict[str, float] = {}
    summary_stats: dict[str, MetricStats] = {}  # per summary metric, when the writer kept them
    summary_from_series: tuple[str, ...] = ()  # no value given: the series' last one
    series: dict[str, Series] = {}
    points: list[BenchPoint] = []
    histograms: list[Histogram] = []
    logs: list[LogStream] = []
    media: list[Media] = []
    artifacts: list[Artifact] = []
    models: list[LoggedModel] = []
    compute: ComputeInfo | None = None
    env: dict[str, str] = {}  # environment snapshot (python, platform, CUDA devices, …)
    packages: dict[str, str] = {}  # installed package → version or spec (pip freeze, conda)
    stages: dict[str, dict[str, dict[str, float]]] = {}  # stage → metric → {sum, mean, std}
    unmet_requirements: dict[str, str] = {}  # metric → why its requirement failed the run ("x < 3500")
    snapshot: ProcessingSnapshot | None = None  # a processing job's progress
    session: str | None = None
    parent: RunRef | None = None
    children: tuple[RunRef, ...] = ()
    benchmark: str | None = None
    warnings: list[str] = []
    problem: Problem | None = None  # set when the run could not be read
    stale_since: float | None = None  # data kept from the last good read since this time
    inputs: tuple[str, ...] = ()  # absolute paths the reader looked at (files and dirs)

    @property
    def duration_s(self) -> float | None:
        end = self.ended_at if self.ended_at is not None else self.updated_at
        if self.created_at is None or end is None:
            return None
        return max(0.0, end - self.created_at)


class RunHead(_Labelled, frozen=True):
    """A run as the analyses of many runs read it (sessions, trends, coverage, the site's
    links and counts): decoded from an encoded `Run`, whose other fields are skipped, several
    times faster than the whole run. Pages are rendered from whole runs but for the quality and
    coverage pages, which show only what a head holds."""

    run_id: str
    root: str
    slug: str
    kind: str
    name: str
    status: str
    created_at: float | None = None
    tags: tuple[str, ...] = ()
    badges: tuple[str, ...] = ()
    summary: dict[str, float] = {}
    points: list[BenchPoint] = []
    unmet_requirements: dict[str, str] = {}
    session: str | None = None
    benchmark: str | None = None
    warnings: list[str] = []
    problem: Problem | None = None
