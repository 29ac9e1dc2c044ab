"""What an entry leaves in artifacts/: pip freeze, conda's explicit list when conda exists
(a fake `conda` on PATH here), sys-env.json and compute.json, as the nightly reader reads them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sitegen.readers.env_capture import parse_conda_explicit, parse_pip_freeze
from sitegen.runner.entry import _capture_environment

CONDA_LIST = """# This file may be used to create an environment using:
# $ conda create --name <env> --file <this file>
@EXPLICIT
https://conda.anaconda.org/conda-forge/linux-64/zstd-1.5.6-ha6fb4c9_0.conda
"""


def test_captures_with_conda_on_path(tmp_path: Path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    conda = bin_dir / "conda"
    conda.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'list --explicit' ] && cat <<'EOF'\n{CONDA_LIST}EOF\n")
    conda.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    _capture_environment(artifacts)
    packages, _unparsed = parse_pip_freeze((artifacts / "pip-freeze.txt").read_text())
    assert "msgspec" in packages
    conda_packages, _unparsed = parse_conda_explicit((artifacts / "conda-explicit.txt").read_text())
    assert conda_packages == {"zstd": "1.5.6"}
    assert set(json.loads((artifacts / "sys-env.json").read_text())) == {
        "python", "platform", "executable", "cuda_visible_devices"}
    assert json.loads((artifacts / "compute.json").read_text())["cpu_count"] >= 1


def test_no_conda_no_conda_file(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    _capture_environment(artifacts)
    assert not (artifacts / "conda-explicit.txt").exists() and (artifacts / "pip-freeze.txt").is_file()
