"""What a build prints: warnings per line, runs read through a fallback in one bordered block."""

from __future__ import annotations

import io

from sitegen.reporting import ConsoleReporter


def test_warnings_are_one_line_each_and_recorded():
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, quiet=True)
    reporter.run_read("a/b", ["metrics.csv: 3 cells skipped"], None)
    assert stream.getvalue() == "warning: a/b: metrics.csv: 3 cells skipped\n"
    assert reporter.report.runs_read == 1 and len(reporter.report.warnings) == 1


def test_a_legacy_run_is_one_bordered_block_even_when_quiet():
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, quiet=True)
    reporter.run_read("3667_1P_1D_20251110_192145", ["no 3667.json: metadata parsed from the directory name"],
                      None, ("legacy",))
    lines = stream.getvalue().splitlines()
    assert lines[0] == lines[-1] == "━" * 80
    assert lines[1] == "legacy run: 3667_1P_1D_20251110_192145"
    assert lines[2] == "  no 3667.json: metadata parsed from the directory name"
    assert len(lines) == 4  # not repeated as a plain warning line
    assert reporter.report.warnings[0].message.startswith("no 3667.json")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _build_events(reporter: ConsoleReporter) -> None:
    reporter.stage("finding runs")
    reporter.stage("reading runs", total=2)
    reporter.run_read("a", [], None)
    reporter.run_read("b", ["odd"], None)
    reporter.stage("writing site pages")
    reporter.done()


def test_a_terminal_sees_the_stage_and_the_runs_read_then_only_the_summary_stays():
    stream = Terminal()
    _build_events(ConsoleReporter(stream))
    out = stream.getvalue()
    assert "\r\x1b[Kreading runs 0/2" in out and "\r\x1b[Kfinding runs" in out
    assert "\r\x1b[Kwarning: b: odd\n" in out  # the status line is erased before a warning
    assert out.endswith("\r\x1b[Kbuilt 0 runs (2 read, 0 cached, 0 failed); pages 0 written, "
                        "0 unchanged, 0 removed in 0.00s\n")


def test_a_log_file_or_pipe_gets_plain_lines_and_quiet_gets_only_problems():
    stream = io.StringIO()
    _build_events(ConsoleReporter(stream))
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert stream.getvalue().splitlines()[0] == "warning: b: odd"
    quiet = Terminal()
    _build_events(ConsoleReporter(quiet, quiet=True))
    assert quiet.getvalue() == "warning: b: odd\n"


def test_control_characters_from_run_data_never_reach_the_terminal():
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, quiet=True)
    reporter.run_read("runs/\x1b[2J\x1b]0;owned\x07x", ["bad\rcell\tthere"], None)
    assert stream.getvalue() == "warning: runs/\ufffd[2J\ufffd]0;owned\ufffdx: bad\ufffdcell\tthere\n"
