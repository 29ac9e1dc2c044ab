"""sitegen.yaml: decoded into structs; a mistake is one line naming the file, the key and the expectation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sitegen.config import load_config, with_default_roots
from sitegen.errors import ConfigError


def _config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sitegen.yaml"
    path.write_text(text)
    return str(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(_config_file(tmp_path, text))
    return str(info.value)


def test_every_key_is_read(tmp_path):
    (tmp_path / "pages").mkdir()
    config = load_config(_config_file(tmp_path, """
title: Nightly
roots: [runs, /abs/other]
out: public
theme: default
content: pages
build: {workers: 3, log_tail_kib: 64, racy_window_s: 5, heartbeat_timeout_s: 60, relist_every: 10}
safety: {redact: ["^internal_"], allow_paths: [shared]}
"""))
    assert config.title == "Nightly"
    assert config.roots == [str(tmp_path / "runs"), "/abs/other"]
    assert config.out == str(tmp_path / "public")
    assert config.content == str(tmp_path / "pages")
    assert (config.build.workers, config.build.log_tail_kib, config.build.relist_every) == (3, 64, 10)
    assert config.safety.redact == ["^internal_"]
    assert config.safety.allow_paths == [str(tmp_path / "shared")]
    assert config.source == str(tmp_path / "sitegen.yaml")


def test_an_empty_file_gives_the_defaults(tmp_path):
    config = load_config(_config_file(tmp_path, "# nothing here\n"))
    assert config.title == "Benchmark reports"
    assert config.build.workers == 0


def test_a_wrong_type_names_file_key_and_expectation(tmp_path):
    message = _error(tmp_path, "build:\n  workers: many\n")
    assert message == f"{tmp_path / 'sitegen.yaml'}: build.workers: expected int, got str"


def test_an_unknown_key_lists_the_known_ones(tmp_path):
    message = _error(tmp_path, "titel: x\n")
    expected = f"{tmp_path / 'sitegen.yaml'}: titel: unknown key (expected one of title, roots,"
    assert message.startswith(expected)


def test_every_problem_is_reported_at_once_one_per_line(tmp_path):
    lines = _error(tmp_path, "roots: runs\nbuild: {workers: x, nope: 1}\n").splitlines()
    assert len(lines) == 3
    assert any(": roots: expected array, got str" in line for line in lines)
    assert any(": build.workers: expected int, got str" in line for line in lines)
    assert any(": build.nope: unknown key" in line for line in lines)


def test_an_invalid_redaction_pattern_is_named(tmp_path):
    message = _error(tmp_path, "safety: {redact: ['(unclosed']}\n")
    assert "safety.redact: invalid pattern '(unclosed'" in message


def test_a_file_that_is_not_a_mapping(tmp_path):
    assert _error(tmp_path, "- a\n- b\n").endswith("expected a mapping of settings, got list")


def test_broken_yaml_is_one_line(tmp_path):
    message = _error(tmp_path, "title: [unclosed\n")
    assert message.startswith(f"{tmp_path / 'sitegen.yaml'}:2:1: not valid YAML (expected ',' or ']'")
    assert message.endswith("; fix it there") and "\n" not in message


def test_yaml_cannot_build_python_objects(tmp_path):
    message = _error(tmp_path, "title: !!python/object/apply:os.system ['true']\n")
    assert ":1:8: not valid YAML (could not determine a constructor for the tag" in message


def test_a_named_file_that_does_not_exist(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_flags_override_the_file_and_are_relative_to_the_working_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    path = _config_file(tmp_path / "conf", "out: from-file\nroots: [a]\nbuild: {workers: 2}\n")
    config = load_config(path, out="cli-out", roots=["cli-root"], **{"build.workers": 1})
    assert config.out == str(tmp_path / "cli-out")
    assert config.roots == [str(tmp_path / "cli-root")]
    assert config.build.workers == 1
    unset = load_config(path, out=None, roots=[], **{"build.workers": None})
    assert unset.out == str(tmp_path / "conf" / "from-file")
    assert unset.build.workers == 2


def test_a_bad_flag_value_is_reported_like_a_bad_key(tmp_path):
    with pytest.raises(ConfigError, match=r"build\.workers: expected int, got str"):
        load_config(_config_file(tmp_path, ""), **{"build.workers": "two"})


def test_the_fingerprint_ignores_where_the_config_came_from(tmp_path):
    (tmp_path / "c").mkdir()
    text = f"title: T\nroots: [/r]\nout: /o\ncontent: {tmp_path / 'c'}\n"
    first = load_config(_config_file(tmp_path, text))
    (tmp_path / "b").mkdir()
    second = load_config(_config_file(tmp_path / "b", text))
    assert first.source != second.source
    assert first.fingerprint() == second.fingerprint()
    assert first.fingerprint() != load_config(_config_file(tmp_path, "title: U\n")).fingerprint()


def test_no_roots_means_the_bundled_examples(tmp_path):
    config = with_default_roots(load_config(_config_file(tmp_path, "")))
    assert len(config.roots) == 1
    assert config.roots[0].endswith(os.path.join("examples", "runs"))
    assert os.path.isdir(config.roots[0])


def test_every_number_has_bounds_and_every_value_out_of_them_is_named_at_once(tmp_path):
    lines = _error(tmp_path, """
build: {workers: -4, log_tail_kib: -1, racy_window_s: -1, heartbeat_timeout_s: 0, relist_every: -2}
trends: {threshold: .nan, noise_factor: 1000, window: 0, metrics: {"*ttft*": {threshold: .inf}}}
""").splitlines()
    name = tmp_path / "sitegen.yaml"
    assert lines == [
        f"{name}: build.workers: expected int >= 0, got -4",
        f"{name}: build.log_tail_kib: expected int >= 1, got -1",
        f"{name}: build.racy_window_s: expected float >= 0.0, got -1",
        f"{name}: build.heartbeat_timeout_s: expected float > 0.0, got 0",
        f"{name}: build.relist_every: expected int >= 0, got -2",
        f"{name}: trends.threshold: expected float >= 0.0, got nan",
        f"{name}: trends.noise_factor: expected float <= 100.0, got 1000",
        f"{name}: trends.window: expected int >= 1, got 0",
        f"{name}: trends.metrics.*ttft*.threshold: expected float <= 100.0, got inf",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("build: {workers: 100000}", "build.workers: expected int <= 512, got 100000"),
    ("build: {workers: 99999999999999999999999}",
     "build.workers: expected int <= 512, got 99999999999999999999999"),
    ("build: {log_tail_kib: 10000000}", "build.log_tail_kib: expected int <= 65536, got 10000000"),
    ("build: {racy_window_s: 1.0e+400}", "build.racy_window_s: expected float <= 3600.0, got inf"),
    ("build: {heartbeat_timeout_s: 1.0e+30}",
     "build.heartbeat_timeout_s: expected float <= 3153600000.0, got 1e+30"),
    ("build: {relist_every: 10001}", "build.relist_every: expected int <= 10000, got 10001"),
    ("trends: {min_history: 20000}", "trends.min_history: expected int <= 10000, got 20000"),
])
def test_a_number_too_big_is_refused_by_its_bound(tmp_path, text, expected):
    assert _error(tmp_path, text + "\n") == f"{tmp_path / 'sitegen.yaml'}: {expected}"


def test_a_bad_flag_number_is_checked_like_the_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(_config_file(tmp_path, ""), **{"build.workers": -1})
    assert str(info.value) == f"{tmp_path / 'sitegen.yaml'}: build.workers: expected int >= 0, got -1"


def test_the_bounds_themselves_are_accepted(tmp_path):
    config = load_config(_config_file(tmp_path, """
build: {workers: 512, log_tail_kib: 65536, racy_window_s: 0, heartbeat_timeout_s: 3153600000,
        relist_every: 10000}
trends: {threshold: 0, noise_factor: 100, min_history: 1, window: 10000, consecutive: 1}
"""))
    assert (config.build.workers, config.build.relist_every, config.trends.window) == (512, 10000, 10000)


def test_a_key_given_twice_names_the_file_its_line_and_the_key(tmp_path):
    message = _error(tmp_path, "title: a\nbuild:\n  workers: 1\n  workers: 2\ntitle: b\n")
    name = tmp_path / "sitegen.yaml"
    assert message.splitlines() == [f"{name}:4: build.workers: given twice (first on line 3); keep one",
                                    f"{name}:5: title: given twice (first on line 1); keep one"]


def test_a_merged_key_may_be_overridden(tmp_path):
    config = load_config(_config_file(tmp_path, """
trends:
  metrics:
    latency: &lower {direction: lower, threshold: 0.1}
    ttft: {<<: *lower, threshold: 0.2}
"""))
    assert config.trends.metrics["ttft"].threshold == 0.2
    assert config.trends.metrics["ttft"].direction == "lower"


def test_yaml_nested_deeper_than_settings_go_is_one_line(tmp_path):
    message = _error(tmp_path, "title: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert message == f"{tmp_path / 'sitegen.yaml'}: nested too deeply to be settings; fix it there"


def test_a_number_longer_than_python_reads_is_one_line(tmp_path):
    message = _error(tmp_path, "build: {workers: 1" + "0" * 5000 + "}\n")
    assert message == (f"{tmp_path / 'sitegen.yaml'}: not valid YAML (exceeds the limit (4300 digits) for "
                       "integer string conversion); fix it there")


def test_a_missing_theme_or_content_dir_is_named_with_the_rest(tmp_path):
    name = tmp_path / "sitegen.yaml"
    assert _error(tmp_path, "theme: nope\ncontent: pages\n").splitlines() == [
        f"{name}: theme: no bundled theme 'nope' (bundled: default); name one or give a theme directory",
        f"{name}: content: {tmp_path / 'pages'} is not a directory; create it, or leave 'content' out for "
        "a site without pages of your own",
    ]
    (tmp_path / "mine").mkdir()
    assert _error(tmp_path, "theme: ./mine\n") == (
        f"{name}: theme: {tmp_path / 'mine'} is not a theme directory (no templates/ in it); give a theme "
        "directory or a bundled theme's name")


def test_the_default_content_dir_may_be_absent(tmp_path):
    assert load_config(_config_file(tmp_path, "")).content == str(tmp_path / "content")


@pytest.mark.parametrize("text", ["out: ''", "roots: ['']", "content: ''", "safety: {allow_paths: ['']}"])
def test_an_empty_path_is_not_the_current_directory(tmp_path, text):
    message = _error(tmp_path, text + "\n")
    assert "expected a path ('.' is the current directory)" in message and "\n" not in message
