"""The small helpers every reader relies on: redaction, slugs, path confinement, JSON for pages."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from sitegen.jsonsafe import dumps, dumps_for_script
from sitegen.paths import resolve_within
from sitegen.redact import REDACTED, Redactor, is_secret_key, redact_text
from sitegen.slug import run_slug, slugify, unique_slugs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("key", [
    "hf_token", "HF_TOKEN", "wandb.api_key", "apiKey", "db_password", "slack_webhook_url",
    "credentials", "aws_secret_access_key", "AWS_ACCESS_KEY_ID", "private_key", "Authorization",
])
def test_secret_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "max_tokens", "num_tokens", "total_output_tokens", "tokenizer", "max_new_tokens",
    "key_dim", "secretary", "keyboard", "passes",
])
def test_benchmark_counts_are_not_secrets(key):
    assert not is_secret_key(key)


@pytest.mark.parametrize(("text", "secret"), [
    ("clone https://alice:hunter2@github.com/x.git", "hunter2"),
    ("using ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
    ("HF hf_abcdefghijklmnopqrstuvwx1234 loaded", "hf_abcdefghijklmnopqrstuvwx1234"),
    ("python train.py --token abc123secret --lr 3", "abc123secret"),
    ("python train.py --api-key=abc123secret", "abc123secret"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("env: HF_TOKEN=abc123secret PATH=/usr/bin", "abc123secret"),
    ("WANDB_API_KEY=abc123secret", "abc123secret"),
    ("--verbose --hf-token abc123secret", "abc123secret"),
    ("x--token=abc123secret", "abc123secret"),
    ("pip install git+https://alice:hunter2@github.com/x.git", "hunter2"),
])
def test_secrets_in_text_are_redacted(text, secret):
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize("text", [
    "MAX_TOKENS=2048 step=3 loss=0.5", "https://github.com/x.git", "--max-tokens 512",
    "a token of appreciation", "LOG_LEVEL=ERROR",
])
def test_ordinary_text_survives(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("line", ["'-' * 300_000", "'x' * 300_000", "'a-' * 150_000", "'9' * 300_000"])
def test_a_huge_line_is_redacted_in_linear_time(line: str):
    """Found by fuzzing the readers: the URL and flag patterns, tried at every position of a long
    run of letters or dashes, backtracked for minutes to hours. A child process, so that a
    regression fails (the timeout is 1,000 times what the redaction takes) instead of hanging."""
    code = f"from sitegen.redact import redact_text; assert redact_text({line}) == {line}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_redactor_keys_values_and_extra_patterns():
    redactor = Redactor(["^internal_"])
    params = {"hf_token": "x", "internal_host": "db1", "max_tokens": 2048,
              "url": "s3://k:s@bucket/p", "lr": 0.1}
    assert redactor.mapping(params) == {"hf_token": REDACTED, "internal_host": REDACTED,
                                        "max_tokens": 2048, "url": f"s3://{REDACTED}@bucket/p", "lr": 0.1}


@pytest.mark.parametrize(("text", "slug"), [
    ("Hello World", "hello-world"), ("../../etc/passwd", "etc-passwd"), ("", "x"), ("...", "x"),
    ("résumé 試験", "r-sum"), ("<script>", "script"), ("a" * 100, "a" * 60), ("what?#100%", "what-100"),
])
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_run_slugs_are_stable_and_distinct():
    assert run_slug("/runs", "a b") == run_slug("/runs", "a b")
    assert run_slug("/runs", "a b") != run_slug("/runs", "a-b")  # same stem, different runs
    assert run_slug("/runs", "x") != run_slug("/other", "x")
    assert unique_slugs(["a b", "a-b", "A B"]) == ["a-b", "a-b-2", "a-b-3"]


def test_paths_stay_inside_the_allowed_dirs(tmp_path):
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (tmp_path / "rootless").mkdir()
    (root / "run" / "out").symlink_to(tmp_path / "rootless")
    allowed = [str(root)]
    assert resolve_within("logs", str(root / "run"), allowed) == str(root / "run" / "logs")
    assert resolve_within("../../rootless", str(root / "run"), allowed) is None
    assert resolve_within("out", str(root / "run"), allowed) is None  # a link out
    assert resolve_within("/etc/passwd", str(root / "run"), allowed) is None
    assert resolve_within(str(root), str(root / "run"), allowed) == os.path.realpath(root)


def test_json_for_pages():
    data = {"b": [1.0, math.nan, math.inf], "a": "</script><!--", "c": "\u2028"}
    text = dumps_for_script(data)
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!--", "b": [1.0, None, None], "c": "\u2028"}
    assert dumps(data).startswith(b'{"a":')  # sorted keys: identical input, identical bytes
