"""The eventlog reader on DataJuicer job dirs written from FORMATS.md §5, and `sitegen snapshot`."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import msgspec
import pytest
import yaml
from conftest import SHARED, age, make_config, run_build
from job_events import OPS, T0, finished_job, logger_event, write_job
from runs_json import read_runs

from sitegen.cli import main
from sitegen.readers import eventlog, layout_of
from sitegen.readers.base import ReadContext
from sitegen.redact import Redactor
from sitegen.render.env import theme_dir
from sitegen.render.run_page import run_pages
from sitegen.render.site import SiteInfo

JOB = "20250809_040053_a001de"
SECRET = "hf_" + "S" * 34
DEMO_LOG = SHARED / "realdata/data-juicer/demos/partition_and_checkpoint/example_event_log.jsonl"
DEMO_SUMMARY = DEMO_LOG.with_name("example_processing_summary.json")
REAL_161 = Path(__file__).resolve().parent.parent / "fixtures/real/data-juicer/1.6.1"
# the top-level keys of DataJuicer's snapshot JSON (`ProcessingSnapshotAnalyzer.to_json_dict`)
SNAPSHOT_KEYS = ["job_info", "overall_status", "overall_progress", "job_start_time", "job_end_time",
                 "total_duration", "timing", "progress_summary", "checkpointing", "partition_progress",
                 "operation_progress", "dag_structure", "file_paths", "metadata"]


def summary(**overrides: object) -> dict:
    data = {"job_id": JOB, "start_time": T0, "work_dir": "./outputs/demo", "job_dir": f"./outputs/demo/{JOB}",
            "config_file": ["configs/demo/partition-checkpoint-eventlog.yaml"],
            "backed_up_config_path": f"./outputs/demo/{JOB}/partition-checkpoint-eventlog.yaml",
            "executor_type": "ray_partitioned", "status": "completed",
            "resumption_command": f"dj-process --config [Path_fr(configs/demo/x.yaml)] --job_id {JOB}",
            "event_log_file": f"./outputs/demo/{JOB}/events.jsonl",
            "checkpoint_dir": f"./outputs/demo/{JOB}/checkpoints",
            "end_time": T0 + 41, "duration": 41.0, "error_message": None}
    data.update(overrides)
    return data


def read(job: Path):
    return eventlog.read(str(job), job.name, ReadContext(root=str(job.parent), allowed=(),
                                                          redactor=Redactor()))


@pytest.mark.parametrize("names", [{"events.jsonl"}, {"events_20250809_040100.jsonl", "logs"}])
def test_claims_job_dirs_by_their_event_log(names):
    assert layout_of(JOB, names) == "eventlog"
    assert layout_of(JOB, {"job_summary.json", "events.json"}) is None


def test_a_finished_job(tmp_path: Path):
    job = write_job(tmp_path, summary=summary(), logs={"log.txt": "2025-08-09 04:00:54 INFO start\n"})
    run = read(job)
    assert run.kind == "eventlog" and run.name == JOB and run.status == "completed" and run.problem is None
    assert run.created_at == T0 and run.ended_at == T0 + 41 and run.heartbeat_at is None
    assert run.facts["Executor"] == "ray_partitioned" and run.facts["Resumable"] == "yes"
    assert run.facts["Partitions"] == "2 of 2 completed, 0 failed"
    assert run.params == {"np": 4}  # the config the job started with
    assert run.summary["overall_progress_pct"] == 100.0 and run.summary["duration_s"] == 41.0
    assert run.snapshot.timing.timing_source == "job_summary"
    assert [log.name for log in run.logs] == ["log.txt"]
    assert str(job / "events.jsonl") in run.inputs and str(job / "logs" / "log.txt") in run.inputs
    assert "checkpoints/" in [a.name for a in run.artifacts]
    assert run.warnings == []


def test_the_newer_writers_timestamped_file_is_read_with_the_old_one(tmp_path: Path):
    events = finished_job()
    job = write_job(tmp_path, events=[e for e in events if e["event_type"].startswith("partition_creation")])
    later = [e for e in events if not e["event_type"].startswith("partition_creation")]
    (job / "events_20250809_040100.jsonl").write_text("".join(json.dumps(e) + "\n" for e in later))
    run = read(job)
    assert run.status == "completed" and run.snapshot.metadata.events_analyzed == len(events)
    assert run.snapshot.partition_progress["1"].sample_count == 1000


def test_a_running_job_with_a_half_written_last_line(tmp_path: Path):
    events = finished_job()
    cut = next(i for i, e in enumerate(events) if e["event_type"] == "op_start" and e["partition_id"] == 1)
    job = write_job(tmp_path, events=events[:cut + 1], tail='{"event_type": "op_comp')
    run = read(job)
    assert run.status == "running" and run.ended_at is None
    assert run.heartbeat_at == os.stat(job / "events.jsonl").st_mtime
    assert run.snapshot.overall_progress.partition_percentage == 50.0
    assert run.warnings == ["events.jsonl: the last line is still being written; left out"]


def test_a_failed_job_names_where_and_why_and_links_the_log_line(tmp_path: Path):
    events = [*finished_job(partitions=1)[:8],
              logger_event("op_failed", T0 + 9, partition_id=0, operation_name=OPS[1], operation_idx=1,
                           error_message=f"ValueError: bad sample 2501 (token {SECRET})"),
              logger_event("job_failed", T0 + 10, error_message="1 partition failed")]
    error_log = "\n".join(["04:00:59 INFO loading", "04:01:00 ERROR op text_length_filter failed:",
                           f"ValueError: bad sample 2501 (token {SECRET})", "Traceback ..."]) + "\n"
    job = write_job(tmp_path / "jobs", events=events, logs={"log_ERROR.txt": error_log, "log.txt": "ok\n"})
    age(job)
    out = tmp_path / "site"
    run_build(make_config(tmp_path / "jobs", out))
    runs = {r["run_id"]: r for r in read_runs(out)}
    assert runs[JOB]["status"] == "failed"
    html = (out / runs[JOB]["url"]).read_text()
    assert "ValueError: bad sample 2501" in html and SECRET not in html
    assert '<a href="logs/log_error.txt.html#L3">in the log</a>' in html  # the line that tells it
    assert not any(SECRET.encode() in path.read_bytes() for path in out.rglob("*") if path.is_file())


def test_garbage_lines_unknown_events_and_bad_files_give_warnings(tmp_path: Path):
    events = finished_job(partitions=1)
    job = write_job(tmp_path, events=events)
    text = (job / "events.jsonl").read_text().splitlines()
    text[3:3] = ["not json at all", "[1, 2]", json.dumps({"event_type": "gpu_telemetry", "timestamp": T0})]
    (job / "events.jsonl").write_text("\n".join(text) + "\n")
    (job / "job_summary.json").write_text("{truncated")
    (job / "dag_execution_plan.json").write_text('["not", "an", "object"]')
    run = read(job)
    assert run.status == "completed" and run.problem is None
    assert "events.jsonl: 1 lines are not JSON, skipped (first at line 4)" in run.warnings
    assert "events.jsonl: 1 lines are JSON but not objects, skipped" in run.warnings
    assert any("gpu_telemetry (1)" in w for w in run.warnings)
    assert any(w.startswith("job_summary.json: invalid JSON") for w in run.warnings)
    assert "dag_execution_plan.json: expected a JSON object, found list; ignored" in run.warnings


def test_a_line_nested_too_deeply_is_skipped(tmp_path: Path):
    """Found by fuzzing: msgspec raises RecursionError, not a DecodeError, on a deeply nested line."""
    job = write_job(tmp_path, events=finished_job(partitions=1), tail="[" * 5000 + "]" * 5000 + "\n")
    run = read(job)
    assert run.status == "completed"
    assert "events.jsonl: 1 lines are not JSON, skipped (first at line 16)" in run.warnings


def test_integers_beyond_64_bits_are_read_as_floats(tmp_path: Path):
    """Found by fuzzing: an integer beyond 64 bits in the plan could not be cached (msgpack)."""
    metadata = {"created_at": -(2**63) - 1, "total_nodes": 10**30}
    run = read(write_job(tmp_path, plan={"nodes": {}, "metadata": metadata}))
    msgspec.msgpack.encode(run)  # the build caches every Run
    assert run.snapshot.dag_structure["metadata"] == {"created_at": -(2.0**63), "total_nodes": 1e30}


def test_times_beyond_any_calendar_are_not_times(tmp_path: Path):
    """Found by fuzzing: an end_time of 6.8e16 s in the summary reached the run page, whose date
    formatting raised OverflowError."""
    events = finished_job()
    events[-1]["timestamp"] = 1e17  # the job_complete event
    job = write_job(tmp_path, events=events, summary=summary(end_time=67_768_036_191_676_796))
    run = read(job)
    assert run.ended_at is None and run.snapshot.timing.end_time is None
    assert run.created_at == T0 and run.snapshot.total_duration == 41.0  # the summary's own
    run_pages(run, SiteInfo(title="t", theme=str(theme_dir("default")), version="0"))


def test_an_unreadable_event_log_is_a_broken_run(tmp_path: Path):
    job = tmp_path / JOB
    (job / "events.jsonl").mkdir(parents=True)
    run = read(job)
    assert run.status == "broken" and "events.jsonl" in run.problem.message


def test_secrets_in_the_summary_and_plan_are_redacted(tmp_path: Path):
    plan = {"nodes": {"n0": {"op_name": "llm_quality_filter", "execution_order": 0}},
            "execution_plan": [{"op": "llm_quality_filter", "config": {"api_key": "abc123", "model": "m"}}]}
    command = f"dj-process --hf-token {SECRET}"
    job = write_job(tmp_path, summary=summary(resumption_command=command), plan=plan)
    run = read(job)
    assert SECRET not in run.snapshot.job_info.resumption_command
    assert run.snapshot.dag_structure["execution_plan"][0]["config"] == {"api_key": "***", "model": "m"}


def test_secrets_in_the_executors_processing_summary_are_redacted(tmp_path: Path):
    """`logs/processing_summary.json` is shown on the page and published in snapshot.json."""
    job = write_job(tmp_path, summary=summary())
    (job / "logs").mkdir(exist_ok=True)
    (job / "logs" / "processing_summary.json").write_text(json.dumps({
        "configuration": {"api_key": "abc123", "partition_size": 100},
        "errors": [{"message": f"upload failed: --hf-token {SECRET}"}],
        "partition_details": [{"partition_id": 0, "status": "failed",
                               "error_message": f"https://user:{SECRET}@hub.example/x refused"}],
    }))
    executor = read(job).snapshot.processing_summary
    assert executor.configuration == {"api_key": "***", "partition_size": 100}
    assert SECRET not in json.dumps(executor.errors) and executor.errors
    assert SECRET not in executor.partition_details[0].error_message


def test_the_site_shows_the_snapshot_and_a_second_build_reads_nothing(tmp_path: Path):
    root = tmp_path / "jobs"
    plan = {"nodes": {f"n{i}": {"op_name": name, "execution_order": i} for i, name in enumerate(OPS)}}
    write_job(root, summary=summary(), plan=plan, logs={"log.txt": "hello\n"})
    age(root)
    out = tmp_path / "site"
    config = make_config(root, out)
    first = run_build(config)
    assert first.report.runs_read == 1 and first.report.runs_failed == 0
    runs = {r["run_id"]: r for r in read_runs(out)}
    page = out / runs[JOB]["url"]
    html = page.read_text()
    assert '<progress max="100" value="100.0">' in html and "Partitions × operations" in html
    assert html.count('<td class="cell st-checkpointed"') == 6 and "dj-process --config" in html
    figures = json.loads(html.split('<script type="application/json" id="figures">')[1].split("</script>")[0])
    timeline = next(f for f in figures.values() if f["data"] and f["data"][0].get("orientation") == "h")
    assert [trace["name"] for trace in timeline["data"]] == OPS
    assert json.loads((page.parent / "snapshot.json").read_text())["overall_status"] == "completed"
    assert (page.parent / "logs" / "log.txt.html").is_file()

    second = run_build(config)
    assert second.read == [] and second.report.pages_written == 0
    with open(root / JOB / "events.jsonl", "a") as handle:
        handle.write(json.dumps(logger_event("job_restart", T0 + 100)) + "\n")
    age(root / JOB, T0 + 200)
    third = run_build(config)
    assert third.read == [JOB]


def test_snapshot_command_prints_datajuicers_json(tmp_path: Path, capsys):
    job = write_job(tmp_path, summary=summary())
    assert main(["snapshot", str(job)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == SNAPSHOT_KEYS
    assert printed["job_info"]["job_id"] == JOB and printed["overall_status"] == "completed"
    assert printed["progress_summary"]["total_partitions"] == 2
    assert printed["partition_progress"]["0"]["completed_operations"] == OPS
    assert "p0_op0_clean_email_mapper" in printed["operation_progress"]
    assert printed["metadata"]["events_analyzed"] == len(finished_job())
    assert printed["metadata"]["snapshot_generated_at"].startswith("20")


def test_snapshot_command_human_readable(tmp_path: Path, capsys):
    events = finished_job(partitions=2)[:-1]  # no job_complete yet
    job = write_job(tmp_path, events=events)
    assert main(["snapshot", str(job), "--human-readable"]) == 0
    text = capsys.readouterr().out
    assert f"Job {JOB}" in text and "COMPLETED" in text
    assert "Partitions  2 of 2 completed" in text and "Checkpoints 6 of 6 operations" in text


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_snapshot_command_on_a_directory_that_is_not_a_job(tmp_path: Path, capsys, setup):
    target = tmp_path / "nothing"
    if setup == "empty":
        target.mkdir()
    assert main(["snapshot", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sitegen: error:") and "nothing" in err[0]


@pytest.mark.skipif(not DEMO_LOG.is_file(), reason="needs ../shared/realdata (DataJuicer's demo files)")
def test_the_real_demo_job_is_partial_and_its_processing_summary_is_shown(tmp_path: Path):
    """DataJuicer's demo: a log that ends with `processing_complete` after 2 of 3 partitions, and
    the executor's `processing_summary.json`; every value checked is parsed from the raw files."""
    raw_events = [json.loads(line) for line in DEMO_LOG.read_text().splitlines() if line.strip()]
    raw = json.loads(DEMO_SUMMARY.read_text())
    root = tmp_path / "jobs"
    job = root / JOB
    (job / "logs").mkdir(parents=True)
    (job / "events.jsonl").write_bytes(DEMO_LOG.read_bytes())
    (job / "logs" / "processing_summary.json").write_bytes(DEMO_SUMMARY.read_bytes())
    run = read(job)
    snap = run.snapshot
    end = raw_events[-1]
    assert end["event_type"] == "processing_complete" and end["metadata"]["failed_partitions"] == 1
    assert run.status == "partial" and snap.overall_status == "partial" and run.warnings == []
    assert snap.progress_summary.total_partitions == end["metadata"]["total_partitions"]
    assert snap.partition_progress["1"].error_message.startswith("ValueError: Invalid text format")
    assert snap.operation_progress["p0_op1_text_length_filter"].output_rows == 8750
    assert snap.checkpointing.resumable
    # timing from the executor's summary (there is no job_summary.json)
    assert snap.timing.timing_source == "processing_summary"
    assert (run.created_at, run.ended_at) == (raw["start_time"], raw["end_time"])
    assert run.summary["duration_s"] == raw["total_processing_time"]
    assert run.summary["peak_memory_mb"] == raw["resource_usage"]["peak_memory_mb"]
    assert run.summary["success_rate"] == raw["success_rate"]
    assert run.params["partition_size"] == raw["configuration"]["partition_size"]

    age(root)
    out = tmp_path / "site"
    run_build(make_config(root, out))
    runs = {r["run_id"]: r for r in read_runs(out)}
    assert runs[JOB]["status"] == "partial"
    index = (out / "index.html").read_text()
    assert "<option>partial</option>" in index  # the runs table filters on it
    html = (out / runs[JOB]["url"]).read_text()
    assert "The executor's summary" in html
    performance = raw["operation_performance"]["language_id_score_filter"]
    cells = "".join(f'<td class="num">{performance[k]}</td>' for k in (
        "total_executions", "successful_executions", "failed_executions"))
    assert f"<th>language_id_score_filter</th>{cells}" in html
    detail = raw["partition_details"][2]
    assert (f'<td class="num">{detail["initial_sample_count"]}</td>'
            f'<td class="num">{detail["final_sample_count"]}</td>') in html
    assert "<h3>Resume</h3>" not in html  # nothing to resume from: no job summary, no cli.yaml


def test_a_partial_job_shows_a_resume_command_a_shell_takes(tmp_path: Path):
    """The job summary of 2025-07..09 says `dj-process --config [Path_fr(…)] --job_id …`."""
    events = [e for e in finished_job()
              if not (e.get("partition_id") == 1 and e["event_type"] == "partition_complete")]
    events.insert(-1, logger_event("partition_failed", T0 + 30, partition_id=1, error_message="ValueError"))
    root = tmp_path / "jobs"
    write_job(root, events=events, summary=summary(status="completed"))
    age(root)
    out = tmp_path / "site"
    run_build(make_config(root, out))
    runs = {r["run_id"]: r for r in read_runs(out)}
    assert runs[JOB]["status"] == "partial"
    html = (out / runs[JOB]["url"]).read_text()
    assert "Path_fr" not in html
    assert f"<code>dj-process --config configs/demo/x.yaml --job_id {JOB}</code>" in html


def test_a_job_that_ended_with_every_partition_failed_is_failed(tmp_path: Path):
    events = [logger_event("job_start", T0, total_partitions=2),
              *(logger_event("partition_failed", T0 + 1 + p, partition_id=p) for p in (0, 1)),
              logger_event("job_complete", T0 + 5, metadata={"status": "completed"})]
    assert read(write_job(tmp_path, events=events)).status == "failed"


def test_a_real_datajuicer_1_6_1_job(tmp_path: Path):
    """A job DataJuicer 1.6.1 wrote (its `ray_partitioned` executor on a local Ray; see
    tests/fixtures/real/data-juicer/PROVENANCE.md): no job_summary.json, `events_<time>.jsonl`,
    per-partition plan nodes, op indices numbered within a checkpoint group."""
    job = next(REAL_161.glob("outputs/tiny-partitioned/2*"))
    events = [json.loads(line) for line in next(job.glob("events_*.jsonl")).read_text().splitlines()]
    config = yaml.safe_load((job / "tiny-partitioned.yaml").read_text())
    arguments = yaml.safe_load((job / "cli.yaml").read_text())["arguments"]
    run = read(job)
    snap = run.snapshot
    assert run.status == "completed" and run.problem is None and run.warnings == []
    end = next(e for e in events if e["event_type"] == "job_complete")
    starts = [e["timestamp"] for e in events if e["event_type"] == "job_start"]
    assert run.created_at == min(starts) and run.ended_at == end["timestamp"]
    assert run.summary["duration_s"] == end["timestamp"] - min(starts)
    partitions = max(e.get("total_partitions", 0) for e in events)
    assert snap.progress_summary.total_partitions == partitions == len(snap.partition_progress)
    completes = [e for e in events if e["event_type"] == "op_complete"]
    ops = [next(iter(step)) for step in config["process"]]
    assert snap.progress_summary.total_operations == len(ops) * partitions == len(snap.operation_progress)
    for event in completes:  # one key per operation, whatever index the event gives it
        key = f"p{event['partition_id']}_op{ops.index(event['operation_name'])}_{event['operation_name']}"
        op = snap.operation_progress[key]
        meta = event["metadata"]
        assert (op.input_rows, op.output_rows) == (meta["input_rows"], meta["output_rows"])
        assert op.status == "checkpointed"
    min_len = config["process"][1]["text_length_filter"]["min_len"]
    assert run.params["process.1.text_length_filter.min_len"] == min_len
    assert snap.job_info.resumption_command == shlex.join(["dj-process", *arguments, "--resume", job.name])


def test_a_snapshot_too_large_for_a_static_host_is_not_published(tmp_path: Path, monkeypatch):
    from sitegen.render import run_page

    monkeypatch.setattr(run_page, "MAX_SNAPSHOT_BYTES", 1000)
    root = tmp_path / "jobs"
    write_job(root)
    age(root)
    out = tmp_path / "site"
    run_build(make_config(root, out))
    page = next(out.glob("runs/*/index.html"))
    assert not (page.parent / "snapshot.json").exists()
    assert "is too large to publish: <code>sitegen snapshot JOB_DIR</code> prints it" in page.read_text()


def test_markup_in_every_event_field_stays_text(tmp_path: Path):
    payload = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    events = [
        logger_event("job_start", T0, metadata={"config_summary": {"executor_type": payload}}),
        logger_event("partition_start", T0 + 1, partition_id=payload),
        logger_event("op_start", T0 + 2, partition_id=payload, operation_name=payload, operation_idx=0),
        logger_event("op_failed", T0 + 3, partition_id=payload, operation_name=payload, operation_idx=0,
                     error_message=payload),
        {"event_type": payload, "timestamp": T0 + 4},
    ]
    root = tmp_path / "jobs"
    write_job(root, events=events, summary=summary(resumption_command=payload, status=payload),
              logs={"log_ERROR.txt": payload + "\n"})
    age(root)
    out = tmp_path / "site"
    run_build(make_config(root, out))
    for page in out.rglob("*.html"):
        html = page.read_text()
        assert "<script>alert" not in html and "<img src=x" not in html, page
    html = next(out.glob("runs/*/index.html")).read_text()
    assert html.count("&lt;img src=x") >= 4  # shown, as text: executor, partition, operation, error
