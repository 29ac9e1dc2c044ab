"""The command that resumes a DataJuicer job, as `dj-process` takes it (one line to paste).

How each writer resumes (FORMATS.md §5.4): DataJuicer 1.5.5 and later print "Rerun the original
command with --resume <job_id>"; its job start event then says `resume_requested`. Earlier
versions resume when given the job's id, `--job_id <job_id>`, which later ones still accept. The
original command's arguments are in the job dir's `cli.yaml` (1.5 and later); the partitioned
executor of 2025-07 to 2025-09 wrote instead `job_summary.json`, whose `config_file` and
`resumption_command` hold jsonargparse's `[Path_fr(<path>, cwd=<dir>)]`, which no shell takes.
"""

from __future__ import annotations

import re
import shlex

PROGRAM = "dj-process"
JOB_FLAGS = ("--job_id", "--resume")  # the original command's own, replaced by ours
PATH_FR = re.compile(r"Path_\w+\((?P<path>[^,()]*?)(?:,\s*cwd=(?P<cwd>[^()]*))?\)")
MAX_ARGS = 200


def resumption_command(job_id: str, *, arguments: list[str] | None, config_file: object,
                       written: str | None, resume_flag: bool) -> str | None:
    """`dj-process <original arguments> --resume <job_id>` (or `--job_id`), or None when neither
    the original arguments nor the config file are known. `written`: the job summary's own
    command, whose `Path_fr(…)` also tells the directory the config path is relative to."""
    flag = "--resume" if resume_flag else "--job_id"
    if arguments:
        return shlex.join([PROGRAM, *_without_job_flags(arguments[:MAX_ARGS]), flag, job_id])
    path, cwd = _config_path(written) if written and PATH_FR.search(written) else _config_path(config_file)
    if path is None:
        return None
    command = shlex.join([PROGRAM, "--config", path, flag, job_id])
    return f"cd {shlex.quote(cwd)} && {command}" if cwd else command


def _without_job_flags(arguments: list[str]) -> list[str]:
    kept, skip = [], False
    for argument in arguments:
        if skip:
            skip = False
            continue
        if argument in JOB_FLAGS:
            skip = True
            continue
        if not argument.startswith(tuple(f"{flag}=" for flag in JOB_FLAGS)):
            kept.append(argument)
    return kept


def _config_path(config_file: object) -> tuple[str | None, str | None]:
    """The first config path of `config_file` (a path, a list of them, or their `Path_fr(…)` text),
    and the directory it is relative to when the writer recorded one."""
    first = config_file[0] if isinstance(config_file, list) and config_file else config_file
    if not isinstance(first, str) or not first.strip():
        return None, None
    match = PATH_FR.search(first)
    if match is None:
        return first.strip().strip("[]'\""), None
    path, cwd = match["path"].strip(), (match["cwd"] or "").strip()
    return (path or None), (cwd if cwd and not path.startswith("/") else None)
