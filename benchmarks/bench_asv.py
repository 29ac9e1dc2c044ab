"""sitegen against asv 0.6.6 on the same nightly history: N benchmarks × M nights, the same values.

sitegen builds M nightly sessions of N entries (`generate_benchmarks.write_session`); asv
publishes M result files (one per commit of a git repository of M commits) of N `track`
benchmarks whose values are the entries' `time_taken`. Measured interleaved in pairs (pairs.py):
a full build into an empty directory against `asv publish`, and a build after one session was
added against `asv publish` after one commit's results were added (asv regenerates everything).

    make bench-asv            # installs asv 0.6.6 into benchmarks/.venv-asv, then runs this
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import generate_benchmarks
import racy_window
from pairs import Paired, measure_pairs, spread
from timed import CommandFailed, output_of, timed

REPO = Path(__file__).resolve().parent.parent
ASV_VENV = REPO / "benchmarks" / ".venv-asv"
MACHINE = {"arch": "x86_64", "cpu": "bench", "machine": "bench", "num_cpu": "2", "os": "Linux",
           "ram": "24GB", "python": "3.11"}
RESULT_COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
                  "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]


def asv_command() -> str | None:
    """asv from `make bench-asv`'s venv, else from PATH."""
    local = ASV_VENV / "bin" / "asv"
    return str(local) if local.exists() else shutil.which("asv")


@dataclass(frozen=True)
class History:
    root: Path
    runs: Path  # sitegen's root: nightly/<session>/<entry>/
    asv: Path  # asv.conf.json, results/, html/
    benchmarks: int
    nights: int

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def config(self) -> Path:
        return self.root / "sitegen.yaml"


@dataclass(frozen=True)
class AsvFigures:
    full: Paired  # A: sitegen full build, B: asv publish
    added: Paired  # A: sitegen after one session added, B: asv publish after one commit added
    site_files: int
    site_bytes: int
    html_files: int
    html_bytes: int
    version: str


def write_history(workdir: Path, benchmarks: int, nights: int) -> History:
    """Both projects, generated once (a marker beside them)."""
    root = workdir / f"asv-history-{benchmarks}x{nights}"
    history = History(root, root / "runs", root / "asv", benchmarks, nights)
    marker = root.with_name(root.name + ".done")
    if marker.exists():
        return history
    shutil.rmtree(root, ignore_errors=True)
    history.asv.mkdir(parents=True)
    history.config.write_text("title: nightly history\n")
    hashes = _git_history(root / "project", nights)
    (history.asv / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "bench", "project_url": "https://example.invalid/",
        "repo": str(root / "project"), "branches": ["main"], "dvcs": "git",
        "results_dir": "results", "html_dir": "html"}, indent=1))
    results = history.asv / "results"
    (results / "bench").mkdir(parents=True)
    (results / "bench" / "machine.json").write_text(json.dumps({**MACHINE, "version": 1}))
    names = [f"nightly.entry_{e:03d}.time_taken" for e in range(benchmarks)]
    (results / "benchmarks.json").write_text(json.dumps({
        **{name: {"name": name, "type": "track", "unit": "seconds", "version": "1", "params": [],
                  "param_names": [], "timeout": 60, "code": "", "pretty_name": name} for name in names},
        "version": 2}))
    for night, commit in enumerate(hashes):
        _, metrics = generate_benchmarks.write_session(history.runs, night, benchmarks)
        values = {name: entry["time_taken"] for name, entry in zip(names, metrics, strict=True)}
        _write_result(results, commit, night, values)
    racy_window.wait_out([history.runs], racy_window.configured_window_s(history.config))
    marker.touch()
    return history


def _git_history(repo: Path, nights: int) -> list[str]:
    """A repository of one commit per night; its hashes, oldest first."""
    repo.mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for night in range(nights):
        moment = f"{generate_benchmarks.BASE_TIME + night * 86_400} +0000"
        env = {**os.environ, "GIT_AUTHOR_DATE": moment, "GIT_COMMITTER_DATE": moment}
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", f"night {night}"], check=True, env=env)
    listed = subprocess.run([*git, "rev-list", "--reverse", "main"], check=True, capture_output=True)
    return listed.stdout.decode().split()


def _result_path(results: Path, commit: str) -> Path:
    return results / "bench" / f"{commit[:8]}-existing.json"


def _write_result(results: Path, commit: str, night: int, values: dict[str, float]) -> None:
    """One commit's results in asv's format (version 2: a row of `result_columns` per benchmark)."""
    date_ms = (generate_benchmarks.BASE_TIME + night * 86_400) * 1000
    doc = {"commit_hash": commit, "env_name": "existing", "date": date_ms, "params": MACHINE,
           "python": "3.11", "requirements": {}, "env_vars": {}, "result_columns": RESULT_COLUMNS,
           "results": {name: [[value], [], "1", date_ms, 1.0] for name, value in values.items()},
           "durations": {}, "version": 2}
    _result_path(results, commit).write_text(json.dumps(doc))


def _build(history: History, full: bool = False) -> float:
    cmd = [sys.executable, "-m", "sitegen", "build", "--root", str(history.runs), "--out", str(history.site),
           "--quiet", *(["--full"] if full else [])]
    return timed(cmd, history.root).seconds


def _publish(asv: str, history: History) -> float:
    return timed([asv, "publish", "--config", "asv.conf.json"], history.asv).seconds


def measure(asv: str, history: History, pairs: int) -> AsvFigures:
    window_s = racy_window.configured_window_s(history.config)
    last_session = sorted((history.runs / "nightly").iterdir())[-1]
    last_result = max((history.asv / "results" / "bench").glob("*-existing.json"),
                      key=lambda p: json.loads(p.read_text())["date"])
    saved_result = last_result.read_bytes()

    def sitegen_full() -> float:
        shutil.rmtree(history.site, ignore_errors=True)
        return _build(history, full=True)

    def sitegen_added() -> float:
        shutil.rmtree(last_session)
        _build(history)
        generate_benchmarks.write_session(history.runs, history.nights - 1, history.benchmarks)
        racy_window.wait_out([last_session], window_s)
        return _build(history)

    def asv_added() -> float:
        last_result.unlink()
        _publish(asv, history)
        last_result.write_bytes(saved_result)
        return _publish(asv, history)

    full = measure_pairs(sitegen_full, lambda: _publish(asv, history), pairs)
    added = measure_pairs(sitegen_added, asv_added, pairs)
    version = output_of([asv, "--version"], history.asv).split()[-1]
    return AsvFigures(full, added, *_files_and_bytes(history.site), *_files_and_bytes(history.asv / "html"),
                      version)


def _files_and_bytes(directory: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, filenames in os.walk(directory):
        files += len(filenames)
        size += sum(os.lstat(os.path.join(dirpath, name)).st_size for name in filenames)
    return files, size


def rows(figures: AsvFigures | None, reason: str = "") -> list[tuple[str, str, str, str]]:
    """(measure, value, target, verdict) rows for bench_build's table."""
    if figures is None:
        return [("asv history: full build vs `asv publish`", reason, "≤ 3 × asv", reason),
                ("asv history: one session added vs one commit added", reason, "≤ 1/3 × asv", reason)]
    full, added = figures.full, figures.added
    return [
        ("asv history: full build vs `asv publish`",
         f"{full.a_median:.2f} s vs {full.b_median:.2f} s (asv {figures.version})",
         "≤ 3 × asv", _verdict(full, 3.0)),
        ("asv history: one session added vs one commit added",
         f"{added.a_median:.2f} s vs {added.b_median:.2f} s", "≤ 1/3 × asv", _verdict(added, 1 / 3)),
        ("asv history: output", f"{figures.site_files:,} files, {figures.site_bytes / 1e6:,.1f} MB",
         "", f"asv: {figures.html_files:,} files, {figures.html_bytes / 1e6:,.1f} MB"),
    ]


def _verdict(paired: Paired, limit: float) -> str:
    ok = "ok" if paired.ratio <= limit else "**MISS**"
    return f"{paired.ratio:.2f}× ({spread(paired.ratios)}), {ok}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", type=int, default=200, help="entries a night (default: %(default)s)")
    parser.add_argument("--nights", type=int, default=53, help="sessions / commits (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-out", help="default: %(default)s")
    args = parser.parse_args(argv)
    asv = asv_command()
    if asv is None:
        print("bench_asv: asv is not installed (`make bench-asv` installs it)", file=sys.stderr)
        return 1
    try:
        history = write_history(args.workdir.resolve(), args.benchmarks, args.nights)
        figures = measure(asv, history, args.pairs)
    except CommandFailed as exc:
        print(f"bench_asv: {exc}", file=sys.stderr)
        return 1
    print(f"{args.benchmarks} benchmarks × {args.nights} nights; medians of {args.pairs} interleaved pairs\n")
    print("| measure | sitegen vs asv | target | ratio (spread) |\n|---|---|---|---|")
    for row in rows(figures):
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
