"""The sidecar layout on run dirs that stable-pretraining itself wrote (tests/fixtures/real/
stable-pretraining, made once with the real tool: torch and Lightning are too heavy to run in the
tests; PROVENANCE.md there says how).

Every expected value is parsed from the raw files; the site is built once over a copy of them.
"""

from __future__ import annotations

import csv
import html
import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import make_config, run_build
from runs_json import read_runs

from sitegen.render.env import format_number, format_size, format_time

FIXTURE = Path(__file__).parents[1] / "fixtures" / "real" / "stable-pretraining"
RUN_IDS = sorted(p.parent.relative_to(FIXTURE).as_posix() for p in FIXTURE.rglob("sidecar.json"))
# Lightning finalizes with "success", "failed", or "finished" from its SLURM requeue handler
SHOWN_AS = {"success": "completed", "finished": "requeued"}


def raw_json(run_id: str, name: str) -> dict:
    return json.loads((FIXTURE / run_id / name).read_text())


def csv_columns(run_id: str) -> dict[str, list[float]]:
    """Each metrics.csv column's non-empty cells, in file order."""
    with (FIXTURE / run_id / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {name: [float(row[name]) for row in rows if row[name] != ""] for name in rows[0]}


def summary_row(page: str, name: str) -> list[str]:
    """The cells of one row of the run page's Summary table."""
    start = page.index("<h2>Summary</h2>")
    table = page[start:page.index("</table>", start)]
    row = table[table.index(f"<tr><th>{html.escape(name)}</th>"):]
    row = row[:row.index("</tr>")]
    return [cell.split("</td>")[0] for cell in row.split('<td class="num">')[1:]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("real") / "spt"
    shutil.copytree(FIXTURE, root)
    out = root.parent / "site"
    report = run_build(make_config(root, out)).report
    assert (report.runs_total, report.runs_failed) == (len(RUN_IDS), 0)
    runs = read_runs(out)
    return out, {run["run_id"]: run for run in runs}


def page_of(site: tuple[Path, dict[str, dict]], run_id: str) -> str:
    out, runs = site
    return (out / runs[run_id]["url"]).read_text()


def test_the_fixture_has_the_three_endings():
    statuses = sorted(raw_json(run_id, "sidecar.json")["status"] for run_id in RUN_IDS)
    assert statuses == ["completed", "failed", "finished"]


def test_every_real_run_is_found_and_read_without_warnings(site):
    _out, runs = site
    assert sorted(runs) == RUN_IDS
    for run in runs.values():
        assert run["kind"] == "sidecar" and run["warnings"] == [] and run["problem"] is None


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_status_times_and_tags_as_the_sidecar_says(site, run_id):
    sidecar = raw_json(run_id, "sidecar.json")
    shown = site[1][run_id]
    assert shown["status"] == SHOWN_AS.get(sidecar["status"], sidecar["status"])
    assert (shown["created_at"], shown["ended_at"]) == (sidecar["created_at"], sidecar["ended_at"])
    assert shown["tags"] == sidecar["tags"] and shown["name"] == sidecar["run_id"]
    page = page_of(site, run_id)
    assert f'status-{shown["status"]}' in page
    assert format_time(sidecar["created_at"]) in page and format_time(sidecar["ended_at"]) in page


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_params_from_hparams_yaml_and_run_meta(site, run_id):
    hparams = yaml.safe_load((FIXTURE / run_id / "hparams.yaml").read_text())
    meta = raw_json(run_id, "run_meta.json")
    page = page_of(site, run_id)
    for key in ("lr", "hidden", "batch_size"):
        assert f"<tr><th>{key}</th><td>{hparams[key]}</td></tr>" in page
    assert f"<tr><th>optim.betas.1</th><td>{hparams['optim']['betas'][1]}</td></tr>" in page
    if "slurm_job_id" in meta:
        assert f"<tr><th>slurm.job_id</th><td>{meta['slurm_job_id']}</td></tr>" in page


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_summary_last_min_max_count_match_summary_json_and_metrics_csv(site, run_id):
    sidecar, stats = raw_json(run_id, "sidecar.json"), raw_json(run_id, "summary.json")["metrics"]
    columns = csv_columns(run_id)
    page = page_of(site, run_id)
    assert site[1][run_id]["summary"] == sidecar["summary"]
    for name, kept in stats.items():
        last = sidecar["summary"][name]
        assert kept["last"] == last
        assert summary_row(page, name) == [format_number(last), format_number(kept["min"]),
                                           format_number(kept["max"]), str(kept["count"])]
        if name != "epoch":  # an x axis in metrics.csv, a metric in the summary
            assert columns[name][-1] == pytest.approx(last)
            assert min(columns[name]) >= kept["min"] - 1e-9 and max(columns[name]) <= kept["max"] + 1e-9


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_the_run_files_and_checkpoints_are_listed(site, run_id):
    out, runs = site
    page = page_of(site, run_id)
    files = page[page.index("<h2>Files</h2>"):]
    for name in ("summary.json", "hparams.yaml", "run_meta.json", "media.jsonl"):
        size = format_size((FIXTURE / run_id / name).stat().st_size)
        assert f'<li>{name} <span class="sub">{size}</span></li>' in files
    checkpoints = sorted((FIXTURE / run_id / "checkpoints").iterdir())
    assert checkpoints
    for path in checkpoints:
        name, size = html.escape(f"checkpoints/{path.name}"), format_size(path.stat().st_size)
        assert f'<li>{name} <span class="sub">{size}</span></li>' in files
    published = (out / runs[run_id]["url"]).parent / "metrics.csv"
    assert published.read_bytes() == (FIXTURE / run_id / "metrics.csv").read_bytes()
    for line in (FIXTURE / run_id / "media.jsonl").read_text().splitlines():
        assert html.escape(json.loads(line)["path"]) in files


def test_a_requeued_run_stays_requeued_long_after_its_last_heartbeat(site):
    requeued = next(r for r in RUN_IDS if raw_json(r, "sidecar.json")["status"] == "finished")
    shown = site[1][requeued]
    assert shown["status"] == "requeued" and shown["warnings"] == []  # not called stalled
    sweep = next(tag for tag in raw_json(requeued, "sidecar.json")["tags"] if tag.startswith("sweep:"))
    assert sweep in shown["tags"]


def test_an_empty_sidecar_shows_the_last_value_of_each_series(tmp_path):
    """`{}` as sidecar and no summary.json: the summary is each metrics.csv column's last value."""
    run_id = next(r for r in RUN_IDS if raw_json(r, "sidecar.json")["status"] == "completed")
    run_dir = tmp_path / "spt" / run_id
    shutil.copytree(FIXTURE / run_id, run_dir)
    (run_dir / "sidecar.json").write_text("{}")
    (run_dir / "summary.json").unlink()
    out = tmp_path / "site"
    run_build(make_config(tmp_path / "spt", out))
    [shown] = read_runs(out)
    expected = {name: values[-1] for name, values in csv_columns(run_id).items()
                if name not in ("step", "epoch") and values}
    assert shown["summary"] == pytest.approx(expected)
    page = (out / shown["url"]).read_text()
    for name, value in expected.items():
        assert summary_row(page, name) == [f'{format_number(value)} <span class="sub">last value</span>']
