"""How to reproduce a run: what the readers recorded, as one block a user pastes into a shell."""

from __future__ import annotations

import json
from pathlib import Path

from sitegen.analysis.repro import Reproduction, as_text, reproduction
from sitegen.model import Artifact, ComputeInfo, Run
from sitegen.readers import nightly
from sitegen.readers.base import ReadContext
from sitegen.render.env import theme_dir
from sitegen.render.run_page import run_pages
from sitegen.render.site import SiteInfo

SITE = SiteInfo(title="t", theme=str(theme_dir("default")), version="0")
CMD = "python dedup.py --input /data/cc --executor ray_data"


def _run(**fields: object) -> Run:
    return Run(**{"run_id": "r", "root": "/r", "slug": "s", "kind": "any", "name": "dedup · s1",
                  "status": "completed", **fields})


def test_a_nightly_entry_with_command_image_and_pip_freeze():
    run = _run(
        facts={"Command": CMD, "Git commit": "13d43f58f", "Image digest": "sha256:abc123",
               "Hostname": "dgx-07"},
        params={"input_path": "/data/cc", "output_dir": "./out/dedup", "executor": "ray_data",
                "files_per_partition": 1, "id_field": "_id", "storage.endpoint": "***"},
        env={"python": "3.12.3", "platform": "Linux-x86_64", "HF_TOKEN": "hf_secretvalue",
             "cuda_visible_devices": "0,1"},
        packages={"numpy": "1.26.4", "pyarrow": "18.0.0", "ray": "2.49.0"},
        artifacts=[Artifact("artifacts/pip-freeze.txt", 40, "pip-freeze.txt", "/r/x"),
                   Artifact("artifacts/sys-env.json", 10), Artifact("benchmark_results/tasks.pkl", 9)],
        compute=ComputeInfo(cpu_count=32, memory_gb=256.0, gpu_count=2, gpu_type="NVIDIA H100",
                            slurm={"slurm_partition": "batch"}),
    )
    r = reproduction(run)
    assert (r.command, r.command_note) == (CMD, "")
    assert r.image == [("Image digest", "sha256:abc123")] and r.git == [("Git commit", "13d43f58f")]
    assert r.python == [("platform", "Linux-x86_64"), ("python", "3.12.3")]
    assert (r.package_count, r.package_files) == (3, ["artifacts/pip-freeze.txt"])
    assert r.compute == ["2 × NVIDIA H100", "32 CPUs", "256 GiB memory", "partition batch"]
    assert r.data == [("input_path", "/data/cc"), ("output_dir", "./out/dedup")]
    assert as_text(r) == (
        "# reproduce: dedup · s1\n"
        "# image digest: sha256:abc123\n"
        "# git commit: 13d43f58f\n"
        "# platform Linux-x86_64 · python 3.12.3\n"
        "# packages: 3 (artifacts/pip-freeze.txt)\n"
        "# compute: 2 × NVIDIA H100 · 32 CPUs · 256 GiB memory · partition batch\n"
        "# data: input_path = /data/cc\n"
        "# data: output_dir = ./out/dedup\n"
        f"{CMD}\n"
    )
    assert "hf_secretvalue" not in as_text(r) and "0,1" not in as_text(r)  # env variables stay out
    assert as_text(reproduction(run)) == as_text(r)  # deterministic


def test_a_serving_job_shows_its_container_and_job_script_but_no_command():
    run = _run(
        name="3667 · 1P/1D · 2025-11-10 19:21",
        facts={"Job id": "3667", "Container": "sglang+v0.5.4.post3", "GPU type": "gb200-fp8",
               "Total GPUs": 52, "Benchmark tool": "vllm"},
        params={"run_metadata.container": "/lustre/images/lmsysorg+sglang+v0.5.4.post3.sqsh",
                "run_metadata.model_dir": "/models/DeepSeek-R1", "run_metadata.partition": "gb200",
                "run_metadata.log_dir": "logs", "run_metadata.job_name": "dynamo_setup"},
        artifacts=[Artifact("sbatch_script.sh", 900, "sbatch_script.sh", "/r/s"),
                   Artifact("node1_config.json", 50)],
    )
    r = reproduction(run)
    assert r.command is None and r.command_note == "no command was recorded for this run"
    assert r.image == [("Container", "sglang+v0.5.4.post3"),
                       ("run_metadata.container", "/lustre/images/lmsysorg+sglang+v0.5.4.post3.sqsh")]
    assert r.compute == ["52 × gb200-fp8", "partition gb200"]
    assert r.data == [("run_metadata.model_dir", "/models/DeepSeek-R1")]  # "logs" is no path
    text = as_text(r)
    assert "# container: sglang+v0.5.4.post3\n" in text
    assert "# job script: sbatch_script.sh (beside the run page)\n" in text
    assert text.endswith("# no command was recorded for this run\n")


def test_a_training_run_without_a_command_says_so():
    run = _run(name="fc3bb894b759", params={"optimizer.lr": 0.001, "data.path": "/datasets/tinystories",
                                            "output_dir": "../outputs/gpt-small"})
    r = reproduction(run)
    assert r == Reproduction(name="fc3bb894b759", command_note="no command was recorded for this run",
                             data=[("data.path", "/datasets/tinystories"),
                                   ("output_dir", "../outputs/gpt-small")])
    assert as_text(r).splitlines()[-1] == "# no command was recorded for this run"


def test_mlflow_source_and_entry_point_make_the_command_quoted():
    project = _run(facts={"Source": "https://github.com/o/r", "Entry point": "main",
                          "Git commit": "abc; rm -rf /"})
    command = "mlflow run https://github.com/o/r -e main --version 'abc; rm -rf /'"
    assert reproduction(project).command == command
    script = reproduction(_run(facts={"Source": "train.py"}))
    assert script.command == "python train.py" and "arguments were not recorded" in script.command_note
    assert reproduction(_run(params={"run.cmd": "torchrun train.py"})).command == "torchrun train.py"


def test_placeholders_are_unknown_and_a_value_cannot_break_out_of_its_comment():
    run = _run(facts={"Git commit": "unknown", "Image digest": "unknown",
                      "Container": "img\nrm -rf ~"})
    r = reproduction(run)
    assert r.git == [] and r.image == [("Container", "img\nrm -rf ~")]
    assert "# container: img rm -rf ~\n" in as_text(r)
    assert all(line.startswith("#") for line in as_text(r).splitlines())


def test_read_from_a_nightly_entry(tmp_path: Path):
    entry = tmp_path / "nightly-2025-03-01" / "dedup_exact"
    (entry / "benchmark_results").mkdir(parents=True)
    (entry / "artifacts").mkdir()
    (entry / "benchmark_results" / "metrics.json").write_text('{"is_success": true, "time_taken_s": 1.0}')
    (entry / "benchmark_results" / "params.json").write_text('{"input_path": "/data/cc"}')
    (entry / "artifacts" / "pip-freeze.txt").write_text("numpy==1.26.4\npyarrow==17.0.0\n")
    (entry / "artifacts" / "sys-env.json").write_text('{"python": "3.12.3", "platform": "Linux"}')
    (entry / "results.json").write_text(json.dumps({
        "run": {"name": "dedup_exact", "cmd": CMD}, "script_params_metrics": {},
        "env": {"git_commit": "13d43f58f", "image_digest": "sha256:abc"}}))
    ctx = ReadContext(root=str(tmp_path), allowed=())
    run = nightly.read(str(entry), "nightly-2025-03-01/dedup_exact", ctx)
    text = as_text(reproduction(run))
    assert text.endswith(f"\n{CMD}\n")
    for line in ("# image digest: sha256:abc", "# git commit: 13d43f58f",
                 "# packages: 2 (artifacts/pip-freeze.txt)", "# data: input_path = /data/cc"):
        assert line in text.splitlines()


def test_the_run_page_shows_the_block_escaped_with_a_copy_button():
    run = _run(facts={"Command": "python x.py --q '<script>alert(1)</script>' && echo done"})
    html = run_pages(run, SITE)[0].data.decode()
    assert "<h2>Reproduce</h2>" in html and '<button type="button" class="copy"' in html
    assert "<script>alert(1)</script>" not in html
    assert "python x.py --q &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; &amp;&amp; echo done" in html


def test_a_notebook_run_says_so_and_names_the_notebook_when_recorded():
    launcher = "/opt/conda/lib/python3.11/site-packages/ipykernel_launcher.py"  # MLflow before 3
    kernel = reproduction(_run(facts={"Source": launcher, "Source type": "LOCAL"}))
    assert kernel.command is None
    assert kernel.command_note == "ran in a Jupyter notebook; which one was not recorded"
    named = reproduction(_run(facts={"Source": "analysis.ipynb", "Source type": "NOTEBOOK"}))  # MLflow 3
    assert named.command is None
    assert named.command_note == "ran in the notebook analysis.ipynb: run its cells again to reproduce"
    databricks = reproduction(_run(facts={"Source": "/Users/a@b.c/train", "Source type": "NOTEBOOK",
                                          "Notebook": "/Users/a@b.c/train"}))
    assert databricks.command_note.startswith("ran in the notebook /Users/a@b.c/train: ")
