"""How to reproduce a run, gathered from what the readers put in the model, and as one copyable block.

Pure: a run in, a `Reproduction` out; it reads labelled facts, params, env, compute and artifacts,
never `Run.kind`. Values come redacted from the readers; only python/platform-like keys of
`Run.env` are taken, since it may hold arbitrary environment variables.
"""

from __future__ import annotations

import re
import shlex

from msgspec import Struct

from sitegen.model import Run, Scalar

# facts naming the image a run executed in, in the order shown
IMAGE_FACTS = ("Container", "Docker image", "Image digest")
GIT_FACTS = ("Git commit", "Git branch", "Git repository")
# files that snapshot the software environment, by base name
ENV_FILES = ("pip-freeze.txt", "conda-explicit.txt", "packages.txt", "requirements.txt", "environment.yml")
JOB_SCRIPTS = ("sbatch_script.sh", "config.yaml", "recipe.lock.yaml")
UNKNOWN_VALUES = frozenset({"", "unknown", "none", "null", "n/a", "***"})

_COMMAND_KEY = re.compile(r"(^|\.)(cmd|command|command_line|cmdline|argv)$", re.IGNORECASE)
_IMAGE_KEY = re.compile(r"(^|[._])(container|container_image|docker_image|image)$", re.IGNORECASE)
_PATH_KEY = re.compile(r"path|dir|file|dataset|input|output", re.IGNORECASE)
_PATH_VALUE = re.compile(r"^(~|\.{1,2}/|/|[A-Za-z][A-Za-z0-9+.-]*://)|/|\.[A-Za-z0-9]{1,8}$")
_NEWLINES = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
_PYTHON_KEY = re.compile(r"^(python|python_version|platform|os|cuda|cuda_version|torch_version)$",
                         re.IGNORECASE)


class Reproduction(Struct, frozen=True):
    """What is known about how a run came to be; empty fields are unknown."""

    name: str
    command: str | None = None
    command_note: str = ""  # how the command was found when it is not the recorded one, or why none
    image: list[tuple[str, str]] = []  # (label, value): container, image digest …
    git: list[tuple[str, str]] = []  # (label, value): commit, branch, repository
    python: list[tuple[str, str]] = []  # (key, value) from the env snapshot: python, platform …
    package_count: int = 0
    package_files: list[str] = []  # artifacts holding the package list, e.g. artifacts/pip-freeze.txt
    job_scripts: list[str] = []  # artifacts the job was launched from, e.g. sbatch_script.sh
    compute: list[str] = []  # "4 × H100", "32 CPUs", "256 GiB memory", "partition batch"
    data: list[tuple[str, str]] = []  # (param key, path) of the data the run read and wrote


def reproduction(run: Run) -> Reproduction:
    command, note = _command(run)
    return Reproduction(
        name=run.name, command=command, command_note=note, image=_image(run),
        git=[(label, v) for label in GIT_FACTS if (v := _known(run.facts.get(label)))],
        python=_python(run), package_count=len(run.packages),
        package_files=[a.name for a in run.artifacts if _base(a.name) in ENV_FILES],
        job_scripts=[a.name for a in run.artifacts if _base(a.name) in JOB_SCRIPTS],
        compute=_compute(run), data=_data_paths(run),
    )


def as_text(r: Reproduction) -> str:
    """One block to paste into a shell: context as `#` comments, then the command."""
    lines = [f"# reproduce: {r.name}"]
    lines += [f"# {label.lower()}: {value}" for label, value in (*r.image, *r.git)]
    if r.python:
        lines.append("# " + " · ".join(f"{key} {value}" for key, value in r.python))
    if r.package_count or r.package_files:
        where = f" ({', '.join(r.package_files)})" if r.package_files else ""
        lines.append(f"# packages: {r.package_count}{where}")
    if r.compute:
        lines.append("# compute: " + " · ".join(r.compute))
    lines += [f"# data: {key} = {path}" for key, path in r.data]
    if r.job_scripts:
        lines.append(f"# job script: {', '.join(r.job_scripts)} (beside the run page)")
    if r.command_note:
        lines.append(f"# {r.command_note}")
    text = "\n".join(_one_line(line) for line in lines)
    return f"{text}\n{r.command}\n" if r.command else text + "\n"


def _command(run: Run) -> tuple[str | None, str]:
    """The recorded command; else one built from MLflow's source and entry point; else why none."""
    recorded = _known(run.facts.get("Command"))
    if recorded:
        return recorded, ""
    for key, value in sorted(run.params.items()):
        if _COMMAND_KEY.search(key) and (text := _known(value)):
            return text, f"command from the parameter {key}"
    notebook = _notebook(run)
    if notebook:
        return None, notebook
    source, entry = _known(run.facts.get("Source")), _known(run.facts.get("Entry point"))
    if entry and source:
        commit = _known(run.facts.get("Git commit"))
        version = f" --version {shlex.quote(commit)}" if commit else ""
        built = f"mlflow run {shlex.quote(source)} -e {shlex.quote(entry)}{version}"
        return built, "built from MLflow's source and entry point"
    if source and source.endswith(".py"):
        return f"python {shlex.quote(source)}", "from the source script; its arguments were not recorded"
    resume = run.snapshot.job_info.resumption_command if run.snapshot else None
    if _known(resume):
        return resume, "the job's resumption command (continues this job from its checkpoints)"
    return None, "no command was recorded for this run"


def _notebook(run: Run) -> str:
    """Why a run made in a notebook has no command, naming the notebook when it was recorded.
    A Jupyter kernel is `ipykernel_launcher.py` to MLflow before 3 (and to MLflow 3 when it
    cannot ask the Jupyter server); MLflow 3 and Databricks say NOTEBOOK and give its name."""
    source = _known(run.facts.get("Source")) or ""
    kernel = source.replace("\\", "/").rsplit("/", 1)[-1] == "ipykernel_launcher.py"
    in_notebook = kernel or (_known(run.facts.get("Source type")) or "").upper() == "NOTEBOOK"
    path = _known(run.facts.get("Notebook")) or (source if in_notebook and not kernel else None)
    if path:
        return f"ran in the notebook {path}: run its cells again to reproduce"
    return "ran in a Jupyter notebook; which one was not recorded" if in_notebook else ""


def _image(run: Run) -> list[tuple[str, str]]:
    """Image facts, then params naming a container or image (often the full path of what the fact
    shortens), each value once."""
    found = [(label, value) for label in IMAGE_FACTS if (value := _known(run.facts.get(label)))]
    for key, value in sorted(run.params.items()):
        text = _known(value)
        if _IMAGE_KEY.search(key) and text and all(text != v for _label, v in found):
            found.append((key, text))
    return found


def _python(run: Run) -> list[tuple[str, str]]:
    found = [(key, value) for key, value in sorted(run.env.items())
             if _PYTHON_KEY.match(key) and _known(value)]
    if run.compute is not None and not found:
        found = [(key, value) for key, value in (("python", run.compute.python_version),
                                                 ("platform", run.compute.platform)) if value]
    return found


def _compute(run: Run) -> list[str]:
    """GPUs, CPUs, memory, SLURM partition: the machine record first, the facts fill gaps."""
    c = run.compute
    gpus = (c.gpu_count if c else None) or _count(run.facts.get("Total GPUs")) or _count(
        run.facts.get("Ray GPUs"))
    gpu_type = (c.gpu_type if c else None) or _known(run.facts.get("GPU type"))
    cpus = (c.cpu_count if c else None) or _count(run.facts.get("Ray CPUs"))
    partition = (c.slurm.get("slurm_partition") if c else None) or next(
        (text for key, value in sorted(run.params.items())
         if key.rsplit(".", 1)[-1] == "partition" and (text := _known(value))), None)
    parts = []
    if gpus and gpu_type:
        parts.append(f"{gpus} × {gpu_type}")
    elif gpus or gpu_type:
        parts.append(f"{gpus} GPUs" if gpus else f"GPU {gpu_type}")
    if cpus:
        parts.append(f"{cpus} CPUs")
    if c and c.memory_gb:
        parts.append(f"{c.memory_gb:g} GiB memory")
    if partition:
        parts.append(f"partition {partition}")
    return parts


def _data_paths(run: Run) -> list[tuple[str, str]]:
    return [(key, text) for key, value in sorted(run.params.items())
            if _PATH_KEY.search(key) and not _IMAGE_KEY.search(key) and not _COMMAND_KEY.search(key)
            and (text := _known(value)) and " " not in text and _PATH_VALUE.search(text)]


def _known(value: Scalar) -> str | None:
    """A value as text, or None when it is missing, a placeholder such as "unknown", or redacted."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return None if text.lower() in UNKNOWN_VALUES else text


def _count(value: Scalar) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return int(value)


def _base(name: str) -> str:
    """`artifacts/pip-freeze.txt` and `packages.txt (session)` → their file name."""
    return name.split(" ", 1)[0].rsplit("/", 1)[-1]


def _one_line(line: str) -> str:
    """A context line stays one comment: a newline in a value would start a command."""
    return _NEWLINES.sub(" ", line)
