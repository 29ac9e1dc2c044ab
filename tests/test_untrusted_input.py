"""Untrusted run data (DESIGN §7) through real builds, checked in the site as it is written.

Every run directory is hostile here: its text fields carry markup, its params carry secrets, its
name is odd, its files are links out of the roots, loops, or garbage. Each scenario builds a
site once (module-scoped) and the tests read the produced HTML and JSON:

- hostile text is shown as text, never as markup: every page is parsed, and the only scripts
  are the theme's own, no element has an event handler, no link or source is `javascript:`;
  and each payload is found in the text of the page that displays its field (no data dropped);
- secrets reach no file under the output dir (the `_build/` cache included), while counts
  such as `max_tokens` survive;
- odd directory names all get a page, and every relative link resolves to a file;
- symlink loops, dangling links and links out of the roots end the build normally (that site
  is built by `python -m sitegen build` in a child process, so a hang fails instead of
  stalling the suite), publish nothing outside the roots and leave a warning on the run;
- broken files give a warning or a broken badge on the run page and in runs.json, and the
  other runs are built.

Published copies of raw run data (`runs/<slug>/metrics.csv`, offered for download) are data,
not pages, and are not held to the HTML rules.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import age, make_config, run_build, write_sidecar_run
from data_js import data_js_payload
from page_audit import assert_no_active_content, audit, resolve_href
from runs_json import read_runs

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --- reading a built site ----------------------------------------------------------------------


def html_pages(out: Path) -> dict[str, str]:
    """Every HTML page of the site by its path relative to the output dir."""
    return {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(out.rglob("*.html")) if not p.relative_to(out).as_posix().startswith("_build/")}


def runs_by_id(out: Path) -> dict[str, dict]:
    return {run["run_id"]: run for run in read_runs(out)}


def run_page(out: Path, entry: dict) -> str:
    return (out / entry["url"]).read_text(encoding="utf-8")


def notices(entry: dict) -> list[str]:
    """A run's warnings in runs.json, with the reason it is broken if it is."""
    return [*entry["warnings"], *([entry["problem"]] if entry["problem"] else [])]


def mentions(messages: list[str], *fragments: str) -> bool:
    return any(all(f in message for f in fragments) for message in messages)


def every_output_byte(out: Path) -> dict[str, bytes]:
    """Every file under the output dir, the build cache included."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def params_table(page: str) -> dict[str, str]:
    return {cells[0]: cells[1] for table, cells in audit(page).rows if "params" in table.split()}


def write_metrics(run_dir: Path, header: list[str], rows: int = 3) -> None:
    """metrics.csv with this header (quoted as the csv module does) and a few numeric rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[step] + [step / 10] * (len(header) - 1) for step in range(rows)])
    (run_dir / "metrics.csv").write_text(buffer.getvalue())


def patch_sidecar(run_dir: Path, **fields: object) -> None:
    path = run_dir / "sidecar.json"
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data, indent=2))


# --- 1. hostile text ---------------------------------------------------------------------------


def payload(field: str, *, closing: bool = True) -> str:
    """Markup that would run script if it reached a page unescaped; `field` says where it was put.

    An event handler in a tag, an attribute break-out, and a script element (its closing tag
    left out where a "/" is not allowed, as in a directory name).
    """
    script = f"<script>alert('{field}')" + ("</script>" if closing else "")
    return f"<img src=x onerror=alert('{field}')>\" onmouseover=\"alert('{field}')'{script}"


DIR_NAME = payload("dir", closing=False)
LOG_NAME = payload("log-name", closing=False) + ".out"
JSON_BREAKER = "</script><!--<script>alert('figures')"  # ends the embedded JSON, or opens a comment in it
NOTES = f"""# Notes {payload("notes-heading")}

<script>alert('notes-block')</script>

Inline {payload("notes-inline")}, [a link](javascript:alert('notes-link')),
<javascript:alert('notes-autolink')> and <a href="javascript:alert('notes-a')">raw</a>.
"""
OSC_LINK = "\x1b]8;;javascript:alert('osc')\x1b\\click me\x1b]8;;\x1b\\"
LOG = (
    "plain line\n"
    f"\x1b[31;1m{payload('log')}\x1b[0m\n"
    f"ERROR {payload('log-error')}\n"
    f"{OSC_LINK}\n"
)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site with one ordinary run and one whose every text field holds a payload."""
    base = tmp_path_factory.mktemp("hostile")
    root = base / "runs"
    write_sidecar_run(root, "ordinary/aaaaaaaaaaaa")
    run_dir = write_sidecar_run(
        root, f"hostile/{DIR_NAME}", status=payload("status"),
        tags=[payload("tag"), "javascript:alert('tag-url')"],
        hparams={payload("hparam-key"): payload("hparam-value"), "optimizer.lr": 0.001},
        notes=NOTES, log=LOG,
    )
    patch_sidecar(run_dir, summary={payload("summary"): 0.5})
    write_metrics(run_dir, ["step", payload("metric"), JSON_BREAKER])
    (run_dir / LOG_NAME).write_text("hello from an oddly named log\n")
    age(root)
    # a status that is not a known one counts as live; never let it be shown as stalled instead
    run_build(make_config(root, base / "site", "build:\n  heartbeat_timeout_s: 3.0e+9\n"))
    return base / "site"


def hostile_entry(out: Path) -> dict:
    return runs_by_id(out)[f"hostile/{DIR_NAME}"]


def test_hostile_text_never_becomes_markup_on_any_page(hostile_site: Path):
    pages = html_pages(hostile_site)
    entry = hostile_entry(hostile_site)
    assert {"index.html", entry["url"]} <= set(pages)
    hostile_logs = entry["url"].removesuffix("index.html") + "logs/"
    assert sum(path.startswith(hostile_logs) for path in pages) == 2
    for path, page in pages.items():
        assert_no_active_content(path, page)


def test_runs_json_holds_hostile_text_as_data_without_raw_markup(hostile_site: Path):
    for path in [hostile_site / "runs.json", *hostile_site.glob("data/runs-*")]:
        raw = path.read_bytes()
        assert b"<" not in raw and b">" not in raw, path
    entry = hostile_entry(hostile_site)
    assert entry["name"] == DIR_NAME and entry["status"] == payload("status")
    assert entry["tags"] == [payload("tag"), "javascript:alert('tag-url')"]
    assert entry["summary"][payload("summary")] == 0.5
    # the hostile series names come back as the names of their last values, still as data
    assert set(entry["summary"]) == {payload("summary"), payload("metric"), JSON_BREAKER}


def test_index_shows_hostile_name_status_and_tag_as_text(hostile_site: Path):
    text = audit((hostile_site / "index.html").read_text()).text
    for shown in (DIR_NAME, f"hostile/{DIR_NAME}", payload("status"), payload("tag")):
        assert shown in text


@pytest.mark.parametrize("shown", [
    DIR_NAME, payload("status"), payload("tag"), payload("hparam-key"), payload("hparam-value"),
    payload("summary"), payload("metric"), JSON_BREAKER, LOG_NAME, f"ERROR {payload('log-error')}",
    payload("notes-heading"), "<script>alert('notes-block')</script>", payload("notes-inline"),
    "[a link](javascript:alert('notes-link'))", "javascript:alert('notes-autolink')",
    "<a href=\"javascript:alert('notes-a')\">raw</a>",
], ids=lambda shown: re.sub(r"\W+", "-", shown)[:40])
def test_run_page_shows_each_hostile_field_as_text(hostile_site: Path, shown: str):
    assert shown in audit(run_page(hostile_site, hostile_entry(hostile_site))).text


def test_log_page_shows_hostile_lines_as_text_and_drops_escape_links(hostile_site: Path):
    entry = hostile_entry(hostile_site)
    log_dir = (hostile_site / entry["url"]).parent / "logs"
    pages = [audit(p.read_text()) for p in sorted(log_dir.glob("*.html"))]
    train = next(page for page in pages if "plain line" in page.text)
    assert payload("log") in train.text and f"ERROR {payload('log-error')}" in train.text
    assert "click me" in train.text and "alert('osc')" not in train.text  # OSC 8 hyperlink dropped
    assert any(LOG_NAME in page.text for page in pages)


def test_run_data_cannot_end_its_script_and_plot_labels_are_escaped(hostile_site: Path):
    entry = hostile_entry(hostile_site)
    script = (hostile_site / entry["url"]).with_name("data.js").read_bytes()
    assert b"<" not in script and b">" not in script
    assert set(data_js_payload(script)["series"]) == {payload("metric"), JSON_BREAKER}
    # plotly renders some HTML in labels: site.js escapes them (tests/browser sees nothing run)


# --- 2. secrets --------------------------------------------------------------------------------

GITHUB_TOKEN = "ghp_" + "Zx9" * 12
HF_TOKEN = "hf_" + "Qw7" * 10
SECRETS = (
    "s3cr3t-api-key", "s3cr3t-wandb-key", "s3cr3t-hf-token", "s3cr3t-db-password", "s3cr3t-webhook",
    "s3cr3t-credentials", "s3cr3t-yaml-key", "hunter2", "abc123secret", "n0tes-pa55", "s3cr3t-flag-key",
    GITHUB_TOKEN, HF_TOKEN,
)
SECRET_HPARAMS = {
    "api_key": "s3cr3t-api-key",
    "wandb": {"api_key": "s3cr3t-wandb-key", "project": "nightly"},
    "HF_TOKEN": "s3cr3t-hf-token",
    "db_password": "s3cr3t-db-password",
    "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/s3cr3t-webhook",
    "credentials": "s3cr3t-credentials",
    "dataset_url": "https://user:hunter2@host/path",
    "max_tokens": 2048,
    "num_tokens": 4096,
    "total_output_tokens": 512,
    "tokenizer": "gpt2",
}
SECRET_LOG = (
    "python train.py --token abc123secret --lr 0.1 --api-key=s3cr3t-flag-key\n"
    f"export GITHUB_TOKEN={GITHUB_TOKEN}\n"
    f"logged in to the hub with {HF_TOKEN}\n"
)


@pytest.fixture(scope="module")
def secrets_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("redaction")
    root = base / "runs"
    run_dir = write_sidecar_run(root, "leaky", hparams=SECRET_HPARAMS, log=SECRET_LOG,
                                notes="Cloned from https://bob:n0tes-pa55@git.example.com/repo.git")
    (run_dir / "hparams.yaml").write_text("comet:\n  api_key: s3cr3t-yaml-key\n")
    age(root)
    run_build(make_config(root, base / "site"))
    return base / "site"


def test_secret_values_reach_no_file_under_the_output_dir(secrets_site: Path):
    files = every_output_byte(secrets_site)
    assert any(path.startswith("_build/") for path in files) and "runs.json" in files
    leaks = [(path, secret) for path, data in files.items() for secret in SECRETS if secret.encode() in data]
    assert leaks == []


def test_secret_params_are_shown_redacted(secrets_site: Path):
    params = params_table(run_page(secrets_site, runs_by_id(secrets_site)["leaky"]))
    for key in ("api_key", "wandb.api_key", "HF_TOKEN", "db_password", "slack_webhook_url", "credentials",
                "comet.api_key"):
        assert params[key] == "***", key
    assert params["dataset_url"] == "https://***@host/path"
    assert params["wandb.project"] == "nightly"


def test_counts_that_mention_tokens_survive_redaction(secrets_site: Path):
    params = params_table(run_page(secrets_site, runs_by_id(secrets_site)["leaky"]))
    assert params["max_tokens"] == "2048" and params["num_tokens"] == "4096"
    assert params["total_output_tokens"] == "512" and params["tokenizer"] == "gpt2"


def test_log_page_keeps_the_command_line_without_its_secrets(secrets_site: Path):
    [log_page] = ((secrets_site / runs_by_id(secrets_site)["leaky"]["url"]).parent / "logs").glob("*.html")
    text = audit(log_page.read_text()).text
    assert "python train.py --token *** --lr 0.1 --api-key=***" in text


# --- 3. odd directory names --------------------------------------------------------------------

ODD_NAMES = (
    "with space", "résumé 試験", "what?#100%", "<angle> & \"quotes\" 'too'", "%41%2F..%2F",
    "a b", "a-b", "back\\slash", "tab\there", "new\nline",
)


@pytest.fixture(scope="module")
def odd_names_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("names")
    root = base / "runs"
    for name in ODD_NAMES:
        write_sidecar_run(root, f"sweep ü/{name}", log="step 1\n")
    age(root)
    run_build(make_config(root, base / "site"))
    return base / "site"


def test_every_odd_name_gets_its_own_run_page(odd_names_site: Path):
    runs = runs_by_id(odd_names_site)
    assert set(runs) == {f"sweep ü/{name}" for name in ODD_NAMES}
    assert len({run["url"] for run in runs.values()}) == len(ODD_NAMES)
    for run in runs.values():
        assert run["warnings"] == [] and run["problem"] is None
        assert run["name"] in audit(run_page(odd_names_site, run)).text


def test_index_links_every_run_page(odd_names_site: Path):
    found = audit((odd_names_site / "index.html").read_text())
    linked = {resolve_href("index.html", value) for tag, _attr, value in found.urls if tag == "a"}
    assert {run["url"] for run in runs_by_id(odd_names_site).values()} <= linked
    for name in ODD_NAMES:
        assert name in found.text


def test_a_run_dir_whose_name_is_not_utf8_is_skipped_and_the_build_goes_on(tmp_path: Path):
    """Found by fuzzing: such a name cannot be a run id (neither the cache nor a page can encode
    it), and the whole build stopped with a traceback."""
    root = tmp_path / "runs"
    write_sidecar_run(root, "good")
    os.rename(write_sidecar_run(root, "bad"), os.fsdecode(bytes(root) + b"/r\xfe"))
    age(root)
    run_build(make_config(root, tmp_path / "site"))
    assert set(runs_by_id(tmp_path / "site")) == {"good"}


@pytest.mark.parametrize("page", ["index.html", "run pages", "log pages"])
def test_every_relative_link_resolves_to_a_published_file(odd_names_site: Path, page: str):
    pages = html_pages(odd_names_site)
    wanted = {"index.html": lambda p: p == "index.html",
              "run pages": lambda p: p.startswith("runs/") and p.endswith("/index.html"),
              "log pages": lambda p: "/logs/" in p}[page]
    checked = 0
    for path in filter(wanted, pages):
        for _tag, _attr, value in audit(pages[path]).urls:
            parts = urlsplit(value)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # absolute URLs, and links within the page (#L3)
            assert re.fullmatch(r"[A-Za-z0-9._~%/-]+", parts.path), f"{path}: unencoded link {value!r}"
            target = resolve_href(path, value)
            assert not target.startswith("../") and (odd_names_site / target).is_file(), f"{path}: {value!r}"
            checked += 1
    assert checked


# --- 4. symlinks -------------------------------------------------------------------------------

PASSWD = Path("/etc/passwd")
OUTSIDE_MARKER = "PRIVATE-OUTSIDE-THE-ROOTS"


def passwd_line() -> bytes:
    return PASSWD.read_bytes().splitlines()[0]


@pytest.fixture(scope="module")
def links_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs among loops, dangling links, and links out of the root; returns the root.

    Not aged: os.utime follows links, and would touch /etc/passwd. Nothing here is built twice.
    """
    base = tmp_path_factory.mktemp("links")
    root = base / "runs"
    write_sidecar_run(root, "good")
    write_sidecar_run(root, "loops/r")
    (root / "loops" / "self").symlink_to(".")  # a directory link to its own parent
    (root / "loops" / "deeper").mkdir()
    (root / "loops" / "deeper" / "up").symlink_to("..")
    (root / "loops" / "to-root").symlink_to(root)

    (root / "dangling-sidecar").mkdir()
    (root / "dangling-sidecar" / "sidecar.json").symlink_to("written-later.json")
    dangling = write_sidecar_run(root, "dangling-metrics")
    (dangling / "metrics.csv").unlink()
    (dangling / "metrics.csv").symlink_to("gone.csv")

    outside = write_sidecar_run(base / "elsewhere", "private-run", notes=OUTSIDE_MARKER,
                                hparams={"marker": OUTSIDE_MARKER}, log=f"{OUTSIDE_MARKER}\n")
    (root / "linked-run").symlink_to(outside)

    passwd = write_sidecar_run(root, "passwd-files", log=None, hparams={"output_dir": "/etc"})
    for name in ("train.out", "hparams.yaml", "summary.json"):
        (passwd / name).symlink_to(PASSWD)
    (passwd / "metrics.csv").unlink()
    (passwd / "metrics.csv").symlink_to(PASSWD)
    (root / "passwd-sidecar").mkdir()
    (root / "passwd-sidecar" / "sidecar.json").symlink_to(PASSWD)
    return root


@pytest.fixture(scope="module")
def links_build(links_tree: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The site built by the command line, in a child process: a hang fails the tests, not the suite."""
    out = links_tree.parent / "site"
    command = [sys.executable, "-m", "sitegen", "build", "--root", str(links_tree), "--out", str(out), "-q"]
    # the timeout only turns a hang into a failure; nothing here depends on how long a build takes
    done = subprocess.run(command, cwd=links_tree.parent, capture_output=True, text=True, timeout=120)
    return out, done


@pytest.fixture(scope="module")
def links_site(links_build: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    return links_build[0]


LINKED_RUNS = ("dangling-metrics", "dangling-sidecar", "good", "linked-run", "loops/r", "passwd-files",
               "passwd-sidecar")


def test_build_with_loops_and_dangling_links_exits_normally(
    links_build: tuple[Path, subprocess.CompletedProcess[str]],
):
    out, done = links_build
    assert done.returncode == 0, done.stderr
    assert (out / "index.html").is_file() and (out / "runs.json").is_file()


def test_symlink_loops_neither_hang_nor_duplicate_runs(links_site: Path):
    runs = read_runs(links_site)
    assert sorted(run["run_id"] for run in runs) == sorted(LINKED_RUNS)


@pytest.mark.skipif(not PASSWD.is_file(), reason="no /etc/passwd on this system")
def test_files_linked_from_outside_the_roots_are_never_published(links_site: Path):
    line = passwd_line()
    leaks = [path for path, data in every_output_byte(links_site).items()
             if line in data or OUTSIDE_MARKER.encode() in data]
    assert leaks == []


@pytest.mark.parametrize(("run_id", "fragments"), [
    ("dangling-sidecar", ("sidecar.json", "dangling")),
    ("dangling-metrics", ("metrics.csv", "dangling")),
    ("linked-run", ("out of the configured roots",)),
    ("passwd-sidecar", ("sidecar.json", "out of the configured roots")),
    ("passwd-files", ("train.out", "out of the configured roots")),
    ("passwd-files", ("metrics.csv", "out of the configured roots")),
    ("passwd-files", ("hparams.yaml", "out of the configured roots")),
    ("passwd-files", ("summary.json", "out of the configured roots")),
    ("passwd-files", ("output_dir", "outside the configured roots")),
])
def test_each_link_problem_is_named_on_the_run_page_and_in_runs_json(links_site: Path, run_id: str,
                                                                      fragments: tuple[str, ...]):
    entry = runs_by_id(links_site)[run_id]
    assert mentions(notices(entry), *fragments), notices(entry)
    assert mentions([audit(run_page(links_site, entry)).text], *fragments)


def test_runs_beside_bad_links_are_built_without_warnings(links_site: Path):
    for run_id in ("good", "loops/r"):
        entry = runs_by_id(links_site)[run_id]
        assert notices(entry) == [] and entry["status"] == "completed"
        assert "train/loss" in run_page(links_site, entry)


# --- 5. broken files ---------------------------------------------------------------------------

VALID_SIDECAR = json.dumps({"schema_version": 1, "run_id": "x", "status": "completed", "tags": ["a"],
                            "hparams": {"lr": 0.1}, "summary": {"loss": 0.5}}, indent=2)


@dataclass(frozen=True)
class Breakage:
    run_id: str
    make: Callable[[Path], None]  # applied to an ordinary run dir
    fragments: tuple[str, ...]  # what the warning (or the broken reason) must say
    broken: bool = False  # the run cannot be read at all: broken badge


def _replace(name: str, data: bytes) -> Callable[[Path], None]:
    def make(run_dir: Path) -> None:
        (run_dir / name).write_bytes(data)
    return make


def _sidecar_fields(**fields: object) -> Callable[[Path], None]:
    return lambda run_dir: patch_sidecar(run_dir, **fields)


BREAKAGES = (
    Breakage("invalid-json", _replace("sidecar.json", b'{"status": "completed", oops}'),
             ("sidecar.json", "invalid JSON"), broken=True),
    Breakage("truncated-json", _replace("sidecar.json", VALID_SIDECAR[:60].encode()),
             ("sidecar.json", "invalid JSON"), broken=True),
    Breakage("nested-json", _replace("sidecar.json", b"[" * 100_000 + b"]" * 100_000),
             ("sidecar.json", "nested too deeply"), broken=True),
    Breakage("status-number", _sidecar_fields(status=5), ("status is not a string",)),
    Breakage("tags-string", _sidecar_fields(tags="x"), ("tags is not a list",)),
    Breakage("hparams-list", _sidecar_fields(hparams=[1, 2]), ("hparams is not an object",)),
    Breakage("empty-metrics", _replace("metrics.csv", b""), ("metrics.csv", "empty")),
    Breakage("binary-log", _replace("train.out", b"\x7fELF\x00\x00\x00\x00\x01" * 300),
             ("train.out", "binary")),
    Breakage("latin1-log", _replace("train.out", "époque 1 terminée, coût 0.5\n".encode("latin-1")),
             ("train.out", "UTF-8")),
)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("broken")
    root = base / "runs"
    write_sidecar_run(root, "healthy")
    for breakage in BREAKAGES:
        breakage.make(write_sidecar_run(root, breakage.run_id))
    age(root)
    run_build(make_config(root, base / "site"))
    return base / "site"


def test_broken_files_do_not_stop_the_build(broken_site: Path):
    runs = runs_by_id(broken_site)
    assert set(runs) == {"healthy", *(b.run_id for b in BREAKAGES)}
    for entry in runs.values():
        assert (broken_site / entry["url"]).is_file()
    assert notices(runs["healthy"]) == [] and runs["healthy"]["status"] == "completed"


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.run_id)
def test_each_broken_file_is_named_in_runs_json(broken_site: Path, breakage: Breakage):
    entry = runs_by_id(broken_site)[breakage.run_id]
    assert mentions(notices(entry), *breakage.fragments), notices(entry)
    assert (entry["status"] == "broken") == breakage.broken
    assert (entry["problem"] is not None) == breakage.broken


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.run_id)
def test_each_broken_file_is_named_on_the_run_page(broken_site: Path, breakage: Breakage):
    entry = runs_by_id(broken_site)[breakage.run_id]
    text = audit(run_page(broken_site, entry)).text
    assert mentions([text], *breakage.fragments)
    assert ("could not be read" in text) == breakage.broken


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.run_id)
def test_index_flags_each_broken_run(broken_site: Path, breakage: Breakage):
    found = audit((broken_site / "index.html").read_text())
    [row] = [cells for table, cells in found.rows
             if table == "runs sortable" and cells[0].endswith(breakage.run_id)]
    warnings = len(runs_by_id(broken_site)[breakage.run_id]["warnings"])
    assert row[-1] == ("⚠ broken" if breakage.broken else f"⚠ {warnings}")


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their mode")
@pytest.mark.parametrize(("name", "fragments", "broken"), [
    ("sidecar.json", ("sidecar.json", "unreadable"), True),
    ("metrics.csv", ("metrics.csv", "unreadable"), False),
    ("train.out", ("train.out", "unreadable"), False),
])
def test_an_unreadable_file_is_named_and_the_build_goes_on(tmp_path: Path, name: str,
                                                           fragments: tuple[str, ...], broken: bool):
    root = tmp_path / "runs"
    write_sidecar_run(root, "healthy")
    locked = write_sidecar_run(root, "locked") / name
    locked.chmod(0)
    try:
        run_build(make_config(root, tmp_path / "site"))
    finally:
        locked.chmod(0o644)
    runs = runs_by_id(tmp_path / "site")
    assert notices(runs["healthy"]) == []
    assert mentions(notices(runs["locked"]), *fragments) and (runs["locked"]["status"] == "broken") == broken
    assert mentions([audit(run_page(tmp_path / "site", runs["locked"])).text], *fragments)


@pytest.fixture(scope="module")
def hostile_trends_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nightly sessions whose session, entry and metric names hold payloads, with a step (so a
    triage page), a failure, a sweep of hostile runs, and a report naming them in its blocks."""
    from test_trend_pages import write_entry

    base = tmp_path_factory.mktemp("hostile-trends")
    root = base / "runs"
    entry, metric = payload("entry", closing=False), payload("metric") + "_time_s"
    for session in range(10):
        slower = 1.3 if session >= 6 else 1.0
        values = None if session == 3 else {metric: 100.0 * slower, "throughput_rows_per_s": 50.0}
        write_entry(root / "nightly", session, entry, values, prefix=payload("session", closing=False),
                    packages=f"{payload('package', closing=False)}=={session >= 6}\n")
    for name in ("aaaaaaaaaaaa", "bbbbbbbbbbbb"):
        write_sidecar_run(root, f"sweep/{name}", tags=[f"sweep:{payload('sweep')}"],
                          hparams={payload("hparam"): name})
    content = base / "content"
    content.mkdir()
    name, sweep = json.dumps(entry), json.dumps("sweep:" + payload("sweep"))  # JSON strings are YAML
    (content / "report.md").write_text(
        f"```sitegen-trend\nbenchmark: {name}\n```\n"
        f"```sitegen-table\nfilter: {{benchmark: {name}}}\ncolumns: [name, {json.dumps(metric)}]\n```\n"
        f"```sitegen-compare\ntag: {sweep}\n```\n```sitegen-regressions\n```\n")
    age(root)
    run_build(make_config(root, base / "site"))
    return base / "site"


def test_hostile_names_in_trends_triage_compare_and_reports_stay_text(hostile_trends_site: Path):
    out = hostile_trends_site
    pages = html_pages(out)
    made = {p.split("/")[0] for p in pages}
    assert {"trends", "regressions", "compare", "pages", "sessions"} <= made
    assert "coverage.html" in pages
    assert len([p for p in pages if p.startswith("regressions/")]) == 1
    for path, page in pages.items():
        assert_no_active_content(path, page)
    report = pages["pages/report.html"]
    assert report.count('class="plot"') >= 2 and "block-problem" not in report
    for name in ("regressions.json", "runs.json"):
        raw = (out / name).read_bytes()
        assert b"<" not in raw and b">" not in raw, name
    [step] = json.loads((out / "regressions.json").read_text())["regressions"]
    assert step["benchmark"] == payload("entry", closing=False)
