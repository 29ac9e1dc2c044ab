"""One site built over every real artifact other people's tools wrote (tests/real_data.py): each
is found, read without a warning it should not have, and shows the values of its raw files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import age, make_config, run_build
from real_data import ARTIFACTS, Outcome, audit, lay_out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    base = tmp_path_factory.mktemp("real")
    root, out = base / "real", base / "site"
    unavailable = lay_out(root)
    age(root)
    run_build(make_config(root, out))
    return {outcome.artifact.name: outcome for outcome in audit(root, out, unavailable)}


@pytest.mark.parametrize("name", [artifact.name for artifact in ARTIFACTS])
def test_a_real_artifact_is_found_read_and_shows_its_values(outcomes: dict[str, Outcome], name: str):
    outcome = outcomes[name]
    if outcome.unavailable:
        pytest.skip(outcome.unavailable)
    assert outcome.found == outcome.artifact.runs
    assert outcome.broken == 0
    assert sorted(run.rsplit("/", 1)[-1] for run in outcome.warned) == sorted(outcome.artifact.warned)
    assert outcome.checked >= 3
    assert outcome.missing == []


def test_a_value_the_site_does_not_show_is_caught(tmp_path: Path):
    """The audit itself: a raw file changed after the build no longer matches its page."""
    root, out = tmp_path / "real", tmp_path / "site"
    guidellm = next(artifact for artifact in ARTIFACTS if artifact.name == "guidellm")
    guidellm.place(root / guidellm.name)
    run_build(make_config(root, out))
    results = root / "guidellm" / "runs" / "benchmarks.json"
    data = json.loads(results.read_text())
    data["benchmarks"][0]["metrics"]["time_to_first_token_ms"]["successful"]["percentiles"]["p99"] *= 2
    results.write_text(json.dumps(data))
    missing = next(o for o in audit(root, out, {}) if o.artifact.name == "guidellm").missing
    assert len(missing) == 1
