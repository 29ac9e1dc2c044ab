"""The resumption command as `dj-process` takes it, from what each DataJuicer writer leaves."""

from __future__ import annotations

import shlex

import pytest

from sitegen.analysis.resumption import resumption_command

JOB = "20250809_040053_a001de"
# the partitioned executor of 2025-07..09 wrote `f"dj-process --config {cfg.config} --job_id {id}"`,
# cfg.config being jsonargparse's list of Path_fr; `config_file` is the same list dumped with str()
WRITTEN = f"dj-process --config [Path_fr(configs/demo/my job.yaml, cwd=/home/u/dj)] --job_id {JOB}"


def test_the_original_arguments_with_the_resume_flag():
    arguments = ["--config", "tiny.yaml", "--np", "4", "--job_id", "old", "--resume=old"]
    command = resumption_command(JOB, arguments=arguments, config_file=None, written=None, resume_flag=True)
    assert shlex.split(command) == ["dj-process", "--config", "tiny.yaml", "--np", "4", "--resume", JOB]


def test_a_job_summarys_path_fr_becomes_a_command_a_shell_takes():
    command = resumption_command(JOB, arguments=None, config_file=["configs/demo/my job.yaml"],
                                 written=WRITTEN, resume_flag=False)
    assert "Path_fr" not in command and "[" not in command
    assert command == f"cd /home/u/dj && dj-process --config 'configs/demo/my job.yaml' --job_id {JOB}"


@pytest.mark.parametrize("config_file", [["/abs/cfg.yaml"], "/abs/cfg.yaml",
                                         ["Path_fr(/abs/cfg.yaml, cwd=/x)"]])
def test_an_absolute_config_path_needs_no_directory(config_file):
    command = resumption_command(JOB, arguments=None, config_file=config_file, written=None,
                                 resume_flag=False)
    assert command == f"dj-process --config /abs/cfg.yaml --job_id {JOB}"


@pytest.mark.parametrize("config_file", [None, [], "", {"a": 1}, [3]])
def test_no_command_without_arguments_or_config(config_file):
    command = resumption_command(JOB, arguments=None, config_file=config_file, written=None, resume_flag=True)
    assert command is None
