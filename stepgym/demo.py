"""`make demo`: the built-in end-to-end run on default settings, offline.

Until the trainer lands this plays Sokoban with the oracle and with a random policy, records
both, writes an HTML report of each and prints the summary table.
"""

from __future__ import annotations

from pathlib import Path

from stepgym.cli import console, run_policy, summary_table
from stepgym.episodes.evaluate import summarize
from stepgym.episodes.viewer import write_report

ENV_ID = "stepgym/Sokoban-v0"


def run_demo(out: Path, episodes: int = 50, seed: int = 0) -> int:
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for policy in ("oracle", "random"):
        record = out / policy
        eps = run_policy(ENV_ID, policy, episodes, seed, record=str(record), split="test")
        results[policy] = summarize(eps)
        write_report(record)
    console.print(summary_table(f"{ENV_ID}, test split, {episodes} episodes each", results))
    console.print(f"episodes recorded under [bold]{out}[/]; open {out}/oracle/index.html to look at them")
    return 0
