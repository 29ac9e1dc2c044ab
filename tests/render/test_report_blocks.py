"""A `sitegen-table` block's order: by a column (descending after `-`) with the runs that have no
value last, else newest first; ties by run id and root. Its first rows among every run are the
first among the first rows of any split of the runs (how shards' summaries are merged)."""

from __future__ import annotations

import math
import random

from sitegen.model import Run
from sitegen.render.report_blocks import Views, first_ranked, parse_block, ranked_candidates, select


def _run(run_id: str, root: str = "/runs", loss: float | None = None, created: float = 0.0,
         **params: object) -> Run:
    return Run(run_id=run_id, root=root, slug=f"{root.strip('/')}-{run_id}", kind="sidecar", name=run_id,
               status="completed", created_at=created, summary={} if loss is None else {"loss": loss},
               params=params)


def _shown(options: str, runs: list[Run]) -> list[str]:
    block = parse_block("sitegen-table", options)
    return [run.run_id for run in select(block, Views(runs, [], [], None)).runs]


def test_a_table_sorts_by_a_column_with_the_runs_without_a_value_last():
    runs = [_run("a", loss=2.0), _run("b"), _run("c", loss=math.nan), _run("d", loss=3.0),
            _run("e", loss=2.0, root="/other"), _run("f", lr="x")]
    assert _shown("sort: -loss", runs) == ["d", "a", "e", "b", "c", "f"]
    assert _shown("sort: loss", runs) == ["a", "e", "d", "b", "c", "f"]
    assert _shown("sort: -loss\nlimit: 2", runs) == ["d", "a"]
    assert _shown("sort: lr", [*runs, _run("g", lr=True), _run("h", lr=0.5)]) == ["h", "g", "f", "a", "b",
                                                                                   "c", "d", "e"]


def test_a_table_without_a_sort_shows_the_newest_runs_first():
    runs = [_run("a", created=5.0), _run("b", created=9.0), _run("c", created=5.0), _run("d")]
    assert _shown("", runs) == ["b", "a", "c", "d"]
    assert _shown("filter: {status: completed}\nlimit: 1", runs) == ["b"]


def test_a_tables_first_rows_are_the_first_of_each_parts_first_rows():
    rng = random.Random(7)
    runs = [_run(f"r{i:02d}", root=rng.choice(["/a", "/b"]), created=float(rng.randrange(5)),
                 loss=rng.choice([None, math.nan, *range(4)]), seed=str(i % 3)) for i in range(60)]
    orders = ("sort: -loss\nlimit: 7", "sort: loss\nlimit: 7", "limit: 5", "filter: {seed: '1'}\nsort: loss")
    for options in orders:
        block = parse_block("sitegen-table", options)
        parts = [runs[start:start + 9] for start in range(0, len(runs), 9)]
        ranked = [(part[index], rank) for part in parts for index, rank in ranked_candidates(block, part)]
        assert [run.run_id for run in first_ranked(block, ranked)] == _shown(options, runs)
