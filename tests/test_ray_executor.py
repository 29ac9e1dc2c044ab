"""`sitegen build --executor ray`: runs read by real Ray tasks give the same site, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import age, run_build, site_files, write_sidecar_run
from job_events import write_job

from sitegen.config import load_config

ray = pytest.importorskip("ray", reason="needs ray (pip install -e '.[test]')")


def tree(root: Path) -> Path:
    """Sidecar runs (enough for several Ray batches), a processing job and a broken run."""
    for index in range(130):
        write_sidecar_run(root, f"sweep/{index:03d}", tags=["sweep:1"], rows=30)
    write_job(root / "dj")
    (root / "broken").mkdir()
    (root / "broken" / "sidecar.json").write_text("{not json")
    age(root)
    return root


class FrozenClock:
    """The build's clock at one instant: both builds show a broken run "since" the same time."""

    @staticmethod
    def time() -> float:
        return 1_763_900_000.0


def test_the_ray_executor_builds_the_same_site_byte_for_byte(tmp_path: Path, monkeypatch):
    from sitegen import pipeline

    monkeypatch.setattr(pipeline, "time", FrozenClock)
    root = tree(tmp_path / "runs")
    local = run_build(load_config(None, roots=[str(root)], out=str(tmp_path / "local")))
    with_ray = run_build(load_config(None, roots=[str(root)], out=str(tmp_path / "ray"),
                                     **{"build.executor": "ray", "build.workers": 2}))
    assert with_ray.report.runs_read == local.report.runs_read == 132
    assert with_ray.report.runs_failed == local.report.runs_failed == 1
    assert site_files(tmp_path / "ray") == site_files(tmp_path / "local")
    assert not ray.is_initialized()  # started for the build, stopped after it


def test_a_no_op_build_with_the_ray_executor_never_starts_ray(tmp_path: Path, monkeypatch):
    root = tmp_path / "runs"
    write_sidecar_run(root, "one")
    age(root)
    config = load_config(None, roots=[str(root)], out=str(tmp_path / "site"), **{"build.executor": "ray"})
    run_build(config)

    def refuse(*_args, **_kwargs):
        raise AssertionError("a no-op build started Ray")

    monkeypatch.setattr(ray, "init", refuse)
    assert run_build(config).report.runs_read == 0
