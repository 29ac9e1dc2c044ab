"""Build one site over every real artifact (tests/real_data.py) and print, per artifact: runs
found, read without warnings, values checked against its raw files.

    .venv/bin/python benchmarks/real_data.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import make_config
from real_data import ARTIFACTS, Outcome, audit, lay_out

from sitegen.pipeline import build
from sitegen.reporting import Reporter

HEADER = ("artifact", "made by", "runs found", "broken", "with warnings", "values checked",
          "not as in the file")


def row(o: Outcome) -> tuple[object, ...]:
    if o.unavailable:
        return (o.artifact.name, o.artifact.made_by, f"not here: {o.unavailable}", "", "", "", "")
    return (o.artifact.name, o.artifact.made_by, f"{o.found} of {o.artifact.runs}", o.broken, len(o.warned),
            o.checked, len(o.missing))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep the site")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(args.keep or scratch)
        root, out = base / "real", base / "site"
        unavailable = lay_out(root)
        started = time.perf_counter()
        build(make_config(root, out), reporter=Reporter())
        seconds = time.perf_counter() - started
        outcomes = audit(root, out, unavailable)
    for cells in (HEADER, ("---",) * len(HEADER), *map(row, outcomes)):
        print("| " + " | ".join(map(str, cells)) + " |")
    for o in outcomes:
        for value in o.missing:
            print(f"  {o.artifact.name}: not shown as in the file: {value}")
    here = [o for o in outcomes if not o.unavailable]
    print(f"\n{len(ARTIFACTS)} artifacts, {len(here)} here, {sum(o.correct for o in here)} read correctly; "
          f"{sum(o.found for o in here)} runs found, {sum(o.broken for o in here)} broken, "
          f"{sum(o.found < o.artifact.runs for o in here)} artifacts with runs not found; "
          f"{sum(o.checked for o in here)} values checked, {sum(len(o.missing) for o in here)} not as in "
          f"the file; built in {seconds:.1f} s")
    return 0 if all(o.correct for o in here) else 1


if __name__ == "__main__":
    sys.exit(main())
