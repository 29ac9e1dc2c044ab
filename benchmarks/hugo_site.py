"""The Hugo site the full build is compared with: one page per run, a small front matter and a
table of 10 numbers (the first and the last row of the run's metrics.csv)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

CONFIG = 'baseURL = "/"\ntitle = "bench"\ndisableKinds = ["taxonomy", "term", "RSS", "sitemap"]\n'
PAGE = "<!doctype html><title>{{ .Title }}</title><h1>{{ .Title }}</h1>"
SINGLE = PAGE + "<p>{{ .Params.status }}</p>{{ .Content }}\n"
LIST = PAGE + "<ul>{{ range .Pages }}<li><a href='{{ .RelPermalink }}'>{{ .Title }}</a></li>{{ end }}</ul>\n"


def hugo() -> str | None:
    """The `hugo` command, if installed (`sh tests/install_debian_package.sh hugo …` installs it)."""
    return shutil.which("hugo")


def write_site(site: Path, tree: Path) -> int:
    """Write a Hugo project with a content page for each sidecar run of `tree`; the page count."""
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (site / "hugo.toml").write_text(CONFIG)
    (layouts / "single.html").write_text(SINGLE)
    (layouts / "list.html").write_text(LIST)
    content = site / "content" / "runs"
    content.mkdir(parents=True, exist_ok=True)
    pages = 0
    for sidecar in sorted(tree.glob("*/*/*/sidecar.json")):
        doc = json.loads(sidecar.read_text())
        front = {"title": doc["run_id"], "status": doc["status"], "tags": doc["tags"]}
        (content / f"{doc['run_id']}.md").write_text(f"{json.dumps(front, indent=1)}\n\n{_table(sidecar)}")
        pages += 1
    return pages


def _table(sidecar: Path) -> str:
    """The first and the last row of metrics.csv (5 columns each: 10 numbers) as a Markdown table."""
    lines = (sidecar.parent / "metrics.csv").read_text().splitlines()
    header, first, last = lines[0].split(","), lines[1].split(","), lines[-1].split(",")
    cells = zip(header, first, last, strict=True)
    rows = "".join(f"| {name} | {a or '–'} | {b or '–'} |\n" for name, a, b in cells)
    return "| column | first | last |\n|---|---|---|\n" + rows
