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
