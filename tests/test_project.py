"""The shape of the package: public API, import direction, lazy heavy imports, what the wheel ships."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import sitegen
from sitegen.readers import LAYOUTS, layout_of

PACKAGE = Path(sitegen.__file__).resolve().parent
REPO = PACKAGE.parent

# STYLE.md: imports point one way. A module may import from a lower level, from its own
# sub-package, or along the few same-level edges listed below.
LEVELS = {
    "errors": 0, "model": 0, "slug": 0, "paths": 0, "jsonsafe": 0, "redact": 0, "metric_names": 0,
    "tracking_uri": 0, "snapshot": 0, "numbers": 0, "shards": 0,
    "config": 1, "packed_run": 1, "readers": 1, "analysis": 1, "render": 1, "compute": 1,
    "write": 2, "cache": 2, "journal": 2, "discover": 2, "reporting": 2, "runner": 2, "out_dir": 2,
    "record_log": 2, "listings": 2, "shard_summaries": 2,
    "run_jobs": 3, "site_pages": 3, "report_pages": 3, "pipeline": 3, "ray_jobs": 3, "watch": 3,
    "cli": 4, "__main__": 4, "serve": 4,
}
SAME_LEVEL = {("model", "snapshot"), ("metric_names", "numbers"),
              ("cache", "write"), ("journal", "cache"), ("journal", "write"), ("discover", "cache"),
              ("out_dir", "cache"), ("site_pages", "run_jobs"),
              ("cache", "record_log"), ("record_log", "write"), ("listings", "cache"), ("listings", "write"),
              ("shard_summaries", "cache"), ("shard_summaries", "listings"), ("shard_summaries", "write"),
              ("site_pages", "report_pages"),
              ("pipeline", "run_jobs"), ("pipeline", "site_pages"), ("pipeline", "ray_jobs"),
              ("ray_jobs", "run_jobs"), ("__main__", "cli"), ("cli", "serve"),
              ("render", "analysis"),  # pages show what analysis computed
              ("render", "config"),  # the theme setting names the templates
              ("readers", "analysis"),  # a reader folds a job's events with a pure analysis
              ("analysis", "config")}  # thresholds and directions are set in sitegen.yaml


def _unit(module: str) -> str:
    """The part of `sitegen.a.b` that LEVELS knows: `a`."""
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sitegen"):
            names.update(f"{node.module}.{a.name}" if node.module == "sitegen" else node.module
                         for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("sitegen"))
    return names


def test_imports_point_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "sitegen." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        source = _unit(module)
        if source == "__init__":
            continue
        assert source in LEVELS, f"{module}: place it in LEVELS"
        for target in map(_unit, _imports(path)):
            if target in ("__init__", "__version__", source):
                continue
            allowed = LEVELS[target] < LEVELS[source] or (source, target) in SAME_LEVEL
            if not allowed:
                wrong.append(f"{module} imports sitegen.{target}")
    assert wrong == []


def test_readers_and_renderers_never_decide_staleness():
    for package in ("readers", "render", "analysis"):
        for path in (PACKAGE / package).rglob("*.py"):
            assert not any(_unit(m) in ("cache", "pipeline", "run_jobs") for m in _imports(path)), path


def test_public_api():
    assert sitegen.__all__ == ["__version__", "build", "load_config"]
    from sitegen.config import load_config
    from sitegen.pipeline import build  # importing the module must not hide the function

    assert sitegen.build is build and sitegen.load_config is load_config


def test_layouts_in_detection_order():
    assert [layout.name for layout in LAYOUTS] == ["sidecar", "jobdir", "nightly", "eventlog", "serving",
                                                   "mlflow"]
    assert layout_of("run", {"sidecar.json", "metrics.csv"}) == "sidecar"
    assert layout_of("run", {"metrics.csv"}) is None


def test_a_build_imports_nothing_heavy_until_it_renders():
    code = ("import sys, sitegen.cli, sitegen.pipeline, sitegen.discover, sitegen.cache\n"
            "print(sorted(m for m in ('jinja2', 'plotly', 'markdown_it', 'yaml', 'ray', 'mlflow',"
            " 'sitegen.render.run_page', 'sitegen.readers.sidecar') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_numpy_is_imported_only_for_a_run_with_series():
    code = ("import sys, msgspec\n"
            "from sitegen.config import theme_dir\n"
            "from sitegen.model import Run, Series\n"
            "from sitegen.render.run_page import run_pages\n"
            "from sitegen.render.site import SiteInfo\n"
            "site = SiteInfo(title='t', theme=str(theme_dir('default')), version='0')\n"
            "run = Run(run_id='r', root='/', slug='r', kind='nightly', name='r', status='completed',\n"
            "          summary={'time_s': 1.5})\n"
            "run_pages(run, site)\n"
            "print('numpy' in sys.modules)\n"
            "run_pages(msgspec.structs.replace(run, series={'loss': Series([1.0, 0.5], {})}), site)\n"
            "print('numpy' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_the_wheel_ships_the_default_theme(tmp_path):
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                   cwd=REPO, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("sitegen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    theme = REPO / "themes" / "default"
    expected = {f"sitegen/themes/default/{p.relative_to(theme).as_posix()}"
                for p in theme.rglob("*") if p.is_file()}
    assert expected and expected <= names
    assert "sitegen/cli.py" in names and not any(n.startswith(("tests/", "examples/")) for n in names)


def _workflow(name: str) -> dict:
    import yaml

    return yaml.safe_load((PACKAGE.parent / ".github" / "workflows" / name).read_text())


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_ci_runs_what_a_new_user_runs():
    steps = _steps(_workflow("ci.yml"))
    assert any(step.get("run") == ".ci/run" for step in steps)
    assert "make test" in (PACKAGE.parent / ".ci" / "run").read_text()


def test_pages_keeps_its_build_cache_and_publishes_without_it():
    workflow = _workflow("pages.yml")
    uses = [step.get("uses", "") for step in _steps(workflow)]
    assert [u.split("@")[0] for u in uses if u.startswith("actions/")] == [
        "actions/checkout", "actions/setup-python", "actions/cache/restore", "actions/cache/save",
        "actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"]
    cached = [step["with"]["path"] for step in _steps(workflow) if "actions/cache" in step.get("uses", "")]
    assert cached == ["site", "site"]  # the whole output dir: its pages are what the manifest records
    runs = " ".join(step.get("run", "") for step in _steps(workflow))
    assert "make site" in runs and "--exclude _build site/ public/" in runs
    upload = next(step for step in _steps(workflow) if "upload-pages-artifact" in step.get("uses", ""))
    assert upload["with"]["path"] == "public"
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}


def test_a_pull_request_preview_is_an_artifact_to_open_from_disk():
    workflow = _workflow("preview.yml")
    assert list(workflow[True]) == ["pull_request"]  # YAML 1.1 reads the key `on` as true
    upload = next(step for step in _steps(workflow) if "upload-artifact" in step.get("uses", ""))
    runs = " ".join(step.get("run", "") for step in _steps(workflow))
    assert "--exclude _build site/ site-preview/" in runs and upload["with"]["path"] == "site-preview"
