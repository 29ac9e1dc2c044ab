"""Requirements: pass/fail thresholds an entry's metrics must meet (`min_value`, `max_value`, or
`exact_value`), checked as NeMo-Curator's runner checks them and named as it names a miss
(`throughput_docs_per_sec < 3500`), so both runners' results.json read alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

Exact = bool | int | float | str


class Requirement(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    metric: str
    min_value: float | None = None
    max_value: float | None = None
    exact_value: Exact | None = None

    def describe(self) -> str:
        """`throughput_docs_per_sec ≥ 3500`, `number_of_domains_predicted = 26`, `1 ≤ x ≤ 2`."""
        if self.exact_value is not None:
            return f"{self.metric} = {self.exact_value}"
        if self.max_value is None:
            return f"{self.metric} ≥ {_num(self.min_value)}"
        if self.min_value is None:
            return f"{self.metric} ≤ {_num(self.max_value)}"
        return f"{_num(self.min_value)} ≤ {self.metric} ≤ {_num(self.max_value)}"


def requirement_problems(requirements: Sequence[Requirement], where: str) -> list[str]:
    """What makes a list of requirements unusable, each problem named by `where`."""
    problems = []
    seen: set[str] = set()
    for req in requirements:
        at = f"{where}: requirement on {req.metric!r}"
        if req.metric in seen:
            problems.append(f"{at} is given twice")
        seen.add(req.metric)
        bounded = req.min_value is not None or req.max_value is not None
        if req.exact_value is not None and bounded:
            problems.append(f"{at}: exact_value cannot be combined with min_value or max_value")
        elif req.exact_value is None and not bounded:
            problems.append(f"{at}: give min_value, max_value or exact_value")
        elif req.min_value is not None and req.max_value is not None and req.max_value < req.min_value:
            problems.append(f"{at}: max_value {_num(req.max_value)} < min_value {_num(req.min_value)}")
    return problems


def unmet(requirements: Sequence[Requirement], values: Mapping[str, object]) -> dict[str, str]:
    """metric → why its requirement is not met, for every requirement `values` miss."""
    missed = {}
    for req in requirements:
        why = _why_not(req, values.get(req.metric))
        if why:
            missed[req.metric] = why
    return missed


def _why_not(req: Requirement, value: object) -> str | None:
    if value is None:
        return f"{req.metric} not found in metrics"
    if req.exact_value is not None:
        return None if value == req.exact_value else f"{req.metric} != {req.exact_value}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{req.metric} is not a number ({str(value)[:40]!r})"
    if req.min_value is not None and value < req.min_value:
        return f"{req.metric} < {_num(req.min_value)}"
    if req.max_value is not None and value > req.max_value:
        return f"{req.metric} > {_num(req.max_value)}"
    return None


def _num(value: float | None) -> str:
    """3500.0 as `3500`, as the YAML said it."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
