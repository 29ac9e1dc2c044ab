"""Decisions as files: regressions marked as known or accepted in `content/acknowledged.yaml`.

```yaml
- benchmark: dedup_exact
  metric: time_taken_s
  from: nightly-2025-03-08   # the session, date (YYYY-MM-DD) or run id of the first bad run
  reason: pyarrow 18 reads small files slower; accepted until the upstream fix
  until: 2025-04-30          # optional: from the day after, the regression counts as new again
```

Pure: the file's text in, acknowledgements and the problems found out. The file lives in the
site's repository and is reviewed in pull requests like any other change.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import time

import msgspec
import yaml

from sitegen.analysis.regressions import Step

_FIELDS = ("benchmark", "metric", "from", "reason", "until")


class Acknowledgement(msgspec.Struct, frozen=True):
    benchmark: str  # a name or a glob
    metric: str  # a name or a glob
    since: str  # `from` in the file
    reason: str
    until: str | None = None  # YYYY-MM-DD

    def expired(self, today: str) -> bool:
        return self.until is not None and today > self.until


def parse(text: str) -> tuple[list[Acknowledgement], list[str]]:
    """The acknowledgements of a file, and one line per entry that could not be used."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [], [f"not valid YAML: {str(exc).splitlines()[0]}"]
    if isinstance(data, dict) and set(data) == {"acknowledged"}:
        data = data["acknowledged"]
    if data is None:
        return [], []
    if not isinstance(data, list):
        return [], ["expected a list of entries (benchmark, metric, from, reason, until)"]
    found, problems = [], []
    for number, entry in enumerate(data, 1):
        ack, problem = _entry(entry)
        if problem:
            problems.append(f"entry {number}: {problem}")
        else:
            found.append(ack)
    return found, problems


def find(step: Step, acks: list[Acknowledgement], when: str) -> Acknowledgement | None:
    """The acknowledgement that covers `step`; `when` is the first bad point's day (YYYY-MM-DD)."""
    bad = step.first_bad
    for ack in acks:
        if (fnmatch.fnmatchcase(step.benchmark, ack.benchmark)
                and fnmatch.fnmatchcase(step.metric, ack.metric)
                and ack.since in (bad.label, bad.run_id, when)):
            return ack
    return None


def _entry(entry: object) -> tuple[Acknowledgement | None, str | None]:
    if not isinstance(entry, dict):
        return None, "expected a mapping"
    unknown = sorted(str(k) for k in entry if k not in _FIELDS)
    if unknown:
        return None, f"unknown key {unknown[0]!r} (expected {', '.join(_FIELDS)})"
    missing = [k for k in ("benchmark", "metric", "from", "reason") if entry.get(k) in (None, "")]
    if missing:
        return None, f"{missing[0]!r} is missing"
    until = entry.get("until")
    if isinstance(until, dt.date):  # YAML reads an unquoted 2025-04-30 as a date
        until = until.isoformat()[:10]
    if until is not None and not _is_date(str(until)):
        return None, f"until: {until!r} is not a date (YYYY-MM-DD)"
    since = entry["from"]
    since = since.isoformat()[:10] if isinstance(since, dt.date) else str(since)
    return Acknowledgement(str(entry["benchmark"]), str(entry["metric"]), since, str(entry["reason"]),
                           None if until is None else str(until)), None


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


class Flagged(msgspec.Struct, frozen=True):
    """A step as the site shows it: new, suspected, or acknowledged (until its date passes)."""

    step: Step
    acknowledged: Acknowledgement | None = None
    expired: bool = False

    @property
    def state(self) -> str:
        if self.acknowledged is not None and not self.expired:
            return "acknowledged"
        return "new" if self.step.confirmed else "suspected"


def flag(steps: list[Step], acks: list[Acknowledgement], today: str) -> list[Flagged]:
    """Each step with the acknowledgement that covers it (`today`: YYYY-MM-DD)."""
    flagged = []
    for step in steps:
        ack = find(step, acks, time.strftime("%Y-%m-%d", time.gmtime(step.first_bad.at)))
        flagged.append(Flagged(step, ack, ack is not None and ack.expired(today)))
    return flagged
