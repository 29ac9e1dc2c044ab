"""The benchmark matrix (YAML, safe loading; anchors and merge keys work, top-level `x-…` keys
may hold the anchored blocks) and its placeholders.

`{dataset:NAME,FORMAT}` comes from the datasets JSON, `{session}` is the entry's directory,
`${VAR}` the environment. Every unknown dataset, format or variable is reported at once, before
anything runs.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from sitegen.config import read_yaml
from sitegen.errors import ConfigError
from sitegen.runner.requirements import Requirement, requirement_problems

DEFAULT_TIMEOUT_S = 3600
Timeout = Annotated[int, msgspec.Meta(ge=1, le=7 * 24 * 3600)]  # a second to a week
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DATASET = re.compile(r"\{dataset:([^,}]*),([^}]*)\}")
_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class RayOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    num_cpus: Annotated[int, msgspec.Meta(ge=1, le=1024)] | None = None
    num_gpus: Annotated[int, msgspec.Meta(ge=0, le=64)] = 0
    enable_object_spilling: bool = False


class Entry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    script: str
    args: str = ""
    timeout_s: Timeout | None = None
    script_base_dir: str | None = None
    delete_scratch: bool | None = None
    ray: RayOptions = RayOptions()
    requirements: list[Requirement] = []


class MlflowSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    tracking_uri: str
    experiment: str = "sitegen"


class SlackSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    webhook_env: str


class Matrix(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    entries: list[Entry]
    default_timeout_s: Timeout = DEFAULT_TIMEOUT_S
    results_dir: str | None = None
    artifacts_dir: str | None = None
    delete_scratch: bool = True
    mlflow: MlflowSettings | None = None
    slack: SlackSettings | None = None
    wandb: dict[str, object] | None = None


class PlannedEntry(msgspec.Struct, frozen=True):
    """An entry ready to run: its command with every placeholder filled in."""

    name: str
    argv: list[str]  # after the interpreter: the script and its arguments
    timeout_s: int
    delete_scratch: bool
    ray: RayOptions
    requirements: tuple[Requirement, ...] = ()
    object_store_bytes: int | None = None  # None: Ray's own choice
    enabled: bool = True
    add_results_path: bool = True  # the runner appends --benchmark-results-path …/benchmark_results


def read_config_yaml(path: str) -> object:
    """The YAML; a key given twice, or nesting deeper than settings go, is an error. Top-level
    `x-…:` keys hold YAML anchors for the entries (as in compose files) and are dropped."""
    raw = read_yaml(Path(path))
    if isinstance(raw, dict):
        raw = {key: value for key, value in raw.items() if not str(key).startswith("x-")}
    return raw


def load_matrix(path: str, raw: object = None) -> Matrix:
    raw = read_config_yaml(path) if raw is None else raw
    try:
        matrix = msgspec.convert(raw, Matrix)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    problems = [f"entries[{i}]: name {e.name!r} is not a plain directory name"
                for i, e in enumerate(matrix.entries) if not SAFE_NAME.fullmatch(e.name)]
    names = [e.name for e in matrix.entries]
    problems += [f"entries: {name!r} appears more than once" for name in sorted(set(names))
                 if names.count(name) > 1]
    problems += [problem for i, e in enumerate(matrix.entries)
                 for problem in requirement_problems(e.requirements, f"entries[{i}] ({e.name})")]
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return matrix


def load_datasets(path: str | None) -> dict[str, dict[str, str]]:
    """`{dataset: {format: path}}`; an empty mapping without a file."""
    if path is None:
        return {}
    try:
        raw = msgspec.json.decode(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON ({exc})") from None
    try:
        return msgspec.convert(raw, dict[str, dict[str, str]])
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: expected {{dataset: {{format: path}}}} ({exc})") from None


def plan_entries(
    matrix: Matrix, matrix_path: str, datasets: Mapping[str, Mapping[str, str]], session_dir: Path,
    env: Mapping[str, str],
) -> list[PlannedEntry]:
    """Every entry with its placeholders filled in; every problem of every entry in one error."""
    problems: list[str] = []
    planned = []
    base = Path(matrix_path).resolve().parent
    for index, entry in enumerate(matrix.entries):
        where = f"entries[{index}] ({entry.name})"
        places = {"session": str(session_dir / entry.name)}
        args = fill_placeholders(entry.args, datasets, places, env, where, problems)
        script_dir = Path(fill_placeholders(entry.script_base_dir, datasets, places, env, where, problems)) \
            if entry.script_base_dir else base
        script = script_dir / fill_placeholders(entry.script, datasets, places, env, where, problems)
        try:
            argv = shlex.split(args)
        except ValueError as exc:
            problems.append(f"{where}: args: {exc}")
            continue
        planned.append(PlannedEntry(
            name=entry.name, argv=[str(script), *argv], timeout_s=entry.timeout_s or matrix.default_timeout_s,
            delete_scratch=matrix.delete_scratch if entry.delete_scratch is None else entry.delete_scratch,
            ray=entry.ray, requirements=tuple(entry.requirements),
        ))
    if problems:
        raise ConfigError(f"{matrix_path}: " + "; ".join(problems))
    return planned


def fill_env(text: str, env: Mapping[str, str], where: str, problems: list[str]) -> str:
    def variable(match: re.Match[str]) -> str:
        if match[1] not in env:
            problems.append(f"{where}: ${{{match[1]}}} is not set")
            return ""
        return env[match[1]]

    return _ENV.sub(variable, text)


def fill_placeholders(
    text: str, datasets: Mapping[str, Mapping[str, str]], places: Mapping[str, str], env: Mapping[str, str],
    where: str, problems: list[str], *, strict: bool = False,
) -> str:
    """`${VAR}`, then `{dataset:NAME,FORMAT}`, then `{name}` from `places`; another `{name}` is left
    as it is, or is a problem when `strict` (the successor config's rule)."""
    def dataset(match: re.Match[str]) -> str:
        name, form = match[1].strip(), match[2].strip()
        if name not in datasets:
            known = ", ".join(sorted(datasets)) or "none: pass --datasets"
            problems.append(f"{where}: unknown dataset {name!r} (known: {known})")
            return ""
        if form not in datasets[name]:
            problems.append(f"{where}: dataset {name!r} has no format {form!r} "
                            f"(it has: {', '.join(sorted(datasets[name]))})")
            return ""
        return datasets[name][form]

    def place(match: re.Match[str]) -> str:
        if match[1] in places:
            return places[match[1]]
        if strict:
            problems.append(f"{where}: unknown placeholder {match[0]} (known: {', '.join(sorted(places))})")
        return match[0]

    text = fill_env(text, env, where, problems)
    return _NAME.sub(place, _DATASET.sub(dataset, text))
