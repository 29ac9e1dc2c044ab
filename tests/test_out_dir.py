"""Where a build may write: a new, empty or sitegen-made directory, never a root or above one."""

from __future__ import annotations

import os

import pytest
from conftest import make_config, run_build

from sitegen.errors import OutputRefused
from sitegen.out_dir import check_out_dir, made_by_sitegen


def test_a_new_an_empty_and_a_sitegen_made_directory_are_allowed(tmp_path):
    check_out_dir(str(tmp_path / "new"), [str(tmp_path / "runs")])
    (tmp_path / "empty").mkdir()
    check_out_dir(str(tmp_path / "empty"), [])
    for leftover in ([], ["lock"], ["runs/x.msgpack"], ["manifest.msgpack", "report.json"]):
        site = tmp_path / f"site-{len(leftover)}-{'-'.join(leftover).replace('/', '_')}"
        (site / "_build").mkdir(parents=True)
        for name in leftover:
            (site / "_build" / name).parent.mkdir(parents=True, exist_ok=True)
            (site / "_build" / name).write_bytes(b"")
        (site / "index.html").write_text("a page of ours")
        assert made_by_sitegen(str(site)), leftover
        check_out_dir(str(site), [])


def test_another_tools_build_dir_is_not_ours(tmp_path):
    docs = tmp_path / "docs"
    (docs / "_build" / "html").mkdir(parents=True)  # Sphinx's
    (docs / "index.rst").write_text("Docs\n====\n")
    assert not made_by_sitegen(str(docs))
    with pytest.raises(OutputRefused, match="not empty and was not made by sitegen"):
        check_out_dir(str(docs), [])
    check_out_dir(str(docs), [], allow_foreign=True)


def test_a_root_or_a_directory_above_one_is_refused_even_when_allowed(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    os.symlink(runs, tmp_path / "link")
    for out in (runs, tmp_path / "link", tmp_path):
        with pytest.raises(OutputRefused, match=r"is the root|holds the root"):
            check_out_dir(str(out), [str(runs)], allow_foreign=True)
    check_out_dir(str(runs / "site"), [str(runs)])  # inside a root: discovery skips it


def test_local_tracking_stores_count_as_roots(tmp_path):
    (tmp_path / "mlruns").mkdir()
    with pytest.raises(OutputRefused, match="holds the root sqlite:///"):
        check_out_dir(str(tmp_path), [f"sqlite:///{tmp_path}/mlflow.db"], allow_foreign=True)
    with pytest.raises(OutputRefused, match="is the root file:///"):
        check_out_dir(str(tmp_path / "mlruns"), [(tmp_path / "mlruns").as_uri()])
    check_out_dir(str(tmp_path / "site"), ["http://mlflow:5000"])


def test_build_refuses_before_it_creates_anything(runs_root, tmp_path):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "runs.json").write_text("{}")
    config = make_config(runs_root, out)
    with pytest.raises(OutputRefused):
        run_build(config)
    assert sorted(p.name for p in out.iterdir()) == ["runs.json"]
    assert run_build(config, allow_foreign_out=True).report.runs_total == 3
