"""Write the demo's input data (deterministic JSONL text records with duplicates) and a
datasets JSON naming them: `python generate_data.py OUT_DIR` writes OUT_DIR/data/*.jsonl and
OUT_DIR/datasets.json."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

WORDS = ["ray", "data", "pipeline", "benchmark", "nightly", "report", "token", "stream", "shard", "merge",
         "filter", "dedup", "sort", "window", "batch", "actor", "task", "object", "store", "spill"]
SIZES = {"small": 20_000, "large": 200_000}


def write_records(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    unique = [" ".join(rng.choices(WORDS, k=rng.randint(4, 16))) for _ in range(count * 3 // 4)]
    with open(path, "w") as out:
        for index in range(count):
            text = unique[index] if index < len(unique) else rng.choice(unique)  # a quarter repeats
            out.write(json.dumps({"id": index, "text": text, "score": rng.random()}) + "\n")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "nightly-out").resolve()
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    datasets = {}
    for seed, (name, count) in enumerate(SIZES.items()):
        path = data / f"records-{name}.jsonl"
        if not path.exists():
            write_records(path, count, seed)
        datasets[f"records_{name}"] = {"jsonl": str(path)}
    (out / "datasets.json").write_text(json.dumps(datasets, indent=2) + "\n")
    print(f"wrote {', '.join(f'{n}: {c:,} records' for n, c in SIZES.items())} under {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
