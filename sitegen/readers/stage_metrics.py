"""The driver's per-stage task metrics (`{stage}_{metric}_{sum,mean,std}` keys that NeMo-Curator's
benchmark driver adds to an entry's metrics, FORMATS.md §3.2) grouped by stage for a table per stage.
"""

from __future__ import annotations

from collections.abc import Mapping

STAGE_METRICS = ("process_time", "actor_idle_time", "input_data_size_mb", "num_items_processed")
AGGREGATES = ("sum", "mean", "std")
UNNAMED_STAGE = "(unnamed)"


def group_stages(summary: Mapping[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    """The driver's `{stage}_{metric}_{sum,mean,std}` keys as {stage: {metric: {"sum", "mean", "std"}}}.

    The rule: strip the aggregate suffix; when the rest ends in `_` + a known StagePerfStats metric
    (process_time, actor_idle_time, input_data_size_mb, num_items_processed), the stage is what
    precedes that last occurrence (`a_process_time_x_process_time` → stage `a_process_time_x`). The
    stages so found then claim custom metrics: `{stage}_{name}_{agg}` with the longest such stage as
    prefix, when `name` comes with all three aggregates (the driver always writes all three).
    Limits: the split cannot be certain, as stage and metric names may both hold `_`. A stage that
    reports only custom metrics is not recognised (its keys stay in the summary only); a custom
    metric whose name ends in a known one (`total_process_time`) reads as that known metric of a
    longer stage; a script's own metric shaped like `{known stage}_{x}_{sum,mean,std}` with all
    three aggregates passes for a custom metric. The driver's empty stage name shows as "(unnamed)".
    """
    stages: dict[str, dict[str, dict[str, float]]] = {}
    custom: list[tuple[str, str, float]] = []
    for key, value in summary.items():
        base, _, aggregate = key.rpartition("_")
        if aggregate not in AGGREGATES or not base:
            continue
        metric = next((m for m in STAGE_METRICS if base.endswith(f"_{m}")), None)
        if metric is None:
            custom.append((base, aggregate, value))
        else:
            stage = base[:-len(metric) - 1]
            stages.setdefault(stage, {}).setdefault(metric, {})[aggregate] = value
    _add_custom_metrics(stages, custom)
    ordered = {stage or UNNAMED_STAGE: metrics for stage, metrics in sorted(stages.items())}
    return {stage: {m: dict(sorted(v.items(), key=lambda kv: AGGREGATES.index(kv[0])))
                    for m, v in sorted(metrics.items())} for stage, metrics in ordered.items()}


def _add_custom_metrics(
    stages: dict[str, dict[str, dict[str, float]]], custom: list[tuple[str, str, float]]
) -> None:
    by_length = sorted(stages, key=len, reverse=True)
    found: dict[tuple[str, str], dict[str, float]] = {}
    for base, aggregate, value in custom:
        stage = next((s for s in by_length if base.startswith(f"{s}_") and len(base) > len(s) + 1), None)
        if stage is not None:
            found.setdefault((stage, base[len(stage) + 1:]), {})[aggregate] = value
    for (stage, metric), values in found.items():
        if len(values) == len(AGGREGATES):
            stages[stage].setdefault(metric, values)
