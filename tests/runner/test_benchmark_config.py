"""NeMo-Curator's successor config (benchmarking/nightly-benchmark.yaml) in `sitegen run`: the real
file plans every entry, paths/datasets/ray/requirements resolve as the upstream runner resolves
them, unknown keys are refused, and a missed requirement fails the entry, named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from runs_json import read_runs

from sitegen.cli import main
from sitegen.errors import ConfigError
from sitegen.runner import plan
from sitegen.runner.plan import plan_session
from sitegen.runner.requirements import Requirement, unmet

SHARED = Path(__file__).resolve().parents[3] / "shared/realdata/nemo-curator"
REAL = SHARED / "benchmarking" / "nightly-benchmark.yaml"

CONFIG = """
paths:
  - name: results_path
    host_path: {results}
    container_path: /results
  - name: datasets_path
    host_path: /host/datasets
gpu_stats_recorder:
  interval_s: 0
datasets:
  - name: docs
    formats:
    - type: jsonl
      path: "{{datasets_path}}/docs"
default_timeout_s: 600
sinks:
  - name: slack
    enabled: true
    channel_id: ${{UNSET_SLACK_CHANNEL}}
  - name: mlflow
    enabled: false
    tracking_uri: ${{UNSET_MLFLOW_URI}}
object_store_size: 100000000
ray:
  num_cpus: 1
  num_gpus: 8
entries:
  - name: missed
    enabled: true
    script: work.py
    args: >-
      --benchmark-results-path={{session_entry_dir}}
      --input={{dataset:docs,jsonl}}
    ray:
      num_gpus: 0
    requirements:
      - metric: total
        exact_value: 1
      - metric: time_taken
        max_value: 600
    sink_data:
      - name: slack
        additional_metrics: [total]
  - name: switched_off
    enabled: false
    script: work.py
"""
WORK = '''
import argparse, json
parser = argparse.ArgumentParser()
parser.add_argument("--benchmark-results-path")
parser.add_argument("--input")
args = parser.parse_args()
with open(f"{args.benchmark_results_path}/params.json", "w") as f:
    json.dump({"input": args.input}, f)
with open(f"{args.benchmark_results_path}/metrics.json", "w") as f:
    json.dump({"is_success": True, "total": 40425, "time_taken": 0.5}, f)
'''


def write_config(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "work.py").write_text(WORK)
    path = tmp_path / "nightly-benchmark.yaml"
    path.write_text(CONFIG.format(results=tmp_path / "results"))
    return path


@pytest.mark.skipif(not REAL.is_file(), reason="needs ../shared/realdata (Curator's nightly-benchmark.yaml)")
def test_the_real_config_plans_every_entry(capsys):
    assert main(["run", "--matrix", str(REAL), "--dry-run", "--session-name", "night"]) == 0
    printed = capsys.readouterr().out
    raw = yaml.safe_load(REAL.read_text())
    blocks = {block.split("\n", 1)[0]: block for block in printed.split("\nentry ")[1:]}
    assert len(blocks) == len(raw["entries"])
    for entry in raw["entries"]:
        block = next(b for head, b in blocks.items() if head.split()[0] == entry["name"])
        assert ("(disabled" in block.split("\n", 1)[0]) == (entry["enabled"] is False)
        timeout = entry.get("timeout_s", raw["default_timeout_s"])
        assert f"  timeout:   {timeout} s" in block
        assert f"/{entry['name']}" in block  # {session_entry_dir} filled in
        command = block.split("  command:")[1].split("\n")[0]
        assert not re.search(r"\{[A-Za-z_][A-Za-z0-9_:,]*\}|\$\{", command)  # every placeholder filled
        for requirement in entry.get("requirements", []):
            assert Requirement(**requirement).describe() in block
    assert printed.startswith(f"plan (benchmarking config): {sum(e['enabled'] for e in raw['entries'])} of ")
    assert "note: sink slack: not run by sitegen" in printed


@pytest.fixture
def on_host(monkeypatch) -> None:
    monkeypatch.setattr(plan, "in_container", lambda: False)


def test_paths_datasets_ray_and_requirements_resolve_as_upstream(tmp_path: Path, on_host):
    path = write_config(tmp_path)
    planned = plan_session(str(path), None, "night", None, {})
    missed, off = planned.entries
    entry_dir = tmp_path / "results" / "night" / "missed"
    assert missed.argv == [str(tmp_path / "scripts" / "work.py"), f"--benchmark-results-path={entry_dir}",
                           "--input=/host/datasets/docs"]
    assert (missed.ray.num_cpus, missed.ray.num_gpus) == (1, 0)  # the entry's ray over the session's
    assert (off.enabled, off.ray.num_gpus, missed.object_store_bytes) == (False, 8, 100000000)
    assert [r.metric for r in missed.requirements] == ["total", "time_taken"]
    assert planned.mlflow is None  # its sink is disabled: its unset variable does not matter
    assert not missed.add_results_path  # the args name it themselves


def test_container_paths_inside_a_container(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(plan, "in_container", lambda: True)
    planned = plan_session(str(write_config(tmp_path)), None, "night", None, {})
    assert planned.session_dir == Path("/results/night")
    assert planned.entries[0].argv[-1] == "--input=/MOUNT/host/datasets/docs"  # the default mount point


@pytest.mark.parametrize(("change", "expected"), [
    (("default_timeout_s: 600", "default_timeout_s: 600\nresults_dir: x"), "unknown field `results_dir`"),
    (("        exact_value: 1", "        exact_value: 1\n        min_value: 0"),
     "entries[0] (missed): requirement on 'total': exact_value cannot be combined with min_value"),
    (("--input={{dataset:docs,jsonl}}", "--input={{nowhere}}/x"),
     "entries[0] (missed): unknown placeholder {nowhere}"),
    (("      num_gpus: 0", "      num_gpu: 0"),
     "entries[0] (missed): ray: Object contains unknown field `num_gpu`"),
    (("timeout_s: 600", "timeout_s: 600\nmax_timeout_s: 60"),
     "default_timeout_s 600 exceeds max_timeout_s 60"),
])
def test_bad_configs_are_clear_errors(tmp_path: Path, on_host, change: tuple[str, str], expected: str):
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace(change[0].replace("{{", "{").replace("}}", "}"),
                                             change[1].replace("{{", "{").replace("}}", "}"), 1))
    with pytest.raises(ConfigError) as raised:
        plan_session(str(path), None, "night", None, {})
    assert expected in str(raised.value)


@pytest.mark.parametrize(("requirement", "value", "why"), [
    ({"metric": "x", "min_value": 3500}, 3499.5, "x < 3500"),
    ({"metric": "x", "max_value": 2}, 3, "x > 2"),
    ({"metric": "x", "exact_value": 26}, 25, "x != 26"),
    ({"metric": "x", "exact_value": 26}, 26.0, None),
    ({"metric": "x", "min_value": 1, "max_value": 2}, 1.5, None),
    ({"metric": "y", "min_value": 1}, 1, "y not found in metrics"),
])
def test_requirements_are_named_as_the_upstream_runner_names_them(requirement, value, why):
    import msgspec

    req = msgspec.convert(requirement, Requirement)
    assert unmet([req], {"x": value}) == ({req.metric: why} if why else {})


def test_sitegen_run_fails_an_entry_that_misses_a_requirement(tmp_path: Path, capsys, monkeypatch, on_host):
    pytest.importorskip("ray", reason="needs ray (pip install -e '.[test]')")
    path = write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--matrix", str(path), "--session-name", "night", "-q"])
    console = capsys.readouterr().out
    assert code == 1
    assert "❌ requirements not met: total != 1" in console
    assert "entry switched_off (2/2): disabled, skipped" in console
    entry = tmp_path / "results" / "night" / "missed"
    assert not (entry / "benchmark_results").exists() and (entry / "metrics.json").is_file()
    results = json.loads((entry / "results.json").read_text())
    assert results["requirements_not_met"] == {"total": "total != 1"}
    runs = read_runs(tmp_path / "site")
    run = next(r for r in runs if r["benchmark"] == "missed")
    assert run["status"] == "failed"
    page = (tmp_path / "site" / run["url"]).read_text()
    assert "<code>total</code>: total != 1 (it was 40425)" in page
