"""`sitegen build --executor ray`: runs read by real Ray tasks give the same site, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import age, run_build, site_files, write_sidecar_run
from job_events import write_job

from sitegen.config import Config, load_config
from sitegen.reporting import RecordingReporter

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


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RecordingReporter, RecordingReporter]:
    """The tree built by the local executor and by the Ray executor (which starts Ray, once for
    this module: Ray's start-up is most of these tests' time)."""
    from sitegen import pipeline

    base = tmp_path_factory.mktemp("ray-executor")
    root = tree(base / "runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "time", FrozenClock)
        local = run_build(load_config(None, roots=[str(root)], out=str(base / "local")))
        with_ray = run_build(ray_config(base))
    return base, local, with_ray


def ray_config(base: Path) -> Config:
    return load_config(None, roots=[str(base / "runs")], out=str(base / "ray"),
                       **{"build.executor": "ray", "build.workers": 2})


def test_the_ray_executor_builds_the_same_site_byte_for_byte(built):
    base, local, with_ray = built
    assert with_ray.report.runs_read == local.report.runs_read == 132
    assert with_ray.report.runs_failed == local.report.runs_failed == 1
    assert site_files(base / "ray") == site_files(base / "local")
    assert not ray.is_initialized()  # started for the build, stopped after it


def test_a_no_op_build_with_the_ray_executor_never_starts_ray(built, monkeypatch):
    base, _local, _with_ray = built

    def refuse(*_args, **_kwargs):
        raise AssertionError("a no-op build started Ray")

    monkeypatch.setattr(ray, "init", refuse)
    assert run_build(ray_config(base)).report.runs_read == 0
