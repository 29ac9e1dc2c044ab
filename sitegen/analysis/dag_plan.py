"""What a job's `dag_execution_plan.json` says: the pipeline's operations in order, and the
DAG's shape for the snapshot. Pure; nothing in the plan is trusted."""

from __future__ import annotations

MAX_PLAN_STEPS = 1000  # execution plan entries kept for the page
MAX_NAME = 2000


def plan_operations(plan: dict) -> list[str]:
    """The operation names of an execution plan, in execution order, once each.

    DataJuicer 1.5+ plans hold one node per operation *and partition* (`operation_name`,
    `partition_id`, `execution_order`); the earlier ones one node per operation (`op_name`)."""
    nodes = plan.get("nodes")
    if isinstance(nodes, dict):
        listed = [n for n in nodes.values() if isinstance(n, dict)]
        listed.sort(key=lambda n: sort_key(n.get("execution_order")))
        partitions = {_text(n.get("partition_id")) for n in listed}
        if len(partitions) > 1:  # the pipeline of one partition is that of all
            first = min(partitions, key=sort_key)
            listed = [n for n in listed if _text(n.get("partition_id")) == first]
        return [_text(n.get("op_name")) or _text(n.get("operation_name")) or _text(n.get("node_id")) or "?"
                for n in listed]
    for key in ("process", "operations"):
        steps = plan.get(key)
        if isinstance(steps, list):
            return [_step_name(step) for step in steps]
    return []


def dag_structure(plan: dict) -> dict[str, object]:
    steps = plan.get("execution_plan")
    meta = plan.get("metadata")
    return {
        "total_nodes": _length(plan.get("nodes")),
        "total_edges": _length(plan.get("edges")),
        "parallel_groups": _length(plan.get("parallel_groups")),
        "execution_plan": steps[:MAX_PLAN_STEPS] if isinstance(steps, list) else [],
        "metadata": meta if isinstance(meta, dict) else {},
    }


def sort_key(value: object) -> tuple[int, object]:
    return (0, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, str(value))


def _step_name(step: object) -> str:
    if isinstance(step, dict):
        named = _text(step.get("name") or step.get("type"))
        if named is None and len(step) == 1:  # a DataJuicer `process:` entry: {op_name: {args}}
            named = str(next(iter(step)))
        return named or "?"
    return _text(step) or "?"


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text[:MAX_NAME] if text else None


def _length(value: object) -> int:
    return len(value) if isinstance(value, (dict, list)) else 0
