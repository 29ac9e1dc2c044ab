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
    first = load_config(_config_file(tmp_path, "title: T\nroots: [/r]\nout: /o\ncontent: /c\n"))
    (tmp_path / "b").mkdir()
    second = load_config(_config_file(tmp_path / "b", "title: T\nroots: [/r]\nout: /o\ncontent: /c\n"))
    assert first.source != second.source
    assert first.fingerprint() == second.fingerprint()
    assert first.fingerprint() != load_config(_config_file(tmp_path, "title: U\n")).fingerprint()


def test_no_roots_means_the_bundled_examples(tmp_path):
    config = with_default_roots(load_config(_config_file(tmp_path, "")))
    assert len(config.roots) == 1
    assert config.roots[0].endswith(os.path.join("examples", "runs"))
    assert os.path.isdir(config.roots[0])
