"""Where a session's results go besides disk: MLflow (a parent run per session, a child run per
entry) and a Slack-style webhook (a short summary). A sink that fails gives a warning; the
results on disk are complete anyway."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sitegen.errors import ConfigError
from sitegen.numbers import finite_number
from sitegen.readers.mlflow_store import describe
from sitegen.redact import redact_text
from sitegen.runner.matrix import fill_env

if TYPE_CHECKING:
    from sitegen.runner.entry import EntryResult
    from sitegen.runner.plan import Plan
    from sitegen.runner.session import SessionResult

WEBHOOK_TIMEOUT_S = 10


class Sink(Protocol):
    name: str

    def session_started(self, session: str, session_dir: Path) -> None: ...

    def entry_finished(self, result: EntryResult) -> None: ...

    def session_finished(self, result: SessionResult) -> None: ...


class MlflowSink:
    """A parent run per session and a child run per entry: params, metrics, logs and artifacts."""

    name = "mlflow"

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        from sitegen.readers.mlflow_store import CLIENT_ENV

        for key, value in {**CLIENT_ENV, "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}.items():
            os.environ.setdefault(key, value)  # the session's console log is ours
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        self.parent: str | None = None

    def session_started(self, session: str, session_dir: Path) -> None:
        run = self.client.create_run(self.experiment_id, run_name=session,
                                     tags={"sitegen.session_dir": str(session_dir)})
        self.parent = run.info.run_id

    def entry_finished(self, result: EntryResult) -> None:
        from mlflow.entities import Metric, Param

        tags = {"mlflow.parentRunId": self.parent} if self.parent else {}
        run = self.client.create_run(self.experiment_id, run_name=result.name, tags=tags)
        run_id = run.info.run_id
        params = {f"script_{k}": v for k, v in result.params.items()}
        params.update(run_cmd=" ".join(result.command), run_entry_dir=result.entry_dir)
        now = int(time.time() * 1000)
        metrics = {"exec_time_s": result.exec_time_s, "exit_code": result.exit_code,
                   "timed_out": result.timed_out, "success": result.success,
                   **{f"script_{k}": v for k, v in result.metrics.items()}}
        self.client.log_batch(
            run_id,
            params=[Param(k[:250], redact_text(str(v))[:6000]) for k, v in sorted(params.items())],
            metrics=[Metric(k[:250], value, now, 0) for k, v in sorted(metrics.items())
                     if (value := _metric(v)) is not None],
        )
        entry_dir = Path(result.entry_dir)
        for folder in ("logs", "artifacts", "benchmark_results"):
            if (entry_dir / folder).is_dir():
                self.client.log_artifacts(run_id, str(entry_dir / folder), folder)
        if (entry_dir / "results.json").is_file():
            self.client.log_artifact(run_id, str(entry_dir / "results.json"))
        self.client.set_terminated(run_id, "FINISHED" if result.success else "FAILED")

    def session_finished(self, result: SessionResult) -> None:
        if self.parent:
            self.client.log_metric(self.parent, "entries_failed", float(len(result.failed)))
            self.client.set_terminated(self.parent, "FAILED" if result.failed else "FINISHED")


class WandbSink:
    """A W&B run per entry, grouped by session; W&B's own settings (WANDB_MODE, WANDB_DIR,
    WANDB_API_KEY) apply. Used only when the wandb package is installed.

    `run.finish()` only hands the run over to W&B's service process, which writes the rest of the
    run's `.wandb` file after `finish` has returned; `wandb.teardown()` waits until that process
    has written everything and exited. So an entry's run is complete on disk when
    `entry_finished` returns, however soon after it the session's process ends. (A service that
    this process did not start, named by `WANDB_SERVICE`, is not waited for: W&B cannot.)"""

    name = "wandb"

    def __init__(self, project: str) -> None:
        import wandb

        self.wandb = wandb
        self.project = project
        self.session = ""

    def session_started(self, session: str, session_dir: Path) -> None:
        self.session = session

    def entry_finished(self, result: EntryResult) -> None:
        config = {f"script_{k}": v for k, v in result.params.items()}
        config.update(run_cmd=redact_text(" ".join(result.command)), run_entry_dir=result.entry_dir)
        metrics = {"exec_time_s": result.exec_time_s, "exit_code": result.exit_code,
                   "timed_out": result.timed_out, "success": result.success,
                   **{f"script_{k}": v for k, v in result.metrics.items()}}
        run = self.wandb.init(project=self.project, group=self.session, name=result.name,
                              job_type="benchmark-entry", dir=result.entry_dir, config=config)
        try:
            run.log({k: value for k, v in metrics.items() if (value := _metric(v)) is not None})
            run.finish(exit_code=0 if result.success else 1)
        finally:
            self.wandb.teardown()  # finishes the run if `log` failed; returns once it is written

    def session_finished(self, result: SessionResult) -> None:
        pass


class WebhookSink:
    """A Slack-style `{"text": …}` summary POSTed when the session ends."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        self.url = url

    def session_started(self, session: str, session_dir: Path) -> None:
        pass

    def entry_finished(self, result: EntryResult) -> None:
        pass

    def session_finished(self, result: SessionResult) -> None:
        lines = [f"sitegen session {result.name}: {len(result.entries) - len(result.failed)} passed, "
                 f"{len(result.failed)} failed in {result.duration_s:.0f} s"]
        lines += [f"{'✅' if e.success else '❌'} {e.name} ({e.exec_time_s:.1f} s)" for e in result.entries]
        body = json.dumps({"text": "\n".join(lines)}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            response.read()


def _metric(value: object) -> float | None:
    """A metric MLflow takes: a finite number, or a flag as 0 or 1."""
    return float(value) if isinstance(value, bool) else finite_number(value)


def make_sinks(plan: Plan, sink: str, env: dict[str, str], warn: Callable[[str], None]) -> list[Sink]:
    """The sinks a session reports to: `sink` ("none"; "mlflow", whose settings are the config's
    `mlflow` block or sink; "wandb", with the `wandb` block's `project`) and the webhook whose URL
    is in the variable the `slack` block names."""
    sinks: list[Sink] = []
    if sink == "mlflow":
        if plan.mlflow is None:
            raise ConfigError("--sink mlflow: the config has no mlflow block or enabled mlflow sink "
                              "(tracking_uri, experiment)")
        problems: list[str] = []
        uri = fill_env(plan.mlflow.tracking_uri, env, "mlflow.tracking_uri", problems)
        if problems:
            raise ConfigError("; ".join(problems))
        try:
            sinks.append(MlflowSink(uri, plan.mlflow.experiment))
        except Exception as exc:  # MLflow, requests or SQLAlchemy: the store is not usable now
            warn(f"mlflow sink: {describe(exc)}; the results stay on disk only")
    if sink == "wandb":
        try:
            sinks.append(WandbSink(str((plan.wandb or {}).get("project") or "sitegen")))
        except ImportError:
            raise ConfigError("--sink wandb: the wandb package is not installed (pip install wandb)") \
                from None
    if plan.slack is not None and env.get(plan.slack.webhook_env):
        sinks.append(WebhookSink(env[plan.slack.webhook_env]))
    return sinks
