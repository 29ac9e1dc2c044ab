"""Every reader fuzzed: one input file of a real-looking run mutated at a time, then read and rendered.

The runs are the bundled examples (examples/runs) and the sample trees the reader tests write.
Hypothesis picks a run, one file its reader read, and a mutation of that file: random bytes, a
truncation, flipped, inserted or deleted bytes, invalid UTF-8, NULs, a BOM, CRLF, a file that
vanished or became a directory, or a structural edit of its JSON, JSON lines, YAML or CSV (a
value of another type at any key, huge numbers, NaN and Infinity, lone surrogates, nesting
thousands deep, script payloads in values and keys). The properties, as a build needs them:

- `read()` returns a Run (warnings, or a problem) and never raises;
- the Run survives the build's msgpack cache;
- its pages render, and no page can run a script (tests/page_audit.py);
- a JSON input that no longer decodes is named in a warning or the run's problem.

CI runs a fixed, database-less set of examples per reader (`derandomize`): a fuzz test that
found a new failure at random would be a flaky test. To hunt for bugs, run it with many random
examples: `SITEGEN_FUZZ_EXAMPLES=2000 pytest tests/readers/test_fuzz.py`.
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import SHARED, write_sidecar_run
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from job_events import finished_job, logger_event
from job_events import write_job as write_event_job
from page_audit import assert_inert
from test_jobdir import v1_meta, v2_meta, vllm_result
from test_jobdir import write_job as write_serving_job
from test_nightly import successor_results, write_entry

from sitegen import packed_run
from sitegen.discover import find_runs
from sitegen.model import Run
from sitegen.readers import LAYOUTS, reader_named
from sitegen.readers.base import ReadContext
from sitegen.redact import Redactor
from sitegen.render.env import theme_dir
from sitegen.render.run_page import run_pages
from sitegen.render.site import SiteInfo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "runs"
REAL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real"
HUNTING = "SITEGEN_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(
    max_examples=int(os.environ.get("SITEGEN_FUZZ_EXAMPLES", "100")),
    deadline=None,
    derandomize=not HUNTING,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
SITE = SiteInfo(title="fuzz", theme=str(theme_dir("default")), version="0")
DIRECTORY_READERS = tuple(layout.name for layout in LAYOUTS if layout.name != "mlflow")
TAIL_BYTES = 64 * 1024
HANG_S = 300  # an example takes milliseconds; one this slow never ends (it once took hours)

PAYLOADS = (
    "<script>alert(1)</script>",
    "</script><script>alert(2)</script>",
    "</script><!--<script>",
    "\" onerror=\"alert(3)",
    "' onmouseover='alert(4)' x='",
    "<img src=x onerror=alert(5)>",
    "<svg/onload=alert(6)>",
    "javascript:alert(7)",
    " JaVaScRiPt:alert(8)",
    "\tjava\nscript:alert(9)",
    "data:text/html,<script>alert(10)</script>",
    "[x](javascript:alert(11))",
    "<a href=\"javascript:alert(12)\">x</a>",
    "\x1b]8;;javascript:alert(13)\x1b\\link\x1b]8;;\x1b\\",
    "{{ 7 * 7 }}{% raw %}",
    "\u2028\u2029",
    "Traceback (most recent call last):\n<script>alert(14)</script>",
)
# Whole JSON texts where a value goes: what `json.dumps` cannot write but other writers do
RAW_JSON = (
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-400", "-0", "0.1e1",
    "123456789012345678901234567890123456789", "18446744073709551616", "-9223372036854775809",
    '"\\ud800"', '"\\udfff\\ud800x"', '"\\u0000"', '"' + "x" * 200_000 + '"',
    "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000,
)
RAW_YAML = (
    ".nan", ".inf", "-.inf", "1e999", "123456789012345678901234567890", "2001-12-14t21:59:43.10-05:00",
    "2024-01-01", "!!binary aGVsbG8=", "!!set {a, b}", "!!python/object/apply:os.system ['true']",
    "&anchor [1, 2]", "*anchor", '"\\ud800"', "[" * 3000 + "]" * 3000, "~", "0x1F", "0o17", "1_000",
)
CELLS = (
    "", "nan", "NaN", "inf", "-inf", "1e999", "1e-400", "0x10", "1_000", " 1 ", "\"unterminated",
    "\"a,b\"", "true", "null", "[1]", "]", "[", "1],[2", "1" * 400, "x" * 200_000, "\x00", "step",
)
BAD_UTF8 = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82")


# --- the runs ------------------------------------------------------------------------------------


class Seed:
    """A run as discovery finds it, and the files its reader read from it."""

    def __init__(self, reader: str, root: str, run_dir: str, run_id: str, targets: tuple[str, ...] = ()):
        self.reader, self.root, self.run_dir, self.run_id = reader, root, run_dir, run_id
        self.targets = targets

    def __repr__(self) -> str:  # what a failing example shows
        return f"Seed({self.reader}: {self.run_id})"


class Seeds(dict):
    """The seeds by reader name (shown by name only in a failing example)."""

    def __repr__(self) -> str:
        return "seeds"


def context(root: str) -> ReadContext:
    return ReadContext(root=root, allowed=(), redactor=Redactor(), log_tail_bytes=TAIL_BYTES)


def read(seed: Seed) -> Run:
    """The read a build does (run_jobs.read_run)."""
    return reader_named(seed.reader).read(seed.run_dir, seed.run_id, context(seed.root))


def write_synthetic_runs(root: Path) -> None:
    """The sample trees of the reader tests: one of each shape their writers have."""
    write_sidecar_run(root, "spt/20231114/221320/aaaaaaaaaaaa", tags=["sweep:7"], notes="# notes\n")
    folder = "vllm_isl_1024_osl_1024/isl_1024_osl_1024"
    write_serving_job(root / "serving", meta=v1_meta(), results={
        f"{folder}_concurrency_{c}_req_rate_inf_ctx1_gen1.json": vllm_result(c) for c in (4, 8)
    }, files={"log.out": "CONTAINER_IMAGE=/i/a+sglang+v1.sqsh\n", "node1_config.json": json.dumps(
        {"filename": "node1_config.json", "config": {"server_args": {"tp_size": 4}}})})
    write_serving_job(root / "serving", "1543570", meta=v2_meta(), results={
        "logs/sa-bench_isl_1024_osl_1024/results_concurrency_8_gpus_24_ctx_8_gen_16.json": vllm_result(8)},
        files={"logs/infra.out": "nats ready\n", "config.yaml": "model:\n  path: /m\n"})
    sglang = SHARED / "realdata" / "sglang-bench-serving" / "sglang" / "outputs"
    write_serving_job(root / "serving", "3600_2P_4D_20251101_080910", results={
        f"sglang_isl_1024_osl_1024/{p.name}": p.read_bytes() for p in sorted(sglang.glob("*.jsonl"))
    }, files={"log.err": "srun --container-image=/l/x+sglang+v0.5.sqsh\nTraceback (most recent call last)\n"})
    for client in ("aiperf", "guidellm", "genai-bench", "inference-perf", "vllm-bench-serve"):
        shutil.copytree(REAL_FIXTURES / client / "runs", root / "clients" / client)
    session = root / "nightly" / "nightly-run-20250901-020000"
    write_entry(session, artifacts={"pip-freeze.txt": "numpy==1.26.4\n", "conda-explicit.txt": "@EXPLICIT\n",
                                    "sys-env.json": json.dumps({"python": "3.12.3"})})
    write_entry(session, "successor", results=successor_results({"a": 1}, {"is_success": True}),
                logs={"stdouterr.log": "ok\n"})
    failed = [*finished_job(), logger_event("op_failed", 1754712100.0, partition_id=0, operation_idx=1,
                                            operation_name="text_length_filter", error_message="boom")]
    write_event_job(root / "dj", events=failed, summary={"job_id": "x", "start_time": 1754712053.0,
                                                         "status": "failed", "resumption_command": "dj"},
                    plan={"nodes": {"a": {"op_name": "x"}}, "edges": []}, logs={
                        "log.txt": "INFO start\n", "processing_summary.json": json.dumps(EXECUTOR_SUMMARY)})
    (root / "dj" / "cli.yaml").write_text("arguments:\n- --config\n- cfg.yaml\n")


# DataJuicer's logs/processing_summary.json in its demo's shape (FORMATS.md §5)
EXECUTOR_SUMMARY = {
    "start_time": 1754712053.0, "end_time": 1754712090.5, "total_processing_time": 37.5,
    "total_partitions": 2, "completed_partitions": 1, "failed_partitions": 1, "success_rate": 0.5,
    "errors": [{"timestamp": 1754712080.0, "message": "m", "partition_id": 1, "error_details": "ValueError"}],
    "partition_details": [{"partition_id": 0, "status": "completed", "initial_sample_count": 10,
                           "final_sample_count": 8, "processing_time": 3.0}],
    "operation_performance": {"text_length_filter": {"total_executions": 2, "average_duration": 1.5}},
    "resource_usage": {"peak_memory_mb": 2048}, "configuration": {"partition_size": 10000},
}


def seeds_under(root: Path) -> list[Seed]:
    locations = find_runs([str(root)], {}).locations
    seeds = []
    for loc in locations:
        seed = Seed(loc.reader, loc.root, loc.run_dir, loc.run_id, ())
        run = read(seed)
        assert run.problem is None, (seed, run.problem)
        targets = tuple(path for path in run.inputs if os.path.isfile(path) and not os.path.islink(path))
        seeds.append(Seed(loc.reader, loc.root, loc.run_dir, loc.run_id, targets))
    return seeds


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    base = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(EXAMPLES, base / "examples", symlinks=True)
    write_synthetic_runs(base / "synthetic")
    found = seeds_under(base / "examples") + seeds_under(base / "synthetic")
    by_reader = Seeds({name: [seed for seed in found if seed.reader == name] for name in DIRECTORY_READERS})
    assert all(by_reader.values()), {name: len(s) for name, s in by_reader.items()}
    return by_reader


# --- mutations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """What becomes of one file: new bytes, or None (it vanished), or a directory in its place, or
    its bytes under a name that is not UTF-8."""

    label: str
    content: bytes | None
    directory: bool = False
    renamed: bool = False

    def __repr__(self) -> str:
        shown = repr(self.content[:300]) + ("…" if len(self.content) > 300 else "") if self.content else ""
        return f"Mutation({self.label}: {shown})"


def mutations(original: bytes, name: str) -> st.SearchStrategy[Mutation]:
    """Any mutation of a file: bytes and text 2 in 5 each, the file itself 1 in 5; where the file
    parses, structural edits take half of the bytes' and text's share."""
    kinds = [raw_mutations(original)] * 2 + [text_mutations(original)] * 2 + [st.sampled_from([
        Mutation("vanished", None), Mutation("a directory", None, True),
        Mutation("renamed, not UTF-8", original, renamed=True)])]
    structural = structural_mutations(original, name)
    if structural is not None:
        kinds[1] = kinds[3] = structural
    return st.sampled_from(kinds).flatmap(lambda kind: kind)


def raw_mutations(data: bytes) -> st.SearchStrategy[Mutation]:
    end = len(data)
    position = st.integers(0, end)
    return st.one_of(
        st.binary(max_size=2048).map(lambda b: Mutation("random bytes", b)),
        position.map(lambda n: Mutation(f"truncated at {n}", data[:n])),
        st.lists(st.tuples(position, st.integers(0, 255)), min_size=1, max_size=8).map(
            lambda flips: Mutation("bytes flipped", _flip(data, flips))),
        st.tuples(position, st.one_of(st.binary(min_size=1, max_size=16), st.sampled_from(BAD_UTF8))).map(
            lambda p: Mutation(f"inserted at {p[0]}", data[:p[0]] + p[1] + data[p[0]:])),
        st.tuples(position, st.integers(1, 64)).map(
            lambda p: Mutation(f"deleted {p[1]} at {p[0]}", data[:p[0]] + data[p[0] + p[1]:])),
    )


def text_mutations(data: bytes) -> st.SearchStrategy[Mutation]:
    position = st.integers(0, len(data))
    text = data.decode("utf-8", errors="replace")
    return st.one_of(
        st.just(Mutation("BOM", b"\xef\xbb\xbf" + data)),
        st.just(Mutation("CRLF", data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))),
        st.just(Mutation("CR only", data.replace(b"\r\n", b"\n").replace(b"\n", b"\r"))),
        st.just(Mutation("no final newline", data.rstrip(b"\n"))),
        st.just(Mutation("half-written last line", data + b'{"step": 1, "val')),
        st.just(Mutation("twice", data + data)),
        st.just(Mutation("UTF-16", text.encode("utf-16"))),
        st.just(Mutation("latin-1", text.encode("latin-1", errors="replace"))),
        st.just(Mutation("a 300 kB line", data + b"x" * 300_000 + b"\n")),
        st.tuples(position, st.sampled_from(BAD_UTF8)).map(
            lambda p: Mutation("invalid UTF-8", data[:p[0]] + p[1] + data[p[0]:])),
        st.tuples(position, st.integers(1, 200)).map(
            lambda p: Mutation("NULs", data[:p[0]] + b"\x00" * p[1] + data[p[0]:])),
        st.tuples(position, st.sampled_from(PAYLOADS)).map(
            lambda p: Mutation("payload", data[:p[0]] + p[1].encode() + data[p[0]:])),
        st.sampled_from(PAYLOADS).map(lambda p: Mutation("payload line", data + p.encode() + b"\n")),
    )


def structural_mutations(data: bytes, name: str) -> st.SearchStrategy[Mutation] | None:
    if name.endswith(".csv"):
        return csv_mutations(data)
    if name.endswith((".yaml", ".yml")):
        value = _parsed(lambda: yaml.safe_load(data))
        return None if value is _UNPARSED else tree_edits(value).map(lambda e: Mutation(e[0], _yaml(e)))
    value = _parsed(lambda: json.loads(data))
    if value is not _UNPARSED:
        return tree_edits(value).map(lambda e: Mutation(e[0], _json(e)))
    lines = data.splitlines()
    parsed = [(i, v) for i, line in enumerate(lines) if (v := _parsed(lambda line=line: json.loads(line)))
              is not _UNPARSED]
    if not parsed:
        return None
    return st.sampled_from(parsed).flatmap(lambda line: tree_edits(line[1]).map(lambda e: Mutation(
        f"line {line[0] + 1}: {e[0]}", _replace_line(lines, line[0], _json(e, indent=None)))))


_UNPARSED = object()


def _parsed(parse: Callable[[], object]) -> object:
    try:
        return parse()
    except (ValueError, RecursionError, yaml.YAMLError):
        return _UNPARSED


RAW = re.compile(r"zzraw(\d+)zz")  # a value standing for one of the raw texts, filled in after dumping


def _containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    keys = st.one_of(st.text(max_size=8), st.sampled_from(PAYLOADS))
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4))


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(), st.text(max_size=20), st.sampled_from(PAYLOADS),
)
HOSTILE_VALUES = st.one_of(
    _SCALARS,
    st.integers(0, 10**6).map(lambda i: f"zzraw{i}zz"),
    st.recursive(_SCALARS, _containers, max_leaves=8),
)


Edit = tuple[str, object]  # (label, the edited value)


def tree_edits(value: object) -> st.SearchStrategy[Edit]:
    """Replace the value at any path, rename or delete a key, or wrap a value in a list."""
    paths = list(_paths(value))
    kinds = ["replace", "wrap"] + (["rename", "delete"] if len(paths) > 1 else [])
    return st.tuples(st.sampled_from(paths), st.sampled_from(kinds), HOSTILE_VALUES,
                     st.sampled_from(PAYLOADS)).map(
        lambda t: (f"{t[1]} {'/'.join(map(str, t[0])) or 'root'}", _edited(value, *t)))


def _paths(value: object, prefix: tuple = (), depth: int = 0) -> Iterator[tuple]:
    yield prefix
    if depth > 6:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for index, (key, item) in enumerate(items):
        if index < 50:
            yield from _paths(item, (*prefix, key), depth + 1)


def _edited(value: object, path: tuple, kind: str, new: object, payload: str) -> object:
    if not path:
        return [value] if kind == "wrap" else new
    copy = _copy(value)
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if kind == "replace":
        parent[key] = new
    elif kind == "wrap":
        parent[key] = [parent[key]]
    elif kind == "delete":
        del parent[key]
    elif isinstance(parent, dict):  # rename
        parent[payload] = parent.pop(key)
    else:
        parent[key] = payload
    return copy


def _copy(value: object) -> object:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _json(edit: Edit, indent: int | None = 2) -> bytes:
    text = json.dumps(edit[1], indent=indent, default=str)
    text = re.sub(f'"{RAW.pattern}"', lambda m: RAW_JSON[int(m[1]) % len(RAW_JSON)], text)
    return text.encode("utf-8", errors="surrogatepass")


def _yaml(edit: Edit) -> bytes:
    text = yaml.safe_dump(edit[1], allow_unicode=True, default_flow_style=False)
    text = RAW.sub(lambda m: RAW_YAML[int(m[1]) % len(RAW_YAML)], text)
    return text.encode("utf-8", errors="surrogatepass")


def _replace_line(lines: list[bytes], index: int, line: bytes) -> bytes:
    return b"\n".join([*lines[:index], line, *lines[index + 1:]]) + b"\n"


def csv_mutations(data: bytes) -> st.SearchStrategy[Mutation]:
    """A cell, a row's length, or the header changed; a header repeated mid-file."""
    lines = data.decode("utf-8", errors="replace").splitlines() or [""]
    line = st.integers(0, len(lines) - 1)
    cell = st.one_of(st.sampled_from(CELLS), st.sampled_from(PAYLOADS), st.text(max_size=10))

    def replaced(index: int, text: str) -> bytes:
        return _csv([*lines[:index], text, *lines[index + 1:]])

    def set_cell(index: int, column: int, value: str) -> Mutation:
        cells = lines[index].split(",")
        column %= len(cells)
        cells[column] = value.replace("\n", " ")
        return Mutation(f"line {index + 1} cell {column}", replaced(index, ",".join(cells)))

    def shorter(index: int, cut: int) -> Mutation:
        kept = ",".join(lines[index].split(",")[:-cut or None])
        return Mutation(f"line {index + 1} with {cut} cells less", replaced(index, kept))

    return st.one_of(
        st.builds(set_cell, line, st.integers(0, 100), cell),
        st.builds(shorter, line, st.integers(0, 5)),
        st.tuples(line, st.integers(1, 5)).map(lambda p: Mutation(
            f"line {p[0] + 1} with {p[1]} cells more", replaced(p[0], lines[p[0]] + ",1" * p[1]))),
        line.map(lambda index: Mutation(
            f"header repeated at line {index + 1}", _csv([*lines[:index], lines[0], *lines[index:]]))),
    )


def _csv(lines: list[str]) -> bytes:
    return "\n".join(lines).encode("utf-8", errors="surrogatepass") + b"\n"


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    mutable = bytearray(data)
    for position, value in flips:
        if position < len(mutable):
            mutable[position] = value
    return bytes(mutable)


# --- applying one mutation and checking the result ---------------------------------------------


class mutated_file:  # a context manager: `with mutated_file(path, mutation):`
    """The mutation applied to `path`, and the original put back however the body ends."""

    def __init__(self, path: str, mutation: Mutation) -> None:
        self.path = path
        self.mutation = mutation

    def __enter__(self) -> None:
        with open(self.path, "rb") as handle:
            self.original = handle.read()
        self.stat = os.stat(self.path)
        os.unlink(self.path)
        if self.mutation.directory:
            os.mkdir(self.path)
        elif self.mutation.content is not None:
            with open(self.renamed if self.mutation.renamed else self.path, "wb") as handle:
                handle.write(self.mutation.content)

    @property
    def renamed(self) -> str:
        return os.fsdecode(os.fsencode(self.path) + b"\xff")

    def __exit__(self, *_exc: object) -> None:
        if os.path.lexists(self.renamed):
            os.unlink(self.renamed)
        if os.path.isdir(self.path) and not os.path.islink(self.path):
            shutil.rmtree(self.path)
        elif os.path.lexists(self.path):
            os.unlink(self.path)
        with open(self.path, "wb") as handle:
            handle.write(self.original)
        os.utime(self.path, ns=(self.stat.st_atime_ns, self.stat.st_mtime_ns))


def check_run(seed: Seed, run: Run) -> None:
    """What a build needs of a Run read from hostile files: cacheable, renderable, inert."""
    assert isinstance(run, Run), type(run)
    assert (run.kind, run.run_id, run.root) == (seed.reader, seed.run_id, seed.root)
    cached = packed_run.unpack(packed_run.pack(run))  # cache.save_run, load_run
    for page in run_pages(cached, SITE):
        assert_inert(page.path, page.data)


def check_named(run: Run, path: str, mutation: Mutation) -> None:
    """A JSON file that no longer decodes is not dropped silently (SGLang's config dumps are only
    published, never decoded)."""
    if not path.endswith(".json") or path.endswith("_config.json") or mutation.content is None \
            or mutation.renamed:
        return
    try:
        json.loads(mutation.content)
        return
    except (ValueError, RecursionError):
        pass
    name = os.path.basename(path)
    said = [*run.warnings, *([run.problem.message] if run.problem else [])]
    assert any(name in message for message in said), f"{name} broken, but the run says: {said}"


def fuzz_one(seeds: list[Seed], data: st.DataObject, wanted: Callable[[str], bool]) -> None:
    seed = data.draw(st.sampled_from([seed for seed in seeds if any(map(wanted, seed.targets))]))
    path = data.draw(st.sampled_from([path for path in seed.targets if wanted(path)]))
    with open(path, "rb") as handle:
        original = handle.read()
    mutation = data.draw(mutations(original, path))
    event(f"file {os.path.basename(path)}")  # shown by --hypothesis-show-statistics
    event(f"mutation: {re.sub(r'[0-9]+', 'N', mutation.label)[:40]}")
    faulthandler.dump_traceback_later(HANG_S, exit=True)  # a hang (a regex backtracking) fails the run
    try:
        with mutated_file(path, mutation):
            run = read(seed)
            check_run(seed, run)
            check_named(run, path, mutation)
    finally:
        faulthandler.cancel_dump_traceback_later()


def is_metrics_csv(path: str) -> bool:
    return os.path.basename(path) == "metrics.csv"


@pytest.mark.parametrize("reader", DIRECTORY_READERS)
@FUZZ
@given(data=st.data())
def test_a_mutated_input_file_gives_a_run_never_an_exception(seeds, reader: str, data: st.DataObject):
    fuzz_one(seeds[reader], data, lambda path: not is_metrics_csv(path))


@FUZZ
@given(data=st.data())
def test_a_mutated_metrics_csv_gives_a_run_never_an_exception(seeds, data: st.DataObject):
    fuzz_one(seeds["sidecar"], data, is_metrics_csv)


@pytest.fixture(scope="module")
def mlflow_seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    """An MLflow file store (mlruns/): a failed parent run with params, tags, a note and a metric
    history, and a finished child run; each file of a run, and its experiment's meta.yaml, fuzzed."""
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    store = tmp_path_factory.mktemp("fuzz-mlflow") / "mlruns"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # recent MLflow writes file stores only if told
        client = MlflowClient(store.as_uri())
        experiment = client.create_experiment("fuzz")
        parent = client.create_run(experiment, run_name="parent").info.run_id
        history = [Metric("loss", 1 / (s + 1), 1_700_000_000_000 + s, s) for s in range(20)]
        client.log_batch(parent, metrics=history, params=[Param("lr", "0.1"), Param("optimizer", "adam")],
                         tags=[RunTag("team", "vision"), RunTag("mlflow.note.content", "# notes\n"),
                               RunTag("mlflow.source.git.repoURL", "https://github.com/x/y")])
        child = client.create_run(experiment, run_name="child", tags={"mlflow.parentRunId": parent})
        child = child.info.run_id
        client.log_metric(child, "acc", 0.5, step=1)
        client.set_terminated(child)
        client.set_terminated(parent, "FAILED")
    seeds = []
    for run in (parent, child):
        files = [str(p) for p in sorted((store / experiment / run).rglob("*")) if p.is_file()]
        seeds.append(Seed("mlflow", store.as_uri(), store.as_uri(), f"fuzz/{run}",
                          (str(store / experiment / "meta.yaml"), *files)))
    assert read(seeds[0]).problem is None
    return Seeds(mlflow=seeds)


@FUZZ
@given(data=st.data())
def test_a_mutated_mlflow_file_store_gives_a_run_never_an_exception(mlflow_seeds, data: st.DataObject):
    fuzz_one(mlflow_seeds["mlflow"], data, lambda _path: True)


@FUZZ
@given(data=st.data())
def test_a_mutated_mlflow_file_store_is_listed_never_an_exception(mlflow_seeds, data: st.DataObject):
    """Discovery lists a file store from the same files, each build: a damaged one still lists."""
    from sitegen.readers.mlflow_file_store import list_runs
    from sitegen.tracking_uri import local_path

    seed = data.draw(st.sampled_from(mlflow_seeds["mlflow"]))
    path = data.draw(st.sampled_from(seed.targets))
    with open(path, "rb") as handle:
        mutation = data.draw(mutations(handle.read(), path))
    with mutated_file(path, mutation):
        listed = list_runs(local_path(seed.run_dir) or "")
    assert all(len(run.token) == 24 for run in listed)
