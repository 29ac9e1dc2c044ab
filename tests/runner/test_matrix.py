"""The benchmark matrix: safe YAML with anchors, placeholders filled, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitegen.errors import ConfigError
from sitegen.runner.matrix import load_datasets, load_matrix, plan_entries

SHARED_MATRIX = Path(__file__).resolve().parents[3] / "shared/realdata/nemo-curator/nightly_benchmarking"
DATASETS = {"cleaned_cc": {"jsonl": "/data/cc.jsonl", "parquet": "/data/cc.parquet"}}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    return str(path)


MATRIX = """
default_timeout_s: 600
results_dir: ${RESULTS}
x-small: &small
  num_cpus: 4
  num_gpus: 0
entries:
  - name: dedup_small
    script: dedup.py
    args: >-
      --input {dataset:cleaned_cc,parquet}
      --output {session}/scratch
      --label "two words"
    ray: *small
  - name: dedup_big
    script: dedup.py
    args: --input {dataset:cleaned_cc,jsonl} --token-file ${HOME}/t
    timeout_s: 60
    delete_scratch: false
    ray: {<<: *small, num_cpus: 8, enable_object_spilling: true}
"""


def test_anchors_merges_and_placeholders(tmp_path: Path):
    path = write(tmp_path, MATRIX)
    matrix = load_matrix(path)
    planned = plan_entries(matrix, path, DATASETS, tmp_path / "s", {"HOME": "/home/a", "RESULTS": "/r"})
    small, big = planned
    assert small.argv == [str(tmp_path / "dedup.py"), "--input", "/data/cc.parquet", "--output",
                          str(tmp_path / "s" / "dedup_small" / "scratch"), "--label", "two words"]
    assert (small.timeout_s, small.delete_scratch, small.ray.num_cpus) == (600, True, 4)
    assert big.argv[-1] == "/home/a/t" and big.timeout_s == 60 and not big.delete_scratch
    assert (big.ray.num_cpus, big.ray.enable_object_spilling) == (8, True)


def test_every_unknown_dataset_format_and_variable_is_one_error(tmp_path: Path):
    path = write(tmp_path, MATRIX.replace("cleaned_cc,parquet", "missing,parquet")
                 .replace("cleaned_cc,jsonl", "cleaned_cc,csv"))
    with pytest.raises(ConfigError) as raised:
        plan_entries(load_matrix(path), path, DATASETS, tmp_path, {})
    message = str(raised.value)
    assert "entries[0] (dedup_small): unknown dataset 'missing' (known: cleaned_cc)" in message
    assert "(dedup_big): dataset 'cleaned_cc' has no format 'csv' (it has: jsonl, parquet)" in message
    assert "entries[1] (dedup_big): ${HOME} is not set" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("entries: [{name: a, script: a.py, retries: 2}]", "unknown field `retries`"),
    ("entries: [{name: ../up, script: a.py}]", "name '../up' is not a plain directory name"),
    ("entries: [{name: a, script: a.py}, {name: a, script: b.py}]", "'a' appears more than once"),
    ("entries: [{name: a, script: a.py, timeout_s: soon}]", "Expected `int | null`, got `str`"),
    ("entries: !!python/object/apply:os.system ['echo pwned']", "not valid YAML"),
    ("entries: [", "not valid YAML"),
    ("entries: [{name: a, script: a.py, timeout_s: -5}]", "Expected `int` >= 1"),
    ("default_timeout_s: 0\nentries: [{name: a, script: a.py}]", "Expected `int` >= 1"),
    ("entries: [{name: a, script: a.py, ray: {num_cpus: 100000}}]", "Expected `int` <= 1024"),
    ("entries: [{name: a, script: a.py, ray: {num_gpus: -1}}]", "Expected `int` >= 0"),
    ("entries:\n  - name: a\n    script: a.py\n    script: b.py\n",
     "matrix.yaml:4: entries[0].script: given twice (first on line 3); keep one"),
    ("entries: " + "[" * 10_000 + "]" * 10_000, "nested too deeply to be settings"),
])
def test_bad_matrices_are_clear_errors(tmp_path: Path, text: str, expected: str):
    with pytest.raises(ConfigError) as raised:
        load_matrix(write(tmp_path, text))
    assert expected in str(raised.value)


def test_bad_datasets_files(tmp_path: Path):
    (tmp_path / "d.json").write_text('{"cc": ["not", "a", "mapping"]}')
    with pytest.raises(ConfigError, match="expected"):
        load_datasets(str(tmp_path / "d.json"))
    with pytest.raises(ConfigError, match="cannot be read"):
        load_datasets(str(tmp_path / "missing.json"))


@pytest.mark.skipif(not SHARED_MATRIX.is_dir(), reason="needs ../shared/realdata (NeMo-Curator's matrix)")
def test_the_real_curator_matrix_and_datasets(tmp_path: Path):
    path = str(SHARED_MATRIX / "removal_benchmark_matrix.yaml")
    matrix = load_matrix(path)
    datasets = load_datasets(str(SHARED_MATRIX / "dataset_paths.json"))
    planned = plan_entries(matrix, path, datasets, tmp_path / "s", {"MLFLOW_TRACKING_URI": "x"})
    assert [p.name for p in planned] == [e.name for e in matrix.entries] and planned[0].timeout_s == 1800
    assert "--benchmark-results-path" not in planned[0].argv  # the driver adds it when it runs


def test_the_bundled_nightly_demo_matrix_plans(tmp_path: Path):
    demo = Path(__file__).resolve().parents[2] / "examples" / "nightly"
    datasets = {f"records_{size}": {"jsonl": f"/d/{size}.jsonl"} for size in ("small", "large")}
    path = str(demo / "matrix.yaml")
    planned = plan_entries(load_matrix(path), path, datasets, tmp_path, {"SITEGEN_NIGHTLY_DIR": "/n"})
    assert [p.name for p in planned] == ["pipeline_small", "dedup_large", "sort_small", "sort_large"]
    assert all(Path(p.argv[0]).is_file() and p.ray.num_cpus == 2 for p in planned)
