"""Triage: what changed between the last good run and the first bad one of a step.

Pure: two run headers in, their differences out, in the order an on-call engineer reads them:
params and config, what the run was (container, command, commit), installed packages, the
machine, the environment, and the errors their logs tell.
"""

from __future__ import annotations

import msgspec

from sitegen.analysis.regressions import Step
from sitegen.analysis.sessions import PackageChange, package_changes
from sitegen.model import ComputeInfo, Run, Scalar


class Difference(msgspec.Struct, frozen=True):
    name: str
    before: str | None  # None: not set in the last good run
    after: str | None  # None: not set in the first bad run


class LogError(msgspec.Struct, frozen=True):
    run: str  # "last good" or "first bad"
    stream: str
    line: int | None
    summary: str


class Triage(msgspec.Struct, frozen=True):
    step: Step
    last_good: Run
    first_bad: Run
    params: list[Difference]
    facts: list[Difference]
    packages: list[PackageChange]
    compute: list[Difference]
    env: list[Difference]
    errors: list[LogError]

    @property
    def changed_anything(self) -> bool:
        return bool(self.params or self.facts or self.packages or self.compute or self.env)


def triage(step: Step, last_good: Run, first_bad: Run) -> Triage:
    return Triage(
        step, last_good, first_bad,
        params=differences(last_good.params, first_bad.params),
        facts=differences(last_good.facts, first_bad.facts),
        packages=package_changes(last_good.packages, first_bad.packages),
        compute=differences(_compute(last_good.compute), _compute(first_bad.compute)),
        env=differences(last_good.env, first_bad.env),
        errors=_errors("last good", last_good) + _errors("first bad", first_bad),
    )


def differences(before: dict[str, Scalar], after: dict[str, Scalar]) -> list[Difference]:
    names = sorted(set(before) | set(after), key=str.lower)
    return [Difference(n, _text(before.get(n)), _text(after.get(n)))
            for n in names if _text(before.get(n)) != _text(after.get(n))]


def _compute(info: ComputeInfo | None) -> dict[str, Scalar]:
    if info is None:
        return {}
    flat: dict[str, Scalar] = {}
    for name, value in msgspec.structs.asdict(info).items():
        if name in ("gpus", "unavailable") or value in (None, {}, []):
            continue
        if isinstance(value, dict):
            flat.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            flat[name] = value
    for gpu in info.gpus:
        memory = f"{gpu.memory_gb:g} GB" if gpu.memory_gb else None
        flat[f"gpu {gpu.index}"] = " ".join(v for v in (gpu.name, memory) if v)
    return flat


def _errors(which: str, run: Run) -> list[LogError]:
    return [LogError(which, s.name, s.first_error, s.error_summary)
            for s in run.logs if s.error_summary or s.first_error is not None]


def _text(value: Scalar) -> str | None:
    return None if value is None else str(value)
