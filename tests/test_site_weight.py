"""How big a site gets (issue 16): the benchmark's runs cost at most 40 KB each to publish and
20 KB each in the build cache. Sizes are deterministic for these runs, so the figures are pinned."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import make_config, run_build

REPO = Path(__file__).resolve().parents[1]
RUNS = 200  # enough that the pages about all runs weigh what they do per run at 10,000
PUBLISHED_PER_RUN = 40_000  # bytes; GitHub Pages takes 1 GB: 10,000 runs fit 2.5 times over
CACHE_PER_RUN = 20_000


def _generate(out: Path, runs: int) -> None:
    spec = importlib.util.spec_from_file_location("generate_runs", REPO / "benchmarks" / "generate_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(out, runs)


def _bytes(files: list[Path]) -> int:
    return sum(file.stat().st_size for file in files if file.is_file())


@pytest.mark.slow
def test_a_generated_run_costs_at_most_40_kb_published_and_20_kb_cached(tmp_path: Path):
    _generate(tmp_path / "runs", RUNS)
    out = tmp_path / "site"
    run_build(make_config(tmp_path / "runs", out))
    published = [f for f in out.rglob("*") if f.relative_to(out).parts[0] not in ("_build", "assets")]
    assert len(list(out.glob("runs/*/data.js"))) == RUNS
    assert _bytes(published) / RUNS <= PUBLISHED_PER_RUN
    assert _bytes(list((out / "_build").rglob("*"))) / RUNS <= CACHE_PER_RUN
    page = next(out.glob("runs/*/index.html")).read_text()
    assert '"x":' not in page and "sitegenRuns" not in page  # no plot data inline: it is in data.js
