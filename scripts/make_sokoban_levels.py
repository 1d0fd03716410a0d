"""Generate the shipped Sokoban level suites (deterministic: same seed, same files).

    python scripts/make_sokoban_levels.py            # writes assets/sokoban/*.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np

from stepgym.envs.sokoban.level import generate

SUITES = {
    # name: (height, width, boxes, min_moves, max_moves, {split: count}, seed)
    "sokoban_6x6_1box": (6, 6, 1, 3, 10, {"train": 800, "val": 100, "test": 100}, 1),
    "sokoban_8x8_2box": (8, 8, 2, 6, 30, {"train": 400, "val": 50, "test": 50}, 2),
    # 1,000 more held-out levels of the 6x6 kind, none of them in sokoban_6x6_1box: enough to
    # measure a success rate to +-3 points (100 test levels give +-10)
    "sokoban_6x6_1box_heldout": (6, 6, 1, 3, 10, {"heldout": 1000}, 3),
}
# a suite's levels also differ from every level of the suites named here
DISJOINT_FROM = {"sokoban_6x6_1box_heldout": ["sokoban_6x6_1box"]}


def level_keys(name: str, out_dir: Path) -> set[str]:
    """The grids of a written suite, one string per level."""
    with gzip.open(out_dir / f"{name}.jsonl.gz", "rt") as f:
        return {"".join(json.loads(line)["grid"]) for line in f if line.strip()}


def make_suite(name: str, out_dir: Path) -> int:
    h, w, boxes, lo, hi, splits, seed = SUITES[name]
    rng = np.random.default_rng(seed)
    excluded: set[str] = set()
    for other in DISJOINT_FROM.get(name, []):
        excluded |= level_keys(other, out_dir)
    seen: set[str] = set(excluded)
    records = []
    for split, count in splits.items():
        i = 0
        while i < count:
            level, sol = generate(rng, h, w, boxes, min_moves=lo, max_moves=hi)
            key = "".join(level.rows())
            if key in seen:  # no level appears twice, so held-out splits are really held out
                continue
            seen.add(key)
            records.append({
                "task_id": f"{name}-{split}-{i:04d}",
                "instruction": "Push every box onto a target.",
                "split": split,
                "grid": level.rows(),
                "solution_moves": len(sol),
            })
            i += 1
    out = out_dir / f"{name}.jsonl.gz"
    # mtime=0 keeps the gzip bytes identical across runs
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for r in records:
            gz.write((json.dumps(r, sort_keys=True) + "\n").encode())
    return len(records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assets" / "sokoban")
    ap.add_argument("--suite", choices=sorted(SUITES), action="append")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.suite or list(SUITES):  # in order: a suite is written before those disjoint from it
        print(f"{name}: {make_suite(name, args.out)} levels")


if __name__ == "__main__":
    main()
