"""The command line as a user runs it: exit codes, one-line errors, quiet and report output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_sidecar_run
from runs_json import read_runs

from sitegen import __version__


def sitegen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sitegen", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_version(tmp_path):
    done = sitegen("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"sitegen {__version__}")


def test_no_command_shows_help_and_fails(tmp_path):
    done = sitegen(cwd=tmp_path)
    assert done.returncode == 2
    assert "build" in done.stdout


def test_a_build_prints_one_summary_line_then_a_no_op(runs_root, tmp_path):
    first = sitegen("build", "--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "built 3 runs (3 read, 0 cached, 0 failed)" in first.stderr
    assert "\x1b[" not in first.stderr + first.stdout  # not a terminal: plain text
    second = sitegen("build", "--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert "built 3 runs (0 read, 3 cached, 0 failed); pages 0 written" in second.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_quiet_prints_only_problems(runs_root, tmp_path):
    done = sitegen("build", "-q", "--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    (runs_root / "20231115/080000/cccccccccccc/sidecar.json").write_text("{broken")
    done = sitegen("build", "-q", "--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr.startswith("warning: 20231115/080000/cccccccccccc: sidecar.json")


def test_report_file_is_the_build_report(runs_root, tmp_path):
    args = ("--root", str(runs_root), "--out", "site", "--report", "r.json")
    done = sitegen("build", "-q", *args, cwd=tmp_path)
    assert done.returncode == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["runs_read"] == 3 and report["runs_total"] == 3
    assert report == json.loads((tmp_path / "site/_build/report.json").read_text())


def test_a_missing_root_is_one_line_and_exit_3(tmp_path):
    done = sitegen("build", "--root", "nowhere", "--out", "site", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("sitegen: error: root ") and "nowhere" in done.stderr
    assert not (tmp_path / "site").exists()


def test_a_bad_config_exits_2_naming_file_and_key(tmp_path):
    (tmp_path / "sitegen.yaml").write_text("build:\n  workers: lots\n")
    done = sitegen("build", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "sitegen: error: sitegen.yaml: build.workers: expected int, got str\n"


def test_a_bad_flag_is_argparse_usage_exit_2(tmp_path):
    done = sitegen("build", "--workers", "two", cwd=tmp_path)
    assert done.returncode == 2
    assert "invalid int value" in done.stderr


def test_a_locked_output_exits_4(runs_root, tmp_path):
    lock = tmp_path / "site" / "_build" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{socket.gethostname()} {os.getpid()}\n")  # this test process: alive
    done = sitegen("build", "--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert done.returncode == 4
    assert done.stderr.startswith("sitegen: error:") and "another build" in done.stderr


def test_strict_exits_5_but_builds_the_site(runs_root, tmp_path):
    write_sidecar_run(runs_root, "20231116/000000/eeeeeeeeeeee")
    (runs_root / "20231116/000000/eeeeeeeeeeee/sidecar.json").write_text("")
    done = sitegen("build", "--strict", "--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert done.returncode == 5
    assert "sitegen: error: 1 run(s) could not be read (--strict)" in done.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert sitegen("build", "--root", str(runs_root), "--out", "site", cwd=tmp_path).returncode == 0


def test_no_roots_builds_the_bundled_examples(tmp_path):
    done = sitegen("build", "-q", "--out", "site", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    runs = read_runs(tmp_path / "site")
    assert len(runs) >= 5
    assert {"completed", "failed"} <= {run["status"] for run in runs}
    assert "no roots configured" not in done.stderr  # quiet: only the runs' problems


def test_no_roots_says_it_builds_the_bundled_examples(tmp_path):
    done = sitegen("build", "--out", "site", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == ("no roots configured: building the bundled example runs "
                                           "(set 'roots' in sitegen.yaml or pass --root DIR for your own)")


def test_broken_yaml_is_one_line_with_where_and_what(tmp_path):
    (tmp_path / "sitegen.yaml").write_text("roots: [runs\nout: site\n")
    done = sitegen("build", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("sitegen: error: sitegen.yaml:2:4: not valid YAML (expected ',' or ']', but got "
                           "':'; while parsing a flow sequence); fix it there\n")


def test_an_output_that_cannot_be_made_is_one_line_and_exit_6(runs_root, tmp_path):
    (tmp_path / "taken").write_text("a file, not a directory")
    done = sitegen("build", "--root", str(runs_root), "--out", "taken/site", cwd=tmp_path)
    assert done.returncode == 6
    assert done.stderr == (f"sitegen: error: cannot write the site to {tmp_path / 'taken' / 'site'}: "
                           "Not a directory; choose another --out or 'out' in sitegen.yaml\n")


def test_a_write_that_fails_midway_is_one_line_naming_the_file(runs_root, tmp_path):
    (tmp_path / "site" / "_build").mkdir(parents=True)  # a site of ours
    (tmp_path / "site" / "runs").write_text("a file where the run pages go")
    done = sitegen("build", "-q", "--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"sitegen: error: Not a directory: {tmp_path / 'site' / 'runs'}/")
    assert done.stderr.endswith(" (--debug shows where)\n")


def _listing(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() if p.is_file() else b""
            for p in sorted(directory.rglob("*"))}


@pytest.mark.parametrize(("text", "flags", "expected"), [
    ("", ["--workers", "-1"], "sitegen.yaml: build.workers: expected int >= 0, got -1"),
    ("build: {workers: 100000, racy_window_s: -1}\n", [],
     "sitegen.yaml: build.workers: expected int <= 512, got 100000\n"
     "sitegen.yaml: build.racy_window_s: expected float >= 0.0, got -1"),
    ("theme: nope\n", [],
     "sitegen.yaml: theme: no bundled theme 'nope' (bundled: default); name one or give a theme directory"),
    ("out: site\nout: public\n", [], "sitegen.yaml:2: out: given twice (first on line 1); keep one"),
    ("title: " + "[" * 10_000 + "]" * 10_000 + "\n", [],
     "sitegen.yaml: nested too deeply to be settings; fix it there"),
    ("", ["--out", ""], "sitegen.yaml: out: expected a path ('.' is the current directory), got ''"),
])
def test_a_bad_setting_exits_2_naming_it_and_creates_nothing(runs_root, tmp_path, text, flags, expected):
    (tmp_path / "sitegen.yaml").write_text(text)
    before = _listing(tmp_path)
    done = sitegen("build", "--root", str(runs_root), "--out", "site", *flags, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"sitegen: error: {expected}\n")
    assert _listing(tmp_path) == before


def test_the_site_is_never_written_into_a_root_or_above_one(runs_root, tmp_path):
    before = _listing(tmp_path)
    done = sitegen("build", "--root", str(runs_root), "--out", str(runs_root), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"sitegen: error: the output directory {runs_root} is the root {runs_root}: the site would be "
           "written among your runs; choose another --out or 'out' in sitegen.yaml\n")
    done = sitegen("build", "--root", "runs", "--out", ".", "--allow-foreign-out", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"sitegen: error: the output directory {tmp_path} holds the root {runs_root}; choose an --out "
           "or 'out' in sitegen.yaml that is not above your runs\n")
    assert _listing(tmp_path) == before
    inside = sitegen("build", "-q", "--root", "runs", "--out", "runs/site", cwd=tmp_path)
    assert inside.returncode == 0, inside.stderr  # discovery skips it
    assert len(read_runs(runs_root / "site")) == 3


def test_a_directory_sitegen_did_not_make_is_left_alone_unless_allowed(runs_root, tmp_path):
    other = tmp_path / "docs"
    other.mkdir()
    (other / "index.html").write_text("<p>their page</p>")
    (other / "notes.txt").write_text("theirs")
    before = _listing(other)
    done = sitegen("build", "--root", str(runs_root), "--out", "docs", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"sitegen: error: the output directory {other} is not empty and was not made by sitegen (no "
           "_build/ of its own); choose a new or empty --out, or pass --allow-foreign-out to write the site "
           "into it anyway\n")
    assert _listing(other) == before
    done = sitegen("build", "-q", "--root", str(runs_root), "--out", "docs", "--allow-foreign-out",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "their page" not in (other / "index.html").read_text()
    assert (other / "notes.txt").read_text() == "theirs"
    again = sitegen("build", "-q", "--root", str(runs_root), "--out", "docs", cwd=tmp_path)
    assert again.returncode == 0, again.stderr  # now a site of ours


def test_an_empty_or_sitegen_made_output_is_written(runs_root, tmp_path):
    (tmp_path / "empty").mkdir()
    done = sitegen("build", "-q", "--root", str(runs_root), "--out", "empty", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "interrupted" / "_build").mkdir(parents=True)  # a first build that stopped early
    (tmp_path / "interrupted" / "index.html").write_text("half")
    done = sitegen("build", "-q", "--root", str(runs_root), "--out", "interrupted", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_run_refuses_a_foreign_output_before_the_session_runs(tmp_path):
    (tmp_path / "matrix.yaml").write_text("results_dir: results\nentries:\n  - {name: a, script: a.py}\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("theirs")
    done = sitegen("run", "--matrix", "matrix.yaml", "--out", "docs", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"sitegen: error: the output directory {tmp_path / 'docs'} is not empty")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_is_taken_before_or_after_the_command(tmp_path, where):
    command = ["build", "--root", str(tmp_path / "missing"), "--out", "site"]
    args = ["--debug", *command] if where == "before" else [*command, "--debug"]
    done = sitegen(*args, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" in done.stderr and "RootNotFound" in done.stderr
    plain = sitegen(*command, cwd=tmp_path)
    assert (plain.returncode, plain.stderr.count("\n")) == (3, 1) and "Traceback" not in plain.stderr


def test_snapshot_of_a_missing_dir_says_it_does_not_exist(tmp_path):
    done = sitegen("snapshot", str(tmp_path / "nope"), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"sitegen: error: {tmp_path / 'nope'}: does not exist; "
                           "give a DataJuicer job dir (it holds events.jsonl)\n")
    done = sitegen("snapshot", str(tmp_path), cwd=tmp_path)
    assert "not a processing job" in done.stderr and done.returncode == 2
