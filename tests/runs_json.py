"""runs.json as automation reads it: the index file, then each part it lists."""

from __future__ import annotations

import json
from pathlib import Path


def read_runs(site: Path) -> list[dict]:
    """Every run listed by the site's runs.json (format 2: the runs are in its parts)."""
    head = json.loads((site / "runs.json").read_text())
    assert head["format"] == 2
    runs = [run for part in head["parts"] for run in json.loads((site / part).read_text())["runs"]]
    assert len(runs) == head["count"]
    return runs
